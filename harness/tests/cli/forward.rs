//! `teardown run` forwards the user's signals sent to it (SIGUSR1, SIGUSR2,
//! SIGWINCH) to the command's leader, under every method; and the command
//! starts with none blocked or ignored, though `run` blocks them all for its
//! signalfd.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A bound on each expected line (not a timing assertion).
const BOUND: Duration = Duration::from_secs(30);

/// The leader traps the three signals and prints each; it exits after the last.
const SCRIPT: &str = "trap 'echo USR1' USR1; trap 'echo USR2' USR2; trap 'echo WINCH; exit 0' WINCH; \
    echo ready; while :; do sleep 0.02; done";

#[rstest::rstest]
fn user_signals_and_sigwinch_sent_to_run_reach_the_leader(
    #[values("killpg", "cgroup", "subreaper", "proc-walk", "pidns")] method: &str,
) {
    let mut run = Command::new(assert_cmd::cargo::cargo_bin("teardown"))
        .args([
            "run", "--method", method, "--grace", "0s", "--", "sh", "-c", SCRIPT,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(run.id() as i32);
    let (tx, rx) = mpsc::channel();
    let stdout = run.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let next = |want: &str| {
        let got = rx.recv_timeout(BOUND);
        if got.as_deref() != Ok(want) {
            let _ = kill(pid, Signal::SIGTERM);
            panic!("{method}: expected {want}, got {got:?}");
        }
    };
    next("ready");
    for (sig, name) in [
        (Signal::SIGUSR1, "USR1"),
        (Signal::SIGUSR2, "USR2"),
        (Signal::SIGWINCH, "WINCH"),
    ] {
        kill(pid, sig).unwrap();
        next(name);
    }
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{method}");
}

#[rstest::rstest]
fn the_command_starts_with_no_signal_blocked_or_ignored(
    #[values(
        "auto",
        "leader",
        "killpg",
        "cgroup",
        "subreaper",
        "proc-walk",
        "pidns"
    )]
    method: &str,
) {
    // Ignored: through glibc's `posix_spawn`, `pidns`'s leader once came out with
    // glibc's internal signals 32 and 33 ignored (`SigIgn: 0000000180000000`)
    // that its caller did not ignore. A `posix_spawn` from this multithreaded
    // test would do the same to `run` itself (which passes on what its caller
    // gave it), so `run` is forked here: a `pre_exec` hook (an empty mask,
    // which it would set anyway) makes std fork.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("teardown"));
    cmd.args(["run", "--method", method, "--"]).args([
        "grep",
        "-E",
        "^Sig(Blk|Ign):",
        "/proc/self/status",
    ]);
    teardown_harness::sys::unblock_signals_in_child(&mut cmd);
    let out = cmd.output().unwrap();
    // What the command must get: what this process gives a child it forks
    // (the test runner may have been started with some ignored).
    let mut plain = std::process::Command::new("grep");
    plain.args(["^SigIgn:", "/proc/self/status"]);
    teardown_harness::sys::unblock_signals_in_child(&mut plain);
    let own = plain.output().unwrap();
    let own = String::from_utf8_lossy(&own.stdout).trim().to_owned();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("SigBlk:\t0000000000000000\n{own}"),
        "{method}: {:?}",
        super::texts(&out)
    );
}
