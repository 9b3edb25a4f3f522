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

use crate::trial::NodeRecord;

/// Size of one record on the wire.
pub const RECORD_LEN: usize = 32;

/// Environment variable naming the report pipe's write end in every node.
pub const REPORT_FD_ENV: &str = "TEARDOWN_REPORT_FD";

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
