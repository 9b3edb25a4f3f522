//! The contract between a [`crate::Tree`] and the method that contains it: the
//! [`Driver`] every method implements, how long a wait may block ([`Wait`]), and
//! what a teardown measured ([`Drained`]).

use std::io;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::options::TeardownOptions;
use crate::sys::wait::{RawStatus, shell_status};
use crate::waiter::{BoxFuture, Waiter};
use crate::{CgroupEntry, DrainReport, Method, TeardownError};

/// How long a wait for the leader may block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Do not block.
    NoHang,
    /// Block up to this long.
    For(Duration),
    /// Block until it exits.
    Forever,
}

impl Wait {
    /// The instant a wait of this kind ends, from now (`None`: never).
    pub(crate) fn end(self) -> Option<Instant> {
        match self {
            Wait::NoHang => Some(Instant::now()),
            Wait::For(t) => Some(Instant::now() + t),
            Wait::Forever => None,
        }
    }
}

/// What a driver's teardown measured; [`crate::Tree`] turns it into a [`DrainReport`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Drained {
    pub signalled: u64,
    pub reaped: u64,
    pub rounds: u64,
    pub escalated: bool,
    pub drain: Duration,
    pub leader: Option<RawStatus>,
}

impl Drained {
    /// The public report of this teardown, by `method` (asked for as `requested`).
    pub(crate) fn report(&self, method: Method, requested: Method) -> DrainReport {
        DrainReport {
            method,
            requested,
            signalled: self.signalled,
            reaped: self.reaped,
            rounds: self.rounds,
            escalated: self.escalated,
            drain: self.drain,
            leader_status: self.leader.map(shell_status),
        }
    }
}

/// One method's live containment of one tree.
pub(crate) trait Driver: Send {
    /// The leader's PID as seen from this process.
    fn leader_pid(&self) -> u32;
    /// The process this library spawned with `Command::spawn` (the leader, or the
    /// shim): for its stdio. `None` for a forked shim.
    fn child(&mut self) -> Option<&mut Child>;
    /// Observes the leader's exit without reaping it (the PID stays reserved),
    /// waiting through `w` (see `waiter.rs`).
    fn wait_leader<'a>(
        &'a mut self,
        wait: Wait,
        w: &'a dyn Waiter,
    ) -> BoxFuture<'a, io::Result<Option<RawStatus>>>;
    /// Sends `sig` to the leader alone, if it has not exited. True if sent.
    fn signal_leader(&mut self, sig: i32) -> io::Result<bool>;
    /// Kills and drains the tree, waiting through `w`. May be called again after
    /// an error, or after the future was dropped midway (cancelled): what was
    /// sent stays sent, and the next call carries on from what it finds.
    fn teardown<'a>(
        &'a mut self,
        opts: TeardownOptions,
        w: &'a dyn Waiter,
    ) -> BoxFuture<'a, Result<Drained, TeardownError>>;
    /// How the leader got into its cgroup leaf, for the methods that make one in
    /// this process (`cgroup`, `cgroup-kill`).
    fn cgroup_entry(&self) -> Option<CgroupEntry> {
        None
    }
}
