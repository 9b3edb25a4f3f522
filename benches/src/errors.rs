//! Errors of the bench rig, one enum per operation.

use std::io;
use std::time::Duration;

/// Setting up or using the independent drain observer failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserverError {
    /// This process has no cgroup2 directory (no mount, no `0::` line).
    #[error(transparent)]
    NoCgroup(#[from] teardown_harness::cgroup2::Cgroup2Error),
    /// A file system operation on the cgroup or `/proc` failed.
    #[error("failed to {what}")]
    Io {
        /// The step that failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The tree was expected to be running but the observer sees nothing.
    #[error("the tree is not running under the observer before the clock starts")]
    NotRunning,
    /// The tree did not drain within the deadline after the method returned.
    #[error("tree not drained {waited:?} after the teardown returned")]
    NotDrained {
        /// How long the observer waited.
        waited: Duration,
    },
}

/// Reading a tree's readiness records failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadyError {
    /// Creating, opening or reading the readiness FIFO failed.
    #[error("failed to {what}")]
    Io {
        /// The step that failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Fewer records than processes arrived before the deadline.
    #[error("only {got} of {want} processes reported ready within {waited:?}")]
    Timeout {
        /// Records read.
        got: usize,
        /// Records expected.
        want: usize,
        /// How long the reader waited.
        waited: Duration,
    },
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ObserverError {
    let what = what.into();
    move |source| ObserverError::Io { what, source }
}

/// An error and its causes, `: `-separated (what a bench prints on failure).
pub use teardown_harness::errors::chain as error_chain;
