//! [`fit`]: the deterministic cut that keeps every generated tree (and every
//! shrinking candidate) within its [`PropParams`].

use super::{PropParams, Word};
use crate::spec::{Burst, End, NodeSpec, SpawnKind, Trait, TreeSpec, cut_bursts};

/// Cuts `spec` to `params`, deterministically: repeated traits are dropped
/// (first kept); children below `max_depth` are dropped; edges are kept in order
/// while the node budget lasts (a child's subtree is cut to what is left, and its
/// count lowered to what fits); storms are cut, in preorder, to what is left of
/// `max_storm_total` and `max_storm_rate`, and hops to what is left of
/// `max_hop_total` and `max_hop_rate` (a storm or hop with nothing left becomes
/// `pause`); `vfork` chains and `graceful` delays are capped; the words of
/// `without` are left out. Idempotent.
pub fn fit(spec: TreeSpec, params: &PropParams) -> TreeSpec {
    let mut root = fit_node(spec.root, 0, params.max_nodes.max(1), params);
    let p = params;
    cut_bursts(&mut root, Burst::Storm, p.max_storm_total, p.max_storm_rate);
    cut_bursts(&mut root, Burst::Hop, p.max_hop_total, p.max_hop_rate);
    TreeSpec { root }
}

fn fit_node(mut node: NodeSpec, depth: u32, budget: u32, params: &PropParams) -> NodeSpec {
    let mut seen = Vec::with_capacity(node.traits.len());
    node.traits.retain(|t| {
        let new = !seen.contains(t);
        seen.push(*t);
        new
    });
    node.traits
        .retain(|t| !params.without.contains(&Word::Trait(t.kind())));
    if params.without.contains(&Word::End(node.end.kind())) {
        node.end = End::Pause;
    }
    node.traits.truncate(params.max_traits);
    for t in &mut node.traits {
        if let Trait::GracefulMs(ms) = t {
            *ms = (*ms).min(params.max_graceful_ms);
        }
    }
    if let End::Vfork(n) = &mut node.end {
        *n = (*n).clamp(1, params.max_vfork_depth.max(1));
    }
    let mut left = budget - 1;
    let children = std::mem::take(&mut node.children);
    if depth < params.max_depth {
        for (i, mut edge) in children.into_iter().enumerate() {
            if left == 0 || i as u32 >= params.max_fanout {
                break;
            }
            if params.without.contains(&Word::Spawn(edge.spawn)) {
                edge.spawn = SpawnKind::Fork;
            }
            edge.node = fit_node(edge.node, depth + 1, left, params);
            let size = edge.node.node_count();
            edge.count = edge
                .count
                .clamp(1, params.max_count.max(1))
                .min(left / size);
            left -= edge.count * size;
            node.children.push(edge);
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_copies_to_the_node_budget() {
        let spec: TreeSpec = "pause [3*fork: pause [3*fork: pause], 3*dfork: pause]"
            .parse()
            .unwrap();
        let params = PropParams {
            max_nodes: 8,
            ..PropParams::default()
        };
        let fitted = fit(spec, &params);
        // 1 + 1 copy of (1 + 3) = 5, then 3 left: 3 dfork copies.
        assert_eq!(
            fitted.to_string(),
            "pause [fork: pause [3*fork: pause], 3*dfork: pause]"
        );
        assert_eq!(fitted.node_count(), 8);
    }

    #[test]
    fn fit_cuts_storms_to_the_tree_wide_total_and_drops_repeated_traits() {
        let spec: TreeSpec =
            "setsid setsid storm=30@10 [2*fork: storm=20@10, fork: storm=5@9, 2*fork: storm=1@500]"
                .parse()
                .unwrap();
        let params = PropParams {
            max_storm_rate: 1000,
            ..PropParams::default()
        };
        let fitted = fit(spec, &params);
        assert_eq!(
            fitted.to_string(),
            "setsid storm=30@10 [2*fork: storm=10@10, fork: pause, 2*fork: pause]"
        );
        let spec: TreeSpec = "storm=1@900 [2*fork: storm=1@500]".parse().unwrap();
        assert_eq!(
            fit(spec, &params).to_string(),
            "storm=1@900 [2*fork: storm=1@50]"
        );
    }

    #[test]
    fn fit_drops_children_below_the_depth_limit() {
        let spec: TreeSpec = "pause [fork: pause [fork: pause [fork: pause]]]"
            .parse()
            .unwrap();
        let params = PropParams {
            max_depth: 1,
            ..PropParams::default()
        };
        assert_eq!(fit(spec, &params).to_string(), "pause [fork: pause]");
    }
}
