//! The real supervisors get the verdicts `teardown_scenarios::peers` documents.

use rstest::rstest;
use teardown_harness::matrix::{self, Options, Plan, RowSpec};

use crate::support::installed;

#[rstest]
fn each_peer_gets_its_documented_verdict_on_every_scenario(
    #[values(
        "tini",
        "tini-g",
        "dumb-init",
        "dumb-init-single-child",
        "timeout",
        "bwrap",
        "teardown-auto"
    )]
    name: &str,
) {
    let peer = teardown_scenarios::peers::by_name(name).unwrap();
    if peer.argv[0] != "teardown" && !installed(peer.argv[0]) {
        return;
    }
    let options = Options {
        rows: vec![RowSpec::Peer(peer)],
        jobs: 2,
        ..Options::new()
    };
    let report = matrix::run(
        Plan::new(options, matrix::host_probe()).unwrap(),
        &mut |_| {},
    );
    if let Err(reason) = &report.plan.rows[0].available {
        eprintln!("skipped: {name} does not run here: {reason}");
        return;
    }
    let unexpected: Vec<String> = report
        .unexpected()
        .map(|c| {
            format!(
                "{}: {} ({:?}), expected {}\n    replay: {}",
                report.plan.columns[c.col].name,
                c.verdict(),
                c.outcome.detail,
                c.expected.map(|e| e.to_string()).unwrap_or_default(),
                report.plan.replay(c.row, c.col)
            )
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{name}:\n  {}",
        unexpected.join("\n  ")
    );
}
