//! The words of the text form: one name per trait, spawn kind and end.

use std::fmt;
use std::str::FromStr;

use super::{End, SpawnKind};

impl SpawnKind {
    /// Every spawn kind, in declaration order.
    pub const ALL: [SpawnKind; 4] = [
        SpawnKind::Fork,
        SpawnKind::DoubleFork,
        SpawnKind::Exec,
        SpawnKind::Cparent,
    ];

    /// The word in the text form: `fork`, `dfork`, `exec`, `cparent`.
    pub const fn name(self) -> &'static str {
        match self {
            SpawnKind::Fork => "fork",
            SpawnKind::DoubleFork => "dfork",
            SpawnKind::Exec => "exec",
            SpawnKind::Cparent => "cparent",
        }
    }

    /// The spawn kind named `word`, if any.
    pub fn from_name(word: &str) -> Option<SpawnKind> {
        SpawnKind::ALL.into_iter().find(|k| k.name() == word)
    }
}

/// An [`End`] without its numbers: what kind of end a node has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndKind {
    /// [`End::Pause`].
    Pause,
    /// [`End::Exit`].
    Exit,
    /// [`End::ExitAfterMs`].
    ExitAfter,
    /// [`End::Spin`].
    Spin,
    /// [`End::Zombies`].
    Zombies,
    /// [`End::Storm`].
    Storm,
    /// [`End::MainExit`].
    MainExit,
    /// [`End::ThreadFork`].
    ThreadFork,
    /// [`End::Vfork`].
    Vfork,
    /// [`End::Hop`].
    Hop,
    /// [`End::Trace`].
    Trace,
}

impl EndKind {
    /// Every end kind, in declaration order.
    pub const ALL: [EndKind; 11] = [
        EndKind::Pause,
        EndKind::Exit,
        EndKind::ExitAfter,
        EndKind::Spin,
        EndKind::Zombies,
        EndKind::Storm,
        EndKind::MainExit,
        EndKind::ThreadFork,
        EndKind::Vfork,
        EndKind::Hop,
        EndKind::Trace,
    ];

    /// The word in the text form (before any `=`): `pause`, `exit-after`, `storm`, ...
    pub const fn name(self) -> &'static str {
        match self {
            EndKind::Pause => "pause",
            EndKind::Exit => "exit",
            EndKind::ExitAfter => "exit-after",
            EndKind::Spin => "spin",
            EndKind::Zombies => "zombies",
            EndKind::Storm => "storm",
            EndKind::MainExit => "main-exit",
            EndKind::ThreadFork => "thread-fork",
            EndKind::Vfork => "vfork",
            EndKind::Hop => "hop",
            EndKind::Trace => "trace",
        }
    }

    /// The end kind named `word`, if any.
    pub fn from_name(word: &str) -> Option<EndKind> {
        EndKind::ALL.into_iter().find(|k| k.name() == word)
    }
}

impl End {
    /// What kind of end this is.
    pub const fn kind(self) -> EndKind {
        match self {
            End::Pause => EndKind::Pause,
            End::Exit => EndKind::Exit,
            End::ExitAfterMs(_) => EndKind::ExitAfter,
            End::Spin => EndKind::Spin,
            End::Zombies(_) => EndKind::Zombies,
            End::Storm { .. } => EndKind::Storm,
            End::MainExit => EndKind::MainExit,
            End::ThreadFork => EndKind::ThreadFork,
            End::Vfork(_) => EndKind::Vfork,
            End::Hop { .. } => EndKind::Hop,
            End::Trace => EndKind::Trace,
        }
    }
}

/// The unknown-word errors list these.
pub(crate) const TRAIT_NAMES: &str = "setsid, setpgid, ignore-term, ignore-int, ignore-hup, \
     block-all, sigchld-ign, respawn-on-term, exec-fresh, stop, subreaper, evil-name, \
     kill-parent=SIG, kill-ancestors=SIG, term-kill-parent=SIG, term-kill-ancestors=SIG, \
     graceful=DUR, userns, cgroup-nest, ignore=SIG, slow-exit[=SIZE]";
pub(crate) const END_NAMES: &str = "pause, exit, exit-after=DUR, spin, zombies=N, storm=N@RATE, \
     main-exit, thread-fork, vfork=N, hop=N@RATE, trace";
pub(crate) const SPAWN_NAMES: &str = "fork, dfork, exec, cparent";

/// Error for [`FromStr`] on the single words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?} (expected one of: {expected})")]
pub struct UnknownName {
    /// What was being parsed: `trait`, `spawn kind`, `signal`, `duration`.
    pub what: &'static str,
    /// The word given.
    pub word: String,
    /// The accepted words.
    pub expected: &'static str,
}

impl FromStr for SpawnKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpawnKind::from_name(s).ok_or_else(|| UnknownName {
            what: "spawn kind",
            word: s.to_owned(),
            expected: SPAWN_NAMES,
        })
    }
}

impl fmt::Display for SpawnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for EndKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Trait, TraitKind};

    #[test]
    fn every_name_maps_back_to_its_value() {
        for k in TraitKind::ALL {
            assert_eq!(TraitKind::from_name(k.name()), Some(k));
            assert!(TRAIT_NAMES.contains(k.name()));
            if let Some(t) = k.plain() {
                assert_eq!(Trait::from_name(k.name()), Some(t));
                assert_eq!(t.kind(), k);
            } else {
                assert_eq!(Trait::from_name(k.name()), None, "{k} takes an argument");
            }
        }
        for t in Trait::ALL {
            assert_eq!(Trait::from_name(t.name()), Some(t));
        }
        for k in SpawnKind::ALL {
            assert_eq!(k.name().parse::<SpawnKind>(), Ok(k));
            assert!(SPAWN_NAMES.contains(k.name()));
        }
        for e in EndKind::ALL {
            assert_eq!(EndKind::from_name(e.name()), Some(e));
            assert!(END_NAMES.contains(e.name()));
        }
    }

    #[test]
    fn the_end_and_spawn_lists_name_every_word_once_in_order() {
        let listed: Vec<&str> = END_NAMES
            .split(", ")
            .map(|w| w.split('=').next().unwrap())
            .collect();
        let names: Vec<&str> = EndKind::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(listed, names);
        let listed: Vec<&str> = SPAWN_NAMES.split(", ").collect();
        let names: Vec<&str> = SpawnKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(listed, names);
    }
}
