//! The trait words: [`TraitKind`] (a trait without its argument), the names,
//! and parsing one trait word (`kill-parent=term`) on its own.

use std::fmt;
use std::str::FromStr;

use super::names::{TRAIT_NAMES, UnknownName};
use super::number::{duration_ms, size_mib};
use super::signal::Sig;
use super::{SLOW_EXIT_MIB, Trait};

/// Declares [`TraitKind`] from one table, so that each trait word is said once:
/// a row `Kind: Variant => "word"` (`Kind: Variant(_) => ..` for a variant with an
/// argument) gives the kind, the [`Trait`] variant it stands for, its word, its
/// place in [`TraitKind::ALL`] and its arm of [`Trait::kind`].
macro_rules! trait_kinds {
    ($($kind:ident: $variant:ident $(($($arg:tt)*))? => $word:literal,)+) => {
        /// A [`Trait`] without its argument: what kind of trait a node has.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum TraitKind {
            $(
                #[doc = concat!("[`Trait::", stringify!($variant), "`].")]
                $kind,
            )+
        }

        impl TraitKind {
            /// Every trait kind, in declaration order (the order of the grammar).
            pub const ALL: [TraitKind; [$(stringify!($kind)),+].len()] = [$(TraitKind::$kind),+];

            /// The word in the text form (before any `=`): `setsid`, `kill-parent`, ...
            pub const fn name(self) -> &'static str {
                match self {
                    $(TraitKind::$kind => $word,)+
                }
            }
        }

        impl Trait {
            /// What kind of trait this is.
            pub const fn kind(self) -> TraitKind {
                match self {
                    $(Trait::$variant $(($($arg)*))? => TraitKind::$kind,)+
                }
            }
        }
    };
}

trait_kinds! {
    Setsid: Setsid => "setsid",
    Setpgid: Setpgid => "setpgid",
    IgnoreTerm: IgnoreTerm => "ignore-term",
    IgnoreInt: IgnoreInt => "ignore-int",
    IgnoreHup: IgnoreHup => "ignore-hup",
    BlockAll: BlockAll => "block-all",
    SigchldIgn: SigchldIgn => "sigchld-ign",
    RespawnOnTerm: RespawnOnTerm => "respawn-on-term",
    ExecFresh: ExecFresh => "exec-fresh",
    Stop: Stop => "stop",
    Subreaper: Subreaper => "subreaper",
    EvilName: EvilName => "evil-name",
    KillParent: KillParent(_) => "kill-parent",
    KillAncestors: KillAncestors(_) => "kill-ancestors",
    TermKillParent: TermKillParent(_) => "term-kill-parent",
    TermKillAncestors: TermKillAncestors(_) => "term-kill-ancestors",
    Graceful: GracefulMs(_) => "graceful",
    Userns: Userns => "userns",
    CgroupNest: CgroupNest => "cgroup-nest",
    Ignore: Ignore(_) => "ignore",
    SlowExit: SlowExit(_) => "slow-exit",
}

/// What follows the `=` of a trait word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TraitArg {
    /// No `=`.
    None,
    /// A signal name ([`Sig`]).
    Signal,
    /// A duration (`500ms`, `2s`).
    Duration,
    /// Nothing, or a size (`=32MiB`): `slow-exit`.
    OptionalSize,
}

impl TraitKind {
    /// The trait kind named `word`, if any (exact, case-sensitive).
    pub fn from_name(word: &str) -> Option<TraitKind> {
        TraitKind::ALL.into_iter().find(|k| k.name() == word)
    }

    /// What the word takes after `=`.
    pub(crate) const fn arg(self) -> TraitArg {
        match self {
            TraitKind::KillParent
            | TraitKind::KillAncestors
            | TraitKind::TermKillParent
            | TraitKind::TermKillAncestors
            | TraitKind::Ignore => TraitArg::Signal,
            TraitKind::Graceful => TraitArg::Duration,
            TraitKind::SlowExit => TraitArg::OptionalSize,
            _ => TraitArg::None,
        }
    }

    /// The trait of this kind with signal `sig`, for the kinds that take one.
    pub(crate) const fn with_signal(self, sig: Sig) -> Option<Trait> {
        Some(match self {
            TraitKind::KillParent => Trait::KillParent(sig),
            TraitKind::KillAncestors => Trait::KillAncestors(sig),
            TraitKind::TermKillParent => Trait::TermKillParent(sig),
            TraitKind::TermKillAncestors => Trait::TermKillAncestors(sig),
            TraitKind::Ignore => Trait::Ignore(sig),
            _ => return None,
        })
    }

    /// The trait of this kind, for the kinds without an argument, and with its
    /// default for `slow-exit` ([`SLOW_EXIT_MIB`]).
    pub const fn plain(self) -> Option<Trait> {
        Some(match self {
            TraitKind::Setsid => Trait::Setsid,
            TraitKind::Setpgid => Trait::Setpgid,
            TraitKind::IgnoreTerm => Trait::IgnoreTerm,
            TraitKind::IgnoreInt => Trait::IgnoreInt,
            TraitKind::IgnoreHup => Trait::IgnoreHup,
            TraitKind::BlockAll => Trait::BlockAll,
            TraitKind::SigchldIgn => Trait::SigchldIgn,
            TraitKind::RespawnOnTerm => Trait::RespawnOnTerm,
            TraitKind::ExecFresh => Trait::ExecFresh,
            TraitKind::Stop => Trait::Stop,
            TraitKind::Subreaper => Trait::Subreaper,
            TraitKind::EvilName => Trait::EvilName,
            TraitKind::Userns => Trait::Userns,
            TraitKind::CgroupNest => Trait::CgroupNest,
            TraitKind::SlowExit => Trait::SlowExit(SLOW_EXIT_MIB),
            TraitKind::KillParent
            | TraitKind::KillAncestors
            | TraitKind::TermKillParent
            | TraitKind::TermKillAncestors
            | TraitKind::Graceful
            | TraitKind::Ignore => return None,
        })
    }
}

impl Trait {
    /// Every trait without an argument, in declaration order (`slow-exit` with
    /// its default size). Traits with an argument (`kill-parent=SIG`,
    /// `graceful=DUR`, ...) are listed by kind only: [`TraitKind::ALL`].
    pub const ALL: [Trait; 15] = [
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
        Trait::Subreaper,
        Trait::EvilName,
        Trait::Userns,
        Trait::CgroupNest,
        Trait::SlowExit(SLOW_EXIT_MIB),
    ];

    /// The word in the text form, before any `=`: `setsid`, `ignore-term`,
    /// `kill-parent`, ...
    pub const fn name(self) -> &'static str {
        self.kind().name()
    }

    /// The trait written `word`, for a trait without an argument (exact,
    /// case-sensitive); `None` for any other word, `kill-parent` included (parse
    /// `kill-parent=term` with [`FromStr`]).
    pub fn from_name(word: &str) -> Option<Trait> {
        TraitKind::from_name(word).and_then(TraitKind::plain)
    }

    /// The signal of a trait that sends one.
    pub const fn signal(self) -> Option<Sig> {
        match self {
            Trait::KillParent(s)
            | Trait::KillAncestors(s)
            | Trait::TermKillParent(s)
            | Trait::TermKillAncestors(s)
            | Trait::Ignore(s) => Some(s),
            _ => None,
        }
    }
}

impl FromStr for Trait {
    type Err = UnknownName;

    /// One trait word as the text form writes it: `setsid`, `kill-parent=term`,
    /// `graceful=2s` (no spaces).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownName {
            what: "trait",
            word: s.to_owned(),
            expected: TRAIT_NAMES,
        };
        let (word, value) = match s.split_once('=') {
            Some((word, value)) => (word, Some(value)),
            None => (s, None),
        };
        let kind = TraitKind::from_name(word).ok_or_else(unknown)?;
        let bad = |what, v: &str, expected| UnknownName {
            what,
            word: v.to_owned(),
            expected,
        };
        match (kind.arg(), value) {
            (TraitArg::None | TraitArg::OptionalSize, None) => kind.plain().ok_or_else(unknown),
            (TraitArg::OptionalSize, Some(v)) => size_mib(v)
                .map(Trait::SlowExit)
                .ok_or_else(|| bad("size", v, "a size of 1MiB to 256MiB, such as 32MiB")),
            (TraitArg::Signal, Some(v)) => {
                let sig = v.parse::<Sig>()?;
                if kind == TraitKind::Ignore && sig == Sig::Stop {
                    return Err(unknown());
                }
                kind.with_signal(sig).ok_or_else(unknown)
            }
            (TraitArg::Duration, Some(v)) => duration_ms(v)
                .map(Trait::GracefulMs)
                .ok_or_else(|| bad("duration", v, "a duration such as 500ms or 2s")),
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for TraitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trait_list_names_every_trait_once() {
        let listed: Vec<&str> = TRAIT_NAMES
            .split(", ")
            .map(|w| w.split(['=', '[']).next().unwrap())
            .collect();
        let names: Vec<&str> = TraitKind::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(listed, names);
        // The argument each list entry shows is the one the parser wants.
        for entry in TRAIT_NAMES.split(", ") {
            let kind = TraitKind::from_name(entry.split(['=', '[']).next().unwrap()).unwrap();
            let shown = match entry.split_once('=') {
                None => TraitArg::None,
                Some((_, "SIG")) => TraitArg::Signal,
                Some((_, "DUR")) => TraitArg::Duration,
                Some((_, "SIZE]")) => TraitArg::OptionalSize,
                Some((_, other)) => panic!("{entry}: unknown argument {other}"),
            };
            assert_eq!(kind.arg(), shown, "{entry}");
        }
    }

    #[test]
    fn an_unknown_trait_name_is_an_error_that_lists_the_choices() {
        let err = "setsd".parse::<Trait>().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("unknown trait \"setsd\" (expected one of: {TRAIT_NAMES})")
        );
    }

    #[test]
    fn single_trait_words_parse_with_their_argument() {
        assert_eq!("setsid".parse::<Trait>(), Ok(Trait::Setsid));
        assert_eq!(
            "kill-parent=usr1".parse::<Trait>(),
            Ok(Trait::KillParent(Sig::Usr1))
        );
        assert_eq!(
            "term-kill-ancestors=stop".parse::<Trait>(),
            Ok(Trait::TermKillAncestors(Sig::Stop))
        );
        assert_eq!("graceful=2s".parse::<Trait>(), Ok(Trait::GracefulMs(2000)));
        assert_eq!("graceful=15ms".parse::<Trait>(), Ok(Trait::GracefulMs(15)));
        assert_eq!("slow-exit".parse::<Trait>(), Ok(Trait::SlowExit(256)));
        assert_eq!("slow-exit=8MiB".parse::<Trait>(), Ok(Trait::SlowExit(8)));
        for (bad, size) in [("slow-exit=0MiB", "0MiB"), ("slow-exit=1GiB", "1GiB")] {
            let err = bad.parse::<Trait>().unwrap_err();
            assert_eq!((err.what, err.word.as_str()), ("size", size));
        }
        for bad in ["kill-parent", "setsid=term", "graceful"] {
            let err = bad.parse::<Trait>().unwrap_err();
            assert_eq!((err.what, err.word.as_str()), ("trait", bad));
        }
        let err = "kill-parent=kill".parse::<Trait>().unwrap_err();
        assert_eq!((err.what, err.word.as_str()), ("signal", "kill"));
        let err = "kill-parent=".parse::<Trait>().unwrap_err();
        assert_eq!((err.what, err.word.as_str()), ("signal", ""));
        let err = "graceful=2min".parse::<Trait>().unwrap_err();
        assert_eq!((err.what, err.word.as_str()), ("duration", "2min"));
    }

    #[test]
    fn upward_and_sigterm_traits_are_the_documented_ones() {
        let upward: Vec<TraitKind> = TraitKind::ALL
            .into_iter()
            .filter(|k| match k.arg() {
                TraitArg::Signal => k.with_signal(Sig::Term).unwrap().is_upward(),
                _ => k.plain().is_some_and(Trait::is_upward),
            })
            .collect();
        assert_eq!(
            upward,
            [
                TraitKind::KillParent,
                TraitKind::KillAncestors,
                TraitKind::TermKillParent,
                TraitKind::TermKillAncestors
            ]
        );
        let sigterm: Vec<Trait> = [
            Trait::IgnoreTerm,
            Trait::IgnoreInt,
            Trait::RespawnOnTerm,
            Trait::KillParent(Sig::Term),
            Trait::TermKillParent(Sig::Term),
            Trait::TermKillAncestors(Sig::Hup),
            Trait::GracefulMs(1),
        ]
        .into_iter()
        .filter(|t| t.sets_sigterm())
        .collect();
        assert_eq!(
            sigterm,
            [
                Trait::IgnoreTerm,
                Trait::RespawnOnTerm,
                Trait::TermKillParent(Sig::Term),
                Trait::TermKillAncestors(Sig::Hup),
                Trait::GracefulMs(1)
            ]
        );
    }
}
