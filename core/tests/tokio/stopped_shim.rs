//! A tree can SIGSTOP its shim (`stop-parent`): the shim then reads no more of
//! its control pipe. A supervisor that keeps forwarding signals (resizes, health
//! pings) must not block on that pipe once it is full: `signal_leader` fails
//! with `WouldBlock` instead, and the runtime thread goes on. (Red-team finding:
//! it blocked after ~6,500 calls.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use teardown::Method;

use crate::support::opts;

fn ppid(pid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(1).unwrap().parse().unwrap()
}

fn sig(pid: i32, s: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), s).unwrap();
}

#[test]
fn signal_leader_does_not_block_when_the_shim_is_stopped() {
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("60");
    let mut tree = teardown::tokio::spawn(Method::ProcWalk, &mut cmd, &opts()).unwrap();
    let shim = ppid(tree.leader_pid());
    assert_ne!(
        shim,
        std::process::id() as i32,
        "the shim is the leader's parent"
    );
    // Our own shim (the leader's parent, our child): stop it, as the tree could.
    sig(shim, rustix::process::Signal::STOP);
    let refused = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let counter = refused.clone();
    let worker = std::thread::spawn(move || {
        crate::runtime().block_on(async {
            for _ in 0..20_000 {
                // SIGWINCH: the leader (sleep) ignores it.
                if let Err(e) = tree.signal_leader(libc::SIGWINCH) {
                    let io = std::error::Error::source(&e)
                        .and_then(|s| s.downcast_ref::<std::io::Error>())
                        .map(std::io::Error::kind);
                    assert_eq!(io, Some(std::io::ErrorKind::WouldBlock), "{e:?}");
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
            tx.send(()).unwrap();
            tree.teardown(Duration::ZERO).await.map(drop)
        })
    });
    let blocked = rx.recv_timeout(Duration::from_secs(10)).is_err();
    // Continue the shim: it drains the pipe and the teardown (if it got there).
    sig(shim, rustix::process::Signal::CONT);
    let res = worker.join().unwrap();
    assert!(!blocked, "signal_leader blocked the runtime thread");
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "the pipe never filled: the test did not test"
    );
    res.expect("the teardown after the shim continued");
}
