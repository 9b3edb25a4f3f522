//! A spawned, contained tree, and the driver interface every method implements.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::time::Duration;

use crate::sys::wait::{RawStatus, shell_status};
use crate::{DrainReport, Method, SignalError, SpawnError, TeardownError, WaitError};

/// How long dropping a [`Tree`] that was not torn down waits for its SIGKILL
/// teardown before giving up (only a weak method facing an escape can take that
/// long: `subreaper` waits for processes it never signalled).
pub const DROP_DEADLINE: Duration = Duration::from_secs(10);

/// Options for [`Method::spawn_with`]. `Default` is what [`Method::spawn`] uses.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SpawnOptions {
    /// The shim program for the methods that need a dedicated process
    /// (`subreaper`, `proc-walk`, `pidns`) and for `cgroup`'s watchdog: program and
    /// leading arguments. `None`: look it up (see [`crate::shim`]).
    pub shim: Option<(PathBuf, Vec<String>)>,
    /// For `cgroup`: the cgroup2 directory to create the leaf under. `None`: the
    /// supervisor's own cgroup.
    pub cgroup_parent: Option<PathBuf>,
    /// For the shim methods: start the command with an empty environment plus what
    /// `Command::env` set. Needed because `Command::env_clear` cannot be seen through
    /// `Command`'s getters, and the shim execs the command with the environment the
    /// library computes (this process's, with `Command::env`/`env_remove` applied).
    pub clear_env: bool,
    /// For `cgroup`: start a watchdog process (the shim program in `watch-cgroup`
    /// mode, outside the leaf) that kills the tree and removes its leaf if this
    /// process dies before tearing it down. Default `true`; spawning fails with
    /// [`crate::SpawnError::Unsupported`] when the shim program cannot be found.
    /// Turn it off only with a safety net of your own (an enclosing cgroup or
    /// service manager that kills everything when this process dies): without it
    /// a SIGKILLed host leaves the tree running in its leaf.
    pub cgroup_watchdog: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions {
            shim: None,
            cgroup_parent: None,
            clear_env: false,
            cgroup_watchdog: true,
        }
    }
}

impl SpawnOptions {
    /// Options with the shim program set (`program` and its leading arguments, e.g.
    /// `(current_exe, ["__shim"])` for a binary that hosts [`crate::shim::run`]).
    pub fn with_shim(mut self, program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        self.shim = Some((program.into(), args));
        self
    }

    /// Options with the cgroup parent set.
    pub fn with_cgroup_parent(mut self, parent: impl Into<PathBuf>) -> Self {
        self.cgroup_parent = Some(parent.into());
        self
    }

    /// Options with [`SpawnOptions::clear_env`] set.
    pub fn with_clear_env(mut self, clear: bool) -> Self {
        self.clear_env = clear;
        self
    }

    /// Options with [`SpawnOptions::cgroup_watchdog`] set.
    pub fn with_cgroup_watchdog(mut self, watchdog: bool) -> Self {
        self.cgroup_watchdog = watchdog;
        self
    }
}

/// Options for [`Tree::teardown_with`].
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TeardownOptions {
    /// SIGTERM (then SIGCONT) first, wait up to this long for drain, then SIGKILL.
    /// Zero: SIGKILL at once.
    pub grace: Duration,
    /// Give up (with [`TeardownError::Deadline`]) if not drained this long after the
    /// first signal. `None`: wait until drained.
    pub deadline: Option<Duration>,
}

impl TeardownOptions {
    /// Options with this grace and no deadline.
    pub fn new(grace: Duration) -> Self {
        TeardownOptions {
            grace,
            deadline: None,
        }
    }

    /// Options with a deadline.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

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

/// What a driver's teardown measured; [`Tree`] turns it into a [`DrainReport`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Drained {
    pub signalled: u64,
    pub reaped: u64,
    pub rounds: u64,
    pub escalated: bool,
    pub drain: Duration,
    pub leader: Option<RawStatus>,
}

/// One method's live containment of one tree.
pub(crate) trait Driver: Send {
    /// The leader's PID as seen from this process.
    fn leader_pid(&self) -> u32;
    /// The process this library spawned (the leader, or the shim): for its stdio.
    fn child(&mut self) -> &mut Child;
    /// Observes the leader's exit without reaping it (the PID stays reserved).
    fn wait_leader(&mut self, wait: Wait) -> io::Result<Option<RawStatus>>;
    /// Sends `sig` to the leader alone, if it has not exited. True if sent.
    fn signal_leader(&mut self, sig: i32) -> io::Result<bool>;
    /// Kills and drains the tree. May be called again after an error.
    fn teardown(&mut self, opts: TeardownOptions) -> Result<Drained, TeardownError>;
}

/// A command spawned as a contained tree by a [`Method`].
///
/// Dropping a tree that was not torn down tears it down with SIGKILL (waiting at
/// most [`DROP_DEADLINE`]).
pub struct Tree {
    method: Method,
    requested: Method,
    /// For `auto`: the methods tried before `method`, and why each could not run.
    passed_over: Vec<(Method, String)>,
    driver: Box<dyn Driver>,
    report: Option<DrainReport>,
    /// The leader's raw wait status, once a teardown has reaped it.
    leader_raw: Option<RawStatus>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("method", &self.method)
            .field("requested", &self.requested)
            .field("passed_over", &self.passed_over)
            .field("leader_pid", &self.driver.leader_pid())
            .field("report", &self.report)
            .finish()
    }
}

impl Method {
    /// Spawns `cmd` as the leader of a tree contained by this method.
    ///
    /// The library adds to `cmd` (a process group, `pre_exec` hooks): do not spawn
    /// the same `Command` again.
    pub fn spawn(self, cmd: &mut Command) -> Result<Tree, SpawnError> {
        self.spawn_with(cmd, &SpawnOptions::default())
    }

    /// [`Method::spawn`] with options.
    pub fn spawn_with(self, cmd: &mut Command, opts: &SpawnOptions) -> Result<Tree, SpawnError> {
        let picked = match self {
            Method::Auto => crate::method::spawn_auto(cmd, opts)?,
            m => crate::method::auto::Picked {
                method: m,
                driver: spawn_driver(m, cmd, opts)?,
                passed_over: Vec::new(),
            },
        };
        Ok(Tree {
            method: picked.method,
            requested: self,
            driver: picked.driver,
            passed_over: picked.passed_over,
            report: None,
            leader_raw: None,
        })
    }
}

/// Spawns `cmd` with `method` (not `auto`, which calls this for each method it
/// tries).
pub(crate) fn spawn_driver(
    method: Method,
    cmd: &mut Command,
    opts: &SpawnOptions,
) -> Result<Box<dyn Driver>, SpawnError> {
    Ok(match method {
        Method::Leader => crate::method::spawn_leader(cmd)?,
        Method::Killpg => crate::method::spawn_killpg(cmd)?,
        Method::KillpgWaitpgid => crate::method::spawn_killpg_waitpgid(cmd)?,
        Method::Cgroup | Method::CgroupKill => crate::method::spawn_cgroup(method, cmd, opts)?,
        Method::Subreaper | Method::ProcWalk | Method::Pidns => {
            Box::new(crate::shim::host::ShimTree::spawn(method, cmd, opts)?)
        }
        Method::Auto => unreachable!("auto spawns with the methods it tries"),
    })
}

impl Tree {
    /// The method in use (for `auto`: the one picked).
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method asked for (`auto`, or the same as [`Tree::method`]).
    pub fn requested(&self) -> Method {
        self.requested
    }

    /// For `auto`: the methods it tried before [`Tree::method`], in its order of
    /// preference, each with why it cannot run here (the reason its spawn gave
    /// with [`SpawnError::Unsupported`]). Empty when its first choice ran, and for
    /// every other method.
    pub fn passed_over(&self) -> &[(Method, String)] {
        &self.passed_over
    }

    /// The leader's PID, as seen from this process.
    pub fn leader_pid(&self) -> u32 {
        self.driver.leader_pid()
    }

    /// The write end of the leader's stdin, if the command had `Stdio::piped()`.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.driver.child().stdin.take()
    }

    /// The read end of the leader's stdout, if the command had `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.driver.child().stdout.take()
    }

    /// The read end of the leader's stderr, if the command had `Stdio::piped()`.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.driver.child().stderr.take()
    }

    /// Blocks until the leader exits; does not tear down the rest of the tree.
    ///
    /// The leader is not reaped until [`Tree::teardown`] (so its PID and process
    /// group cannot be reused while the tree may still be signalled).
    pub fn wait_leader(&mut self) -> Result<ExitStatus, WaitError> {
        match self.wait(Wait::Forever)? {
            Some(s) => Ok(s),
            None => Err(WaitError::Io(io::Error::other(
                "leader wait returned without a status",
            ))),
        }
    }

    /// [`Tree::wait_leader`] with a timeout: `Ok(None)` if it is still running.
    pub fn wait_leader_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<ExitStatus>, WaitError> {
        self.wait(Wait::For(timeout))
    }

    /// Non-blocking: the leader's status if it has exited.
    pub fn try_wait_leader(&mut self) -> Result<Option<ExitStatus>, WaitError> {
        self.wait(Wait::NoHang)
    }

    fn wait(&mut self, wait: Wait) -> Result<Option<ExitStatus>, WaitError> {
        if self.report.is_some() {
            return Ok(self.leader_raw.map(ExitStatus::from_raw));
        }
        let raw = self.driver.wait_leader(wait).map_err(WaitError::Io)?;
        Ok(raw.map(ExitStatus::from_raw))
    }

    /// Sends signal `sig` to the leader alone (what a supervisor forwards:
    /// `SIGUSR1`, `SIGWINCH`, ...), if it has not exited and the tree was not
    /// torn down. `Ok(false)` if there was nobody to send it to. The signal goes
    /// through the method's own handle on the leader (a pidfd, or the shim that
    /// is its parent), never by a PID that could have been reused.
    pub fn signal_leader(&mut self, sig: i32) -> Result<bool, SignalError> {
        if self.report.is_some() {
            return Ok(false);
        }
        self.driver.signal_leader(sig).map_err(SignalError::Io)
    }

    /// Tears the whole tree down; returns only when it is drained.
    pub fn teardown(&mut self, grace: Duration) -> Result<DrainReport, TeardownError> {
        self.teardown_with(TeardownOptions {
            grace,
            deadline: None,
        })
    }

    /// [`Tree::teardown`] with options. A second call returns the first report.
    pub fn teardown_with(&mut self, opts: TeardownOptions) -> Result<DrainReport, TeardownError> {
        if let Some(r) = &self.report {
            return Ok(r.clone());
        }
        let d = self.driver.teardown(opts)?;
        let report = DrainReport {
            method: self.method,
            requested: self.requested,
            signalled: d.signalled,
            reaped: d.reaped,
            rounds: d.rounds,
            escalated: d.escalated,
            drain: d.drain,
            leader_status: d.leader.map(shell_status),
        };
        self.report = Some(report.clone());
        self.leader_raw = d.leader;
        Ok(report)
    }

    /// The report of a finished teardown, if any.
    pub fn report(&self) -> Option<&DrainReport> {
        self.report.as_ref()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if self.report.is_none() {
            let _ = self.teardown_with(TeardownOptions {
                grace: Duration::ZERO,
                deadline: Some(DROP_DEADLINE),
            });
        }
    }
}
