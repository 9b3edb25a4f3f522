//! The shim's wire protocol: one text line per message on two pipes.
//!
//! shim → host (`evt` pipe): `leaf <cgroup-dir>` (`pidns`, before `ready`),
//! `ready <leader-pid>`, `spawn-failed <errno>`,
//! `unsupported <reason>`, `failed <errno> <step>`, `leader-exited <raw-status>`,
//! `drained <report-json>`, `deadline <elapsed-us> <alive>`.
//!
//! host → shim (`ctl` pipe): `teardown <grace-us> <deadline-us | ->`, and
//! `signal <n>` (send signal n to the leader while it runs: what a supervisor
//! forwards, tini-style). End of file on `ctl` (the host died or dropped the
//! tree) means: SIGKILL teardown, then exit.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::fds::{PollFd, PollFlags, poll};
use crate::sys::wait::RawStatus;
use crate::waiter::{Ready, Waiter};

/// A message from the shim to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// `pidns` put the tree in this cgroup leaf (sent before `ready`): the host
    /// removes it if the shim dies.
    Leaf(String),
    Ready(i32),
    SpawnFailed(i32),
    Unsupported(String),
    Failed(i32, String),
    LeaderExited(RawStatus),
    Drained(String),
    Deadline(u64, u64),
}

impl Event {
    pub(crate) fn encode(&self) -> String {
        match self {
            Event::Leaf(p) => format!("leaf {}\n", one_line(p)),
            Event::Ready(p) => format!("ready {p}\n"),
            Event::SpawnFailed(e) => format!("spawn-failed {e}\n"),
            Event::Unsupported(r) => format!("unsupported {}\n", one_line(r)),
            Event::Failed(e, what) => format!("failed {e} {}\n", one_line(what)),
            Event::LeaderExited(s) => format!("leader-exited {s}\n"),
            Event::Drained(json) => format!("drained {}\n", one_line(json)),
            Event::Deadline(us, alive) => format!("deadline {us} {alive}\n"),
        }
    }

    pub(crate) fn parse(line: &str) -> Option<Event> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let num = |s: &str| s.trim().parse::<i64>().ok();
        Some(match word {
            "leaf" => Event::Leaf(rest.to_owned()),
            "ready" => Event::Ready(num(rest)? as i32),
            "spawn-failed" => Event::SpawnFailed(num(rest)? as i32),
            "unsupported" => Event::Unsupported(rest.to_owned()),
            "failed" => {
                let (e, what) = rest.split_once(' ').unwrap_or((rest, ""));
                Event::Failed(num(e)? as i32, what.to_owned())
            }
            "leader-exited" => Event::LeaderExited(num(rest)? as i32),
            "drained" => Event::Drained(rest.to_owned()),
            "deadline" => {
                let (a, b) = rest.split_once(' ')?;
                Event::Deadline(num(a)? as u64, num(b)? as u64)
            }
            _ => return None,
        })
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

/// A request from the host to the shim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TeardownRequest {
    pub grace: Duration,
    pub deadline: Option<Duration>,
}

impl TeardownRequest {
    pub(crate) fn encode(&self) -> String {
        match self.deadline {
            Some(d) => format!("teardown {} {}\n", self.grace.as_micros(), d.as_micros()),
            None => format!("teardown {} -\n", self.grace.as_micros()),
        }
    }

    pub(crate) fn parse(line: &str) -> Option<TeardownRequest> {
        let mut it = line.split(' ');
        if it.next()? != "teardown" {
            return None;
        }
        let grace = Duration::from_micros(it.next()?.parse().ok()?);
        let deadline = match it.next()? {
            "-" => None,
            d => Some(Duration::from_micros(d.parse().ok()?)),
        };
        Some(TeardownRequest { grace, deadline })
    }
}

/// A message from the host to the shim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// Tear the tree down.
    Teardown(TeardownRequest),
    /// Send this signal to the leader if it has not exited.
    Signal(i32),
}

impl Request {
    pub(crate) fn encode(&self) -> String {
        match self {
            Request::Teardown(t) => t.encode(),
            Request::Signal(n) => format!("signal {n}\n"),
        }
    }

    pub(crate) fn parse(line: &str) -> Option<Request> {
        if let Some(n) = line.strip_prefix("signal ") {
            let n: i32 = n.trim().parse().ok()?;
            return (1..=64).contains(&n).then_some(Request::Signal(n));
        }
        TeardownRequest::parse(line).map(Request::Teardown)
    }
}

/// What a read of the next line found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Line(String),
    Timeout,
    Eof,
}

/// Reads lines from a pipe, with timeouts, without blocking past them.
#[derive(Debug)]
pub(crate) struct LineReader {
    file: File,
    buf: Vec<u8>,
    eof: bool,
}

impl LineReader {
    pub(crate) fn new(fd: OwnedFd) -> LineReader {
        LineReader {
            file: File::from(fd),
            buf: Vec::new(),
            eof: false,
        }
    }

    /// A complete line already read, if any.
    pub(crate) fn pending(&mut self) -> Option<String> {
        let i = self.buf.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.buf.drain(..=i).collect();
        Some(String::from_utf8_lossy(&line[..i]).into_owned())
    }

    /// True once the writer closed its end.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// One `read` (call when `poll` said the pipe is readable).
    pub(crate) fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.file.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next line, waiting through `w` up to `end` (`None`: forever).
    /// Cancelled midway, it has consumed nothing.
    pub(crate) async fn next_on(
        &mut self,
        end: Option<Instant>,
        w: &dyn Waiter,
    ) -> io::Result<Next> {
        loop {
            match self.next(Some(Duration::ZERO))? {
                Next::Timeout => {}
                other => return Ok(other),
            }
            if end.is_some_and(|e| Instant::now() >= e) {
                return Ok(Next::Timeout);
            }
            w.wait(&[(self.as_fd(), Ready::Read)], end).await?;
        }
    }

    /// The next line, waiting up to `timeout` (`None`: forever).
    pub(crate) fn next(&mut self, timeout: Option<Duration>) -> io::Result<Next> {
        let end = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(l) = self.pending() {
                return Ok(Next::Line(l));
            }
            if self.eof {
                return Ok(Next::Eof);
            }
            let left = end.map(|e| e.saturating_duration_since(Instant::now()));
            let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
            if poll(&mut fds, left)? == 0 {
                return Ok(Next::Timeout);
            }
            self.fill()?;
        }
    }
}

impl AsFd for LineReader {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Writes lines to a pipe.
#[derive(Debug)]
pub(crate) struct LineWriter {
    file: File,
}

impl LineWriter {
    pub(crate) fn new(fd: OwnedFd) -> LineWriter {
        LineWriter {
            file: File::from(fd),
        }
    }

    pub(crate) fn send(&mut self, line: &str) -> io::Result<()> {
        self.file.write_all(line.as_bytes())
    }

    /// [`LineWriter::send`] that never blocks: a full pipe (the shim is not
    /// reading: stopped, say, by its own tree) fails with `WouldBlock` and
    /// writes nothing. A line is shorter than `PIPE_BUF`, so it is written whole
    /// or not at all.
    pub(crate) fn try_send(&mut self, line: &str) -> io::Result<()> {
        use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
        debug_assert!(line.len() < libc::PIPE_BUF);
        let flags = fcntl_getfl(&self.file)?;
        fcntl_setfl(&self.file, flags | OFlags::NONBLOCK)?;
        let written = rustix::io::write(&self.file, line.as_bytes());
        fcntl_setfl(&self.file, flags)?;
        match written {
            Ok(n) if n == line.len() => Ok(()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "a short write to the shim's control pipe",
            )),
            Err(e) if e == rustix::io::Errno::AGAIN => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the shim's control pipe is full: the shim is not reading it (stopped?)",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_its_line() {
        let events = [
            Event::Leaf("/sys/fs/cgroup/teardown-1-2-0".into()),
            Event::Ready(42),
            Event::SpawnFailed(2),
            Event::Unsupported("no user namespaces: ask root".into()),
            Event::Failed(13, "write uid_map".into()),
            Event::LeaderExited(9),
            Event::Drained("{\"method\":\"pidns\"}".into()),
            Event::Deadline(1500, 3),
        ];
        for e in events {
            let line = e.encode();
            assert_eq!(Event::parse(line.trim_end_matches('\n')), Some(e));
        }
    }

    #[test]
    fn teardown_requests_round_trip_with_and_without_deadline() {
        for r in [
            TeardownRequest {
                grace: Duration::from_millis(5),
                deadline: None,
            },
            TeardownRequest {
                grace: Duration::ZERO,
                deadline: Some(Duration::from_secs(2)),
            },
        ] {
            assert_eq!(TeardownRequest::parse(r.encode().trim_end()), Some(r));
        }
        assert_eq!(TeardownRequest::parse("teardown x -"), None);
    }

    #[test]
    fn requests_round_trip_and_signal_numbers_are_checked() {
        for r in [
            Request::Signal(10),
            Request::Teardown(TeardownRequest {
                grace: Duration::from_millis(1),
                deadline: None,
            }),
        ] {
            assert_eq!(Request::parse(r.encode().trim_end()), Some(r));
        }
        assert_eq!(Request::parse("signal 0"), None);
        assert_eq!(Request::parse("signal 65"), None);
        assert_eq!(Request::parse("signal x"), None);
    }
}
