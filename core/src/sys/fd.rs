//! File descriptors: `pipe2(2)`, `ppoll(2)`, `fcntl(2)`, `dup2(2)`.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::{cvt, cvt_retry};

/// One entry of a `poll(2)` set.
#[repr(transparent)]
pub(crate) struct PollFd<'a> {
    raw: libc::pollfd,
    _fd: PhantomData<BorrowedFd<'a>>,
}

impl<'a> PollFd<'a> {
    /// Watches `fd` for `events` (`POLLIN`, `POLLPRI`, ...).
    pub(crate) fn new(fd: BorrowedFd<'a>, events: libc::c_short) -> PollFd<'a> {
        PollFd {
            raw: libc::pollfd {
                fd: fd.as_raw_fd(),
                events,
                revents: 0,
            },
            _fd: PhantomData,
        }
    }

    /// True if any event (or hang-up/error) was returned.
    pub(crate) fn ready(&self) -> bool {
        self.raw.revents != 0
    }
}

/// `ppoll(fds, timeout, NULL)`—Waits until one of `fds` is ready or `timeout`
/// passes (`None`: forever), to the nanosecond (`poll(2)` would round a timeout up
/// to whole milliseconds; the signal mask is left as it is). Returns how many are
/// ready (0 on timeout). Retries on `EINTR` with the remaining time.
pub(crate) fn poll(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ts = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            libc::timespec {
                tv_sec: left.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            }
        });
        for f in fds.iter_mut() {
            f.raw.revents = 0;
        }
        // SAFETY: `PollFd` is a transparent pollfd; the slice is valid for its
        // length and every fd is borrowed for 'a; the timespec (or NULL: forever)
        // lives across the call; a NULL sigmask leaves the mask unchanged.
        let ret = unsafe {
            libc::ppoll(
                fds.as_mut_ptr().cast::<libc::pollfd>(),
                fds.len() as libc::nfds_t,
                ts.as_ref()
                    .map_or(std::ptr::null(), |t| t as *const libc::timespec),
                std::ptr::null(),
            )
        };
        match cvt(ret) {
            Ok(n) => {
                if n == 0 && deadline.is_some_and(|d| Instant::now() < d) {
                    continue;
                }
                return Ok(n as usize);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `pipe2(O_CLOEXEC)`—A pipe `(read, write)`, both ends close-on-exec and numbered
/// 3 or above (so a child's stdio setup can never land on them).
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(r)?, above_stdio(w)?))
}

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a valid fd returns a new descriptor we own.
    let new = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) })?;
    // SAFETY: `new` is a fresh descriptor from fcntl.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Takes ownership of a descriptor this process inherited by number (the shim's
/// protocol pipes), after checking it is open, and marks it close-on-exec.
pub(crate) fn adopt_inherited(raw: RawFd) -> io::Result<OwnedFd> {
    if raw < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "protocol fd must be 3 or above",
        ));
    }
    // SAFETY: F_GETFD only reads the flags of `raw`; it fails with EBADF if closed.
    cvt(unsafe { libc::fcntl(raw, libc::F_GETFD) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // SAFETY: the parent passed this descriptor to us to own; nothing else in this
    // process refers to it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `dup2(/dev/null, 0..=2)`—Points this process's stdin, stdout and stderr at
/// `/dev/null`, so it no longer holds the caller's pipes open.
pub(crate) fn stdio_to_dev_null() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns;
        // replacing them is the point.
        cvt_retry(|| unsafe { libc::dup2(null.as_raw_fd(), target) })?;
    }
    Ok(())
}
