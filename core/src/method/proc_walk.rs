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
//! The SIGTERM walks are repeated only for processes that were there when the
//! grace began (start time no later than its start: [`Kernel::start_clock`]):
//! one of them found new, or exiting under a read. A process forked after that
//! is signalled when a walk finds it, but finding it walks no more: a process
//! that forks a replacement each time it gets SIGTERM and exits (a respawner)
//! otherwise kept the walks going for the whole grace, each finding and
//! signalling the next replacement, a core's worth of CPU in the supervisor
//! and a fork a walk in the tree (110 walks, 435 signals in a 250 ms grace,
//! seen with a random tree). What is left of such a tree gets SIGKILL when the
//! grace is over, like any process that outlives it.
//!
//! Fast path: the SIGKILL phase starts with `killpg` on the leader's group (the
//! leader is unreaped, so the group cannot be someone else's) and reaps while
//! exits keep coming; the walks then only have to find the processes that left
//! the group. The guarantee does not depend on it.
//!
//! Known weakness: only a fork rate that outruns the walk can race it; a SIGKILLed
//! process cannot fork, so each walk shrinks what is left.
//!
//! Every system call and `/proc` read goes through [`Kernel`] (the one the
//! shim's [`Reaper`] holds), so that the rules above are unit-tested against a
//! fake kernel, one test a rule: `proc_walk_tests.rs` (the walks),
//! `proc_walk_teardown_tests.rs` (the phases).

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use crate::TeardownError;
use crate::driver::Drained;
use crate::options::TeardownOptions;
use crate::shim::kernel::Kernel;
use crate::shim::reaper::{Left, Reaper};

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
    /// A walk saw it exited. Its children went to the shim when it exited, so
    /// the walk after that one found them; found exited again (a zombie its
    /// living parent does not reap), it does not make a walk incomplete, which
    /// would walk again at once until the grace ends.
    exited: bool,
}

struct Walker<K: Kernel> {
    shim: i32,
    sigs: &'static [i32],
    /// Fast walks (the SIGKILL phase): a process whose lists were read completely
    /// after it was SIGKILLed cannot gain children and is not read again, and the
    /// parent check uses `PIDFD_GET_INFO` instead of `/proc/<pid>/stat`. Slow walks
    /// (SIGTERM phase, and after a stall) re-read everything from `/proc`.
    fast: bool,
    /// SIGTERM walks: the start-time clock when the grace began. A process
    /// with a later start time is signalled when found, but does not make the
    /// walks go on (see the module docs).
    born_by: Option<u64>,
    known: HashMap<i32, Known>,
    level: Vec<(i32, i32)>,
    next: Vec<(i32, i32)>,
    batch: Vec<(i32, K::Handle, bool)>,
    /// The children lists just read.
    found: Vec<i32>,
    signalled: u64,
    /// The leader, when the group kill already counted it: signalled again by a
    /// walk (it was still dying), it is not counted twice.
    counted: Option<i32>,
    rounds: u64,
}

#[derive(Default)]
struct WalkOutcome {
    /// Processes signalled for the first time (in a SIGTERM walk: only those
    /// that were there when the grace began).
    new: u64,
    /// A read raced with an exit (in a SIGTERM walk: the exit of a process
    /// that was there when the grace began).
    incomplete: bool,
}

impl<K: Kernel> Walker<K> {
    fn new(k: &K, sigs: &'static [i32], fast: bool) -> Walker<K> {
        Walker {
            shim: k.own_pid(),
            sigs,
            fast,
            born_by: None,
            known: HashMap::new(),
            level: Vec::new(),
            next: Vec::new(),
            batch: Vec::with_capacity(BATCH),
            found: Vec::new(),
            signalled: 0,
            counted: None,
            rounds: 0,
        }
    }

    /// Walks until a walk finds nothing new and raced with no exit, or `until`.
    fn converge(&mut self, reaper: &mut Reaper<'_, K>, until: Option<Instant>) -> io::Result<()> {
        loop {
            let out = self.walk(reaper.kernel())?;
            if out.new == 0 && !out.incomplete {
                return Ok(());
            }
            // Clear zombies so the next walk reads shorter lists.
            reaper.reap_ready(false)?;
            if until.is_some_and(|u| reaper.kernel().now() >= u) {
                return Ok(());
            }
        }
    }

    /// One walk, level by level: every process of a level is checked and
    /// signalled, then the children lists of those still running are read.
    fn walk(&mut self, k: &mut K) -> io::Result<WalkOutcome> {
        self.rounds += 1;
        let mut out = WalkOutcome::default();
        self.level.clear();
        self.next.clear();
        self.push_children(k, None);
        while !self.level.is_empty() {
            let mut level = std::mem::take(&mut self.level);
            for chunk in level.chunks(BATCH) {
                for &(parent, pid) in chunk {
                    if let Some((fd, new)) = self.check_and_signal(k, parent, pid)? {
                        out.new += u64::from(new && !self.is_late(pid));
                        self.batch.push((pid, fd, new));
                    }
                }
                let mut batch = std::mem::take(&mut self.batch);
                for (pid, fd, _) in batch.drain(..) {
                    let complete = self.read_children(k, pid, &fd)?;
                    let mut seen_exited = false;
                    if let Some(k) = self.known.get_mut(&pid) {
                        k.complete = complete;
                        seen_exited = k.exited;
                        k.exited |= !complete;
                    }
                    out.incomplete |= !complete && !seen_exited && !self.is_late(pid);
                }
                self.batch = batch;
            }
            level.clear();
            self.level = std::mem::replace(&mut self.next, level);
        }
        Ok(out)
    }

    /// Whether `pid`, signalled in this phase, started after the grace began.
    fn is_late(&self, pid: i32) -> bool {
        self.born_by
            .is_some_and(|t| self.known.get(&pid).is_some_and(|k| k.start > t))
    }

    /// Checks one process found in `parent`'s list and signals it if it is new.
    /// Returns its pidfd (and whether it was new) if its children are to be read.
    fn check_and_signal(
        &mut self,
        k: &mut K,
        parent: i32,
        pid: i32,
    ) -> io::Result<Option<(K::Handle, bool)>> {
        let known = self.known.get(&pid).copied();
        // Found again where it was (or re-parented to the shim): the same process.
        // A recycled PID shows up under another parent and is checked in full.
        if self.fast
            && known.is_some_and(|k| k.complete && (k.parent == parent || parent == self.shim))
        {
            return Ok(None);
        }
        let fd = match k.open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (ppid, start) = match (self.fast, k.parent_of(&fd)) {
            (true, Ok(Some(ppid))) => (ppid, 0),
            (_, Err(e)) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            _ => match k.stat(pid) {
                Some(st) => st,
                None => return Ok(None),
            },
        };
        if ppid != parent && ppid != self.shim && !self.descends_from_shim(k, ppid) {
            return Ok(None);
        }
        // Was it signalled by an earlier walk of this phase? In a slow walk the
        // start time says. In a fast walk a known PID was only read again because
        // that process had exited: a running process there now is a new one.
        let same = match known {
            None => false,
            Some(k) if start != 0 && k.start != 0 => k.start == start,
            Some(_) => k.has_exited(&fd)?,
        };
        if !same {
            // If the pidfd's process were gone (reaped) the parent read above could
            // describe a successor with the same PID; but then signalling through
            // the pidfd fails with ESRCH. A process we can signal held the PID all
            // along.
            for &s in self.sigs {
                match k.signal(&fd, s) {
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
                    exited: false,
                },
            );
        }
        Ok(Some((fd, !same)))
    }

    /// Reads the children lists of a signalled process. Returns whether the read
    /// is complete: false if it has exited (an exited process has no children —
    /// they went to the shim, to be found by the next walk).
    fn read_children(&mut self, k: &mut K, pid: i32, fd: &K::Handle) -> io::Result<bool> {
        if k.has_exited(fd)? {
            return Ok(false);
        }
        self.push_children(k, Some(pid));
        Ok(!k.has_exited(fd)?)
    }

    /// Follows the parent chain from `pid` up to the shim (true) or init (false).
    fn descends_from_shim(&mut self, k: &mut K, mut pid: i32) -> bool {
        for _ in 0..4096 {
            if pid == self.shim {
                return true;
            }
            if pid <= 1 {
                return false;
            }
            match k.stat(pid) {
                Some((ppid, _)) => pid = ppid,
                None => return false,
            }
        }
        false
    }

    /// Queues `(pid, child)` for the children of every thread of `pid` (into the
    /// current level for the shim itself, `None`, else the next one).
    fn push_children(&mut self, k: &mut K, pid: Option<i32>) {
        self.found.clear();
        k.children(pid, &mut self.found);
        match pid {
            None => self
                .level
                .extend(self.found.iter().map(|&c| (self.shim, c))),
            Some(pid) => self.next.extend(self.found.iter().map(|&c| (pid, c))),
        }
    }
}

/// The shim side of the teardown.
pub(crate) fn teardown(
    reaper: &mut Reaper<'_>,
    opts: TeardownOptions,
) -> Result<Drained, TeardownError> {
    teardown_through(reaper, opts)
}

/// [`teardown`] through any kernel: the real one, or the unit tests' fake.
fn teardown_through<K: Kernel>(
    reaper: &mut Reaper<'_, K>,
    opts: TeardownOptions,
) -> Result<Drained, TeardownError> {
    let io = TeardownError::io;
    let start = reaper.kernel().now();
    let deadline = opts.deadline.map(|d| start + d);
    let reaped_before = reaper.reaped;
    let mut d = Drained::default();
    if !opts.grace.is_zero() {
        let grace_end = deadline.map_or(start + opts.grace, |dl| dl.min(start + opts.grace));
        let mut w = Walker::new(reaper.kernel(), &[libc::SIGTERM, libc::SIGCONT], false);
        w.born_by = Some(reaper.kernel().start_clock());
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
            let leader = reaper.leader();
            match reaper.kernel().signal_group(leader, libc::SIGKILL) {
                Ok(()) => {
                    d.signalled += 1;
                    group_killed = Some(leader);
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(io("signal the process group")(e)),
            }
            reaper
                .reap_while_exiting(QUIET, deadline)
                .map_err(io("reap"))?;
        }
        let mut w = Walker::new(reaper.kernel(), &[libc::SIGKILL], true);
        w.counted = group_killed;
        loop {
            w.converge(reaper, deadline).map_err(io("walk /proc"))?;
            let stall_end = reaper.kernel().now() + STALL;
            let until = deadline.map_or(stall_end, |dl| dl.min(stall_end));
            if reaper.reap_until(false, Some(until)).map_err(io("reap"))? == Left::Nothing {
                break;
            }
            let now = reaper.kernel().now();
            if deadline.is_some_and(|dl| now >= dl) {
                let alive = reaper.kernel().own_children().map_or(0, |c| c.len());
                return Err(TeardownError::Deadline {
                    elapsed: now - start,
                    alive,
                });
            }
            // Nothing exited for a while: walk again, trusting nothing learned.
            d.signalled += w.signalled;
            d.rounds += w.rounds;
            w = Walker::new(reaper.kernel(), &[libc::SIGKILL], false);
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
    d.drain = reaper.kernel().now() - start;
    Ok(d)
}

#[cfg(test)]
#[path = "proc_walk_teardown_tests.rs"]
mod teardown_tests;
#[cfg(test)]
#[path = "proc_walk_tests.rs"]
mod tests;
