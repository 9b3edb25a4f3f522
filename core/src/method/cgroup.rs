//! `cgroup`: a fresh cgroup v2 leaf per tree; `cgroup.kill`, then wait for
//! `populated 0`.
//!
//! Containment: the leaf `teardown-<pid>-<n>` is created under this process's own
//! cgroup (or [`SpawnOptions::cgroup_parent`]); its `cgroup.procs` is opened before
//! the fork, and the child writes "0" to it in a `pre_exec` hook, so it is in the
//! leaf before it runs any code of its own and every descendant is born there.
//!
//! Teardown: gracefully, SIGTERM + SIGCONT to every member (by pidfd, membership
//! re-checked after opening it), wait up to the grace for `populated 0`; then
//! `cgroup.kill` (the kernel kills every member, atomically with respect to forks),
//! wait for `populated 0` with `poll(POLLPRI)` on `cgroup.events` (no sleep loops:
//! busy-polling it is harmful at small trees), reap the leader, `rmdir` the leaf.
//!
//! # Host death
//!
//! The method runs in the host, so nothing of the host is left to write
//! `cgroup.kill` if the host is SIGKILLed. Before the leader is spawned, a
//! **watchdog** is started outside the leaf (the shim program in `watch-cgroup`
//! mode, see `shim/watchdog.rs`): it holds the read end of a pipe whose only write
//! end is the host's. A drained teardown (or a failed spawn) removes the leaf and
//! then disarms and reaps the watchdog, before returning; if the host dies
//! instead, the watchdog sees end of file, writes `cgroup.kill`, waits for
//! `populated 0` (at most [`crate::DROP_DEADLINE`]) and removes the leaf. Dropping
//! a tree that was not torn down tears it down with SIGKILL as before; if even that
//! leaves the leaf behind, the watchdog is handed the leaf and keeps trying. The
//! watchdog adds a fork and exec of the shim program to every spawn (about 1 ms);
//! it is on by default ([`SpawnOptions::cgroup_watchdog`]), and spawning fails
//! with `Unsupported` if the shim program cannot be found — never a silent
//! fallback to a tree that would outlive its host.
//!
//! Orphans of the tree are reparented to the nearest subreaper (or init), which
//! reaps them: this process is parent of the leader only (and of the watchdog,
//! which it reaps). Known weakness: a process with write access to another
//! cgroup's `cgroup.procs` (root) can move itself out.

use std::process::Command;
use std::time::Instant;

use crate::cgroup2::{Leaf, LeafError, own_dir};
use crate::held::{HeldLeader, HeldTree, remaining, spawn_group_leader};
use crate::shim::watchdog::Watchdog;
use crate::sys::exec::write_before_exec;
use crate::tree::{Drained, Driver, SpawnOptions, TeardownOptions};
use crate::{Method, SpawnError, TeardownError};

pub(crate) fn spawn(cmd: &mut Command, opts: &SpawnOptions) -> Result<Box<dyn Driver>, SpawnError> {
    let unsupported = |reason: String| SpawnError::Unsupported {
        method: Method::Cgroup,
        reason,
    };
    let parent = match &opts.cgroup_parent {
        Some(p) => p.clone(),
        None => own_dir().map_err(unsupported)?,
    };
    let leaf = Leaf::create(&parent).map_err(|e| match e {
        LeafError::Unsupported(reason) => unsupported(reason),
        LeafError::Io(what, source) => SpawnError::Setup {
            what: what.to_owned(),
            source,
        },
    })?;
    // On error `leaf` drops here and removes the directory.
    let watchdog = if opts.cgroup_watchdog {
        Some(Watchdog::spawn(opts.shim.as_ref(), &leaf)?)
    } else {
        None
    };
    write_before_exec(cmd, leaf.procs_fd(), b"0");
    let leader = match spawn_group_leader(Method::Cgroup, cmd) {
        Ok(l) => l,
        Err(e) => {
            let mut leaf = leaf;
            leaf.clean_up();
            release(&leaf, watchdog);
            return Err(e);
        }
    };
    Ok(Box::new(CgroupTree {
        leader,
        leaf,
        watchdog,
    }))
}

struct CgroupTree {
    leader: HeldLeader,
    leaf: Leaf,
    /// Taken when released (see [`release`]).
    watchdog: Option<Watchdog>,
}

/// Ends the watchdog: disarmed (and reaped) if the leaf is removed, else handed
/// the leaf to kill and remove as if this process had died.
fn release(leaf: &Leaf, watchdog: Option<Watchdog>) {
    match watchdog {
        Some(w) if leaf.is_removed() => w.disarm(),
        Some(w) => w.hand_over(),
        None => {}
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        // `Tree`'s drop has already tried a SIGKILL teardown; a leaf still here is
        // a failed one: kill, wait a little, remove, and if even that fails the
        // watchdog takes the leaf over.
        self.leaf.clean_up();
        release(&self.leaf, self.watchdog.take());
    }
}

impl HeldTree for CgroupTree {
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
        let members = self
            .leaf
            .pids()
            .map_err(TeardownError::io("read cgroup.procs"))?;
        let start = Instant::now();
        let mut empty = members.is_empty();
        if !opts.grace.is_zero() && !empty {
            let grace = remaining(start, opts.deadline).map_or(opts.grace, |r| r.min(opts.grace));
            // Members can fork between the read of cgroup.procs and their signal:
            // read again and signal the new ones until a read finds none, so the
            // whole tree gets SIGTERM (bounded by the grace; what is left gets
            // SIGKILL after it anyway).
            let mut seen: std::collections::HashSet<i32> = std::collections::HashSet::new();
            let mut batch = members.clone();
            while !batch.is_empty() && start.elapsed() < grace {
                for &pid in &batch {
                    seen.insert(pid);
                    let hit = self
                        .leaf
                        .signal_member(pid, &[libc::SIGTERM, libc::SIGCONT])
                        .map_err(TeardownError::io("signal a cgroup member"))?;
                    d.signalled += u64::from(hit);
                }
                batch = self
                    .leaf
                    .pids()
                    .map_err(TeardownError::io("read cgroup.procs"))?
                    .into_iter()
                    .filter(|p| !seen.contains(p))
                    .collect();
            }
            empty = self
                .leaf
                .wait_empty(Some(grace.saturating_sub(start.elapsed())))
                .map_err(TeardownError::io("wait for cgroup.events"))?;
            d.escalated = !empty;
            d.rounds += u64::from(!empty);
        }
        if !empty {
            self.leaf
                .kill()
                .map_err(TeardownError::io("write cgroup.kill"))?;
            if opts.grace.is_zero() {
                d.signalled += members.len() as u64;
            }
            let drained = self
                .leaf
                .wait_empty(remaining(start, opts.deadline))
                .map_err(TeardownError::io("wait for cgroup.events"))?;
            if !drained {
                let alive = self.leaf.pids().map_or(0, |p| p.len());
                return Err(TeardownError::Deadline {
                    elapsed: start.elapsed(),
                    alive,
                });
            }
        }
        self.leader.reap_into(start, opts, &mut d)?;
        d.drain = start.elapsed();
        self.leaf
            .remove()
            .map_err(TeardownError::io("remove the cgroup leaf"))?;
        release(&self.leaf, self.watchdog.take());
        Ok(d)
    }
}
