//! Trees that attack their supervisor side, or the kernel mechanism a method
//! relies on (issue 12): a process whose main thread has exited, signals sent to
//! the parent, a cgroup made below the tree's own, a nested PID namespace's init.
//! Each test names the method that used to fail it; the weak `cgroup-kill` is the
//! negative control that must still fail where `cgroup` now holds.

use std::io::{BufRead, Read};
use std::time::Duration;

use rstest::rstest;
use teardown::{Method, TeardownError, TeardownOptions};

use crate::support::{
    Cleanup, alive, cgroup_dir_of, for_each_method, settle_dead, spawn_reporting, spawn_sh,
};

/// A Python process that ignores SIGTERM, starts a thread that sleeps, reports
/// its PID (as `/proc` shows it) and ends its main thread alone
/// (`pthread_exit`): a live process whose thread-group leader is a zombie.
const MAIN_THREAD_EXITS: &str = "import threading, ctypes, time, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
threading.Thread(target=lambda: time.sleep(600)).start()
print(open('/proc/self/stat').read().split()[0], flush=True)
ctypes.CDLL(None).pthread_exit(None)";

#[rstest]
fn a_process_whose_main_thread_exited_is_killed(
    #[values(
        Method::Killpg,
        Method::Subreaper,
        Method::ProcWalk,
        Method::Cgroup,
        Method::Pidns,
        Method::Auto
    )]
    method: Method,
    #[values(0, 50)] grace_ms: u64,
) {
    let s = spawn_reporting(method, "python3", &["-c", MAIN_THREAD_EXITS], 1);
    let _guard = Cleanup(s.all());
    let all = s.all();
    let mut tree = s.tree;
    // Until it is a zombie-led process, cgroup.kill would still work.
    crate::support::wait_until("the main thread exited", || {
        crate::support::state(&s.reported[0]) == Some('Z')
    });
    let report = tree
        .teardown_with(
            TeardownOptions::new(Duration::from_millis(grace_ms))
                .with_deadline(Duration::from_secs(20)),
        )
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    // With a grace it ran out; without one SIGKILL went out at once: both are
    // a SIGKILL that reached the tree.
    assert!(report.escalated, "{method}");
    assert!(alive(&all).is_empty(), "{method}: {:?} alive", alive(&all));
}

#[test]
fn cgroup_kill_alone_misses_a_process_whose_main_thread_exited() {
    // The negative control: systemd's path (cgroup.kill, wait for populated 0)
    // never sees the leaf empty.
    let s = spawn_reporting(Method::CgroupKill, "python3", &["-c", MAIN_THREAD_EXITS], 1);
    let _guard = Cleanup(s.all());
    let mut tree = s.tree;
    crate::support::wait_until("the main thread exited", || {
        crate::support::state(&s.reported[0]) == Some('Z')
    });
    let result = tree.teardown_with(
        TeardownOptions::new(Duration::ZERO).with_deadline(Duration::from_millis(300)),
    );
    assert!(
        matches!(result, Err(TeardownError::Deadline { alive: 1, .. })),
        "{result:?}"
    );
    assert_eq!(alive(&s.reported).len(), 1, "it survived cgroup.kill");
}

#[rstest]
fn a_tree_that_signals_its_parent_does_not_kill_the_shim(
    #[values(Method::Subreaper, Method::ProcWalk, Method::Pidns)] method: Method,
) {
    // Before and during the teardown (from its SIGTERM handler), every catchable
    // signal a careless or hostile program sends its parent: Xorg's readiness
    // SIGUSR1 among them.
    let s = spawn_sh(
        method,
        r#"for sig in USR1 USR2 TERM INT HUP QUIT PIPE ALRM; do kill -$sig $PPID; done
trap 'for sig in USR1 TERM INT HUP; do kill -$sig $PPID; done' TERM
eval "$R"; while :; do sleep 0.02; done"#,
        1,
    );
    let _guard = Cleanup(s.all());
    let all = s.all();
    let mut tree = s.tree;
    let report = tree
        .teardown_with(
            TeardownOptions::new(Duration::from_millis(200)).with_deadline(Duration::from_secs(20)),
        )
        .unwrap_or_else(|e| panic!("{method}: the shim died or failed: {e}"));
    assert!(report.escalated, "{method}: the leader survives SIGTERM");
    assert!(alive(&all).is_empty(), "{method}: {:?} alive", alive(&all));
}

#[test]
fn signal_leader_reaches_the_leader_alone() {
    for_each_method(Method::ALL, |method| {
        let s = spawn_sh(
            method,
            r#"trap 'echo usr1' USR1; eval "$R"; while :; do sleep 0.02; done"#,
            1,
        );
        let leader = s.reported[0];
        let _guard = Cleanup(vec![leader]);
        let (mut tree, mut out) = (s.tree, s.out);
        assert!(tree.signal_leader(libc::SIGUSR1).unwrap(), "{method}: sent");
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "usr1", "{method}");
        tree.teardown(Duration::ZERO).unwrap();
        assert!(
            !tree.signal_leader(libc::SIGUSR1).unwrap(),
            "{method}: nothing to send to after the teardown"
        );
        assert!(settle_dead(&[leader]).is_empty());
    });
}

#[rstest]
fn a_cgroup_the_tree_made_below_its_own_is_signalled_and_removed(
    #[values(Method::CgroupKill, Method::Cgroup, Method::Pidns, Method::Auto)] method: Method,
    #[values(false, true)] leader_moves: bool,
) {
    // The leader, or a child of it, makes `sub` below its own cgroup and moves
    // in (a nested runtime, `systemd-run --scope`); the one that moved handles
    // SIGTERM by saying so and exiting.
    let nest = r#"m=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
cg=$m$(sed -n 's/^0:://p' /proc/self/cgroup); mkdir "$cg/sub" && echo 0 > "$cg/sub/cgroup.procs"
trap 'echo term; exit 0' TERM"#;
    let script = if leader_moves {
        format!("{nest}\neval \"$R\"; while :; do sleep 0.02; done")
    } else {
        format!("(\n{nest}\neval \"$R\"; while :; do sleep 0.02; done\n) &\nwait")
    };
    let s = spawn_sh(method, &script, 1);
    let _guard = Cleanup(s.all());
    let all = s.all();
    let sub = cgroup_dir_of(s.reported[0].pid).expect("its cgroup");
    assert!(
        sub.ends_with("sub"),
        "{method}: it moved: {}",
        sub.display()
    );
    let leaf = sub.parent().unwrap().to_path_buf();
    let (mut tree, mut stdout) = (s.tree, s.out);
    tree.teardown_with(
        TeardownOptions::new(Duration::from_secs(5)).with_deadline(Duration::from_secs(20)),
    )
    .unwrap_or_else(|e| panic!("{method}: {e}"));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("term"),
        "{method}: SIGTERM reached the sub-cgroup"
    );
    assert!(alive(&all).is_empty(), "{method}");
    assert!(
        !sub.exists() && !leaf.exists(),
        "{method}: {} left",
        leaf.display()
    );
}

#[test]
fn pidns_honours_the_grace_of_a_process_below_a_nested_pid_namespace_init() {
    // The leader starts `unshare --user --pid --fork`, whose child (a shell) is
    // PID 1 of a nested namespace and needs 300 ms on SIGTERM. `unshare` dies of
    // SIGTERM at once, so that init becomes a child of ours: its NSpid line ends
    // in 1, its PID in our namespace is the field before. Read with the last
    // field (before the fix), it looked gone, the namespace looked empty and was
    // SIGKILLed 2 ms after SIGTERM, the 300 ms cut short.
    let s = spawn_sh(
        Method::Pidns,
        r#"unshare --user --pid --fork sh -c 'trap "sleep 0.3; echo finished; exit 0" TERM; eval "$R"; while :; do sleep 0.02; done' &
wait"#,
        1,
    );
    let _guard = Cleanup(s.all());
    let (mut tree, mut stdout) = (s.tree, s.out);
    let report = tree
        .teardown_with(
            TeardownOptions::new(Duration::from_secs(5)).with_deadline(Duration::from_secs(20)),
        )
        .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("finished"),
        "the grace was honoured: {report:?}"
    );
    assert!(!report.escalated, "{report:?}");
    assert!(report.drain >= Duration::from_millis(300), "{report:?}");
}

#[test]
fn escalated_says_whether_sigkill_reached_the_tree() {
    for_each_method(Method::ALL, |method| {
        // A tree that dies of SIGTERM, torn down gracefully: no SIGKILL.
        let s = spawn_sh(method, r#"eval "$R"; exec sleep 60"#, 1);
        let _guard = Cleanup(s.all());
        let mut tree = s.tree;
        let r = tree.teardown(Duration::from_secs(5)).unwrap();
        assert!(!r.escalated, "{method}: {r:?}");
        // The same torn down with no grace: SIGKILL reached it.
        let s = spawn_sh(method, r#"eval "$R"; exec sleep 60"#, 1);
        let _guard = Cleanup(s.all());
        let mut tree = s.tree;
        let r = tree.teardown(Duration::ZERO).unwrap();
        assert!(r.escalated, "{method}: {r:?}");
        // A tree whose leader exited and left nothing: nothing to SIGKILL. The
        // group methods cannot tell (the group still holds the leader's zombie, and
        // a group kill succeeds on it): only the methods that see their whole tree
        // are held to it.
        if matches!(
            method,
            Method::CgroupKill | Method::Cgroup | Method::Pidns | Method::Auto
        ) {
            let s = spawn_sh(method, r#"eval "$R"; exit 0"#, 1);
            let mut tree = s.tree;
            tree.wait_leader().unwrap();
            let r = tree.teardown(Duration::ZERO).unwrap();
            assert!(!r.escalated, "{method}: {r:?}");
        }
    });
}
