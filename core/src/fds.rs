//! File descriptors, safely over rustix: close-on-exec pipes, `ppoll` with a
//! deadline, stdio pointed at `/dev/null`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::Timespec;
pub(crate) use rustix::event::{PollFd, PollFlags};
use rustix::pipe::PipeFlags;

/// Whether a [`PollFd`] came back with any event (or a hang-up or error).
pub(crate) trait Ready {
    fn ready(&self) -> bool;
}

impl Ready for PollFd<'_> {
    fn ready(&self) -> bool {
        !self.revents().is_empty()
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
            Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            })
        });
        match rustix::event::poll(fds, ts.as_ref()) {
            Ok(0) if deadline.is_some_and(|d| Instant::now() < d) => continue,
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `pipe2(O_CLOEXEC)`—A pipe `(read, write)`, both ends close-on-exec and numbered
/// 3 or above (so a child's stdio setup can never land on them).
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
    Ok((above_stdio(r)?, above_stdio(w)?))
}

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 3)?)
}

/// `dup2(/dev/null, 0..=2)`—Points this process's stdin, stdout and stderr at
/// `/dev/null`, so it no longer holds the caller's pipes open.
pub(crate) fn stdio_to_dev_null() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for dup2 in [
        rustix::stdio::dup2_stdin::<&std::fs::File>,
        rustix::stdio::dup2_stdout,
        rustix::stdio::dup2_stderr,
    ] {
        loop {
            match dup2(&null) {
                Err(rustix::io::Errno::INTR) => continue,
                r => break r?,
            }
        }
    }
    Ok(())
}
