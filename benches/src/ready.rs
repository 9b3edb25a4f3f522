//! Readiness: every process of a benched tree writes its PID to a FIFO once it is
//! in place; the bench starts the clock only after reading all of them.
//!
//! A named FIFO rather than an inherited pipe: it reaches the tree whatever a
//! method or its shim does with file descriptors (closing every fd above 2,
//! redirecting stdio), and an exec'd chain node simply opens it again by path.
//! The bench keeps a writer open itself, so the FIFO never reads as hung up between
//! trees and `poll(POLLIN)` simply waits for the next record.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;

use crate::errors::ReadyError;

/// The read end of a readiness FIFO in a private temporary directory (both removed
/// on drop).
#[derive(Debug)]
pub struct ReadyFifo {
    dir: PathBuf,
    path: PathBuf,
    reader: File,
    /// Held so that the FIFO never has zero writers (no `POLLHUP` between trees).
    _writer: File,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ReadyError {
    let what = what.into();
    move |source| ReadyError::Io { what, source }
}

impl ReadyFifo {
    /// Creates the FIFO and opens its read end (non-blocking, so no writer is
    /// needed yet).
    pub fn create() -> Result<ReadyFifo, ReadyError> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "teardown-bench-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        let path = dir.join("ready");
        let made = nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(io::Error::from)
            .and_then(|()| {
                OpenOptions::new()
                    .read(true)
                    .custom_flags(OFlag::O_NONBLOCK.bits())
                    .open(&path)
            })
            .and_then(|reader| Ok((reader, OpenOptions::new().write(true).open(&path)?)));
        match made {
            Ok((reader, writer)) => Ok(ReadyFifo {
                dir,
                path,
                reader,
                _writer: writer,
            }),
            Err(source) => {
                let _ = fs::remove_dir_all(&dir);
                Err(ReadyError::Io {
                    what: format!("make FIFO {}", path.display()),
                    source,
                })
            }
        }
    }

    /// The FIFO's path, for the helper's `--ready`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads `n` PID records (native-endian `i32`, as `bench-tree` writes them),
    /// waiting at most `deadline` in all.
    pub fn read_pids(&mut self, n: usize, deadline: Duration) -> Result<Vec<i32>, ReadyError> {
        let start = Instant::now();
        let mut bytes = vec![0u8; n * 4];
        self.fill(&mut bytes, 4, start, deadline)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Reads records of `len` bytes until `last` says one is the last (the node
    /// interpreter's leader record comes last), waiting at most `deadline` in all.
    pub fn read_records_until(
        &mut self,
        len: usize,
        deadline: Duration,
        mut last: impl FnMut(&[u8]) -> bool,
    ) -> Result<Vec<Vec<u8>>, ReadyError> {
        let start = Instant::now();
        let mut records = Vec::new();
        loop {
            let mut record = vec![0u8; len];
            self.fill(&mut record, len, start, deadline)
                .map_err(|e| match e {
                    ReadyError::Timeout { waited, .. } => ReadyError::Timeout {
                        got: records.len(),
                        want: records.len() + 1,
                        waited,
                    },
                    other => other,
                })?;
            let done = last(&record);
            records.push(record);
            if done {
                return Ok(records);
            }
        }
    }

    /// Fills `bytes` from the FIFO; `deadline` counts from `start`.
    fn fill(
        &mut self,
        bytes: &mut [u8],
        record_len: usize,
        start: Instant,
        deadline: Duration,
    ) -> Result<(), ReadyError> {
        let mut got = 0;
        while got < bytes.len() {
            match self.reader.read(&mut bytes[got..]) {
                Ok(len) if len > 0 => {
                    got += len;
                    continue;
                }
                Ok(_) => unreachable!("the FIFO always has a writer: this one"),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ReadyError::Io {
                        what: "read readiness records".into(),
                        source,
                    });
                }
            }
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(ReadyError::Timeout {
                    got: got / record_len,
                    want: bytes.len() / record_len,
                    waited: start.elapsed(),
                });
            }
            let mut fds = [PollFd::new(self.reader.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(left.as_millis().clamp(1, i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(errno) => {
                    return Err(ReadyError::Io {
                        what: "poll readiness FIFO".into(),
                        source: errno.into(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl Drop for ReadyFifo {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn records_are_read_up_to_the_last_one_and_the_rest_is_kept() {
        let mut fifo = ReadyFifo::create().unwrap();
        let mut writer = OpenOptions::new().write(true).open(fifo.path()).unwrap();
        writer.write_all(&[1, 1, 2, 2, 0, 0, 9, 9]).unwrap();
        let second = Duration::from_secs(1);
        let records = fifo.read_records_until(2, second, |r| r[0] == 0).unwrap();
        assert_eq!(records, [[1, 1], [2, 2], [0, 0]]);
        assert_eq!(
            fifo.read_records_until(2, second, |_| true).unwrap(),
            [[9, 9]]
        );
    }

    #[test]
    fn a_missing_record_is_a_timeout_that_counts_what_came() {
        let mut fifo = ReadyFifo::create().unwrap();
        let mut writer = OpenOptions::new().write(true).open(fifo.path()).unwrap();
        writer.write_all(&7i32.to_ne_bytes()).unwrap();
        let error = fifo.read_pids(2, Duration::from_millis(20)).unwrap_err();
        assert!(
            matches!(
                error,
                ReadyError::Timeout {
                    got: 1,
                    want: 2,
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
