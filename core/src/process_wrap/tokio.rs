//! The tokio twin of [`super::TeardownChild`] (features `process-wrap` and
//! `tokio`): an [`AsyncTree`] as `process_wrap::tokio`'s child.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use process_wrap::tokio::CommandWrap;
//! use teardown::Method;
//! use teardown::process_wrap::Spawner;
//!
//! let mut child = CommandWrap::with_new("sh", |c| {
//!     c.args(["-c", "sleep 100 & setsid sleep 100 & wait"]);
//! })
//! .spawn_with_child(Spawner::new(Method::Auto).tokio())?;
//! Box::into_pin(child.kill()).await?; // the whole tree drained, no thread blocked
//! # Ok(())
//! # }
//! ```
//!
//! As for the std child, except where tokio's trait wants no waiting:
//! `start_kill` sends SIGKILL to the leader at once and marks the child
//! killed; the next `wait` (which `kill` awaits) then tears the rest down with
//! SIGKILL rather than the grace. `try_wait` does not tear down (it cannot
//! wait); `wait` does, asynchronously. Dropping the child drops the
//! [`AsyncTree`] (see its drop).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitStatus;
use std::time::Duration;

use ::process_wrap::tokio::ChildWrapper;
use ::tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};

use crate::tokio::AsyncTree;

impl super::Spawner {
    /// The spawner for `process_wrap::tokio::CommandWrap::spawn_with_child`.
    /// Call it inside the runtime (the pipes are registered with it).
    pub fn tokio(self) -> impl FnOnce(&mut Command) -> io::Result<Box<dyn ChildWrapper>> {
        move |cmd| {
            let mut tree = crate::tokio::spawn(self.method, cmd.as_std_mut(), &self.opts)
                .map_err(io::Error::other)?;
            let stdin = tree.take_stdin().map(ChildStdin::from_std).transpose()?;
            let stdout = tree.take_stdout().map(ChildStdout::from_std).transpose()?;
            let stderr = tree.take_stderr().map(ChildStderr::from_std).transpose()?;
            Ok(Box::new(AsyncTeardownChild {
                pid: tree.leader_pid(),
                tree: std::sync::Mutex::new(tree),
                grace: self.grace,
                killed: false,
                stdin,
                stdout,
                stderr,
            }))
        }
    }
}

/// An [`AsyncTree`] as process-wrap's tokio child (see the module docs).
#[derive(Debug)]
pub struct AsyncTeardownChild {
    /// In a mutex only because process-wrap's children are `Sync`.
    tree: std::sync::Mutex<AsyncTree>,
    pid: u32,
    grace: Duration,
    /// `start_kill` was called: `wait` drains with SIGKILL.
    killed: bool,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

impl AsyncTeardownChild {
    fn tree(&mut self) -> &mut AsyncTree {
        self.tree.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree's drain report, once torn down.
    pub fn report(&mut self) -> Option<crate::DrainReport> {
        self.tree().report().cloned()
    }

    /// Waits for the leader (unless killed), tears the tree down, and returns
    /// the leader's status.
    async fn wait_and_drain(&mut self) -> io::Result<ExitStatus> {
        let grace = if self.killed {
            Duration::ZERO
        } else {
            self.grace
        };
        let tree = self.tree();
        if grace > Duration::ZERO {
            tree.wait_leader().await.map_err(io::Error::other)?;
        }
        tree.teardown(grace).await.map_err(io::Error::other)?;
        tree.try_wait_leader()
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("the teardown reaped no leader"))
    }
}

impl ChildWrapper for AsyncTeardownChild {
    terminal_child!();

    fn id(&self) -> Option<u32> {
        Some(self.pid)
    }

    fn start_kill(&mut self) -> io::Result<()> {
        self.killed = true;
        self.tree()
            .signal_leader(libc::SIGKILL)
            .map(drop)
            .map_err(io::Error::other)
    }

    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.tree().try_wait_leader().map_err(io::Error::other)
    }

    fn wait(&mut self) -> Pin<Box<dyn Future<Output = io::Result<ExitStatus>> + Send + '_>> {
        Box::pin(self.wait_and_drain())
    }

    fn signal(&self, sig: i32) -> io::Result<()> {
        let mut tree = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        tree.signal_leader(sig).map(drop).map_err(io::Error::other)
    }
}
