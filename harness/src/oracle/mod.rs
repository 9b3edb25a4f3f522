//! The oracle: judges a trial after the supervisor is done.
//!
//! # What it looks at
//!
//! At "done" the warden describes the [`Scene`] (its own PID, the supervisor's,
//! the bystanders', the readiness records, and the supervisor's children at the
//! last moment it was known alive) and the oracle [`observe`]s the process table
//! through a [`ProcSource`]:
//!
//! * **tree processes**: every descendant of the warden except the supervisor and
//!   the bystanders, found from every thread's `children` file *and* by following
//!   every process's `ppid` chain up to the warden (the `children` files are not
//!   reliable for a process being reparented), plus every recorded node whose
//!   identity `(pid, start time)` still exists;
//! * a tree process is **alive** while any of its threads lives — a zombie main
//!   thread with a live thread is alive. Liveness is never judged by `kill(pid, 0)`
//!   (it succeeds on zombies);
//! * a dead, unreaped tree process is a **zombie** finding when the supervisor is
//!   its parent, or when it was a child of the supervisor when the supervisor was
//!   last seen alive (a supervisor that exits hands its unreaped children to the
//!   warden: it did not drain) — also when that handed child is still dying
//!   rather than dead: it was not reaped either way. Other dead processes (a tree node's own unreaped
//!   children, orphans the warden adopted) are not the supervisor's to reap;
//! * a **bystander** not alive (by identity) was killed.
//!
//! * an alive tree process that is **dying** — committed to exit: SIGKILL pending,
//!   or every thread in `do_exit` ([`ProcStat::dying`]) — is not a straggler. A
//!   group kill puts SIGKILL on every member before `kill(2)` returns; whether the
//!   members have finished exiting when a supervisor that waited only for the
//!   leader returns is up to the scheduler, not the supervisor. Judging them by
//!   that race made the same trial `clean` or `straggler` from run to run. They
//!   are listed as `dying` findings, and judged again after the grace like
//!   everyone else: one still alive then is a survivor. A process read as alive
//!   and not dying is read once more, because one look is several files and a
//!   member dying of its pending signal can become a zombie between them (seen:
//!   `killpg-waitpgid` × `aurae-534-sh-wrapper` judged `straggler` 1 run in 6
//!   with the machine busy); the second look decides.
//!
//! The warden then waits up to the straggler grace for the alive and dying ones to
//! die (event-driven, see [`wait`]) and observes again: processes alive then —
//! dying or not, including new ones a fork storm made meanwhile — are
//! **survivors**; the ones that were alive and not dying at done and died within
//! the grace are **stragglers** (the supervisor returned while they could still
//! run: it said done too early). [`judge`] turns both observations into exactly one
//! verdict, the worst found, in this order (worst first):
//! `error` > `unsupported` > `hang` > `bystander-killed` > `leak` > `zombie` >
//! `straggler` > `clean` ([`severity`]).
//!
//! # PID namespaces
//!
//! Records carry the PIDs the nodes see. When an external supervisor puts the tree
//! in its own PID namespace (`bwrap --unshare-pid`), those differ from the warden's
//! view: [`map_records`] finds each record's process by the innermost PID of its
//! `NSpid` line and its start time, and rewrites pid (and pgid/sid where the group
//! or session leader was mapped too) into the warden's view.

mod source;
pub mod wait;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use source::{FakeProc, Identity, LiveProc, ProcSource, ProcStat};
use teardown::Verdict;

use crate::trial::{Finding, NodeRecord};

/// What the warden knows when it asks the oracle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scene {
    /// The warden's PID (the root of the enumeration).
    pub warden: i32,
    /// The supervisor's PID (never counted as a tree process).
    pub supervisor: i32,
    /// The bystanders' identities.
    pub bystanders: Vec<Identity>,
    /// The readiness records, in the warden's PID view.
    pub records: Vec<NodeRecord>,
    /// The supervisor's children when it was last known alive.
    pub handed: Vec<Identity>,
}

/// One process the oracle saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Who.
    pub id: Identity,
    /// The node id, if it is a recorded node.
    pub node: Option<u32>,
    /// Parent, state, command.
    pub note: String,
}

/// One look at the process table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// The tree never stopped making processes while it was looked at: each of
    /// [`MAX_RESCANS`] rescans found one no scan before had. Something of the
    /// tree was alive, even if every process was already dead when read (a
    /// fork-hopper that forks faster than a scan reads `/proc`).
    pub forking: bool,
    /// Tree processes alive and not dying.
    pub alive: Vec<Seen>,
    /// Tree processes alive but committed to exit ([`ProcStat::dying`]).
    pub dying: Vec<Seen>,
    /// Dead, unreaped tree processes the supervisor should have reaped.
    pub zombies: Vec<Seen>,
    /// Bystanders no longer alive.
    pub bystanders_dead: Vec<Seen>,
}

impl Observation {
    /// Identities of the alive tree processes, dying or not (what the straggler
    /// wait watches).
    pub fn alive_identities(&self) -> Vec<Identity> {
        self.alive.iter().chain(&self.dying).map(|s| s.id).collect()
    }
}

/// The oracle's judgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// Exactly one verdict.
    pub verdict: Verdict,
    /// Alive after the straggler grace.
    pub survivors: u32,
    /// Alive and not dying at done, dead after the grace.
    pub stragglers: u32,
    /// Dying at done (SIGKILL pending), dead after the grace: not held against the
    /// supervisor.
    pub dying: u32,
    /// Left unreaped by the supervisor.
    pub zombies: u32,
    /// Bystanders killed.
    pub bystanders_killed: u32,
    /// One entry per process judged.
    pub findings: Vec<Finding>,
}

/// How bad a verdict is: higher is worse. `error` > `unsupported` > `hang` >
/// `bystander-killed` > `leak` > `zombie` > `straggler` > `clean` ([`Verdict`]'s
/// own order).
pub fn severity(v: Verdict) -> u8 {
    v as u8
}

/// The worse of two verdicts.
pub fn worst(a: Verdict, b: Verdict) -> Verdict {
    a.max(b)
}

/// Scans after the first that may each still find a process the earlier ones
/// missed (see [`tree_processes`]); past them something is still forking, and
/// it is alive, so the straggler wait that follows sees it anyway.
const MAX_RESCANS: usize = 16;

/// Every tree process that exists now: descendants of the warden (by `children`
/// files and by `ppid` chains) and recorded nodes with their identity intact,
/// minus the warden, the supervisor and the bystanders.
///
/// # The race this handles
///
/// One scan is not a snapshot: it lists children and PIDs, then reads each
/// process. A process can fork after the lists were read and have exited by the
/// time it is read (a `respawn-on-term` node forking its replacement, then
/// `_exit`; the warden, busy scanning, has not reaped it): it is seen dead, its
/// child is in no list, and with nothing alive the trial would end `clean` while
/// the child lives on (seen with `dumb-init` × `respawn-on-term`, 1 run in 30
/// under load). So the scan is repeated until one finds no process the earlier
/// ones missed, and every process keeps the state it was first seen in. That is
/// enough: a process first seen dead (or dying) in scan *j* forked for the last
/// time before it was read there, so its child is listed by scan *j + 1*; a
/// process seen alive is waited for as a straggler, and looked at again after
/// the grace.
pub fn tree_processes(src: &dyn ProcSource, scene: &Scene) -> Vec<ProcStat> {
    scan_until_settled(src, scene).0
}

/// [`tree_processes`], and whether the scans never settled: the last of
/// [`MAX_RESCANS`] still found a process none before had (see [`observe`]).
fn scan_until_settled(src: &dyn ProcSource, scene: &Scene) -> (Vec<ProcStat>, bool) {
    let mut found: BTreeMap<Identity, ProcStat> = scan(src, scene)
        .into_iter()
        .map(|s| (s.identity(), s))
        .collect();
    let mut settled = false;
    for _ in 0..MAX_RESCANS {
        let mut new = false;
        for s in scan(src, scene) {
            if let std::collections::btree_map::Entry::Vacant(e) = found.entry(s.identity()) {
                e.insert(s);
                new = true;
            }
        }
        if !new {
            settled = true;
            break;
        }
    }
    (found.into_values().collect(), !settled)
}

/// One scan of [`tree_processes`].
fn scan(src: &dyn ProcSource, scene: &Scene) -> Vec<ProcStat> {
    let excluded: BTreeSet<i32> = scene
        .bystanders
        .iter()
        .map(|b| b.pid)
        .chain([scene.warden, scene.supervisor])
        .collect();
    let mut found: BTreeMap<i32, ProcStat> = BTreeMap::new();

    // 1. children files, breadth first from the warden (through the supervisor too:
    //    its descendants are the tree).
    let mut queue = vec![scene.warden];
    let mut visited = BTreeSet::new();
    while let Some(pid) = queue.pop() {
        if !visited.insert(pid) {
            continue;
        }
        for child in src.children(pid) {
            if scene.bystanders.iter().any(|b| b.pid == child) {
                continue; // a bystander's own children are not the tree's
            }
            queue.push(child);
        }
    }

    // 2. ppid chains of every process.
    let stats: HashMap<i32, ProcStat> = src
        .pids()
        .into_iter()
        .filter_map(|p| Some((p, src.stat(p)?)))
        .collect();
    let mut under: HashMap<i32, bool> = HashMap::new();
    for &pid in stats.keys() {
        if descends(pid, scene, &stats, &mut under) {
            visited.insert(pid);
        }
    }

    for pid in visited {
        if excluded.contains(&pid) {
            continue;
        }
        if let Some(s) = stats.get(&pid).cloned().or_else(|| src.stat(pid)) {
            found.insert(pid, s);
        }
    }

    // 3. recorded nodes that still exist with the same identity.
    for r in &scene.records {
        if found.contains_key(&r.pid) || excluded.contains(&r.pid) {
            continue;
        }
        if let Some(s) = src.stat(r.pid).filter(|s| s.start_time == r.start_time) {
            found.insert(r.pid, s);
        }
    }
    found.into_values().collect()
}

/// Whether `pid` is a descendant of the warden by its `ppid` chain (not through a
/// bystander).
fn descends(
    pid: i32,
    scene: &Scene,
    stats: &HashMap<i32, ProcStat>,
    memo: &mut HashMap<i32, bool>,
) -> bool {
    let mut chain = Vec::new();
    let mut cur = pid;
    let answer = loop {
        if let Some(&known) = memo.get(&cur) {
            break known;
        }
        if cur == scene.warden {
            break true;
        }
        if scene.bystanders.iter().any(|b| b.pid == cur) || chain.len() > stats.len() {
            break false;
        }
        let Some(s) = stats.get(&cur) else {
            break false;
        };
        if s.ppid == cur || s.ppid <= 0 {
            break false;
        }
        chain.push(cur);
        cur = s.ppid;
    };
    for p in chain {
        memo.insert(p, answer);
    }
    answer && pid != scene.warden
}

/// Looks at the process table once (at done, and again after the straggler grace).
pub fn observe(src: &dyn ProcSource, scene: &Scene) -> Observation {
    let node_of = |id: Identity| {
        scene
            .records
            .iter()
            .find(|r| r.pid == id.pid && r.start_time == id.start_time)
            .map(|r| r.node)
    };
    let mut obs = Observation::default();
    let (procs, forking) = scan_until_settled(src, scene);
    obs.forking = forking;
    for s in procs {
        let id = s.identity();
        let seen = Seen {
            id,
            node: node_of(id),
            note: s.note(),
        };
        if s.alive && s.dying {
            // The supervisor's child, dying, and already handed to the warden: the
            // supervisor exited without reaping it, whether or not it has finished
            // exiting yet (the same race, judged the same way every time).
            if s.ppid != scene.supervisor && scene.handed.contains(&id) {
                obs.zombies.push(seen.clone());
            }
            obs.dying.push(seen);
        } else if s.alive {
            obs.alive.push(seen);
        } else if s.ppid == scene.supervisor || scene.handed.contains(&id) {
            obs.zombies.push(seen);
        }
    }
    for b in &scene.bystanders {
        match src.stat(b.pid).filter(|s| s.start_time == b.start_time) {
            Some(s) if s.alive => {}
            Some(s) => obs.bystanders_dead.push(Seen {
                id: *b,
                node: None,
                note: s.note(),
            }),
            None => obs.bystanders_dead.push(Seen {
                id: *b,
                node: None,
                note: "gone".into(),
            }),
        }
    }
    obs
}

/// Judges a trial from its observation at done and the one after the straggler
/// grace (pass the same observation twice when there was nothing to wait for).
pub fn judge(at_done: &Observation, after_grace: &Observation) -> Judgement {
    let still: BTreeSet<Identity> = after_grace.alive_identities().into_iter().collect();
    let mut findings = Vec::new();
    let mut finding = |s: &Seen, kind: &str| {
        findings.push(Finding {
            pid: s.id.pid,
            node: s.node,
            kind: kind.into(),
            note: s.note.clone(),
        });
    };
    for s in after_grace.alive.iter().chain(&after_grace.dying) {
        finding(s, "survivor");
    }
    let stragglers: Vec<&Seen> = at_done
        .alive
        .iter()
        .filter(|s| !still.contains(&s.id))
        .collect();
    for s in &stragglers {
        finding(s, "straggler");
    }
    let dying: Vec<&Seen> = at_done
        .dying
        .iter()
        .filter(|s| !still.contains(&s.id))
        .collect();
    for s in &dying {
        finding(s, "dying");
    }
    for s in &at_done.zombies {
        finding(s, "zombie");
    }
    // Still forking after the grace, though every process read was dead by then:
    // the tree lives on (one survivor, whichever process it is now).
    let forking = after_grace.forking && still_is_empty(after_grace);
    if forking {
        let seen = Seen {
            id: Identity {
                pid: 0,
                start_time: 0,
            },
            node: None,
            note: format!(
                "the tree was still making processes after the straggler grace ({MAX_RESCANS} rescans each found a new one), faster than a scan reads them alive"
            ),
        };
        finding(&seen, "survivor");
    }
    let mut dead_bystanders: Vec<&Seen> = at_done.bystanders_dead.iter().collect();
    for s in &after_grace.bystanders_dead {
        if !dead_bystanders.iter().any(|d| d.id == s.id) {
            dead_bystanders.push(s);
        }
    }
    for s in &dead_bystanders {
        finding(s, "bystander-killed");
    }

    let mut verdict = Verdict::Clean;
    if !stragglers.is_empty() {
        verdict = worst(verdict, Verdict::Straggler);
    }
    if !at_done.zombies.is_empty() {
        verdict = worst(verdict, Verdict::Zombie);
    }
    if !still.is_empty() || forking {
        verdict = worst(verdict, Verdict::Leak);
    }
    if !dead_bystanders.is_empty() {
        verdict = worst(verdict, Verdict::BystanderKilled);
    }
    Judgement {
        verdict,
        survivors: still.len() as u32 + u32::from(forking),
        stragglers: stragglers.len() as u32,
        dying: dying.len() as u32,
        zombies: at_done.zombies.len() as u32,
        bystanders_killed: dead_bystanders.len() as u32,
        findings,
    }
}

/// Whether an observation found no process alive (dying or not).
fn still_is_empty(obs: &Observation) -> bool {
    obs.alive.is_empty() && obs.dying.is_empty()
}

/// Records placed in the source's view by [`map_records`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placed {
    /// Every record, its PIDs rewritten where it was seen in a nested namespace.
    pub records: Vec<NodeRecord>,
    /// Nodes whose record names a nested namespace's PID that no process here
    /// has any more: the process is gone, and its `pid` (kept as the node saw
    /// it) means nothing in this view.
    pub gone: BTreeSet<u32>,
}

/// Rewrites records whose PIDs were seen in a nested PID namespace into the
/// source's view (see the module docs). Records already valid in the source's
/// view are kept as they are; so are records of processes that are gone, which
/// are also listed in [`Placed::gone`] when the record says (by
/// [`NodeRecord::pidns`]) that its PID is not one of this view's.
pub fn map_records(src: &dyn ProcSource, records: &[NodeRecord]) -> Placed {
    let own_ns = src.own_pidns();
    // Whether the record's PID is known to be one of this view's, or known not to
    // be (`None`: the record or the source does not say).
    let in_own_ns = |r: &NodeRecord| match (r.pidns, own_ns) {
        (0, _) | (_, None) => None,
        (ns, Some(own)) => Some(ns == own),
    };
    // A record whose PID is nobody's innermost PID of a nested namespace is kept
    // as it is (the node runs in the warden's own namespace).
    // innermost pid -> (outer pid, start time, its PID namespace if known), for
    // processes in nested namespaces.
    let mut nested: HashMap<i32, Vec<(i32, u64, Option<u64>)>> = HashMap::new();
    for pid in src.pids() {
        if let Some(ns) = src.nspid(pid).filter(|ns| ns.len() > 1)
            && let Some(s) = src.stat(pid)
        {
            nested
                .entry(*ns.last().expect("non-empty"))
                .or_default()
                .push((pid, s.start_time, src.pidns_of(pid)));
        }
    }
    let mut gone = BTreeSet::new();
    // (the record's namespace, its PID there) -> the PID here: a group or session
    // leader is translated in the namespace the record was written in (two
    // nested namespaces both have a PID 1).
    let mut inner_to_outer: HashMap<(u64, i32), i32> = HashMap::new();
    let mapped: Vec<(NodeRecord, bool)> = records
        .iter()
        .map(|r| {
            if in_own_ns(r) == Some(true) {
                return (*r, false);
            }
            // A nested process whose innermost PID and start time are the record's
            // (and, when both are known, its PID namespace) is preferred to a
            // direct match: the record was written from inside that namespace, and
            // a direct look-alike (a bystander started in the same clock tick, in a
            // group of its own, with its session outside the warden's namespace,
            // shown as 0 like the node's) is a stranger. Two namespaces can each
            // have a process with the same innermost PID started in the same clock
            // tick (a `userns` node and the `pidns` method's init): the namespace
            // tells them apart.
            let same_ns = |ns: Option<u64>| r.pidns == 0 || ns.is_none_or(|ns| ns == r.pidns);
            match nested.get(&r.pid).and_then(|c| {
                c.iter()
                    .find(|(_, st, ns)| *st == r.start_time && same_ns(*ns))
            }) {
                Some(&(outer, _, _)) => {
                    inner_to_outer.insert((r.pidns, r.pid), outer);
                    (NodeRecord { pid: outer, ..*r }, true)
                }
                _ => {
                    if in_own_ns(r) == Some(false) {
                        gone.insert(r.node);
                    }
                    (*r, false)
                }
            }
        })
        .collect();
    let records = mapped
        .into_iter()
        .map(|(mut r, was_mapped)| {
            if was_mapped {
                let outer = |p: i32| inner_to_outer.get(&(r.pidns, p)).copied().unwrap_or(p);
                r.pgid = outer(r.pgid);
                r.sid = outer(r.sid);
            }
            r
        })
        .collect();
    Placed { records, gone }
}

#[cfg(test)]
mod tests;
