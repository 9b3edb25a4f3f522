//! The report pipe, as the inner warden reads it: every node's readiness record,
//! the "signalled upward" record of every node that signals its ancestors, and
//! the "finished gracefully" record of a `graceful` node whose shutdown was let
//! finish (see [`crate::node::record`]).

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::node::record::{self, RECORD_LEN, Report};
use crate::trial::NodeRecord;

/// What the tree said on the report pipe so far.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    buf: Vec<u8>,
    /// Readiness records by node (the first one of each node counts).
    pub ready: BTreeMap<u32, NodeRecord>,
    /// Nodes that said their upward signals are out.
    pub upward: BTreeSet<u32>,
    /// Nodes whose graceful shutdown finished, and when the warden read it.
    pub graceful: BTreeMap<u32, Instant>,
    /// No writer is left: every process that held the pipe is gone.
    pub ended: bool,
}

/// How a read ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waited {
    /// The condition holds.
    Done,
    /// The deadline passed.
    TimedOut,
    /// The pipe has no writer left.
    Ended,
}

impl Inbox {
    /// Reads records until `done` holds, the deadline passes, or no writer is left.
    pub fn read_until(
        &mut self,
        pipe: &OwnedFd,
        deadline: Instant,
        done: impl Fn(&Inbox) -> bool,
    ) -> Result<Waited, String> {
        loop {
            if done(self) {
                return Ok(Waited::Done);
            }
            if self.ended {
                return Ok(Waited::Ended);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !poll_in(pipe, left) {
                return Ok(Waited::TimedOut);
            }
            self.read_once(pipe)?;
        }
    }

    /// One `read` of what is there (call when the pipe is readable).
    pub fn read_once(&mut self, pipe: &OwnedFd) -> Result<(), String> {
        let mut chunk = [0u8; RECORD_LEN * 64];
        loop {
            match rustix::io::read(pipe, &mut chunk) {
                Ok(0) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.take(&chunk[..n]);
                    return Ok(());
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(format!("warden: reading records: {e}")),
            }
        }
    }

    /// Sorts complete records out of the bytes read.
    fn take(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let whole = self.buf.len() / RECORD_LEN * RECORD_LEN;
        for r in self.buf[..whole].chunks_exact(RECORD_LEN) {
            match record::decode_report(r.try_into().expect("RECORD_LEN bytes")) {
                Report::Ready(rec) => {
                    self.ready.entry(rec.node).or_insert(rec);
                }
                Report::Upward(rec) => {
                    self.upward.insert(rec.node);
                }
                Report::Graceful(rec) => {
                    self.graceful.entry(rec.node).or_insert_with(Instant::now);
                }
            }
        }
        self.buf.drain(..whole);
    }
}

/// Polls one fd for input up to `left`; true if readable (or hung up).
pub(super) fn poll_in(fd: &OwnedFd, left: Duration) -> bool {
    let t = Timespec::try_from(left).unwrap_or(Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    });
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    loop {
        match rustix::event::poll(&mut fds, Some(&t)) {
            Ok(n) => return n > 0,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(node: u32) -> NodeRecord {
        NodeRecord {
            node,
            pid: 10 + node as i32,
            pgid: 10,
            sid: 1,
            start_time: 5,
            pidns: 0,
        }
    }

    #[test]
    fn records_are_sorted_by_kind_even_when_split_across_reads() {
        let mut inbox = Inbox::default();
        let mut bytes = Vec::new();
        bytes.extend(record::encode(&rec(0)));
        bytes.extend(record::encode_upward(&rec(0)));
        bytes.extend(record::encode_graceful(&rec(1)));
        bytes.extend(record::encode(&rec(1)));
        let (a, b) = bytes.split_at(45);
        inbox.take(a);
        assert_eq!(inbox.ready.len(), 1);
        inbox.take(b);
        assert_eq!(inbox.ready.keys().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(inbox.upward.iter().copied().collect::<Vec<_>>(), [0]);
        assert!(inbox.graceful.contains_key(&1));
    }
}
