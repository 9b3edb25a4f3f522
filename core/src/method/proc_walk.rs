//! `proc-walk`: find every descendant in `/proc` and kill it by pidfd.
//!
//! Runs in the shim, which is a subreaper, so every process of the tree stays its
//! descendant: orphans are re-parented to it, never to init. Teardown walks the
//! tree level by level from the children lists of every thread of the shim
//! (`/proc/<pid>/task/<tid>/children`). For each process of a level it
//!
//! 1. opens a pidfd on it,
//! 2. checks its ancestry: its parent is the process whose list it was found in,
//!    or the shim, or a chain of parents leads to the shim. The parent comes from
//!    the pidfd itself (`PIDFD_GET_INFO`, Linux 6.13+) or from `/proc/<pid>/stat`
//!    (parsed with `procfs`: a `)` in the command name breaks naive parsers),
//! 3. signals it through the pidfd. If the PID had been reused between the list
//!    read and the `pidfd_open`, the pidfd's process is gone and the signal fails
//!    with `ESRCH`: a process we can signal is the one we checked.
//!
//! Then it reads the children lists of the level's processes that are still
//! running (kill as you discover: a SIGKILLed process cannot fork again, so its
//! lists are final; a process that already exited has no children — they were
//! handed to the shim — so it is not read at all, which keeps wide trees cheap).
//!
//! A walk is repeated until one finds nothing new and none of its reads raced
//! with an exit. Then the shim reaps until `waitpid(-1)` gives `ECHILD`; if nothing
//! exits for 100 ms it walks again from scratch, trusting nothing learned (a safety
//! net for what a walk can miss, e.g. a process that became a subreaper itself).
//! Gracefully: walks with SIGTERM + SIGCONT (re-reading everything, as processes
//! can still fork), reap up to the grace, then the SIGKILL walks.
//!
//! Fast path: the SIGKILL phase starts with `killpg` on the leader's group (the
//! leader is unreaped, so the group cannot be someone else's) and reaps while
//! exits keep coming; the walks then only have to find the processes that left
//! the group. The guarantee does not depend on it.
//!
//! Known weakness: only a fork rate that outruns the walk can race it; a SIGKILLed
//! process cannot fork, so each walk shrinks what is left.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use procfs::FromRead;
use procfs::process::Stat;

use crate::TeardownError;
use crate::driver::Drained;
use crate::options::TeardownOptions;
use crate::pidfd::PidFd;
use crate::shim::reaper::{Left, Reaper};
use crate::sys::signal::kill_process_group;

/// After the group kill: reap until no process exited for this long since the
/// last exit, then walk. Exits of a SIGKILLed group come tens of microseconds
/// apart, so this ends the fast path soon after the group is gone; only speed
/// depends on it (the walks that follow find whatever is left, e.g. an escape).
const QUIET: Duration = Duration::from_micros(250);

/// Reap this long without any exit, then walk again.
const STALL: Duration = Duration::from_millis(100);

/// How many processes of one level are signalled before their children lists
/// are read (bounds the pidfds held open at once).
const BATCH: usize = 256;

/// A process signalled in this phase: its start time (0 when not read), and
/// whether its children lists were read completely (it was still running after
/// the read, so nothing was handed to the shim meanwhile).
#[derive(Clone, Copy)]
struct Known {
    start: u64,
    /// The process whose list it was found in.
    parent: i32,
    complete: bool,
}

struct Walker {
    shim: i32,
    sigs: &'static [i32],
    /// Fast walks (the SIGKILL phase): a process whose lists were read completely
    /// after it was SIGKILLed cannot gain children and is not read again, and the
    /// parent check uses `PIDFD_GET_INFO` instead of `/proc/<pid>/stat`. Slow walks
    /// (SIGTERM phase, and after a stall) re-read everything from `/proc`.
    fast: bool,
    known: HashMap<i32, Known>,
    level: Vec<(i32, i32)>,
    next: Vec<(i32, i32)>,
    batch: Vec<(i32, PidFd, bool)>,
    path: String,
    buf: Vec<u8>,
    signalled: u64,
    /// The leader, when the group kill already counted it: signalled again by a
    /// walk (it was still dying), it is not counted twice.
    counted: Option<i32>,
    rounds: u64,
}

#[derive(Default)]
struct WalkOutcome {
    new: u64,
    incomplete: bool,
}

impl Walker {
    fn new(sigs: &'static [i32], fast: bool) -> Walker {
        Walker {
            shim: std::process::id() as i32,
            sigs,
            fast,
            known: HashMap::new(),
            level: Vec::new(),
            next: Vec::new(),
            batch: Vec::with_capacity(BATCH),
            path: String::with_capacity(64),
            buf: Vec::with_capacity(1024),
            signalled: 0,
            counted: None,
            rounds: 0,
        }
    }

    /// Walks until a walk finds nothing new and raced with no exit, or `until`.
    fn converge(&mut self, reaper: &mut Reaper<'_>, until: Option<Instant>) -> io::Result<()> {
        loop {
            let out = self.walk()?;
            if out.new == 0 && !out.incomplete {
                return Ok(());
            }
            // Clear zombies so the next walk reads shorter lists.
            reaper.reap_ready(false)?;
            if until.is_some_and(|u| Instant::now() >= u) {
                return Ok(());
            }
        }
    }

    /// One walk, level by level: every process of a level is checked and
    /// signalled, then the children lists of those still running are read.
    fn walk(&mut self) -> io::Result<WalkOutcome> {
        self.rounds += 1;
        let mut out = WalkOutcome::default();
        self.level.clear();
        self.next.clear();
        self.push_children_all_threads(self.shim, "/proc/self/task");
        while !self.level.is_empty() {
            let mut level = std::mem::take(&mut self.level);
            for chunk in level.chunks(BATCH) {
                for &(parent, pid) in chunk {
                    if let Some((fd, new)) = self.check_and_signal(parent, pid)? {
                        out.new += u64::from(new);
                        self.batch.push((pid, fd, new));
                    }
                }
                let mut batch = std::mem::take(&mut self.batch);
                for (pid, fd, _) in batch.drain(..) {
                    let complete = self.read_children(pid, &fd)?;
                    out.incomplete |= !complete;
                    if let Some(k) = self.known.get_mut(&pid) {
                        k.complete = complete;
                    }
                }
                self.batch = batch;
            }
            level.clear();
            self.level = std::mem::replace(&mut self.next, level);
        }
        Ok(out)
    }

    /// Checks one process found in `parent`'s list and signals it if it is new.
    /// Returns its pidfd (and whether it was new) if its children are to be read.
    fn check_and_signal(&mut self, parent: i32, pid: i32) -> io::Result<Option<(PidFd, bool)>> {
        let known = self.known.get(&pid).copied();
        // Found again where it was (or re-parented to the shim): the same process.
        // A recycled PID shows up under another parent and is checked in full.
        if self.fast
            && known.is_some_and(|k| k.complete && (k.parent == parent || parent == self.shim))
        {
            return Ok(None);
        }
        let fd = match PidFd::open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (ppid, start) = match (self.fast, fd.parent_pid()) {
            (true, Ok(Some(ppid))) => (ppid, 0),
            (_, Err(e)) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            _ => match self.stat(pid) {
                Some(st) => (st.ppid, st.starttime),
                None => return Ok(None),
            },
        };
        if ppid != parent && ppid != self.shim && !self.descends_from_shim(ppid) {
            return Ok(None);
        }
        // Was it signalled by an earlier walk of this phase? In a slow walk the
        // start time says. In a fast walk a known PID was only read again because
        // that process had exited: a running process there now is a new one.
        let same = match known {
            None => false,
            Some(k) if start != 0 && k.start != 0 => k.start == start,
            Some(_) => fd.has_exited()?,
        };
        if !same {
            // If the pidfd's process were gone (reaped) the parent read above could
            // describe a successor with the same PID; but then signalling through
            // the pidfd fails with ESRCH. A process we can signal held the PID all
            // along.
            for &s in self.sigs {
                match fd.signal(s) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            if self.counted != Some(pid) {
                self.signalled += 1;
            }
            self.known.insert(
                pid,
                Known {
                    start,
                    parent,
                    complete: false,
                },
            );
        }
        Ok(Some((fd, !same)))
    }

    /// Reads the children lists of a signalled process. Returns whether the read
    /// is complete: false if it has exited (an exited process has no children —
    /// they went to the shim, to be found by the next walk).
    fn read_children(&mut self, pid: i32, fd: &PidFd) -> io::Result<bool> {
        if fd.has_exited()? {
            return Ok(false);
        }
        let dir = std::mem::take(&mut self.path);
        let mut dir = dir;
        dir.clear();
        let _ = write!(dir, "/proc/{pid}/task");
        self.push_children_all_threads(pid, &dir);
        self.path = dir;
        Ok(!fd.has_exited()?)
    }

    fn stat(&mut self, pid: i32) -> Option<Stat> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/stat");
        self.buf.clear();
        File::open(&self.path)
            .ok()?
            .read_to_end(&mut self.buf)
            .ok()?;
        Stat::from_read(&self.buf[..]).ok()
    }

    /// Follows the parent chain from `pid` up to the shim (true) or init (false).
    fn descends_from_shim(&mut self, mut pid: i32) -> bool {
        for _ in 0..4096 {
            if pid == self.shim {
                return true;
            }
            if pid <= 1 {
                return false;
            }
            match self.stat(pid) {
                Some(s) => pid = s.ppid,
                None => return false,
            }
        }
        false
    }

    /// Queues `(pid, child)` for the children of every thread of `pid` (into the
    /// current level for the shim itself, else the next one).
    fn push_children_all_threads(&mut self, pid: i32, task_dir: &str) {
        let Ok(tasks) = std::fs::read_dir(task_dir) else {
            return;
        };
        let mut file = String::with_capacity(64);
        for t in tasks {
            let Ok(t) = t else { continue };
            file.clear();
            let _ = write!(
                file,
                "{task_dir}/{}/children",
                t.file_name().to_string_lossy()
            );
            self.buf.clear();
            let Ok(mut f) = File::open(&file) else {
                continue;
            };
            if f.read_to_end(&mut self.buf).is_err() {
                continue;
            }
            let into = if pid == self.shim {
                &mut self.level
            } else {
                &mut self.next
            };
            let mut n: i32 = 0;
            let mut digits = false;
            for &b in &self.buf {
                if b.is_ascii_digit() {
                    n = n * 10 + i32::from(b - b'0');
                    digits = true;
                } else if digits {
                    into.push((pid, n));
                    n = 0;
                    digits = false;
                }
            }
            if digits {
                into.push((pid, n));
            }
        }
    }
}

/// The shim side of the teardown.
pub(crate) fn teardown(
    reaper: &mut Reaper<'_>,
    opts: TeardownOptions,
) -> Result<Drained, TeardownError> {
    let io = TeardownError::io;
    let start = Instant::now();
    let deadline = opts.deadline.map(|d| start + d);
    let reaped_before = reaper.reaped;
    let mut d = Drained::default();
    if !opts.grace.is_zero() {
        let grace_end = deadline.map_or(start + opts.grace, |dl| dl.min(start + opts.grace));
        let mut w = Walker::new(&[libc::SIGTERM, libc::SIGCONT], false);
        w.converge(reaper, Some(grace_end))
            .map_err(io("walk /proc"))?;
        d.signalled += w.signalled;
        d.rounds += w.rounds;
        let left = reaper
            .reap_until(false, Some(grace_end))
            .map_err(io("reap"))?;
        d.escalated = left != Left::Nothing;
    }
    if opts.grace.is_zero() || d.escalated {
        // Fast path: SIGKILL the leader's group in one system call and reap while
        // its exits keep coming, so the walks below only have to find what left
        // the group. Safe: the leader is not reaped yet, so no other process can
        // own a group with its PID. Without it a chain of 100 exec'd processes
        // took ~19 walks (each death hands the next node to the shim mid-walk),
        // 2x the subreaper method (teardown-benches, chain/100).
        let mut group_killed = None;
        if !reaper.leader_reaped {
            match kill_process_group(reaper.leader(), libc::SIGKILL) {
                Ok(()) => {
                    d.signalled += 1;
                    group_killed = Some(reaper.leader());
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(io("signal the process group")(e)),
            }
            reaper
                .reap_while_exiting(QUIET, deadline)
                .map_err(io("reap"))?;
        }
        let mut w = Walker::new(&[libc::SIGKILL], true);
        w.counted = group_killed;
        loop {
            w.converge(reaper, deadline).map_err(io("walk /proc"))?;
            let until =
                deadline.map_or(Instant::now() + STALL, |dl| dl.min(Instant::now() + STALL));
            if reaper.reap_until(false, Some(until)).map_err(io("reap"))? == Left::Nothing {
                break;
            }
            if deadline.is_some_and(|dl| Instant::now() >= dl) {
                let alive = crate::shim::reaper::own_children().map_or(0, |c| c.len());
                return Err(TeardownError::Deadline {
                    elapsed: start.elapsed(),
                    alive,
                });
            }
            // Nothing exited for a while: walk again, trusting nothing learned.
            d.signalled += w.signalled;
            d.rounds += w.rounds;
            w = Walker::new(&[libc::SIGKILL], false);
            w.counted = group_killed;
        }
        d.signalled += w.signalled;
        d.rounds += w.rounds;
        if opts.grace.is_zero() {
            // Every signal of this phase is SIGKILL.
            d.escalated = d.signalled > 0;
        }
    }
    d.reaped = reaper.reaped - reaped_before;
    d.leader = reaper.leader_status;
    d.drain = start.elapsed();
    Ok(d)
}
