//! Node ids and walks over the expanded tree.
//!
//! # Node numbering
//!
//! Every process a spec describes has a **node id**: its index in a preorder walk
//! of the *expanded* tree (each of the `N` copies of an `N*kind: node` edge is a
//! separate subtree). The leader is 0; a node's children follow it, edges in
//! written order, the copies of one edge in order, each copy followed by its whole
//! subtree before the next copy starts. So the ids of a subtree are contiguous:
//! a node with id `i` whose expanded subtree has `n` nodes
//! ([`NodeSpec::node_count`]) owns the ids `i .. i + n`, and its first child has
//! id `i + 1`.
//!
//! ```text
//! pause [2*fork: pause [exec: spin], dfork: exit]
//!   0: pause (leader)
//!   1: fork copy 1    2: its exec child
//!   3: fork copy 2    4: its exec child
//!   5: dfork: exit
//! ```
//!
//! A node interpreter that plays a subtree on its own (an `exec` child) is given
//! that subtree's text ([`NodeSpec`]'s `Display`) and its id; it numbers its
//! descendants with [`NodeSpec::expanded_children`].
//!
//! Counts saturate at `u32::MAX` (a spec within [`super::Limits`] is far below).

use std::collections::BTreeSet;

use super::{ChildSpec, EndKind, NodeSpec, SpawnKind, Trait, TraitKind, TreeSpec};

impl NodeSpec {
    /// Nodes in the expanded subtree rooted here, this node included.
    pub fn node_count(&self) -> u32 {
        let mut total: u64 = 0;
        let mut stack = vec![(self, 1u64)];
        while let Some((node, copies)) = stack.pop() {
            total = total.saturating_add(copies);
            for c in &node.children {
                stack.push((&c.node, copies.saturating_mul(c.count.into())));
            }
        }
        u32::try_from(total).unwrap_or(u32::MAX)
    }

    /// Whether the node has trait `t` (anywhere in its list; a trait with an
    /// argument only with that argument: see [`NodeSpec::has_trait_kind`]).
    pub fn has_trait(&self, t: Trait) -> bool {
        self.traits.contains(&t)
    }

    /// Whether the node has a trait of kind `k`, whatever its argument.
    pub fn has_trait_kind(&self, k: TraitKind) -> bool {
        self.traits.iter().any(|t| t.kind() == k)
    }

    /// Whether this node or one below it signals up its ancestry
    /// ([`Trait::is_upward`]).
    pub fn has_upward(&self) -> bool {
        self.subtree_has(|n| n.traits.iter().any(|t| t.is_upward()))
    }

    /// Whether `pred` holds for this node or one below it (each written node
    /// once; no recursion).
    pub fn subtree_has(&self, pred: impl Fn(&NodeSpec) -> bool) -> bool {
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            if pred(node) {
                return true;
            }
            stack.extend(node.children.iter().map(|c| &c.node));
        }
        false
    }

    /// This node's direct children in the expanded tree, given this node's id: the
    /// id of each copy and the edge it comes from, in id order.
    pub fn expanded_children(&self, id: u32) -> impl Iterator<Item = (u32, &ChildSpec)> + '_ {
        let mut next = id.saturating_add(1);
        self.children.iter().flat_map(move |c| {
            let size = c.node.node_count();
            let first = next;
            next = next.saturating_add(size.saturating_mul(c.count));
            (0..c.count).map(move |k| (first.saturating_add(k.saturating_mul(size)), c))
        })
    }
}

/// One node of the expanded tree, as [`TreeSpec::visits`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit<'a> {
    /// Node id (see the module docs).
    pub id: u32,
    /// The node's spec.
    pub node: &'a NodeSpec,
    /// Depth: 0 for the leader.
    pub depth: u32,
    /// The parent's id; `None` for the leader.
    pub parent: Option<u32>,
    /// How the parent starts this node; `None` for the leader.
    pub spawn: Option<SpawnKind>,
}

/// Preorder iterator over the expanded tree; see [`TreeSpec::visits`].
#[derive(Clone, Debug)]
pub struct Visits<'a> {
    root: Option<&'a NodeSpec>,
    next_id: u32,
    stack: Vec<Frame<'a>>,
}

#[derive(Clone, Debug)]
struct Frame<'a> {
    id: u32,
    node: &'a NodeSpec,
    depth: u32,
    /// The edge being expanded, and how many of its copies were yielded.
    edge: usize,
    copies: u32,
}

impl<'a> Iterator for Visits<'a> {
    type Item = Visit<'a>;

    fn next(&mut self) -> Option<Visit<'a>> {
        if let Some(root) = self.root.take() {
            self.push(root, 0);
            return Some(Visit {
                id: 0,
                node: root,
                depth: 0,
                parent: None,
                spawn: None,
            });
        }
        loop {
            let top = self.stack.last_mut()?;
            let Some(edge) = top.node.children.get(top.edge) else {
                self.stack.pop();
                continue;
            };
            if top.copies >= edge.count {
                top.edge += 1;
                top.copies = 0;
                continue;
            }
            top.copies += 1;
            let (parent, depth) = (top.id, top.depth + 1);
            let id = self.push(&edge.node, depth);
            return Some(Visit {
                id,
                node: &edge.node,
                depth,
                parent: Some(parent),
                spawn: Some(edge.spawn),
            });
        }
    }
}

impl<'a> Visits<'a> {
    fn push(&mut self, node: &'a NodeSpec, depth: u32) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        self.stack.push(Frame {
            id,
            node,
            depth,
            edge: 0,
            copies: 0,
        });
        id
    }
}

impl TreeSpec {
    /// Nodes in the expanded tree: the readiness records a trial expects.
    pub fn node_count(&self) -> u32 {
        self.root.node_count()
    }

    /// Every node of the expanded tree in id order (preorder), as
    /// `(node id, spec, depth)`. Lazy: never expands more than it yields.
    pub fn walk(&self) -> impl Iterator<Item = (u32, &NodeSpec, u32)> + '_ {
        self.visits().map(|v| (v.id, v.node, v.depth))
    }

    /// Like [`TreeSpec::walk`], with each node's parent and spawn kind.
    pub fn visits(&self) -> Visits<'_> {
        Visits {
            root: Some(&self.root),
            next_id: 0,
            stack: Vec::new(),
        }
    }

    /// The spec of node `id` (its whole subtree), or `None` if there is no such
    /// node. Skips over subtrees by size: no expansion.
    pub fn subtree(&self, id: u32) -> Option<&NodeSpec> {
        let mut node = &self.root;
        let mut node_id = 0u32;
        'descend: while node_id != id {
            for (child_id, edge) in node.expanded_children(node_id) {
                let size = edge.node.node_count();
                if id >= child_id && id - child_id < size {
                    node = &edge.node;
                    node_id = child_id;
                    continue 'descend;
                }
            }
            return None;
        }
        Some(node)
    }

    /// The traits that appear anywhere in the spec.
    pub fn traits_used(&self) -> BTreeSet<Trait> {
        self.written_nodes()
            .flat_map(|n| n.traits.iter().copied())
            .collect()
    }

    /// The trait kinds that appear anywhere in the spec.
    pub fn trait_kinds_used(&self) -> BTreeSet<TraitKind> {
        self.written_nodes()
            .flat_map(|n| n.traits.iter().map(|t| t.kind()))
            .collect()
    }

    /// The end kinds that appear anywhere in the spec.
    pub fn ends_used(&self) -> BTreeSet<EndKind> {
        self.written_nodes().map(|n| n.end.kind()).collect()
    }

    /// The spawn kinds that appear anywhere in the spec.
    pub fn spawns_used(&self) -> BTreeSet<SpawnKind> {
        self.written_nodes()
            .flat_map(|n| n.children.iter().map(|c| c.spawn))
            .collect()
    }

    /// Every node as written (an `N*` edge's node once), in no particular order.
    fn written_nodes(&self) -> impl Iterator<Item = &NodeSpec> {
        let mut stack = vec![&self.root];
        std::iter::from_fn(move || {
            let node = stack.pop()?;
            stack.extend(node.children.iter().map(|c| &c.node));
            Some(node)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::End;

    fn leaf(end: End) -> NodeSpec {
        NodeSpec {
            traits: vec![],
            children: vec![],
            end,
        }
    }

    fn edge(spawn: SpawnKind, count: u32, node: NodeSpec) -> ChildSpec {
        ChildSpec { spawn, count, node }
    }

    /// `pause [2*fork: pause [exec: spin], dfork: exit]`, the module docs' example.
    fn example() -> TreeSpec {
        let inner = NodeSpec {
            traits: vec![],
            children: vec![edge(SpawnKind::Exec, 1, leaf(End::Spin))],
            end: End::Pause,
        };
        TreeSpec {
            root: NodeSpec {
                traits: vec![],
                children: vec![
                    edge(SpawnKind::Fork, 2, inner),
                    edge(SpawnKind::DoubleFork, 1, leaf(End::Exit)),
                ],
                end: End::Pause,
            },
        }
    }

    #[test]
    fn the_walk_numbers_copies_in_preorder_as_documented() {
        let spec = example();
        let got: Vec<(u32, End, u32, Option<u32>)> = spec
            .visits()
            .map(|v| (v.id, v.node.end, v.depth, v.parent))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, End::Pause, 0, None),
                (1, End::Pause, 1, Some(0)),
                (2, End::Spin, 2, Some(1)),
                (3, End::Pause, 1, Some(0)),
                (4, End::Spin, 2, Some(3)),
                (5, End::Exit, 1, Some(0)),
            ]
        );
        assert_eq!(spec.node_count(), 6);
    }

    #[test]
    fn expanded_children_agree_with_the_walk() {
        let spec = example();
        for v in spec.visits() {
            let from_walk: Vec<u32> = spec
                .visits()
                .filter(|w| w.parent == Some(v.id))
                .map(|w| w.id)
                .collect();
            let direct: Vec<u32> = v.node.expanded_children(v.id).map(|(id, _)| id).collect();
            assert_eq!(direct, from_walk, "children of node {}", v.id);
        }
    }

    #[test]
    fn subtree_finds_every_node_and_nothing_past_the_end() {
        let spec = example();
        for (id, node, _) in spec.walk() {
            assert!(std::ptr::eq(spec.subtree(id).unwrap(), node), "node {id}");
        }
        assert_eq!(spec.subtree(6), None);
        assert_eq!(spec.subtree(u32::MAX), None);
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        let mut spec = TreeSpec {
            root: leaf(End::Pause),
        };
        for _ in 0..3 {
            spec.root = NodeSpec {
                traits: vec![],
                children: vec![edge(SpawnKind::Fork, u32::MAX, spec.root)],
                end: End::Pause,
            };
        }
        assert_eq!(spec.node_count(), u32::MAX);
        assert_eq!(spec.walk().take(5).count(), 5);
    }
}
