//! `killpg-waitpgid`: what process-wrap (and command-group) do — kill the group,
//! then `waitpid(-pgid)` until `ECHILD`.
//!
//! It looks stronger than `killpg` but is not: `waitpid(-pgid)` only waits for
//! *direct* children of the caller in that group — here the leader alone — so
//! grandchildren are not waited for (jmmv.dev, "waiting for process groups", 2019;
//! Bazel issue 10245), and escapes from the group survive just the same.

use std::process::Command;

use crate::driver::{Driver, Wait};
use crate::held::{Drain, HeldTree, Teardown, remaining};
use crate::method::killpg::kill_group;
use crate::sys::wait::{WaitFlags, Who, wait_exit};
use crate::{Method, SpawnError, TeardownError};

pub(crate) fn spawn(cmd: &mut Command) -> Result<Box<dyn Driver>, SpawnError> {
    HeldTree::spawn(Method::KillpgWaitpgid, cmd, GroupKillWaitGroup)
}

/// Kills the leader's group, then `waitpid(-pgid)` until `ECHILD`.
struct GroupKillWaitGroup;

impl Drain for GroupKillWaitGroup {
    fn drain(&mut self, t: Teardown<'_>) -> Result<(), TeardownError> {
        let Teardown { leader, opts, d } = t;
        let start = kill_group(leader, opts, d)?;
        // Bound the blocking loop below by the deadline: it can only block on the
        // leader (our only child in the group).
        let left = remaining(start, opts.deadline);
        let seen = match left {
            Some(t) => leader.observe(Wait::For(t)),
            None => leader.observe(Wait::Forever),
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
        let pgid = leader.pid();
        loop {
            match wait_exit(Who::Group(pgid), WaitFlags::REAP) {
                Ok(Some((pid, status))) => {
                    d.reaped += 1;
                    if pid == pgid {
                        leader.mark_reaped(status);
                    }
                }
                Ok(None) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
                Err(e) => return Err(TeardownError::io("waitpid(-pgid)")(e)),
            }
        }
        d.leader = leader.exited();
        d.drain = start.elapsed();
        Ok(())
    }
}
