//! `ioctl(pidfd, PIDFD_GET_INFO)`: what rustix has no safe call for. The pidfd
//! itself (open, signal, wait) is [`crate::pidfd`].
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/pidfd_open.2.html>

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// `struct pidfd_info` (`PIDFD_INFO_SIZE_VER0` = 64 bytes, Linux 6.13): `mask`,
/// `cgroupid`, then `pid`, `tgid`, `ppid` and nine more 32-bit fields this
/// module does not read.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    rest: [u32; 9],
}

const PIDFD_INFO_PID: u64 = 1;
/// `_IOWR(0xFF, 11, struct pidfd_info)` with the 64-byte struct.
const PIDFD_GET_INFO: u64 = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;

/// `ioctl(pidfd, PIDFD_GET_INFO)`—The PID of the parent of the process `pidfd`
/// refers to. `Ok(None)` if the kernel has no `PIDFD_GET_INFO` (before Linux
/// 6.13; remembered after the first refusal); `ESRCH` once it was reaped.
pub(crate) fn parent_pid(pidfd: BorrowedFd<'_>) -> io::Result<Option<i32>> {
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
    // the request number tells the kernel to fill; the fd is borrowed for the call.
    let ret = unsafe {
        libc::ioctl(
            pidfd.as_raw_fd(),
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
