//! The only module of this crate allowed `unsafe`: `fork` for the single-threaded
//! tree helper.
#![allow(unsafe_code)]

use std::io;

use nix::unistd::{ForkResult, Pid};

/// Which side of a [`fork_single_threaded`] this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Forked {
    /// The caller, with the new child's PID.
    Parent(Pid),
    /// The new child.
    Child,
}

/// `fork()`—Creates a child process that is a copy of the calling process.
///
/// Only for the `bench-tree` helper, which never starts a thread: after `fork` in a
/// single-threaded process the child may run any code, not only async-signal-safe
/// calls. Never call this from the (multithreaded) bench process itself.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/fork.2.html>
pub(crate) fn fork_single_threaded() -> io::Result<Forked> {
    // SAFETY: the only caller is the bench-tree helper (`crate::helper`), which is
    // single-threaded for its whole life, so no lock or allocator state can be held
    // by another thread at the time of the fork.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Parent { child }) => Ok(Forked::Parent(child)),
        Ok(ForkResult::Child) => Ok(Forked::Child),
        Err(errno) => Err(io::Error::from(errno)),
    }
}
