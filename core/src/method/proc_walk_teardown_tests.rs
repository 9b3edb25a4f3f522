//! The teardown's phases, one rule per test, against a fake kernel: the
//! graceful walks, the group kill, the SIGKILL walks, the stall, the deadline,
//! and what the drain report counts.

use std::time::Duration;

use super::tests::{LEADER, shim};
use super::*;
use crate::shim::kernel::fake::{Call, SHIM};
use crate::sys::wait::killed_by;

fn now() -> TeardownOptions {
    TeardownOptions::new(Duration::ZERO)
}

#[test]
fn a_leader_still_dying_after_the_group_kill_is_not_counted_twice() {
    // 8f17bc7: on a busy machine the leader had not exited within the quiet
    // window after killpg(SIGKILL), so the first walk SIGKILLed it again, and a
    // one-node tree was reported with 2 processes signalled.
    let mut r = shim(|k| {
        k.dies_after(LEADER, QUIET * 4);
    });
    let d = teardown_through(&mut r, now()).unwrap();
    let k = r.kernel();
    assert_eq!(
        k.signals_to(LEADER),
        [libc::SIGKILL, libc::SIGKILL],
        "the group kill, then the walk's (the leader was still there)"
    );
    assert_eq!(d.signalled, 1, "{d:?}");
    assert_eq!((d.reaped, d.leader), (1, Some(killed_by(libc::SIGKILL))));
}

#[test]
fn with_no_grace_the_group_is_killed_at_once_and_the_walks_find_what_left_it() {
    // 101 -> 102 -> 103 in the leader's group, and 104, a child of 102 in a
    // session of its own: the group kill takes three, a walk finds the fourth.
    let mut r = shim(|k| {
        k.spawn(102, LEADER)
            .spawn(103, 102)
            .spawn(104, 102)
            .setsid(104);
    });
    let d = teardown_through(&mut r, now()).unwrap();
    let k = r.kernel();
    assert_eq!(k.calls()[0], Call::SignalGroup(LEADER, libc::SIGKILL));
    assert_eq!(
        (k.count(|c| matches!(c, Call::Signal(..)))),
        1,
        "only 104 is signalled by pidfd: the group was reaped before the walk"
    );
    assert_eq!(k.signals_to(104), [libc::SIGKILL]);
    assert_eq!((d.signalled, d.reaped, d.escalated), (2, 4, true), "{d:?}");
    assert_eq!(d.leader, Some(killed_by(libc::SIGKILL)));
}

#[test]
fn a_tree_that_dies_of_sigterm_within_the_grace_is_not_escalated() {
    let mut r = shim(|k| {
        k.spawn(102, LEADER);
    });
    let d = teardown_through(&mut r, TeardownOptions::new(Duration::from_secs(1))).unwrap();
    let k = r.kernel();
    assert_eq!(k.signals_to(LEADER), [libc::SIGTERM, libc::SIGCONT]);
    assert_eq!(k.signals_to(102), [libc::SIGTERM, libc::SIGCONT]);
    assert_eq!(k.count(|c| matches!(c, Call::SignalGroup(..))), 0);
    assert_eq!((d.signalled, d.reaped, d.escalated), (2, 2, false), "{d:?}");
    assert_eq!(d.leader, Some(killed_by(libc::SIGTERM)));
}

#[test]
fn a_tree_that_ignores_sigterm_is_sigkilled_when_the_grace_is_over() {
    let mut r = shim(|k| {
        k.ignores_term(LEADER);
    });
    let grace = Duration::from_millis(100);
    let d = teardown_through(&mut r, TeardownOptions::new(grace)).unwrap();
    let k = r.kernel();
    assert_eq!(
        k.signals_to(LEADER),
        [libc::SIGTERM, libc::SIGCONT, libc::SIGKILL]
    );
    assert_eq!(k.elapsed(), grace);
    assert_eq!((d.signalled, d.escalated), (2, true), "{d:?}");
    assert_eq!(d.drain, grace);
}

#[test]
fn after_nothing_exits_for_100_ms_the_walks_start_again_from_scratch() {
    // 102 is out of every list the walks read until 150 ms (as a process below
    // a subreaper of the tree's own would be): the fast walks miss it; after a
    // stall a new walker, reading everything from /proc, tries again.
    let mut r = shim(|k| {
        k.spawn(102, SHIM).hidden_until(102, STALL * 3 / 2);
    });
    let d = teardown_through(&mut r, now()).unwrap();
    let k = r.kernel();
    assert_eq!(k.signals_to(102), [libc::SIGKILL]);
    assert_eq!(
        k.elapsed(),
        QUIET + STALL * 2,
        "the group kill's quiet spell, then two stalls"
    );
    assert!(k.calls().contains(&Call::Stat(102)), "a slow walk found it");
    // Walks: the fast one, one after the first stall, then one that finds 102
    // and one that finds nothing new.
    assert_eq!((d.signalled, d.reaped, d.rounds), (2, 2, 4), "{d:?}");
}

#[test]
fn past_the_deadline_the_teardown_fails_counting_the_children_left() {
    let mut r = shim(|k| {
        k.unkillable(LEADER);
    });
    let deadline = Duration::from_secs(1);
    let err = teardown_through(&mut r, now().with_deadline(deadline)).unwrap_err();
    match err {
        TeardownError::Deadline { elapsed, alive } => {
            assert_eq!((elapsed, alive), (deadline, 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn once_the_leader_is_reaped_its_group_is_not_signalled() {
    // Its PGID could belong to a new group by now. 102 stays in it.
    let mut r = shim(|k| {
        k.spawn(102, LEADER).exit(LEADER, 0);
    });
    r.reap_ready(false).unwrap();
    assert!(r.leader_reaped);
    let d = teardown_through(&mut r, now()).unwrap();
    let k = r.kernel();
    assert_eq!(k.count(|c| matches!(c, Call::SignalGroup(..))), 0);
    assert_eq!(k.signals_to(102), [libc::SIGKILL]);
    assert_eq!((d.signalled, d.reaped, d.leader), (1, 1, Some(0)), "{d:?}");
}

#[test]
fn with_no_grace_and_nothing_left_to_kill_the_teardown_is_not_escalated() {
    let mut r = shim(|k| {
        k.exit(LEADER, 0);
    });
    r.reap_ready(false).unwrap();
    let d = teardown_through(&mut r, now()).unwrap();
    assert_eq!((d.signalled, d.reaped, d.escalated), (0, 0, false), "{d:?}");
}

#[test]
fn a_zombie_its_living_parent_never_reaps_does_not_make_the_graceful_walks_spin() {
    // `sh -c "trap '' TERM; sleep 0.2 & exec sleep 60"`: the leader ignores
    // SIGTERM and never reaps 102, which exited. The first walk that sees 102
    // exited walks again (its children went to the shim); later walks know it
    // exited and are complete, so the graceful phase reaps until the grace ends
    // instead of walking ~27,000 times (measured on the real kernel: 1.9 s of
    // shim CPU in a 2 s grace).
    // Every call takes 50 µs (on a clock that otherwise moves only in waits,
    // a spinning walk would never reach the grace's end).
    let mut r = shim(|k| {
        k.tick(Duration::from_micros(50))
            .ignores_term(LEADER)
            .spawn(102, LEADER)
            .exit(102, 0);
    });
    let grace = Duration::from_millis(100);
    let d = teardown_through(&mut r, TeardownOptions::new(grace)).unwrap();
    assert!(d.escalated, "{d:?}");
    assert!(
        d.rounds <= 6,
        "{} walks in a {grace:?} grace: the walks spin on the zombie",
        d.rounds
    );
    assert_eq!(r.kernel().signals_to(LEADER).last(), Some(&libc::SIGKILL));
}

#[test]
fn a_respawner_is_not_chased_through_the_grace() {
    // At each SIGTERM the leader forks a copy of itself and exits, and so does
    // every copy. The walks used to chase the copies all grace long, each
    // walk finding and signalling the copy the last one made (a random tree:
    // 110 walks, 435 signals in a 250 ms grace; here, with a clock that does
    // not move between walks, the fake kernel's call limit). A copy born after
    // the grace began is signalled when found, but walks no further: 102 gets
    // SIGTERM from the walk that finds it, 103 waits for the grace's end.
    let mut r = shim(|k| {
        k.respawns_on_term(LEADER);
    });
    let grace = Duration::from_millis(100);
    let d = teardown_through(&mut r, TeardownOptions::new(grace)).unwrap();
    let k = r.kernel();
    assert_eq!(k.signals_to(LEADER), [libc::SIGTERM, libc::SIGCONT]);
    assert_eq!(k.signals_to(102), [libc::SIGTERM, libc::SIGCONT]);
    assert_eq!(k.signals_to(103), [libc::SIGKILL]);
    assert!(!k.exists(104), "no copy of 103: it never got SIGTERM");
    assert_eq!(k.elapsed(), grace);
    assert!(d.escalated, "{d:?}");
}

#[test]
fn a_chain_that_dies_of_sigterm_is_walked_to_its_end() {
    // 101 -> 102 -> ... -> 108, each dying at once of SIGTERM: each death hands
    // the next to the shim, found by the next walk. Every one of them was there
    // when the grace began, so the walks go on to the last, and nothing is left
    // for SIGKILL.
    let mut r = shim(|k| {
        for p in 102..=108 {
            k.spawn(p, p - 1);
        }
    });
    let d = teardown_through(&mut r, TeardownOptions::new(Duration::from_secs(1))).unwrap();
    let k = r.kernel();
    for p in LEADER..=108 {
        assert_eq!(k.signals_to(p), [libc::SIGTERM, libc::SIGCONT], "{p}");
    }
    assert_eq!((d.signalled, d.reaped, d.escalated), (8, 8, false), "{d:?}");
}
