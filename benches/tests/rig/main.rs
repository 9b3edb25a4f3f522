//! The bench rig against real processes: the helper builds exactly the trees it
//! is asked for, and the observer tells a drained tree from one that is not —
//! with a cgroup (the host needs a writable cgroup2: without one that test fails
//! and says why), and with the pidfd fallback. The node-interpreter test needs the
//! harness's `teardown` binary built, and fails saying so when it is not.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use teardown_benches::errors::ObserverError;
use teardown_benches::observer::Observer;
use teardown_benches::rig::{PidView, Placement, Rig};
use teardown_benches::stats::DrainStats;
use teardown_benches::{Shape, TreeShape};

fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bench-tree"))
}

/// Spawns `shape` as the leader of a new process group and waits until it is ready.
fn spawn_ready(rig: &mut Rig, shape: TreeShape) -> (Child, Vec<i32>) {
    let mut cmd = rig.tree_command(shape, Placement::JoinObserver);
    cmd.process_group(0);
    let child = cmd.spawn().expect("spawn bench-tree");
    let pids = rig.await_ready(shape, PidView::Ours).expect("tree ready");
    (child, pids)
}

fn ppid_of(pid: i32) -> i32 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Kills the leader only: its children live on, so the tree is not drained; then
/// the group, after which it is.
fn observer_tells_a_leaking_teardown_from_a_drain(mut rig: Rig) {
    let shape = TreeShape {
        shape: Shape::Flat,
        n: 5,
    };
    let (mut leader, pids) = spawn_ready(&mut rig, shape);
    assert_eq!(pids.len(), 5);
    assert!(pids.contains(&(leader.id() as i32)));

    leader.kill().unwrap();
    leader.wait().unwrap();
    assert!(
        !rig.observer().is_drained().unwrap(),
        "the leader's children are still alive"
    );
    let waited = rig.observer().wait_drained(Duration::from_millis(100));
    assert!(
        matches!(waited, Err(ObserverError::NotDrained { .. })),
        "{waited:?}"
    );

    killpg(Pid::from_raw(leader.id() as i32), Signal::SIGKILL).unwrap();
    rig.observer()
        .wait_drained(Duration::from_secs(10))
        .unwrap();
    assert!(rig.observer().is_drained().unwrap());
}

#[test]
fn the_cgroup_observer_tells_a_leaking_teardown_from_a_drain() {
    let rig = Rig::new(helper()).unwrap();
    if let Some(reason) = rig.fallback() {
        panic!(
            "the cgroup observer cannot run here, it fell back to pidfds: {reason} \
             (it needs a writable cgroup2; the pidfd observer has its own test)"
        );
    }
    observer_tells_a_leaking_teardown_from_a_drain(rig);
}

#[test]
fn the_pidfd_observer_tells_a_leaking_teardown_from_a_drain() {
    let rig = Rig::with_observer(helper(), Observer::without_cgroup()).unwrap();
    observer_tells_a_leaking_teardown_from_a_drain(rig);
}

#[test]
fn a_chain_is_n_processes_each_the_parent_of_the_next() {
    let mut rig = Rig::new(helper()).unwrap();
    let shape = TreeShape {
        shape: Shape::Chain,
        n: 4,
    };
    let (leader, pids) = spawn_ready(&mut rig, shape);
    // Records arrive leader first: each node reports before it forks the next.
    assert_eq!(pids[0], leader.id() as i32);
    for pair in pids.windows(2) {
        assert_eq!(ppid_of(pair[1]), pair[0], "chain {pids:?}");
    }
    let mut stats = DrainStats::default();
    let (timed, ()) = rig
        .time_teardown(&mut stats, || {
            killpg(Pid::from_raw(leader.id() as i32), Signal::SIGKILL).unwrap();
        })
        .unwrap();
    assert!(timed.drained >= timed.returned);
    assert_eq!(stats.iterations, 1);
    assert!(rig.observer().is_drained().unwrap());
    reap(leader);
}

#[test]
fn a_flat_tree_is_the_leader_and_its_forked_children() {
    let mut rig = Rig::new(helper()).unwrap();
    let shape = TreeShape {
        shape: Shape::Flat,
        n: 20,
    };
    let (leader, pids) = spawn_ready(&mut rig, shape);
    let leader_pid = leader.id() as i32;
    let mut sorted = pids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 20, "distinct PIDs");
    assert!(
        pids.iter()
            .filter(|&&p| p != leader_pid)
            .all(|&p| ppid_of(p) == leader_pid)
    );
    killpg(Pid::from_raw(leader_pid), Signal::SIGKILL).unwrap();
    rig.observer()
        .wait_drained(Duration::from_secs(10))
        .unwrap();
    reap(leader);
}

#[test]
fn the_floor_helper_times_rounds_on_request_and_exits_at_end_of_input() {
    let rig = Rig::new(helper()).unwrap();
    let mut server = rig.floor_command(3).spawn().unwrap();
    let mut stdin = server.stdin.take().unwrap();
    let mut stdout = server.stdout.take().unwrap();
    for iters in [1u64, 4] {
        stdin.write_all(&iters.to_ne_bytes()).unwrap();
        let mut reply = [0u8; 8];
        stdout.read_exact(&mut reply).unwrap();
        assert!(u64::from_ne_bytes(reply) > 0);
    }
    drop(stdin);
    assert!(server.wait().unwrap().success());
}

#[test]
fn the_helper_refuses_a_tree_larger_than_the_limit() {
    let out = Command::new(helper())
        .args(["--ready", "/nonexistent", "flat", "1001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));
}

fn reap(mut leader: Child) {
    let _ = kill(Pid::from_raw(leader.id() as i32), Signal::SIGKILL);
    leader.wait().unwrap();
}

/// The harness's `teardown` binary, the node interpreter: `cargo test --workspace`
/// builds it; a test of this package alone needs it built first.
fn teardown_bin() -> PathBuf {
    teardown_harness::locate::teardown_bin()
        .unwrap_or_else(|error| panic!("the node interpreter: {error}"))
}

#[test]
fn a_node_tree_reports_every_node_with_the_leader_last_and_escapes_stay_observed() {
    let teardown = teardown_bin();
    let mut rig = Rig::new(helper()).unwrap();
    // The setsid child leaves the leader's group and session: killing the group
    // must leave the tree undrained in the observer's eyes.
    let spec = "pause [fork: setsid pause, 2*exec: pause]";
    let mut cmd = rig.node_command(&teardown, spec, Placement::JoinObserver);
    cmd.process_group(0);
    let mut leader = cmd.spawn().unwrap();
    let records = rig.await_node_ready(PidView::Ours).unwrap();
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(records.last().unwrap().node, 0);
    assert_eq!(records.last().unwrap().pid, leader.id() as i32);
    let escapee = records
        .iter()
        .find(|r| r.sid != records[3].sid)
        .expect("the setsid node");

    killpg(Pid::from_raw(leader.id() as i32), Signal::SIGKILL).unwrap();
    leader.wait().unwrap();
    let waited = rig.observer().wait_drained(Duration::from_millis(200));
    assert!(
        matches!(waited, Err(ObserverError::NotDrained { .. })),
        "{waited:?}"
    );

    kill(Pid::from_raw(escapee.pid), Signal::SIGKILL).unwrap();
    rig.observer()
        .wait_drained(Duration::from_secs(10))
        .unwrap();
}
