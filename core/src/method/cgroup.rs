//! `cgroup`: a fresh cgroup v2 leaf per tree; `cgroup.kill`, then a TGID-wide
//! kill of whatever is left, until `populated 0`. Also `cgroup-kill`, the same
//! without the TGID-wide kill (systemd's path), kept as a negative control.
//!
//! Containment: the leaf `teardown-<ns>-<pid>-<n>` is created under this process's
//! own cgroup (or [`SpawnOptions::cgroup_parent`]), and the leader is *born* in
//! it: std's `Command::spawn` forks and applies everything the caller set (stdio,
//! cwd, environment, uid/gid, process group, the caller's `pre_exec` hooks), and
//! a last hook makes the leader from there with `clone3(CLONE_INTO_CGROUP |
//! CLONE_PARENT)` — a child of the host, in the leaf before it runs any code of
//! its own — which execs the program (see `sys/born_in_cgroup.rs` for what a
//! caller's hook sets that is carried over, and what is not). So the spawn costs
//! one more fork, never a cgroup migration's wait (~13–16 ms after a quiet
//! spell). If the kernel refuses the `clone3` (older than 5.7, a seccomp filter,
//! or a uid set on the `Command` that cannot write the leaf), the child joins the
//! leaf by writing "0" to its `cgroup.procs` (opened by the host) and is the
//! leader itself: [`crate::Tree::cgroup_entry`] says which happened. Every
//! descendant is born in the leaf (or in a cgroup it makes below: the subtree is
//! the tree, see `cgroup2/leaf/`).
//!
//! Teardown: gracefully, SIGTERM + SIGCONT to every member of the subtree (by
//! pidfd, membership re-checked after opening it), wait up to the grace for
//! `populated 0`; then [`Leaf::kill_all`]: `cgroup.kill` (the kernel kills every
//! member, atomically with respect to forks), and at every stall a TGID-wide
//! SIGKILL by pidfd to each member left (a process whose main thread has exited
//! survives `cgroup.kill` alone), waiting with `poll(POLLPRI)` on `cgroup.events`
//! (no sleep loops: busy-polling it is harmful at small trees). Empty is not
//! exited (a task leaves its cgroup before the end of its exit, and a nested PID
//! namespace's init spends long there): every member PID the teardown read is
//! waited for by pidfd too (`Leaf::wait_exited_on`). Then reap the
//! leader, reap any other child of this process that died in the leaf (the
//! leader's `clone(CLONE_PARENT)` children are the host's), and remove the leaf
//! and every cgroup the tree made below it, deepest first. A tree that moved this
//! process into its leaf (root can) has it moved back out before the kill.
//!
//! # Host death
//!
//! The method runs in the host, so nothing of the host is left to write
//! `cgroup.kill` if the host is SIGKILLed. Before the leader is spawned, a
//! **watchdog** is started outside the leaf (the shim program in `watch-cgroup`
//! mode, see `shim/watchdog.rs`): it holds the read end of a pipe whose only write
//! end is the host's. A drained teardown (or a failed spawn) removes the leaf and
//! then disarms and reaps the watchdog, before returning; if the host dies
//! instead, the watchdog sees end of file and kills and removes the leaf as a
//! teardown would (at most [`crate::DROP_DEADLINE`]). Dropping
//! a tree that was not torn down tears it down with SIGKILL as before; if even that
//! leaves the leaf behind, the watchdog is handed the leaf and keeps trying. The
//! watchdog adds a fork and exec of the shim program to every spawn (about 1 ms);
//! it is on by default ([`SpawnOptions::cgroup_watchdog`]), and spawning fails
//! with `Unsupported` if the shim program cannot be found — never a silent
//! fallback to a tree that would outlive its host.
//!
//! # Known weaknesses
//!
//! The host is the leader's parent and visible to the tree: a tree that stops it
//! (`kill -STOP $PPID`) hangs the teardown, and only a PID namespace prevents that
//! (`pidns`, which `auto` prefers). A process with write access to another
//! cgroup's `cgroup.procs` can move itself out: root, and, in a delegated
//! subtree (how a non-root host gets a writable `cgroup_parent`), every process
//! of the delegatee's uid. Seen: `teardown run --method cgroup` as uid 65534 in a
//! delegated cgroup, a child writing its PID into the delegated parent's
//! `cgroup.procs` lived on while the teardown reported the tree drained. Without
//! root, prefer `pidns` (with a user namespace, what `auto` picks): no process
//! leaves a PID namespace.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Instant;

use crate::cgroup2::{Leaf, LeafError, own_dir};
use crate::driver::Driver;
use crate::fds::pipe_cloexec;
use crate::held::{Drain, HeldLeader, HeldTree, Teardown, kernel_reaps_children, remaining};
use crate::options::SpawnOptions;
use crate::pidfd::PidFd;
use crate::shim::reaper::own_children;
use crate::shim::watchdog::{self, Watchdog};
use crate::sys::born_in_cgroup::{Joined, be_born_in_cgroup};
use crate::sys::wait::{WaitFlags, Who, wait_exit};
use crate::waiter::Waiter;
use crate::{CgroupEntry, Method, SpawnError, TeardownError};

/// Spawns `cmd` in a fresh leaf. `method`: [`Method::Cgroup`], or
/// [`Method::CgroupKill`] (no TGID-wide kill after `cgroup.kill`).
pub(crate) fn spawn(
    method: Method,
    cmd: &mut Command,
    opts: &SpawnOptions,
) -> Result<Box<dyn Driver>, SpawnError> {
    let unsupported = |reason: String| SpawnError::Unsupported { method, reason };
    // What costs nothing first (no process, no cgroup made): `auto` moves on to
    // its next method on `Unsupported`, which every step up to the leaf raises
    // before the command can run.
    if let Some(reason) = kernel_reaps_children() {
        return Err(unsupported(reason));
    }
    let (parent, own) = match &opts.cgroup_parent {
        Some(p) => (p.clone(), false),
        None => (own_dir().map_err(unsupported)?, true),
    };
    let program = if opts.cgroup_watchdog {
        Some(watchdog::program(method, opts.shim.as_ref())?)
    } else {
        None
    };
    let leaf = if own {
        Leaf::create_in_own(&parent)
    } else {
        Leaf::create(&parent)
    };
    let leaf = leaf.map_err(|e| match e {
        LeafError::Unsupported(reason) => unsupported(reason),
        LeafError::Io(what, source) => SpawnError::Setup {
            what: what.to_owned(),
            source,
        },
    })?;
    // On error `leaf` drops here and removes the directory.
    let watchdog = match &program {
        Some(p) => Some(Watchdog::spawn(p, &leaf)?),
        None => None,
    };
    let (leader, entry) = match spawn_in_leaf(method, cmd, &leaf) {
        Ok(l) => l,
        Err(e) => {
            let mut leaf = leaf;
            leaf.clean_up();
            reap_own_children(&leaf, 0);
            release(&leaf, watchdog);
            return Err(e);
        }
    };
    let drain = LeafKill {
        leaf,
        watchdog,
        sweep: method == Method::Cgroup,
        entry,
    };
    Ok(HeldTree::driver(leader, drain))
}

/// Spawns `cmd` as a group leader born in `leaf` (see the module docs): the
/// leader, and how it got into the leaf.
fn spawn_in_leaf(
    method: Method,
    cmd: &mut Command,
    leaf: &Leaf,
) -> Result<(HeldLeader, CgroupEntry), SpawnError> {
    if let Some(reason) = kernel_reaps_children() {
        return Err(SpawnError::Unsupported { method, reason });
    }
    let (report_r, report_w) =
        pipe_cloexec().map_err(SpawnError::setup("create the spawn's report pipe"))?;
    cmd.process_group(0);
    let procs = leaf
        .procs_fd()
        .map_err(SpawnError::setup("open the leaf's cgroup.procs"))?;
    let hook = be_born_in_cgroup(cmd, leaf.dir_fd().as_raw_fd(), procs, report_w.as_raw_fd());
    let spawned = cmd.spawn();
    // The descriptors go with this spawn: a later spawn of `cmd` (`auto` moving
    // on, a caller's mistake) must not use them.
    hook.disarm();
    drop(report_w);
    // Every write end is closed by now (the intermediate exited, or became the
    // leader and exec'd; the leader exec'd or died): this read cannot block.
    let mut bytes = [0u8; 8];
    let joined = File::from(report_r)
        .read_exact(&mut bytes)
        .ok()
        .and_then(|()| Joined::decode(bytes));
    let program = format!("{:?}", cmd.get_program());
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            if let Some(Joined::Born(pid)) = joined {
                // The leader failed to exec (std reaped the intermediate).
                let _ = wait_exit(Who::Pid(pid), WaitFlags::REAP);
            }
            return Err(SpawnError::spawn(program)(e));
        }
    };
    let intermediate = child.id() as i32;
    match joined {
        Some(Joined::Born(pid)) => {
            wait_exit(Who::Pid(intermediate), WaitFlags::REAP)
                .map_err(SpawnError::setup("reap the spawn's intermediate process"))?;
            Ok((HeldLeader::hold(child, pid), CgroupEntry::Born))
        }
        Some(Joined::Moved(errno)) => Ok((
            HeldLeader::hold(child, intermediate),
            CgroupEntry::Moved {
                clone3_errno: errno,
            },
        )),
        None => {
            // The intermediate could not say (its write failed): whatever it made
            // is in the leaf, which the caller kills.
            let _ = wait_exit(Who::Pid(intermediate), WaitFlags::REAP);
            Err(SpawnError::Setup {
                what: "learn how the leader joined its cgroup".to_owned(),
                source: std::io::Error::from_raw_os_error(libc::EIO),
            })
        }
    }
}

/// Kills the leaf, reaps the leader, removes the leaf.
struct LeafKill {
    leaf: Leaf,
    /// Taken when released (see [`release`]).
    watchdog: Option<Watchdog>,
    /// Kill what `cgroup.kill` left by pidfd (`cgroup`); not for `cgroup-kill`.
    sweep: bool,
    /// How the leader got into the leaf.
    entry: CgroupEntry,
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

impl Drop for LeafKill {
    fn drop(&mut self) {
        // `Tree`'s drop has already tried a SIGKILL teardown; a leaf still here is
        // a failed one: kill, wait a little, remove, and if even that fails the
        // watchdog takes the leaf over.
        self.leaf.clean_up();
        release(&self.leaf, self.watchdog.take());
    }
}

impl Drain for LeafKill {
    const OVER_ONCE_REAPED: bool = false;

    fn cgroup_entry(&self) -> Option<CgroupEntry> {
        Some(self.entry)
    }

    async fn drain(&mut self, t: Teardown<'_>, w: &dyn Waiter) -> Result<(), TeardownError> {
        self.drain_on(t, w).await
    }
}

impl LeafKill {
    async fn drain_on(&mut self, t: Teardown<'_>, w: &dyn Waiter) -> Result<(), TeardownError> {
        let Teardown { leader, opts, d } = t;
        if self.leaf.is_removed() {
            // A call cancelled after the leaf was removed: only the watchdog
            // was left to reap.
            d.leader = leader.exited();
            self.disarm_on(w).await;
            return Ok(());
        }
        self.leaf.evict_self().map_err(TeardownError::io(
            "move this process out of the tree's cgroup",
        ))?;
        let members = self
            .leaf
            .members()
            .map_err(TeardownError::io("read the cgroup's members"))?;
        let start = Instant::now();
        let mut empty = members.is_empty();
        if !opts.grace.is_zero() && !empty {
            let grace = remaining(start, opts.deadline).map_or(opts.grace, |r| r.min(opts.grace));
            // Members fork while they are read and signalled: `signal_all` reads
            // again until a read finds nobody new, so the whole tree gets SIGTERM
            // (bounded by the grace; what is left gets SIGKILL after it anyway).
            d.signalled += self
                .leaf
                .signal_all(&[libc::SIGTERM, libc::SIGCONT], start + grace)
                .map_err(TeardownError::io("signal the cgroup's members"))?;
            empty = self
                .leaf
                .wait_empty_on(Some(grace.saturating_sub(start.elapsed())), w)
                .await
                .map_err(TeardownError::io("wait for cgroup.events"))?;
            d.escalated = !empty;
            d.rounds += u64::from(!empty);
        }
        if !empty {
            if opts.grace.is_zero() {
                d.signalled += members.len() as u64;
                d.escalated = true;
            }
            let drained = self
                .leaf
                .kill_all_on(remaining(start, opts.deadline), self.sweep, w)
                .await
                .map_err(TeardownError::io("kill the cgroup"))?;
            if !drained {
                let alive = self.leaf.members().map_or(0, |p| p.len());
                return Err(TeardownError::Deadline {
                    elapsed: start.elapsed(),
                    alive,
                });
            }
        }
        // Empty is not yet exited: see `Leaf::wait_exited_on`.
        let exited = self
            .leaf
            .wait_exited_on(opts.deadline.map(|d| start + d), w)
            .await
            .map_err(TeardownError::io("wait for the cgroup's members to exit"))?;
        if !exited {
            return Err(TeardownError::Deadline {
                elapsed: start.elapsed(),
                alive: 1,
            });
        }
        leader.reap_into(start, opts, d, w).await?;
        d.reaped += reap_own_children(&self.leaf, leader.pid());
        d.drain = start.elapsed();
        self.leaf
            .remove()
            .map_err(TeardownError::io("remove the cgroup leaf"))?;
        self.disarm_on(w).await;
        Ok(())
    }

    /// The leaf is gone: disarms and reaps the watchdog (kept until it is
    /// reaped, so a cancelled call leaves it for the next one or the drop).
    async fn disarm_on(&mut self, w: &dyn Waiter) {
        if let Some(wd) = &mut self.watchdog {
            wd.disarm_on(w).await;
        }
        self.watchdog = None;
    }
}

/// Reaps this process's children that died in `leaf`'s subtree: a tree process
/// made with `clone(CLONE_PARENT)` by the leader is a child of the host (the
/// leader's parent), and nobody else may reap it. `skip`: the leader (reaped on
/// its own). Call once the subtree is empty. Returns how many it reaped.
///
/// Safe in a host with children of its own: a child is reaped only through a
/// pidfd opened on it and only if its cgroup (a zombie still shows it) is the
/// leaf or below.
fn reap_own_children(leaf: &Leaf, skip: i32) -> u64 {
    let Ok(children) = own_children() else {
        return 0;
    };
    let mut n = 0;
    for pid in children.into_iter().filter(|&p| p != skip) {
        let Ok(fd) = PidFd::open(pid) else { continue };
        if !leaf.contains(pid, fd.as_fd()) {
            continue;
        }
        if let Ok(Some(_)) = wait_exit(Who::PidFd(fd.as_fd()), WaitFlags::REAP_NOHANG) {
            n += 1;
        }
    }
    n
}
