//! The words a trial is judged with. They live here, in the core crate, because the
//! harness (which judges), the scenarios (which expect) and downstream tests all
//! speak them.

use std::fmt;
use std::str::FromStr;

/// The oracle's judgement of one trial: exactly one of these, the worst of what it
/// found (every finding is listed beside it).
///
/// Each word is one part of the contract a teardown keeps: once the supervisor
/// says done, nothing of the tree survives (`leak`) or still exists (`early`); no
/// dead process is held unreaped by the supervisor side (`zombie`); a node that
/// handles SIGTERM and needs less than the grace gets to finish (`grace-cut`); the
/// drain report is true (`false-report`); nothing the supervisor made is left
/// (`leftover`); the supervisor exits as it promises (`bad-exit`) and is not
/// killed by its own tree (`supervisor-killed`); no bystander is hurt.
///
/// Ordered from best to worst (`Ord`): `clean` < `leftover` < `false-report` <
/// `bad-exit` < `supervisor-killed` < `grace-cut` < `early` < `zombie` < `leak` <
/// `bystander-killed` < `hang` < `unsupported` < `error`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every part of the contract kept.
    Clean,
    /// Something the supervisor made is left after it said done: a cgroup, a
    /// mount, a helper process.
    Leftover,
    /// The supervisor's drain report is not what happened (it said nothing got
    /// SIGKILL, and something did; or the leader's status is not the one it had).
    FalseReport,
    /// The supervisor exited with a status it does not promise (`teardown run`:
    /// 125 after a drain that succeeded, or not the leader's status).
    BadExit,
    /// The supervisor was killed by a signal from its own tree.
    SupervisorKilled,
    /// A node that handles SIGTERM and needed less than the grace was killed
    /// before it finished.
    GraceCut,
    /// A tree process still existed (running, or dying) when the supervisor said
    /// it was done, and was gone within the straggler grace: it returned before
    /// the tree drained.
    Early,
    /// A dead process was held unreaped by a live process of the supervisor side.
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
    pub const ALL: [Verdict; 13] = [
        Verdict::Clean,
        Verdict::Leftover,
        Verdict::FalseReport,
        Verdict::BadExit,
        Verdict::SupervisorKilled,
        Verdict::GraceCut,
        Verdict::Early,
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
            Verdict::Leftover => "leftover",
            Verdict::FalseReport => "false-report",
            Verdict::BadExit => "bad-exit",
            Verdict::SupervisorKilled => "supervisor-killed",
            Verdict::GraceCut => "grace-cut",
            Verdict::Early => "early",
            Verdict::Zombie => "zombie",
            Verdict::Leak => "leak",
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

/// Every verdict word, comma-separated, best first.
fn verdict_names() -> String {
    Verdict::ALL.map(Verdict::as_str).join(", ")
}

/// A verdict word that is not one of [`Verdict::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown verdict \"{word}\" (expected one of: {})", verdict_names())]
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
