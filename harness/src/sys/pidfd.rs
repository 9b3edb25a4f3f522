//! A pidfd's exit status (`PIDFD_GET_INFO`, Linux 6.15), which rustix does not
//! offer.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

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
pub fn pidfd_exit_info(fd: BorrowedFd<'_>) -> ExitInfo {
    const EXIT: u64 = libc::PIDFD_INFO_EXIT as u64;
    // SAFETY: `struct pidfd_info` is plain integers: all zeroes is a valid value.
    let mut info: libc::pidfd_info = unsafe { std::mem::zeroed() };
    info.mask = EXIT;
    // SAFETY: `info` is the kernel's 64-byte `struct pidfd_info` (VER0), the size
    // libc encodes in the request number; the fd is open for the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::PIDFD_GET_INFO, &mut info) };
    if ret != 0 {
        return match io::Error::last_os_error().raw_os_error() {
            Some(libc::ENOTTY | libc::EINVAL | libc::EOPNOTSUPP) => ExitInfo::Unsupported,
            _ => ExitInfo::NotYet,
        };
    }
    if info.mask & EXIT != 0 {
        ExitInfo::Exited(info.exit_code)
    } else {
        ExitInfo::NotYet
    }
}
