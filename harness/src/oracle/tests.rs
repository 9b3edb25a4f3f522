//! The oracle's classification against a fake `/proc`.

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

#[test]
fn an_empty_tree_is_clean() {
    let p = table();
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Clean);
    assert_eq!(
        (j.survivors, j.stragglers, j.zombies, j.bystanders_killed),
        (0, 0, 0, 0)
    );
    assert!(j.findings.is_empty());
}

#[test]
fn the_supervisor_and_bystanders_are_not_tree_processes() {
    let p = table();
    let found: Vec<i32> = tree_processes(&p, &scene(&p))
        .iter()
        .map(|s| s.pid)
        .collect();
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_process_alive_after_the_grace_is_a_survivor_and_the_verdict_is_leak() {
    let mut p = table();
    p.live(10, SUP).live(11, WARDEN); // the leader, and an orphan adopted by the warden
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!(j.survivors, 2);
    assert!(j.findings.iter().all(|f| f.kind == "survivor"));
}

#[test]
fn a_process_alive_at_done_that_dies_within_the_grace_is_early() {
    let mut p = table();
    p.live(11, WARDEN);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    p.dies(11); // now a zombie of the warden: not the supervisor's
    let after = observe(&p, &sc);
    let j = judge(&at_done, &after);
    assert_eq!(j.verdict, Verdict::Early);
    assert_eq!((j.stragglers, j.survivors, j.zombies), (1, 0, 0));
    assert_eq!(j.count(FindingKind::Early), 1);
}

#[test]
fn a_process_dying_of_sigkill_at_done_is_early_too() {
    // killpg then wait for the leader only (Bazel's process-wrapper before its
    // fix): the other members have SIGKILL pending when the supervisor returns.
    // Until they finish exiting the contract is broken: a process blocked in the
    // kernel may finish what it is doing.
    let mut p = table();
    p.live(11, WARDEN).dying(11).live(12, WARDEN);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    assert_eq!((at_done.alive.len(), at_done.dying.len()), (1, 1));
    p.dies(11).dies(12);
    let j = judge(&at_done, &observe(&p, &sc));
    assert_eq!(j.verdict, Verdict::Early, "{j:?}");
    assert_eq!((j.stragglers, j.dying, j.survivors), (1, 1, 0));
    let kinds: Vec<(i32, &str)> = j
        .findings
        .iter()
        .map(|f| (f.pid, f.kind.as_str()))
        .collect();
    assert_eq!(kinds, [(12, "early"), (11, "early")]);
    assert!(j.findings[1].note.starts_with("dying at done"), "{j:?}");
}

#[test]
fn a_process_still_dying_at_done_is_early_and_one_gone_by_then_is_clean() {
    let mut p = table();
    p.live(11, WARDEN).dying(11);
    let sc = scene(&p);
    let still_dying = observe(&p, &sc);
    p.reaped(11);
    let gone = observe(&p, &sc);
    assert_eq!(judge(&still_dying, &gone).verdict, Verdict::Early);
    assert_eq!(judge(&gone, &gone).verdict, Verdict::Clean);
}

#[test]
fn a_dying_process_still_alive_after_the_grace_is_a_survivor() {
    let mut p = table();
    p.live(11, WARDEN).dying(11);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!((j.survivors, j.dying), (1, 0));
}

#[test]
fn an_early_process_that_was_reaped_meanwhile_is_still_early() {
    let mut p = table();
    p.live(11, WARDEN);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    p.reaped(11);
    assert_eq!(judge(&at_done, &observe(&p, &sc)).verdict, Verdict::Early);
}

#[test]
fn a_zombie_main_thread_with_a_live_thread_is_alive() {
    let mut p = table();
    p.zombie_main_live_thread(10, WARDEN);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!((j.survivors, j.zombies), (1, 0));
}

#[test]
fn an_unreaped_dead_child_of_the_supervisor_is_a_zombie() {
    let mut p = table();
    p.zombie(10, SUP);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Zombie);
    assert_eq!(j.zombies, 1);
    assert_eq!(j.findings[0].kind, "zombie");
}

#[test]
fn a_zombie_left_to_the_warden_by_an_exiting_supervisor_is_orphaned_not_a_fault() {
    // bwrap dies of SIGTERM; its namespace init, reparented to the warden, is dead
    // and not reaped yet: what any init reaps at once.
    let mut p = table();
    p.live(10, SUP);
    p.dies(SUP).zombie(10, WARDEN);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Clean, "{j:?}");
    assert_eq!((j.zombies, j.orphaned_zombies), (0, 1));
    assert_eq!(j.count(FindingKind::OrphanedZombie), 1);
}

#[test]
fn a_dead_child_of_a_supervisor_looked_at_in_its_exit_is_orphaned_not_its_zombie() {
    let mut p = table();
    p.zombie(10, SUP).live(11, SUP);
    let mut sc = scene(&p);
    sc.supervisor_exiting = true;
    let j = verdict_once(&p, &sc);
    assert_eq!(
        (j.zombies, j.orphaned_zombies, j.survivors),
        (0, 1, 1),
        "{j:?}"
    );
    // Alive and not exiting, it holds its dead child.
    sc.supervisor_exiting = false;
    assert_eq!(verdict_once(&p, &sc).zombies, 1);
}

#[test]
fn a_process_in_state_r_is_never_a_zombie() {
    // bwrap's init in state R with SIGKILL pending: alive (and dying), never dead.
    let mut p = table();
    p.dies(SUP).live(10, WARDEN).dying(10);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    assert_eq!((at_done.dying.len(), at_done.zombies.len()), (1, 0));
    p.dies(10);
    let j = judge(&at_done, &observe(&p, &sc));
    assert_eq!(j.verdict, Verdict::Early, "{j:?}");
    // Still the supervisor's child, alive after the grace: a survivor.
    let mut p = table();
    p.live(10, SUP).dying(10);
    let sc = scene(&p);
    assert_eq!(verdict_once(&p, &sc).verdict, Verdict::Leak);
    let at_done = observe(&p, &sc);
    p.dies(10).reaped(10);
    assert_eq!(judge(&at_done, &observe(&p, &sc)).verdict, Verdict::Early);
}

#[test]
fn a_zombie_held_by_a_live_helper_is_a_zombie() {
    let mut p = table();
    p.live(10, SUP).helper(10).zombie(11, 10);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.zombies, 1, "{j:?}");
    // The helper itself is alive: left behind.
    assert_eq!(j.count(FindingKind::HelperLeft), 1);
    assert_eq!(j.verdict, Verdict::Zombie);
}

#[test]
fn a_zombie_a_helper_reaps_within_the_grace_is_not_a_zombie() {
    // bwrap's init among fork-hoppers: each hopper's exited parent is its zombie
    // for a moment.
    let mut p = table();
    p.live(10, SUP).helper(10).zombie(11, 10);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    assert_eq!(at_done.held_by_helpers.len(), 1);
    p.reaped(11);
    let j = judge(&at_done, &observe(&p, &sc));
    assert_eq!(j.zombies, 0, "{j:?}");
    // The supervisor's own zombie counts at once, reaped later or not.
    let mut p = table();
    p.zombie(11, SUP);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    p.reaped(11);
    assert_eq!(judge(&at_done, &observe(&p, &sc)).zombies, 1);
}

#[test]
fn a_helper_gone_after_the_grace_is_not_left_and_is_not_a_tree_process() {
    let mut p = table();
    p.live(10, SUP).helper(10).live(11, 10);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    assert_eq!((at_done.helpers.len(), at_done.alive.len()), (1, 1));
    p.dies(10).reaped(10).dies(11).reaped(11);
    let j = judge(&at_done, &observe(&p, &sc));
    assert_eq!(
        j.verdict,
        Verdict::Early,
        "the node was early, the helper fine: {j:?}"
    );
    assert_eq!(j.count(FindingKind::HelperLeft), 0);
    assert_eq!(j.stragglers, 1);
}

#[test]
fn a_helper_alive_after_the_grace_is_leftover() {
    let mut p = table();
    p.live(10, SUP).runs(10, &["sh", "-c", "wrapper"]);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Leftover, "{j:?}");
    assert_eq!(j.survivors, 0);
}

#[test]
fn a_process_whose_command_line_is_unreadable_counts_as_the_trees() {
    let mut p = table();
    p.live(10, SUP).runs(10, &[]);
    assert_eq!(verdict_once(&p, &scene(&p)).verdict, Verdict::Leak);
}

#[test]
fn an_orphan_that_died_under_the_warden_is_not_the_supervisors_zombie() {
    let mut p = table();
    p.zombie(11, WARDEN);
    assert_eq!(verdict_once(&p, &scene(&p)).verdict, Verdict::Clean);
}

#[test]
fn a_nodes_own_unreaped_child_is_not_the_supervisors_zombie() {
    let mut p = table();
    p.live(10, SUP).zombie(12, 10);
    let o = observe(&p, &scene(&p));
    assert!(o.zombies.is_empty());
    assert_eq!(o.alive.len(), 1);
}

#[test]
fn a_killed_bystander_is_bystander_killed() {
    let mut p = table();
    p.dies(BY_GROUP);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::BystanderKilled);
    assert_eq!(j.bystanders_killed, 1);
}

#[test]
fn a_bystander_whose_pid_now_belongs_to_another_process_was_killed() {
    let mut p = table();
    let sc = scene(&p);
    p.reaped(BY_OWN)
        .live(BY_OWN, WARDEN)
        .started(BY_OWN, 99_999);
    assert_eq!(verdict_once(&p, &sc).verdict, Verdict::BystanderKilled);
}

#[test]
fn the_worst_problem_wins() {
    let mut p = table();
    p.live(10, WARDEN).zombie(11, SUP);
    assert_eq!(verdict_once(&p, &scene(&p)).verdict, Verdict::Leak);
    p.dies(BY_OWN);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::BystanderKilled);
    assert_eq!((j.survivors, j.zombies, j.bystanders_killed), (1, 1, 1));
}

#[test]
fn severity_orders_verdicts_worst_first_as_documented() {
    let worst_first = [
        Verdict::Error,
        Verdict::Unsupported,
        Verdict::Hang,
        Verdict::BystanderKilled,
        Verdict::Leak,
        Verdict::Zombie,
        Verdict::Early,
        Verdict::GraceCut,
        Verdict::SupervisorKilled,
        Verdict::BadExit,
        Verdict::FalseReport,
        Verdict::Leftover,
        Verdict::Clean,
    ];
    for w in worst_first.windows(2) {
        assert!(
            severity(w[0]) > severity(w[1]),
            "{} should be worse than {}",
            w[0],
            w[1]
        );
        assert_eq!(worst(w[1], w[0]), w[0]);
        assert_eq!(worst(w[0], w[1]), w[0]);
    }
}

#[test]
fn a_process_missing_from_its_parents_children_file_is_found_by_its_ppid_chain() {
    let mut p = table();
    p.live(10, SUP).live(20, 10).hide_child(20);
    let found: Vec<i32> = tree_processes(&p, &scene(&p))
        .iter()
        .map(|s| s.pid)
        .collect();
    assert_eq!(found, vec![10, 20]);
}

#[test]
fn a_bystanders_children_are_not_tree_processes() {
    let mut p = table();
    p.live(30, BY_OWN);
    assert!(tree_processes(&p, &scene(&p)).is_empty());
}

#[test]
fn a_process_outside_the_warden_is_not_a_tree_process_unless_recorded() {
    let mut p = table();
    p.live(500, 0).live(501, 500);
    let mut sc = scene(&p);
    assert!(tree_processes(&p, &sc).is_empty());
    sc.records = vec![record(&p, 3, 501)];
    let j = verdict_once(&p, &sc);
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!(j.findings[0].node, Some(3));
}

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

mod live_proc_on_a_directory {
    use std::fs;
    use std::path::Path;

    use super::*;

    fn stat_line(pid: i32, state: char, ppid: i32) -> String {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime ...
        let mut fields = vec![
            pid.to_string(),
            "(node x)".into(),
            state.to_string(),
            ppid.to_string(),
            "7".into(),
            "8".into(),
        ];
        fields.extend(std::iter::repeat_n("0".to_string(), 15));
        fields.push("4242".into()); // field 22: starttime
        fields.extend(std::iter::repeat_n("0".to_string(), 30));
        fields.join(" ") + "\n"
    }

    fn process(root: &Path, pid: i32, ppid: i32, main: char, threads: &[(i32, char)]) {
        let dir = root.join(pid.to_string());
        fs::create_dir_all(dir.join("task")).unwrap();
        fs::write(dir.join("stat"), stat_line(pid, main, ppid)).unwrap();
        for &(tid, state) in threads {
            let t = dir.join("task").join(tid.to_string());
            fs::create_dir_all(&t).unwrap();
            fs::write(t.join("stat"), stat_line(tid, state, ppid)).unwrap();
            fs::write(t.join("children"), "").unwrap();
        }
    }

    #[test]
    fn a_zombie_main_thread_with_a_sleeping_thread_is_read_as_alive() {
        let root = tempfile::tempdir().unwrap();
        process(root.path(), 40, 1, 'Z', &[(40, 'Z'), (41, 'S')]);
        let s = LiveProc::at(root.path()).stat(40).unwrap();
        assert_eq!(
            (s.state, s.alive, s.start_time, s.pgid, s.sid),
            ('Z', true, 4242, 7, 8)
        );
        assert_eq!(s.comm, "node x");
    }

    #[test]
    fn a_process_whose_threads_are_all_zombies_is_read_as_dead() {
        let root = tempfile::tempdir().unwrap();
        process(root.path(), 40, 1, 'Z', &[(40, 'Z'), (41, 'X')]);
        assert!(!LiveProc::at(root.path()).stat(40).unwrap().alive);
    }

    /// Gives thread `tid` of `pid` a `status` file (this process's own, with
    /// `SigPnd` replaced) and `flags` in its `stat`.
    fn thread_signals(root: &Path, pid: i32, tid: i32, sigpnd: u64, flags: u32) {
        thread_status(root, pid, tid, &[("SigPnd", sigpnd)], flags)
    }

    /// Like [`thread_signals`], with any of the signal masks replaced.
    fn thread_status(root: &Path, pid: i32, tid: i32, masks: &[(&str, u64)], flags: u32) {
        let t = root.join(format!("{pid}/task/{tid}"));
        let status: String = fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .map(|l| {
                let name = l.split(':').next().unwrap_or("");
                let default = match name {
                    "SigPnd" | "ShdPnd" | "SigBlk" | "SigIgn" | "SigCgt" => Some(0),
                    _ => None,
                };
                match masks
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, m)| *m)
                    .or(default)
                {
                    Some(mask) => format!("{name}:\t{mask:016x}\n"),
                    None => format!("{l}\n"),
                }
            })
            .collect();
        fs::write(t.join("status"), status).unwrap();
        let stat = fs::read_to_string(t.join("stat")).unwrap();
        let mut fields: Vec<String> = stat.split_whitespace().map(str::to_owned).collect();
        fields[9] = flags.to_string(); // "(node x)" is two fields here: flags is the 9th
        fs::write(t.join("stat"), fields.join(" ") + "\n").unwrap();
    }

    const SIGKILL: u64 = 1 << 8;
    const PF_EXITING: u32 = 4;

    #[test]
    fn sigkill_pending_on_any_thread_is_read_as_dying() {
        let root = tempfile::tempdir().unwrap();
        process(root.path(), 40, 1, 'S', &[(40, 'S'), (41, 'R')]);
        thread_signals(root.path(), 40, 40, 0, 0);
        thread_signals(root.path(), 40, 41, 0, 0);
        let src = LiveProc::at(root.path());
        assert!(!src.stat(40).unwrap().dying);
        thread_signals(root.path(), 40, 41, SIGKILL | 1 << 14, 0);
        let s = src.stat(40).unwrap();
        assert!(s.alive && s.dying, "{s:?}");
    }

    #[test]
    fn a_pending_default_fatal_signal_is_dying_unless_blocked_caught_ignored_or_stopped() {
        const SIGTERM: u64 = 1 << 14;
        const SIGCHLD: u64 = 1 << 16;
        let root = tempfile::tempdir().unwrap();
        process(root.path(), 40, 1, 'R', &[(40, 'R')]);
        let src = LiveProc::at(root.path());
        let dying = |masks: &[(&str, u64)]| {
            thread_status(root.path(), 40, 40, masks, 0);
            src.stat(40).unwrap().dying
        };
        // On its way to do_exit: its own SIGKILL dequeued, the SIGTERM still shared.
        assert!(dying(&[("ShdPnd", SIGTERM)]));
        assert!(
            !dying(&[("ShdPnd", SIGCHLD)]),
            "SIGCHLD is ignored by default"
        );
        assert!(!dying(&[("ShdPnd", SIGTERM), ("SigBlk", SIGTERM)]));
        assert!(!dying(&[("ShdPnd", SIGTERM), ("SigCgt", SIGTERM)]));
        assert!(!dying(&[("ShdPnd", SIGTERM), ("SigIgn", SIGTERM)]));
        assert!(dying(&[("ShdPnd", SIGKILL), ("SigBlk", u64::MAX)]));
        // SIGTERM does not reach a stopped process until SIGCONT: not dying.
        process(root.path(), 40, 1, 'T', &[(40, 'T')]);
        assert!(!dying(&[("ShdPnd", SIGTERM)]));
        assert!(dying(&[("ShdPnd", SIGKILL)]));
    }

    #[test]
    fn pf_exiting_is_dying_only_when_every_live_thread_has_it() {
        let root = tempfile::tempdir().unwrap();
        process(root.path(), 40, 1, 'S', &[(40, 'S'), (41, 'R'), (42, 'Z')]);
        thread_signals(root.path(), 40, 40, 0, 0);
        thread_signals(root.path(), 40, 41, 0, PF_EXITING); // one thread ending
        let src = LiveProc::at(root.path());
        assert!(!src.stat(40).unwrap().dying);
        thread_signals(root.path(), 40, 40, 0, PF_EXITING | 0x40);
        assert!(src.stat(40).unwrap().dying);
    }

    #[test]
    fn children_are_the_union_of_every_threads_children_file() {
        let root = tempfile::tempdir().unwrap();
        process(root.path(), 40, 1, 'S', &[(40, 'S'), (41, 'S')]);
        fs::write(root.path().join("40/task/40/children"), "50 51 ").unwrap();
        fs::write(root.path().join("40/task/41/children"), "51 52 ").unwrap();
        assert_eq!(LiveProc::at(root.path()).children(40), vec![50, 51, 52]);
    }
}

/// A process table that moves on between scans: each call of `pids` (the second
/// listing of a scan) starts the next table, so a scan reads its children lists
/// from one table and its PIDs and states from the next — as a real scan does
/// while the tree forks and exits under it.
struct Moving {
    tables: Vec<FakeProc>,
    at: std::cell::Cell<usize>,
}

impl Moving {
    fn now(&self) -> &FakeProc {
        &self.tables[self.at.get().min(self.tables.len() - 1)]
    }
}

impl ProcSource for Moving {
    fn pids(&self) -> Vec<i32> {
        let pids = self.now().pids();
        self.at.set(self.at.get() + 1);
        pids
    }
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        self.now().stat(pid)
    }
    fn children(&self, pid: i32) -> Vec<i32> {
        self.now().children(pid)
    }
    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        self.now().nspid(pid)
    }
    fn own_pidns(&self) -> Option<u64> {
        self.now().own_pidns()
    }
}

#[test]
fn a_child_forked_by_a_process_seen_dead_in_the_same_scan_is_not_missed() {
    // dumb-init × respawn-on-term: the node (10, an orphan of the warden) forks
    // its replacement (11) after the scan listed PIDs, and has exited by the time
    // the scan reads it (a zombie the single-threaded warden has not reaped: it is
    // scanning). The replacement is in no list of that scan, and a dead process
    // is not waited for: before the rescan the trial came out clean.
    let mut listed = table();
    listed.live(10, WARDEN);
    let mut forked = table();
    forked.zombie(10, WARDEN).live(11, WARDEN);
    let mut later = table();
    later.live(11, WARDEN);
    let src = Moving {
        tables: vec![listed, forked, later],
        at: std::cell::Cell::new(0),
    };
    let sc = scene(&table());
    let at_done = observe(&src, &sc);
    assert_eq!(
        at_done.alive_identities(),
        vec![Identity {
            pid: 11,
            start_time: 110
        }],
        "the replacement is found by the rescan: {at_done:?}"
    );
    let j = judge(&at_done, &observe(&src, &sc));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!(j.survivors, 1);
}

/// A process first seen alive and not dying, as `LiveProc` reads it.
fn looked_alive(pid: i32) -> ProcStat {
    let mut p = FakeProc::new();
    p.live(pid, 1);
    p.stat(pid).unwrap()
}

#[test]
fn a_process_that_dies_while_it_is_read_is_not_called_alive() {
    // The race `settle` exists for: the first look saw the main thread running,
    // then no live thread to show its pending SIGTERM. The second look decides.
    let first = looked_alive(7);
    let mut zombie = first.clone();
    zombie.state = 'Z';
    zombie.alive = false;
    assert_eq!(
        source::settle(first.clone(), || Some(zombie.clone())),
        Some(zombie)
    );
    let mut dying = first.clone();
    dying.dying = true;
    assert_eq!(
        source::settle(first.clone(), || Some(dying.clone())),
        Some(dying)
    );
    assert_eq!(
        source::settle(first.clone(), || None),
        None,
        "reaped meanwhile"
    );
    let mut reused = looked_alive(7);
    reused.start_time += 1;
    assert_eq!(
        source::settle(first.clone(), || Some(reused.clone())),
        Some(reused)
    );
}

#[test]
fn a_process_alive_on_both_looks_stays_alive_and_a_dying_one_is_looked_at_once() {
    let first = looked_alive(7);
    let mut later = first.clone();
    later.state = 'R';
    assert_eq!(
        source::settle(first.clone(), || Some(later)),
        Some(first.clone())
    );
    let mut dying = first;
    dying.dying = true;
    assert_eq!(
        source::settle(dying.clone(), || panic!("no second look")),
        Some(dying)
    );
}

/// A `/proc` where a fork-hopper makes a new process, already dead when read,
/// every time the pids are listed: faster than a scan.
struct Hopping {
    table: std::cell::RefCell<FakeProc>,
    next: std::cell::Cell<i32>,
}

impl ProcSource for Hopping {
    fn pids(&self) -> Vec<i32> {
        let pid = self.next.get();
        self.next.set(pid + 1);
        self.table.borrow_mut().zombie(pid, WARDEN);
        self.table.borrow().pids()
    }
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        self.table.borrow().stat(pid)
    }
    fn children(&self, pid: i32) -> Vec<i32> {
        self.table.borrow().children(pid)
    }
    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        self.table.borrow().nspid(pid)
    }
    fn own_pidns(&self) -> Option<u64> {
        None
    }
}

#[test]
fn a_tree_still_forking_after_the_grace_is_a_survivor_though_every_process_read_was_dead() {
    let p = Hopping {
        table: std::cell::RefCell::new(table()),
        next: std::cell::Cell::new(100),
    };
    let sc = scene(&p.table.borrow());
    let after = observe(&p, &sc);
    assert!(after.forking && after.alive.is_empty(), "{after:?}");
    let j = judge(&Observation::default(), &after);
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!(j.survivors, 1);
    assert!(
        j.findings
            .iter()
            .any(|f| f.kind == "survivor" && f.pid == 0)
    );
}

#[test]
fn a_tree_that_settles_is_not_forking() {
    let mut p = table();
    p.zombie(10, WARDEN).live(11, WARDEN);
    let obs = observe(&p, &scene(&p));
    assert!(!obs.forking);
    assert_eq!(judge(&obs, &obs).survivors, 1, "only the live one");
}
