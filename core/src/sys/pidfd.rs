//! `pidfd_open(2)`, `pidfd_send_signal(2)`: process handles that cannot be fooled by
//! PID reuse.
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/pidfd_open.2.html>

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::fd::{PollFd, poll};

/// A pidfd: refers to one process for as long as it is open, whatever happens to
/// its PID number.
#[derive(Debug)]
pub(crate) struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// `pidfd_open(pid, 0)`—Opens a handle on process `pid`.
    pub(crate) fn open(pid: i32) -> io::Result<PidFd> {
        // SAFETY: plain syscall with integer arguments.
        let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pidfd_open returned a new file descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(ret as i32) };
        Ok(PidFd { fd })
    }

    /// `pidfd_send_signal(fd, sig, NULL, 0)`—Sends `sig` to the process. Fails with
    /// `ESRCH` once it has exited.
    pub(crate) fn signal(&self, sig: i32) -> io::Result<()> {
        // SAFETY: plain syscall; the fd is open for the duration of the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// `ioctl(pidfd, PIDFD_GET_INFO)`—The PID of this very process's parent, read
    /// through the pidfd (no `/proc` path, no PID-reuse window). `Ok(None)` if the
    /// kernel has no `PIDFD_GET_INFO` (before Linux 6.13); `ESRCH` once reaped.
    pub(crate) fn parent_pid(&self) -> io::Result<Option<i32>> {
        use std::sync::atomic::{AtomicBool, Ordering};
        static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
        if UNSUPPORTED.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut info = PidfdInfo {
            mask: PIDFD_INFO_PID,
            ..PidfdInfo::default()
        };
        // SAFETY: `info` is a 64-byte struct laid out as the kernel's
        // `struct pidfd_info` (PIDFD_INFO_SIZE_VER0), which the size encoded in
        // the request number tells the kernel to fill.
        let ret = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                PIDFD_GET_INFO as _,
                &mut info as *mut PidfdInfo,
            )
        };
        if ret == 0 {
            return Ok(Some(info.ppid as i32));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOTTY | libc::EINVAL | libc::EOPNOTSUPP) => {
                UNSUPPORTED.store(true, Ordering::Relaxed);
                Ok(None)
            }
            _ => Err(e),
        }
    }

    /// True once the process has exited (it may still be an unreaped zombie).
    pub(crate) fn has_exited(&self) -> io::Result<bool> {
        self.wait_exited(Some(Duration::ZERO))
    }

    /// `poll(pidfd, POLLIN)`—Waits up to `timeout` (`None`: forever) for the process
    /// to exit; true if it has.
    pub(crate) fn wait_exited(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut fds = [PollFd::new(self.fd.as_fd(), libc::POLLIN)];
        Ok(poll(&mut fds, timeout)? > 0)
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `struct pidfd_info` as of Linux 6.13 (`PIDFD_INFO_SIZE_VER0` = 64 bytes).
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

const PIDFD_INFO_PID: u64 = 1;
/// `_IOWR(0xFF, 11, struct pidfd_info)` with the 64-byte struct.
const PIDFD_GET_INFO: u64 = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;

/// Whether `pidfd_open` works here (cached after the first call).
pub(crate) fn supported() -> bool {
    use std::sync::OnceLock;
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| PidFd::open(std::process::id() as i32).is_ok())
}
