//! A `process-wrap` child (feature `process-wrap`): a watchexec-style program on
//! `process_wrap::std` gets drained teardown by spawning through
//! [`Spawner::std`] instead of its `ProcessGroup`/`ProcessSession` wrapper; on
//! `process_wrap::tokio` (features `process-wrap` and `tokio`), through
//! `Spawner::tokio`.
//!
//! ```no_run
//! use process_wrap::std::CommandWrap;
//! use teardown::Method;
//! use teardown::process_wrap::Spawner;
//!
//! let mut child = CommandWrap::with_new("sh", |c| {
//!     c.args(["-c", "sleep 100 & setsid sleep 100 & wait"]);
//! })
//! .spawn_with_child(Spawner::new(Method::Auto).std())?;
//! child.kill()?; // every process of the tree gone and reaped, the setsid one too
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Why a spawner and not a wrapper
//!
//! process-wrap's wrappers adjust a `Command` that process-wrap spawns
//! itself (`pre_spawn`, `post_spawn`) and wrap the child it made
//! (`wrap_child`). A method here must make the process itself — the shim
//! methods exec their shim in place of the command, `cgroup` makes its leaf
//! first — so the tree comes in through `CommandWrap::spawn_with_child`, which
//! still runs every wrapper's `pre_spawn` and `wrap_child`. Do not stack
//! `ProcessGroup` or `ProcessSession` on it: the method puts the leader in a
//! group (or namespace) of its own already, and their `killpg` +
//! `waitpid(-pgid)` would work around it.
//!
//! # What each call does
//!
//! * `start_kill` (and so `kill`): a teardown with SIGKILL at once; it returns
//!   when the tree is drained (milliseconds), since the library has no kill
//!   that does not drain.
//! * `wait`: waits for the leader, then tears down what it left (with the
//!   spawner's grace) and returns the leader's status: when it returns,
//!   nothing of the tree is left, as `ProcessGroupChild::wait` means for its
//!   group. `try_wait` does the same once the leader has exited.
//! * `signal`: to the leader alone, through the method's handle on it.
//! * Dropping the child without waiting tears the tree down with SIGKILL (the
//!   [`Tree`] drop), where `std::process::Child` would leave it running.

use std::io;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::sync::Mutex;
use std::time::Duration;

use ::process_wrap::std::ChildWrapper;

/// The part of process-wrap's `ChildWrapper` (std and tokio alike) that a
/// terminal child fills the same way: it is its own inner child, and hands out
/// its `stdin`, `stdout` and `stderr` fields.
macro_rules! terminal_child {
    () => {
        fn inner(&self) -> &dyn ChildWrapper {
            self
        }

        fn inner_mut(&mut self) -> &mut dyn ChildWrapper {
            self
        }

        fn into_inner(self: Box<Self>) -> Box<dyn ChildWrapper> {
            self
        }

        fn stdin(&mut self) -> &mut Option<ChildStdin> {
            &mut self.stdin
        }

        fn stdout(&mut self) -> &mut Option<ChildStdout> {
            &mut self.stdout
        }

        fn stderr(&mut self) -> &mut Option<ChildStderr> {
            &mut self.stderr
        }
    };
}

#[cfg(feature = "tokio")]
pub mod tokio;

use crate::{Method, SpawnOptions, Tree};

/// How `CommandWrap::spawn_with_child` spawns a command as a tree: the method,
/// the spawn options, and the grace `wait` gives what the leader left behind
/// (2 s unless set). [`Spawner::std`] for `process_wrap::std`,
/// `Spawner::tokio` for `process_wrap::tokio` (feature `tokio` too).
#[derive(Clone, Debug)]
pub struct Spawner {
    method: Method,
    opts: SpawnOptions,
    grace: Duration,
}

impl Spawner {
    /// Spawns with `method`, default options, and a 2 s grace.
    pub fn new(method: Method) -> Spawner {
        Spawner {
            method,
            opts: SpawnOptions::default(),
            grace: Duration::from_secs(2),
        }
    }

    /// With these spawn options.
    pub fn with_options(mut self, opts: SpawnOptions) -> Spawner {
        self.opts = opts;
        self
    }

    /// With this grace for what the leader leaves behind (`wait`).
    pub fn with_grace(mut self, grace: Duration) -> Spawner {
        self.grace = grace;
        self
    }

    /// The spawner for `process_wrap::std::CommandWrap::spawn_with_child`.
    pub fn std(self) -> impl FnOnce(&mut Command) -> io::Result<Box<dyn ChildWrapper>> {
        move |cmd| {
            let tree = self
                .method
                .spawn_with(cmd, &self.opts)
                .map_err(io::Error::other)?;
            Ok(Box::new(TeardownChild::new(tree, self.grace)))
        }
    }
}

/// A [`Tree`] as process-wrap's child (see the module docs).
#[derive(Debug)]
pub struct TeardownChild {
    /// In a mutex only because process-wrap's children are `Sync`.
    tree: Mutex<Tree>,
    pid: u32,
    grace: Duration,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

impl TeardownChild {
    /// Wraps `tree`; `wait` gives what the leader leaves behind `grace`.
    pub fn new(mut tree: Tree, grace: Duration) -> TeardownChild {
        TeardownChild {
            pid: tree.leader_pid(),
            stdin: tree.take_stdin(),
            stdout: tree.take_stdout(),
            stderr: tree.take_stderr(),
            tree: Mutex::new(tree),
            grace,
        }
    }

    fn tree(&mut self) -> &mut Tree {
        self.tree.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree's drain report, once torn down.
    pub fn report(&mut self) -> Option<crate::DrainReport> {
        self.tree().report().cloned()
    }

    /// Tears the tree down with `grace` and returns the leader's status.
    fn drain(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        let tree = self.tree();
        tree.teardown(grace).map_err(io::Error::other)?;
        tree.try_wait_leader()
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("the teardown reaped no leader"))
    }
}

impl ChildWrapper for TeardownChild {
    terminal_child!();

    fn id(&self) -> u32 {
        self.pid
    }

    fn start_kill(&mut self) -> io::Result<()> {
        self.drain(Duration::ZERO).map(drop)
    }

    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let exited = self.tree().try_wait_leader().map_err(io::Error::other)?;
        match exited {
            Some(_) => self.drain(self.grace).map(Some),
            None => Ok(None),
        }
    }

    fn wait(&mut self) -> io::Result<ExitStatus> {
        self.tree().wait_leader().map_err(io::Error::other)?;
        self.drain(self.grace)
    }

    fn signal(&self, sig: i32) -> io::Result<()> {
        let mut tree = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        tree.signal_leader(sig).map(drop).map_err(io::Error::other)
    }
}
