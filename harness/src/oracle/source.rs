//! Where the oracle reads processes from: the [`ProcSource`] trait, the real
//! `/proc` ([`LiveProc`]); the in-memory fake for unit tests is
//! [`FakeProc`](super::FakeProc).

use std::path::PathBuf;

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

/// The real `/proc` (or another procfs mount, or a directory laid out like one).
#[derive(Clone, Debug)]
pub struct LiveProc {
    root: PathBuf,
}

impl Default for LiveProc {
    fn default() -> Self {
        LiveProc {
            root: PathBuf::from("/proc"),
        }
    }
}

impl LiveProc {
    /// A source reading the procfs (or look-alike directory) at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        LiveProc { root: root.into() }
    }

    fn process(&self, pid: i32) -> Option<procfs::process::Process> {
        procfs::process::Process::new_with_root(self.root.join(pid.to_string())).ok()
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
const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
/// The signals whose default action is not to terminate (ignore or stop); every
/// other signal, real-time ones included, terminates by default.
const NOT_FATAL_BY_DEFAULT: u64 = {
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

impl LiveProc {
    /// One look at `pid`: its main thread's stat, then every thread's.
    fn read(&self, pid: i32) -> Option<ProcStat> {
        let p = self.process(pid)?;
        let s = p.stat().ok()?;
        let alive = !is_dead_state(s.state)
            || p.tasks().is_ok_and(|mut tasks| {
                tasks.any(|t| {
                    t.and_then(|t| t.stat())
                        .is_ok_and(|ts| !is_dead_state(ts.state))
                })
            });
        let dying = alive && self.dying(&p);
        Some(ProcStat {
            pid: s.pid,
            ppid: s.ppid,
            pgid: s.pgrp,
            sid: s.session,
            start_time: s.starttime,
            state: s.state,
            alive,
            dying,
            comm: s.comm,
        })
    }

    /// See [`ProcStat::dying`]. A group kill queues SIGKILL in `ShdPnd` and on
    /// every thread's own `SigPnd`; a fatal signal the kernel turns into a group
    /// exit stays in `ShdPnd` itself (with SIGKILL on each thread). A thread that
    /// has dequeued its SIGKILL on the way to `do_exit` no longer shows it in
    /// `SigPnd`, but the shared signal is still there: that is why the pending
    /// fatal signal counts, not only SIGKILL. A lone `PF_EXITING` thread may be one
    /// thread ending (`pthread_exit`), so that counts only when every live thread
    /// has it. (A ptraced process could have a fatal signal suppressed by its
    /// tracer; tree processes are not traced.)
    fn dying(&self, p: &procfs::process::Process) -> bool {
        let Ok(tasks) = p.tasks() else {
            return false;
        };
        let mut live = 0;
        let mut exiting = 0;
        for t in tasks.filter_map(Result::ok) {
            let Ok(stat) = t.stat() else { continue };
            if is_dead_state(stat.state) {
                continue;
            }
            live += 1;
            if let Ok(st) = t.status() {
                let pending = st.sigpnd | st.shdpnd;
                let stopped = matches!(stat.state, 'T' | 't');
                let fatal = pending & !(st.sigblk | st.sigign | st.sigcgt) & !NOT_FATAL_BY_DEFAULT;
                if pending & SIGKILL_BIT != 0 || (fatal != 0 && !stopped) {
                    return true;
                }
            }
            if stat.flags & PF_EXITING != 0 {
                exiting += 1;
            }
        }
        live > 0 && exiting == live
    }
}

impl ProcSource for LiveProc {
    fn pids(&self) -> Vec<i32> {
        let Ok(dir) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    fn stat(&self, pid: i32) -> Option<ProcStat> {
        settle(self.read(pid)?, || self.read(pid))
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        let Some(p) = self.process(pid) else {
            return Vec::new();
        };
        let Ok(tasks) = p.tasks() else {
            return Vec::new();
        };
        let mut out: Vec<i32> = tasks
            .filter_map(Result::ok)
            .filter_map(|t| t.children().ok())
            .flatten()
            .map(|c| c as i32)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        self.process(pid)?.status().ok()?.nspid
    }

    fn own_pidns(&self) -> Option<u64> {
        // The reader's own namespace, which is the one a procfs mount shows when
        // the reader mounted it (the warden's private `/proc`) or shares it.
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(self.root.join("self/ns/pid")).ok()?;
        Some(meta.ino())
    }

    fn pidns_of(&self, pid: i32) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(self.root.join(format!("{pid}/ns/pid"))).ok()?;
        Some(meta.ino())
    }

    fn cmdline(&self, pid: i32) -> Option<Vec<String>> {
        let raw = std::fs::read(self.root.join(format!("{pid}/cmdline"))).ok()?;
        Some(
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        )
    }
}
