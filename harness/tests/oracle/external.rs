//! External supervisors, good and bad: these need no teardown method at all.

use std::time::Duration;

use teardown::Verdict;
use teardown_harness::trial::{Supervisor, Trigger};

use super::{installed, run, sh, trial};

#[test]
fn an_exec_style_supervisor_leaks_the_leaders_children() {
    // `sh -c 'exec "$@"'` becomes the leader: SIGTERM kills it, its child lives on.
    let o = run(&trial(sh(r#"exec "$@""#), "pause [fork: pause]"));
    assert_eq!(o.verdict, Verdict::Leak, "{o:#?}");
    assert_eq!(o.survivors, 1, "{o:#?}");
    assert_eq!(o.findings[0].node, Some(1), "{o:#?}");
}

#[test]
fn an_exec_style_supervisor_of_a_single_process_is_clean() {
    let o = run(&trial(sh(r#"exec "$@""#), "pause"));
    assert_eq!(o.verdict, Verdict::Clean, "{o:#?}");
    assert_eq!(o.nodes.len(), 1);
}

#[test]
fn a_supervisor_that_detaches_and_exits_leaks_everything() {
    let o = run(&trial(
        sh(r#""$@" & sleep 0.2; exit 0"#),
        "pause [fork: pause, dfork: setsid pause]",
    ));
    assert_eq!(o.verdict, Verdict::Leak, "{o:#?}");
    assert_eq!(o.survivors, 3, "{o:#?}");
}

#[test]
fn a_supervisor_that_returns_on_sigterm_without_killing_leaks() {
    let o = run(&trial(
        sh(r#"trap 'exit 0' TERM; "$@" & wait"#),
        "pause [exec: pause]",
    ));
    assert_eq!(o.verdict, Verdict::Leak, "{o:#?}");
    assert_eq!(o.survivors, 2, "{o:#?}");
}

#[test]
fn a_supervisor_that_kills_its_bystanders_is_caught() {
    let o = run(&trial(
        sh(r#"kill -9 $(echo "$TEARDOWN_BYSTANDERS" | tr , ' '); exec "$@""#),
        "pause",
    ));
    assert_eq!(o.verdict, Verdict::BystanderKilled, "{o:#?}");
    assert_eq!(o.bystanders_killed, 2, "{o:#?}");
}

#[test]
fn a_supervisor_that_ignores_sigterm_hangs() {
    let mut t = trial(sh(r#"trap '' TERM; "$@""#), "pause");
    t.deadline = Duration::from_millis(300);
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::Hang, "{o:#?}");
}

#[test]
fn a_supervisor_that_never_starts_the_tree_is_an_error_not_a_verdict() {
    let o = run(&trial(
        Supervisor::External(vec!["true".into()]),
        "pause [fork: pause]",
    ));
    assert_eq!(o.verdict, Verdict::Error, "{o:#?}");
    let detail = o.detail.unwrap_or_default();
    assert!(detail.contains("got 0 of 2 records"), "{detail}");
}

#[test]
fn a_supervisor_that_does_not_exist_is_an_error_that_names_it() {
    let o = run(&trial(
        Supervisor::External(vec!["/nonexistent/supervisor".into()]),
        "pause",
    ));
    assert_eq!(o.verdict, Verdict::Error, "{o:#?}");
    assert!(
        o.detail
            .unwrap_or_default()
            .contains("/nonexistent/supervisor")
    );
}

#[test]
fn a_process_that_dies_within_the_straggler_grace_is_early() {
    // The supervisor returns at once; the leader outlives it by 300 ms, then exits.
    let mut t = trial(
        sh(r#"trap 'exit 0' TERM; "$@" & wait"#),
        "ignore-term exit-after=300ms",
    );
    t.straggler_grace = Duration::from_secs(3);
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::Early, "{o:#?}");
    assert_eq!((o.stragglers, o.survivors), (1, 0), "{o:#?}");
}

/// Kills the leader on SIGTERM, never reaps it, exits two seconds later.
const KILL_NO_REAP: &str = r#"my $pid = fork // die; if (!$pid) { exec @ARGV or die } $SIG{TERM} = sub { kill 9, $pid; sleep 2; exit 0 }; sleep 1000 while 1"#;

#[test]
fn a_zombie_left_to_the_warden_when_the_supervisor_exits_is_counted_not_a_fault() {
    if !installed("perl") {
        eprintln!("skipped: perl is not installed");
        return;
    }
    // Done is its exit: its unreaped child passes to the warden, which reaps it
    // as any init would.
    let sup = Supervisor::External(vec!["perl".into(), "-e".into(), KILL_NO_REAP.into()]);
    let o = run(&trial(sup, "pause"));
    assert_eq!(o.verdict, Verdict::Clean, "{o:#?}");
    assert_eq!((o.zombies, o.orphaned_zombies), (0, 1), "{o:#?}");
}

#[test]
fn a_helper_that_holds_a_dead_child_after_done_is_a_zombie_and_is_left_behind() {
    if !installed("perl") {
        eprintln!("skipped: perl is not installed");
        return;
    }
    // The supervisor (sh) hands SIGTERM to its helper (perl, the leader's
    // parent) and returns 200 ms later; the helper killed the leader and holds it.
    let script = format!(
        r#"perl -e '{}' "$@" & p=$!; trap 'kill -TERM $p; sleep 0.2; exit 0' TERM; wait"#,
        KILL_NO_REAP.replace('\'', r"'\''")
    );
    let o = run(&trial(sh(&script), "pause"));
    assert_eq!(o.verdict, Verdict::Zombie, "{o:#?}");
    assert_eq!(o.zombies, 1, "{o:#?}");
    assert!(o.findings.iter().any(|f| f.kind == "helper-left"), "{o:#?}");
}

#[test]
fn a_leader_that_exits_on_its_own_triggers_a_supervisor_that_waits_for_it() {
    let mut t = trial(sh(r#"exec "$@""#), "exit [fork: pause]");
    t.trigger = Trigger::LeaderExit;
    let o = run(&t);
    // The leader's child was never killed by anyone: a leak, seen after the leader's exit.
    assert_eq!(o.verdict, Verdict::Leak, "{o:#?}");
    assert_eq!(
        o.nodes.len(),
        2,
        "both records arrive before the leader exits: {o:#?}"
    );
}

#[test]
fn tini_in_group_mode_cleans_up_a_tree_that_stays_in_its_group() {
    if !installed("tini") {
        eprintln!("skipped: tini is not installed");
        return;
    }
    let sup = Supervisor::External(vec!["tini".into(), "-g".into(), "--".into()]);
    let o = run(&trial(
        sup.clone(),
        "pause [fork: pause, exec: pause [fork: pause]]",
    ));
    // tini returns as soon as its own child is reaped: the rest of the group got
    // SIGTERM but may still be exiting then (early), never a survivor.
    assert!(
        matches!(o.verdict, Verdict::Clean | Verdict::Early),
        "{o:#?}"
    );
    assert_eq!(o.survivors, 0, "{o:#?}");
    let o = run(&trial(sup, "pause [fork: setsid pause]"));
    assert_eq!(
        o.verdict,
        Verdict::Leak,
        "a setsid escape survives tini -g (tini 236): {o:#?}"
    );
}

#[test]
fn records_from_a_tree_in_bwraps_pid_namespace_are_mapped_to_the_wardens_view() {
    if !installed("bwrap") {
        eprintln!("skipped: bwrap is not installed");
        return;
    }
    // The bwrap peer's own command line: a PID namespace of its own.
    let bwrap = teardown_scenarios::peers::by_name("bwrap").unwrap();
    let sup = Supervisor::External(bwrap.argv.iter().map(|&a| a.to_owned()).collect());
    let o = run(&trial(sup, "pause [fork: pause]"));
    if o.verdict == Verdict::Error {
        eprintln!("skipped: bwrap cannot run here: {:?}", o.detail);
        return;
    }
    assert_eq!(o.nodes.len(), 2, "{o:#?}");
    for n in &o.nodes {
        let status = std::fs::read_to_string(format!("/proc/{}/status", n.pid)).unwrap_or_default();
        assert!(
            !status.contains("\nName:\tteardown\n") || n.pid > 0,
            "{n:?}"
        );
    }
    // Mapped PIDs are distinct and none is the warden's own namespace init (1).
    assert!(o.nodes.iter().all(|n| n.pid > 1), "{o:#?}");
    assert_ne!(o.nodes[0].pid, o.nodes[1].pid);
}

#[test]
fn a_trial_over_the_spec_limits_is_an_error_and_starts_nothing() {
    // Built in code, not parsed: the warden checks the limits itself.
    let mut t = trial(sh(r#"exec "$@""#), "pause [fork: pause]");
    t.spec.root.children[0].count = 1_000_000;
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::Error, "{o:#?}");
    let detail = o.detail.unwrap_or_default();
    assert!(detail.contains("limit"), "{detail}");
    assert!(o.nodes.is_empty());
}

#[test]
fn a_trial_asking_for_too_many_bystanders_is_an_error() {
    let mut t = trial(sh(r#"exec "$@""#), "pause");
    t.bystanders = 100_000;
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::Error, "{o:#?}");
    assert!(o.detail.unwrap_or_default().contains("bystanders"));
}

#[test]
fn a_trial_without_bystanders_runs_the_supervisor_in_its_own_group() {
    let mut t = trial(sh(r#"exec "$@""#), "pause");
    t.bystanders = 0;
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::Clean, "{o:#?}");
    assert_eq!(o.nodes[0].pgid, o.nodes[0].pid, "{o:#?}");
}

#[test]
fn stop_nodes_are_stopped_before_the_trigger_so_sigterm_cannot_kill_them() {
    // A stop node writes its record, then stops itself; the warden waits for the
    // stop before it triggers. Were it to trigger in between, SIGTERM would kill
    // the leader (clean) instead of staying pending (hang). Repeated: a race.
    for _ in 0..5 {
        let mut t = trial(sh(r#"exec "$@""#), "stop pause");
        t.deadline = Duration::from_millis(200);
        let o = run(&t);
        assert_eq!(o.verdict, Verdict::Hang, "{o:#?}");
    }
}

/// SIGTERM forwarded to the leader; then `KILL` (`-9`: at once; `-TERM`: a second
/// SIGTERM, harmless) and a wait for it.
fn forwarder(then: &str) -> Supervisor {
    sh(&format!(
        r#"trap 'kill -TERM $c; kill {then} $c; wait $c; exit 0' TERM; "$@" & c=$!; wait $c"#
    ))
}

#[test]
fn a_supervisor_that_sigkills_at_once_while_it_claims_a_grace_cuts_the_grace() {
    // The trial says the supervisor gives 2 s; the node needs 300 ms of it.
    let mut t = trial(forwarder("-9"), "graceful=300ms pause");
    t.grace = Duration::from_secs(2);
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::GraceCut, "{o:#?}");
    let f = o.findings.iter().find(|f| f.kind == "grace-cut");
    assert_eq!(f.and_then(|f| f.node), Some(0), "{o:#?}");
}

#[test]
fn a_supervisor_that_lets_the_grace_run_is_clean_on_the_same_tree() {
    let mut t = trial(forwarder("-TERM"), "graceful=300ms pause");
    t.grace = Duration::from_secs(2);
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::Clean, "{o:#?}");
}

#[test]
fn a_node_that_needs_more_than_the_grace_may_be_sigkilled() {
    let mut t = trial(forwarder("-9"), "graceful=3s pause");
    t.grace = Duration::from_secs(2);
    let o = run(&t);
    assert_eq!(o.verdict, Verdict::Clean, "{o:#?}");
}

#[test]
fn a_supervisor_that_leaves_a_cgroup_behind_is_leftover() {
    let Some(mount) = teardown_harness::warden::cgroup2_mount() else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: not root (cannot make cgroups)");
        return;
    }
    // Makes a cgroup beside itself, runs the leader, never removes it.
    let m = mount.display();
    let o = run(&trial(
        sh(&format!(
            r#"mkdir "{m}$(sed -n 's/^0:://p' /proc/self/cgroup)/left-$$" && exec "$@""#
        )),
        "pause",
    ));
    assert_eq!(o.verdict, Verdict::Leftover, "{o:#?}");
    let f = o.findings.iter().find(|f| f.kind == "cgroup-left");
    assert!(f.is_some_and(|f| f.note.contains("left-")), "{o:#?}");
}
