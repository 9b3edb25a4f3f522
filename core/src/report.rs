//! The drain report.

use std::time::Duration;

use crate::Method;

/// What a teardown did and how long it took.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DrainReport {
    /// The method that ran (for `auto`: the one it picked).
    pub method: Method,
    /// The method asked for (`auto`, or the same as `method`).
    pub requested: Method,
    /// Processes signalled (a group or cgroup kill counts the processes it reached
    /// where known, else 1).
    pub signalled: u64,
    /// Processes reaped by the supervisor (own children and adopted orphans).
    pub reaped: u64,
    /// Walk or kill rounds until drained.
    pub rounds: u64,
    /// True exactly when SIGKILL went to a process of the tree that had not
    /// exited: the grace ran out with something still there, or the grace was zero
    /// and the tree was not empty. False when the tree drained on SIGTERM (or was
    /// gone already). The group methods (`killpg`, `killpg-waitpgid`,
    /// `subreaper`, `proc-walk`'s first signal) cannot tell a group that holds only
    /// the leader's zombie from one with members left: for them it may be true when
    /// the group kill reached nobody alive. The harness's oracle checks it against
    /// how each process it watched actually died.
    pub escalated: bool,
    /// Drain latency: first kill signal to drained.
    #[serde(rename = "drain_us", with = "micros")]
    pub drain: Duration,
    /// The leader's exit status as a shell shows it: the exit code, or 128+signal.
    pub leader_status: Option<i32>,
}

mod micros {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let us: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_micros(us))
    }
}

/// How a `cgroup` or `cgroup-kill` leader got into its cgroup leaf
/// ([`crate::Tree::cgroup_entry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgroupEntry {
    /// Born there by `clone3(CLONE_INTO_CGROUP)`: no cgroup migration, no wait.
    Born,
    /// The kernel refused `clone3` with this errno (`ENOSYS`: older than 5.7 or a
    /// seccomp filter; `EACCES`: a uid set on the `Command` cannot write the leaf;
    /// `EPERM`, `EINVAL`, `E2BIG`), so the leader wrote itself into the leaf's
    /// `cgroup.procs` before exec: a migration, which waits for an RCU grace
    /// period after a quiet spell (~13–16 ms here).
    Moved {
        /// The errno `clone3` failed with.
        clone3_errno: i32,
    },
}
