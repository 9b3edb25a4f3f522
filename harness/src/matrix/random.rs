//! Random trees for the matrix, deterministic for a seed: the `i`-th tree of seed
//! `S` (column `random-S-i`) is the same on every run, with the strategies of
//! [`crate::prop`] drawn from a ChaCha generator seeded with `S`: default
//! [`PropParams`](crate::prop::PropParams), every word of the hostile adversary
//! but an upward SIGSTOP. A tree is one column for every row, and a tree that
//! stops its supervisor hangs every method but `pidns` by design (SIGSTOP can be
//! neither blocked nor handled): the named scenarios `stop-parent` and
//! `stop-ancestors-on-term` pin that, so the random columns hold every
//! escape-proof method to `clean`.

use crate::spec::TreeSpec;
use crate::trial::Trigger;

/// `n` random trees from `seed`, each with the trigger that fits it: `leader-exit`
/// when its leader ends on its own (`exit`, `exit-after`), else `sigterm`.
#[cfg(feature = "proptest")]
pub fn specs(seed: u64, n: u32) -> Result<Vec<(TreeSpec, Trigger)>, String> {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = crate::prop::tree_spec(crate::prop::PropParams {
        adversary: crate::prop::Adversary::Hostile,
        upward_stop: false,
        ..crate::prop::PropParams::default()
    });
    (0..n)
        .map(|i| {
            let spec = strategy
                .new_tree(&mut runner)
                .map_err(|e| format!("tree {i} of seed {seed}: {e}"))?
                .current();
            let trigger = trigger_for(&spec);
            Ok((spec, trigger))
        })
        .collect()
}

/// Without the `proptest` feature there are no random trees.
#[cfg(not(feature = "proptest"))]
pub fn specs(_seed: u64, n: u32) -> Result<Vec<(TreeSpec, Trigger)>, String> {
    if n == 0 {
        Ok(Vec::new())
    } else {
        Err("this build has no random trees (feature `proptest` is off)".to_owned())
    }
}

/// `leader-exit` for a leader that ends on its own, else `sigterm`: the trigger of
/// a drawn tree (so, like the drawing, only with the `proptest` feature).
///
/// Not `leader-exit` when the tree may stop its leader before it ends (the
/// leader's own `stop`, or a stopping signal — `stop`, `tstp`, `ttin`, `ttou` —
/// sent upward by any node): a stopped leader never exits, so no supervisor is
/// ever told to tear down, and the trial would blame it with `hang` for a
/// trigger that never came (seen: `exit-after=52ms [cparent: pause, exec:
/// term-kill-parent=int setsid kill-ancestors=tstp pause]`, seed 3). Such a
/// tree is triggered by SIGTERM instead, which every method must drain whatever
/// is stopped.
#[cfg(feature = "proptest")]
pub fn trigger_for(spec: &TreeSpec) -> Trigger {
    use crate::spec::{End, Trait};
    let may_stop_leader = spec.root.has_trait(Trait::Stop)
        || spec.walk().any(|(_, node, _)| {
            node.traits.iter().any(|t| match *t {
                Trait::KillParent(s)
                | Trait::KillAncestors(s)
                | Trait::TermKillParent(s)
                | Trait::TermKillAncestors(s) => s.stops(),
                _ => false,
            })
        });
    match spec.root.end {
        End::Exit | End::ExitAfterMs(_) if !may_stop_leader => Trigger::LeaderExit,
        _ => Trigger::Sigterm,
    }
}

#[cfg(all(test, feature = "proptest"))]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_trees_and_another_seed_others() {
        let a = specs(7, 5).unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a, specs(7, 5).unwrap());
        assert_ne!(a, specs(8, 5).unwrap());
        // A prefix is stable: asking for more trees does not change the first ones.
        assert_eq!(a[..3], specs(7, 3).unwrap()[..]);
    }

    #[test]
    fn a_leader_that_exits_on_its_own_is_triggered_by_its_exit() {
        let exits: TreeSpec = "exit [fork: pause]".parse().unwrap();
        let pauses: TreeSpec = "pause [fork: pause]".parse().unwrap();
        assert_eq!(trigger_for(&exits), Trigger::LeaderExit);
        assert_eq!(trigger_for(&pauses), Trigger::Sigterm);
    }

    #[test]
    fn a_leader_the_tree_may_stop_is_triggered_by_sigterm() {
        for spec in [
            "exit-after=52ms [cparent: pause, exec: term-kill-parent=int setsid kill-ancestors=tstp pause]",
            "exit [fork: kill-parent=stop pause]",
            "exit [fork: pause [fork: term-kill-ancestors=ttou pause]]",
            "stop exit-after=10ms",
        ] {
            let spec: TreeSpec = spec.parse().unwrap();
            assert_eq!(trigger_for(&spec), Trigger::Sigterm, "{spec}");
        }
        // Not every upward signal stops.
        let term: TreeSpec = "exit [fork: kill-ancestors=term pause]".parse().unwrap();
        assert_eq!(trigger_for(&term), Trigger::LeaderExit);
    }
}
