//! The harness's only `unsafe`: raw `fork` for the single-threaded node interpreter,
//! signal dispositions, adopting inherited file descriptors, and a `pre_exec` hook
//! that clears the signal mask; in submodules, the node interpreter's SIGTERM
//! handlers (`handlers.rs`) and its unusual process shapes (`clone.rs`:
//! `clone(CLONE_PARENT)`, a `vfork` chain, the main thread exiting alone, a fork
//! from a secondary thread).
//!
//! `fork` without `exec` is only sound in a single-threaded process (the child gets
//! one thread and every lock another thread held stays held). [`fork`] therefore
//! refuses unless [`enter_single_threaded`] checked, at the entry of the node
//! interpreter, that the process has exactly one thread.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};

mod clone;
mod handlers;

pub use clone::{
    clone_parent, exit_thread, fork_pausing_child, leave_single_threaded, vfork_chain,
};
pub use handlers::{graceful_on_term, upward_on_term};

static SINGLE_THREADED: AtomicBool = AtomicBool::new(false);

/// Checks that this process has exactly one thread (`/proc/self/task` has one
/// entry) and, if so, allows [`fork`] from now on. Call it first thing in an entry
/// point that will fork, and spawn no thread afterwards.
pub fn enter_single_threaded() -> io::Result<()> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "process has {threads} threads; fork needs exactly one"
        )));
    }
    SINGLE_THREADED.store(true, Ordering::SeqCst);
    Ok(())
}

/// Which side of a [`fork`] we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The new process.
    Child,
    /// The parent, with the child's PID.
    Parent(i32),
}

/// `fork()`—Creates a child process that is a copy of this one.
///
/// Fails unless [`enter_single_threaded`] succeeded in this process.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/fork.2.html>
pub fn fork() -> io::Result<Forked> {
    if !SINGLE_THREADED.load(Ordering::SeqCst) {
        return Err(io::Error::other(
            "fork refused: process not checked single-threaded",
        ));
    }
    // A machine busy with other fork-heavy work can refuse a fork for a moment
    // (EAGAIN, seen under load with no pids limit): retry a few times, bounded.
    let mut tries = 0;
    loop {
        // SAFETY: the process is single-threaded (checked by `enter_single_threaded`,
        // and the callers spawn no threads), so the child's copy of memory is
        // consistent.
        match unsafe { libc::fork() } {
            -1 => {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EAGAIN) && tries < 20 {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5 * tries));
                    continue;
                }
                return Err(e);
            }
            0 => return Ok(Forked::Child),
            pid => return Ok(Forked::Parent(pid)),
        }
    }
}

/// `_exit(code)`—Ends this process at once, without running exit handlers or
/// flushing stdio (what a forked child that must not run its parent's cleanup wants).
///
/// # References
/// <https://man7.org/linux/man-pages/man2/_exit.2.html>
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

fn set_action(sig: Signal, handler: SigHandler) -> io::Result<()> {
    let action = SigAction::new(handler, SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: the handlers installed here are `SIG_IGN`, `SIG_DFL`, or `on_term_respawn`,
    // which only calls async-signal-safe functions (`fork`, `_exit`).
    unsafe { nix::sys::signal::sigaction(sig, &action) }
        .map(drop)
        .map_err(io::Error::from)
}

/// The inode of this process's PID namespace (`/proc/self/ns/pid`): the same
/// number for every process that sees the same PIDs.
pub fn own_pidns() -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self/ns/pid")?.ino())
}

/// `sigaction(sig, SIG_IGN)`—Ignores a signal (inherited across fork and exec).
pub fn ignore_signal(sig: Signal) -> io::Result<()> {
    set_action(sig, SigHandler::SigIgn)
}

/// `sigaction(sig, SIG_DFL)`—Restores a signal's default action.
pub fn default_signal(sig: Signal) -> io::Result<()> {
    set_action(sig, SigHandler::SigDfl)
}

/// Installs the respawn-on-TERM handler: on SIGTERM the process forks a copy of
/// itself (which returns from the handler and carries on where the original was)
/// and the original exits with status 0.
pub fn respawn_on_term() -> io::Result<()> {
    if !SINGLE_THREADED.load(Ordering::SeqCst) {
        return Err(io::Error::other(
            "respawn-on-term refused: process not checked single-threaded",
        ));
    }
    set_action(Signal::SIGTERM, SigHandler::Handler(on_term_respawn))
}

extern "C" fn on_term_respawn(_sig: libc::c_int) {
    // SAFETY: `fork` and `_exit` are async-signal-safe, and the process is
    // single-threaded (checked when the handler was installed).
    unsafe {
        match libc::fork() {
            0 => {}               // the replacement: return and carry on
            -1 => libc::_exit(1), // no replacement possible: still end the original
            _ => libc::_exit(0),  // the original: exit, leaving the replacement orphaned
        }
    }
}

/// Takes ownership of a file descriptor this process inherited (named by an
/// environment variable or argument), after checking that it is open.
pub fn adopt_inherited_fd(raw: RawFd) -> io::Result<OwnedFd> {
    if raw < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: `fcntl(F_GETFD)` only queries the descriptor table.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and, by the inheritance
    // protocol, nothing else in this process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Makes `cmd`'s child start with an empty signal mask: `sigprocmask(SIG_SETMASK,
/// ∅)` between fork and exec. Needed by a supervisor that blocks the signals it
/// reads from a `signalfd` (std's `Command` passes the mask on to the child, and a
/// leader with SIGTERM blocked would ignore a graceful teardown).
pub fn unblock_signals_in_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let hook = || -> io::Result<()> {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the local set; sigprocmask is
        // async-signal-safe and only changes this (single, forked) thread's mask.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            if libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut()) == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook only calls async-signal-safe functions on a local set.
    unsafe { cmd.pre_exec(hook) };
}

/// A supervisor must see its children exit: if this process was started with
/// SIGCHLD ignored (`SIG_IGN` survives `exec`; aurae PR 599), the kernel would reap
/// the leader itself and the in-process methods could neither hold its process
/// group nor learn its status. Resets SIGCHLD to `SIG_DFL` here and makes `cmd`'s
/// child put the caller's disposition back before it execs, so the tree sees the
/// environment it would have seen without the supervisor.
pub fn take_sigchld_for_supervisor(cmd: &mut std::process::Command) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_DFL installs no handler code.
    let old = unsafe { nix::sys::signal::sigaction(Signal::SIGCHLD, &default) }
        .map_err(io::Error::from)?;
    if !matches!(old.handler(), SigHandler::SigIgn) {
        // Not ignored (an exec'd process has no handlers, and exec clears
        // SA_NOCLDWAIT): SIG_DFL is what it had.
        return Ok(());
    }
    let hook = move || -> io::Result<()> {
        // SAFETY: sigaction(2) is async-signal-safe; `old` is SIG_IGN.
        unsafe { nix::sys::signal::sigaction(Signal::SIGCHLD, &old) }
            .map(drop)
            .map_err(io::Error::from)
    };
    // SAFETY: the hook only calls sigaction(2) with a prebuilt action.
    unsafe { cmd.pre_exec(hook) };
    Ok(())
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

/// `CLONE_PIDFD`: the parent gets a pidfd on the child.
const CLONE_PIDFD: u64 = 0x1000;

/// The namespaces a [`clone3_fork`] child is born in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewNamespaces {
    /// A new PID namespace: the child is its PID 1.
    pub pid: bool,
    /// A new user namespace too (what lets a non-root process make the PID one).
    pub user: bool,
}

/// `clone3(2)` with fork semantics—Creates a child process that is a copy of this
/// one, born in the cgroup `cgroup` (an open cgroup2 directory; `None`: this
/// process's cgroup) and in the namespaces `ns`. The parent gets the child's PID
/// and a pidfd on it. What the fork-server warden makes each trial's inner
/// warden with: no exec, no migration, no second fork to enter the PID namespace.
///
/// Fails unless [`enter_single_threaded`] succeeded in this process. The child's C
/// library thread descriptor keeps this process's TID (as with [`clone_parent`]):
/// the child must not use `raise`, `pthread_kill` or `abort`.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/clone3.2.html>
pub fn clone3_fork(
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
    ns: NewNamespaces,
) -> io::Result<(Forked, Option<OwnedFd>)> {
    use std::os::fd::AsRawFd;
    if !SINGLE_THREADED.load(Ordering::SeqCst) {
        return Err(io::Error::other(
            "clone3 refused: process not checked single-threaded",
        ));
    }
    let mut pidfd: libc::c_int = -1;
    let mut flags = CLONE_PIDFD;
    if cgroup.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }
    if ns.pid {
        flags |= libc::CLONE_NEWPID as u64;
    }
    if ns.user {
        flags |= libc::CLONE_NEWUSER as u64;
    }
    let args = CloneArgs {
        flags,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map_or(0, |fd| fd.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM gives the child its own copy of memory, like
    // fork; the process is single-threaded (checked above), so that copy is
    // consistent. No stack is given: the child runs on its copy of ours. `pidfd`
    // lives across the call, where the kernel writes the parent's pidfd.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            size_of::<CloneArgs>(),
        )
    };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok((Forked::Child, None)),
        pid => {
            // SAFETY: the kernel just opened this descriptor for us (CLONE_PIDFD).
            let fd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
            Ok((Forked::Parent(pid as i32), fd))
        }
    }
}

/// Favours this process on the CPU—`nice` (negative: favoured) with
/// `SCHED_RESET_ON_FORK`, so that every child starts at nice 0 again: the inner
/// warden, so that its look at "done" comes when done comes, however busy the
/// machine (a look delayed by other trials' processes saw a dying process
/// already gone). Needs `CAP_SYS_NICE` for a negative value.
///
/// # References
/// <https://man7.org/linux/man-pages/man7/sched.7.html> (`SCHED_RESET_ON_FORK`),
/// <https://man7.org/linux/man-pages/man2/setpriority.2.html>
pub fn favour_self(nice: i32) -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` lives across the call; 0 is this process.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER | libc::SCHED_RESET_ON_FORK, &param) }
        == -1
    {
        return Err(io::Error::last_os_error());
    }
    rustix::process::setpriority_process(None, nice)?;
    Ok(())
}

/// `struct pidfd_info` as of Linux 6.15 (`PIDFD_INFO_SIZE_VER0`, 64 bytes).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    exit_code: i32,
}

/// `PIDFD_INFO_EXIT` (Linux 6.15): only returned if asked, once the process is
/// reaped.
const PIDFD_INFO_EXIT: u64 = 1 << 3;
/// `_IOWR(0xFF, 11, struct pidfd_info)` with the 64-byte struct.
const PIDFD_GET_INFO: u64 = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;

/// How a process watched through a pidfd ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitInfo {
    /// Reaped; its wait status (as `waitpid` encodes it).
    Exited(i32),
    /// Not reaped yet (or still running).
    NotYet,
    /// The kernel keeps no exit status for pidfds (before Linux 6.15).
    Unsupported,
}

/// `ioctl(pidfd, PIDFD_GET_INFO)` with `PIDFD_INFO_EXIT`—How the process the
/// pidfd refers to ended, once anyone (its parent, an init) has reaped it: the
/// exit status stays with the pidfd. What lets the warden see how each tree
/// process died (of SIGKILL or not) though it is not their parent.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/pidfd_open.2.html>
pub fn pidfd_exit_info(fd: std::os::fd::BorrowedFd<'_>) -> ExitInfo {
    use std::os::fd::AsRawFd;
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: `info` is laid out as the kernel's 64-byte `struct pidfd_info`, the
    // size encoded in the request number; the fd is open for the call.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            PIDFD_GET_INFO as _,
            &mut info as *mut PidfdInfo,
        )
    };
    if ret != 0 {
        return match io::Error::last_os_error().raw_os_error() {
            Some(libc::ENOTTY | libc::EINVAL | libc::EOPNOTSUPP) => ExitInfo::Unsupported,
            _ => ExitInfo::NotYet,
        };
    }
    if info.mask & PIDFD_INFO_EXIT != 0 {
        ExitInfo::Exited(info.exit_code)
    } else {
        ExitInfo::NotYet
    }
}

/// Maps `len` bytes of private anonymous memory, refuses huge pages for it
/// (`MADV_NOHUGEPAGE`, so each 4 KiB page is its own to free), writes one byte
/// per page, and never unmaps it: the process's exit frees it page by page. The
/// `slow-exit` trait.
pub fn hold_touched_memory(len: usize) -> io::Result<()> {
    use rustix::mm::{Advice, MapFlags, ProtFlags};
    // SAFETY: a fresh anonymous private mapping at an address the kernel picks;
    // nothing else refers to it, and it is written only within its `len` bytes.
    let p = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )?
    };
    // SAFETY: the mapping made above, whole.
    unsafe { rustix::mm::madvise(p, len, Advice::LinuxNoHugepage)? };
    let page = rustix::param::page_size();
    let base = p.cast::<u8>();
    for off in (0..len).step_by(page) {
        // SAFETY: `off < len`: inside the mapping, which is writable.
        unsafe { base.add(off).write_volatile(1) };
    }
    Ok(())
}

/// `sigtimedwait(2)` on `set` (which the caller has blocked): the signal taken,
/// or `None` on timeout or interruption.
pub fn sigtimedwait(set: &libc::sigset_t, timeout: &libc::timespec) -> Option<Signal> {
    // SAFETY: both pointers are to live values for the call; no siginfo asked.
    let sig = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), timeout) };
    if sig <= 0 {
        return None;
    }
    Signal::try_from(sig).ok()
}

/// Makes `cmd`'s child get `sig` when the thread that spawned it dies
/// (`PR_SET_PDEATHSIG`, set between fork and exec; if the parent is already gone
/// by then, the child sends it to itself). What keeps a wrapper's daemon from
/// outliving a wrapper that was SIGKILLed.
pub fn die_with_parent(cmd: &mut std::process::Command, sig: Signal) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid is async-signal-safe; the hook calls only prctl, getppid and
    // raise, which are too.
    let parent = unsafe { libc::getpid() };
    let hook = move || -> io::Result<()> {
        // SAFETY: plain syscalls on this (single, forked) thread.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::raise(sig as libc::c_int);
            }
        }
        Ok(())
    };
    // SAFETY: the hook only calls async-signal-safe functions.
    unsafe { cmd.pre_exec(hook) };
}
