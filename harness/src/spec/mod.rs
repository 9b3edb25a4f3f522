//! Tree specs: declarative adversarial process trees.
//!
//! Text form (one line; canonical printing is what `Display` writes):
//!
//! ```text
//! node     := trait* end children?
//! trait    := setsid | setpgid | ignore-term | ignore-int | ignore-hup | block-all
//!           | sigchld-ign | respawn-on-term | exec-fresh | stop
//! end      := pause | exit | exit-after=DUR | spin | zombies=N | storm=N@RATE
//! DUR      := digits ("ms" | "s")
//! children := "[" child ("," child)* "]"
//! child    := (N "*")? kind ":" node          kind := fork | dfork | exec
//! ```
//!
//! Example: `pause [fork: pause, dfork: setsid ignore-term pause, 3*exec: spin]`.
//!
//! * Printing and parsing: `Display`, [`TreeSpec::parse`], [`TreeSpec::parse_with`],
//!   `str::parse`. Whitespace around punctuation is
//!   optional; counts, `zombies=N`, storm totals and rates are at least 1; a parse
//!   error names the byte offset (from 0) and what was expected
//!   ([`SpecError`](crate::errors::SpecError)). `parse(print(s)) == s` for every
//!   spec within [`Limits`].
//! * Limits: [`Limits`] (checked by every parse), [`SpecStats`].
//! * Node ids and walks: [`TreeSpec::walk`], [`TreeSpec::subtree`],
//!   [`NodeSpec::expanded_children`]; the numbering is documented in [`walk`].
//! * Structure-aware fuzzing: with the `arbitrary` feature, `Arbitrary` for every
//!   spec type, with a bounded depth and size.

#[cfg(feature = "arbitrary")]
pub mod arb;
mod limits;
mod names;
mod text;
pub mod walk;

pub use limits::{Limits, SpecStats};
pub use names::{EndKind, UnknownName};
pub use walk::{Visit, Visits};

/// The parser never nests deeper than this, whatever [`Limits::max_depth`] says,
/// so that printing, parsing and dropping a spec cannot exhaust a thread's stack.
pub const MAX_NESTING: u32 = 256;

/// A whole adversarial tree: the leader node and everything below it.
///
/// Serialized (serde) as its canonical text form, the same line `teardown replay`
/// takes: a 100-deep chain is then a 1.5 KB string, not JSON nested past
/// `serde_json`'s recursion limit, and every JSON output carries a replayable spec.
/// Deserializing parses with [`Limits::default`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TreeSpec {
    /// The leader (the command the supervisor spawns).
    pub root: NodeSpec,
}

/// One process of a tree (or `count` identical ones, through [`ChildSpec::count`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct NodeSpec {
    /// Applied first, in order.
    pub traits: Vec<Trait>,
    /// Started after the traits, in order.
    pub children: Vec<ChildSpec>,
    /// What the node does once its children are started and it has reported ready.
    pub end: End,
}

/// An edge: how `count` copies of `node` are started by their parent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ChildSpec {
    /// How each copy is started.
    pub spawn: SpawnKind,
    /// How many copies (at least 1).
    pub count: u32,
    /// The child.
    pub node: NodeSpec,
}

/// Adversarial behaviours a node takes on before starting its children.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Trait {
    /// `setsid()`: a new session and group — escapes `killpg`.
    Setsid,
    /// `setpgid(0, 0)`: a new group — escapes `killpg`.
    Setpgid,
    /// SIGTERM ignored.
    IgnoreTerm,
    /// SIGINT ignored.
    IgnoreInt,
    /// SIGHUP ignored.
    IgnoreHup,
    /// Every blockable signal blocked.
    BlockAll,
    /// SIGCHLD set to SIG_IGN (inherited by children: they are auto-reaped).
    SigchldIgn,
    /// On SIGTERM: fork a replacement (same spec) and exit.
    RespawnOnTerm,
    /// Re-exec the node interpreter on this node's spec before going on.
    ExecFresh,
    /// After reporting ready: SIGSTOP itself.
    Stop,
}

/// How a child is started.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum SpawnKind {
    /// `fork()`.
    Fork,
    /// fork, the intermediate forks the node and exits: the node is orphaned.
    DoubleFork,
    /// fork + exec of the node interpreter with the child's spec.
    Exec,
}

/// What a node does once ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum End {
    /// Sleep until killed.
    Pause,
    /// Exit at once (status 0).
    Exit,
    /// Exit after this many milliseconds.
    ExitAfterMs(u32),
    /// Burn CPU until killed.
    Spin,
    /// Fork this many children that exit at once, never reap them, then pause.
    Zombies(u32),
    /// Fork `total` short pausing children at `rate` per second (bounded), then pause.
    Storm {
        /// Total forks.
        total: u32,
        /// Forks per second.
        rate: u32,
    },
}

impl serde::Serialize for TreeSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TreeSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        TreeSpec::parse(&text).map_err(serde::de::Error::custom)
    }
}
