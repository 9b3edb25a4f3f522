//! The real supervisors get the verdicts `teardown_scenarios::peers` documents.
//!
//! Peers are third-party programs with timing of their own: the soak
//! (`reliability::flake::matrix_soak`) saw a few of their cells flip about once in
//! 20 runs with both cores busy, while the method rows never did. So a peer cell
//! that disagrees is run [`SECOND_LOOKS`] more times on its own, and the test
//! fails unless every one of those agrees: a peer that changed behaviour still
//! fails, a one-off flip is printed and passes.

use rstest::rstest;
use teardown_harness::matrix::{self, Options, Plan, Report, RowSpec};
use teardown_scenarios::peers::Peer;

use crate::support::installed;

/// Extra runs of a disagreeing peer cell.
const SECOND_LOOKS: usize = 2;

fn run(
    peer: &'static Peer,
    scenarios: Option<Vec<&'static teardown_scenarios::Scenario>>,
) -> Report {
    let mut options = Options {
        rows: vec![RowSpec::Peer(peer)],
        jobs: 2,
        ..Options::new()
    };
    if let Some(scenarios) = scenarios {
        options.scenarios = scenarios;
    }
    matrix::run(
        Plan::new(options, matrix::host_probe()).unwrap(),
        &mut |_| {},
    )
}

fn describe(report: &Report, cell: &matrix::Cell) -> String {
    format!(
        "{}: {} ({:?}), expected {}\n    replay: {}",
        report.plan.columns[cell.col].name,
        cell.verdict(),
        cell.outcome.detail,
        cell.expected.map(|e| e.to_string()).unwrap_or_default(),
        report.plan.replay(cell.row, cell.col)
    )
}

#[rstest]
fn each_peer_gets_its_documented_verdict_on_every_scenario(
    #[values(
        "tini",
        "tini-g",
        "dumb-init",
        "dumb-init-single-child",
        "timeout",
        "bwrap",
        "catatonit",
        "catatonit-g",
        "supervisord",
        "process-wrap",
        "teardown-auto"
    )]
    name: &str,
) {
    let peer = teardown_scenarios::peers::by_name(name).unwrap();
    if peer.argv[0] != "teardown" && !installed(peer.argv[0]) {
        return;
    }
    let report = run(peer, None);
    if let Err(reason) = &report.plan.rows[0].available {
        eprintln!("skipped: {name} does not run here: {reason}");
        return;
    }
    let mut failures = Vec::new();
    for cell in report.unexpected() {
        let first = describe(&report, cell);
        let scenario = report.plan.columns[cell.col]
            .scenario
            .expect("peer cells are judged on named scenarios only");
        let again: Vec<String> = (0..SECOND_LOOKS)
            .filter_map(|_| {
                let r = run(peer, Some(vec![scenario]));
                let c = r.cell(0, 0);
                (c.as_expected() != Some(true)).then(|| describe(&r, c))
            })
            .collect();
        if again.is_empty() {
            eprintln!("{name}: one-off flip, as expected on {SECOND_LOOKS} more runs: {first}");
        } else {
            failures.push(format!("{first}\n    and again: {}", again.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{name}:\n  {}", failures.join("\n  "));
}

/// The supervisord wrapper is scaffolding, not the supervisor: a tree's signal
/// to every ancestor reaches supervisord (an ancestor too) and does not end the
/// wrapper. Before, SIGUSR2 killed the wrapper (its default action), often
/// before its relay had copied the tree's records: `signals-upward` came out
/// `error` ("the tree ended before it was ready") one run in two. supervisord
/// itself reopens its logs on SIGUSR2 and stops the tree on the trigger.
#[test]
fn the_supervisord_wrapper_outlives_a_signal_its_tree_sends_every_ancestor() {
    use teardown_harness::trial::{Supervisor, Trial};
    if !installed("supervisord") {
        return;
    }
    let bin = teardown_harness::locate::teardown_bin().unwrap();
    let argv: Vec<String> = [bin.display().to_string()]
        .into_iter()
        .chain(["peer-wrap", "supervisord", "--"].map(String::from))
        .collect();
    for _ in 0..3 {
        let mut t = Trial::new(
            Supervisor::External(argv.clone()),
            "kill-ancestors=usr2 pause".parse().unwrap(),
        );
        t.grace = std::time::Duration::from_secs(1);
        let o = teardown_harness::warden::run_trial(&t);
        let detail = o.detail.clone().unwrap_or_default();
        assert!(
            matches!(
                o.verdict,
                teardown::Verdict::Clean | teardown::Verdict::Early
            ) && !detail.contains("supervisor-killed"),
            "{}: {detail}\n    replay: {}",
            o.verdict,
            teardown_harness::replay::line(&t)
        );
    }
}
