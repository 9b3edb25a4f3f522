//! The frames between the harness and a warden server: a 4-byte little-endian
//! length, then JSON (a [`Trial`](crate::trial::Trial) one way, a [`Reply`] the
//! other), both sides bounded by [`MAX_FRAME`].

use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::trial::TrialOutcome;

/// The version of the frames and of what they carry (trial, reply, outcome):
/// the harness passes it (`--protocol`) and a server of another version refuses
/// to start, saying so, instead of answering what the caller cannot read.
pub const PROTOCOL: u32 = 1;

/// The largest frame either side accepts (a trial or a reply).
pub const MAX_FRAME: usize = 256 << 20;

/// What the server answers for one trial.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Reply {
    /// The trial's outcome.
    pub outcome: TrialOutcome,
    /// What the wardens wrote for this trial (phase timings, problems).
    pub log: String,
    /// The server exits after this answer (its trial's cgroup would not empty):
    /// do not send it another trial.
    #[serde(default)]
    pub last: bool,
}

/// Writes one frame: the length (4 bytes, little-endian), then `bytes`.
pub fn write_frame(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| (n as usize) <= MAX_FRAME)
        .ok_or_else(|| io::Error::other(format!("frame of {} bytes", bytes.len())))?;
    let mut out = std::fs::File::from(fd.try_clone_to_owned()?);
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

/// Reads one frame; `None` at end of input before a frame starts. With a
/// deadline, gives up (`TimedOut`) when it passes.
pub fn read_frame(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    if !read_exact(fd, &mut len, deadline, true)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("frame of {len} bytes announced")));
    }
    let mut buf = vec![0u8; len];
    read_exact(fd, &mut buf, deadline, false)?;
    Ok(Some(buf))
}

/// Fills `buf`; false if the input ended before the first byte and `eof_ok`.
fn read_exact(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    deadline: Option<Instant>,
    eof_ok: bool,
) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let t = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&t)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match rustix::io::read(fd, &mut buf[got..]) {
            Ok(0) if got == 0 && eof_ok => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}
