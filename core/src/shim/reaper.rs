//! Reaping in the shim: every exited child, own or adopted, woken by a `SIGCHLD`
//! signalfd (no sleeps, no polling loops).
//!
//! `waitpid(-1)` is fine here and only here: the shim is a process of its own
//! whose children are all part of the tree.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use crate::fds::{PollFd, PollFlags, poll};
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
    /// `waitpid` takes the namespace's: translate through `NSpid`, whose field at
    /// this index is a process's PID in the init's namespace (the init's own
    /// depth below the host's `/proc`).
    ns_level: Option<usize>,
}

impl<'a> Reaper<'a> {
    pub(crate) fn new(sigfd: BorrowedFd<'a>, leader: i32) -> Reaper<'a> {
        Reaper {
            sigfd,
            leader,
            leader_status: None,
            leader_reaped: false,
            reaped: 0,
            ns_level: None,
        }
    }

    /// For the init of a PID namespace whose `/proc` is the host's: `level` is the
    /// index of the init's own PID (1) in its `NSpid` line ([`own_ns_level`]).
    pub(crate) fn in_pid_namespace(mut self, level: usize) -> Self {
        self.ns_level = Some(level);
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
    ///
    /// # The race this handles
    ///
    /// One read of the list is not a snapshot of the tree: a child read as running
    /// may fork and exit before we look at it again, handing its own child to us
    /// after the list was read. Reaping it and concluding from that read that only
    /// the leader is left would call a live tree empty (a tree of fork-hoppers
    /// did, under `pidns`, cutting the grace short). A process hands its children
    /// to us before it becomes a zombie, so after reaping everything a read showed
    /// exited, the list is read again, until a read shows a running child (running)
    /// or nothing but the leader (empty).
    fn reap_others_by_list(&mut self) -> io::Result<Left> {
        loop {
            let mut others = false;
            let mut running = false;
            for pid in own_children()? {
                let pid = match self.ns_level {
                    Some(level) => match namespace_pid(pid, level) {
                        Some(p) => p,
                        // Unreadable: it is still listed, so it is still ours.
                        None => {
                            others = true;
                            continue;
                        }
                    },
                    None => pid,
                };
                if pid == self.leader {
                    continue;
                }
                others = true;
                match wait_exit(Who::Pid(pid), WaitFlags::REAP_NOHANG) {
                    Ok(Some(_)) => self.reaped += 1,
                    Ok(None) => running = true,
                    Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
                    Err(e) => return Err(e),
                }
            }
            if running {
                return Ok(Left::Running);
            }
            if !others {
                return Ok(Left::LeaderZombie);
            }
        }
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
            let mut fds = [PollFd::from_borrowed_fd(self.sigfd, PollFlags::IN)];
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
            let mut fds = [PollFd::from_borrowed_fd(self.sigfd, PollFlags::IN)];
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

/// The PID of host process `pid` in the PID namespace `level` levels below the
/// host's `/proc`: field `level` of `NSpid:` in `/proc/<pid>/status`. Not the
/// last field: a child of the init that is itself the init of a nested namespace
/// shows `<host pid> <pid here> 1`, and 1 is the init's own PID.
fn namespace_pid(pid: i32, level: usize) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    nspid_at(&status, level)
}

fn nspid_at(status: &str, level: usize) -> Option<i32> {
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_ascii_whitespace().nth(level)?.parse().ok()
}

/// The index of this process's PID in its own `NSpid:` line: how many PID
/// namespaces it is below the one `/proc` shows (the init of a namespace made by
/// a host process: 1).
pub(crate) fn own_ns_level() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .ok_or_else(|| io::Error::other("no NSpid line in /proc/self/status"))?;
    Ok(line.split_ascii_whitespace().count().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_init_is_found_at_the_init_s_level_not_by_its_last_pid() {
        let status = "Name:\tx\nNSpid:\t4242\t7\t1\n";
        assert_eq!(nspid_at(status, 1), Some(7));
        assert_eq!(nspid_at(status, 0), Some(4242));
        assert_eq!(nspid_at(status, 3), None);
        assert_eq!(nspid_at("Name:\tx\n", 1), None);
    }
}
