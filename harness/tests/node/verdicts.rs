//! Trees with the new words under the escape-proof methods: `clean`, unless they
//! attack upward, which only `pidns` hides the supervisor from.

use std::time::Duration;

use rstest::rstest;
use teardown::{Method, Verdict};
use teardown_harness::trial::{Supervisor, Trial, TrialOutcome};
use teardown_harness::warden::run_trial;

fn trial(method: Method, spec: &str) -> TrialOutcome {
    let mut t = Trial::new(Supervisor::Method(method), spec.parse().unwrap());
    t.grace = Duration::from_millis(200);
    t.deadline = Duration::from_secs(5);
    run_trial(&t)
}

#[rstest]
#[case::main_exit("pause [fork: main-exit]")]
#[case::thread_fork("pause [fork: thread-fork]")]
#[case::vfork("pause [fork: vfork=3]")]
#[case::hop("pause [fork: hop=5@50]")]
#[case::trace("trace [fork: pause, exec: pause, cparent: pause]")]
#[case::subreaper("subreaper pause [dfork: pause]")]
#[case::evil_name("evil-name pause [fork: evil-name pause]")]
#[case::cgroup_nest("cgroup-nest pause [fork: cgroup-nest pause]")]
#[case::userns("userns pause [fork: pause]")]
#[case::cparent("pause [cparent: pause, fork: pause [cparent: pause]]")]
#[case::graceful("graceful=100ms pause [fork: graceful=1s pause]")]
fn a_tree_that_does_not_attack_upward_is_clean_under_pidns_and_proc_walk(
    #[case] spec: &str,
    #[values(Method::Pidns, Method::ProcWalk)] method: Method,
) {
    let o = trial(method, spec);
    assert_eq!(o.verdict, Verdict::Clean, "{method} on {spec}: {o:#?}");
}

#[rstest]
#[case::kill_parent("pause [fork: kill-parent=usr1 pause]")]
#[case::kill_parent_of_the_leader("kill-parent=stop pause")]
#[case::kill_ancestors("pause [fork: kill-ancestors=stop pause]")]
#[case::term_kill("term-kill-parent=stop pause [fork: term-kill-ancestors=stop pause]")]
fn a_tree_that_attacks_upward_is_clean_under_pidns(#[case] spec: &str) {
    let o = trial(Method::Pidns, spec);
    assert_eq!(o.verdict, Verdict::Clean, "pidns on {spec}: {o:#?}");
}

/// The safety rule holds where the supervisor is exposed: under `proc-walk` the
/// leader stops its supervisor side (the shim, `teardown run`), which never
/// finishes: `hang`. The warden, above, is never signalled: it still judges.
#[test]
fn an_upward_stop_hangs_proc_walk_but_never_reaches_the_warden() {
    let mut t = Trial::new(
        Supervisor::Method(Method::ProcWalk),
        "ignore-term kill-parent=stop pause".parse().unwrap(),
    );
    t.grace = Duration::from_millis(200);
    t.deadline = Duration::from_secs(2);
    let o = run_trial(&t);
    assert_eq!(o.verdict, Verdict::Hang, "{o:#?}");
    let stopped = o
        .findings
        .iter()
        .filter(|f| f.node.is_none() && f.note.contains("state T"))
        .count();
    assert!(stopped >= 1, "the shim is stopped: {:#?}", o.findings);
}

/// An `exit` node lets its children go on to their upward signals only once it
/// has exited: a `kill-parent=stop` between its ready report and its exit stopped
/// it for good, and the tree never became ready (an `error` in 5 runs of 8 before).
#[test]
fn a_child_that_stops_its_exiting_parent_does_not_keep_the_tree_from_readiness() {
    let spec = "setsid pause [cparent: exit [dfork: stop setsid exit, \
                fork: kill-parent=stop setsid stop pause]]";
    for round in 0..6 {
        let o = trial(Method::Pidns, spec);
        assert_eq!(o.verdict, Verdict::Clean, "round {round}: {o:#?}");
    }
}

/// A node's startup check climbs its ancestry again when an ancestor exits
/// under it (here a `dfork` intermediate, and parents killed by a sibling's
/// `kill-ancestors=quit`): it used to refuse to start, and the tree never became
/// ready (an `error` in 2 runs of 5 before).
#[test]
fn an_ancestor_exiting_during_the_startup_climb_does_not_stop_the_node() {
    let spec = "pause [2*dfork: setpgid kill-ancestors=quit exec-fresh pause [3*dfork: pause, \
                dfork: stop block-all kill-ancestors=hup exit, dfork: graceful=189ms storm=9@356]]";
    for round in 0..6 {
        let o = trial(Method::Pidns, spec);
        assert_eq!(o.verdict, Verdict::Clean, "round {round}: {o:#?}");
    }
}
