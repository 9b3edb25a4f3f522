//! Each method through the async front: drains what it drains blocking, keeps
//! its known weakness, survives a cancelled teardown, and drops without
//! blocking the runtime.

use std::process::{Command, Stdio};
use std::time::Duration;

use teardown::{Method, ProcessIdentity, TeardownError, TeardownOptions};

use crate::support::{Cleanup, alive, all_but_auto, for_each_method, opts, spawn_sh};
use crate::{ESCAPE_AND_IGNORER, async_tree, runtime, settle_dead};

/// The methods that drain a `setsid` escapee and a SIGTERM-ignoring child.
const DRAINING: [Method; 5] = [
    Method::CgroupKill,
    Method::ProcWalk,
    Method::Cgroup,
    Method::Pidns,
    Method::Auto,
];

#[test]
fn every_method_drains_a_setsid_escape_and_a_sigterm_ignorer_asynchronously() {
    for_each_method(DRAINING, |m| {
        let (mut tree, ids) = async_tree(spawn_sh(m, ESCAPE_AND_IGNORER, 2));
        let _guard = Cleanup(ids.clone());
        let report = runtime()
            .block_on(tree.teardown(Duration::from_millis(200)))
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(alive(&ids), vec![], "{m}: the tree is drained on return");
        assert!(report.escalated, "{m}: the SIGTERM-ignorer needed SIGKILL");
        assert!(report.leader_status.is_some(), "{m}: the leader was reaped");
    });
}

/// The negative controls: through the async front, the weak methods keep the
/// weakness they have blocking (the escapee survives; `subreaper` waits for it
/// until its deadline).
#[test]
fn the_weak_methods_keep_their_known_leak_through_the_async_front() {
    let weak = [Method::Leader, Method::Killpg, Method::KillpgWaitpgid];
    for_each_method(weak, |m| {
        let s = spawn_sh(m, ESCAPE_AND_IGNORER, 2);
        let escapee = s.reported[0];
        let (mut tree, ids) = async_tree(s);
        let _guard = Cleanup(ids);
        runtime()
            .block_on(tree.teardown(Duration::from_millis(50)))
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        assert!(escapee.is_alive(), "{m}: the setsid escapee survives");
    });
    let (mut tree, ids) = async_tree(spawn_sh(Method::Subreaper, ESCAPE_AND_IGNORER, 2));
    let _guard = Cleanup(ids);
    let opts = TeardownOptions::new(Duration::ZERO).with_deadline(Duration::from_millis(300));
    match runtime().block_on(tree.teardown_with(opts)) {
        Err(TeardownError::Deadline { .. }) => {}
        other => panic!("subreaper: expected its deadline, got {other:?}"),
    }
}

#[test]
fn a_cancelled_teardown_followed_by_a_new_one_drains() {
    for_each_method(DRAINING, |m| {
        let (mut tree, ids) = async_tree(spawn_sh(m, ESCAPE_AND_IGNORER, 2));
        let _guard = Cleanup(ids.clone());
        let rt = runtime();
        // Dropped in the middle of its grace, SIGTERM sent, nothing reaped.
        let first = rt.block_on(async {
            let slow = tree.teardown(Duration::from_secs(1));
            tokio::time::timeout(Duration::from_millis(100), slow).await
        });
        assert!(first.is_err(), "{m}: the first teardown was cancelled");
        assert!(
            tree.report().is_none(),
            "{m}: no report from a cancelled call"
        );
        let report = rt
            .block_on(tree.teardown(Duration::ZERO))
            .unwrap_or_else(|e| panic!("{m}: the resumed teardown failed: {e}"));
        assert_eq!(alive(&ids), vec![], "{m}: drained after the resumed call");
        assert!(report.leader_status.is_some(), "{m}: the leader was reaped");
        let again = rt.block_on(tree.teardown(Duration::ZERO)).unwrap();
        assert_eq!(again, report, "{m}: a later call returns the same report");
    });
}

#[test]
fn a_cancelled_leader_wait_loses_no_exit() {
    for_each_method(all_but_auto(), |m| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "read _; exit 7"]).stdin(Stdio::piped());
        let mut tree = teardown::tokio::spawn(m, &mut cmd, &opts()).unwrap();
        let _guard = Cleanup(vec![ProcessIdentity::of(tree.leader_pid()).unwrap()]);
        let stdin = tree.take_stdin();
        let rt = runtime();
        let waited = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(50), tree.wait_leader()).await
        });
        assert!(waited.is_err(), "{m}: the leader still runs");
        drop(stdin);
        let status = rt.block_on(tree.wait_leader()).unwrap();
        assert_eq!(status.code(), Some(7), "{m}");
        let report = rt.block_on(tree.teardown(Duration::ZERO)).unwrap();
        assert_eq!(report.leader_status, Some(7), "{m}");
    });
}

#[test]
fn dropping_a_tree_inside_the_runtime_does_not_block_it_and_drains_it() {
    for_each_method([Method::ProcWalk, Method::Cgroup, Method::Pidns], |m| {
        let (tree, ids) = async_tree(spawn_sh(m, ESCAPE_AND_IGNORER, 2));
        let _guard = Cleanup(ids.clone());
        runtime().block_on(async {
            drop(tree);
            // One thread, no await since the drop: had the drop torn the tree
            // down in place (blocking), nothing would be left alive here.
            assert_eq!(
                alive(&ids).len(),
                ids.len(),
                "{m}: the drop returned at once"
            );
            assert_eq!(
                settle_dead(&ids).await,
                vec![],
                "{m}: drained after the drop"
            );
        });
    });
}
