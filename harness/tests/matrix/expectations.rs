//! Every method × every scenario gets its expected verdict: the escape-proof
//! methods are clean everywhere, and the weak ones fail exactly where the catalog
//! says (a weak method that stops failing is a failure too).

use rstest::rstest;
use teardown::Method;
use teardown_harness::matrix::{self, Options, Plan, RowSpec};

use crate::support::method_available;

#[rstest]
fn each_method_gets_its_expected_verdict_on_every_scenario(
    #[values(
        Method::Leader,
        Method::Killpg,
        Method::KillpgWaitpgid,
        Method::Subreaper,
        Method::CgroupKill,
        Method::ProcWalk,
        Method::Cgroup,
        Method::Pidns,
        Method::Auto
    )]
    method: Method,
) {
    if let Err(reason) = method_available(method) {
        eprintln!("skipped: {method} is unsupported here: {reason}");
        return;
    }
    let options = Options {
        rows: vec![RowSpec::Method(method)],
        scenarios: teardown_scenarios::all().iter().collect(),
        jobs: 2,
        ..Options::new()
    };
    let report = matrix::run(
        Plan::new(options, matrix::host_probe()).unwrap(),
        &mut |_| {},
    );
    let wrong: Vec<String> = (0..report.plan.columns.len())
        .filter(|&c| report.cell(0, c).as_expected() != Some(true))
        .map(|c| {
            let cell = report.cell(0, c);
            format!(
                "{method} × {}: {} ({:?}), expected {}\n  replay: {}",
                report.plan.columns[c].name,
                cell.verdict(),
                cell.outcome.detail,
                cell.expected.map_or("?".into(), |e| e.to_string()),
                report.plan.replay(0, c)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
