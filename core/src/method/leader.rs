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

use crate::held::{HeldLeader, HeldTree, remaining, spawn_group_leader};
use crate::tree::{Drained, Driver, TeardownOptions, Wait};
use crate::{Method, SpawnError, TeardownError};

pub(crate) fn spawn(cmd: &mut Command) -> Result<Box<dyn Driver>, SpawnError> {
    let leader = spawn_group_leader(Method::Leader, cmd)?;
    Ok(Box::new(LeaderTree { leader }))
}

struct LeaderTree {
    leader: HeldLeader,
}

impl HeldTree for LeaderTree {
    fn held(&self) -> &HeldLeader {
        &self.leader
    }

    fn held_mut(&mut self) -> &mut HeldLeader {
        &mut self.leader
    }

    fn drain(&mut self, opts: TeardownOptions) -> Result<Drained, TeardownError> {
        let start = Instant::now();
        let mut d = Drained {
            rounds: 1,
            ..Drained::default()
        };
        if self.leader.is_reaped() {
            d.leader = self.leader.exited();
            return Ok(d);
        }
        let sig = |l: &HeldLeader, s| l.signal(s).map_err(TeardownError::io("signal the leader"));
        let running = self
            .leader
            .observe(Wait::NoHang)
            .map_err(TeardownError::io("wait for the leader"))?
            .is_none();
        if running {
            let mut kill = true;
            if !opts.grace.is_zero() {
                d.signalled += u64::from(sig(&self.leader, libc::SIGTERM)?);
                sig(&self.leader, libc::SIGCONT)?;
                let grace =
                    remaining(start, opts.deadline).map_or(opts.grace, |r| r.min(opts.grace));
                let gone = self
                    .leader
                    .observe(Wait::For(grace))
                    .map_err(TeardownError::io("wait for the leader"))?;
                kill = gone.is_none();
                d.escalated = kill;
            }
            if kill {
                let hit = sig(&self.leader, libc::SIGKILL)?;
                if opts.grace.is_zero() {
                    d.signalled += u64::from(hit);
                    d.escalated = hit;
                }
            }
        }
        self.leader.reap_into(start, opts, &mut d)?;
        d.drain = start.elapsed();
        Ok(d)
    }
}
