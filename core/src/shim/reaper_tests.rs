//! The reaper's rules, one test each, against a fake kernel.

use std::time::Duration;

use super::*;
use crate::shim::kernel::fake::{Call, FakeKernel, SHIM};

const LEADER: i32 = 101;

/// A shim whose leader (101) runs, with whatever `setup` adds.
fn shim(setup: impl FnOnce(&mut FakeKernel)) -> Reaper<'static, FakeKernel> {
    let mut k = FakeKernel::new();
    k.leader(LEADER);
    setup(&mut k);
    Reaper::on(k, LEADER)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn every_exited_child_is_reaped_and_counted_and_the_leader_s_status_kept() {
    let mut r = shim(|k| {
        k.spawn(102, SHIM).exit(102, 0).exit(LEADER, 3);
    });
    assert_eq!(r.reap_ready(false).unwrap(), Left::Nothing);
    assert_eq!(r.reaped, 2);
    assert_eq!(r.leader_status, Some(3 << 8));
    assert!(r.leader_reaped);
    assert!(!r.kernel().exists(LEADER) && !r.kernel().exists(102));
}

#[test]
fn a_shim_without_children_is_drained() {
    let mut r = shim(|k| {
        k.exit(LEADER, 0);
    });
    assert_eq!(r.reap_ready(false).unwrap(), Left::Nothing);
    assert_eq!(
        r.reap_ready(false).unwrap(),
        Left::Nothing,
        "ECHILD: nothing left"
    );
}

#[test]
fn a_running_child_is_left_running() {
    let mut r = shim(|k| {
        k.spawn(102, SHIM).exit(102, 0);
    });
    assert_eq!(r.reap_ready(false).unwrap(), Left::Running);
    assert_eq!((r.reaped, r.leader_status), (1, None));
}

#[test]
fn keeping_the_leader_reaps_the_others_and_leaves_its_zombie() {
    let mut r = shim(|k| {
        k.spawn(102, SHIM).exit(LEADER, 3).exit(102, 0);
    });
    assert_eq!(r.reap_ready(true).unwrap(), Left::LeaderZombie);
    assert_eq!(r.reaped, 1);
    assert_eq!(r.leader_status, Some(3 << 8));
    assert!(!r.leader_reaped);
    assert!(r.kernel().is_zombie(LEADER), "its PGID stays reserved");
}

#[test]
fn a_child_other_than_the_leader_seen_by_a_peek_is_reaped_by_its_pid() {
    let mut r = shim(|k| {
        k.spawn(102, SHIM).exit(102, 0);
    });
    assert_eq!(r.reap_ready(true).unwrap(), Left::Running);
    assert_eq!(r.reaped, 1);
    assert_eq!(r.kernel().count(|c| *c == Call::Reap(102)), 1);
    assert!(!r.kernel().exists(102));
}

#[test]
fn a_child_that_hands_the_shim_a_new_child_after_the_list_was_read_keeps_the_tree_running() {
    // The fork-hopper race (see `reap_others_by_list`): 102 is read as running,
    // then forks 103 and exits; 103 is the shim's now, but not in the list read.
    let mut r = shim(|k| {
        k.spawn(102, SHIM).exit(LEADER, 0);
        k.after(Call::OwnChildren, |k| {
            k.spawn(103, 102).exit(102, 0);
        });
    });
    assert_eq!(r.reap_ready(true).unwrap(), Left::Running);
    assert_eq!(r.reaped, 1, "102");
    assert!(r.kernel().exists(103));
}

#[test]
fn in_a_pid_namespace_a_child_is_waited_for_by_its_pid_at_the_init_s_level() {
    // 102 is itself the init of a nested namespace: its NSpid line ends in 1.
    let mut r = shim(|k| {
        k.host_pids_offset_by(5000).spawn(102, SHIM).exit(LEADER, 0);
        k.nspid(102, vec![5102, 102, 1]);
    })
    .in_pid_namespace(1);
    assert_eq!(r.reap_ready(true).unwrap(), Left::Running, "102 runs");
    r.kernel().exit(102, 0);
    assert_eq!(r.reap_ready(true).unwrap(), Left::LeaderZombie);
    assert_eq!(r.reaped, 1);
    assert!(r.kernel().calls().contains(&Call::Reap(102)));
}

#[test]
fn a_listed_child_whose_namespace_pid_cannot_be_read_is_not_taken_for_gone() {
    let mut r = shim(|k| {
        k.host_pids_offset_by(5000).spawn(102, SHIM).exit(LEADER, 0);
        k.exit(102, 0);
        k.status_unreadable_once(102);
    })
    .in_pid_namespace(1);
    assert_eq!(
        r.reap_ready(true).unwrap(),
        Left::Running,
        "102 counts as running"
    );
    assert!(r.kernel().exists(102), "not reaped unread");
    // Read again on the next call: its exit is found and reaped.
    assert_eq!(r.reap_ready(true).unwrap(), Left::LeaderZombie);
    assert!(r.kernel().calls().contains(&Call::Reap(102)));
}

#[test]
fn a_child_whose_status_can_never_be_read_does_not_make_the_reaper_spin() {
    // What a leader named with bytes that are not UTF-8 did to `pidns`'s init
    // while `/proc` was read as text: the list showed it, its status could not
    // be read, and the list was read again, forever.
    let mut r = shim(|k| {
        k.host_pids_offset_by(5000).spawn(102, SHIM).exit(LEADER, 0);
        k.status_unreadable_always(102);
    })
    .in_pid_namespace(1);
    assert_eq!(r.reap_ready(true).unwrap(), Left::Running);
    assert_eq!(
        r.kernel().count(|c| *c == Call::OwnChildren),
        1,
        "one read of the list"
    );
}

#[test]
fn a_listed_child_that_is_no_longer_ours_to_reap_is_skipped() {
    // Reaped between the list read and the wait (ECHILD): not an error.
    let mut r = shim(|k| {
        k.spawn(102, SHIM).exit(LEADER, 0).exit(102, 0);
        k.after(Call::OwnChildren, |k| {
            k.reaped_by_parent(102);
        });
    });
    assert_eq!(r.reap_ready(true).unwrap(), Left::LeaderZombie);
    assert_eq!(r.reaped, 0);
}

#[test]
fn reaping_until_a_time_returns_what_runs_at_that_time() {
    let mut r = shim(|_| {});
    let until = r.kernel().now() + ms(50);
    assert_eq!(r.reap_until(false, Some(until)).unwrap(), Left::Running);
    assert_eq!(r.kernel().elapsed(), ms(50));
}

#[test]
fn reaping_until_drained_wakes_on_each_exit_and_returns_at_the_last() {
    let mut r = shim(|k| {
        k.spawn(102, SHIM);
        k.at(ms(10), |k| {
            k.exit(102, 0);
        });
        k.at(ms(20), |k| {
            k.exit(LEADER, 0);
        });
    });
    assert_eq!(r.reap_until(false, None).unwrap(), Left::Nothing);
    assert_eq!((r.reaped, r.kernel().elapsed()), (2, ms(20)));
    assert_eq!(r.kernel().count(|c| *c == Call::WaitSigchld), 2);
}

#[test]
fn reaping_until_drained_with_the_leader_kept_returns_at_its_zombie() {
    let mut r = shim(|k| {
        k.at(ms(10), |k| {
            k.exit(LEADER, 0);
        });
    });
    assert_eq!(r.reap_until(true, None).unwrap(), Left::LeaderZombie);
    assert!(r.kernel().is_zombie(LEADER));
}

#[test]
fn reaping_while_exits_keep_coming_returns_after_a_quiet_spell() {
    let mut r = shim(|k| {
        for (pid, t) in [(102, 1), (103, 2), (104, 3)] {
            k.spawn(pid, SHIM);
            k.at(ms(t), move |k| {
                k.exit(pid, 0);
            });
        }
    });
    let left = r
        .reap_while_exiting(Duration::from_micros(1500), None)
        .unwrap();
    assert_eq!(left, Left::Running, "the leader runs");
    assert_eq!(r.reaped, 3);
    assert_eq!(
        r.kernel().elapsed(),
        Duration::from_micros(4500),
        "3 ms + quiet"
    );
}

#[test]
fn reaping_while_exits_keep_coming_stops_at_its_time_limit() {
    let mut r = shim(|k| {
        for pid in 102..112 {
            k.spawn(pid, SHIM);
            k.at(ms(pid as u64 - 101), move |k| {
                k.exit(pid, 0);
            });
        }
    });
    let until = r.kernel().now() + ms(5);
    let left = r.reap_while_exiting(ms(2), Some(until)).unwrap();
    assert_eq!((left, r.reaped), (Left::Running, 5));
    assert_eq!(r.kernel().elapsed(), ms(5));
}

#[test]
fn reaping_while_exits_keep_coming_returns_at_once_when_nothing_is_left() {
    let mut r = shim(|k| {
        k.exit(LEADER, 0);
    });
    assert_eq!(r.reap_while_exiting(ms(1), None).unwrap(), Left::Nothing);
    assert_eq!(r.kernel().elapsed(), Duration::ZERO);
}
