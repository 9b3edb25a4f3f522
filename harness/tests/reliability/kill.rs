//! Point 1: the harness leaks nothing, even when it is SIGKILLed.
//!
//! Each test runs a harness command inside a cgroup the test made, SIGKILLs it at
//! a point of the trial (readiness, teardown, the oracle's straggler wait), and
//! then checks that the cgroup empties (bounded wait; the time it took is printed
//! as `cleanup after SIGKILL: ...`, run with `--nocapture` to see it) and that no
//! `teardown-*` cgroup outlives the next run, which reclaims what a killed warden
//! could not remove.

use std::process::Child;
use std::time::{Duration, Instant};

use super::support::{TestCgroup, kill_and_reap, teardown_bin, wait_until};

/// Bounded: a cleanup slower than this is a failure (the figure is in the report).
const EMPTY_LIMIT: Duration = Duration::from_secs(5);

/// Waits until the cgroup holds at least `n` processes (the trial is under way).
fn wait_procs(cg: &TestCgroup, n: usize) {
    assert!(
        wait_until(Duration::from_secs(20), || cg.procs().len() >= n),
        "never reached {n} processes: {}",
        cg.describe()
    );
}

/// How many processes in the cgroup are `teardown node` (tree nodes).
fn tree_nodes(cg: &TestCgroup) -> usize {
    cg.procs()
        .iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"node"))
        })
        .count()
}

/// SIGKILLs `child` (the harness command), then checks nothing it started lives on
/// and that the next run leaves no `teardown-*` cgroup behind.
fn kill_and_check(cg: &TestCgroup, mut child: Child, what: &str) {
    let t = Instant::now();
    kill_and_reap(&mut child);
    let took = cg.wait_empty(EMPTY_LIMIT);
    eprintln!(
        "cleanup after SIGKILL: {what}: {} ({} teardown-* cgroup(s) left before the next run)",
        took.map_or("NOT EMPTY".into(), |_| format!(
            "{:.1}ms",
            t.elapsed().as_secs_f64() * 1e3
        )),
        cg.teardown_dirs().len()
    );
    assert!(
        took.is_some(),
        "{what}: left after SIGKILL: {}",
        cg.describe()
    );
    // The next run in the same cgroup reclaims what the killed one left.
    let out = cg
        .command(&teardown_bin(), &["replay", "--method", "killpg", "pause"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: the next run failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        cg.procs().is_empty() && cg.teardown_dirs().is_empty(),
        "{what}: after the next run: {}",
        cg.describe()
    );
}

#[test]
fn a_replay_killed_during_readiness_leaves_nothing() {
    let cg = TestCgroup::new();
    // 41 nodes, 40 of them exec'd: readiness takes a while; kill a third of the way.
    let child = cg.spawn(
        &teardown_bin(),
        &["replay", "--method", "cgroup", "pause [40*exec: pause]"],
    );
    wait_procs(&cg, 15);
    kill_and_check(&cg, child, "replay during readiness");
}

#[test]
fn a_replay_killed_during_teardown_leaves_nothing() {
    for method in ["cgroup", "pidns", "proc-walk"] {
        let cg = TestCgroup::new();
        // TERM is ignored and the grace is long: the supervisor sits in teardown.
        let child = cg.spawn(
            &teardown_bin(),
            &[
                "replay",
                "--method",
                method,
                "--grace",
                "20s",
                "--deadline",
                "30s",
                "ignore-term pause [fork: ignore-term pause]",
            ],
        );
        wait_procs(&cg, 6);
        std::thread::sleep(Duration::from_millis(300));
        kill_and_check(
            &cg,
            child,
            &format!("replay --method {method} during teardown"),
        );
    }
}

#[test]
fn a_replay_killed_during_the_oracle_leaves_nothing() {
    let cg = TestCgroup::new();
    // killpg leaks the setsid child: the oracle waits out a long straggler grace.
    let child = cg.spawn(
        &teardown_bin(),
        &[
            "replay",
            "--method",
            "killpg",
            "--straggler-grace",
            "30s",
            "--expect",
            "leak",
            "pause [fork: setsid pause]",
        ],
    );
    wait_procs(&cg, 6);
    // Teardown by killpg is quick; from then on only the survivor and the wardens.
    assert!(
        wait_until(Duration::from_secs(20), || cg.procs().len() <= 6),
        "{}",
        cg.describe()
    );
    std::thread::sleep(Duration::from_millis(200));
    kill_and_check(&cg, child, "replay during the oracle");
}

#[test]
fn a_test_binary_killed_in_run_trial_leaves_nothing() {
    let cg = TestCgroup::new();
    // The test host calls `run_trial` from a thread of its own, the way
    // downstream `cargo test`s do, and is killed in the oracle's wait.
    let host = std::path::Path::new(env!("CARGO_BIN_EXE_teardown-harness-test-host"));
    let mut cmd = cg.command(host, &["run-trial-forever"]);
    let child = cmd
        .env("TEARDOWN_BIN", teardown_bin())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_procs(&cg, 6);
    assert!(
        wait_until(Duration::from_secs(20), || cg.procs().len() <= 6),
        "{}",
        cg.describe()
    );
    kill_and_check(&cg, child, "test binary in run_trial (oracle)");
}

#[test]
fn teardown_run_killed_leaves_nothing_with_the_escape_proof_methods() {
    // pidns and proc-walk keep the tree under the shim, which tears it down when
    // its host dies; cgroup (and auto, which picks it here) leaves a watchdog
    // outside the leaf that writes `cgroup.kill` and removes the leaf when its
    // host dies. (killpg and leader have no process left to do it: a SIGKILLed
    // `teardown run` leaves their tree, as tini or timeout would.)
    // The second tree makes a cgroup below its leaf and moves into it: the
    // clean-up after the host's death removes the leaf's whole subtree.
    let trees = [
        "pause [fork: pause, dfork: setsid pause]",
        "pause [fork: pause, fork: cgroup-nest pause]",
    ];
    for (method, tree) in ["pidns", "proc-walk", "cgroup", "auto"]
        .into_iter()
        .flat_map(|m| trees.map(|t| (m, t)))
    {
        let cg = TestCgroup::new();
        let bin = teardown_bin();
        let bin_s = bin.display().to_string();
        let child = cg.spawn(
            &bin,
            &[
                "run",
                "--method",
                method,
                "--",
                &bin_s,
                "node",
                "--standalone",
                tree,
            ],
        );
        // The tree's three nodes are up (the host, and the shim or the watchdog,
        // come on top).
        assert!(
            wait_until(Duration::from_secs(20), || tree_nodes(&cg) >= 3),
            "{method}: the tree never came up: {}",
            cg.describe()
        );
        kill_and_check(
            &cg,
            child,
            &format!("teardown run --method {method}, {tree}"),
        );
    }
}

#[test]
fn a_matrix_killed_mid_run_leaves_nothing() {
    // Two jobs at once, so two wardens (and their cgroups) are alive when the
    // matrix dies: once as soon as trees exist, once later in the run. The
    // timings make every trial outlive EMPTY_LIMIT by far if nothing kills it (a
    // 20 s grace on the TERM-ignoring tree, a 30 s straggler wait on killpg's
    // leak): only the wardens dying with the matrix empties the cgroup in time.
    for settle in [Duration::ZERO, Duration::from_millis(1500)] {
        let cg = TestCgroup::new();
        let child = cg.spawn(
            &teardown_bin(),
            &[
                "matrix",
                "--jobs",
                "2",
                "--random",
                "2",
                "--seed",
                "1",
                "--methods",
                "cgroup,pidns,proc-walk,killpg",
                "--scenarios",
                "wide-fanout,sigterm-ignored,setsid-escape,stopped",
                "--grace",
                "20s",
                "--straggler-grace",
                "30s",
                "--deadline",
                "30s",
            ],
        );
        assert!(
            wait_until(Duration::from_secs(20), || tree_nodes(&cg) >= 2),
            "the matrix never started a tree: {}",
            cg.describe()
        );
        std::thread::sleep(settle);
        kill_and_check(
            &cg,
            child,
            &format!("matrix --jobs 2, {} ms into its trees", settle.as_millis()),
        );
    }
}
