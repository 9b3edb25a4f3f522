//! The escape-proof methods are `clean` on every random tree of the hostile
//! adversary ([`params_for`]).
//!
//! A method the host cannot run is not skipped silently: the test passes only if
//! the core's probe says it is unsupported and a trial says `unsupported` too.

use proptest::test_runner::{Config, FileFailurePersistence};
use teardown::{Availability, Method, Verdict};
use teardown_harness::prop::{Adversary, PropParams};
use teardown_harness::trial::Trial;
use teardown_harness::warden::run_trial;

use super::{GRACE, availability, cases, search, trial};

fn tune(t: &mut Trial) {
    t.grace = GRACE;
}

/// The trees `method` is held to: every word of the hostile adversary. A method
/// whose supervisor side the tree can name (every one but `pidns`, and `auto`
/// where it picks `pidns`) is stopped by an upward SIGSTOP by design, SIGSTOP
/// being neither blockable nor catchable: for those the upward signals are every
/// signal but SIGSTOP (`stop-parent` and `stop-ancestors-on-term` pin that they
/// hang; `teardown replay --method proc-walk 'kill-parent=stop pause'`).
fn params_for(method: Method) -> PropParams {
    let hides = match method {
        Method::Auto => teardown::probe().auto.is_some_and(Method::hides_supervisor),
        m => m.hides_supervisor(),
    };
    PropParams {
        adversary: Adversary::Hostile,
        upward_stop: hides,
        ..PropParams::default()
    }
}

/// The property for one escape-proof method.
fn always_clean(method: Method) {
    assert!(method.is_escape_proof(), "{method} is not escape-proof");
    if let Availability::Unsupported { reason } = availability(method) {
        let t = trial(method, "pause [fork: pause]".parse().unwrap(), tune);
        let outcome = run_trial(&t);
        assert_eq!(
            outcome.verdict,
            Verdict::Unsupported,
            "the probe says {method} is unsupported ({reason}) but a trial says otherwise: {outcome:#?}"
        );
        eprintln!("{method}: unsupported on this host ({reason}); property not run");
        return;
    }
    let config = Config {
        cases: cases(),
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        // Every candidate is a real trial: bound the shrinking.
        max_shrink_iters: 512,
        max_shrink_time: 120_000,
        ..Config::default()
    };
    let (result, seen) = search(method, params_for(method), config, tune, |v| {
        v == Verdict::Clean
    });
    if let Err(minimal) = result {
        panic!("{}", minimal.message);
    }
    eprintln!("{method}: clean on {} random trees", seen.trials);
}

#[test]
fn proc_walk_is_clean_on_every_random_tree() {
    always_clean(Method::ProcWalk);
}

#[test]
fn cgroup_is_clean_on_every_random_tree() {
    always_clean(Method::Cgroup);
}

#[test]
fn pidns_is_clean_on_every_random_tree() {
    always_clean(Method::Pidns);
}

#[test]
fn auto_is_clean_on_every_random_tree() {
    always_clean(Method::Auto);
}
