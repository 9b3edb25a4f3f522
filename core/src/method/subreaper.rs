//! `subreaper`: the supervisor is a subreaper; kill the group, reap until `ECHILD`.
//!
//! Runs in the shim (a subreaper must `waitpid(-1)`, which would steal a host
//! program's other children). Containment: the leader in its own process group,
//! the shim `PR_SET_CHILD_SUBREAPER`, so orphans are re-parented to it. Teardown:
//! `killpg(SIGKILL)` (gracefully: SIGTERM + SIGCONT to the group, reap up to the
//! grace, then SIGKILL the group), then reap every child, own or adopted, until
//! `ECHILD`.
//!
//! Known weakness, kept on purpose: a process that left the group (`setsid`) is
//! never signalled, but is still our descendant, so the reaping never ends — the
//! method hangs until the deadline ([`crate::TeardownError::Deadline`]).
//!
//! The leader's zombie is kept until the group has been SIGKILLed, so the PGID
//! cannot be recycled under the kill (Bazel issue 11910).

use std::time::Instant;

use crate::TeardownError;
use crate::driver::Drained;
use crate::options::TeardownOptions;
use crate::shim::reaper::{Left, Reaper, own_children};
use crate::sys::signal::kill_process_group;

/// Sends `sig` to the leader's group; `Ok(false)` if nobody was there.
fn signal_group(reaper: &Reaper<'_>, sig: i32) -> Result<bool, TeardownError> {
    if reaper.leader_reaped {
        return Ok(false);
    }
    match kill_process_group(reaper.leader(), sig) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
        Err(e) => Err(TeardownError::io("signal the process group")(e)),
    }
}

/// The shim side of the teardown.
pub(crate) fn teardown(
    reaper: &mut Reaper<'_>,
    opts: TeardownOptions,
) -> Result<Drained, TeardownError> {
    let start = Instant::now();
    let deadline = opts.deadline.map(|d| start + d);
    let reaped_before = reaper.reaped;
    let mut d = Drained {
        rounds: 1,
        ..Drained::default()
    };
    let mut left = Left::Running;
    if !opts.grace.is_zero() {
        signal_group(reaper, libc::SIGTERM)?;
        signal_group(reaper, libc::SIGCONT)?;
        d.signalled = 1;
        let grace_end = start + opts.grace;
        let until = deadline.map_or(grace_end, |dl| dl.min(grace_end));
        left = reaper
            .reap_until(true, Some(until))
            .map_err(TeardownError::io("reap"))?;
        d.escalated = left == Left::Running;
    }
    if left == Left::Running {
        let hit = signal_group(reaper, libc::SIGKILL)?;
        if opts.grace.is_zero() {
            d.signalled = 1;
            d.escalated = hit;
        } else {
            d.rounds += 1;
        }
    }
    if reaper
        .reap_until(false, deadline)
        .map_err(TeardownError::io("reap"))?
        != Left::Nothing
    {
        let alive = own_children().map_or(0, |c| c.len());
        return Err(TeardownError::Deadline {
            elapsed: start.elapsed(),
            alive,
        });
    }
    d.reaped = reaper.reaped - reaped_before;
    d.leader = reaper.leader_status;
    d.drain = start.elapsed();
    Ok(d)
}
