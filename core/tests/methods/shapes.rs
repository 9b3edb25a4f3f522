//! Shapes only the escape-proof methods promise to drain: deep chains of orphans,
//! wide trees, names that break naive `/proc` parsers, processes that fork while
//! being torn down, and trees whose leader exited long before.

use std::time::Duration;

use rstest::rstest;
use teardown::Method;

use crate::support::{Cleanup, alive, spawn_reporting, spawn_sh};

#[rstest]
fn a_deep_chain_is_drained(
    #[values(Method::Subreaper, Method::ProcWalk, Method::Cgroup, Method::Pidns)] method: Method,
) {
    // Each link reports itself, starts the next one in the background, then
    // becomes sleep: a chain 20 processes deep.
    let script = r#"
        link() { if [ "$1" -gt 0 ]; then (eval "$R"; link $(($1 - 1)); exec sleep 60) & fi; }
        link 20; wait"#;
    let s = spawn_sh(method, script, 20);
    let _guard = Cleanup(s.all());
    let all = s.all();
    let mut tree = s.tree;
    let report = tree.teardown(Duration::ZERO).unwrap();
    assert_eq!(alive(&all), vec![], "{method}");
    assert!(report.leader_status.is_some());
}

#[rstest]
fn a_wide_tree_is_drained(
    #[values(Method::ProcWalk, Method::Cgroup, Method::Pidns)] method: Method,
) {
    let script =
        r#"i=0; while [ $i -lt 200 ]; do (eval "$R"; exec sleep 60) & i=$((i+1)); done; wait"#;
    let s = spawn_sh(method, script, 200);
    let _guard = Cleanup(s.all());
    let all = s.all();
    let mut tree = s.tree;
    let report = tree.teardown(Duration::ZERO).unwrap();
    assert_eq!(alive(&all), vec![], "{method}");
    if method == Method::ProcWalk {
        // The SIGKILL phase starts with one killpg of the leader's group (counted
        // once), then walks for what left it; the shim reaps every one.
        assert!(report.signalled >= 1, "{report:?}");
        assert!(
            report.reaped >= 201,
            "{method}: every process reaped by the shim: {report:?}"
        );
    }
}

#[rstest]
fn a_paren_in_the_command_name_does_not_hide_a_process(
    #[values(Method::ProcWalk, Method::Cgroup, Method::Pidns)] method: Method,
    #[values(Duration::ZERO, Duration::from_millis(200))] grace: Duration,
) {
    // perl sets its comm to "x) S 1 (": a naive stat parser reads a wrong ppid.
    let s = spawn_reporting(
        method,
        "perl",
        &[
            "-e",
            r#"$SIG{TERM} = "IGNORE";
               if (!fork) { $0 = "x) S 1 ("; exec "sh", "-c", q{eval "$R"; exec perl -e '$0 = "y) S 1 ("; $SIG{TERM} = "IGNORE"; sleep 60'} }
               sleep 60;"#,
        ],
        1,
    );
    let _guard = Cleanup(s.all());
    let all = s.all();
    let mut tree = s.tree;
    tree.teardown(grace).unwrap();
    assert_eq!(alive(&all), vec![], "{method}");
}

#[rstest]
fn processes_forking_during_teardown_are_drained(
    #[values(Method::ProcWalk, Method::Cgroup, Method::Pidns)] method: Method,
) {
    // Two loops keep forking short-lived children while the tree is torn down
    // (bounded: each loop stops after 2000 forks).
    let script = r#"
        spin() { (eval "$R"; n=0; while [ $n -lt 2000 ]; do sleep 60 & n=$((n+1)); kill $! 2>/dev/null; done; exec sleep 60) & }
        spin; spin; wait"#;
    let s = spawn_sh(method, script, 2);
    let _guard = Cleanup(s.all());
    std::thread::sleep(Duration::from_millis(50));
    let all = s.all();
    let mut tree = s.tree;
    tree.teardown(Duration::ZERO).unwrap();
    assert_eq!(alive(&all), vec![], "{method}");
}

#[rstest]
fn a_tree_whose_leader_exited_long_ago_is_drained(
    #[values(Method::Subreaper, Method::ProcWalk, Method::Cgroup, Method::Pidns)] method: Method,
) {
    let s = spawn_sh(
        method,
        r#"(eval "$R"; exec sleep 60) & (eval "$R"; exec sleep 60) & exit 7"#,
        2,
    );
    let _guard = Cleanup(s.all());
    let mut tree = s.tree;
    assert_eq!(tree.wait_leader().unwrap().code(), Some(7));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        alive(&s.reported).len(),
        2,
        "{method}: the orphans outlive the leader"
    );
    let report = tree.teardown(Duration::from_millis(500)).unwrap();
    assert_eq!(report.leader_status, Some(7));
    assert_eq!(alive(&s.reported), vec![], "{method}");
}

#[rstest]
fn orphans_are_reaped_while_the_leader_zombie_is_kept(
    #[values(Method::Subreaper, Method::ProcWalk, Method::Pidns)] method: Method,
) {
    let s = spawn_sh(method, r#"(eval "$R"; sleep 0.2) & exit 0"#, 1);
    let _guard = Cleanup(s.all());
    let orphan = format!("/proc/{}", s.reported[0].pid);
    crate::support::wait_until("the orphan is reaped", || {
        !std::path::Path::new(&orphan).exists()
    });
    let leader = format!("/proc/{}", s.leader.pid);
    assert!(
        std::path::Path::new(&leader).exists(),
        "{method}: the leader's zombie is kept until teardown"
    );
    let mut tree = s.tree;
    assert_eq!(
        tree.teardown(Duration::ZERO).unwrap().leader_status,
        Some(0)
    );
}

/// Graceful mode sends SIGTERM to the whole tree, also to what the tree forks
/// while it is being signalled: a leader still forking 1000 `sleep`s when the
/// teardown starts (50 ms in) must drain on SIGTERM alone, without the SIGKILL
/// after the grace. `cgroup` used to read `cgroup.procs` once and signal that
/// list: a child forked in between never got SIGTERM and the tree sat out the
/// whole grace (this test failed 2 runs in 4 that way); once a forker has SIGTERM
/// pending it cannot complete another fork, so reading again until nothing is
/// new reaches every process.
#[rstest]
fn a_tree_still_forking_drains_on_sigterm_alone(
    #[values(Method::ProcWalk, Method::Cgroup, Method::Pidns)] method: Method,
) {
    // Eight forkers, so that some are signalled well after the read of the
    // members (with one, the leader, signalled first, the race was rarely hit).
    for _ in 0..6 {
        let mut cmd = std::process::Command::new("sh");
        cmd.args([
            "-c",
            "for j in 1 2 3 4 5 6 7 8; do (for i in $(seq 120); do sleep 100 & done; wait) & done; wait",
        ]);
        let mut tree = method
            .spawn_with(&mut cmd, &crate::support::opts())
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let report = tree.teardown(Duration::from_secs(5)).unwrap();
        assert!(!report.escalated, "{method}: {report:?}");
    }
}
