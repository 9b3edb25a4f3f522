//! The leader as an in-process method holds it: a direct child, observed without
//! being reaped until its tree has been killed.
//!
//! # The race this handles
//!
//! Killing a process group after its leader was reaped can hit a recycled PGID
//! (Bazel issue 11910): once the leader is reaped and the last member of its group
//! exits, the number is free for any new process. So the leader's exit is observed
//! with `waitid(.., WEXITED | WNOWAIT)`, which leaves the zombie in place — its PID,
//! and with it the PGID, stay reserved — and it is reaped only after the group was
//! signalled. A pidfd (when the kernel has them) makes timed waits a plain `poll`.

use std::io;
use std::os::fd::AsFd;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::driver::{Drained, Driver, Wait};
use crate::options::TeardownOptions;
use crate::pidfd::PidFd;
use crate::sys::wait::{RawStatus, WaitFlags, Who, wait_exit};
use crate::waiter::{Blocking, BoxFuture, Ready, Waiter, block, sleep_until};
use crate::{CgroupEntry, Method, SpawnError, TeardownError};

/// The leader: a direct child of this process, in its own process group.
#[derive(Debug)]
pub(crate) struct HeldLeader {
    child: Child,
    pid: i32,
    pidfd: Option<PidFd>,
    exited: Option<RawStatus>,
    reaped: bool,
}

impl HeldLeader {
    /// Spawns `cmd` (already configured by the method) and opens a pidfd on it.
    pub(crate) fn spawn(cmd: &mut Command) -> io::Result<HeldLeader> {
        let child = cmd.spawn()?;
        let pid = child.id() as i32;
        Ok(HeldLeader::hold(child, pid))
    }

    /// Holds `pid`, an unreaped direct child of this process, as the leader;
    /// `child` is what `Command::spawn` returned, kept for the leader's stdio (it
    /// is `pid` itself, or the reaped intermediate of a spawn born in a cgroup).
    pub(crate) fn hold(child: Child, pid: i32) -> HeldLeader {
        // Falls back to PID-based waits (never reaping early) if pidfds are missing.
        let pidfd = PidFd::open(pid).ok();
        HeldLeader {
            child,
            pid,
            pidfd,
            exited: None,
            reaped: false,
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The exit status, once observed.
    pub(crate) fn exited(&self) -> Option<RawStatus> {
        self.exited
    }

    pub(crate) fn is_reaped(&self) -> bool {
        self.reaped
    }

    /// Observes the leader's exit without reaping it (blocking).
    pub(crate) fn observe(&mut self, wait: Wait) -> io::Result<Option<RawStatus>> {
        block(self.observe_on(wait, &Blocking))
    }

    /// Waits out a teardown's grace for the leader's exit, through `w`: the
    /// grace, cut to what is left of the deadline counted from `start`. True if
    /// the leader exited within it.
    pub(crate) async fn exits_within_grace(
        &mut self,
        start: Instant,
        opts: TeardownOptions,
        w: &dyn Waiter,
    ) -> Result<bool, TeardownError> {
        let grace = remaining(start, opts.deadline).map_or(opts.grace, |r| r.min(opts.grace));
        let gone = self
            .observe_on(Wait::For(grace), w)
            .await
            .map_err(TeardownError::io("wait for the leader"))?;
        Ok(gone.is_some())
    }

    /// Observes the leader's exit without reaping it, waiting through `w`: on
    /// the pidfd, or without pidfds (before Linux 5.3) by looking again with a
    /// backoff (1 ms doubling to 50 ms).
    pub(crate) async fn observe_on(
        &mut self,
        wait: Wait,
        w: &dyn Waiter,
    ) -> io::Result<Option<RawStatus>> {
        let end = wait.end();
        let mut nap = Duration::from_millis(1);
        loop {
            if self.exited.is_none() {
                self.exited = self.peek(WaitFlags::PEEK_NOHANG)?;
            }
            if self.exited.is_some() {
                return Ok(self.exited);
            }
            let now = Instant::now();
            if end.is_some_and(|e| now >= e) {
                return Ok(None);
            }
            match &self.pidfd {
                Some(fd) => {
                    w.wait(&[(fd.as_fd(), Ready::Read)], end).await?;
                }
                None => {
                    let until = end.map_or(now + nap, |e| e.min(now + nap));
                    sleep_until(w, until).await?;
                    nap = (nap * 2).min(Duration::from_millis(50));
                }
            }
        }
    }

    fn peek(&self, flags: WaitFlags) -> io::Result<Option<RawStatus>> {
        let who = match &self.pidfd {
            Some(fd) => Who::PidFd(fd.as_fd()),
            None => Who::Pid(self.pid),
        };
        Ok(wait_exit(who, flags)?.map(|(_, s)| s))
    }

    /// Sends `sig` to the leader alone. A no-op once it has exited.
    pub(crate) fn signal(&self, sig: i32) -> io::Result<bool> {
        if self.reaped || self.exited.is_some() {
            return Ok(false);
        }
        let r = match &self.pidfd {
            Some(fd) => fd.signal(sig),
            // Safe by PID: the leader is our unreaped child, its PID is reserved.
            None => crate::sys::signal::kill_child(self.pid, sig),
        };
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reaps the leader within what is left of `opts.deadline` since `start`, into
    /// the drain report (`leader`, `reaped`); past the deadline: `Deadline`.
    pub(crate) async fn reap_into(
        &mut self,
        start: Instant,
        opts: TeardownOptions,
        d: &mut Drained,
        w: &dyn Waiter,
    ) -> Result<(), TeardownError> {
        let status = self
            .reap_on(remaining(start, opts.deadline), w)
            .await
            .map_err(TeardownError::io("reap the leader"))?
            .ok_or_else(|| TeardownError::Deadline {
                elapsed: start.elapsed(),
                alive: 1,
            })?;
        d.leader = Some(status);
        d.reaped = 1;
        Ok(())
    }

    /// Waits (up to `timeout`, `None`: forever) for the leader to exit and reaps it.
    /// Returns `None` on timeout.
    pub(crate) async fn reap_on(
        &mut self,
        timeout: Option<Duration>,
        w: &dyn Waiter,
    ) -> io::Result<Option<RawStatus>> {
        if self.reaped {
            return Ok(self.exited);
        }
        let observed = match timeout {
            None => self.observe_on(Wait::Forever, w).await?,
            Some(t) => self.observe_on(Wait::For(t), w).await?,
        };
        if observed.is_none() {
            return Ok(None);
        }
        let who = match &self.pidfd {
            Some(fd) => Who::PidFd(fd.as_fd()),
            None => Who::Pid(self.pid),
        };
        // It has exited (observed above): this does not block.
        let (_, s) = wait_exit(who, WaitFlags::REAP)?
            .ok_or_else(|| io::Error::other("reap found nothing"))?;
        self.exited = Some(s);
        self.reaped = true;
        Ok(Some(s))
    }

    /// Records that the leader was reaped by someone else in this process (the
    /// `killpg-waitpgid` loop).
    pub(crate) fn mark_reaped(&mut self, status: RawStatus) {
        self.exited = Some(status);
        self.reaped = true;
    }
}

/// Time left until `deadline` (`None`: no deadline), measured from `start`.
pub(crate) fn remaining(start: Instant, deadline: Option<Duration>) -> Option<Duration> {
    deadline.map(|d| d.saturating_sub(start.elapsed()))
}

/// Why an in-process method cannot run while this process's children are reaped
/// by the kernel, or `None` if they are not (checked live: the disposition can
/// change at any time, so this is never cached).
pub(crate) fn kernel_reaps_children() -> Option<String> {
    match crate::sys::signal::children_reaped_by_kernel() {
        Ok(false) => None,
        Ok(true) => Some(
            "this process ignores SIGCHLD (SIG_IGN, often inherited across exec, or \
             SA_NOCLDWAIT): the kernel reaps the leader the moment it exits, so its status \
             is lost and its PID and process group can be recycled under the kill; set \
             SIGCHLD to SIG_DFL, or use a shim method (proc-walk, pidns)"
                .to_owned(),
        ),
        Err(e) => Some(format!("cannot read the SIGCHLD disposition: {e}")),
    }
}

/// Spawns `cmd` as the leader of a new process group (the in-process methods'
/// containment), held unreaped. [`SpawnError::Unsupported`] if this process's
/// children are reaped by the kernel ([`kernel_reaps_children`]).
pub(crate) fn spawn_group_leader(
    method: Method,
    cmd: &mut Command,
) -> Result<HeldLeader, SpawnError> {
    use std::os::unix::process::CommandExt;
    if let Some(reason) = kernel_reaps_children() {
        return Err(SpawnError::Unsupported { method, reason });
    }
    cmd.process_group(0);
    HeldLeader::spawn(cmd).map_err(SpawnError::spawn(format!("{:?}", cmd.get_program())))
}

/// How an in-process method kills and drains its tree: all that differs between
/// them ([`HeldTree`] does the rest).
pub(crate) trait Drain: Send {
    /// Whether there is nothing left to do once the leader is reaped: a teardown
    /// called again after an error then reports the reaped leader and stops.
    /// (`cgroup` still has its leaf to remove.)
    const OVER_ONCE_REAPED: bool = true;

    /// Kills and drains the tree (see [`Driver::teardown`]), waiting through
    /// `w`. May be called again after an error or a cancelled call.
    fn drain(
        &mut self,
        t: Teardown<'_>,
        w: &dyn Waiter,
    ) -> impl Future<Output = Result<(), TeardownError>> + Send;

    /// How the leader got into its cgroup (`cgroup`, `cgroup-kill`).
    fn cgroup_entry(&self) -> Option<CgroupEntry> {
        None
    }
}

/// One teardown of a held tree, as a [`Drain`] gets it.
pub(crate) struct Teardown<'a> {
    /// The leader, unreaped until the drain reaps it.
    pub leader: &'a mut HeldLeader,
    /// The grace and the deadline.
    pub opts: TeardownOptions,
    /// What the drain measured; comes with `rounds` at 1.
    pub d: &'a mut Drained,
}

/// A tree driven in this process around one [`HeldLeader`] (`leader`, `killpg`,
/// `killpg-waitpgid`, `cgroup`): its [`Drain`] kills and drains, the rest of
/// [`Driver`] comes from the held leader.
pub(crate) struct HeldTree<D> {
    leader: HeldLeader,
    drain: D,
}

impl<D: Drain + 'static> HeldTree<D> {
    /// The driver of `leader`'s tree, drained by `drain`.
    pub(crate) fn driver(leader: HeldLeader, drain: D) -> Box<dyn Driver> {
        Box::new(HeldTree { leader, drain })
    }

    /// Spawns `cmd` as a group leader ([`spawn_group_leader`]) and drives its tree.
    pub(crate) fn spawn(
        method: Method,
        cmd: &mut Command,
        drain: D,
    ) -> Result<Box<dyn Driver>, SpawnError> {
        Ok(Self::driver(spawn_group_leader(method, cmd)?, drain))
    }
}

impl<D: Drain + 'static> Driver for HeldTree<D> {
    fn leader_pid(&self) -> u32 {
        self.leader.pid() as u32
    }

    fn child(&mut self) -> Option<&mut Child> {
        Some(self.leader.child())
    }

    fn cgroup_entry(&self) -> Option<CgroupEntry> {
        self.drain.cgroup_entry()
    }

    fn wait_leader<'a>(
        &'a mut self,
        wait: Wait,
        w: &'a dyn Waiter,
    ) -> BoxFuture<'a, io::Result<Option<RawStatus>>> {
        Box::pin(self.leader.observe_on(wait, w))
    }

    fn signal_leader(&mut self, sig: i32) -> io::Result<bool> {
        self.leader.observe(Wait::NoHang)?;
        self.leader.signal(sig)
    }

    fn teardown<'a>(
        &'a mut self,
        opts: TeardownOptions,
        w: &'a dyn Waiter,
    ) -> BoxFuture<'a, Result<Drained, TeardownError>> {
        Box::pin(async move {
            let mut d = Drained {
                rounds: 1,
                ..Drained::default()
            };
            if D::OVER_ONCE_REAPED && self.leader.is_reaped() {
                d.leader = self.leader.exited();
                return Ok(d);
            }
            self.drain
                .drain(
                    Teardown {
                        leader: &mut self.leader,
                        opts,
                        d: &mut d,
                    },
                    w,
                )
                .await?;
            Ok(d)
        })
    }
}
