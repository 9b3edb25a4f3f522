//! Cutting a tree's bursts to a tree-wide budget: what the proptest strategies
//! ([`crate::prop::fit`]) and the fuzz trial target ([`crate::fuzz::small_tree`])
//! both do to keep storms and hops small.

use super::{End, NodeSpec};

/// An end that forks at a rate: a fork storm (`storm=N@RATE`) or a hopper
/// (`hop=N@RATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Burst {
    /// [`End::Storm`].
    Storm,
    /// [`End::Hop`].
    Hop,
}

impl Burst {
    /// The total and rate of `end`, if it is this burst.
    fn of(self, end: End) -> Option<(u32, u32)> {
        match (self, end) {
            (Burst::Storm, End::Storm { total, rate }) | (Burst::Hop, End::Hop { total, rate }) => {
                Some((total, rate))
            }
            _ => None,
        }
    }

    /// This burst with `total` and `rate`.
    fn end(self, total: u32, rate: u32) -> End {
        match self {
            Burst::Storm => End::Storm { total, rate },
            Burst::Hop => End::Hop { total, rate },
        }
    }
}

/// Cuts every `burst` end of `node`'s subtree, in preorder and counting copies,
/// so that all of them together fork at most `total` processes at a summed rate
/// of at most `rate`; a burst with nothing left becomes `pause`.
pub(crate) fn cut_bursts(node: &mut NodeSpec, burst: Burst, total: u32, rate: u32) {
    cut(node, burst, 1, &mut (total, rate));
}

fn cut(node: &mut NodeSpec, burst: Burst, copies: u32, left: &mut (u32, u32)) {
    if let Some((total, rate)) = burst.of(node.end) {
        let total = total.min(left.0 / copies);
        let rate = rate.min(left.1 / copies);
        node.end = if total == 0 || rate == 0 {
            End::Pause
        } else {
            left.0 -= total * copies;
            left.1 -= rate * copies;
            burst.end(total, rate)
        };
    }
    for edge in &mut node.children {
        cut(
            &mut edge.node,
            burst,
            copies.saturating_mul(edge.count),
            left,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::TreeSpec;

    fn cut_text(text: &str, burst: Burst, total: u32, rate: u32) -> String {
        let mut spec: TreeSpec = text.parse().unwrap();
        cut_bursts(&mut spec.root, burst, total, rate);
        spec.to_string()
    }

    #[test]
    fn bursts_are_cut_in_preorder_counting_copies() {
        assert_eq!(
            cut_text(
                "storm=30@10 [2*fork: storm=20@10, fork: storm=5@9]",
                Burst::Storm,
                50,
                1000
            ),
            "storm=30@10 [2*fork: storm=10@10, fork: pause]"
        );
    }

    #[test]
    fn only_the_named_burst_is_cut() {
        let text = "hop=9@9 [fork: storm=9@9]";
        assert_eq!(
            cut_text(text, Burst::Storm, 3, 3),
            "hop=9@9 [fork: storm=3@3]"
        );
        assert_eq!(cut_text(text, Burst::Hop, 3, 0), "pause [fork: storm=9@9]");
    }
}
