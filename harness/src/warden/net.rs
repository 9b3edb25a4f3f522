//! The safety net: after the oracle, kill every process the warden is ancestor of,
//! and reap them all.
//!
//! With a cgroup, `cgroup.kill` reaches everything at once (the warden itself moved
//! out). Without one, rounds of: reap, list descendants from the `children` files,
//! SIGKILL each through an identity-checked pidfd, poll the pidfds. Every process
//! killed here is a descendant of the warden: nothing else is ever signalled. In a
//! PID namespace the kernel kills whatever is left when the warden exits anyway.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};

use super::cgroup::Cgroup;
use crate::oracle::ProcSource;

/// Kills and reaps every descendant of `me`. `Err` if some were left at the deadline.
pub fn sweep(
    me: i32,
    src: &dyn ProcSource,
    cgroup: Option<&Cgroup>,
    deadline: Duration,
) -> Result<(), String> {
    let end = Instant::now() + deadline;
    if let Some(cg) = cgroup {
        let _ = cg.kill_all();
    }
    loop {
        reap_all();
        let left = descendants(me, src);
        if left.is_empty() && no_children() {
            return Ok(());
        }
        let remaining = end.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(format!(
                "safety net: {} process(es) left after {deadline:?}",
                left.len()
            ));
        }
        let fds: Vec<OwnedFd> = left
            .iter()
            .filter_map(|&(pid, start)| kill_checked(pid, start, src))
            .collect();
        if fds.is_empty() {
            // Only unreaped zombies of other processes (being reparented): a short wait
            // for the next SIGCHLD-worthy event is a blocking wait for any child.
            block_for_child(remaining);
            continue;
        }
        let t = Timespec::try_from(remaining).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut polls: Vec<PollFd<'_>> = fds
            .iter()
            .map(|fd| PollFd::new(fd, PollFlags::IN))
            .collect();
        let _ = rustix::event::poll(&mut polls, Some(&t));
    }
}

/// Every descendant of `me` with its start time, from the `children` files.
fn descendants(me: i32, src: &dyn ProcSource) -> Vec<(i32, u64)> {
    let mut out = Vec::new();
    let mut queue = src.children(me);
    while let Some(pid) = queue.pop() {
        if let Some(s) = src.glance(pid, &|_| true) {
            out.push((pid, s.start_time));
            queue.extend(src.children(pid));
        }
    }
    out
}

/// SIGKILLs `pid` if it is still the process that started at `start`; returns its
/// pidfd to wait on.
fn kill_checked(pid: i32, start: u64, src: &dyn ProcSource) -> Option<OwnedFd> {
    let fd = rustix::process::pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    // Only the identity: SIGKILL to a process that is already dead does nothing
    // (and its main thread's state does not say whether it is: `main-exit`).
    let s = src.glance(pid, &|_| true)?;
    if s.start_time != start {
        return None;
    }
    let _ = rustix::process::pidfd_send_signal(&fd, Signal::KILL);
    Some(fd)
}

/// Reaps every child that has exited, without blocking.
pub fn reap_all() {
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            _ => return,
        }
    }
}

fn no_children() -> bool {
    matches!(
        rustix::process::waitid(
            rustix::process::WaitId::All,
            rustix::process::WaitIdOptions::EXITED
                | rustix::process::WaitIdOptions::NOHANG
                | rustix::process::WaitIdOptions::NOWAIT
        ),
        Err(rustix::io::Errno::CHILD)
    )
}

/// Blocks until some child exits, at most `max` (a pidfd of our first child to poll).
fn block_for_child(max: Duration) {
    let kid = rustix::process::waitid(
        rustix::process::WaitId::All,
        rustix::process::WaitIdOptions::EXITED
            | rustix::process::WaitIdOptions::NOHANG
            | rustix::process::WaitIdOptions::NOWAIT,
    );
    if let Ok(Some(_)) = kid {
        return; // one is ready to reap now
    }
    let t = Timespec::try_from(max.min(Duration::from_millis(100))).unwrap_or(Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    });
    let _ = rustix::event::poll(&mut [], Some(&t));
}
