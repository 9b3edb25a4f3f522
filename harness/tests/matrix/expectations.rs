//! Every method × every scenario gets its expected verdict: the escape-proof
//! methods are clean everywhere, and the weak ones fail exactly where the catalog
//! says (a weak method that stops failing is a failure too).

use rstest::rstest;
use teardown::Method;
use teardown_harness::matrix::{self, Options, Plan, RowSpec};

use crate::support::method_available;

#[rstest]
fn each_method_gets_its_expected_verdict_on_each_scenario(
    #[values(
        Method::Leader,
        Method::Killpg,
        Method::KillpgWaitpgid,
        Method::Subreaper,
        Method::ProcWalk,
        Method::Cgroup,
        Method::Pidns,
        Method::Auto
    )]
    method: Method,
    #[values(
        "aurae-534-sh-wrapper",
        "jmmv-grandchild",
        "double-fork",
        "setsid-escape",
        "setpgid-escape",
        "daemonize",
        "escape-exits-late",
        "sigterm-ignored",
        "sigint-ignored",
        "stopped",
        "sigchld-ignored",
        "zombie-maker",
        "respawn-on-term",
        "blocked-signals",
        "leader-exits-orphans-remain",
        "fork-storm",
        "deep-chain",
        "wide-fanout",
        "exec-chain"
    )]
    scenario: &str,
) {
    if let Err(reason) = method_available(method) {
        eprintln!("skipped: {method} is unsupported here: {reason}");
        return;
    }
    let options = Options {
        rows: vec![RowSpec::Method(method)],
        scenarios: vec![teardown_scenarios::by_name(scenario).unwrap()],
        jobs: 1,
        ..Options::new()
    };
    let report = matrix::run(
        Plan::new(options, matrix::host_probe()).unwrap(),
        &mut |_| {},
    );
    let cell = report.cell(0, 0);
    let expected = cell.expected.expect("method cells are judged");
    assert_eq!(
        cell.as_expected(),
        Some(true),
        "{method} × {scenario}: {} ({:?}), expected {expected}\n  replay: {}",
        cell.verdict(),
        cell.outcome.detail,
        report.plan.replay(0, 0)
    );
}

#[test]
fn the_catalog_lists_every_scenario_the_matrix_test_covers() {
    // Keeps the rstest values above in step with the catalog.
    assert_eq!(teardown_scenarios::all().len(), 19);
}
