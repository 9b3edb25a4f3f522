//! Process handles that cannot be fooled by PID reuse: `pidfd_open(2)`,
//! `pidfd_send_signal(2)`, and `poll` on a pidfd for the exit.
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/pidfd_open.2.html>

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::PidfdFlags;

use crate::fds::{PollFd, PollFlags, poll};
use crate::sys::signal::{pid, signal};
use crate::waiter::{Ready, Waiter};

/// A pidfd: refers to one process for as long as it is open, whatever happens to
/// its PID number.
#[derive(Debug)]
pub(crate) struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// `pidfd_open(pid, 0)`—Opens a handle on process `pid`.
    pub(crate) fn open(raw: i32) -> io::Result<PidFd> {
        let fd = rustix::process::pidfd_open(pid(raw)?, PidfdFlags::empty())?;
        Ok(PidFd { fd })
    }

    /// `pidfd_send_signal(fd, sig, NULL, 0)`—Sends `sig` to the process. Fails with
    /// `ESRCH` once it has exited.
    pub(crate) fn signal(&self, sig: i32) -> io::Result<()> {
        Ok(rustix::process::pidfd_send_signal(&self.fd, signal(sig)?)?)
    }

    /// The PID of this very process's parent, read through the pidfd (no `/proc`
    /// path, no PID-reuse window). `Ok(None)` if the kernel has no
    /// `PIDFD_GET_INFO` (before Linux 6.13); `ESRCH` once reaped.
    pub(crate) fn parent_pid(&self) -> io::Result<Option<i32>> {
        crate::sys::pidfd::parent_pid(self.fd.as_fd())
    }

    /// True once the process has exited (it may still be an unreaped zombie).
    pub(crate) fn has_exited(&self) -> io::Result<bool> {
        self.wait_exited(Some(Duration::ZERO))
    }

    /// `poll(pidfd, POLLIN)`—Waits up to `timeout` (`None`: forever) for the process
    /// to exit; true if it has.
    pub(crate) fn wait_exited(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        Ok(poll(&mut fds, timeout)? > 0)
    }

    /// [`PidFd::wait_exited`] through a [`Waiter`] (blocking or async).
    pub(crate) async fn wait_exited_on(
        &self,
        timeout: Option<Duration>,
        w: &dyn Waiter,
    ) -> io::Result<bool> {
        let end = timeout.map(|t| Instant::now() + t);
        loop {
            if self.has_exited()? {
                return Ok(true);
            }
            if end.is_some_and(|e| Instant::now() >= e) {
                return Ok(false);
            }
            w.wait(&[(self.fd.as_fd(), Ready::Read)], end).await?;
        }
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Whether `pidfd_open` works here (cached after the first call).
pub(crate) fn supported() -> bool {
    use std::sync::OnceLock;
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| PidFd::open(std::process::id() as i32).is_ok())
}
