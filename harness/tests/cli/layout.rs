//! The processes `teardown run` adds under `pidns`: none but the
//! namespace's init (`run` → init → the command), since `run` is the outer
//! side itself (`method/pidns/direct.rs`); a shim between `run` and the init
//! is one fork, one exit and two message hops more per command.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::children;

/// A bound on the wait for the tree (not a timing assertion).
const BOUND: Duration = Duration::from_secs(30);

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `teardown run --method OUTER --timeout 60s -- teardown run INNER...`: a run
/// inside another's PID namespace, whose `/proc` is the outer namespace's.
fn nested(outer: &str, inner: &[&str]) -> std::process::Command {
    let bin = assert_cmd::cargo::cargo_bin("teardown");
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["run", "--method", outer, "--timeout", "60s", "--"])
        .arg(&bin)
        .arg("run")
        .args(inner)
        .stdin(Stdio::null());
    cmd
}

#[rstest::rstest]
fn pidns_puts_only_its_init_between_run_and_the_command(#[values("pidns", "auto")] method: &str) {
    let mut run = std::process::Command::new(assert_cmd::cargo::cargo_bin("teardown"))
        .args(["run", "--method", method, "--", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let (init, leader) = loop {
        if let [init] = children(run.id())[..]
            && let [leader] = children(init)[..]
            && comm(leader) == "sleep"
        {
            break (init, leader);
        }
        if start.elapsed() > BOUND || run.try_wait().unwrap().is_some() {
            let _ = run.kill();
            let _ = run.wait();
            panic!(
                "{method}: not run → init → sleep: run's children {:?}",
                children(run.id())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // The init is PID 1 of a namespace of its own; the command is its child.
    let nspid = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("NSpid:")
                    .map(|v| v.split_whitespace().count())
            })
    };
    let levels = (nspid(run.id()), nspid(init), nspid(leader));
    // SIGTERM to run: a teardown, then run exits.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let status = run.wait().unwrap();
    assert_eq!(
        levels,
        (Some(1), Some(2), Some(2)),
        "{method}: run, init, leader"
    );
    assert_eq!(status.code(), Some(143), "{method}");
}

/// A `teardown run` inside another's PID namespace, whose `/proc` is still the
/// outer namespace's: the inner one must find its init and leader through
/// `/proc`'s own PIDs (it read `/proc/<its PID for the init>`, another process
/// or none: "failed to set up the leader's PID", exit 125, before).
#[rstest::rstest]
fn a_run_inside_another_run_s_namespace_runs_its_command(
    #[values("pidns", "auto")] outer: &str,
    #[values("pidns", "auto")] inner: &str,
) {
    let out = nested(
        outer,
        &[
            "--method",
            inner,
            "--",
            "sh",
            "-c",
            "grep NSpid /proc/self/status; exit 4",
        ],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(4),
        "stdout {stdout} stderr {stderr}"
    );
    // Three levels: the host's, the outer run's namespace, the inner one's.
    let levels = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|l| l.split_ascii_whitespace().count());
    assert_eq!(levels, Some(3), "stdout {stdout}");
}

/// `subreaper` and `proc-walk` read children from `/proc` and signal and wait by
/// PID: under a `/proc` of an outer namespace those PIDs name other processes
/// (they hung, before). They say `unsupported` and why, at once (exit 2).
#[rstest::rstest]
fn the_proc_methods_are_unsupported_under_an_outer_namespace_s_proc(
    #[values("subreaper", "proc-walk")] inner: &str,
) {
    let out = nested(
        "pidns",
        &["--method", inner, "--", "sh", "-c", "sleep 100 & exit 3"],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr {stderr}");
    assert!(
        stderr.contains("unsupported") && stderr.contains("/proc is an outer PID namespace's"),
        "{stderr}"
    );
}

/// `cgroup` and `cgroup-kill` check each member's cgroup in `/proc` before they
/// SIGTERM it: under a `/proc` of an outer namespace they read another
/// process's (the PID is ours, not `/proc`'s), signalled nobody, and only
/// SIGKILLed at the end of the grace. Through the member's pidfd they find it.
#[rstest::rstest]
fn the_cgroup_methods_term_their_tree_under_an_outer_namespace_s_proc(
    #[values("cgroup", "cgroup-kill")] inner: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report_arg = report.to_str().unwrap();
    let inner_args = [
        "--method",
        inner,
        "--timeout",
        "300ms",
        "--grace",
        "20s",
        "--report",
        report_arg,
        "--",
        "sh",
        "-c",
        "sleep 100 & sleep 100",
    ];
    let status = nested("pidns", &inner_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    assert_eq!(status.code(), Some(124), "{text}");
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["escalated"], false, "{text}");
    assert!(r["signalled"].as_u64().unwrap_or(0) >= 2, "{text}");
}
