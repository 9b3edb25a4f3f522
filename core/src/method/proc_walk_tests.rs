//! The walker's rules, one test each, against a fake kernel: which processes a
//! walk finds, how it checks them, what it signals, and when walks stop. The
//! teardown's phases are in `proc_walk_teardown_tests.rs`.

use std::time::Duration;

use super::*;
use crate::shim::kernel::fake::{Call, FakeKernel, SHIM};

pub(super) const LEADER: i32 = 101;
const KILL: &[i32] = &[libc::SIGKILL];
const TERM: &[i32] = &[libc::SIGTERM, libc::SIGCONT];
const SLOWLY: Duration = Duration::from_secs(1);

/// A shim whose leader (101) runs, with whatever `setup` adds.
pub(super) fn shim(setup: impl FnOnce(&mut FakeKernel)) -> Reaper<'static, FakeKernel> {
    let mut k = FakeKernel::new();
    k.leader(LEADER);
    setup(&mut k);
    Reaper::on(k, LEADER)
}

/// Walks with `sigs` (fast: as after the group kill) until a walk finds nothing
/// new and raced with no exit.
fn converge(
    r: &mut Reaper<'_, FakeKernel>,
    sigs: &'static [i32],
    fast: bool,
) -> Walker<FakeKernel> {
    let mut w = Walker::new(r.kernel(), sigs, fast);
    w.converge(r, None).expect("walks");
    w
}

/// The PIDs signalled with `sig`, in order.
fn signalled_with(k: &FakeKernel, sig: i32) -> Vec<i32> {
    (k.calls().iter())
        .filter_map(|c| match *c {
            Call::Signal(pid, s) if s == sig => Some(pid),
            _ => None,
        })
        .collect()
}

#[test]
fn a_walk_signals_the_tree_level_by_level_each_process_once() {
    let mut r = shim(|k| {
        k.spawn(102, LEADER).spawn(103, LEADER).spawn(104, 102);
        for p in LEADER..=104 {
            k.ignores_term(p);
        }
    });
    let w = converge(&mut r, TERM, false);
    assert_eq!(
        signalled_with(r.kernel(), libc::SIGTERM),
        [101, 102, 103, 104]
    );
    assert_eq!(
        (w.signalled, w.rounds),
        (4, 2),
        "a second walk found nothing new"
    );
}

#[test]
fn a_graceful_walk_sends_sigterm_then_sigcont() {
    let mut r = shim(|k| {
        k.ignores_term(LEADER);
    });
    converge(&mut r, TERM, false);
    assert_eq!(
        r.kernel().signals_to(LEADER),
        [libc::SIGTERM, libc::SIGCONT]
    );
}

#[test]
fn the_children_of_every_thread_are_found() {
    let mut r = shim(|k| {
        k.threads(SHIM, 2).spawn(102, SHIM).forked_by_thread(102, 1);
        k.threads(LEADER, 3)
            .spawn(103, LEADER)
            .forked_by_thread(103, 2);
        for p in [LEADER, 102, 103] {
            k.dies_after(p, SLOWLY);
        }
    });
    let w = converge(&mut r, KILL, true);
    assert_eq!(signalled_with(r.kernel(), libc::SIGKILL), [101, 102, 103]);
    assert_eq!(w.rounds, 2, "all found by the first walk");
}

#[test]
fn a_child_handed_to_the_shim_mid_walk_is_found_by_the_next_walk() {
    // 102 is read in 101's list, then exits before it is looked at: its child
    // 103 goes to the shim, whose list this walk has read already.
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY)
            .spawn(102, LEADER)
            .spawn(103, 102);
        k.after(Call::Children(Some(LEADER)), |k| {
            k.exit(102, 0);
        });
    });
    let w = converge(&mut r, KILL, true);
    assert_eq!(r.kernel().signals_to(103), [libc::SIGKILL]);
    assert!(w.rounds >= 2);
}

#[test]
fn a_child_reparented_to_the_shim_after_its_list_was_read_is_still_signalled() {
    // 103 is read in 102's list; 102 then exits, so 103's parent is the shim
    // when the walk checks it: still the tree's, signalled by this walk.
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY)
            .spawn(102, LEADER)
            .spawn(103, 102);
        k.dies_after(102, SLOWLY).dies_after(103, SLOWLY);
        k.after(Call::Children(Some(102)), |k| {
            k.exit(102, 0);
        });
    });
    let mut w = Walker::new(r.kernel(), KILL, true);
    let out = w.walk(r.kernel()).expect("walk");
    assert_eq!(r.kernel().signals_to(103), [libc::SIGKILL]);
    assert_eq!((out.new, out.incomplete), (3, true), "102 exited meanwhile");
}

#[test]
fn a_process_that_exits_while_its_lists_are_read_makes_the_walks_go_on() {
    // The second walk finds nothing new, but 102 forks 103 and exits while its
    // lists are read (101 reaps it): that read is incomplete, so a third walk
    // looks again.
    let mut r = shim(|k| {
        k.ignores_term(LEADER).spawn(102, LEADER).ignores_term(102);
        k.after(Call::Children(Some(102)), |k| {
            k.after(Call::Children(Some(102)), |k| {
                k.spawn(103, 102).ignores_term(103).exit(102, 0);
                k.reaped_by_parent(102);
            });
        });
    });
    let w = converge(&mut r, TERM, false);
    assert_eq!(r.kernel().signals_to(103), [libc::SIGTERM, libc::SIGCONT]);
    assert_eq!(w.signalled, 3);
}

#[test]
fn the_lists_of_a_process_that_has_exited_are_not_read() {
    // Its children went to the shim: the next walk finds them there.
    let mut r = shim(|k| {
        k.spawn(102, LEADER);
    });
    converge(&mut r, KILL, true);
    let k = r.kernel();
    assert_eq!(k.count(|c| *c == Call::Children(Some(LEADER))), 0);
    assert_eq!(k.signals_to(102), [libc::SIGKILL]);
}

#[test]
fn a_pid_reaped_before_its_pidfd_is_opened_is_skipped() {
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY).spawn(102, LEADER);
        k.after(Call::Children(Some(LEADER)), |k| {
            k.exit(102, 0).reaped_by_parent(102);
        });
    });
    let w = converge(&mut r, KILL, true);
    assert!(r.kernel().calls().contains(&Call::Open(102)));
    assert_eq!((w.signalled, r.kernel().signals_to(102).len()), (1, 0));
}

#[test]
fn a_pid_reaped_between_open_and_the_parent_check_is_skipped() {
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY).spawn(102, LEADER);
        k.after(Call::Open(102), |k| {
            k.exit(102, 0).reaped_by_parent(102);
        });
    });
    let w = converge(&mut r, KILL, true);
    assert_eq!((w.signalled, r.kernel().signals_to(102).len()), (1, 0));
}

#[test]
fn a_pid_that_exits_between_the_parent_check_and_the_kill_is_not_an_error_nor_counted() {
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY).spawn(102, LEADER);
        k.after(Call::ParentOf(102), |k| {
            k.exit(102, 0).reaped_by_parent(102);
        });
    });
    let w = converge(&mut r, KILL, true);
    assert!(
        r.kernel()
            .calls()
            .contains(&Call::Signal(102, libc::SIGKILL))
    );
    assert_eq!(w.signalled, 1, "only the leader");
}

#[test]
fn a_recycled_pid_outside_the_tree_is_not_signalled() {
    // 102 is read in 101's list, exits and is reaped, and its PID goes to a
    // process whose parents lead to init, not to the shim.
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY).spawn(102, LEADER).spawn(50, 1);
        k.after(Call::Children(Some(LEADER)), |k| {
            k.exit(102, 0).reaped_by_parent(102).spawn(102, 50);
        });
    });
    let w = converge(&mut r, KILL, true);
    assert_eq!(r.kernel().signals_to_current(102), Vec::<i32>::new());
    assert_eq!(w.signalled, 1);
}

#[test]
fn a_recycled_pid_whose_parents_lead_to_the_shim_is_signalled() {
    // The PID went to a new child of 103, another process of the tree.
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY)
            .spawn(102, LEADER)
            .spawn(103, LEADER);
        k.dies_after(103, SLOWLY);
        k.after(Call::Children(Some(LEADER)), |k| {
            k.exit(102, 0).reaped_by_parent(102).spawn(102, 103);
        });
    });
    converge(&mut r, KILL, true);
    assert_eq!(r.kernel().signals_to_current(102), [libc::SIGKILL]);
}

#[test]
fn a_parent_chain_that_loops_is_not_followed_forever() {
    // Parents read one at a time from /proc can form a loop (PIDs recycled
    // between the reads): the climb gives up, and the process is not signalled.
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY).spawn(102, LEADER);
        k.spawn(50, 51).spawn(51, 50);
        k.after(Call::Children(Some(LEADER)), |k| {
            k.exit(102, 0).reaped_by_parent(102).spawn(102, 50);
        });
    });
    converge(&mut r, KILL, true);
    let k = r.kernel();
    assert_eq!(k.signals_to_current(102), Vec::<i32>::new());
    let climbs = k.count(|c| matches!(c, Call::Stat(50 | 51)));
    assert_eq!(climbs, 4096, "4096 steps at the most");
}

#[test]
fn a_process_whose_stat_cannot_be_read_is_not_signalled() {
    let mut r = shim(|k| {
        k.ignores_term(LEADER)
            .spawn(102, LEADER)
            .stat_unreadable(102);
    });
    let w = converge(&mut r, TERM, false);
    assert_eq!((w.signalled, r.kernel().signals_to(102).len()), (1, 0));
}

#[test]
fn a_fast_walk_reads_the_parent_from_the_pidfd_not_from_proc() {
    let mut r = shim(|k| {
        k.spawn(102, LEADER);
    });
    converge(&mut r, KILL, true);
    let k = r.kernel();
    assert_eq!(k.count(|c| matches!(c, Call::Stat(_))), 0);
    assert!(k.calls().contains(&Call::ParentOf(102)));
}

#[test]
fn without_pidfd_get_info_a_fast_walk_reads_the_parent_from_proc() {
    let mut r = shim(|k| {
        k.without_pidfd_info().spawn(102, LEADER);
    });
    converge(&mut r, KILL, true);
    assert!(r.kernel().calls().contains(&Call::Stat(102)));
    assert_eq!(r.kernel().signals_to(102), [libc::SIGKILL]);
}

#[test]
fn a_slow_walk_reads_the_parent_and_start_time_from_proc() {
    let mut r = shim(|k| {
        k.ignores_term(LEADER);
    });
    converge(&mut r, TERM, false);
    assert_eq!(
        r.kernel().count(|c| *c == Call::Stat(LEADER)),
        2,
        "each walk"
    );
}

#[test]
fn a_slow_walk_signals_a_recycled_pid_with_a_new_start_time() {
    // 102 is signalled by the first walk, exits, and 101 forks a new 102.
    let mut r = shim(|k| {
        k.ignores_term(LEADER).spawn(102, LEADER).ignores_term(102);
        k.after(Call::Children(Some(102)), |k| {
            k.exit(102, 0).reaped_by_parent(102).spawn(102, LEADER);
            k.ignores_term(102);
        });
    });
    let w = converge(&mut r, TERM, false);
    let k = r.kernel();
    assert_eq!(k.signals_to_current(102), [libc::SIGTERM, libc::SIGCONT]);
    assert_eq!(w.signalled, 3);
}

#[test]
fn a_fast_walk_does_not_reopen_a_process_whose_lists_were_read_complete() {
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY);
    });
    let w = converge(&mut r, KILL, true);
    assert_eq!(w.rounds, 2);
    assert_eq!(r.kernel().count(|c| *c == Call::Open(LEADER)), 1);
}

/// One fast walk by a walker that already knows `pid`, found in the shim's list
/// and read incompletely (it had exited) by an earlier walk of the phase.
fn walk_knowing_an_exited(r: &mut Reaper<'_, FakeKernel>, pid: i32) -> (WalkOutcome, u64) {
    let mut w = Walker::new(r.kernel(), KILL, true);
    let known = Known {
        start: 0,
        parent: SHIM,
        complete: false,
        exited: false,
    };
    w.known.insert(pid, known);
    let out = w.walk(r.kernel()).expect("walk");
    (out, w.signalled)
}

#[test]
fn a_fast_walk_signals_a_running_process_where_a_known_one_had_exited() {
    // The PID was recycled: the process there now is new.
    let mut r = shim(|_| {});
    let (out, signalled) = walk_knowing_an_exited(&mut r, LEADER);
    assert_eq!((out.new, signalled), (1, 1));
    assert_eq!(r.kernel().signals_to(LEADER), [libc::SIGKILL]);
}

#[test]
fn a_fast_walk_does_not_signal_again_a_known_process_that_has_exited() {
    let mut r = shim(|k| {
        k.exit(LEADER, 0);
    });
    let (out, signalled) = walk_knowing_an_exited(&mut r, LEADER);
    assert_eq!((out.new, signalled, out.incomplete), (0, 0, true));
    assert_eq!(r.kernel().signals_to(LEADER), Vec::<i32>::new());
}

#[test]
fn walks_stop_at_their_time_limit_while_new_processes_keep_coming() {
    /// Each read of the shim's list is followed by a new child of the shim.
    fn fork_after_each_walk(k: &mut FakeKernel, pid: i32) {
        k.after(Call::Children(None), move |k| {
            k.spawn(pid, SHIM);
            fork_after_each_walk(k, pid + 1);
        });
    }
    let mut r = shim(|k| {
        k.tick(Duration::from_micros(1));
        fork_after_each_walk(k, 200);
    });
    let mut w = Walker::new(r.kernel(), KILL, true);
    let until = r.kernel().now() + Duration::from_millis(1);
    w.converge(&mut r, Some(until)).expect("walks");
    let k = r.kernel();
    assert!(k.elapsed() >= Duration::from_millis(1));
    assert!(k.elapsed() < Duration::from_millis(2), "{:?}", k.elapsed());
    assert!(w.rounds > 10, "{}", w.rounds);
}

#[test]
fn at_most_256_pidfds_are_held_open_at_once() {
    let mut r = shim(|k| {
        k.dies_after(LEADER, SLOWLY);
        for pid in 200..800 {
            k.spawn(pid, SHIM).dies_after(pid, SLOWLY);
        }
    });
    let w = converge(&mut r, KILL, true);
    assert_eq!(w.signalled, 601);
    assert_eq!(r.kernel().max_open_pidfds(), BATCH);
}
