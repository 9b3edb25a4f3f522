//! `teardown_harness::check` as a downstream supervisor's `cargo test` uses it.

use teardown_harness::check::Check;

use crate::support::BROKEN_SUPERVISOR;

#[test]
fn a_correct_supervisor_passes_the_check() {
    let teardown = teardown_harness::matrix::teardown_bin()
        .expect("cargo builds the teardown binary beside the tests");
    let teardown = teardown.to_string_lossy().into_owned();
    Check::new([teardown.as_str(), "run", "--method", "auto", "--"])
        .scenarios(["aurae-534-sh-wrapper", "setsid-escape", "sigterm-ignored"])
        .random(2)
        .seed(11)
        .run()
        .assert_clean();
}

#[test]
fn a_supervisor_that_kills_nothing_fails_with_the_scenario_the_verdict_and_the_replay_line() {
    let report = Check::new(BROKEN_SUPERVISOR.iter().copied())
        .scenarios(["setsid-escape"])
        .run();
    assert!(!report.is_clean());
    let failures = report.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].scenario, "setsid-escape");
    assert_eq!(failures[0].verdict, teardown::Verdict::Leak);
    assert!(
        failures[0].replay.starts_with(
            "teardown replay --grace 250ms --deadline 3s --bystanders 1 'pause [fork: setsid pause]' -- sh -c "
        ),
        "{}",
        failures[0].replay
    );
    let panic = std::panic::catch_unwind(|| report.assert_clean()).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("setsid-escape: leak"), "{msg}");
    assert!(msg.contains(&failures[0].replay), "{msg}");
}

#[test]
fn a_supervisor_that_is_not_installed_fails_saying_so() {
    let report = Check::new(["no-such-supervisor-here", "--"])
        .scenarios(["double-fork"])
        .run();
    let failures = report.failures();
    assert_eq!(failures[0].verdict, teardown::Verdict::Unsupported);
    assert!(
        failures[0].detail.contains("not installed"),
        "{}",
        failures[0].detail
    );
}
