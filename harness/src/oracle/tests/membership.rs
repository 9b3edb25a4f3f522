//! Which processes are the tree's: not the supervisor, its helpers or the
//! bystanders (nor their children), wherever `/proc` lists them.

use super::*;

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
