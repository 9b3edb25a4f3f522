//! An in-memory process table for the oracle's unit tests.

use std::collections::BTreeMap;

use super::{Identity, ProcSource, ProcStat};

/// An in-memory process table for unit tests. Children are derived from `ppid`
/// unless [`FakeProc::hide_child`] removed one from its parent's `children` file
/// (as the kernel may, for a process being reparented).
#[derive(Clone, Debug, Default)]
pub struct FakeProc {
    procs: BTreeMap<i32, (ProcStat, Vec<i32>)>,
    hidden: Vec<i32>,
    pidns: Option<u64>,
    ns_of: BTreeMap<i32, u64>,
    argv: BTreeMap<i32, Vec<String>>,
}

impl FakeProc {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a live process in `ppid`'s group and session, start time `pid * 10`.
    pub fn live(&mut self, pid: i32, ppid: i32) -> &mut Self {
        let stat = ProcStat {
            pid,
            ppid,
            pgid: ppid,
            sid: ppid,
            start_time: pid as u64 * 10,
            state: 'S',
            alive: true,
            dying: false,
            comm: "teardown".into(),
        };
        self.procs.insert(pid, (stat, vec![pid]));
        self
    }

    /// Adds a zombie (every thread dead, not reaped).
    pub fn zombie(&mut self, pid: i32, ppid: i32) -> &mut Self {
        self.live(pid, ppid);
        let s = &mut self.procs.get_mut(&pid).expect("just added").0;
        s.state = 'Z';
        s.alive = false;
        self
    }

    /// Adds a process whose main thread is a zombie but another thread lives.
    pub fn zombie_main_live_thread(&mut self, pid: i32, ppid: i32) -> &mut Self {
        self.live(pid, ppid);
        self.procs.get_mut(&pid).expect("just added").0.state = 'Z';
        self
    }

    /// The process is alive but committed to exit (SIGKILL pending).
    pub fn dying(&mut self, pid: i32) -> &mut Self {
        self.procs.get_mut(&pid).expect("known pid").0.dying = true;
        self
    }

    /// Sets the last added-or-named process's group and session.
    pub fn group(&mut self, pid: i32, pgid: i32, sid: i32) -> &mut Self {
        let s = &mut self.procs.get_mut(&pid).expect("known pid").0;
        s.pgid = pgid;
        s.sid = sid;
        self
    }

    /// Sets the inode of the table's own PID namespace.
    pub fn in_pidns(&mut self, ns: u64) -> &mut Self {
        self.pidns = Some(ns);
        self
    }

    /// Sets a process's `NSpid` line (outermost first).
    pub fn nspid_of(&mut self, pid: i32, nspid: Vec<i32>) -> &mut Self {
        self.procs.get_mut(&pid).expect("known pid").1 = nspid;
        self
    }

    /// Sets a process's command line (unset: unknown, which counts as the tree's).
    pub fn runs(&mut self, pid: i32, argv: &[&str]) -> &mut Self {
        self.argv
            .insert(pid, argv.iter().map(|a| (*a).to_owned()).collect());
        self
    }

    /// Marks a process as a helper of the supervisor (a shim: `teardown __shim`).
    pub fn helper(&mut self, pid: i32) -> &mut Self {
        self.runs(pid, &["teardown", "__shim", "pidns"])
    }

    /// Sets the inode of the PID namespace a process lives in.
    pub fn in_ns(&mut self, pid: i32, ns: u64) -> &mut Self {
        self.ns_of.insert(pid, ns);
        self
    }

    /// Sets a process's start time.
    pub fn started(&mut self, pid: i32, start_time: u64) -> &mut Self {
        self.procs.get_mut(&pid).expect("known pid").0.start_time = start_time;
        self
    }

    /// The process exits: it becomes a zombie of its parent.
    pub fn dies(&mut self, pid: i32) -> &mut Self {
        let s = &mut self.procs.get_mut(&pid).expect("known pid").0;
        s.state = 'Z';
        s.alive = false;
        s.dying = false;
        self
    }

    /// The process is reaped: it disappears.
    pub fn reaped(&mut self, pid: i32) -> &mut Self {
        self.procs.remove(&pid);
        self
    }

    /// Leaves `pid` out of its parent's `children` file.
    pub fn hide_child(&mut self, pid: i32) -> &mut Self {
        self.hidden.push(pid);
        self
    }

    /// The identity of a process in the table.
    pub fn identity(&self, pid: i32) -> Identity {
        self.procs[&pid].0.identity()
    }
}

impl ProcSource for FakeProc {
    fn pids(&self) -> Vec<i32> {
        self.procs.keys().copied().collect()
    }

    fn stat(&self, pid: i32) -> Option<ProcStat> {
        self.procs.get(&pid).map(|(s, _)| s.clone())
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        self.procs
            .values()
            .filter(|(s, _)| s.ppid == pid && !self.hidden.contains(&s.pid))
            .map(|(s, _)| s.pid)
            .collect()
    }

    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        self.procs.get(&pid).map(|(_, ns)| ns.clone())
    }

    fn own_pidns(&self) -> Option<u64> {
        self.pidns
    }

    fn pidns_of(&self, pid: i32) -> Option<u64> {
        self.ns_of.get(&pid).copied()
    }

    fn cmdline(&self, pid: i32) -> Option<Vec<String>> {
        self.argv.get(&pid).cloned()
    }
}
