//! The [`Method`] enum: names, parsing, and what each one promises.

use std::fmt;
use std::str::FromStr;

/// How a tree is contained at spawn, and how it is killed and drained.
///
/// See the crate docs for each method's mechanism and known weakness.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// `kill(leader, SIGKILL)`, wait the leader (tokio `Child::kill`).
    Leader,
    /// `killpg(SIGKILL)`, wait the leader (aurae PR 599).
    Killpg,
    /// `killpg`, then `waitpid(-pgid)` until `ECHILD` (process-wrap).
    KillpgWaitpgid,
    /// group + a subreaper shim: `killpg`, reap until `ECHILD`.
    Subreaper,
    /// a fresh cgroup v2 leaf: `cgroup.kill` alone, wait `populated 0` (systemd's
    /// path; misses a process whose main thread has exited).
    CgroupKill,
    /// subreaper shim that walks `/proc` children and kills by identity-checked pidfd.
    ProcWalk,
    /// a fresh cgroup v2 leaf: `cgroup.kill`, then a TGID-wide kill of what is
    /// left, until `populated 0`.
    Cgroup,
    /// a tiny init that is PID 1 of a new PID namespace: kill the init.
    Pidns,
    /// the strongest method that runs here: `pidns`, else `cgroup`, else
    /// `proc-walk`, found by spawning (see the crate docs).
    Auto,
}

impl Method {
    /// Every method, weakest first, `auto` last.
    pub const ALL: [Method; 9] = [
        Method::Leader,
        Method::Killpg,
        Method::KillpgWaitpgid,
        Method::Subreaper,
        Method::CgroupKill,
        Method::ProcWalk,
        Method::Cgroup,
        Method::Pidns,
        Method::Auto,
    ];

    /// The method's name, as parsed and printed: `killpg-waitpgid`, `proc-walk`, ...
    pub fn name(self) -> &'static str {
        match self {
            Method::Leader => "leader",
            Method::Killpg => "killpg",
            Method::KillpgWaitpgid => "killpg-waitpgid",
            Method::Subreaper => "subreaper",
            Method::CgroupKill => "cgroup-kill",
            Method::ProcWalk => "proc-walk",
            Method::Cgroup => "cgroup",
            Method::Pidns => "pidns",
            Method::Auto => "auto",
        }
    }

    /// True for the methods that hold against every escape (`proc-walk`, `cgroup`,
    /// `pidns`, `auto`); false for the weak ones kept as negative controls.
    pub fn is_escape_proof(self) -> bool {
        matches!(
            self,
            Method::ProcWalk | Method::Cgroup | Method::Pidns | Method::Auto
        )
    }
}

impl Method {
    /// True for the methods whose supervisor side the tree cannot name (`pidns`,
    /// and `auto`, which picks it where the host allows): only they survive a
    /// tree that stops its parent or ancestors, since SIGSTOP can be neither
    /// blocked nor handled. Every other method's host or shim is the tree's
    /// parent or ancestor.
    pub fn hides_supervisor(self) -> bool {
        matches!(self, Method::Pidns | Method::Auto)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Method {
    type Err = ParseMethodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| ParseMethodError { name: s.to_owned() })
    }
}

/// A method name that is not one of [`Method::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown method \"{name}\" (expected one of: {})", method_names())]
pub struct ParseMethodError {
    /// The name that was given.
    pub name: String,
}

/// Every method name, comma-separated, in [`Method::ALL`] order.
fn method_names() -> String {
    Method::ALL.map(Method::name).join(", ")
}
