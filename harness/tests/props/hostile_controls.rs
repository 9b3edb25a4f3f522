//! Negative controls on the hostile adversary (issue 12): each weak method must
//! be caught by a word the classic trees do not have, on random trees that leave
//! out the classic causes of its failure, and the shrunk tree must hold the word
//! that explains it, and replay it.
//!
//! The upward signals are left out: a node that signals its ancestors can kill
//! another node of the tree, whose outcome then rides on which of them runs
//! first (seen: a `kill-ancestors=term` killed a hopper before its first hop in
//! some runs, so the shrunk tree's replay came back `clean`); the named scenarios
//! pin what they do to the supervisor side.

use teardown::{Method, Verdict};
use teardown_harness::prop::{Adversary, PropParams, Word};
use teardown_harness::spec::{End, EndKind, SpawnKind, Trait, TraitKind, TreeSpec};

use super::negative_controls::{caught_on, tune, tune_hang};

/// The upward signals (see the module docs).
const UPWARD: [TraitKind; 4] = [
    TraitKind::KillParent,
    TraitKind::KillAncestors,
    TraitKind::TermKillParent,
    TraitKind::TermKillAncestors,
];

/// Hostile trees without the upward signals.
fn hostile() -> PropParams {
    PropParams {
        adversary: Adversary::Hostile,
        upward_stop: false,
        without: UPWARD.map(Word::Trait).to_vec(),
        ..PropParams::default()
    }
}

/// [`hostile`] trees without the classic causes either: leaving the group
/// (`setsid`, `setpgid`), outliving SIGTERM by a disposition (`ignore-term`,
/// `ignore=`, `block-all`), respawning on it. Without `cparent` too: whether a
/// `cparent` child of the supervisor is dead (a zombie it holds) or still dying
/// of the group's SIGTERM when `killpg` reports is a race, so its replay flips
/// (`clone-parent` pins that weakness).
fn new_words_only() -> PropParams {
    let mut p = hostile();
    p.without.push(Word::Spawn(SpawnKind::Cparent));
    p.without.extend(
        [
            TraitKind::Setsid,
            TraitKind::Setpgid,
            TraitKind::IgnoreTerm,
            TraitKind::Ignore,
            TraitKind::BlockAll,
            TraitKind::RespawnOnTerm,
        ]
        .map(Word::Trait),
    );
    p
}

fn nodes(spec: &TreeSpec) -> impl Iterator<Item = &teardown_harness::spec::NodeSpec> {
    spec.visits().map(|v| v.node)
}

/// A fork-hopper: it calls `setsid` at every hop, out of the leader's group.
fn has_hopper(spec: &TreeSpec) -> bool {
    nodes(spec).any(|n| n.end.kind() == EndKind::Hop)
}

/// Something outlives the group's SIGTERM by a new word: a nested PID
/// namespace's init (`userns`: it has no handler), a tracee whose tracer
/// swallows its signals (`trace` with children), a handler that carries on
/// (`term-kill-*`) below the leader.
fn has_new_term_survivor(spec: &TreeSpec) -> bool {
    spec.visits().any(|v| {
        v.node.has_trait(Trait::Userns)
            || (v.node.end == End::Trace && !v.node.children.is_empty())
            || (v.parent.is_some()
                && v.node
                    .traits
                    .iter()
                    .any(|t| matches!(t, Trait::TermKillParent(_) | Trait::TermKillAncestors(_))))
    })
}

/// `cgroup-kill` (systemd's path) must be caught hanging by a process whose
/// main thread has exited: `cgroup.kill` never kills it.
#[test]
fn cgroup_kill_is_caught_hanging_on_a_process_whose_main_thread_exited() {
    let m = caught_on(Method::CgroupKill, hostile(), tune_hang, 30_000);
    assert_eq!(m.outcome.verdict, Verdict::Hang, "{}", m.message);
    assert!(
        nodes(&m.trial.spec).any(|n| n.end == End::MainExit),
        "a cgroup-kill hang without a main-exit node: {}",
        m.message
    );
}

/// `killpg` leaks on trees whose only way to beat it is a new word: a hopper,
/// a nested init, a swallowing tracer.
#[test]
fn killpg_is_caught_by_the_new_words_alone() {
    let m = caught_on(Method::Killpg, new_words_only(), tune, 90_000);
    assert_eq!(m.outcome.verdict, Verdict::Leak, "{}", m.message);
    assert!(
        has_hopper(&m.trial.spec) || has_new_term_survivor(&m.trial.spec),
        "a killpg leak without a hopper or a new SIGTERM survivor: {}",
        m.message
    );
}

/// `subreaper` hangs on a fork-hopper: every hop leaves the group, so the group
/// kill never reaches it, and the shim waits for its adopted child forever.
#[test]
fn subreaper_is_caught_hanging_by_a_fork_hopper() {
    let m = caught_on(Method::Subreaper, new_words_only(), tune_hang, 30_000);
    assert_eq!(m.outcome.verdict, Verdict::Hang, "{}", m.message);
    assert!(
        has_hopper(&m.trial.spec),
        "a hang without a hopper: {}",
        m.message
    );
}

/// The explanations say no to trees that lack what they look for.
#[test]
fn the_hostile_explanations_recognise_exactly_their_trees() {
    let spec = |s: &str| s.parse::<TreeSpec>().unwrap();
    assert!(has_hopper(&spec("pause [fork: hop=3@10]")));
    assert!(!has_hopper(&spec("pause [fork: setsid pause]")));
    assert!(has_new_term_survivor(&spec("pause [fork: userns pause]")));
    assert!(has_new_term_survivor(&spec(
        "pause [fork: trace [fork: pause]]"
    )));
    assert!(!has_new_term_survivor(&spec("pause [fork: trace]")));
    assert!(has_new_term_survivor(&spec(
        "pause [fork: term-kill-parent=usr1 pause]"
    )));
    assert!(!has_new_term_survivor(&spec(
        "term-kill-parent=usr1 pause [fork: pause]"
    )));
}
