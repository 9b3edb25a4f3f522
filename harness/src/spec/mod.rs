//! Tree specs: declarative adversarial process trees.
//!
//! Text form (one line; canonical printing is what `Display` writes):
//!
//! ```text
//! node     := trait* end children?
//! trait    := setsid | setpgid | ignore-term | ignore-int | ignore-hup | block-all
//!           | sigchld-ign | respawn-on-term | exec-fresh | stop
//!           | subreaper | evil-name | kill-parent=SIG | kill-ancestors=SIG
//!           | term-kill-parent=SIG | term-kill-ancestors=SIG | graceful=DUR
//!           | userns | cgroup-nest | ignore=SIG | slow-exit ("=" SIZE)?
//! end      := pause | exit | exit-after=DUR | spin | zombies=N | storm=N@RATE
//!           | main-exit | thread-fork | vfork=N | hop=N@RATE | trace
//! DUR      := digits ("ms" | "s")
//! SIZE     := digits "MiB"                     (1 to 256; `slow-exit` alone is 256)
//! SIG      := hup | int | quit | ill | trap | abrt | bus | fpe | usr1 | segv | usr2
//!           | pipe | alrm | term | stkflt | chld | cont | stop | tstp | ttin | ttou
//!           | urg | xcpu | xfsz | vtalrm | prof | winch | io | pwr | sys
//! children := "[" child ("," child)* "]"
//! child    := (N "*")? kind ":" node          kind := fork | dfork | exec | cparent
//! ```
//!
//! Example: `pause [fork: pause, dfork: setsid ignore-term pause, 3*exec: spin]`.
//!
//! * Printing and parsing: `Display`, [`TreeSpec::parse`], [`TreeSpec::parse_with`],
//!   `str::parse`. Whitespace around punctuation is
//!   optional; counts, `zombies=N`, `vfork=N`, storm and hop totals and rates are
//!   at least 1; `SIG` is a signal of 1 to 31 but `kill` ([`Sig`]); a parse
//!   error names the byte offset (from 0) and what was expected
//!   ([`SpecError`](crate::errors::SpecError)). `parse(print(s)) == s` for every
//!   spec within [`Limits`].
//! * What each word makes a node do: [`crate::node`] ("What a node does, in
//!   order"). Traits that signal up the ancestry (`kill-parent`, `kill-ancestors`,
//!   `term-kill-parent`, `term-kill-ancestors`: [`Trait::is_upward`]) only run
//!   under a warden.
//! * SIGTERM dispositions: `ignore-term`, `respawn-on-term`, `term-kill-parent`,
//!   `term-kill-ancestors` and `graceful` each set what SIGTERM does; a node may
//!   have several, and they are applied in order like every trait, so **the last
//!   SIGTERM-disposition trait in order wins** ([`Trait::sets_sigterm`]).
//! * Limits: [`Limits`] (checked by every parse), [`SpecStats`].
//! * Node ids and walks: [`TreeSpec::walk`], [`TreeSpec::subtree`],
//!   [`NodeSpec::expanded_children`]; the numbering is documented in [`walk`].
//! * Structure-aware fuzzing: with the `arbitrary` feature, `Arbitrary` for every
//!   spec type, with a bounded depth and size.

#[cfg(feature = "arbitrary")]
pub mod arb;
mod cut;
mod limits;
mod names;
mod number;
mod print;
mod signal;
mod text;
mod trait_kind;
pub mod walk;

pub(crate) use cut::{Burst, cut_bursts};
pub use limits::{Limits, SpecStats};
pub use names::{EndKind, UnknownName};
pub use signal::Sig;
pub use trait_kind::TraitKind;
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

/// The memory of a `slow-exit` node, in MiB: the default (`slow-exit` alone) and
/// the most `slow-exit=SIZE` may say.
pub const SLOW_EXIT_MIB: u32 = 256;

/// Adversarial behaviours a node takes on before starting its children.
///
/// What each does, exactly: [`crate::node`]. The words without an argument are
/// [`TraitKind`]s too; [`Trait::kind`] drops the argument.
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
    /// `prctl(PR_SET_CHILD_SUBREAPER)`: the node adopts the orphans of its
    /// descendants (and never reaps them, unless its end does).
    Subreaper,
    /// `comm` set to [`crate::node::EVIL_NAME`], 15 bytes with `) `, spaces, a
    /// newline and a byte that is not UTF-8: what naive `/proc/<pid>/stat`
    /// parsers and readers of `/proc` as text choke on.
    EvilName,
    /// Once ready (and its parent too): this signal to its parent.
    KillParent(Sig),
    /// Once ready (and its parent too): this signal to every ancestor, up to (not
    /// including) the warden, PID 1 or the edge of its PID namespace.
    KillAncestors(Sig),
    /// A SIGTERM handler that sends this signal to the parent, then carries on.
    TermKillParent(Sig),
    /// A SIGTERM handler that sends this signal to every ancestor (as
    /// [`Trait::KillAncestors`]), then carries on.
    TermKillAncestors(Sig),
    /// A SIGTERM handler that takes this many milliseconds to finish, then writes
    /// the "finished gracefully" record and exits 0.
    GracefulMs(u32),
    /// `unshare(CLONE_NEWUSER | CLONE_NEWPID)` and fork: the child, PID 1 of the new
    /// namespace, goes on as the node; the parent waits for it.
    Userns,
    /// The node moves itself into a cgroup it makes below its own.
    CgroupNest,
    /// A slow exit: the node touches this many MiB of private memory (no huge
    /// pages) that the kernel must free page by page when it exits, so that it
    /// stays *dying* (SIGKILL pending, or in `do_exit`) for longer: what makes a
    /// supervisor that says done before its tree is gone visible. `slow-exit`
    /// is [`SLOW_EXIT_MIB`] (256 MiB: ~20 ms dying here, every run);
    /// `slow-exit=SIZE` is 1 to [`SLOW_EXIT_MIB`] MiB (`slow-exit=64MiB` in the
    /// fuzz target's trees: ready sooner, a shorter window). Never drawn at random (the memory);
    /// [`crate::spec::Limits::max_slow_exit`] caps how many.
    SlowExit(u32),
    /// This signal ignored (`SIG_IGN`, inherited across fork and exec): e.g. an X
    /// server's `ignore=usr1`. `ignore=term` is `ignore-term`'s twin (a SIGTERM
    /// trait: the last one in order wins).
    Ignore(Sig),
}

impl Trait {
    /// Whether the trait signals up the ancestry, at ready time or on SIGTERM:
    /// such a node refuses to run outside a warden.
    pub const fn is_upward(self) -> bool {
        matches!(
            self,
            Trait::KillParent(_)
                | Trait::KillAncestors(_)
                | Trait::TermKillParent(_)
                | Trait::TermKillAncestors(_)
        )
    }

    /// Whether the trait sets what SIGTERM does (ignored, or a handler): of these,
    /// the last one in a node's order wins.
    pub const fn sets_sigterm(self) -> bool {
        matches!(
            self,
            Trait::Ignore(Sig::Term)
                | Trait::IgnoreTerm
                | Trait::RespawnOnTerm
                | Trait::TermKillParent(_)
                | Trait::TermKillAncestors(_)
                | Trait::GracefulMs(_)
        )
    }
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
    /// `clone(CLONE_PARENT)` with fork semantics: the child is a child of this
    /// node's parent (for the leader: of the supervisor). From a PID namespace's
    /// init the kernel refuses it, and the node forks instead.
    Cparent,
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
    /// Start a thread that pauses, then the main thread alone exits: a live
    /// process whose thread-group leader is a zombie.
    MainExit,
    /// Start a thread that forks a pausing child and exits (the child passes to a
    /// sibling thread); the main thread pauses.
    ThreadFork,
    /// A chain of this many processes made by `vfork` without exec, each parent
    /// blocked in it; the last pauses.
    Vfork(u32),
    /// `total` times at `rate` per second: `setsid`, fork, the parent exits and the
    /// child goes on; then pause. One live process, always a new PID and session.
    Hop {
        /// Hops.
        total: u32,
        /// Hops per second.
        rate: u32,
    },
    /// `PTRACE_SEIZE` every direct child and swallow every signal they get (but
    /// SIGKILL); reap them as they exit; pause when none is left.
    Trace,
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
