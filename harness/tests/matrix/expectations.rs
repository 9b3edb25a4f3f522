//! Every method × every scenario gets its expected verdict: the escape-proof
//! methods are clean everywhere, and the weak ones fail exactly where the catalog
//! says (a weak method that stops failing is a failure too).

use teardown::Method;
use teardown_harness::matrix::{self, Options, Plan, RowSpec};

use crate::support::method_available;

/// Trials run at once: two per method row as the matrix once ran them, two rows at a
/// time.
const JOBS: usize = 4;

#[test]
fn each_method_gets_its_expected_verdict_on_every_scenario() {
    let methods: Vec<Method> = Method::ALL
        .into_iter()
        .filter(|&method| match method_available(method) {
            Ok(()) => true,
            Err(reason) => {
                eprintln!("skipped: {method} is unsupported here: {reason}");
                false
            }
        })
        .collect();
    let options = Options {
        rows: methods.into_iter().map(RowSpec::Method).collect(),
        scenarios: teardown_scenarios::all().iter().collect(),
        jobs: JOBS,
        ..Options::new()
    };
    let report = matrix::run(
        Plan::new(options, matrix::host_probe()).unwrap(),
        &mut |_| {},
    );
    let plan = &report.plan;
    let wrong: Vec<String> = (0..plan.rows.len())
        .flat_map(|r| (0..plan.columns.len()).map(move |c| (r, c)))
        .filter(|&(r, c)| report.cell(r, c).as_expected() != Some(true))
        .map(|(r, c)| {
            let cell = report.cell(r, c);
            format!(
                "{} × {}: {} ({:?}), expected {}\n  replay: {}",
                plan.rows[r].header,
                plan.columns[c].name,
                cell.verdict(),
                cell.outcome.detail,
                cell.expected.map_or("?".into(), |e| e.to_string()),
                plan.replay(r, c)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
