//! Splitting a matrix across machines: `--shard K/N`.
//!
//! A random campaign is embarrassingly parallel: every cell is one trial, and
//! every tree is a pure function of the seed and its index (the `i`-th tree of
//! seed `S` is the same whoever asks, see [`super::random`]). So N machines that
//! build the same plan (same options, same `--seed`, same build) can each run a
//! part of its cells, and their JSON outputs merge into the report one machine
//! would have written ([`super::merge`]).
//!
//! # Which cells a shard runs
//!
//! [`deal`] hands the cells out by their estimated cost, longest first, each to
//! the shard with the least work so far (ties: the lower shard, then the earlier
//! cell in row-major plan order). An expected `hang` costs the deadline and an
//! expected `leak` the straggler grace, so dealing by cost keeps the slow cells
//! from piling up on one machine: every shard ends up within one cell's cost of
//! every other. The deal depends only on the plan — rows, trees, timings, the
//! catalog's expectations — never on `--jobs`, the host, or which rows this host
//! can run, so every machine computes the same one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

/// Why a sharded run with random trees needs a seed it was given: a seed from the
/// clock differs from machine to machine, and so would the trees.
pub const SEED_REQUIRED: &str = "--shard with random trees needs a seed: every shard must draw the same trees, so give every shard the same --seed S (or set TEARDOWN_SEED, or use --random 0)";

/// One of N parts of a plan, `K/N`, K counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// A `--shard` value that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not two whole numbers separated by `/`.
    #[error(
        "shard {text:?}: expected K/N, two whole numbers such as 2/3 (this machine runs part 2 of 3)"
    )]
    Syntax {
        /// The value as given.
        text: String,
    },
    /// N is 0.
    #[error(
        "shard {index}/0: N is the number of machines and must be at least 1 (1/1 is the whole matrix)"
    )]
    NoShards {
        /// K as given.
        index: u32,
    },
    /// K is 0.
    #[error(
        "shard 0/{count}: K counts from 1 to N, so the shards of {count} are 1/{count} to {count}/{count} (a Kubernetes Indexed Job counts JOB_COMPLETION_INDEX from 0: pass $((JOB_COMPLETION_INDEX + 1))/{count})"
    )]
    Zero {
        /// N as given.
        count: u32,
    },
    /// K is larger than N.
    #[error(
        "shard {index}/{count}: K counts from 1 to N, so the shards of {count} are 1/{count} to {count}/{count}"
    )]
    OutOfRange {
        /// K as given.
        index: u32,
        /// N as given.
        count: u32,
    },
}

impl Shard {
    /// Shard `index` of `count` (`index` from 1).
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards { index });
        }
        if index == 0 {
            return Err(ShardError::Zero { count });
        }
        if index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// K, from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// N.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Every shard of `count`, in order: 1/N, 2/N, …
    pub fn all(count: u32) -> impl Iterator<Item = Shard> {
        (1..=count).map(move |index| Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax { text: s.to_owned() };
        let (k, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let number = |t: &str| {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            t.parse::<u32>().map_err(|_| syntax())
        };
        Shard::new(number(k)?, number(n)?)
    }
}

impl serde::Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which shard (0-based) runs each cell, given every cell's estimated cost in
/// plan order: longest first, each to the least loaded of `count` shards (see
/// the module docs). A cost of 0 counts as 1, so free cells are spread too.
///
/// Every shard's total is within the largest single cost of every other's.
pub fn deal(costs: &[u64], count: u32) -> Vec<u32> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by_key(|&i| (Reverse(costs[i]), i));
    // With every load 0 at the start, the first `count` cells go to shards 0, 1,
    // … in turn: shards past the number of cells never get one.
    let used = (count as usize).min(costs.len()).max(1) as u32;
    let mut loads: BinaryHeap<Reverse<(u64, u32)>> = (0..used).map(|s| Reverse((0, s))).collect();
    let mut owner = vec![0; costs.len()];
    for i in order {
        let Reverse((load, shard)) = loads.pop().expect("at least one shard");
        owner[i] = shard;
        loads.push(Reverse((load.saturating_add(costs[i].max(1)), shard)));
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_as_k_of_n_and_print_back() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!((s.index(), s.count(), s.to_string()), (2, 3, "2/3".into()));
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap().to_string(), "1/1");
        assert_eq!(
            Shard::all(3).map(|s| s.to_string()).collect::<Vec<_>>(),
            ["1/3", "2/3", "3/3"]
        );
    }

    #[test]
    fn bad_shards_are_refused_with_a_message_that_teaches() {
        for (text, want) in [
            (
                "0/3",
                "K counts from 1 to N, so the shards of 3 are 1/3 to 3/3",
            ),
            ("4/3", "shard 4/3: K counts from 1"),
            ("1/0", "N is the number of machines and must be at least 1"),
            ("garbage", "expected K/N, two whole numbers such as 2/3"),
            ("1/", "expected K/N"),
            ("-1/3", "expected K/N"),
            ("1/3/5", "expected K/N"),
            ("+1/3", "expected K/N"),
            ("99999999999/3", "expected K/N"),
        ] {
            let err = text.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.ends_with('.'), "{err}");
        }
        assert!(
            "0/3"
                .parse::<Shard>()
                .unwrap_err()
                .to_string()
                .contains("$((JOB_COMPLETION_INDEX + 1))/3")
        );
    }

    #[test]
    fn the_deal_puts_slow_cells_on_different_shards() {
        // Three 3-second hangs and six quick cells over three shards: one hang each.
        let costs = [10, 3_000_000, 10, 3_000_000, 10, 10, 3_000_000, 10, 10];
        let owner = deal(&costs, 3);
        let hangs: Vec<u32> = [1, 3, 6].iter().map(|&i| owner[i]).collect();
        assert_eq!(hangs, [0, 1, 2]);
        for s in 0..3 {
            assert_eq!(owner.iter().filter(|&&o| o == s).count(), 3, "{owner:?}");
        }
    }

    #[test]
    fn more_shards_than_cells_leaves_the_extra_shards_empty() {
        assert_eq!(deal(&[5, 5], 1000), [0, 1]);
        assert_eq!(deal(&[], 3), Vec::<u32>::new());
    }

    #[cfg(feature = "proptest")]
    mod props {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn the_deal_is_a_deterministic_partition(
                costs in proptest::collection::vec(0u64..5_000_000, 0..400),
                count in 1u32..12,
            ) {
                let owner = deal(&costs, count);
                prop_assert_eq!(owner.len(), costs.len());
                prop_assert!(owner.iter().all(|&s| s < count));
                prop_assert_eq!(&owner, &deal(&costs, count));
            }

            #[test]
            fn every_shard_is_within_one_cell_of_every_other(
                costs in proptest::collection::vec(0u64..5_000_000, 1..400),
                count in 1u32..12,
            ) {
                let owner = deal(&costs, count);
                let mut loads = vec![0u64; count as usize];
                for (i, &s) in owner.iter().enumerate() {
                    loads[s as usize] += costs[i].max(1);
                }
                let used = &loads[..(count as usize).min(costs.len())];
                let biggest = costs.iter().map(|&c| c.max(1)).max().unwrap();
                let (lo, hi) = (used.iter().min().unwrap(), used.iter().max().unwrap());
                prop_assert!(hi - lo <= biggest, "{:?} spread over {} > {}", used, hi - lo, biggest);
            }
        }
    }
}
