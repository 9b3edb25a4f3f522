//! Limits that keep a spec safe to play on a small shared machine (2 cores).
//!
//! A spec's size is measured on the **expanded** tree: a `3*fork: pause` edge is
//! three nodes, and `2*fork: pause [2*fork: pause]` is 1 + 2 + 2·2 = 7 nodes. The
//! totals below are computed without expanding (each node's numbers are multiplied
//! by the product of the counts on its path, saturating), so checking is linear in
//! the size of the written spec, and never recursive (a spec built in code may be
//! arbitrarily deep).

use std::fmt;
use std::time::Duration;

use super::{End, MAX_NESTING, SpawnKind, Trait, TreeSpec};
use crate::errors::LimitError;

/// Bounds a spec must stay within; see each field. [`TreeSpec::parse`] checks
/// [`Limits::default`]; [`TreeSpec::parse_with`] takes others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Nodes in the expanded tree (copies of an `N*` edge counted one by one):
    /// the readiness records a trial waits for. Default 1000.
    pub max_nodes: u64,
    /// Depth of the deepest node; the leader is at depth 0, so a chain of 100
    /// nodes has depth 99. Also bounds the parser's recursion. Values above
    /// [`MAX_NESTING`] (256) act as 256. Default 128.
    pub max_depth: u32,
    /// Processes the tree may have alive or unreaped at once, at worst: every
    /// node, one intermediate per `dfork` copy, every zombie (`zombies=N`), every
    /// storm child (`storm=N@R`), and one more per `respawn-on-term` node (the
    /// replacement; the original lingers as a zombie until reaped), per `userns`
    /// node (the parent that waits for the namespace's init), per `thread-fork`
    /// end (its child) and per `hop` end (the hopper's next process while the
    /// last one exits), and `N` per `vfork=N` end (the chain). Default 2000.
    pub max_live: u64,
    /// Zombies made by `zombies=N` ends, summed over the expanded tree. Default 1000.
    pub max_zombies: u64,
    /// Storm children (`storm=N@R`: `N`), summed over the expanded tree.
    /// Default 1000.
    pub max_storm_total: u64,
    /// Storm rates (`storm=N@R`: `R` forks per second), summed over the expanded
    /// tree: storms run at the same time, so the sum is the fork rate the machine
    /// sees. Default 2000.
    pub max_storm_rate: u64,
    /// Hops (`hop=N@R`: `N`), summed over the expanded tree. Default 1000.
    pub max_hop_total: u64,
    /// Hop rates (`hop=N@R`: `R` hops per second, each a `setsid`, a fork and an
    /// exit), summed over the expanded tree: hoppers run at the same time.
    /// Default 1000.
    pub max_hop_rate: u64,
    /// The longest `vfork=N` chain (`N` processes, each with its own stack, each
    /// parent blocked in `vfork`). Default 64.
    pub max_vfork_depth: u32,
    /// The longest `exit-after` delay. Default 60 s.
    pub max_exit_after: Duration,
    /// The longest `graceful` delay (what a node's SIGTERM handler takes before it
    /// exits). Default 60 s.
    pub max_graceful: Duration,
    /// `slow-exit` nodes in the expanded tree (each holds
    /// [`crate::node::SLOW_EXIT_BYTES`] of memory at most). Default 4.
    pub max_slow_exit: u64,
    /// Length of the text form in bytes: the input the parser accepts, and the
    /// canonical text of the spec (an `exec` child gets its subtree's text as one
    /// argument, and Linux caps one argument at 128 KiB). Default 65536.
    pub max_text_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_nodes: 1000,
            max_depth: 128,
            max_live: 2000,
            max_zombies: 1000,
            max_storm_total: 1000,
            max_storm_rate: 2000,
            max_hop_total: 1000,
            max_hop_rate: 1000,
            max_vfork_depth: 64,
            max_exit_after: Duration::from_secs(60),
            max_graceful: Duration::from_secs(60),
            max_slow_exit: 4,
            max_text_len: 64 * 1024,
        }
    }
}

/// Totals of a spec over its expanded tree, saturating at `u64::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecStats {
    /// Nodes in the expanded tree.
    pub nodes: u64,
    /// Depth of the deepest node (the leader is at depth 0).
    pub depth: u32,
    /// Worst-case live processes (see [`Limits::max_live`]).
    pub live: u64,
    /// Zombies made by `zombies=N` ends.
    pub zombies: u64,
    /// Storm children.
    pub storm_total: u64,
    /// Summed storm rates, forks per second.
    pub storm_rate: u64,
    /// Hops.
    pub hop_total: u64,
    /// Summed hop rates, hops per second.
    pub hop_rate: u64,
    /// The longest `vfork=N` chain (0 if none).
    pub max_vfork_depth: u32,
    /// The longest `exit-after`, in milliseconds (0 if none).
    pub max_exit_after_ms: u32,
    /// The longest `graceful` delay, in milliseconds (0 if none).
    pub max_graceful_ms: u32,
    /// `slow-exit` nodes.
    pub slow_exit: u64,
    /// The biggest `slow-exit` size, in MiB (0 if none).
    pub max_slow_exit_mib: u32,
    /// The first of `count`, `zombies`, `storm total`, `storm rate`, `vfork depth`,
    /// `hop total`, `hop rate`, `slow-exit size` found to be 0.
    pub zero: Option<&'static str>,
    /// A node has `ignore=stop`, which no process can do.
    pub ignores_stop: bool,
}

impl SpecStats {
    /// Computes the totals without expanding the tree and without recursion.
    pub fn of(spec: &TreeSpec) -> SpecStats {
        let mut s = SpecStats::default();
        // (node, depth, copies of it in the expanded tree)
        let mut stack = vec![(&spec.root, 0u32, 1u64)];
        while let Some((node, depth, copies)) = stack.pop() {
            s.nodes = s.nodes.saturating_add(copies);
            s.depth = s.depth.max(depth);
            let mut own_live: u64 = 1;
            if node.has_trait(Trait::RespawnOnTerm) {
                own_live += 1;
            }
            if node.has_trait(Trait::Userns) {
                own_live += 1;
            }
            for t in &node.traits {
                if let (Trait::GracefulMs(ms), true) = (t, copies > 0) {
                    s.max_graceful_ms = s.max_graceful_ms.max(*ms);
                }
                s.ignores_stop |= *t == Trait::Ignore(crate::spec::Sig::Stop);
                if let Trait::SlowExit(mib) = *t {
                    s.slow_exit = s.slow_exit.saturating_add(copies);
                    s.max_slow_exit_mib = s.max_slow_exit_mib.max(mib);
                    s.zero_if(mib == 0, "slow-exit size");
                }
            }
            match node.end {
                End::Zombies(n) => {
                    s.zero_if(n == 0, "zombies");
                    s.zombies = s.zombies.saturating_add(copies.saturating_mul(n.into()));
                    own_live = own_live.saturating_add(n.into());
                }
                End::Storm { total, rate } => {
                    s.zero_if(total == 0, "storm total");
                    s.zero_if(rate == 0, "storm rate");
                    let total = copies.saturating_mul(total.into());
                    s.storm_total = s.storm_total.saturating_add(total);
                    let rate = copies.saturating_mul(rate.into());
                    s.storm_rate = s.storm_rate.saturating_add(rate);
                    own_live = own_live.saturating_add(total);
                }
                End::ExitAfterMs(ms) if copies > 0 => {
                    s.max_exit_after_ms = s.max_exit_after_ms.max(ms);
                }
                End::Vfork(n) => {
                    s.zero_if(n == 0, "vfork depth");
                    if copies > 0 {
                        s.max_vfork_depth = s.max_vfork_depth.max(n);
                    }
                    own_live = own_live.saturating_add(n.into());
                }
                End::Hop { total, rate } => {
                    s.zero_if(total == 0, "hop total");
                    s.zero_if(rate == 0, "hop rate");
                    s.hop_total = s
                        .hop_total
                        .saturating_add(copies.saturating_mul(total.into()));
                    s.hop_rate = s
                        .hop_rate
                        .saturating_add(copies.saturating_mul(rate.into()));
                    own_live += 1;
                }
                End::ThreadFork => own_live += 1,
                End::Pause
                | End::Exit
                | End::ExitAfterMs(_)
                | End::Spin
                | End::MainExit
                | End::Trace => {}
            }
            s.live = s.live.saturating_add(copies.saturating_mul(own_live));
            for child in node.children.iter().rev() {
                s.zero_if(child.count == 0, "count");
                let copies = copies.saturating_mul(child.count.into());
                if child.spawn == SpawnKind::DoubleFork {
                    s.live = s.live.saturating_add(copies);
                }
                stack.push((&child.node, depth.saturating_add(1), copies));
            }
        }
        s
    }

    fn zero_if(&mut self, is_zero: bool, what: &'static str) {
        if is_zero && self.zero.is_none() {
            self.zero = Some(what);
        }
    }
}

impl Limits {
    /// No limits but the parser's nesting bound ([`MAX_NESTING`]) and the length
    /// of the text: for tests and tools that want the syntax only.
    pub fn unlimited() -> Limits {
        Limits {
            max_nodes: u64::MAX,
            max_depth: MAX_NESTING,
            max_live: u64::MAX,
            max_zombies: u64::MAX,
            max_storm_total: u64::MAX,
            max_storm_rate: u64::MAX,
            max_hop_total: u64::MAX,
            max_hop_rate: u64::MAX,
            max_vfork_depth: u32::MAX,
            max_exit_after: Duration::from_millis(u32::MAX.into()),
            max_graceful: Duration::from_millis(u32::MAX.into()),
            max_slow_exit: u64::MAX,
            max_text_len: usize::MAX,
        }
    }

    /// Checks `spec` against every limit, in this order: numbers that must be at
    /// least 1, `max_depth`, `max_nodes`, `max_live`, `max_zombies`,
    /// `max_storm_total`, `max_storm_rate`, `max_hop_total`, `max_hop_rate`,
    /// `max_vfork_depth`, `max_exit_after`, `max_graceful`, `max_slow_exit`,
    /// `max_text_len`; the
    /// first violated one is the error.
    pub fn check(&self, spec: &TreeSpec) -> Result<(), LimitError> {
        let s = SpecStats::of(spec);
        if let Some(what) = s.zero {
            return Err(LimitError::Zero { what });
        }
        if s.ignores_stop {
            return Err(LimitError::Impossible {
                what: "ignore=stop: SIGSTOP cannot be ignored",
            });
        }
        if s.max_slow_exit_mib > super::SLOW_EXIT_MIB {
            return Err(LimitError::Impossible {
                what: "a slow-exit of over 256MiB: slow-exit=SIZE is 1 to 256 MiB",
            });
        }
        let max_depth = self.max_depth.min(MAX_NESTING);
        exceeds("max_depth", "the depth", s.depth.into(), max_depth.into())?;
        exceeds(
            "max_nodes",
            "the expanded node count",
            s.nodes,
            self.max_nodes,
        )?;
        exceeds("max_live", "the live process count", s.live, self.max_live)?;
        exceeds(
            "max_zombies",
            "the zombie count",
            s.zombies,
            self.max_zombies,
        )?;
        exceeds(
            "max_storm_total",
            "the storm children total",
            s.storm_total,
            self.max_storm_total,
        )?;
        exceeds(
            "max_storm_rate",
            "the summed storm rate (forks/s)",
            s.storm_rate,
            self.max_storm_rate,
        )?;
        exceeds(
            "max_hop_total",
            "the hop total",
            s.hop_total,
            self.max_hop_total,
        )?;
        exceeds(
            "max_hop_rate",
            "the summed hop rate (hops/s)",
            s.hop_rate,
            self.max_hop_rate,
        )?;
        exceeds(
            "max_vfork_depth",
            "the longest vfork chain",
            s.max_vfork_depth.into(),
            self.max_vfork_depth.into(),
        )?;
        exceeds(
            "max_exit_after",
            "the longest exit-after (ms)",
            s.max_exit_after_ms.into(),
            millis(self.max_exit_after),
        )?;
        exceeds(
            "max_graceful",
            "the longest graceful delay (ms)",
            s.max_graceful_ms.into(),
            millis(self.max_graceful),
        )?;
        exceeds(
            "max_slow_exit",
            "the slow-exit node count",
            s.slow_exit,
            self.max_slow_exit,
        )?;
        // Printing recurses, which is safe now that the depth is bounded.
        let mut len = LenCounter(0);
        fmt::write(&mut len, format_args!("{spec}")).expect("counting never fails");
        exceeds(
            "max_text_len",
            "the text length (bytes)",
            len.0,
            u64::try_from(self.max_text_len).unwrap_or(u64::MAX),
        )
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn exceeds(
    limit: &'static str,
    what: &'static str,
    value: u64,
    max: u64,
) -> Result<(), LimitError> {
    if value > max {
        Err(LimitError::Exceeded {
            limit,
            what,
            value,
            max,
        })
    } else {
        Ok(())
    }
}

/// A `fmt::Write` that only counts bytes.
struct LenCounter(u64);

impl fmt::Write for LenCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len() as u64);
        Ok(())
    }
}
