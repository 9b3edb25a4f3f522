//! Where the oracle reads processes from: the [`ProcSource`] trait, the real
//! `/proc` ([`LiveProc`]); the in-memory fake for unit tests is
//! [`FakeProc`](super::FakeProc).

use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::AtFlags;

use super::procread::{self, RelPath};

/// A process's identity: its PID and start time (clock ticks since boot). A PID
/// alone is not an identity: PIDs are reused.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Identity {
    /// PID, in the source's PID namespace.
    pub pid: i32,
    /// Start time, clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
}

/// What the oracle needs to know about one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// PID.
    pub pid: i32,
    /// Parent PID (0 for a namespace's init).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// Start time, clock ticks since boot.
    pub start_time: u64,
    /// The main thread's state letter (`R`, `S`, `T`, `Z`, ...).
    pub state: char,
    /// True while any thread of the process lives: a zombie main thread with a live
    /// thread is alive (it cannot be reaped, and it runs).
    pub alive: bool,
    /// Alive but committed to exit: SIGKILL is pending, or a signal whose default
    /// action is to terminate is pending, not blocked, ignored or caught, and the
    /// thread is not stopped (it dies as soon as it next runs), or every live thread
    /// is past the point of no return in `do_exit` (`PF_EXITING`). It will never
    /// run its own code again, nor fork; only the kernel's exit work is left.
    pub dying: bool,
    /// The command name.
    pub comm: String,
}

impl ProcStat {
    /// The process's identity.
    pub fn identity(&self) -> Identity {
        Identity {
            pid: self.pid,
            start_time: self.start_time,
        }
    }

    /// Dead (every thread exited) but not yet reaped by its parent.
    pub fn is_zombie(&self) -> bool {
        !self.alive
    }

    /// A one-line description for people.
    pub fn note(&self) -> String {
        format!(
            "ppid {} pgid {} sid {} state {} {}",
            self.ppid, self.pgid, self.sid, self.state, self.comm
        )
    }
}

/// A view of the process table.
pub trait ProcSource {
    /// Every PID that exists now.
    fn pids(&self) -> Vec<i32>;
    /// One process, `None` if there is no such PID.
    fn stat(&self, pid: i32) -> Option<ProcStat>;
    /// One process, looked at only as closely as `enough` needs: `enough` sees a
    /// first look from the main thread's stat alone (`alive` from its state,
    /// `dying` false: neither is exact), and if it says that is enough, that
    /// look is the answer; otherwise the answer is [`ProcSource::stat`]'s. For a
    /// caller that needs only a process's identity and parent (a process it has
    /// already judged, or the warden's own): `/proc/<pid>/status` is the costly
    /// read, and [`ProcSource::stat`] reads it twice for a live process (its
    /// look is confirmed by a second one).
    fn glance(&self, pid: i32, enough: &dyn Fn(&ProcStat) -> bool) -> Option<ProcStat> {
        let _ = enough;
        self.stat(pid)
    }
    /// The children of `pid`, from every thread's `children` file.
    fn children(&self, pid: i32) -> Vec<i32>;
    /// The PIDs of `pid` in each nested PID namespace, outermost first (`NSpid`).
    fn nspid(&self, pid: i32) -> Option<Vec<i32>>;
    /// The inode of the PID namespace this source's PIDs are in, if known (see
    /// [`crate::trial::NodeRecord::pidns`]).
    fn own_pidns(&self) -> Option<u64>;
    /// The inode of the PID namespace process `pid` lives in (its
    /// `/proc/<pid>/ns/pid`), if known.
    fn pidns_of(&self, _pid: i32) -> Option<u64> {
        None
    }
    /// The command line of process `pid` (`/proc/<pid>/cmdline`: empty for a
    /// zombie), if known.
    fn cmdline(&self, _pid: i32) -> Option<Vec<String>> {
        None
    }
}

/// The real `/proc` (or another procfs mount, or a directory laid out like one),
/// read through [`procread`]: every path relative to the root's directory fd,
/// opened once when the source is made (a procfs mounted on the path later is not
/// seen: the warden mounts its private `/proc` before it makes its source).
#[derive(Clone, Debug)]
pub struct LiveProc {
    /// The root's path (for people: [`LiveProc::root`]).
    root: PathBuf,
    /// The root, open; `None` if it could not be opened (then nothing exists).
    dir: Option<Arc<OwnedFd>>,
}

impl Default for LiveProc {
    fn default() -> Self {
        LiveProc::at("/proc")
    }
}

impl LiveProc {
    /// A source reading the procfs (or look-alike directory) at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let dir = procread::open_root(&root).map(Arc::new);
        LiveProc { root, dir }
    }

    /// The root this source reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The root directory's fd.
    fn dir(&self) -> Option<BorrowedFd<'_>> {
        self.dir.as_deref().map(AsFd::as_fd)
    }
}

/// A process as its main thread's stat shows it: `alive` from the main
/// thread's state alone, `dying` false (see [`ProcSource::glance`]).
fn first_look(s: &procread::Stat, comm: Option<String>) -> ProcStat {
    ProcStat {
        pid: s.pid,
        ppid: s.ppid,
        pgid: s.pgrp,
        sid: s.session,
        start_time: s.starttime,
        state: s.state,
        alive: !is_dead_state(s.state),
        dying: false,
        comm: comm.unwrap_or_default(),
    }
}

fn is_dead_state(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// The answer for a process looked at twice when the first look found it alive
/// and not dying. A look reads the main thread's stat, then every thread's stat
/// and status: a process that becomes a zombie (or is reaped) in between — a
/// group member dying of the SIGTERM it has had pending since before done, say —
/// has no live thread left to show its pending signal, so that look calls it
/// alive and not dying, a straggler it never was. `again` looks once more: gone,
/// dead or dying now, that is the answer (it died, or was already dying, while we
/// looked); still alive and not dying, the first look stands.
pub(crate) fn settle(
    first: ProcStat,
    again: impl FnOnce() -> Option<ProcStat>,
) -> Option<ProcStat> {
    if !first.alive || first.dying {
        return Some(first);
    }
    match again() {
        None => None,
        Some(a) if a.start_time != first.start_time || !a.alive || a.dying => Some(a),
        Some(_) => Some(first),
    }
}

/// SIGKILL's bit in a `SigPnd`/`ShdPnd` mask.
pub(super) const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
/// The signals whose default action is not to terminate (ignore or stop); every
/// other signal, real-time ones included, terminates by default.
pub(super) const NOT_FATAL_BY_DEFAULT: u64 = {
    let mut mask = 0;
    let sigs = [
        libc::SIGCHLD,
        libc::SIGCONT,
        libc::SIGURG,
        libc::SIGWINCH,
        libc::SIGSTOP,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
    ];
    let mut i = 0;
    while i < sigs.len() {
        mask |= 1 << (sigs[i] - 1);
        i += 1;
    }
    mask
};
/// `PF_EXITING` in `/proc/<pid>/stat`'s flags: the task is in `do_exit`.
const PF_EXITING: u32 = 0x4;

/// Whether a live thread in `state` with these signal masks dies as soon as it
/// runs: SIGKILL pending, or a pending signal that terminates by default and is
/// not blocked, ignored or caught, the thread not stopped (see
/// [`ProcStat::dying`]).
fn killed_by_pending(m: &procread::Masks, state: char) -> bool {
    let pending = m.sigpnd | m.shdpnd;
    let stopped = matches!(state, 'T' | 't');
    let fatal = pending & !(m.sigblk | m.sigign | m.sigcgt) & !NOT_FATAL_BY_DEFAULT;
    pending & SIGKILL_BIT != 0 || (fatal != 0 && !stopped)
}

impl LiveProc {
    /// One look at `pid`: its main thread's stat; then, for a process whose only
    /// thread is its live main thread, its own status; otherwise every thread's
    /// stat and (for a live one) status.
    ///
    /// The fast path is exact: `num_threads` counts every thread not yet released
    /// (a zombie main thread stays counted until it is reaped, a new thread is
    /// counted as it is added to the group), so 1 with a live main thread means
    /// the main thread is the only one, and `/proc/<pid>/status` is then that
    /// thread's (`SigPnd` its own, `ShdPnd` the group's), as `/proc/<pid>/stat`'s
    /// flags are. A dead-looking main thread always has its threads walked: the
    /// process lives while any of them does, whatever `num_threads` says (0 when
    /// the kernel cannot tell).
    fn read(&self, pid: i32) -> Option<ProcStat> {
        let dir = self.dir()?;
        let (s, comm) = procread::read_stat(dir, &RelPath::pid(pid).join("stat"), true)?;
        Some(self.finish(dir, pid, &s, comm))
    }

    /// [`LiveProc::read`] after its first step: `s` and `comm` are `pid`'s
    /// main thread's stat.
    fn finish(
        &self,
        dir: BorrowedFd<'_>,
        pid: i32,
        s: &procread::Stat,
        comm: Option<String>,
    ) -> ProcStat {
        let here = RelPath::pid(pid);
        let main_alive = !is_dead_state(s.state);
        let (alive, dying) = if main_alive && s.num_threads == 1 {
            let status = here.join("status");
            let killed = procread::read_status(dir, &status, procread::parse_masks)
                .is_some_and(|m| killed_by_pending(&m, s.state));
            (true, killed || s.flags & PF_EXITING != 0)
        } else {
            self.walk(dir, pid, main_alive)
        };
        ProcStat {
            alive,
            dying,
            ..first_look(s, comm)
        }
    }

    /// `(alive, dying)` of `pid` from every thread (one listing of `task/`, each
    /// thread's stat once, status only for a live thread): alive if the main thread
    /// is (`main_alive`) or any thread is. Dying (see [`ProcStat::dying`]): a
    /// group kill queues SIGKILL in `ShdPnd` and on every thread's own `SigPnd`; a
    /// fatal signal the kernel turns into a group exit stays in `ShdPnd` itself
    /// (with SIGKILL on each thread). A thread that has dequeued its SIGKILL on the
    /// way to `do_exit` no longer shows it in `SigPnd`, but the shared signal is
    /// still there: that is why the pending fatal signal counts, not only SIGKILL.
    /// A lone `PF_EXITING` thread may be one thread ending (`pthread_exit`), so
    /// that counts only when every live thread has it. (A ptraced process could
    /// have a fatal signal suppressed by its tracer; tree processes are not
    /// traced.)
    fn walk(&self, dir: BorrowedFd<'_>, pid: i32, main_alive: bool) -> (bool, bool) {
        let task = RelPath::pid(pid).join("task");
        let mut live = 0;
        let mut exiting = 0;
        let mut killed = false;
        procread::for_each_numbered(dir, Some(&task), |tid| {
            let here = task.join_num(tid);
            let Some((stat, _)) = procread::read_stat(dir, &here.join("stat"), false) else {
                return ControlFlow::Continue(());
            };
            if is_dead_state(stat.state) {
                return ControlFlow::Continue(());
            }
            live += 1;
            if procread::read_status(dir, &here.join("status"), procread::parse_masks)
                .is_some_and(|m| killed_by_pending(&m, stat.state))
            {
                killed = true;
                return ControlFlow::Break(());
            }
            if stat.flags & PF_EXITING != 0 {
                exiting += 1;
            }
            ControlFlow::Continue(())
        });
        let alive = main_alive || live > 0;
        (alive, alive && (killed || (live > 0 && exiting == live)))
    }
}

impl ProcSource for LiveProc {
    fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        if let Some(dir) = self.dir() {
            procread::for_each_numbered(dir, None, |pid| {
                out.push(pid);
                ControlFlow::Continue(())
            });
        }
        out
    }

    fn stat(&self, pid: i32) -> Option<ProcStat> {
        settle(self.read(pid)?, || self.read(pid))
    }

    fn glance(&self, pid: i32, enough: &dyn Fn(&ProcStat) -> bool) -> Option<ProcStat> {
        let dir = self.dir()?;
        let (s, comm) = procread::read_stat(dir, &RelPath::pid(pid).join("stat"), true)?;
        let first = first_look(&s, comm);
        if enough(&first) {
            return Some(first);
        }
        settle(self.finish(dir, pid, &s, Some(first.comm)), || {
            self.read(pid)
        })
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        let mut out = Vec::new();
        let Some(dir) = self.dir() else {
            return out;
        };
        let task = RelPath::pid(pid).join("task");
        procread::for_each_numbered(dir, Some(&task), |tid| {
            let path = task.join_num(tid).join("children");
            procread::for_each_number(dir, &path, |c| out.push(c));
            ControlFlow::Continue(())
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        let status = RelPath::pid(pid).join("status");
        procread::read_status(self.dir()?, &status, procread::parse_nspid)
    }

    fn own_pidns(&self) -> Option<u64> {
        // The reader's own namespace, which is the one a procfs mount shows when
        // the reader mounted it (the warden's private `/proc`) or shares it.
        let st = rustix::fs::statat(self.dir()?, c"self/ns/pid", AtFlags::empty()).ok()?;
        Some(st.st_ino)
    }

    fn pidns_of(&self, pid: i32) -> Option<u64> {
        let path = RelPath::pid(pid).join("ns").join("pid");
        let st = rustix::fs::statat(self.dir()?, path.as_cstr()?, AtFlags::empty()).ok()?;
        Some(st.st_ino)
    }

    fn cmdline(&self, pid: i32) -> Option<Vec<String>> {
        let path = RelPath::pid(pid).join("cmdline");
        let mut buf = [0u8; procread::CMDLINE_BUF];
        procread::with_file(self.dir()?, &path, &mut buf, |raw| {
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
    }
}
