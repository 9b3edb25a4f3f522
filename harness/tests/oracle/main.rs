//! The oracle, end to end: real wardens, real trees, supervisors that are known to
//! be right or wrong. Every weak supervisor here must be caught.

mod external;
mod methods;

use std::time::Duration;

use teardown_harness::spec::TreeSpec;
use teardown_harness::trial::{Supervisor, Trial, TrialOutcome};
use teardown_harness::warden::run_trial;

/// Parses a spec.
pub fn spec(text: &str) -> TreeSpec {
    text.parse().expect("test spec parses")
}

/// A trial with short graces, so that leaks are judged quickly.
pub fn trial(supervisor: Supervisor, text: &str) -> Trial {
    let mut t = Trial::new(supervisor, spec(text));
    t.straggler_grace = Duration::from_millis(500);
    t.grace = Duration::from_millis(500);
    t
}

/// `sh -c SCRIPT sh`: the node command is appended, so `"$@"` is the tree's leader.
pub fn sh(script: &str) -> Supervisor {
    Supervisor::External(vec!["sh".into(), "-c".into(), script.into(), "sh".into()])
}

/// Runs a trial; on a surprise, the assertion message has everything.
pub fn run(t: &Trial) -> TrialOutcome {
    run_trial(t)
}

/// The programs `.ci/run` installs: under `CI=true` a missing one fails the test
/// instead of skipping it (a green run must not hide a missing install step).
const CI_INSTALLS: [&str; 5] = ["tini", "dumb-init", "bwrap", "catatonit", "supervisord"];

/// Whether a program is on PATH (peers are skipped with a message when missing;
/// under `CI=true` a peer `.ci/run` installs is never missing: the test fails).
pub fn installed(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    assert!(
        found
            || !(std::env::var("CI").is_ok_and(|v| v == "true") && CI_INSTALLS.contains(&program)),
        "CI=true: {program} is not installed, but .ci/run installs it"
    );
    found
}
