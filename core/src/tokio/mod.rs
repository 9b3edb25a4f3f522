//! The async front (feature `tokio`): the same trees, methods and reports as
//! [`crate::Tree`], awaited in a tokio runtime with no thread blocked per tree.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::process::Command;
//! use std::time::Duration;
//! use teardown::{Method, SpawnOptions};
//!
//! let mut cmd = Command::new("sh");
//! cmd.args(["-c", "sleep 100 & setsid sleep 100 & wait"]);
//! let mut tree = teardown::tokio::spawn(Method::Auto, &mut cmd, &SpawnOptions::default())?;
//! let exited = tokio::time::timeout(Duration::from_secs(1), tree.wait_leader()).await;
//! let report = tree.teardown(Duration::from_secs(2)).await?; // SIGTERM, 2 s grace, SIGKILL
//! # let _ = (exited, report);
//! # Ok(())
//! # }
//! ```
//!
//! A `tokio::process::Command` user passes `cmd.as_std_mut()` (tokio's
//! `process` feature). The runtime needs its IO and time drivers
//! (`Builder::enable_all`, as `#[tokio::main]` and `#[tokio::test]` have); a
//! current-thread runtime is enough.
//!
//! # One implementation, no thread per tree
//!
//! Every method's teardown and leader wait is written once, as an `async`
//! function that waits only through a waiter: until one of the descriptors the
//! method already holds is ready — the leader's pidfd, the leaf's
//! `cgroup.events` (`POLLPRI`), a member's pidfd, the shim's event pipe, the
//! watchdog's pidfd — or a deadline passes. [`crate::Tree`] runs it with
//! `ppoll(2)` in the calling thread; [`AsyncTree`] with those descriptors on
//! tokio's `AsyncFd` and its timer, so a thousand trees tearing down at once
//! use the runtime's threads and nothing else. What it does between waits is
//! short and non-blocking: signals, `waitid(WNOHANG)` (a reap comes only once
//! the pidfd said the process exited), reads of `/proc` and the cgroup files,
//! one `write(cgroup.kill)`. Where there is no descriptor to wait on it looks
//! again on a backoff timer (1 ms doubling to 50 ms): `killpg-waitpgid`'s
//! `waitpid(-pgid)` past the leader, and every leader wait on kernels without
//! pidfds (before 5.3). No step runs on `spawn_blocking`.
//!
//! [`spawn`] itself is synchronous, as `tokio::process::Command::spawn` is: it
//! forks and execs in the calling thread and returns once the command runs (the
//! shim methods: once the shim reports the leader spawned, a few milliseconds;
//! `cgroup`: a lone spawn can wait ~15 ms for its `cgroup.procs` write, see the
//! crate's Limitations). Call it inside `spawn_blocking` if that matters to you.
//!
//! # Cancellation
//!
//! Every future here may be dropped at any await. [`AsyncTree::wait_leader`]
//! loses nothing (an exit it saw is kept). A dropped [`AsyncTree::teardown`]
//! leaves the tree in a defined state: what it sent stays sent (a SIGTERM, a
//! `cgroup.kill`, the shim's teardown request) and the next call carries on
//! from what it finds — the in-process methods look at the tree again and
//! signal what is left (with the new call's grace); a shim method waits for
//! the outcome of the request already sent (with the first call's grace);
//! `cgroup` waits again for the members it had not seen exit. A call that
//! completes returns the report, and every later call returns the same report.
//!
//! # Drop
//!
//! Dropping an [`AsyncTree`] that was not torn down never blocks the runtime:
//! inside a runtime it hands the tree to a task spawned on it, which tears it
//! down with SIGKILL (grace zero, [`crate::DROP_DEADLINE`]) asynchronously.
//! Outside a runtime it does what dropping a [`crate::Tree`] does (a blocking
//! SIGKILL teardown). Should that task's teardown fail (its deadline passed:
//! only `subreaper` facing an escape gets there), the tree is dropped on
//! `spawn_blocking`, whose drop tries once more. If the runtime shuts down before that task ran, the task
//! is dropped with the tree, and the tree's own drop finishes the teardown,
//! blocking, in the thread that shuts the runtime down: nothing is left behind
//! either way. But a process that ends with `std::process::exit` right after
//! the drop runs neither: the strong methods still drain (the shim sees its
//! host's end, the `cgroup` watchdog sees its host die), `leader`, `killpg`,
//! `killpg-waitpgid` and `cgroup` without a watchdog leave the tree. Tear
//! down with `.await` before exiting.
//!
//! # Limits
//!
//! * `cgroup`'s graceful SIGTERM reads the leaf's members again until a read
//!   finds nobody new, bounded by the grace: a tree forking as fast as it is
//!   read keeps that (non-blocking) loop busy on a runtime thread up to the
//!   grace, as it keeps the blocking front's thread.
//! * A shim that died without reporting leaves its leaf (`pidns`) for the host
//!   to kill and remove: that too waits through the runtime.

mod waiter;

use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::time::Duration;

use crate::driver::Wait;
use crate::options::{DROP_DEADLINE, SpawnOptions, TeardownOptions};
use crate::{DrainReport, Method, SignalError, SpawnError, TeardownError, Tree, WaitError};
use waiter::TokioWaiter;

/// Spawns `cmd` as the leader of a tree contained by `method`, for a tokio
/// program: [`Method::spawn_with`], then [`AsyncTree::from`]. Synchronous, as
/// `tokio::process::Command::spawn` is (see the module docs).
pub fn spawn(
    method: Method,
    cmd: &mut Command,
    opts: &SpawnOptions,
) -> Result<AsyncTree, SpawnError> {
    Ok(AsyncTree::from(method.spawn_with(cmd, opts)?))
}

/// A [`Tree`] awaited in a tokio runtime: the same methods, with `async` waits
/// and teardown that block no thread (see the module docs).
#[derive(Debug)]
pub struct AsyncTree {
    /// `None` only while being dropped.
    tree: Option<Tree>,
}

impl From<Tree> for AsyncTree {
    fn from(tree: Tree) -> AsyncTree {
        AsyncTree { tree: Some(tree) }
    }
}

impl AsyncTree {
    fn tree(&self) -> &Tree {
        self.tree.as_ref().expect("present until dropped")
    }

    fn tree_mut(&mut self) -> &mut Tree {
        self.tree.as_mut().expect("present until dropped")
    }

    /// The method in use (for `auto`: the one picked).
    pub fn method(&self) -> Method {
        self.tree().method()
    }

    /// The method asked for.
    pub fn requested(&self) -> Method {
        self.tree().requested()
    }

    /// For `auto`: the methods passed over, and why ([`Tree::passed_over`]).
    pub fn passed_over(&self) -> &[(Method, String)] {
        self.tree().passed_over()
    }

    /// The leader's PID, as seen from this process.
    pub fn leader_pid(&self) -> u32 {
        self.tree().leader_pid()
    }

    /// The write end of the leader's stdin, if piped.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.tree_mut().take_stdin()
    }

    /// The read end of the leader's stdout, if piped.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.tree_mut().take_stdout()
    }

    /// The read end of the leader's stderr, if piped.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.tree_mut().take_stderr()
    }

    /// Waits until the leader exits; does not tear down the rest of the tree nor
    /// reap the leader (see [`Tree::wait_leader`]). Cancellation-safe; bound it
    /// with `tokio::time::timeout`.
    pub async fn wait_leader(&mut self) -> Result<ExitStatus, WaitError> {
        match self.tree_mut().wait_on(Wait::Forever, &TokioWaiter).await? {
            Some(s) => Ok(s),
            None => Err(WaitError::Io(std::io::Error::other(
                "leader wait returned without a status",
            ))),
        }
    }

    /// Non-blocking: the leader's status if it has exited.
    pub fn try_wait_leader(&mut self) -> Result<Option<ExitStatus>, WaitError> {
        self.tree_mut().try_wait_leader()
    }

    /// Sends `sig` to the leader alone ([`Tree::signal_leader`]; never blocks).
    pub fn signal_leader(&mut self, sig: i32) -> Result<bool, SignalError> {
        self.tree_mut().signal_leader(sig)
    }

    /// Tears the whole tree down: SIGTERM, up to `grace`, then SIGKILL; returns
    /// only when it is drained. Cancellation-safe (see the module docs).
    pub async fn teardown(&mut self, grace: Duration) -> Result<DrainReport, TeardownError> {
        self.teardown_with(TeardownOptions::new(grace)).await
    }

    /// [`AsyncTree::teardown`] with options. A call after one that completed
    /// returns its report.
    pub async fn teardown_with(
        &mut self,
        opts: TeardownOptions,
    ) -> Result<DrainReport, TeardownError> {
        self.tree_mut().teardown_on(opts, &TokioWaiter).await
    }

    /// The report of a finished teardown, if any.
    pub fn report(&self) -> Option<&DrainReport> {
        self.tree().report()
    }

    /// The blocking [`Tree`] again (whose drop blocks: see [`crate::Tree`]).
    pub fn into_tree(mut self) -> Tree {
        self.tree.take().expect("present until dropped")
    }
}

impl Drop for AsyncTree {
    fn drop(&mut self) {
        let Some(mut tree) = self.tree.take() else {
            return;
        };
        if tree.report().is_some() {
            return;
        }
        // Outside a runtime: the tree's own (blocking) drop.
        if let Ok(rt) = ::tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let opts = TeardownOptions::new(Duration::ZERO).with_deadline(DROP_DEADLINE);
                if tree.teardown_on(opts, &TokioWaiter).await.is_err() {
                    // The tree's own drop tries once more, blocking: not here.
                    ::tokio::task::spawn_blocking(move || drop(tree));
                }
            });
        }
    }
}
