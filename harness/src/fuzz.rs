//! The fuzz targets' oracles, as library code so that `fuzz/fuzz_targets/*.rs`
//! are one-liners and every finding becomes a plain regression test calling the
//! same function (`harness/tests/spec/fuzz.rs`).
//!
//! Each function panics when a property is broken; that is how libFuzzer sees a
//! finding. See `fuzz/README.md` for running the targets.

mod oracle_case;

use std::collections::BTreeMap;
use std::time::Duration;

use teardown::{Method, Verdict};

use crate::spec::{
    Burst, ChildSpec, End, Limits, MAX_NESTING, NodeSpec, Sig, SpawnKind, SpecStats, Trait,
    TreeSpec, cut_bursts,
};
use crate::trial::{Supervisor, Trial};
use crate::warden::run_trial;

/// Target `spec_text`: any bytes → the parser.
///
/// * Parsing never panics, with the default limits or with none.
/// * An error's byte offset lies within the input, on a char boundary, and its
///   message starts with `spec: `.
/// * Whatever parses prints to text that parses to the same spec, and printing
///   that spec again gives the same text (the canonical form is a fixed point).
/// * Whatever parses with the default limits is within them, by an independent
///   count ([`assert_within`]).
///
/// Bytes that are not UTF-8 are read lossily (`U+FFFD`), so they still reach
/// the parser.
pub fn spec_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for (limits, within) in [(Limits::default(), true), (Limits::unlimited(), false)] {
        match TreeSpec::parse_with(&text, &limits) {
            Ok(spec) => {
                let printed = spec.to_string();
                let again = TreeSpec::parse_with(&printed, &limits)
                    .unwrap_or_else(|e| panic!("{printed:?} does not parse back: {e}"));
                assert_eq!(again, spec, "{printed:?} parses to another spec");
                assert_eq!(again.to_string(), printed, "printing is not a fixed point");
                if within {
                    assert_within(&spec, &limits);
                }
            }
            Err(err) => {
                let message = err.to_string();
                assert!(message.starts_with("spec: "), "{message}");
                if let Some(at) = err.offset() {
                    assert!(at <= text.len(), "offset {at} past the end: {message}");
                    assert!(text.is_char_boundary(at), "offset {at} inside a char");
                }
            }
        }
    }
}

pub use oracle_case::{
    Change, FakeProcess, FakeRecord, FakeState, ORACLE_MAX_PID, OracleCase, RecordNs,
};

/// Target `oracle`: a random process table and scene (`arbitrary`, see
/// [`OracleCase`]) → the oracle's record placing, observations and judgement,
/// each held against a reference written from the oracle's documented rules.
///
/// * Nothing panics, on any table: `ppid` cycles, missing parents, a warden that
///   is also a bystander.
/// * Records keep their node and start time; one moves only onto a process whose
///   innermost `NSpid` and start time are its own, never from our own namespace.
/// * An observation holds exactly the tree processes (the warden's descendants
///   by `ppid` chain not through a bystander, and recorded nodes with their
///   identity; never the warden, the supervisor or a bystander), each in the
///   bucket its state says; a bystander is dead exactly when its identity is not
///   alive.
/// * The judgement is exactly one of the oracle's verdicts, the worst of what it
///   found; its counts equal its findings of each kind; one observation judged
///   twice finds nothing early.
///
/// Pure logic, in process, no fork: the target ClusterFuzzLite runs.
pub fn oracle(case: &OracleCase) {
    oracle_case::check(case);
}

/// Target `spec_limits`: a structure-aware spec (`arbitrary`) → the limit
/// checker and the text form.
///
/// * A spec [`Limits::default`] accepts is within every documented bound, by an
///   independent count over the expanded tree ([`assert_within`]), and its
///   text parses back to it.
/// * A spec it refuses is refused by the parser too, when printed.
pub fn spec_limits(spec: &TreeSpec) {
    let limits = Limits::default();
    match limits.check(spec) {
        Ok(()) => {
            assert_within(spec, &limits);
            let text = spec.to_string();
            assert_eq!(TreeSpec::parse(&text).as_ref(), Ok(spec), "{text}");
        }
        Err(err) => {
            // Printing recurses: only print what the parser could nest.
            if SpecStats::of(spec).depth <= MAX_NESTING {
                let text = spec.to_string();
                assert!(
                    TreeSpec::parse(&text).is_err(),
                    "checker refused ({err}) but the parser accepts {text}"
                );
            }
        }
    }
}

/// Asserts that `spec`, accepted by `limits`, is within every one of them,
/// recounting each total by walking the expanded tree node by node (not the
/// multiplicative count [`Limits::check`] uses), that node ids are consecutive,
/// that [`NodeSpec::expanded_children`](crate::spec::NodeSpec::expanded_children)
/// agrees with the walk, and that [`TreeSpec::subtree`] finds the node of up to
/// 64 evenly spread ids (it costs a descent each).
///
/// # Panics
///
/// On any bound exceeded, or when the walk and [`TreeSpec::node_count`] disagree.
/// The walk stops as soon as it passes `max_nodes`, so this is safe to call on a
/// spec with huge counts.
pub fn assert_within(spec: &TreeSpec, limits: &Limits) {
    let mut nodes: u64 = 0;
    let mut depth = 0;
    let mut live: u64 = 0;
    let mut zombies: u64 = 0;
    let mut storm_total: u64 = 0;
    let mut storm_rate: u64 = 0;
    let mut exit_after: u64 = 0;
    let mut hop_total: u64 = 0;
    let mut hop_rate: u64 = 0;
    let mut vfork_depth: u64 = 0;
    let mut graceful: u64 = 0;
    let mut parents: BTreeMap<u32, u32> = BTreeMap::new();
    let stride = (spec.node_count() / 64).max(1);
    for visit in spec.visits() {
        assert_eq!(u64::from(visit.id), nodes, "node ids are not consecutive");
        nodes += 1;
        assert!(nodes <= limits.max_nodes, "more than max_nodes nodes");
        if let Some(parent) = visit.parent {
            *parents.entry(parent).or_default() += 1;
        }
        if visit.id % stride == 0 {
            assert!(
                std::ptr::eq(spec.subtree(visit.id).expect("subtree"), visit.node),
                "subtree({}) is another node",
                visit.id
            );
        }
        depth = depth.max(visit.depth);
        live += 1;
        if visit.spawn == Some(SpawnKind::DoubleFork) {
            live += 1;
        }
        if visit.node.has_trait(Trait::RespawnOnTerm) {
            live += 1;
        }
        if visit.node.has_trait(Trait::Userns) {
            live += 1;
        }
        for t in &visit.node.traits {
            if let Trait::GracefulMs(ms) = t {
                graceful = graceful.max((*ms).into());
            }
        }
        match visit.node.end {
            End::Zombies(n) => {
                assert!(n >= 1);
                zombies += u64::from(n);
                live += u64::from(n);
            }
            End::Storm { total, rate } => {
                assert!(total >= 1 && rate >= 1);
                storm_total += u64::from(total);
                storm_rate += u64::from(rate);
                live += u64::from(total);
            }
            End::ExitAfterMs(ms) => exit_after = exit_after.max(ms.into()),
            End::Vfork(n) => {
                assert!(n >= 1);
                vfork_depth = vfork_depth.max(n.into());
                live += u64::from(n);
            }
            End::Hop { total, rate } => {
                assert!(total >= 1 && rate >= 1);
                hop_total += u64::from(total);
                hop_rate += u64::from(rate);
                live += 1;
            }
            End::ThreadFork => live += 1,
            End::Pause | End::Exit | End::Spin | End::MainExit | End::Trace => {}
        }
    }
    assert_eq!(
        u64::from(spec.node_count()),
        nodes,
        "node_count disagrees with the walk"
    );
    for visit in spec.visits() {
        let direct: Vec<u32> = visit
            .node
            .expanded_children(visit.id)
            .map(|(id, _)| id)
            .collect();
        let walked = parents.get(&visit.id).copied().unwrap_or(0);
        assert_eq!(
            direct.len() as u64,
            u64::from(walked),
            "children of node {}",
            visit.id
        );
        assert!(
            direct.windows(2).all(|w| w[0] < w[1]),
            "child ids out of order"
        );
    }
    assert!(depth <= limits.max_depth.min(MAX_NESTING), "depth {depth}");
    assert!(live <= limits.max_live, "live {live}");
    assert!(zombies <= limits.max_zombies, "zombies {zombies}");
    assert!(
        storm_total <= limits.max_storm_total,
        "storm total {storm_total}"
    );
    assert!(
        storm_rate <= limits.max_storm_rate,
        "storm rate {storm_rate}"
    );
    assert!(
        exit_after <= limits.max_exit_after.as_millis() as u64,
        "exit-after {exit_after}"
    );
    assert!(hop_total <= limits.max_hop_total, "hop total {hop_total}");
    assert!(hop_rate <= limits.max_hop_rate, "hop rate {hop_rate}");
    assert!(
        vfork_depth <= limits.max_vfork_depth.into(),
        "vfork depth {vfork_depth}"
    );
    assert!(
        graceful <= limits.max_graceful.as_millis() as u64,
        "graceful {graceful}"
    );
    let len = spec.to_string().len();
    assert!(len <= limits.max_text_len, "text length {len}");
}

/// Nodes of a [`trial`] tree, at most (the expanded tree).
pub const TRIAL_MAX_NODES: u32 = 8;
/// Storm children of all storms of a [`trial`] tree together, at most.
pub const TRIAL_MAX_STORM_TOTAL: u32 = 20;
/// Storm rates of all storms of a [`trial`] tree together, at most (forks/s).
pub const TRIAL_MAX_STORM_RATE: u32 = 1000;
/// Longest `exit-after` of a [`trial`] tree, in milliseconds.
pub const TRIAL_MAX_EXIT_AFTER_MS: u32 = 100;
/// Zombies per `zombies=N` end of a [`trial`] tree, at most.
pub const TRIAL_MAX_ZOMBIES: u32 = 5;
/// Hops of all `hop=N@R` ends of a [`trial`] tree together, at most.
pub const TRIAL_MAX_HOP_TOTAL: u32 = 20;
/// Hop rates of all hoppers of a [`trial`] tree together, at most (hops/s).
pub const TRIAL_MAX_HOP_RATE: u32 = 200;
/// The longest `vfork=N` chain of a [`trial`] tree.
pub const TRIAL_MAX_VFORK_DEPTH: u32 = 4;
/// The longest `graceful` delay of a [`trial`] tree, in milliseconds: below
/// [`TRIAL_GRACE`], so that a graceful node's exit falls inside it.
pub const TRIAL_MAX_GRACEFUL_MS: u32 = 4;
/// `slow-exit` processes of a [`trial`] tree, at most. One makes the window in
/// which a method that returns before its tree is gone shows it; each costs
/// ~85 ms of readiness (and a second one on a node only makes its exit longer),
/// which made `slow-exit` inputs a third of the fuzzer's time.
pub const TRIAL_MAX_SLOW_EXIT: u32 = 1;
/// The size of the `slow-exit` a [`trial`] tree keeps, in MiB: `slow-exit=64MiB`
/// instead of 256. Ready in a quarter of the time (what a 256 MiB one took was
/// a third of the fuzzer's time), still dying for ~5 ms, hundreds of times the
/// warden's look after the supervisor's "done".
pub const TRIAL_SLOW_EXIT_MIB: u32 = 64;
const _: () = assert!((TRIAL_MAX_GRACEFUL_MS as u128) < TRIAL_GRACE.as_millis());
/// The methods every [`trial`] input is run with.
pub const TRIAL_METHODS: [Method; 2] = [Method::Auto, Method::ProcWalk];

/// Target `trial`: a structure-aware spec, cut to a small tree ([`small_tree`]),
/// → one real trial under the warden per method in [`TRIAL_METHODS`], the two at
/// once (on the harness's warden servers, see `warden::spawn`).
///
/// * The cut tree is within [`Limits::default`].
/// * Every verdict is `clean`. Anything else (including `unsupported`: the target
///   is meant for hosts where `auto` and `proc-walk` run) panics, after printing
///   the `teardown replay` line on stderr; the panic message carries it too.
/// * A missing `teardown` binary is a setup error, not a finding: the target says
///   so and exits 2 instead of writing a crash artifact.
///
/// The trials use a short grace ([`TRIAL_GRACE`], so that trees ignoring SIGTERM
/// do not slow the fuzzer down; `graceful` nodes are cut to
/// [`TRIAL_MAX_GRACEFUL_MS`], below it; [`TRIAL_STILL_GRACE`] for a tree that
/// does nothing in a grace) and a 5 s deadline; [`trial_for`] builds
/// them, so a regression test runs exactly what the fuzzer ran.
pub fn trial(spec: &TreeSpec) {
    let spec = small_tree(spec);
    if let Err(e) = Limits::default().check(&spec) {
        panic!("small_tree left {spec} outside the default limits: {e}");
    }
    if let Err(e) = crate::locate::teardown_bin() {
        eprintln!("fuzz target trial: {e}");
        std::process::exit(2);
    }
    for (t, outcome) in run_trials(&spec) {
        if outcome.verdict != Verdict::Clean {
            let line = crate::replay::line(&t);
            eprintln!("replay: {line}");
            panic!(
                "{} on {}: {} ({})\nreplay: {line}",
                t.supervisor.label(),
                t.spec,
                outcome.verdict,
                outcome.detail.as_deref().unwrap_or("")
            );
        }
    }
}

/// What [`trial`] runs for `spec` (already small): one trial per method in
/// [`TRIAL_METHODS`] ([`trial_for`]), the trials at once, each with its outcome.
pub fn run_trials(spec: &TreeSpec) -> Vec<(Trial, crate::trial::TrialOutcome)> {
    let trials: Vec<Trial> = TRIAL_METHODS
        .iter()
        .map(|&m| trial_for(m, spec.clone()))
        .collect();
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let running: Vec<_> = trials.iter().map(|t| s.spawn(|| run_trial(t))).collect();
        running
            .into_iter()
            .map(|r| r.join().expect("run_trial never panics"))
            .collect()
    });
    trials.into_iter().zip(outcomes).collect()
}

/// The grace of a [`trial`]: SIGTERM to SIGKILL.
///
/// What a tree does on SIGTERM (`respawn-on-term`, `term-kill-parent`, a
/// `graceful` exit) starts at once, so a short grace still lets it act; a
/// longer one only lets time-driven ends (`storm`, `hop`, `exit-after`) do
/// more of the same before the SIGKILL. Most trees ignore or block SIGTERM and
/// wait it out whole: it was 25 ms, two thirds of an input's time; 10 ms made
/// the target ~1.6× faster (fuzz/README.md); 5 ms, with `graceful` cut to
/// 4 ms, took the trees that wait it out from a fifth of a mature corpus's
/// time to a tenth.
pub const TRIAL_GRACE: Duration = Duration::from_millis(5);

/// The grace of a [`trial`] whose tree does nothing in a grace
/// ([`acts_in_grace`] is false): SIGTERM only kills or is ignored, and nothing
/// runs on a clock, so a longer grace is the same wait for the same SIGKILL.
/// Not zero: the methods still send SIGTERM first and escalate, as for any
/// tree. A third of the fuzzer's inputs are such trees.
pub const TRIAL_STILL_GRACE: Duration = Duration::from_millis(2);

/// Whether something in `spec` acts between SIGTERM and SIGKILL: a SIGTERM
/// handler that does more than die (`respawn-on-term`, `term-kill-parent`,
/// `term-kill-ancestors`, `graceful`) or an end that acts on a clock (`storm`,
/// `hop`, `exit-after`). A tree for which it is false gets
/// [`TRIAL_STILL_GRACE`]; what such a tree does on SIGTERM (die, ignore it, a
/// tracer swallowing it, a parent reaping) happens at once, whatever the grace.
pub fn acts_in_grace(spec: &TreeSpec) -> bool {
    spec.visits().any(|v| {
        v.node.traits.iter().any(|t| {
            matches!(
                t,
                Trait::RespawnOnTerm
                    | Trait::TermKillParent(_)
                    | Trait::TermKillAncestors(_)
                    | Trait::GracefulMs(_)
            )
        }) || matches!(
            v.node.end,
            End::Storm { .. } | End::Hop { .. } | End::ExitAfterMs(_)
        )
    })
}

/// The trial the `trial` target runs for `method` on `spec` (already small):
/// [`TRIAL_GRACE`], or [`TRIAL_STILL_GRACE`] for a tree that does nothing in a
/// grace.
pub fn trial_for(method: Method, spec: TreeSpec) -> Trial {
    let grace = if acts_in_grace(&spec) {
        TRIAL_GRACE
    } else {
        TRIAL_STILL_GRACE
    };
    let mut t = Trial::new(Supervisor::Method(method), spec);
    t.grace = grace;
    t.deadline = Duration::from_secs(5);
    t
}

/// Cuts `spec` to the [`trial`] budget, deterministically: children are kept in
/// order while [`TRIAL_MAX_NODES`] lasts (a child's subtree is cut to what is
/// left and its count lowered to what fits), `exit-after`, `graceful`,
/// `zombies=N` and `vfork=N` are capped, storms and hops are cut in preorder
/// to the tree-wide storm and hop budgets (a storm or hop with nothing left
/// becomes `pause`), and `slow-exit` is kept, in preorder, on each node whose
/// copies still fit in [`TRIAL_MAX_SLOW_EXIT`] processes (once per node; a
/// `2*fork` node does not fit one, a later single node may), cut to
/// [`TRIAL_SLOW_EXIT_MIB`]. The result is within [`Limits::default`].
///
/// An upward SIGSTOP becomes SIGTERM: `proc-walk`'s shim can be named by the
/// tree, and SIGSTOP stops it by design (only `pidns` hides the supervisor side;
/// `harness/tests/props/escape_proof.rs` says the same), so that every finding
/// is a new one.
pub fn small_tree(spec: &TreeSpec) -> TreeSpec {
    let mut root = cut_node(&spec.root, TRIAL_MAX_NODES);
    cut_bursts(
        &mut root,
        Burst::Storm,
        TRIAL_MAX_STORM_TOTAL,
        TRIAL_MAX_STORM_RATE,
    );
    cut_bursts(
        &mut root,
        Burst::Hop,
        TRIAL_MAX_HOP_TOTAL,
        TRIAL_MAX_HOP_RATE,
    );
    cut_slow_exit(&mut root, 1, &mut { TRIAL_MAX_SLOW_EXIT });
    TreeSpec { root }
}

/// Keeps `slow-exit` on a node while `left` covers its `copies`, once per node,
/// in preorder, 1 MiB to [`TRIAL_SLOW_EXIT_MIB`] in size.
fn cut_slow_exit(node: &mut NodeSpec, copies: u32, left: &mut u32) {
    let mut kept = false;
    node.traits.retain_mut(|t| {
        let Trait::SlowExit(mib) = t else {
            return true;
        };
        let keep = !kept && copies <= *left;
        if keep {
            *left -= copies;
            kept = true;
            // 0 (said by the structure-aware input only) is no size: 1 MiB.
            *mib = (*mib).clamp(1, TRIAL_SLOW_EXIT_MIB);
        }
        keep
    });
    for edge in &mut node.children {
        cut_slow_exit(&mut edge.node, copies.saturating_mul(edge.count), left);
    }
}

fn cut_node(node: &NodeSpec, budget: u32) -> NodeSpec {
    let end = match node.end {
        End::ExitAfterMs(ms) => End::ExitAfterMs(ms.min(TRIAL_MAX_EXIT_AFTER_MS)),
        End::Zombies(n) => End::Zombies(n.clamp(1, TRIAL_MAX_ZOMBIES)),
        End::Vfork(n) => End::Vfork(n.clamp(1, TRIAL_MAX_VFORK_DEPTH)),
        other => other,
    };
    let no_stop = |s: Sig| if s == Sig::Stop { Sig::Term } else { s };
    let traits = node
        .traits
        .iter()
        // `ignore=stop` is no spec (SIGSTOP cannot be ignored; the parser and
        // the limits refuse it), though the structure-aware input can say it.
        .filter(|t| !matches!(t, Trait::Ignore(Sig::Stop)))
        .map(|t| match *t {
            Trait::GracefulMs(ms) => Trait::GracefulMs(ms.min(TRIAL_MAX_GRACEFUL_MS)),
            Trait::KillParent(s) => Trait::KillParent(no_stop(s)),
            Trait::KillAncestors(s) => Trait::KillAncestors(no_stop(s)),
            Trait::TermKillParent(s) => Trait::TermKillParent(no_stop(s)),
            Trait::TermKillAncestors(s) => Trait::TermKillAncestors(no_stop(s)),
            other => other,
        })
        .collect();
    let mut left = budget.saturating_sub(1);
    let mut children = Vec::new();
    for edge in &node.children {
        if left == 0 {
            break;
        }
        let child = cut_node(&edge.node, left);
        let count = edge.count.clamp(1, left / child.node_count());
        left -= count * child.node_count();
        children.push(ChildSpec {
            spawn: edge.spawn,
            count,
            node: child,
        });
    }
    NodeSpec {
        traits,
        children,
        end,
    }
}
