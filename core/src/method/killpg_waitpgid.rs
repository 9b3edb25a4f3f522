//! `killpg-waitpgid`: what process-wrap (and command-group) do — kill the group,
//! then `waitpid(-pgid)` until `ECHILD`.
//!
//! It looks stronger than `killpg` but is not: `waitpid(-pgid)` only waits for
//! *direct* children of the caller in that group — here the leader alone — so
//! grandchildren are not waited for (jmmv.dev, "waiting for process groups", 2019;
//! Bazel issue 10245), and escapes from the group survive just the same.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::driver::{Driver, Wait};
use crate::held::{Drain, HeldTree, Teardown, remaining};
use crate::method::killpg::kill_group;
use crate::sys::wait::{WaitFlags, Who, wait_exit};
use crate::waiter::{Waiter, sleep_until};
use crate::{Method, SpawnError, TeardownError};

pub(crate) fn spawn(cmd: &mut Command) -> Result<Box<dyn Driver>, SpawnError> {
    HeldTree::spawn(Method::KillpgWaitpgid, cmd, GroupKillWaitGroup)
}

/// Kills the leader's group, then `waitpid(-pgid)` until `ECHILD`.
struct GroupKillWaitGroup;

impl Drain for GroupKillWaitGroup {
    async fn drain(&mut self, t: Teardown<'_>, w: &dyn Waiter) -> Result<(), TeardownError> {
        let Teardown { leader, opts, d } = t;
        let start = kill_group(leader, opts, d, w).await?;
        let left = remaining(start, opts.deadline);
        let wait = left.map_or(Wait::Forever, Wait::For);
        if leader
            .observe_on(wait, w)
            .await
            .map_err(TeardownError::io("wait for the leader"))?
            .is_none()
        {
            return Err(TeardownError::Deadline {
                elapsed: start.elapsed(),
                alive: 1,
            });
        }
        // `waitpid(-pgid)` until `ECHILD`: past the leader, only children of this
        // process in the group are waited for (the leader's `CLONE_PARENT`
        // children). They have no descriptor to wait on: look again with a backoff
        // (1 ms doubling to 50 ms), bounded by the deadline.
        let pgid = leader.pid();
        let mut nap = Duration::from_millis(1);
        loop {
            match wait_exit(Who::Group(pgid), WaitFlags::REAP_NOHANG) {
                Ok(Some((pid, status))) => {
                    d.reaped += 1;
                    if pid == pgid {
                        leader.mark_reaped(status);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
                Err(e) => return Err(TeardownError::io("waitpid(-pgid)")(e)),
            }
            if remaining(start, opts.deadline).is_some_and(|l| l.is_zero()) {
                return Err(TeardownError::Deadline {
                    elapsed: start.elapsed(),
                    alive: 1,
                });
            }
            sleep_until(w, Instant::now() + nap)
                .await
                .map_err(TeardownError::io("wait for the process group"))?;
            nap = (nap * 2).min(Duration::from_millis(50));
        }
        d.leader = leader.exited();
        d.drain = start.elapsed();
        Ok(())
    }
}
