//! The properties [`check`] holds the oracle to (see the parent module's docs),
//! each against a reference written from the oracle's documented rules.

use std::collections::BTreeSet;

use teardown::Verdict;

use super::OracleCase;
use crate::oracle::{
    FakeProc, FindingKind, Identity, Judgement, Observation, ProcSource, Scene, Seen, judge,
    map_records, observe, worst,
};
use crate::trial::NodeRecord;

/// The oracle under test: its two steps, replaceable in tests to show that
/// [`check`] catches a broken one.
pub(crate) struct Oracle<'a> {
    pub observe: &'a dyn Fn(&dyn ProcSource, &Scene) -> Observation,
    pub judge: &'a dyn Fn(&Observation, &Observation) -> Judgement,
}

/// Runs the oracle on `case` and checks everything the module docs list;
/// panics, with the case, on the first property broken.
pub fn check(case: &OracleCase) {
    check_with(
        case,
        &Oracle {
            observe: &|src, scene| observe(src, scene),
            judge: &judge,
        },
    );
}

pub(crate) fn check_with(case: &OracleCase, oracle: &Oracle<'_>) {
    let before = case.before();
    let after = case.after(&before);
    let written = case.records();
    let placed = map_records(&before, &written);
    check_placed(&before, &written, &placed.records, &placed.gone, case);
    let scene = case.scene(placed.records);
    let at_done = (oracle.observe)(&before, &scene);
    check_observation(&before, &scene, &at_done, case);
    let later = (oracle.observe)(&after, &scene);
    check_observation(&after, &scene, &later, case);
    check_judgement(&at_done, &later, &(oracle.judge)(&at_done, &later), case);
    let once = (oracle.judge)(&at_done, &at_done);
    check_judgement(&at_done, &at_done, &once, case);
    assert!(
        once.stragglers == 0 && once.dying == 0,
        "one observation judged twice has early processes: {once:?}\n{case:?}"
    );
}

fn check_placed(
    src: &FakeProc,
    written: &[NodeRecord],
    placed: &[NodeRecord],
    gone: &BTreeSet<u32>,
    case: &OracleCase,
) {
    assert_eq!(placed.len(), written.len(), "records lost\n{case:?}");
    let own = src.own_pidns();
    for (w, p) in written.iter().zip(placed) {
        assert_eq!(
            (p.node, p.start_time, p.pidns),
            (w.node, w.start_time, w.pidns),
            "{case:?}"
        );
        let ours = w.pidns != 0 && own == Some(w.pidns);
        if ours {
            assert_eq!(p, w, "a record of our own namespace was moved\n{case:?}");
        }
        if p.pid != w.pid {
            let inner = src.nspid(p.pid).unwrap_or_default();
            let stat = src.stat(p.pid).expect("moved onto an existing process");
            assert!(
                inner.len() > 1 && inner.last() == Some(&w.pid) && stat.start_time == w.start_time,
                "record {w:?} moved onto {p:?}, whose NSpid is {inner:?}\n{case:?}"
            );
        }
    }
    for node in gone {
        assert!(
            written.iter().zip(placed).any(|(w, p)| w.node == *node
                && p == w
                && w.pidns != 0
                && own.is_some_and(|o| o != w.pidns)),
            "node {node} called gone\n{case:?}"
        );
    }
}

/// Whether `pid`'s ppid chain reaches the warden without passing a bystander.
fn descends(src: &FakeProc, scene: &Scene, pid: i32) -> bool {
    let mut cur = pid;
    for _ in 0..=src.pids().len() {
        if cur == scene.warden {
            return true;
        }
        if scene.bystanders.iter().any(|b| b.pid == cur) {
            return false;
        }
        match src.stat(cur) {
            Some(s) if s.ppid > 0 && s.ppid != cur => cur = s.ppid,
            _ => return false,
        }
    }
    false
}

fn ids(seen: &[Seen]) -> Vec<Identity> {
    let mut v: Vec<Identity> = seen.iter().map(|s| s.id).collect();
    v.sort();
    v
}

fn check_observation(src: &FakeProc, scene: &Scene, obs: &Observation, case: &OracleCase) {
    let excluded = |p: i32| {
        p == scene.warden || p == scene.supervisor || scene.bystanders.iter().any(|b| b.pid == p)
    };
    let recorded = |p: i32, start: u64| {
        scene
            .records
            .iter()
            .any(|r| r.pid == p && r.start_time == start)
    };
    // Tree or helper: the documented rule, from the command line.
    let helper = |p: i32, start: u64| {
        !recorded(p, start)
            && src
                .cmdline(p)
                .is_some_and(|a| !a.is_empty() && a.get(1).is_none_or(|a| a != "node"))
    };
    let mine: Vec<i32> = src
        .pids()
        .into_iter()
        .filter(|&p| !excluded(p))
        .filter(|&p| {
            let s = src.stat(p).expect("listed");
            descends(src, scene, p) || recorded(p, s.start_time)
        })
        .collect();
    let supervisor_alive =
        !scene.supervisor_exiting && src.stat(scene.supervisor).is_some_and(|s| s.alive);
    let holders: Vec<i32> = mine
        .iter()
        .copied()
        .filter(|&p| {
            let s = src.stat(p).expect("listed");
            s.alive && helper(p, s.start_time)
        })
        .chain(supervisor_alive.then_some(scene.supervisor))
        .collect();
    let (mut alive, mut dying, mut zombies) = (Vec::new(), Vec::new(), Vec::new());
    let (mut helpers, mut orphaned, mut by_helpers) = (Vec::new(), Vec::new(), Vec::new());
    for &p in &mine {
        let s = src.stat(p).expect("listed");
        let id = s.identity();
        if s.alive && helper(p, s.start_time) {
            helpers.push(id);
        } else if s.alive && s.dying {
            dying.push(id);
        } else if s.alive {
            alive.push(id);
        } else if s.ppid == scene.warden || (scene.supervisor_exiting && s.ppid == scene.supervisor)
        {
            orphaned.push(id);
        } else if holders.contains(&s.ppid) {
            zombies.push(id);
            if s.ppid != scene.supervisor {
                by_helpers.push(id);
            }
        }
    }
    helpers.sort();
    orphaned.sort();
    by_helpers.sort();
    let mut got_by_helpers = obs.held_by_helpers.clone();
    got_by_helpers.sort();
    assert_eq!(
        got_by_helpers, by_helpers,
        "zombies held by helpers\n{case:?}"
    );
    assert_eq!(
        (ids(&obs.helpers), ids(&obs.orphaned_zombies)),
        (helpers, orphaned),
        "(helpers, orphaned zombies)\n{case:?}"
    );
    alive.sort();
    dying.sort();
    zombies.sort();
    let want = (alive, dying, zombies);
    let got = (ids(&obs.alive), ids(&obs.dying), ids(&obs.zombies));
    assert_eq!(got, want, "(alive, dying, zombies) of the tree\n{case:?}");
    for s in obs.alive.iter().chain(&obs.dying).chain(&obs.zombies) {
        let node = scene
            .records
            .iter()
            .find(|r| r.pid == s.id.pid && r.start_time == s.id.start_time)
            .map(|r| r.node);
        assert_eq!(s.node, node, "node of {:?}\n{case:?}", s.id);
    }
    let dead: Vec<Identity> = scene
        .bystanders
        .iter()
        .filter(|b| {
            !src.stat(b.pid)
                .is_some_and(|s| s.start_time == b.start_time && s.alive)
        })
        .copied()
        .collect();
    let got: Vec<Identity> = obs.bystanders_dead.iter().map(|s| s.id).collect();
    assert_eq!(got, dead, "dead bystanders\n{case:?}");
}

fn check_judgement(at_done: &Observation, after: &Observation, j: &Judgement, case: &OracleCase) {
    let kinds = |k: FindingKind| j.count(k) as u32;
    let still: BTreeSet<Identity> = after
        .alive
        .iter()
        .chain(&after.dying)
        .map(|s| s.id)
        .collect();
    let gone = |seen: &[Seen]| seen.iter().filter(|s| !still.contains(&s.id)).count() as u32;
    let dead: BTreeSet<Identity> = at_done
        .bystanders_dead
        .iter()
        .chain(&after.bystanders_dead)
        .map(|s| s.id)
        .collect();
    let forking = after.forking && still.is_empty();
    let counts = (
        j.survivors,
        j.stragglers,
        j.dying,
        j.zombies,
        j.orphaned_zombies,
        j.bystanders_killed,
    );
    let want = (
        still.len() as u32 + u32::from(forking),
        gone(&at_done.alive),
        gone(&at_done.dying),
        at_done
            .zombies
            .iter()
            .filter(|z| {
                !at_done.held_by_helpers.contains(&z.id)
                    || after.zombies.iter().any(|a| a.id == z.id)
            })
            .count() as u32,
        at_done.orphaned_zombies.len() as u32,
        dead.len() as u32,
    );
    assert_eq!(counts, want, "counts\n{j:?}\n{case:?}");
    let by_kind = (
        kinds(FindingKind::Survivor),
        kinds(FindingKind::Early),
        kinds(FindingKind::Zombie),
        kinds(FindingKind::OrphanedZombie),
        kinds(FindingKind::BystanderKilled),
        kinds(FindingKind::HelperLeft),
    );
    let helpers_left = after.helpers.len() as u32;
    assert_eq!(
        by_kind,
        (
            j.survivors,
            j.stragglers + j.dying,
            j.zombies,
            j.orphaned_zombies,
            j.bystanders_killed,
            helpers_left,
        ),
        "findings of each kind\n{j:?}\n{case:?}"
    );
    assert_eq!(
        j.findings.len() as u32,
        j.survivors
            + j.stragglers
            + j.dying
            + j.zombies
            + j.orphaned_zombies
            + j.bystanders_killed
            + helpers_left
    );
    let mut verdict = Verdict::Clean;
    for (found, v) in [
        (helpers_left > 0, Verdict::Leftover),
        (j.stragglers + j.dying > 0, Verdict::Early),
        (j.zombies > 0, Verdict::Zombie),
        (j.survivors > 0, Verdict::Leak),
        (j.bystanders_killed > 0, Verdict::BystanderKilled),
    ] {
        if found {
            verdict = worst(verdict, v);
        }
    }
    assert_eq!(j.verdict, verdict, "the worst finding\n{j:?}\n{case:?}");
}
