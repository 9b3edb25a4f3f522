//! Where a trial's tree runs: the inner warden's session, no terminal.

use std::time::Duration;

use teardown::Verdict;

use super::observe;

/// A trial's processes are in the inner warden's session (PID 1 of the trial's
/// namespace: `proc-walk` adds no namespace), without a controlling terminal,
/// whoever started the harness.
#[test]
fn a_trials_tree_is_in_a_session_of_the_wardens_without_a_terminal() {
    let o = observe(
        "pause [fork: pause]",
        "proc-walk",
        Duration::from_millis(100),
        None,
        None,
    );
    for id in [0, 1] {
        let p = o.at_trigger(o.pid(id));
        assert_eq!(p["sid"].as_i64(), Some(1), "{}", o.dump());
        assert_eq!(p["tty_nr"].as_i64(), Some(0), "{}", o.dump());
    }
    assert_eq!(o.outcome.verdict, Verdict::Clean, "{}", o.dump());
}
