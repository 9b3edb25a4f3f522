//! The oracle's classification against a fake `/proc`, one rule a test, by
//! group; the scene every group builds on is here.

mod live_proc_on_a_directory;
mod membership;
mod races;
mod records;
mod verdicts;
mod zombies;

use super::*;
use crate::trial::NodeRecord;
use std::collections::BTreeSet;

const WARDEN: i32 = 1;
const SUP: i32 = 2;
const BY_GROUP: i32 = 3;
const BY_OWN: i32 = 4;

/// A warden (1) with a supervisor (2) and two bystanders (3, 4).
fn table() -> FakeProc {
    let mut p = FakeProc::new();
    p.live(WARDEN, 0)
        .live(SUP, WARDEN)
        .live(BY_GROUP, WARDEN)
        .live(BY_OWN, WARDEN);
    p
}

fn scene(p: &FakeProc) -> Scene {
    Scene {
        warden: WARDEN,
        supervisor: SUP,
        bystanders: vec![p.identity(BY_GROUP), p.identity(BY_OWN)],
        records: Vec::new(),
        supervisor_exiting: false,
    }
}

fn record(p: &FakeProc, node: u32, pid: i32) -> NodeRecord {
    let s = p.stat(pid).expect("known pid");
    NodeRecord {
        node,
        pid,
        pgid: s.pgid,
        sid: s.sid,
        start_time: s.start_time,
        pidns: 0,
    }
}

fn verdict_once(p: &FakeProc, sc: &Scene) -> Judgement {
    let o = observe(p, sc);
    judge(&o, &o)
}
