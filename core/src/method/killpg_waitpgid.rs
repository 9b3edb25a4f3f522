//! `killpg-waitpgid`: what process-wrap (and command-group) do — kill the group,
//! then `waitpid(-pgid)` until `ECHILD`.
//!
//! It looks stronger than `killpg` but is not: `waitpid(-pgid)` only waits for
//! *direct* children of the caller in that group — here the leader alone — so
//! grandchildren are not waited for (jmmv.dev, "waiting for process groups", 2019;
//! Bazel issue 10245), and escapes from the group survive just the same.

use std::process::Command;

use crate::held::{HeldLeader, HeldTree, remaining, spawn_group_leader};
use crate::method::killpg::kill_group;
use crate::sys::wait::{WaitFlags, Who, wait_exit};
use crate::tree::{Drained, Driver, TeardownOptions, Wait};
use crate::{Method, SpawnError, TeardownError};

pub(crate) fn spawn(cmd: &mut Command) -> Result<Box<dyn Driver>, SpawnError> {
    let leader = spawn_group_leader(Method::KillpgWaitpgid, cmd)?;
    Ok(Box::new(WaitPgidTree { leader }))
}

struct WaitPgidTree {
    leader: HeldLeader,
}

impl HeldTree for WaitPgidTree {
    fn held(&self) -> &HeldLeader {
        &self.leader
    }

    fn held_mut(&mut self) -> &mut HeldLeader {
        &mut self.leader
    }

    fn drain(&mut self, opts: TeardownOptions) -> Result<Drained, TeardownError> {
        let mut d = Drained {
            rounds: 1,
            ..Drained::default()
        };
        if self.leader.is_reaped() {
            d.leader = self.leader.exited();
            return Ok(d);
        }
        let start = kill_group(&mut self.leader, opts, &mut d)?;
        // Bound the blocking loop below by the deadline: it can only block on the
        // leader (our only child in the group).
        let left = remaining(start, opts.deadline);
        let seen = match left {
            Some(t) => self.leader.observe(Wait::For(t)),
            None => self.leader.observe(Wait::Forever),
        };
        if seen
            .map_err(TeardownError::io("wait for the leader"))?
            .is_none()
        {
            return Err(TeardownError::Deadline {
                elapsed: start.elapsed(),
                alive: 1,
            });
        }
        let pgid = self.leader.pid();
        loop {
            match wait_exit(Who::Group(pgid), WaitFlags::REAP) {
                Ok(Some((pid, status))) => {
                    d.reaped += 1;
                    if pid == pgid {
                        self.leader.mark_reaped(status);
                    }
                }
                Ok(None) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
                Err(e) => return Err(TeardownError::io("waitpid(-pgid)")(e)),
            }
        }
        d.leader = self.leader.exited();
        d.drain = start.elapsed();
        Ok(d)
    }
}
