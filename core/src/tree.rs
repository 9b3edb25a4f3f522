//! A spawned, contained tree: the public face of every method.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::time::Duration;

use crate::driver::{Driver, Wait};
use crate::method::auto::{self, Picked};
use crate::method::spawn_driver;
use crate::options::{DROP_DEADLINE, SpawnOptions, TeardownOptions};
use crate::sys::wait::RawStatus;
use crate::waiter::{Blocking, Waiter, block};
use crate::{CgroupEntry, DrainReport, Method, SignalError, SpawnError, TeardownError, WaitError};

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
            Method::Auto => auto::spawn(cmd, opts)?,
            m => Picked {
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

    /// For `cgroup` and `cgroup-kill`: how the leader got into its cgroup leaf —
    /// born there by `clone3(CLONE_INTO_CGROUP)`, or moved in by a write to
    /// `cgroup.procs` when the kernel refused that (see [`CgroupEntry`]). `None`
    /// for the other methods (`pidns` makes its leaf in the shim, and its init is
    /// always born there).
    pub fn cgroup_entry(&self) -> Option<CgroupEntry> {
        self.driver.cgroup_entry()
    }

    /// The write end of the leader's stdin, if the command had `Stdio::piped()`.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.driver.child()?.stdin.take()
    }

    /// The read end of the leader's stdout, if the command had `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.driver.child()?.stdout.take()
    }

    /// The read end of the leader's stderr, if the command had `Stdio::piped()`.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.driver.child()?.stderr.take()
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
        block(self.wait_on(wait, &Blocking))
    }

    /// Waits for the leader through `w` (the blocking and the async front).
    pub(crate) async fn wait_on(
        &mut self,
        wait: Wait,
        w: &dyn Waiter,
    ) -> Result<Option<ExitStatus>, WaitError> {
        if self.report.is_some() {
            return Ok(self.leader_raw.map(ExitStatus::from_raw));
        }
        let raw = self
            .driver
            .wait_leader(wait, w)
            .await
            .map_err(WaitError::Io)?;
        Ok(raw.map(ExitStatus::from_raw))
    }

    /// Sends signal `sig` to the leader alone (what a supervisor forwards:
    /// `SIGUSR1`, `SIGWINCH`, ...), if it has not exited and the tree was not
    /// torn down. `Ok(false)` if there was nobody to send it to. The signal goes
    /// through the method's own handle on the leader (a pidfd, or the shim that
    /// is its parent), never by a PID that could have been reused. Never blocks:
    /// when a shim stopped by its own tree has let its control pipe fill up, the
    /// error's source is an `io::Error` of kind `WouldBlock` and nothing is sent.
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
        block(self.teardown_on(opts, &Blocking))
    }

    /// Tears the tree down through `w` (the blocking and the async front). A
    /// call cancelled midway leaves what it sent sent; the next call carries on.
    pub(crate) async fn teardown_on(
        &mut self,
        opts: TeardownOptions,
        w: &dyn Waiter,
    ) -> Result<DrainReport, TeardownError> {
        if let Some(r) = &self.report {
            return Ok(r.clone());
        }
        let d = self.driver.teardown(opts, w).await?;
        let report = d.report(self.method, self.requested);
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
