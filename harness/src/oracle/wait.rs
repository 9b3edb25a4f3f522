//! Waiting for processes to die, by event: one pidfd per process, `poll(2)` until
//! every one is readable (the whole thread group has exited) or the time is up. No
//! sleep loops.
//!
//! A pidfd is opened by PID, so each is checked against the process's start time
//! right after it is opened: if the PID already belongs to someone else, the
//! process we meant is dead.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags};

use super::{Identity, ProcSource};

/// Waits up to `grace` for every process in `who` to die. Returns those still
/// alive when it gives up (empty when all died).
pub fn wait_all_dead(src: &dyn ProcSource, who: &[Identity], grace: Duration) -> Vec<Identity> {
    let deadline = Instant::now() + grace;
    let mut watched: Vec<(Identity, OwnedFd)> = Vec::new();
    for &id in who {
        let Some(pid) = Pid::from_raw(id.pid) else {
            continue;
        };
        let Ok(fd) = rustix::process::pidfd_open(pid, PidfdFlags::empty()) else {
            continue;
        };
        if src
            .stat(id.pid)
            .is_some_and(|s| s.start_time == id.start_time && s.alive)
        {
            watched.push((id, fd));
        }
    }
    while !watched.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds: Vec<PollFd<'_>> = watched
            .iter()
            .map(|(_, fd)| PollFd::new(fd, PollFlags::IN))
            .collect();
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => break,
            Ok(_) => {
                let done: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
                drop(fds);
                let mut i = 0;
                watched.retain(|_| {
                    let keep = !done[i];
                    i += 1;
                    keep
                });
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    watched.into_iter().map(|(id, _)| id).collect()
}
