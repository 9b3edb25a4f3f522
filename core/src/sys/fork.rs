//! `fork(2)`, only in a single-threaded process (the shim).
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/fork.2.html>

use std::io;

use super::cvt;

/// Which side of a fork this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forked {
    /// The new child process.
    Child,
    /// The parent, with the child's PID.
    Parent(i32),
}

/// `fork()`—Duplicates this process. Refuses (with `EINVAL`) unless the process has
/// exactly one thread, so the child may go on running ordinary Rust code.
pub(crate) fn fork_single_threaded() -> io::Result<Forked> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "fork refused: process is multithreaded",
        ));
    }
    // SAFETY: the process is single-threaded (checked above), so the child inherits
    // a consistent heap and lock state and may run normal code.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}
