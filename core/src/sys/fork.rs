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
    only_thread()?;
    // SAFETY: the process is single-threaded (checked above), so the child inherits
    // a consistent heap and lock state and may run normal code.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// `EINVAL` unless this process has exactly one thread: a child forked from it
/// may go on running ordinary Rust code.
fn only_thread() -> io::Result<()> {
    if std::fs::read_dir("/proc/self/task")?.count() != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "fork refused: process is multithreaded",
        ));
    }
    Ok(())
}

/// `CLONE_INTO_CGROUP` (Linux 5.7): the child starts in the cgroup given by an fd.
pub(crate) const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(flags | CLONE_INTO_CGROUP)`—A fork (no `CLONE_VM`, no stack) whose
/// child is born in the cgroup open as `cgroup`. Returns the child's PID in the
/// parent, `Forked::Child` in the child. A plain system call: async-signal-safe.
///
/// # Safety
///
/// In a multithreaded process the child may only make async-signal-safe calls
/// until it execs or exits (the `pre_exec` rule).
pub(crate) unsafe fn clone_into_cgroup(
    flags: u64,
    exit_signal: i32,
    cgroup: std::os::fd::RawFd,
) -> io::Result<Forked> {
    // SAFETY: the caller's contract, passed on.
    unsafe { clone3_fork(flags | CLONE_INTO_CGROUP, exit_signal, Some(cgroup)) }
}

/// `clone3(flags)` without `CLONE_VM` or a stack: a fork, into the cgroup open
/// as `cgroup` when given (with `CLONE_INTO_CGROUP` in `flags`).
///
/// # Safety
///
/// As [`clone_into_cgroup`]: in a multithreaded process the child may only make
/// async-signal-safe calls until it execs or exits.
unsafe fn clone3_fork(
    flags: u64,
    exit_signal: i32,
    cgroup: Option<std::os::fd::RawFd>,
) -> io::Result<Forked> {
    // SAFETY: `clone_args` is plain integers; all zero is "no such option".
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags;
    args.exit_signal = exit_signal as u64;
    args.cgroup = cgroup.map_or(0, |fd| fd as u64);
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork: the
    // child gets a copy of memory and returns here with 0; what it may do next is
    // the caller's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
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
    only_thread()?;
    // SAFETY: the process is single-threaded (checked above), so the child may go
    // on running normal code.
    unsafe { clone_into_cgroup(0, libc::SIGCHLD, cgroup.as_raw_fd()) }
}

/// `clone3(CLONE_NEWPID [| CLONE_NEWUSER] [| CLONE_INTO_CGROUP])`—A fork whose
/// child is PID 1 of a new PID namespace (owned by a new user namespace with
/// `user`; born in the cgroup open as `cgroup`, if given). Unlike `unshare`,
/// this process's own later children stay in its namespaces. Refuses (with
/// `EINVAL`) unless the process has exactly one thread, so that the child may
/// go on running normal code. A new user namespace has no uid or gid map until
/// the parent writes them (`/proc/<child>/uid_map`).
pub(crate) fn fork_into_new_pid_namespace(
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
    user: bool,
) -> io::Result<Forked> {
    use std::os::fd::AsRawFd;
    only_thread()?;
    let mut flags = libc::CLONE_NEWPID as u64;
    if user {
        flags |= libc::CLONE_NEWUSER as u64;
    }
    let cgroup = cgroup.map(|cg| cg.as_raw_fd());
    if cgroup.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }
    // SAFETY: single-threaded (checked above): the child may run normal code.
    unsafe { clone3_fork(flags, libc::SIGCHLD, cgroup) }
}

/// `_exit(code)`—Ends this process at once, without running exit handlers or
/// flushing std's buffered stdout: what a forked copy of a process does, so that
/// what the original had buffered is not written twice.
pub(crate) fn exit_forked(code: i32) -> ! {
    // SAFETY: _exit ends the process; nothing runs after it.
    unsafe { libc::_exit(code) }
}

/// Runs `f` in a forked copy of this process and ends the copy with its exit
/// code ([`exit_forked`]); a panic in `f` ends it with 101 instead of unwinding
/// into the copied frames of the original (whose destructors, a `Tree`'s drop
/// or a temporary directory's removal, must not run twice).
pub(crate) fn run_forked(f: impl FnOnce() -> i32) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
    exit_forked(code)
}
