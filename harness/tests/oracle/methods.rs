//! Our own methods through `teardown run`: weak ones are caught, strong ones clean.

use teardown::{Availability, Method, Verdict};
use teardown_harness::trial::Supervisor;

use super::{run, trial};

fn verdict(method: Method, spec: &str) -> (Verdict, String) {
    let o = run(&trial(Supervisor::Method(method), spec));
    (o.verdict, format!("{o:#?}"))
}

/// What `teardown probe` (the binary that runs the trials, with its built-in shim)
/// says of each method.
fn availability() -> Vec<(Method, bool)> {
    let bin = teardown_harness::locate::teardown_bin().unwrap();
    let out = std::process::Command::new(bin)
        .args(["probe", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let methods: Vec<(Method, Availability)> =
        serde_json::from_value(v["core"]["methods"].clone()).unwrap();
    methods
        .into_iter()
        .map(|(m, a)| (m, a == Availability::Available))
        .collect()
}

#[test]
fn the_leader_method_leaks_a_background_child() {
    let (v, o) = verdict(Method::Leader, "pause [fork: pause]");
    assert_eq!(v, Verdict::Leak, "{o}");
}

#[test]
fn the_killpg_method_leaks_a_setsid_escape() {
    let (v, o) = verdict(Method::Killpg, "pause [fork: pause, fork: setsid pause]");
    assert_eq!(v, Verdict::Leak, "{o}");
}

#[test]
fn the_killpg_waitpgid_method_leaks_a_setpgid_escape() {
    let (v, o) = verdict(Method::KillpgWaitpgid, "pause [fork: setpgid pause]");
    assert_eq!(v, Verdict::Leak, "{o}");
}

#[test]
fn escape_proof_methods_are_clean_on_escaping_trees_where_available() {
    let spec =
        "pause [fork: pause, dfork: setsid ignore-term pause, exec: setpgid pause [fork: pause]]";
    for (m, available) in availability() {
        if !m.is_escape_proof() {
            continue;
        }
        let (v, o) = verdict(m, spec);
        let expected = if available {
            Verdict::Clean
        } else {
            Verdict::Unsupported
        };
        assert_eq!(v, expected, "{m}: {o}");
    }
}

#[test]
fn an_unavailable_method_is_reported_unsupported_with_its_reason() {
    let Some((m, _)) = availability().into_iter().find(|(_, a)| !a) else {
        eprintln!("skipped: every method is available here");
        return;
    };
    let o = run(&trial(Supervisor::Method(m), "pause"));
    assert_eq!(o.verdict, Verdict::Unsupported, "{o:#?}");
    assert!(o.detail.unwrap_or_default().contains("unsupported"));
}

/// A `stop` node whose group is orphaned by an `exit` above it: the kernel sends
/// SIGHUP + SIGCONT to an orphaned group with a stopped member, so a node that
/// stopped itself before its parent was gone was killed (SIGHUP) or continued
/// (SIGHUP blocked) as the race fell: readiness then failed ("did not stop") or the
/// tree was quietly less hostile than its spec. The warden stops such nodes once
/// the tree has settled: the node is stopped at the trigger, every time, and the
/// leader method leaves it behind.
#[test]
fn a_stop_node_orphaned_by_an_exit_above_it_is_stopped_at_the_trigger_every_time() {
    for spec in [
        "pause [fork: setsid exit [fork: setpgid stop pause]]",
        "pause [fork: block-all setsid exit [fork: setpgid stop pause]]",
    ] {
        for _ in 0..5 {
            let (v, o) = verdict(Method::Leader, spec);
            assert_eq!(v, Verdict::Leak, "{spec}: {o}");
            let stopped = o.contains("state T");
            assert!(stopped, "{spec}: the survivor is not the stopped node: {o}");
        }
    }
}

/// Found by the property test: under `pidns` the nodes record the PIDs of the
/// method's namespace. An `exit` node auto-reaped (`sigchld-ign` parent) before the
/// warden mapped its record kept its inner PID, which in the warden's view named
/// another node started in the same clock tick: the warden waited for that one
/// to exit ("did not exit", 5 of 10 replays). Such a record is now known gone.
#[test]
fn an_exit_node_reaped_before_its_record_was_mapped_is_known_gone() {
    let spec = "pause [fork: setsid zombies=4 [exec: setpgid pause, 2*exec: setsid ignore-hup pause, \
                dfork: sigchld-ign stop exit-after=50ms], fork: setsid ignore-term block-all zombies=3, \
                2*dfork: setsid sigchld-ign pause [2*fork: exit]]";
    for (m, available) in availability() {
        if m != Method::Pidns || !available {
            continue;
        }
        for _ in 0..6 {
            let (v, o) = verdict(m, spec);
            assert_eq!(v, Verdict::Clean, "{o}");
        }
    }
}

#[test]
fn a_graceful_node_given_its_whole_grace_on_a_busy_machine_is_not_grace_cut() {
    // Found by the fuzz target `trial` (then a 10 ms grace; two trials at
    // once): the sibling's slow exit keeps both cores busy as the trigger goes,
    // the supervisor woken by it ran before the warden stamped the trigger,
    // and the leader, SIGKILLed at the end of its whole 10 ms grace, looked
    // SIGKILLed ~5 ms after the trigger: `grace-cut`, 1 trial in 4 under
    // `auto` and `cgroup`, 0 in 400 since the trigger is stamped before it is
    // sent. Two trials of one method at a time, as busy as the fuzz target.
    let spec = "graceful=8ms pause [cparent: slow-exit=64MiB setsid pause]";
    for method in [Method::Auto, Method::Cgroup] {
        for _ in 0..8 {
            let outcomes: Vec<_> = std::thread::scope(|s| {
                let running: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            let mut t = trial(Supervisor::Method(method), spec);
                            t.grace = std::time::Duration::from_millis(10);
                            run(&t)
                        })
                    })
                    .collect();
                running.into_iter().map(|r| r.join().unwrap()).collect()
            });
            for o in outcomes {
                assert_eq!(o.verdict, Verdict::Clean, "{method}: {o:#?}");
            }
        }
    }
}
