//! The readiness record: what every node writes on the report pipe when its part of
//! the spec is in place.
//!
//! Fixed size, 32 bytes, native byte order (writer and reader run on the same
//! machine): `u32` node id, `i32` pid, `i32` pgid, `i32` sid, `u64` start time in
//! clock ticks since boot (`/proc/<pid>/stat` field 22), `u64` the inode of the
//! node's PID namespace (`/proc/self/ns/pid`). One `write(2)` of 32 bytes
//! to a pipe is atomic (less than `PIPE_BUF`), so records from many processes never
//! interleave.
//!
//! PIDs are those the node sees (`getpid()` in its own PID namespace); the warden
//! maps them to its own view (see [`crate::oracle::map_records`]).
//!
//! # The "signalled upward" record
//!
//! A node with `kill-parent` or `kill-ancestors` writes one more record once it
//! has sent those signals (which it does only when the whole tree is ready): the
//! node field has [`UPWARD_BIT`] set (`node_id | 0x4000_0000`). The warden waits
//! for one from every such node before it triggers the teardown, so a tree that
//! stops its supervisor has always stopped it when the trigger comes.
//!
//! # The "finished gracefully" record
//!
//! A node with `graceful=DUR` writes a second record when its SIGTERM handler has
//! taken its time: the same layout, with [`GRACEFUL_BIT`] set in the node field
//! (`node_id | 0x8000_0000`), then it exits 0. Its other fields are the node's
//! identity when the handler was armed (pid, pgid, sid, start time, PID namespace;
//! a `userns` node re-arms in the namespace's init). The warden can tell from it
//! whether the supervisor let the node finish within its grace: the record
//! arrives only if the node was not killed first. Node ids are below 2³¹ (a spec
//! within any sane limit has far fewer nodes). [`encode_graceful`] writes one,
//! [`decode_report`] tells the two kinds apart; [`decode`] returns the node field
//! as it is.

use crate::trial::NodeRecord;

/// Size of one record on the wire.
pub const RECORD_LEN: usize = 32;

/// Environment variable naming the report pipe's write end in every node.
pub const REPORT_FD_ENV: &str = "TEARDOWN_REPORT_FD";

/// Environment variable with the warden's PID (in the warden's own PID namespace),
/// set by the warden for the supervisor and inherited by the tree: a node that
/// signals up its ancestry never signals it or anything above it, and refuses to
/// run without it (see [`crate::node::upward`]).
pub const WARDEN_PID_ENV: &str = "TEARDOWN_WARDEN_PID";

/// Set in the node field of a "finished gracefully" record.
pub const GRACEFUL_BIT: u32 = 0x8000_0000;

/// Set in the node field of a "signalled upward" record.
pub const UPWARD_BIT: u32 = 0x4000_0000;

/// What one record on the report pipe says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// The node is ready (its subtree is in place).
    Ready(NodeRecord),
    /// The node's `graceful` SIGTERM handler finished and the node exits now; the
    /// record's `node` is the node id, without [`GRACEFUL_BIT`].
    Graceful(NodeRecord),
    /// The node sent its `kill-parent`/`kill-ancestors` signals (once the whole
    /// tree was ready); the record's `node` is the node id, without
    /// [`UPWARD_BIT`]. The warden waits for these before it triggers the
    /// teardown, so that the attack and the trigger never race.
    Upward(NodeRecord),
}

/// Encodes a "finished gracefully" record: `r` with [`GRACEFUL_BIT`] set in its
/// node field.
pub fn encode_graceful(r: &NodeRecord) -> [u8; RECORD_LEN] {
    encode(&NodeRecord {
        node: r.node | GRACEFUL_BIT,
        ..*r
    })
}

/// Encodes a "signalled upward" record: `r` with [`UPWARD_BIT`] set in its node
/// field.
pub fn encode_upward(r: &NodeRecord) -> [u8; RECORD_LEN] {
    encode(&NodeRecord {
        node: r.node | UPWARD_BIT,
        ..*r
    })
}

/// Decodes a record and says which kind it is.
pub fn decode_report(b: &[u8; RECORD_LEN]) -> Report {
    let r = decode(b);
    let node = r.node & !(GRACEFUL_BIT | UPWARD_BIT);
    if r.node & GRACEFUL_BIT != 0 {
        Report::Graceful(NodeRecord { node, ..r })
    } else if r.node & UPWARD_BIT != 0 {
        Report::Upward(NodeRecord { node, ..r })
    } else {
        Report::Ready(r)
    }
}

/// Encodes a record.
pub fn encode(r: &NodeRecord) -> [u8; RECORD_LEN] {
    let mut b = [0u8; RECORD_LEN];
    b[0..4].copy_from_slice(&r.node.to_ne_bytes());
    b[4..8].copy_from_slice(&r.pid.to_ne_bytes());
    b[8..12].copy_from_slice(&r.pgid.to_ne_bytes());
    b[12..16].copy_from_slice(&r.sid.to_ne_bytes());
    b[16..24].copy_from_slice(&r.start_time.to_ne_bytes());
    b[24..32].copy_from_slice(&r.pidns.to_ne_bytes());
    b
}

/// Decodes a record.
pub fn decode(b: &[u8; RECORD_LEN]) -> NodeRecord {
    let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    NodeRecord {
        node: u32_at(0),
        pid: u32_at(4) as i32,
        pgid: u32_at(8) as i32,
        sid: u32_at(12) as i32,
        start_time: u64::from_ne_bytes(b[16..24].try_into().expect("8 bytes")),
        pidns: u64::from_ne_bytes(b[24..32].try_into().expect("8 bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_encoding_and_decoding() {
        let r = NodeRecord {
            node: 7,
            pid: 1234,
            pgid: -1,
            sid: 99,
            start_time: u64::MAX - 3,
            pidns: 4026531836,
        };
        assert_eq!(decode(&encode(&r)), r);
    }

    #[test]
    fn a_graceful_record_is_a_record_with_the_top_bit_of_the_node_set() {
        let r = NodeRecord {
            node: 12,
            pid: 1,
            pgid: 0,
            sid: 0,
            start_time: 777,
            pidns: 4026532000,
        };
        let b = encode_graceful(&r);
        assert_eq!(&b[0..4], &(12u32 | 0x8000_0000).to_ne_bytes());
        assert_eq!(
            &b[4..],
            &encode(&r)[4..],
            "the other fields are the record's"
        );
        assert_eq!(decode(&b).node, 0x8000_000c);
        assert_eq!(decode_report(&b), Report::Graceful(r));
        assert_eq!(decode_report(&encode(&r)), Report::Ready(r));
    }

    #[test]
    fn an_upward_record_is_a_record_with_the_second_bit_of_the_node_set() {
        let r = NodeRecord {
            node: 5,
            pid: 9,
            pgid: 9,
            sid: 1,
            start_time: 42,
            pidns: 7,
        };
        let b = encode_upward(&r);
        assert_eq!(&b[0..4], &(5u32 | 0x4000_0000).to_ne_bytes());
        assert_eq!(decode_report(&b), Report::Upward(r));
    }

    #[test]
    fn a_record_is_32_bytes_laid_out_in_field_order() {
        let r = NodeRecord {
            node: 1,
            pid: 2,
            pgid: 3,
            sid: 4,
            start_time: 5,
            pidns: 6,
        };
        let b = encode(&r);
        assert_eq!(b.len(), 32);
        assert_eq!(&b[4..8], &2i32.to_ne_bytes());
        assert_eq!(&b[16..24], &5u64.to_ne_bytes());
        assert_eq!(&b[24..32], &6u64.to_ne_bytes());
    }
}
