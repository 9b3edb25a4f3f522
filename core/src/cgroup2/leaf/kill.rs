//! Killing a leaf's subtree and waiting for it to empty.
//!
//! # The kill does not stop at `cgroup.kill`
//!
//! `cgroup.kill` (Linux 5.14+) SIGKILLs every process of the subtree, atomically
//! with respect to forks. But it signals each process through its thread-group
//! leader *thread*: when that thread has already exited (`pthread_exit` from
//! `main`) while another thread lives, the signal is queued on the dead thread and
//! never becomes a group kill, the process lives on and `populated` never drops
//! to 0 (seen on Linux 6.18; writing `cgroup.kill` again does not help). A
//! TGID-wide kill (`pidfd_send_signal`, like `kill(2)`) kills it at once. So
//! [`Leaf::kill_all`] writes `cgroup.kill`, then waits for the subtree to empty,
//! and whenever a member has not exited for a while (a stall: [`FIRST_STALL`],
//! doubling) it SIGKILLs every member still there by pidfd, membership re-checked,
//! and waits again, until `populated 0` or the deadline. systemd's `cgroup.kill`
//! path has the same hole; the `cgroup-kill` method keeps it, as a negative
//! control.
//!
//! # The host is never in the set it kills
//!
//! A tree with write access to the leaf's `cgroup.procs` (root) can move any
//! process it can name into it — its parent, which is the host for the in-process
//! methods — and `cgroup.kill` would then SIGKILL the host. Before the kill the
//! host reads its own cgroup, and if it is inside the subtree it moves itself back
//! to where it was ([`Leaf::kill_all`]); the sweep never signals the host. A tree
//! that moves the host in again in the microseconds between that check and the
//! `cgroup.kill` write still wins; only a PID namespace (the `pidns` method, which
//! `auto` prefers) makes the host unnameable.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::fs::OFlags;

use super::{Leaf, open_in};
use crate::pidfd::PidFd;
use crate::waiter::{Blocking, Ready, Waiter, block, wait_for};

/// After `cgroup.kill`, a member that has not exited after this long is a stall:
/// every member left gets a TGID-wide SIGKILL. Doubles at each stall, up to
/// [`MAX_STALL`]. A SIGKILLed process normally exits in microseconds; only speed
/// on the rare stall depends on it.
const FIRST_STALL: Duration = Duration::from_millis(20);
/// The longest wait between two sweeps.
const MAX_STALL: Duration = Duration::from_millis(500);

impl Leaf {
    /// Waits (until `end`; `None`: forever) until every member any read of the
    /// subtree found has exited. True if they all did.
    ///
    /// # The race this handles
    ///
    /// `populated 0` is not "every member has exited": a task leaves its cgroup
    /// early in `do_exit` (`cgroup_exit`), before `exit_notify`. For most that gap
    /// is microseconds, but the init of a PID namespace made in the tree spends it
    /// in `zap_pid_ns_processes`, waiting for its namespace to die: the leaf is
    /// empty while it is still dying, and a teardown that returned then returned
    /// early (seen with `nested-pid-namespace` × `cgroup` under load, 1 run in 3).
    /// A pidfd becomes readable in `exit_notify`, after that wait. A PID that now
    /// names nobody was reaped; one that names a process outside the subtree was
    /// reused by a stranger (a process that died still shows its cgroup): neither
    /// is waited for.
    pub(crate) async fn wait_exited_on(
        &self,
        end: Option<Instant>,
        w: &dyn Waiter,
    ) -> io::Result<bool> {
        let seen = std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()));
        let mut left_over = seen.into_iter();
        while let Some(pid) = left_over.next() {
            let Ok(fd) = PidFd::open(pid) else { continue };
            if !self.contains(pid, fd.as_fd()) {
                continue;
            }
            let left = end.map(|e| e.saturating_duration_since(Instant::now()));
            if !fd.wait_exited_on(left, w).await? {
                // Looked at again by the next call (a teardown resumed after a
                // deadline or a cancellation).
                self.seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(std::iter::once(pid).chain(left_over));
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Signals one member by pidfd (the whole process: TGID-wide), after
    /// re-checking, with the pidfd open, that it is still in the subtree and has
    /// not exited. Never this process. `Ok(false)` if it left or exited.
    pub(crate) fn signal_member(&self, pid: i32, sigs: &[i32]) -> io::Result<bool> {
        if pid == std::process::id() as i32 {
            return Ok(false);
        }
        let fd = match PidFd::open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
            Err(e) => return Err(e),
        };
        if !self.contains(pid, fd.as_fd()) {
            return Ok(false);
        }
        // The pidfd pins the identity: if the process has not exited, the /proc
        // read above described it and not a successor with the same number.
        if fd.has_exited()? {
            return Ok(false);
        }
        for &s in sigs {
            match fd.signal(s) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Sends `sigs` to every member of the subtree, reading the members again and
    /// signalling the new ones (forked meanwhile) until a read finds none, or
    /// `until`. Returns how many processes were signalled.
    pub(crate) fn signal_all(&self, sigs: &[i32], until: Instant) -> io::Result<u64> {
        let mut seen = HashSet::new();
        let mut signalled = 0;
        let mut batch = self.members()?;
        while !batch.is_empty() && Instant::now() < until {
            for &pid in &batch {
                seen.insert(pid);
                signalled += u64::from(self.signal_member(pid, sigs)?);
            }
            batch = self.members()?;
            batch.retain(|p| !seen.contains(p));
        }
        Ok(signalled)
    }

    /// `echo 1 > cgroup.kill`—SIGKILLs every process in the subtree, atomically
    /// with respect to forks (but see the module docs).
    pub(crate) fn kill(&self) -> io::Result<()> {
        open_in(self.fd.as_fd(), "cgroup.kill", OFlags::WRONLY)?.write_all(b"1")
    }

    /// If a tree moved this process into the subtree, moves it back home (see the
    /// module docs). Fails if it cannot get out: killing would kill the host.
    /// [`Leaf::kill_all`] calls it; a teardown calls it first too, so that a
    /// graceful wait is not a wait for the host itself.
    pub(crate) fn evict_self(&self) -> io::Result<()> {
        if !self.holds_self() {
            return Ok(());
        }
        let home = self.home.as_ref().ok_or_else(|| {
            io::Error::other("this process was moved into the tree's cgroup and has no home")
        })?;
        std::fs::write(home.join("cgroup.procs"), "0")
    }

    /// Kills the subtree and waits (up to `timeout`; `None`: forever) until it is
    /// empty: moves this process out if the tree moved it in, writes
    /// `cgroup.kill`, and with `sweep` SIGKILLs what is left by pidfd at every
    /// stall (see the module docs). True if it emptied.
    pub(crate) fn kill_all(&mut self, timeout: Option<Duration>, sweep: bool) -> io::Result<bool> {
        block(self.kill_all_on(timeout, sweep, &Blocking))
    }

    /// [`Leaf::kill_all`], waiting through `w`.
    pub(crate) async fn kill_all_on(
        &mut self,
        timeout: Option<Duration>,
        sweep: bool,
        w: &dyn Waiter,
    ) -> io::Result<bool> {
        let end = timeout.map(|t| Instant::now() + t);
        self.evict_self()?;
        self.kill()?;
        let mut stall = FIRST_STALL;
        loop {
            let left = end.map(|e| e.saturating_duration_since(Instant::now()));
            match self.wait(left, sweep.then_some(stall), w).await? {
                Emptied::Empty => return Ok(true),
                Emptied::TimedOut => return Ok(false),
                Emptied::Stalled => {
                    self.sweep()?;
                    stall = (stall * 2).min(MAX_STALL);
                }
            }
        }
    }

    /// SIGKILLs every member left, TGID-wide, by pidfd. Returns how many.
    fn sweep(&self) -> io::Result<u64> {
        let mut n = 0;
        for pid in self.members()? {
            n += u64::from(self.signal_member(pid, &[libc::SIGKILL])?);
        }
        Ok(n)
    }

    /// Waits (up to `timeout`; `None`: forever) for `populated 0`. True if it
    /// came.
    pub(crate) async fn wait_empty_on(
        &mut self,
        timeout: Option<Duration>,
        w: &dyn Waiter,
    ) -> io::Result<bool> {
        Ok(self.wait(timeout, None, w).await? == Emptied::Empty)
    }

    /// Waits for `populated 0`, up to `timeout`, and (with `stall`) no longer than
    /// that for any one member to exit.
    ///
    /// # The race this handles
    ///
    /// The kernel rate-limits `cgroup.events` notifications to one per 10 ms per
    /// file (`CGROUP_FILE_NOTIFY_MIN_INTV`, `kernel/cgroup/cgroup.c`) and sends them
    /// from a workqueue: a leaf that empties within ~20 ms of its last change (a
    /// tree killed soon after it started) is announced up to ~20 ms late —
    /// measured here, a `sleep` killed 1–20 ms after its spawn took 8–19 ms to
    /// drain, one killed after 100 ms took 0.3 ms. A member's pidfd becomes
    /// readable the moment it has exited, which is after it left the cgroup. So
    /// this waits for each member's pidfd in turn, with `cgroup.events` in the
    /// same `poll`, and then reads `populated` again; only if something it did not
    /// see is still there (forked while the members were read) does it wait for
    /// the notification alone. The pidfds are only a reason to look again early:
    /// the answer is always `cgroup.events`, so a missed member or a PID recycled
    /// by a stranger costs time, never correctness.
    async fn wait(
        &mut self,
        timeout: Option<Duration>,
        stall: Option<Duration>,
        w: &dyn Waiter,
    ) -> io::Result<Emptied> {
        let end = timeout.map(|t| Instant::now() + t);
        // The end of this wait: the deadline, or the stall limit from `since`.
        let bound = |since: Instant| -> (Option<Duration>, bool) {
            let now = Instant::now();
            let left = end.map(|e| e.saturating_duration_since(now));
            match stall.map(|s| (since + s).saturating_duration_since(now)) {
                Some(s) if left.is_none_or(|l| s < l) => (Some(s), true),
                _ => (left, false),
            }
        };
        let events = self.events()?;
        let over = |stalled: bool| -> io::Result<Emptied> {
            Ok(if !populated(events)? {
                Emptied::Empty
            } else if stalled {
                Emptied::Stalled
            } else {
                Emptied::TimedOut
            })
        };
        for pid in self.members()? {
            // Gone already (ESRCH), or no pidfds: the notification still comes.
            let Ok(member) = PidFd::open(pid) else {
                continue;
            };
            let since = Instant::now();
            loop {
                let (limit, is_stall) = bound(since);
                let fds = [
                    (member.as_fd(), Ready::Read),
                    (events.as_fd(), Ready::Priority),
                ];
                let ready = wait_for(w, &fds, limit).await?;
                let (exited, changed) = (ready & 1 != 0, ready & 2 != 0);
                // 0 is the timer, or a spurious return: timed out only once past it.
                let timed_out = ready == 0 && bound(since).0.is_some_and(|l| l.is_zero());
                if timed_out {
                    return over(is_stall);
                }
                if changed && !populated(events)? {
                    return Ok(Emptied::Empty);
                }
                if exited {
                    break;
                }
            }
        }
        let since = Instant::now();
        loop {
            if !populated(events)? {
                return Ok(Emptied::Empty);
            }
            let (limit, is_stall) = bound(since);
            if limit == Some(Duration::ZERO) {
                return over(is_stall);
            }
            let fds = [(events.as_fd(), Ready::Priority)];
            if wait_for(w, &fds, limit).await? == 0 && bound(since).0.is_some_and(|l| l.is_zero()) {
                return over(is_stall);
            }
        }
    }
}

/// How a wait for the subtree to empty ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Emptied {
    /// `populated 0`.
    Empty,
    /// The timeout passed.
    TimedOut,
    /// A member did not exit within the stall limit.
    Stalled,
}

fn populated(mut events: &File) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    events.seek(SeekFrom::Start(0))?;
    let n = events.read(&mut buf)?;
    let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
    Ok(!text.lines().any(|l| l.trim() == "populated 0"))
}
