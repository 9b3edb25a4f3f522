//! Errors, one enum per operation.

use std::io;

use crate::Method;

pub use crate::method_name::ParseMethodError;

/// Spawning a contained tree failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The method cannot run on this host or in this process.
    #[error("method {method} is unsupported here: {reason}")]
    Unsupported {
        /// The method asked for.
        method: Method,
        /// Why it cannot run (what is missing, what to do).
        reason: String,
    },
    /// The command (or the shim) could not be spawned.
    #[error("failed to spawn {what}")]
    Spawn {
        /// What was being spawned.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Setting up containment (a cgroup, a namespace, the shim) failed.
    #[error("failed to set up {what}")]
    Setup {
        /// The step that failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Waiting for the leader failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The wait system call (or the shim's report of it) failed.
    #[error("failed to wait for the leader")]
    Io(#[source] io::Error),
}

/// Sending a signal to the leader failed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The system call, or the write to the shim's control pipe, failed.
    #[error("failed to signal the leader")]
    Io(#[source] io::Error),
}

/// Tearing the tree down failed.
#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    /// The deadline passed and the tree was not drained.
    #[error("tree not drained after {elapsed:?}: {alive} process(es) still alive")]
    Deadline {
        /// Time since the first signal.
        elapsed: std::time::Duration,
        /// Processes known to be alive at the deadline.
        alive: usize,
    },
    /// A system call or the shim protocol failed.
    #[error("teardown failed: {what}")]
    Io {
        /// The step that failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl TeardownError {
    /// Wraps an I/O error from the step `what`.
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> TeardownError {
        move |source| TeardownError::Io {
            what: what.to_owned(),
            source,
        }
    }
}

impl SpawnError {
    /// Wraps an I/O error from setting up `what`.
    pub(crate) fn setup(what: impl Into<String>) -> impl FnOnce(io::Error) -> SpawnError {
        let what = what.into();
        move |source| SpawnError::Setup { what, source }
    }

    /// Wraps an I/O error from spawning `what`.
    pub(crate) fn spawn(what: impl Into<String>) -> impl FnOnce(io::Error) -> SpawnError {
        let what = what.into();
        move |source| SpawnError::Spawn { what, source }
    }
}

/// The shim program failed before it could speak its protocol.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// The shim was started with arguments it does not understand.
    #[error("bad arguments: {0} (the shim is started by the teardown library, not by hand)")]
    Usage(String),
    /// A setup step failed.
    #[error("failed to {what}")]
    Io {
        /// The step that failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl ShimError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> ShimError {
        move |source| ShimError::Io {
            what: what.to_owned(),
            source,
        }
    }
}
