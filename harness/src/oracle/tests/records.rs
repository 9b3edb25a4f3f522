//! The readiness records: a reused PID is not the node, and records from a
//! nested PID namespace are placed in the warden's view.

use super::*;

#[test]
fn a_recorded_pid_reused_by_a_stranger_is_not_the_node() {
    let mut p = table();
    p.live(501, 0);
    let mut sc = scene(&p);
    let mut r = record(&p, 3, 501);
    r.start_time += 1; // the node that had 501 is gone; 501 is someone else now
    sc.records = vec![r];
    assert_eq!(verdict_once(&p, &sc).verdict, Verdict::Clean);
}

#[test]
fn findings_name_the_node_of_recorded_processes() {
    let mut p = table();
    p.live(10, SUP).live(11, 10);
    let mut sc = scene(&p);
    sc.records = vec![record(&p, 0, 10), record(&p, 1, 11)];
    let j = verdict_once(&p, &sc);
    let nodes: Vec<Option<u32>> = j.findings.iter().map(|f| f.node).collect();
    assert_eq!(nodes, vec![Some(0), Some(1)]);
}

#[test]
fn records_from_a_nested_pid_namespace_are_mapped_to_the_wardens_view() {
    let mut p = table();
    // bwrap-style: 10 is the supervisor's helper, 11 and 12 are nodes in a nested
    // namespace where they are 1 (the leader, its own group and session) and 2.
    p.live(10, SUP)
        .live(11, 10)
        .live(12, 11)
        .group(11, 11, 11)
        .group(12, 11, 11);
    p.nspid_of(11, vec![11, 1]).nspid_of(12, vec![12, 2]);
    let seen = vec![
        NodeRecord {
            node: 0,
            pid: 1,
            pgid: 1,
            sid: 1,
            start_time: p.identity(11).start_time,
            pidns: 0,
        },
        NodeRecord {
            node: 1,
            pid: 2,
            pgid: 1,
            sid: 1,
            start_time: p.identity(12).start_time,
            pidns: 0,
        },
    ];
    let mapped = map_records(&p, &seen);
    assert_eq!(
        mapped.records,
        vec![
            NodeRecord {
                node: 0,
                pid: 11,
                pgid: 11,
                sid: 11,
                start_time: seen[0].start_time,
                pidns: 0,
            },
            NodeRecord {
                node: 1,
                pid: 12,
                pgid: 11,
                sid: 11,
                start_time: seen[1].start_time,
                pidns: 0,
            },
        ]
    );
}

#[test]
fn a_record_is_not_mapped_to_a_stranger_that_has_its_pid_and_start_tick() {
    let mut p = table();
    // Node 0 is PID 3 in its namespace and started in the same clock tick as
    // bystander 3 in ours; its real process is 11.
    let tick = p.identity(BY_GROUP).start_time;
    p.live(10, SUP)
        .live(11, 10)
        .group(11, 11, 11)
        .nspid_of(11, vec![11, 3])
        .started(11, tick);
    let seen = vec![NodeRecord {
        node: 0,
        pid: 3,
        pgid: 3,
        sid: 3,
        start_time: tick,
        pidns: 0,
    }];
    assert_eq!(map_records(&p, &seen).records[0].pid, 11);
}

#[test]
fn two_nested_namespaces_with_the_same_pid_and_tick_are_told_apart_by_their_namespace() {
    let mut p = table();
    // `pidns` with a `userns` node: the method's namespace (inode 500) and the
    // node's own (inode 600) both have a PID 1 and a PID 2, and here both pairs
    // started in the same clock tick. Each record says its namespace.
    let tick = 777;
    p.live(10, SUP)
        .live(11, 10)
        .live(12, 11)
        .live(13, 12)
        .live(14, 13);
    for (pid, ns, inner) in [(11, 500, 1), (12, 500, 2), (13, 600, 1), (14, 600, 2)] {
        p.started(pid, tick)
            .nspid_of(pid, vec![pid, inner])
            .in_ns(pid, ns)
            .group(pid, if ns == 500 { 11 } else { 13 }, 0);
    }
    let rec = |node, pid, pgid, pidns| NodeRecord {
        node,
        pid,
        pgid,
        sid: 0,
        start_time: tick,
        pidns,
    };
    let seen = vec![rec(0, 2, 2, 500), rec(1, 1, 1, 600), rec(2, 2, 1, 600)];
    let mapped = map_records(&p, &seen).records;
    let placed: Vec<(i32, i32)> = mapped.iter().map(|r| (r.pid, r.pgid)).collect();
    assert_eq!(placed, vec![(12, 12), (13, 13), (14, 13)]);
}

#[test]
fn a_nested_match_wins_over_a_stranger_with_the_same_pid_tick_group_and_session() {
    let mut p = table();
    // `pidns` method: the leader is PID 3 of its own namespace, in its own group,
    // its session outside (0). Bystander 3 of the warden started in the same tick,
    // leads its own group, and its session is outside the warden's namespace (0).
    let tick = p.identity(BY_GROUP).start_time;
    p.group(BY_GROUP, BY_GROUP, 0)
        .live(10, SUP)
        .live(11, 10)
        .group(11, 11, 0)
        .nspid_of(11, vec![11, BY_GROUP])
        .started(11, tick);
    let seen = vec![NodeRecord {
        node: 0,
        pid: BY_GROUP,
        pgid: BY_GROUP,
        sid: 0,
        start_time: tick,
        pidns: 0,
    }];
    assert_eq!(map_records(&p, &seen).records[0].pid, 11);
}

#[test]
fn a_gone_nested_node_is_not_placed_on_our_process_with_its_pid_and_tick() {
    // `pidns`: node 1, an `exit` node, was PID 4 of the tree's namespace and has
    // exited, so no NSpid line names it. Our own PID 4 (the shim, say) started in
    // the same clock tick. Before records said their namespace, the warden took
    // our 4 for the node and waited for it to exit: "node 1 (pid 4) did not exit".
    const OURS: u64 = 4026531836;
    const TREES: u64 = 4026532999;
    let mut p = table();
    p.in_pidns(OURS).live(4, SUP);
    let tick = p.identity(4).start_time;
    let gone = NodeRecord {
        node: 1,
        pid: 4,
        pgid: 0,
        sid: 0,
        start_time: tick,
        pidns: TREES,
    };
    let placed = map_records(&p, &[gone]);
    assert_eq!(placed.gone, BTreeSet::from([1]));
    assert_eq!(placed.records, vec![gone], "kept as the node saw it");
    // The same record from our own namespace is our process 4.
    let ours = NodeRecord {
        pidns: OURS,
        ..gone
    };
    assert_eq!(map_records(&p, &[ours]).gone, BTreeSet::new());
    // And a record that does not say stays judged as before (not gone here).
    let unknown = NodeRecord { pidns: 0, ..gone };
    assert_eq!(map_records(&p, &[unknown]).gone, BTreeSet::new());
}

#[test]
fn a_record_from_our_own_namespace_is_never_mapped_to_a_nested_look_alike() {
    // A node in our namespace (PID 3) and a nested process whose innermost PID is
    // 3, started in the same tick: the record says which one it is.
    const OURS: u64 = 4026531836;
    let mut p = table();
    let tick = p.identity(BY_GROUP).start_time;
    p.in_pidns(OURS)
        .live(10, SUP)
        .live(11, 10)
        .nspid_of(11, vec![11, BY_GROUP])
        .started(11, tick);
    let rec = NodeRecord {
        node: 0,
        pid: BY_GROUP,
        pgid: BY_GROUP,
        sid: BY_GROUP,
        start_time: tick,
        pidns: OURS,
    };
    assert_eq!(map_records(&p, &[rec]).records[0].pid, BY_GROUP);
}

#[test]
fn records_in_the_wardens_own_namespace_are_kept_as_they_are() {
    let mut p = table();
    p.live(10, SUP).live(11, 10);
    let recs = vec![record(&p, 0, 10), record(&p, 1, 11)];
    assert_eq!(map_records(&p, &recs).records, recs);
}
