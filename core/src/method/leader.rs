//! `leader`: what tokio's `Child::kill` (and std's) does — signal the leader only.
//!
//! Containment: the leader gets its own process group (as every in-process method
//! does, so terminal signals to the caller's group do not reach it). Teardown:
//! SIGKILL the leader (gracefully: SIGTERM + SIGCONT to the leader, wait up to the
//! grace, then SIGKILL), then reap it. Everything else in the tree is left running:
//! this is the negative control for aurae issue 534 (an `sh -c` wrapper dies, its
//! background children live on).

use std::process::Command;
use std::time::Instant;

use crate::driver::{Driver, Wait};
use crate::held::{Drain, HeldLeader, HeldTree, Teardown};
use crate::waiter::Waiter;
use crate::{Method, SpawnError, TeardownError};

pub(crate) fn spawn(cmd: &mut Command) -> Result<Box<dyn Driver>, SpawnError> {
    HeldTree::spawn(Method::Leader, cmd, LeaderOnly)
}

/// Signals the leader alone.
struct LeaderOnly;

impl Drain for LeaderOnly {
    async fn drain(&mut self, t: Teardown<'_>, w: &dyn Waiter) -> Result<(), TeardownError> {
        let Teardown { leader, opts, d } = t;
        let start = Instant::now();
        let sig = |l: &HeldLeader, s| l.signal(s).map_err(TeardownError::io("signal the leader"));
        let running = leader
            .observe(Wait::NoHang)
            .map_err(TeardownError::io("wait for the leader"))?
            .is_none();
        if running {
            let mut kill = true;
            if !opts.grace.is_zero() {
                d.signalled += u64::from(sig(leader, libc::SIGTERM)?);
                sig(leader, libc::SIGCONT)?;
                kill = !leader.exits_within_grace(start, opts, w).await?;
                d.escalated = kill;
            }
            if kill {
                let hit = sig(leader, libc::SIGKILL)?;
                if opts.grace.is_zero() {
                    d.signalled += u64::from(hit);
                    d.escalated = hit;
                }
            }
        }
        leader.reap_into(start, opts, d, w).await?;
        d.drain = start.elapsed();
        Ok(())
    }
}
