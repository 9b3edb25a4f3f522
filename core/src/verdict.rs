//! The words a trial is judged with. They live here, in the core crate, because the
//! harness (which judges), the scenarios (which expect) and downstream tests all
//! speak them.

use std::fmt;
use std::str::FromStr;

/// The oracle's judgement of one trial: exactly one of these.
///
/// Ordered from best to worst (`Ord`): `clean` < `straggler` < `zombie` < `leak` <
/// `bystander-killed` < `hang` < `unsupported` < `error` — a live leaked process is
/// worse than an unreaped dead one. When a trial shows several problems the verdict
/// is the worst one.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every process of the tree is gone and reaped; no bystander harmed.
    Clean,
    /// A tree process was still alive when the supervisor said it was done, but died
    /// within the straggler grace: the supervisor returned before the tree drained.
    Straggler,
    /// A dead tree process whose parent is the supervisor was left unreaped.
    Zombie,
    /// A tree process outlived the supervisor and the straggler grace.
    Leak,
    /// A process outside the tree (a bystander) was killed.
    BystanderKilled,
    /// The supervisor did not finish within the deadline.
    Hang,
    /// The method cannot run on this host (the reason is reported beside it).
    Unsupported,
    /// The trial itself failed (setup, readiness, protocol); not a judgement.
    Error,
}

impl Verdict {
    /// Every verdict, best first.
    pub const ALL: [Verdict; 8] = [
        Verdict::Clean,
        Verdict::Straggler,
        Verdict::Zombie,
        Verdict::Leak,
        Verdict::BystanderKilled,
        Verdict::Hang,
        Verdict::Unsupported,
        Verdict::Error,
    ];

    /// The verdict's word, as printed everywhere: `clean`, `bystander-killed`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Straggler => "straggler",
            Verdict::Leak => "leak",
            Verdict::Zombie => "zombie",
            Verdict::BystanderKilled => "bystander-killed",
            Verdict::Hang => "hang",
            Verdict::Unsupported => "unsupported",
            Verdict::Error => "error",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A verdict word that is not one of [`Verdict::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown verdict \"{word}\" (expected one of: clean, straggler, leak, zombie, bystander-killed, hang, unsupported, error)"
)]
pub struct ParseVerdictError {
    /// The word that was given.
    pub word: String,
}

impl FromStr for Verdict {
    type Err = ParseVerdictError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseVerdictError { word: s.to_owned() })
    }
}
