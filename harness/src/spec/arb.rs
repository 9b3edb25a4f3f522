//! `arbitrary::Arbitrary` for the spec types, for structure-aware fuzzing.
//!
//! Derived impls would recurse without bound (a `NodeSpec` holds `ChildSpec`s that
//! hold `NodeSpec`s) and would draw counts and rates uniformly from `u32`, so that
//! nearly every spec breaks a limit. These impls build a tree with at most
//! [`MAX_WRITTEN_NODES`] written nodes and depth [`MAX_DEPTH`] (a little past
//! the default `max_depth`, so the depth check is exercised too), and draw numbers
//! small most of the time and anywhere in `u32` sometimes.
//!
//! [`encode`] is the inverse: the bytes from which these impls build a given spec.
//! It turns proptest-generated specs into a corpus for the structure-aware fuzz
//! target (`fuzz/`), and relies on how `arbitrary` 1.x reads bytes
//! (`int_in_range` takes just enough bytes for the range, big-endian, modulo
//! the range; `u32` is four bytes little-endian); a test checks the round trip.

use arbitrary::{Arbitrary, Result, Unstructured};

use super::trait_kind::TraitArg;
use super::{ChildSpec, End, EndKind, NodeSpec, Sig, SpawnKind, Trait, TraitKind, TreeSpec};

/// Depth bound of a generated tree (the default `max_depth` is 128).
pub const MAX_DEPTH: u32 = 140;
/// Written nodes (before `N*` expansion) of a generated tree, at most.
pub const MAX_WRITTEN_NODES: usize = 1500;
/// Traits per node, at most.
const MAX_TRAITS: usize = 6;
/// Children edges per node, at most.
const MAX_EDGES: usize = 8;

/// Small (0..=64) seven times in eight, any `u32` otherwise.
fn number(u: &mut Unstructured<'_>) -> Result<u32> {
    if u.ratio(1u8, 8u8)? {
        u32::arbitrary(u)
    } else {
        u.int_in_range(0..=64)
    }
}

/// A delay in milliseconds: 0..=5000 seven times in eight, any `u32` otherwise.
fn millis(u: &mut Unstructured<'_>) -> Result<u32> {
    if u.ratio(1u8, 8u8)? {
        u32::arbitrary(u)
    } else {
        u.int_in_range(0..=5000)
    }
}

/// A `slow-exit` size: the default ([`SLOW_EXIT_MIB`](super::SLOW_EXIT_MIB))
/// seven times in eight (and when the input runs out), else 0..=300 MiB, so
/// that the limits see the sizes the text cannot say (0, over 256).
fn slow_exit_mib(u: &mut Unstructured<'_>) -> Result<u32> {
    if u.ratio(7u8, 8u8)? {
        Ok(super::SLOW_EXIT_MIB)
    } else {
        u.int_in_range(0..=SLOW_EXIT_ANY_MAX)
    }
}

/// The largest `slow-exit` size `arbitrary` makes.
const SLOW_EXIT_ANY_MAX: u32 = 300;

impl<'a> Arbitrary<'a> for Sig {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        u.choose(&Sig::ALL).copied()
    }
}

impl<'a> Arbitrary<'a> for Trait {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let kind = *u.choose(&TraitKind::ALL)?;
        Ok(match kind.arg() {
            TraitArg::None => kind.plain().expect("a trait without an argument"),
            TraitArg::OptionalSize => Trait::SlowExit(slow_exit_mib(u)?),
            TraitArg::Signal => kind
                .with_signal(Sig::arbitrary(u)?)
                .expect("a trait with a signal"),
            TraitArg::Duration => Trait::GracefulMs(millis(u)?),
        })
    }
}

impl<'a> Arbitrary<'a> for SpawnKind {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        u.choose(&SpawnKind::ALL).copied()
    }
}

/// A storm or hop rate: 0..=3000 seven times in eight, any `u32` otherwise.
fn rate(u: &mut Unstructured<'_>) -> Result<u32> {
    if u.ratio(1u8, 8u8)? {
        u32::arbitrary(u)
    } else {
        u.int_in_range(0..=3000)
    }
}

impl<'a> Arbitrary<'a> for End {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose(&EndKind::ALL)? {
            EndKind::Pause => End::Pause,
            EndKind::Exit => End::Exit,
            EndKind::ExitAfter => End::ExitAfterMs(millis(u)?),
            EndKind::Spin => End::Spin,
            EndKind::Zombies => End::Zombies(number(u)?),
            EndKind::Storm => End::Storm {
                total: number(u)?,
                rate: rate(u)?,
            },
            EndKind::MainExit => End::MainExit,
            EndKind::ThreadFork => End::ThreadFork,
            EndKind::Vfork => End::Vfork(number(u)?),
            EndKind::Hop => End::Hop {
                total: number(u)?,
                rate: rate(u)?,
            },
            EndKind::Trace => End::Trace,
        })
    }
}

fn node(u: &mut Unstructured<'_>, depth: u32, budget: &mut usize) -> Result<NodeSpec> {
    *budget = budget.saturating_sub(1);
    let n_traits = u.int_in_range(0..=MAX_TRAITS)?;
    let mut traits = Vec::with_capacity(n_traits);
    for _ in 0..n_traits {
        traits.push(Trait::arbitrary(u)?);
    }
    let end = End::arbitrary(u)?;
    let mut children = Vec::new();
    while depth < MAX_DEPTH && *budget > 0 && children.len() < MAX_EDGES && bool::arbitrary(u)? {
        children.push(child(u, depth + 1, budget)?);
    }
    Ok(NodeSpec {
        traits,
        children,
        end,
    })
}

fn child(u: &mut Unstructured<'_>, depth: u32, budget: &mut usize) -> Result<ChildSpec> {
    let spawn = SpawnKind::arbitrary(u)?;
    let count = if u.ratio(1u8, 4u8)? { number(u)? } else { 1 };
    Ok(ChildSpec {
        spawn,
        count,
        node: node(u, depth, budget)?,
    })
}

impl<'a> Arbitrary<'a> for NodeSpec {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        node(u, 0, &mut { MAX_WRITTEN_NODES })
    }
}

impl<'a> Arbitrary<'a> for ChildSpec {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        child(u, 1, &mut { MAX_WRITTEN_NODES })
    }
}

impl<'a> Arbitrary<'a> for TreeSpec {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(TreeSpec {
            root: NodeSpec::arbitrary(u)?,
        })
    }
}

/// The bytes from which [`TreeSpec::arbitrary`] builds `spec`, or `None` if it
/// cannot build it (more than [`MAX_DEPTH`] levels, [`MAX_WRITTEN_NODES`] written
/// nodes, 6 traits or 8 edges on a node).
pub fn encode(spec: &TreeSpec) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    encode_node(&spec.root, 0, &mut { MAX_WRITTEN_NODES }, &mut out)?;
    Some(out)
}

/// Bytes that make `int_in_range(start..=start + delta)` return `start + offset`.
fn range_bytes(out: &mut Vec<u8>, offset: u64, delta: u64) {
    let len = (0..8).take_while(|i| delta >> (8 * i) > 0).count();
    for i in (0..len).rev() {
        out.push((offset >> (8 * i)) as u8);
    }
}

/// `ratio(1, d)`: byte 0 reads as true, byte 1 as false.
fn ratio_byte(out: &mut Vec<u8>, yes: bool) {
    out.push(if yes { 0 } else { 1 });
}

fn encode_small_or_any(out: &mut Vec<u8>, v: u32, small_max: u32) {
    if v <= small_max {
        ratio_byte(out, false);
        range_bytes(out, v.into(), small_max.into());
    } else {
        ratio_byte(out, true);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn encode_end(end: End, out: &mut Vec<u8>) {
    let kind = end.kind();
    let index = EndKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    out.push(index as u8);
    match end {
        End::Pause | End::Exit | End::Spin | End::MainExit | End::ThreadFork | End::Trace => {}
        End::ExitAfterMs(ms) => encode_small_or_any(out, ms, 5000),
        End::Zombies(n) | End::Vfork(n) => encode_small_or_any(out, n, 64),
        End::Storm { total, rate } | End::Hop { total, rate } => {
            encode_small_or_any(out, total, 64);
            encode_small_or_any(out, rate, 3000);
        }
    }
}

fn encode_trait(t: Trait, out: &mut Vec<u8>) -> Option<()> {
    out.push(TraitKind::ALL.iter().position(|k| *k == t.kind())? as u8);
    if let Some(sig) = t.signal() {
        out.push(Sig::ALL.iter().position(|s| *s == sig)? as u8);
    }
    match t {
        Trait::GracefulMs(ms) => encode_small_or_any(out, ms, 5000),
        // `ratio(7, 8)`: 1..=8, true up to 7.
        Trait::SlowExit(super::SLOW_EXIT_MIB) => range_bytes(out, 0, 7),
        Trait::SlowExit(mib) if mib <= SLOW_EXIT_ANY_MAX => {
            range_bytes(out, 7, 7);
            range_bytes(out, mib.into(), SLOW_EXIT_ANY_MAX.into());
        }
        Trait::SlowExit(_) => return None,
        _ => {}
    }
    Some(())
}

fn encode_node(node: &NodeSpec, depth: u32, budget: &mut usize, out: &mut Vec<u8>) -> Option<()> {
    *budget = budget.saturating_sub(1);
    if node.traits.len() > MAX_TRAITS {
        return None;
    }
    out.push(node.traits.len() as u8);
    for t in &node.traits {
        encode_trait(*t, out)?;
    }
    encode_end(node.end, out);
    let more = |budget: &usize, edges: usize| depth < MAX_DEPTH && *budget > 0 && edges < MAX_EDGES;
    for (i, child) in node.children.iter().enumerate() {
        if !more(budget, i) {
            return None;
        }
        out.push(1); // bool: another child
        out.push(SpawnKind::ALL.iter().position(|k| *k == child.spawn)? as u8);
        if child.count == 1 {
            ratio_byte(out, false);
        } else {
            ratio_byte(out, true);
            encode_small_or_any(out, child.count, 64);
        }
        encode_node(&child.node, depth + 1, budget, out)?;
    }
    if more(budget, node.children.len()) {
        out.push(0); // bool: no more children
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ones_input_builds_a_bounded_tree() {
        // 0xff bytes say "yes, another child" every time: the budget must stop it.
        let data = vec![0xffu8; 1 << 20];
        let mut u = Unstructured::new(&data);
        let spec = TreeSpec::arbitrary(&mut u).unwrap();
        fn written(n: &NodeSpec) -> usize {
            1 + n.children.iter().map(|c| written(&c.node)).sum::<usize>()
        }
        assert!(written(&spec.root) <= MAX_WRITTEN_NODES);
        let stats = crate::spec::SpecStats::of(&spec);
        assert!(stats.depth <= MAX_DEPTH, "depth {}", stats.depth);
    }

    #[test]
    fn encoded_specs_decode_to_themselves() {
        let texts = [
            "pause",
            "setsid ignore-term exit-after=5000ms",
            "exit-after=5001ms [64*dfork: zombies=65]",
            "stop pause [fork: storm=64@3000, 4294967295*exec: storm=65@3001, dfork: exit-after=4294967s]",
            "block-all sigchld-ign respawn-on-term exec-fresh setpgid ignore-hup pause \
             [fork: spin, fork: spin, fork: spin, fork: spin, fork: spin, fork: spin, fork: spin, fork: spin]",
            "subreaper evil-name kill-parent=hup kill-ancestors=sys term-kill-parent=stop \
             graceful=5000ms main-exit [cparent: userns cgroup-nest trace, \
             cparent: term-kill-ancestors=usr1 graceful=4294967295ms vfork=65 [dfork: hop=64@3001, \
             exec: thread-fork]]",
            "slow-exit pause [fork: slow-exit=1MiB slow-exit=255MiB exit, fork: slow-exit=64MiB spin]",
        ];
        for text in texts {
            let spec = TreeSpec::parse_with(text, &crate::spec::Limits::unlimited()).unwrap();
            let bytes = encode(&spec).unwrap();
            let decoded = TreeSpec::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
            assert_eq!(decoded, spec, "{text}");
        }
    }

    #[test]
    fn specs_outside_the_generated_space_do_not_encode() {
        let nine = "pause [fork: spin, fork: spin, fork: spin, fork: spin, fork: spin, \
                    fork: spin, fork: spin, fork: spin, fork: spin]";
        let spec: TreeSpec = nine.parse().unwrap();
        assert_eq!(encode(&spec), None);
    }

    #[test]
    fn empty_input_builds_a_single_node() {
        let mut u = Unstructured::new(&[]);
        let spec = TreeSpec::arbitrary(&mut u).unwrap();
        assert!(spec.root.children.is_empty());
    }
}
