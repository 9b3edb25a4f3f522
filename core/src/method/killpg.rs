//! `killpg`: what aurae PR 599 does — put the leader in its own process group and
//! kill the group.
//!
//! Teardown: `killpg(pgid, SIGKILL)` (gracefully: SIGTERM + SIGCONT to the group,
//! wait up to the grace for the leader, then SIGKILL the group if the leader is
//! still there), then reap the leader only. Known weaknesses, kept on purpose: a
//! process that left the group (`setsid`, `setpgid`) is never signalled, and the
//! call returns before the leader's descendants have exited (they are not our
//! children: nobody here waits for them).
//!
//! The group is signalled before the leader is reaped: the zombie leader keeps the
//! PGID reserved, so the kill cannot hit a recycled group (Bazel issue 11910).

use std::process::Command;
use std::time::Instant;

use crate::driver::{Drained, Driver};
use crate::held::{Drain, HeldLeader, HeldTree, Teardown};
use crate::options::TeardownOptions;
use crate::sys::signal::kill_process_group;
use crate::waiter::Waiter;
use crate::{Method, SpawnError, TeardownError};

pub(crate) fn spawn(cmd: &mut Command) -> Result<Box<dyn Driver>, SpawnError> {
    HeldTree::spawn(Method::Killpg, cmd, GroupKill)
}

/// Sends `sig` to the leader's group; `Ok(false)` if the group is already empty.
pub(crate) fn signal_group(leader: &HeldLeader, sig: i32) -> Result<bool, TeardownError> {
    if leader.is_reaped() {
        // The PGID may have been reused: never signal it again.
        return Ok(false);
    }
    match kill_process_group(leader.pid(), sig) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
        Err(e) => Err(TeardownError::io("signal the process group")(e)),
    }
}

/// The group-kill part shared with `killpg-waitpgid`: gracefully or not, ends with
/// the group SIGKILLed (unless the leader left within the grace). Returns when the
/// first signal went out, and fills `signalled`/`escalated`.
pub(crate) async fn kill_group(
    leader: &mut HeldLeader,
    opts: TeardownOptions,
    d: &mut Drained,
    w: &dyn Waiter,
) -> Result<Instant, TeardownError> {
    let start = Instant::now();
    let mut kill = true;
    if !opts.grace.is_zero() {
        signal_group(leader, libc::SIGTERM)?;
        signal_group(leader, libc::SIGCONT)?;
        d.signalled += 1;
        kill = !leader.exits_within_grace(start, opts, w).await?;
        d.escalated = kill;
    }
    if kill && signal_group(leader, libc::SIGKILL)? && opts.grace.is_zero() {
        d.signalled += 1;
        d.escalated = true;
    }
    Ok(start)
}

/// Kills the leader's group, reaps the leader.
struct GroupKill;

impl Drain for GroupKill {
    async fn drain(&mut self, t: Teardown<'_>, w: &dyn Waiter) -> Result<(), TeardownError> {
        let Teardown { leader, opts, d } = t;
        let start = kill_group(leader, opts, d, w).await?;
        leader.reap_into(start, opts, d, w).await?;
        d.drain = start.elapsed();
        Ok(())
    }
}
