//! `waitid(2)` and `waitpid(2)`: observing and reaping children.
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/waitid.2.html>

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt_retry;

/// A wait status as `waitpid(2)` encodes it (what `ExitStatus::from_raw` takes).
pub(crate) type RawStatus = i32;

/// Which children a wait looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Who<'a> {
    /// One child by PID.
    Pid(i32),
    /// One child by pidfd (`P_PIDFD`).
    PidFd(BorrowedFd<'a>),
    /// Children in a process group (`P_PGID`).
    Group(i32),
    /// Any child (`P_ALL`). Only in a process that owns all its children (the shim).
    Any,
}

/// How a wait behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitFlags {
    /// `WNOWAIT`: leave the child waitable (a zombie), so its PID cannot be reused.
    pub keep: bool,
    /// `WNOHANG`: return `None` at once if no child has exited.
    pub nohang: bool,
}

impl WaitFlags {
    /// Reap, blocking.
    pub const REAP: WaitFlags = WaitFlags {
        keep: false,
        nohang: false,
    };
    /// Reap, without blocking.
    pub const REAP_NOHANG: WaitFlags = WaitFlags {
        keep: false,
        nohang: true,
    };
    /// Observe (keep the zombie), without blocking.
    pub const PEEK_NOHANG: WaitFlags = WaitFlags {
        keep: true,
        nohang: true,
    };
}

/// `waitid(idtype, id, WEXITED | ..)`—Waits for a child to exit; returns its PID and
/// its status encoded as `waitpid` would, or `None` (with `nohang`) if none exited
/// yet. Retries on `EINTR`. `ECHILD` comes back as an error.
pub(crate) fn wait_exit(who: Who<'_>, flags: WaitFlags) -> io::Result<Option<(i32, RawStatus)>> {
    let (idtype, id) = match who {
        Who::Pid(pid) => (libc::P_PID, pid as libc::id_t),
        Who::PidFd(fd) => (libc::P_PIDFD, fd.as_raw_fd() as libc::id_t),
        Who::Group(pgid) => (libc::P_PGID, pgid as libc::id_t),
        Who::Any => (libc::P_ALL, 0),
    };
    let mut options = libc::WEXITED;
    if flags.keep {
        options |= libc::WNOWAIT;
    }
    if flags.nohang {
        options |= libc::WNOHANG;
    }
    let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
    // SAFETY: `info` is a valid, zeroed siginfo_t the kernel fills in; the id is a
    // plain integer (a pidfd borrowed for the duration of the call).
    cvt_retry(|| unsafe { libc::waitid(idtype, id, info.as_mut_ptr(), options) })?;
    // SAFETY: zero-initialised and possibly filled by the kernel: valid either way.
    let info = unsafe { info.assume_init() };
    // SAFETY: for SIGCHLD-style siginfo from waitid, si_pid/si_status are the
    // fields the kernel set (si_pid stays 0 when WNOHANG found nothing).
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if pid == 0 {
        return Ok(None);
    }
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_KILLED => status & 0x7f,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        _ => status,
    };
    Ok(Some((pid, raw)))
}

/// The shell's view of a wait status: the exit code, or 128 + the signal number.
pub(crate) fn shell_status(raw: RawStatus) -> i32 {
    if raw & 0x7f == 0 {
        (raw >> 8) & 0xff
    } else {
        128 + (raw & 0x7f)
    }
}

/// The raw status of a process killed by `sig`.
pub(crate) fn killed_by(sig: i32) -> RawStatus {
    sig & 0x7f
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    #[test]
    fn shell_status_is_the_code_or_128_plus_the_signal() {
        assert_eq!(shell_status(3 << 8), 3);
        assert_eq!(shell_status(0), 0);
        assert_eq!(shell_status(killed_by(libc::SIGKILL)), 137);
        assert_eq!(
            shell_status(libc::SIGTERM | 0x80),
            143,
            "a core dump keeps the signal"
        );
    }

    #[test]
    fn raw_statuses_read_back_through_std() {
        assert_eq!(ExitStatus::from_raw(7 << 8).code(), Some(7));
        assert_eq!(
            ExitStatus::from_raw(killed_by(libc::SIGKILL)).signal(),
            Some(libc::SIGKILL)
        );
    }
}
