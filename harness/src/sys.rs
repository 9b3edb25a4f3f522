//! The only `unsafe` of the harness and of the benches (which call this module as
//! `teardown_harness::sys`): what rustix cannot do safely. Everything it can —
//! pipes, pidfds, `poll`, `prctl`, `kill`, `waitpid`, names, limits — is called
//! where it is needed, outside this module, through rustix (or nix's safe
//! wrappers, where the code used them already).
//!
//! Here: `fork` for single-threaded processes ([`fork`]) and the node
//! interpreter's unusual process shapes (`clone.rs`: `clone(CLONE_PARENT)`,
//! `clone3` into a cgroup and new namespaces, a `vfork` chain, the main thread
//! exiting alone, a fork from a secondary thread); signal dispositions and the
//! SIGTERM handlers (`handlers.rs`, with the upward climb they run, [`climb`]);
//! `pre_exec` hooks (`exec.rs`); a pidfd's exit status (`pidfd.rs`); adopting an
//! inherited file descriptor; the scheduler policy; touched anonymous memory;
//! `sigtimedwait`; `_exit`.
//!
//! # Safety policy
//!
//! * `fork` without `exec` is only sound in a single-threaded process (the child
//!   gets one thread, and every lock another thread held stays held). [`fork`],
//!   [`clone_parent`], [`clone3_fork`] and [`respawn_on_term`] therefore refuse
//!   unless [`enter_single_threaded`] checked, at the entry point that will fork
//!   (the node interpreter, the warden, the benches' `bench-tree` helper), that
//!   the process has exactly one thread; [`leave_single_threaded`] ends that
//!   before a thread starts. The one exception, [`fork_pausing_child`], forks a
//!   child that makes only raw async-signal-safe calls.
//! * Signal handlers and `pre_exec` hooks make only async-signal-safe calls: they
//!   allocate nothing, take no lock, and read what they need from atomics or
//!   from values prepared before they were installed.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};

pub mod climb;
mod clone;
mod exec;
mod handlers;
mod pidfd;

pub use clone::{
    NewNamespaces, clone_parent, clone3_fork, exit_thread, fork_pausing_child, vfork_chain,
};
pub use exec::{die_with_parent, take_sigchld_for_supervisor, unblock_signals_in_child};
pub use handlers::{graceful_on_term, upward_on_term};
pub use pidfd::{ExitInfo, pidfd_exit_info};

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

/// Marks this process as multithreaded: [`fork`] and [`clone_parent`] refuse
/// from now on. Call it before starting a thread.
pub fn leave_single_threaded() {
    SINGLE_THREADED.store(false, Ordering::SeqCst);
}

/// `Ok` if [`enter_single_threaded`] succeeded (and [`leave_single_threaded`]
/// was not called since); else the refusal of `what`.
fn check_single_threaded(what: &str) -> io::Result<()> {
    if SINGLE_THREADED.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} refused: process not checked single-threaded"
        )))
    }
}

/// Which side of a [`fork`] we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The new process.
    Child,
    /// The parent, with the child's PID.
    Parent(i32),
}

/// How long [`fork`] retries while the kernel refuses for a moment.
pub const FORK_PATIENCE: Duration = Duration::from_secs(1);

/// `fork()`—Creates a child process that is a copy of this one.
///
/// Fails unless [`enter_single_threaded`] succeeded in this process. Retried for
/// up to [`FORK_PATIENCE`] while the kernel says `EAGAIN` (see [`fork_patiently`]).
///
/// # References
/// <https://man7.org/linux/man-pages/man2/fork.2.html>
pub fn fork() -> io::Result<Forked> {
    fork_patiently(FORK_PATIENCE)
}

/// [`fork`], retried for up to `patience` while it fails with `EAGAIN` (no free
/// PID or task for a moment, seen on a machine busy with other fork-heavy work),
/// with a pause growing from 5 ms to 100 ms between tries.
pub fn fork_patiently(patience: Duration) -> io::Result<Forked> {
    check_single_threaded("fork")?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        // SAFETY: the process is single-threaded (checked by `enter_single_threaded`,
        // and the callers spawn no threads), so the child's copy of memory is
        // consistent.
        match unsafe { libc::fork() } {
            -1 => {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EAGAIN) && start.elapsed() < patience {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
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

/// [`own_pidns`]'s answer for this process; 0 while not known.
static OWN_PIDNS: AtomicU64 = AtomicU64::new(0);

/// The inode of this process's PID namespace (`/proc/self/ns/pid`): the same
/// number for every process that sees the same PIDs.
///
/// Read once and remembered: a forked process inherits the answer, and it is
/// still true there, because a fork lands in its parent's PID namespace unless
/// the parent unshared `CLONE_NEWPID` or cloned with it first, and those calls
/// ([`forget_own_pidns`]: the node's `userns`, [`clone3_fork`]'s child, the
/// outer warden's `unshare`) make the next call read again. An exec starts with
/// nothing remembered. (A node reports its namespace once it is ready: the
/// `stat` of `/proc/self/ns/pid` was a tenth of a forked node's CPU.)
pub fn own_pidns() -> io::Result<u64> {
    match OWN_PIDNS.load(Ordering::Relaxed) {
        0 => {
            let ino = rustix::fs::stat(c"/proc/self/ns/pid")?.st_ino;
            OWN_PIDNS.store(ino, Ordering::Relaxed);
            Ok(ino)
        }
        ino => Ok(ino),
    }
}

/// Makes the next [`own_pidns`] read `/proc/self/ns/pid` again: called once this
/// process's children go into a new PID namespace, or it is itself a fresh one's
/// first process.
pub fn forget_own_pidns() {
    OWN_PIDNS.store(0, Ordering::Relaxed);
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
    check_single_threaded("respawn-on-term")?;
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
    // SAFETY: `fcntl(F_GETFD)` only queries the descriptor table (a `BorrowedFd`
    // cannot be made before the descriptor is known to be open).
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and, by the inheritance
    // protocol, nothing else in this process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
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

/// Maps `len` bytes of private anonymous memory, refuses huge pages for it
/// (`MADV_NOHUGEPAGE`, so each 4 KiB page is its own to free), makes every page
/// present and written, and never unmaps it: the process's exit frees it page
/// by page. The `slow-exit` trait.
///
/// The pages are made in one call (`MADV_POPULATE_WRITE`, Linux 5.14), not by
/// a write fault per page: the same pages, ~30 % sooner (each fault is a trap,
/// costly in a VM). Where the kernel does not know it, a byte is written per
/// page as before.
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
    // SAFETY: the same mapping: populating it writes nothing we could see.
    match unsafe { rustix::mm::madvise(p, len, Advice::LinuxPopulateWrite) } {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::INVAL) => {}
        Err(e) => return Err(e.into()),
    }
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
