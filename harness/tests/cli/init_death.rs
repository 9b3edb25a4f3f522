//! `pidns`'s init killed from outside (SIGKILL by a root process of the host, or
//! the OOM killer): the kernel kills the namespace, so the leader is gone, and
//! `teardown run` must say so and return, not wait for ever for the init's word.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::children;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A hung `run` fails the test instead of hanging it (not a timing assertion).
const BOUND: Duration = Duration::from_secs(60);

#[test]
fn run_returns_when_the_namespace_s_init_is_killed_from_outside() {
    let mut run = std::process::Command::new(assert_cmd::cargo::cargo_bin("teardown"))
        .args(["run", "--method", "pidns", "--", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // run → the init → the leader (`sleep`), or run → its shim → the init →
    // the leader: the init is the leader's parent. Wait until all are there.
    let start = Instant::now();
    let init = loop {
        let mut below = children(run.id());
        let mut found = None;
        while let Some(pid) = below.pop() {
            let kids = children(pid);
            let leader = kids.iter().find(|&&k| {
                std::fs::read_to_string(format!("/proc/{k}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            });
            if leader.is_some() {
                found = Some(pid);
                break;
            }
            below.extend(kids);
        }
        if let Some(init) = found {
            break init;
        }
        assert!(start.elapsed() < BOUND, "the tree never started");
        assert!(run.try_wait().unwrap().is_none(), "run exited early");
        std::thread::sleep(Duration::from_millis(10));
    };
    // The init of a namespace this test's `run` made: ours to kill.
    kill(Pid::from_raw(init as i32), Signal::SIGKILL).unwrap();
    let status = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > BOUND {
            let _ = run.kill();
            panic!("teardown run did not return after its init was killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        status.code(),
        Some(128 + 9),
        "the leader died of the namespace's SIGKILL"
    );
}
