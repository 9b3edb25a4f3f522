//! Reaping in the shim: every exited child, own or adopted, woken by a `SIGCHLD`
//! signalfd (no sleeps, no polling loops).
//!
//! `waitpid(-1)` is fine here and only here: the shim is a process of its own
//! whose children are all part of the tree.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::sys::fd::{PollFd, poll};
use crate::sys::signal::drain_signalfd;
use crate::sys::wait::{RawStatus, WaitFlags, Who, wait_exit};

/// What is left after reaping everything that had exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Left {
    /// No children at all (`ECHILD`): drained.
    Nothing,
    /// Only the leader, exited but kept as a zombie (its PGID stays reserved).
    LeaderZombie,
    /// Children still running.
    Running,
}

/// Reaps the shim's children and remembers the leader's status.
pub(crate) struct Reaper<'a> {
    sigfd: BorrowedFd<'a>,
    leader: i32,
    /// The leader's status once it has exited (observed or reaped).
    pub leader_status: Option<RawStatus>,
    /// Whether the leader has been reaped.
    pub leader_reaped: bool,
    /// Children reaped so far (the leader included).
    pub reaped: u64,
    /// In a PID namespace's init, `/proc` (the host's) shows host PIDs, while
    /// `waitpid` takes the namespace's: translate through `NSpid`.
    ns_pids: bool,
}

impl<'a> Reaper<'a> {
    pub(crate) fn new(sigfd: BorrowedFd<'a>, leader: i32) -> Reaper<'a> {
        Reaper {
            sigfd,
            leader,
            leader_status: None,
            leader_reaped: false,
            reaped: 0,
            ns_pids: false,
        }
    }

    /// For the init of a PID namespace whose `/proc` is the host's.
    pub(crate) fn in_pid_namespace(mut self) -> Self {
        self.ns_pids = true;
        self
    }

    pub(crate) fn leader(&self) -> i32 {
        self.leader
    }

    /// Reaps every child that has exited, without blocking. With `keep_leader`, the
    /// leader is observed but left a zombie.
    pub(crate) fn reap_ready(&mut self, keep_leader: bool) -> io::Result<Left> {
        loop {
            let flags = if keep_leader && !self.leader_reaped {
                WaitFlags::PEEK_NOHANG
            } else {
                WaitFlags::REAP_NOHANG
            };
            match wait_exit(Who::Any, flags) {
                Ok(None) => return Ok(Left::Running),
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(Left::Nothing),
                Err(e) => return Err(e),
                Ok(Some((pid, status))) => {
                    if pid == self.leader {
                        self.leader_status = Some(status);
                        if flags.keep {
                            return self.reap_others_by_list();
                        }
                        self.leader_reaped = true;
                        self.reaped += 1;
                    } else if flags.keep {
                        // Peeked at someone else: reap exactly that one.
                        if wait_exit(Who::Pid(pid), WaitFlags::REAP_NOHANG)?.is_some() {
                            self.reaped += 1;
                        }
                    } else {
                        self.reaped += 1;
                    }
                }
            }
        }
    }

    /// The leader is a zombie we keep, and `waitid(P_ALL, WNOWAIT)` will keep
    /// returning it: reap the others one by one from our children list.
    fn reap_others_by_list(&mut self) -> io::Result<Left> {
        let mut others_running = false;
        for pid in own_children()? {
            let pid = if self.ns_pids {
                match namespace_pid(pid) {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                pid
            };
            if pid == self.leader {
                continue;
            }
            match wait_exit(Who::Pid(pid), WaitFlags::REAP_NOHANG) {
                Ok(Some(_)) => self.reaped += 1,
                Ok(None) => others_running = true,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(if others_running {
            Left::Running
        } else {
            Left::LeaderZombie
        })
    }

    /// Reaps until nothing is left (or, with `keep_leader`, only the leader's
    /// zombie), or until `until` passes. Returns what is left.
    pub(crate) fn reap_until(
        &mut self,
        keep_leader: bool,
        until: Option<Instant>,
    ) -> io::Result<Left> {
        loop {
            drain_signalfd(self.sigfd);
            let left = self.reap_ready(keep_leader)?;
            if left != Left::Running {
                return Ok(left);
            }
            let timeout = until.map(|u| u.saturating_duration_since(Instant::now()));
            if timeout == Some(Duration::ZERO) {
                return Ok(left);
            }
            let mut fds = [PollFd::new(self.sigfd.as_fd(), libc::POLLIN)];
            poll(&mut fds, timeout)?;
        }
    }

    /// Reaps (leader included) for as long as exits keep coming: returns once
    /// nothing exited for `quiet` since the last exit (or since the call), once
    /// nothing is left, or at `until`. Returns what is left.
    pub(crate) fn reap_while_exiting(
        &mut self,
        quiet: Duration,
        until: Option<Instant>,
    ) -> io::Result<Left> {
        let mut last = Instant::now();
        loop {
            drain_signalfd(self.sigfd);
            let before = self.reaped;
            let left = self.reap_ready(false)?;
            if left != Left::Running {
                return Ok(left);
            }
            let now = Instant::now();
            if self.reaped != before {
                last = now;
            }
            let end = until.map_or(last + quiet, |u| u.min(last + quiet));
            if now >= end {
                return Ok(left);
            }
            let mut fds = [PollFd::new(self.sigfd.as_fd(), libc::POLLIN)];
            poll(&mut fds, Some(end - now))?;
        }
    }
}

/// The PIDs of this process's children (every thread's list).
pub(crate) fn own_children() -> io::Result<Vec<i32>> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task")? {
        let t = t?;
        let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_ascii_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    Ok(out)
}

/// The PID of host process `pid` in its own (innermost) PID namespace: the last
/// field of `NSpid:` in `/proc/<pid>/status`.
fn namespace_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_ascii_whitespace().last()?.parse().ok()
}
