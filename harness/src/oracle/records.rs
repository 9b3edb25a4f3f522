//! Placing the readiness records in the warden's view of PIDs.

use std::collections::{BTreeSet, HashMap};

use super::ProcSource;
use crate::trial::NodeRecord;

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
    // Not needed, and not read (one status file a process), when every record
    // is known to be in this view.
    let mut nested: HashMap<i32, Vec<(i32, u64, Option<u64>)>> = HashMap::new();
    let all_own = records.iter().all(|r| in_own_ns(r) == Some(true));
    for pid in if all_own { Vec::new() } else { src.pids() } {
        // Only the start time is needed: a first look is enough.
        if let Some(ns) = src.nspid(pid).filter(|ns| ns.len() > 1)
            && let Some(s) = src.glance(pid, &|_| true)
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
