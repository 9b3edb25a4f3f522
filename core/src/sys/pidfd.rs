//! `ioctl(pidfd, PIDFD_GET_INFO)`: what rustix has no safe call for. The pidfd
//! itself (open, signal, wait) is [`crate::pidfd`].
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/pidfd_open.2.html>

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::io::Errno;
use rustix::ioctl::{Opcode, Updater, ioctl, opcode};

/// `struct pidfd_info` (`PIDFD_INFO_SIZE_VER0` = 64 bytes, Linux 6.13) as far as
/// this module reads it: `mask`, then `cgroupid` (64 bits), `pid` and `tgid`
/// before `ppid`, and nine more 32-bit fields after it.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    before_ppid: [u32; 4],
    ppid: u32,
    after_ppid: [u32; 9],
}

const PIDFD_INFO_PID: u64 = 1;
/// `_IOWR(0xFF, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: Opcode = opcode::read_write::<PidfdInfo>(0xFF, 11);

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
    // SAFETY: the opcode is `PIDFD_GET_INFO` sized for `PidfdInfo`, which is laid
    // out as the kernel's `struct pidfd_info` (PIDFD_INFO_SIZE_VER0): the kernel
    // reads the mask from it and fills it in.
    let asked = unsafe { Updater::<PIDFD_GET_INFO, PidfdInfo>::new(&mut info) };
    // SAFETY: as above; the fd is borrowed for the call.
    match unsafe { ioctl(pidfd, asked) } {
        Ok(()) => Ok(Some(info.ppid as i32)),
        Err(Errno::NOTTY | Errno::INVAL | Errno::OPNOTSUPP) => {
            UNSUPPORTED.store(true, Ordering::Relaxed);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_iowr_0xff_11_of_the_64_byte_struct() {
        assert_eq!(std::mem::size_of::<PidfdInfo>(), 64);
        assert_eq!(std::mem::offset_of!(PidfdInfo, ppid), 24);
        assert_eq!(
            PIDFD_GET_INFO as u64,
            (3 << 30) | (64 << 16) | (0xFF << 8) | 11
        );
    }

    #[test]
    fn the_parent_read_through_a_pidfd_is_getppid_where_the_kernel_has_it() {
        use std::os::fd::AsFd;
        let me = rustix::process::getpid();
        let fd = rustix::process::pidfd_open(me, rustix::process::PidfdFlags::empty()).unwrap();
        let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
        match parent_pid(fd.as_fd()).unwrap() {
            Some(p) => assert_eq!(p, parent),
            None => eprintln!("no PIDFD_GET_INFO before Linux 6.13"),
        }
    }
}
