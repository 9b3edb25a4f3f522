//! The options of a spawn and of a teardown, which every layer passes down.

use std::path::PathBuf;
use std::time::Duration;

/// How long dropping a [`crate::Tree`] that was not torn down waits for its SIGKILL
/// teardown before giving up (only a weak method facing an escape can take that
/// long: `subreaper` waits for processes it never signalled).
pub const DROP_DEADLINE: Duration = Duration::from_secs(10);

/// Options for [`crate::Method::spawn_with`]. `Default` is what [`crate::Method::spawn`] uses.
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
    /// For the shim methods (`subreaper`, `proc-walk`, `pidns`), in a
    /// single-threaded host: fork the shim from this process instead of exec'ing
    /// the shim program (one exec less per spawn: what `teardown run` does).
    /// Spawning fails with [`crate::SpawnError::Unsupported`] if this process has
    /// more than one thread. The shim is then a copy of this process, and the
    /// leader is spawned (by the shim, or `pidns`'s init) from its copy of the
    /// `Command` itself, so everything set on it reaches the leader as with a
    /// plain spawn: stdio, cwd, `env_clear` and `env`, uid/gid, `arg0`, the
    /// caller's `pre_exec` hooks (which run in the leader, not in the shim). But:
    /// `Stdio::piped()` cannot be used (its pipes would be made in the shim: the
    /// spawn fails with `EOPNOTSUPP` after killing the leader), and the shim
    /// keeps this process's open descriptors until the tree is torn down, as any
    /// fork does. `pidns` forks no shim but the namespace's init
    /// itself (a copy of this process, in the new namespace), and this process
    /// does the shim's part (`method/pidns/direct.rs`): one process less per
    /// tree. Default `false`.
    pub forked_shim: bool,
    /// Start the leader with no signal blocked, whatever the mask of the thread
    /// that spawns it (a `Command`'s child inherits that mask; a supervisor that
    /// reads its signals from a signalfd blocks them all, as `teardown run`
    /// does). The shim methods always do (the shim's own mask is never the
    /// leader's); for the in-process methods this adds a `pre_exec` hook. Default
    /// `false`: the in-process methods' leader inherits the mask, as with a
    /// plain spawn.
    pub unblock_signals: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions {
            shim: None,
            cgroup_parent: None,
            clear_env: false,
            cgroup_watchdog: true,
            forked_shim: false,
            unblock_signals: false,
        }
    }
}

impl SpawnOptions {
    /// Options with the shim program set (`program` and its leading arguments, e.g.
    /// `(current_exe, ["__shim"])` for a binary that hosts [`crate::run_shim`]).
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

    /// Options with [`SpawnOptions::forked_shim`] set.
    pub fn with_forked_shim(mut self, forked: bool) -> Self {
        self.forked_shim = forked;
        self
    }

    /// Options with [`SpawnOptions::unblock_signals`] set.
    pub fn with_unblocked_signals(mut self, unblock: bool) -> Self {
        self.unblock_signals = unblock;
        self
    }

    /// Options with [`SpawnOptions::cgroup_watchdog`] set.
    pub fn with_cgroup_watchdog(mut self, watchdog: bool) -> Self {
        self.cgroup_watchdog = watchdog;
        self
    }
}

/// Options for [`crate::Tree::teardown_with`].
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TeardownOptions {
    /// SIGTERM (then SIGCONT) first, wait up to this long for drain, then SIGKILL.
    /// Zero: SIGKILL at once.
    pub grace: Duration,
    /// Give up (with [`crate::TeardownError::Deadline`]) if not drained this long after the
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
