//! Finding the tree: every descendant of the warden, by `children` files and by
//! `ppid` chains, scanned until the scans settle.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Identity, ProcSource, ProcStat, Scene};

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
pub(super) fn scan_until_settled(src: &dyn ProcSource, scene: &Scene) -> (Vec<ProcStat>, bool) {
    let mut found: BTreeMap<Identity, ProcStat> = scan(src, scene, &BTreeMap::new())
        .into_iter()
        .map(|s| (s.identity(), s))
        .collect();
    let mut settled = false;
    for _ in 0..MAX_RESCANS {
        let mut new = false;
        for s in scan(src, scene, &found) {
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

/// One scan of [`tree_processes`]. A process in `known` (an earlier scan's
/// find: its first look stands) and an excluded one (the warden, the
/// supervisor, the bystanders: only their parents matter here) are only
/// glanced at ([`ProcSource::glance`]); what the scan returns for them is that
/// glance, which the caller does not keep.
fn scan(
    src: &dyn ProcSource,
    scene: &Scene,
    known: &BTreeMap<Identity, ProcStat>,
) -> Vec<ProcStat> {
    let excluded: BTreeSet<i32> = scene
        .bystanders
        .iter()
        .map(|b| b.pid)
        .chain([scene.warden, scene.supervisor])
        .collect();
    let enough = |s: &ProcStat| excluded.contains(&s.pid) || known.contains_key(&s.identity());
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
        .filter_map(|p| Some((p, src.glance(p, &enough)?)))
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
        if let Some(s) = stats
            .get(&pid)
            .cloned()
            .or_else(|| src.glance(pid, &enough))
        {
            found.insert(pid, s);
        }
    }

    // 3. recorded nodes that still exist with the same identity.
    for r in &scene.records {
        if found.contains_key(&r.pid) || excluded.contains(&r.pid) {
            continue;
        }
        if let Some(s) = src
            .glance(r.pid, &enough)
            .filter(|s| s.start_time == r.start_time)
        {
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
