//! Reaping in the shim: every exited child, own or adopted, woken by a `SIGCHLD`
//! signalfd (no sleeps, no polling loops).
//!
//! `waitpid(-1)` is fine here and only here: the shim is a process of its own
//! whose children are all part of the tree.
//!
//! The waits and `/proc` reads go through a [`Kernel`] (the real one by default),
//! so that the rules are unit-tested against a fake (`reaper_tests.rs`).

use std::io;
use std::marker::PhantomData;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use super::kernel::{Kernel, Live};
pub(crate) use super::kernel::{own_children, own_ns_level};
use crate::sys::wait::{RawStatus, WaitFlags};

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

/// Whether and how a [`Reaper`] translates `/proc`'s PIDs to its own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NsLevel {
    /// `/proc` shows this process's PIDs.
    Host,
    /// In a PID namespace below `/proc`'s, at a depth not read yet.
    Unread,
    /// In a PID namespace, this deep below `/proc`'s.
    At(usize),
}

/// Reaps the shim's children and remembers the leader's status. `K` is the
/// kernel it works through: the real one, or a fake in the unit tests.
pub(crate) struct Reaper<'a, K: Kernel = Live<'a>> {
    kernel: K,
    leader: i32,
    /// The leader's status once it has exited (observed or reaped).
    pub leader_status: Option<RawStatus>,
    /// Whether the leader has been reaped.
    pub leader_reaped: bool,
    /// Children reaped so far (the leader included).
    pub reaped: u64,
    /// In a PID namespace's init, `/proc` (the host's) shows host PIDs, while
    /// `waitpid` takes the namespace's: translate through `NSpid`, whose field at
    /// the init's own depth below the host's `/proc` is a process's PID in the
    /// init's namespace.
    ns_level: NsLevel,
    /// The real kernel borrows the signalfd for `'a`.
    _sigfd: PhantomData<BorrowedFd<'a>>,
}

impl<'a> Reaper<'a> {
    /// A reaper of the real kernel's children, woken by the `SIGCHLD` signalfd
    /// `sigfd`.
    pub(crate) fn new(sigfd: BorrowedFd<'a>, leader: i32) -> Reaper<'a> {
        Reaper::on(Live::new(sigfd), leader)
    }
}

impl<K: Kernel> Reaper<'_, K> {
    /// A reaper working through `kernel`.
    pub(crate) fn on(kernel: K, leader: i32) -> Self {
        Reaper {
            kernel,
            leader,
            leader_status: None,
            leader_reaped: false,
            reaped: 0,
            ns_level: NsLevel::Host,
            _sigfd: PhantomData,
        }
    }

    /// The kernel it works through (the walker shares it).
    pub(crate) fn kernel(&mut self) -> &mut K {
        &mut self.kernel
    }

    /// For the init of a PID namespace whose `/proc` is the host's: `level` is the
    /// index of the init's own PID (1) in its `NSpid` line ([`own_ns_level`]).
    #[cfg(test)]
    pub(crate) fn in_pid_namespace(mut self, level: usize) -> Self {
        self.ns_level = NsLevel::At(level);
        self
    }

    /// For the init of a PID namespace whose `/proc` is the host's, at a level
    /// read from `/proc/self/status` ([`own_ns_level`]) when a PID first needs
    /// translating: a tree whose leader exits alone never does, and the read
    /// costs a `teardown run` ~2 % of its time.
    pub(crate) fn in_own_pid_namespace(mut self) -> Self {
        self.ns_level = NsLevel::Unread;
        self
    }

    /// The `NSpid` index to translate at, if any (read now if not yet).
    fn ns_level(&mut self) -> io::Result<Option<usize>> {
        if self.ns_level == NsLevel::Unread {
            self.ns_level = NsLevel::At(own_ns_level()?);
        }
        Ok(match self.ns_level {
            NsLevel::At(level) => Some(level),
            NsLevel::Host | NsLevel::Unread => None,
        })
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
            match self.kernel.wait_any(flags) {
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
                        if self.kernel.reap(pid)?.is_some() {
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
            let children = self.kernel.own_children()?;
            // The leader is an unreaped zombie here, so it is listed: a list of
            // one is the leader alone, whatever PID this `/proc` shows it with
            // (no `status` read to translate it).
            if children.len() == 1 {
                return Ok(Left::LeaderZombie);
            }
            let level = self.ns_level()?;
            for pid in children {
                let pid = match level {
                    Some(level) => match self.kernel.namespace_pid(pid, level) {
                        Some(p) => p,
                        // Unreadable: it is still listed, so it is still ours,
                        // and running as far as we can tell. Not read again in
                        // this loop: what made it unreadable may last, and the
                        // loop would spin (it did, on a leader whose name was
                        // not UTF-8, before `/proc` was read as bytes).
                        None => {
                            running = true;
                            continue;
                        }
                    },
                    None => pid,
                };
                if pid == self.leader {
                    continue;
                }
                others = true;
                match self.kernel.reap(pid) {
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
            self.kernel.clear_sigchld();
            let left = self.reap_ready(keep_leader)?;
            if left != Left::Running {
                return Ok(left);
            }
            let timeout = until.map(|u| u.saturating_duration_since(self.kernel.now()));
            if timeout == Some(Duration::ZERO) {
                return Ok(left);
            }
            self.kernel.wait_sigchld(timeout)?;
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
        let mut last = self.kernel.now();
        loop {
            self.kernel.clear_sigchld();
            let before = self.reaped;
            let left = self.reap_ready(false)?;
            if left != Left::Running {
                return Ok(left);
            }
            let now = self.kernel.now();
            if self.reaped != before {
                last = now;
            }
            let end = until.map_or(last + quiet, |u| u.min(last + quiet));
            if now >= end {
                return Ok(left);
            }
            self.kernel.wait_sigchld(Some(end - now))?;
        }
    }
}

#[cfg(test)]
#[path = "reaper_tests.rs"]
mod tests;
