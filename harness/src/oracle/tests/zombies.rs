//! Dead processes: held by the supervisor side (`zombie`) or left to the warden
//! (orphaned, not a fault).

use super::*;

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
