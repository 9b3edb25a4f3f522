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

/// `CLONE_INTO_CGROUP` (Linux 5.7): the child starts in the cgroup given by an fd.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of `clone3(2)` (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `clone3(CLONE_INTO_CGROUP)`—[`fork_single_threaded`], with the child born in
/// the cgroup open as `cgroup` (a cgroup2 directory): no migration afterwards, so
/// no wait for the kernel's `cgroup_threadgroup_rwsem` (an RCU grace period, ~13
/// ms here after a quiet spell, when a process writes itself into `cgroup.procs`).
///
/// # References
/// <https://man7.org/linux/man-pages/man2/clone3.2.html>
pub(crate) fn fork_into_cgroup(cgroup: std::os::fd::BorrowedFd<'_>) -> io::Result<Forked> {
    use std::os::fd::AsRawFd;
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "fork refused: process is multithreaded",
        ));
    }
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork: the
    // child gets a copy of memory and returns here with 0. The process is
    // single-threaded (checked above), so the child may go on running normal code.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}
