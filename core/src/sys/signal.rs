//! Signals: typed PIDs and signal numbers for rustix, the kills rustix has no
//! safe call for (`kill(-1)`), and what only libc offers: `sigaction(2)`,
//! `sigprocmask(2)`, `signalfd(2)`.
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/kill.2.html>

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

use rustix::process::{Pid, Signal};

use super::cvt;

/// A PID as rustix takes it: `EINVAL` unless positive.
pub(crate) fn pid(raw: i32) -> io::Result<Pid> {
    Pid::from_raw(raw).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

/// A signal number as rustix takes it: a named signal, or a real-time one
/// (`SIGRTMIN..=SIGRTMAX` as libc numbers them); `EINVAL` for anything else
/// (0, out of range, or the few libc keeps for itself).
pub(crate) fn signal(raw: i32) -> io::Result<Signal> {
    if let Some(sig) = Signal::from_named_raw(raw) {
        return Ok(sig);
    }
    if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&raw) {
        // SAFETY: a non-zero signal number in libc's real-time range, which libc
        // does not reserve for itself.
        return Ok(unsafe { Signal::from_raw_unchecked(raw) });
    }
    Err(io::Error::from_raw_os_error(libc::EINVAL))
}

/// `kill(pid, sig)`—Sends a signal to one process by PID. Only for a PID that
/// cannot have been reused: an unreaped child of this process.
pub(crate) fn kill_child(child: i32, sig: i32) -> io::Result<()> {
    debug_assert!(child > 0);
    Ok(rustix::process::kill_process(pid(child)?, signal(sig)?)?)
}

/// `kill(-pgid, sig)`—Sends a signal to every process in a group. Only for a group
/// whose leader is an unreaped child of this process (so the PGID is not reused).
pub(crate) fn kill_process_group(pgid: i32, sig: i32) -> io::Result<()> {
    debug_assert!(pgid > 1);
    Ok(rustix::process::kill_process_group(
        pid(pgid)?,
        signal(sig)?,
    )?)
}

/// `kill(-1, sig)`—Sends a signal to every process this process may signal except
/// itself. Only ever called by the init of a private PID namespace, where the kernel
/// scopes `-1` to that namespace: it never reaches outside the tree.
pub(crate) fn kill_all_in_own_pid_namespace(sig: i32) -> io::Result<()> {
    // The caller is PID 1 of a namespace created for the tree (checked here), so
    // -1 means "every process of the namespace".
    if !rustix::process::getpid().is_init() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "kill(-1) outside a private pid namespace",
        ));
    }
    // SAFETY: plain syscall with integer arguments (rustix has no kill(-1)).
    match cvt(unsafe { libc::kill(-1, sig) }) {
        Ok(_) => Ok(()),
        // Nobody else left in the namespace.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A saved signal disposition, to restore in a child before it execs.
#[derive(Clone, Copy)]
pub(crate) struct SavedAction {
    sig: i32,
    action: libc::sigaction,
}

impl SavedAction {
    /// `sigaction(sig, NULL, &old)`—Reads the current disposition of `sig`.
    pub(crate) fn get(sig: i32) -> io::Result<SavedAction> {
        let mut old = MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: a NULL new action only reads the old one into `old`.
        cvt(unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) })?;
        // SAFETY: filled by the kernel (or zeroed).
        Ok(SavedAction {
            sig,
            action: unsafe { old.assume_init() },
        })
    }

    /// Whether the saved disposition is `SIG_IGN` (or, for SIGCHLD, has
    /// `SA_NOCLDWAIT`).
    pub(crate) fn is_ignored(&self) -> bool {
        self.action.sa_sigaction == libc::SIG_IGN
            || (self.sig == libc::SIGCHLD && self.action.sa_flags & libc::SA_NOCLDWAIT != 0)
    }

    /// `sigaction(sig, &saved, NULL)`—Puts the saved disposition back.
    /// Async-signal-safe (usable in a `pre_exec` hook).
    pub(crate) fn restore(&self) -> io::Result<()> {
        // SAFETY: `action` came from sigaction for this very signal.
        cvt(unsafe { libc::sigaction(self.sig, &self.action, std::ptr::null_mut()) }).map(drop)
    }
}

/// `sigaction(SIGCHLD, NULL, &old)`—Whether the kernel reaps this process's
/// children as they exit: `SIGCHLD` is `SIG_IGN` (inherited across `fork` and
/// `exec`) or has `SA_NOCLDWAIT`. Such a child never stays a zombie, so its exit
/// status is lost and its PID (and process group) can be recycled at once.
pub(crate) fn children_reaped_by_kernel() -> io::Result<bool> {
    Ok(SavedAction::get(libc::SIGCHLD)?.is_ignored())
}

/// `signal(sig, SIG_DFL)`—Resets `sig` to its default action.
pub(crate) fn set_default(sig: i32) -> io::Result<()> {
    set_handler(sig, libc::SIG_DFL)
}

fn set_handler(sig: i32, handler: libc::sighandler_t) -> io::Result<()> {
    let mut act = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a zeroed sigaction with an empty mask and a SIG_DFL/SIG_IGN handler
    // is a valid argument.
    unsafe {
        let p = act.as_mut_ptr();
        (*p).sa_sigaction = handler;
        libc::sigemptyset(&mut (*p).sa_mask);
        cvt(libc::sigaction(sig, p, std::ptr::null_mut()))?;
    }
    Ok(())
}

/// Blocks every signal (SIGKILL and SIGSTOP cannot be) and returns a
/// non-blocking, close-on-exec `signalfd` for all of them: a shim that a tree
/// can signal (its parent, its ancestors) must not die of a stray SIGUSR1 or
/// SIGTERM. Its poll wakes on any of them; it reads them all and acts on SIGCHLD
/// only.
pub(crate) fn block_all_signalfd() -> io::Result<OwnedFd> {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigset manipulation on a local set; sigprocmask on this (single)
    // thread; signalfd creates a new fd we own.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        cvt(libc::sigprocmask(
            libc::SIG_BLOCK,
            set.as_ptr(),
            std::ptr::null_mut(),
        ))?;
        let fd = cvt(libc::signalfd(
            -1,
            set.as_ptr(),
            libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
        ))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// `sigprocmask(SIG_SETMASK, {sig})`—Blocks `sig` and unblocks every other
/// signal (a PID namespace's init: signals from inside its namespace that it has
/// no handler for are dropped by the kernel, but only if they are not blocked).
pub(crate) fn block_only(sig: i32) -> io::Result<()> {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigset manipulation on a local set; sigprocmask on this (single)
    // thread.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), sig);
        cvt(libc::sigprocmask(
            libc::SIG_SETMASK,
            set.as_ptr(),
            std::ptr::null_mut(),
        ))?;
    }
    Ok(())
}

/// Reads and discards every queued signal from a non-blocking signalfd.
pub(crate) fn drain_signalfd(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 128 * 8];
    while let Ok(n) = rustix::io::read(fd, &mut buf) {
        if n == 0 {
            return;
        }
    }
}
