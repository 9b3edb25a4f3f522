//! Errors of the bench rig, one enum per operation.

use std::io;
use std::time::Duration;

/// `error: cause: cause ...`: an error and its sources on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Setting up or using the independent drain observer failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserverError {
    /// No cgroup2 file system is mounted (see `/proc/self/mountinfo`).
    #[error("no cgroup2 mount in /proc/self/mountinfo")]
    NoCgroup2,
    /// `/proc/self/cgroup` has no `0::` line.
    #[error("this process has no cgroup2 path in /proc/self/cgroup")]
    NoOwnCgroup,
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
