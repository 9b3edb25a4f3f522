//! An in-memory [`Kernel`] for the reaper's and the walker's unit tests.
//!
//! A process table below a shim ([`SHIM`]) that is a subreaper: a process that
//! exits hands its children to the shim, as the kernel does; a reaped PID can be
//! taken again by a new process (with another start time); a pidfd names one
//! process by identity; a signal kills at once, after a delay (a process still
//! dying) or never (stuck in the kernel). The clock moves only when the code
//! under test waits for `SIGCHLD`, plus a fixed [`FakeKernel::tick`] per call.
//! A race is played by a hook that runs right after a given call returns: what
//! happened between that call and the next.

mod behaviour;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::sys::wait::RawStatus;

/// The shim's PID.
pub(crate) const SHIM: i32 = 100;

/// A call the code under test made, as logged and as hooks name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// The `children` files of a process (`None`: the shim's own).
    Children(Option<i32>),
    OwnChildren,
    Stat(i32),
    NamespacePid(i32),
    Open(i32),
    ParentOf(i32),
    HasExited(i32),
    Signal(i32, i32),
    SignalGroup(i32, i32),
    WaitAny,
    Reap(i32),
    WaitSigchld,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    /// Signalled to death, not exited yet.
    Dying,
    Zombie(RawStatus),
}

struct Proc {
    ppid: i32,
    pgid: i32,
    start: u64,
    /// The thread of its parent whose `children` file lists it.
    thread: usize,
    threads: usize,
    /// Its place in its parent's children (the kernel appends forks and orphans).
    seq: u64,
    state: State,
    ignores_term: bool,
    /// SIGTERM makes it fork a copy of itself (with this same behaviour) and
    /// exit, as a SIGTERM handler that respawns does.
    respawns: bool,
    /// How long a fatal signal takes to kill it; `None`: it never dies.
    kill_delay: Option<Duration>,
    /// Left out of every `children` file until then.
    hidden_until: Option<Duration>,
    /// Its `NSpid` line, when not `<host pid> <pid>`.
    nspid: Option<Vec<i32>>,
    /// How many more reads of its `NSpid` fail.
    status_unreadable: u32,
    /// Its `/proc/<pid>/stat` cannot be read.
    stat_unreadable: bool,
}

type Action = Box<dyn FnOnce(&mut FakeKernel)>;

/// A pidfd of the fake: one process, by identity.
#[derive(Debug)]
pub(crate) struct FakePidfd {
    pid: i32,
    start: u64,
    open: Rc<Cell<usize>>,
}

impl Drop for FakePidfd {
    fn drop(&mut self) {
        self.open.set(self.open.get() - 1);
    }
}

/// The fake kernel: see the module docs.
pub(crate) struct FakeKernel {
    shim_threads: usize,
    base: Instant,
    elapsed: Duration,
    tick: Duration,
    procs: BTreeMap<i32, Proc>,
    next_start: u64,
    next_seq: u64,
    sigchld: bool,
    timers: Vec<(Duration, Action)>,
    hooks: Vec<(Call, Action)>,
    pidfd_info: bool,
    host_offset: i32,
    calls: Vec<Call>,
    /// Every signal that reached a process: `(pid, start time, signal)`.
    delivered: Vec<(i32, u64, i32)>,
    open: Rc<Cell<usize>>,
    max_open: usize,
}

impl FakeKernel {
    /// A shim with one thread and no children, on a kernel with `PIDFD_GET_INFO`.
    pub(crate) fn new() -> Self {
        FakeKernel {
            shim_threads: 1,
            base: Instant::now(),
            elapsed: Duration::ZERO,
            tick: Duration::ZERO,
            procs: BTreeMap::new(),
            next_start: 1000,
            next_seq: 0,
            sigchld: false,
            timers: Vec::new(),
            hooks: Vec::new(),
            pidfd_info: true,
            host_offset: 0,
            calls: Vec::new(),
            delivered: Vec::new(),
            open: Rc::new(Cell::new(0)),
            max_open: 0,
        }
    }

    /// Adds a running process, child of `ppid` (forked by its main thread), in
    /// its parent's process group.
    pub(crate) fn spawn(&mut self, pid: i32, ppid: i32) -> &mut Self {
        assert!(!self.procs.contains_key(&pid), "pid {pid} is taken");
        let pgid = self.procs.get(&ppid).map_or(ppid, |p| p.pgid);
        self.next_start += 1;
        self.next_seq += 1;
        let p = Proc {
            ppid,
            pgid,
            start: self.next_start,
            thread: 0,
            threads: 1,
            seq: self.next_seq,
            state: State::Running,
            ignores_term: false,
            respawns: false,
            kill_delay: Some(Duration::ZERO),
            hidden_until: None,
            nspid: None,
            status_unreadable: 0,
            stat_unreadable: false,
        };
        self.procs.insert(pid, p);
        self
    }

    /// Adds the leader: a child of the shim leading its own process group.
    pub(crate) fn leader(&mut self, pid: i32) -> &mut Self {
        self.spawn(pid, SHIM).setsid(pid)
    }

    /// The process leaves its group for one of its own.
    pub(crate) fn setsid(&mut self, pid: i32) -> &mut Self {
        self.proc(pid).pgid = pid;
        self
    }

    /// The process was forked by thread `thread` of its parent.
    pub(crate) fn forked_by_thread(&mut self, pid: i32, thread: usize) -> &mut Self {
        self.proc(pid).thread = thread;
        self
    }

    /// The process (`SHIM`: the shim) has `n` threads.
    pub(crate) fn threads(&mut self, pid: i32, n: usize) -> &mut Self {
        if pid == SHIM {
            self.shim_threads = n;
        } else {
            self.proc(pid).threads = n;
        }
        self
    }

    /// The process survives SIGTERM.
    pub(crate) fn ignores_term(&mut self, pid: i32) -> &mut Self {
        self.proc(pid).ignores_term = true;
        self
    }

    /// SIGTERM makes the process fork a copy of itself, which respawns too,
    /// and exit 0 (a SIGTERM handler that respawns the process). The copy takes
    /// the lowest PID above every PID in use.
    pub(crate) fn respawns_on_term(&mut self, pid: i32) -> &mut Self {
        self.proc(pid).respawns = true;
        self
    }

    /// A fatal signal takes `delay` to kill the process (it is still dying
    /// meanwhile).
    pub(crate) fn dies_after(&mut self, pid: i32, delay: Duration) -> &mut Self {
        self.proc(pid).kill_delay = Some(delay);
        self
    }

    /// No signal ever kills the process (stuck in the kernel).
    pub(crate) fn unkillable(&mut self, pid: i32) -> &mut Self {
        self.proc(pid).kill_delay = None;
        self
    }

    /// No `children` file lists the process until `elapsed` into the test.
    pub(crate) fn hidden_until(&mut self, pid: i32, elapsed: Duration) -> &mut Self {
        self.proc(pid).hidden_until = Some(elapsed);
        self
    }

    /// Its `/proc/<pid>/stat` cannot be read.
    pub(crate) fn stat_unreadable(&mut self, pid: i32) -> &mut Self {
        self.proc(pid).stat_unreadable = true;
        self
    }

    /// The process exits with `code`.
    pub(crate) fn exit(&mut self, pid: i32, code: i32) -> &mut Self {
        self.die(pid, code << 8);
        self
    }

    /// The process is reaped by its parent (not the shim): its PID is free.
    pub(crate) fn reaped_by_parent(&mut self, pid: i32) -> &mut Self {
        assert!(self.is_zombie(pid), "{pid} has not exited");
        self.procs.remove(&pid);
        self
    }

    /// Sets the process's `NSpid` line (default: `<host pid> <pid>`).
    pub(crate) fn nspid(&mut self, pid: i32, nspid: Vec<i32>) -> &mut Self {
        self.proc(pid).nspid = Some(nspid);
        self
    }

    /// The next read of the process's `NSpid` fails.
    pub(crate) fn status_unreadable_once(&mut self, pid: i32) -> &mut Self {
        self.proc(pid).status_unreadable += 1;
        self
    }

    /// Every read of the process's `NSpid` fails.
    pub(crate) fn status_unreadable_always(&mut self, pid: i32) -> &mut Self {
        self.proc(pid).status_unreadable = u32::MAX;
        self
    }

    /// The shim is the init of a PID namespace: `/proc` shows every process as
    /// its PID plus `offset`, the waits take and return the table's PIDs.
    pub(crate) fn host_pids_offset_by(&mut self, offset: i32) -> &mut Self {
        self.host_offset = offset;
        self
    }

    /// A kernel before Linux 6.13: a pidfd does not tell the parent.
    pub(crate) fn without_pidfd_info(&mut self) -> &mut Self {
        self.pidfd_info = false;
        self
    }

    /// Every call takes `d`.
    pub(crate) fn tick(&mut self, d: Duration) -> &mut Self {
        self.tick = d;
        self
    }

    /// Runs `f` once, right after the first call equal to `call` returns.
    pub(crate) fn after(
        &mut self,
        call: Call,
        f: impl FnOnce(&mut FakeKernel) + 'static,
    ) -> &mut Self {
        self.hooks.push((call, Box::new(f)));
        self
    }

    /// Runs `f` once `elapsed` into the test.
    pub(crate) fn at(
        &mut self,
        elapsed: Duration,
        f: impl FnOnce(&mut FakeKernel) + 'static,
    ) -> &mut Self {
        self.timers.push((elapsed, Box::new(f)));
        self
    }

    /// The calls made so far.
    pub(crate) fn calls(&self) -> &[Call] {
        &self.calls
    }

    /// How many calls so far match `pred`.
    pub(crate) fn count(&self, pred: impl Fn(&Call) -> bool) -> usize {
        self.calls.iter().filter(|c| pred(c)).count()
    }

    /// The signals every process that had PID `pid` received, in order.
    pub(crate) fn signals_to(&self, pid: i32) -> Vec<i32> {
        self.delivered
            .iter()
            .filter(|d| d.0 == pid)
            .map(|d| d.2)
            .collect()
    }

    /// The signals the process that has PID `pid` now received.
    pub(crate) fn signals_to_current(&self, pid: i32) -> Vec<i32> {
        let start = self.procs[&pid].start;
        self.delivered
            .iter()
            .filter(|d| (d.0, d.1) == (pid, start))
            .map(|d| d.2)
            .collect()
    }

    /// Whether PID `pid` names a process (running, dying or a zombie).
    pub(crate) fn exists(&self, pid: i32) -> bool {
        self.procs.contains_key(&pid)
    }

    /// Whether the process has exited and is not reaped.
    pub(crate) fn is_zombie(&self, pid: i32) -> bool {
        self.procs
            .get(&pid)
            .is_some_and(|p| matches!(p.state, State::Zombie(_)))
    }

    /// The most pidfds held open at once so far.
    pub(crate) fn max_open_pidfds(&self) -> usize {
        self.max_open
    }

    /// How long the test has run on the fake clock.
    pub(crate) fn elapsed(&self) -> Duration {
        self.elapsed
    }

    fn proc(&mut self, pid: i32) -> &mut Proc {
        self.procs
            .get_mut(&pid)
            .unwrap_or_else(|| panic!("no process {pid}"))
    }
}
