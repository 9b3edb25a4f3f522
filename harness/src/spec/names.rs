//! The words of the text form: one name per trait, spawn kind and end.

use std::fmt;
use std::str::FromStr;

use super::{End, SpawnKind, Trait};

impl Trait {
    /// Every trait, in declaration order (the order of the grammar).
    pub const ALL: [Trait; 10] = [
        Trait::Setsid,
        Trait::Setpgid,
        Trait::IgnoreTerm,
        Trait::IgnoreInt,
        Trait::IgnoreHup,
        Trait::BlockAll,
        Trait::SigchldIgn,
        Trait::RespawnOnTerm,
        Trait::ExecFresh,
        Trait::Stop,
    ];

    /// The word in the text form: `setsid`, `ignore-term`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Trait::Setsid => "setsid",
            Trait::Setpgid => "setpgid",
            Trait::IgnoreTerm => "ignore-term",
            Trait::IgnoreInt => "ignore-int",
            Trait::IgnoreHup => "ignore-hup",
            Trait::BlockAll => "block-all",
            Trait::SigchldIgn => "sigchld-ign",
            Trait::RespawnOnTerm => "respawn-on-term",
            Trait::ExecFresh => "exec-fresh",
            Trait::Stop => "stop",
        }
    }

    /// The trait named `word`, if any (exact, case-sensitive).
    pub fn from_name(word: &str) -> Option<Trait> {
        Trait::ALL.into_iter().find(|t| t.name() == word)
    }
}

impl SpawnKind {
    /// Every spawn kind, in declaration order.
    pub const ALL: [SpawnKind; 3] = [SpawnKind::Fork, SpawnKind::DoubleFork, SpawnKind::Exec];

    /// The word in the text form: `fork`, `dfork`, `exec`.
    pub const fn name(self) -> &'static str {
        match self {
            SpawnKind::Fork => "fork",
            SpawnKind::DoubleFork => "dfork",
            SpawnKind::Exec => "exec",
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
}

impl EndKind {
    /// Every end kind, in declaration order.
    pub const ALL: [EndKind; 6] = [
        EndKind::Pause,
        EndKind::Exit,
        EndKind::ExitAfter,
        EndKind::Spin,
        EndKind::Zombies,
        EndKind::Storm,
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
        }
    }
}

/// The unknown-word errors list these.
pub(crate) const TRAIT_NAMES: &str = "setsid, setpgid, ignore-term, ignore-int, ignore-hup, \
     block-all, sigchld-ign, respawn-on-term, exec-fresh, stop";
pub(crate) const END_NAMES: &str = "pause, exit, exit-after=DUR, spin, zombies=N, storm=N@RATE";
pub(crate) const SPAWN_NAMES: &str = "fork, dfork, exec";

/// Error for [`FromStr`] on the single words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?} (expected one of: {expected})")]
pub struct UnknownName {
    /// What was being parsed: `trait`, `spawn kind`.
    pub what: &'static str,
    /// The word given.
    pub word: String,
    /// The accepted words.
    pub expected: &'static str,
}

impl FromStr for Trait {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Trait::from_name(s).ok_or_else(|| UnknownName {
            what: "trait",
            word: s.to_owned(),
            expected: TRAIT_NAMES,
        })
    }
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

impl fmt::Display for Trait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

    #[test]
    fn every_name_maps_back_to_its_value() {
        for t in Trait::ALL {
            assert_eq!(Trait::from_name(t.name()), Some(t));
            assert!(TRAIT_NAMES.contains(t.name()));
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
    fn the_trait_list_names_every_trait_once() {
        let listed: Vec<&str> = TRAIT_NAMES.split(", ").collect();
        let names: Vec<&str> = Trait::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(listed, names);
    }

    #[test]
    fn an_unknown_trait_name_is_an_error_that_lists_the_choices() {
        let err = "setsd".parse::<Trait>().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("unknown trait \"setsd\" (expected one of: {TRAIT_NAMES})")
        );
    }
}
