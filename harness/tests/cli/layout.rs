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
