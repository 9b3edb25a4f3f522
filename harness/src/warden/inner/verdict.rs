//! The warden's part of the oracle: the looks at done and after the straggler
//! grace, and what only the warden can see — how each watched process died (its
//! pidfd keeps the exit status), the cgroups and mounts there were before, the
//! supervisor's exit and report.

use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags};

use super::{Run, promises};
use crate::oracle::{self, FindingKind, Identity, ProcSource, Scene};
use crate::spec::{NodeSpec, Trait};
use crate::sys::{self, ExitInfo};
use crate::trial::Supervisor;
use crate::wire::RunReport;

/// A tree process the warden watches through a pidfd, to learn how it died.
pub(super) struct Witness {
    id: Identity,
    node: Option<u32>,
    fd: OwnedFd,
    /// Below a `userns` node: in a PID namespace whose init is the tree's, so
    /// the kernel SIGKILLs it when that init dies, whatever the supervisor does.
    nested: bool,
    /// `graceful=D` is what it does on SIGTERM (the last SIGTERM trait), and
    /// nothing stops it from handling SIGTERM: the D.
    graceful: Option<Duration>,
    /// When the warden saw it exit (graceful ones are watched while the
    /// supervisor tears down; the others are looked at once, at done).
    died_at: Option<Instant>,
}

impl Witness {
    /// Opens a pidfd on `id` and checks it names that process (not a PID reused).
    fn open(
        src: &dyn ProcSource,
        id: Identity,
        node: Option<u32>,
        nested: bool,
        graceful: Option<Duration>,
    ) -> Option<Witness> {
        let fd = rustix::process::pidfd_open(Pid::from_raw(id.pid)?, PidfdFlags::empty()).ok()?;
        // Only the identity: a first look is enough.
        let same = src
            .glance(id.pid, &|_| true)
            .is_some_and(|s| s.start_time == id.start_time);
        same.then_some(Witness {
            id,
            node,
            fd,
            nested,
            graceful,
            died_at: None,
        })
    }

    /// True once the process has exited (its pidfd is readable); stamps the time.
    fn check_dead(&mut self, now: Instant) -> bool {
        if self.died_at.is_none() && readable(&self.fd) {
            self.died_at = Some(now);
        }
        self.died_at.is_some()
    }

    /// The signal that killed it, once it is reaped; `Err` when the kernel keeps
    /// no exit status for pidfds.
    fn killed_by(&self) -> Result<Option<i32>, ()> {
        match sys::pidfd_exit_info(self.fd.as_fd()) {
            ExitInfo::Exited(status) => Ok((status & 0x7f != 0).then_some(status & 0x7f)),
            ExitInfo::NotYet => Ok(None),
            ExitInfo::Unsupported => Err(()),
        }
    }
}

fn readable(fd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(1))
}

/// What the supervisor could leave behind, listed before it starts.
#[derive(Default)]
pub(super) struct Snapshot {
    /// The warden's cgroup directory (the supervisor starts in it).
    cgroup_dir: Option<PathBuf>,
    cgroups: BTreeSet<PathBuf>,
    /// Mount IDs of the warden's mount namespace.
    mounts: BTreeSet<u64>,
}

impl Snapshot {
    pub(super) fn take(cgroup_dir: Option<&Path>) -> Snapshot {
        Snapshot {
            cgroup_dir: cgroup_dir.map(Path::to_path_buf),
            cgroups: cgroup_dir.map(cgroups_below).unwrap_or_default(),
            mounts: mount_ids(),
        }
    }

    /// Cgroups below the warden's made since, but those a `cgroup-nest` node made
    /// (`node-<id>-<pid>`: the tree's own, not the supervisor's).
    fn new_cgroups(&self) -> Vec<PathBuf> {
        let Some(dir) = &self.cgroup_dir else {
            return Vec::new();
        };
        cgroups_below(dir)
            .into_iter()
            .filter(|p| !self.cgroups.contains(p))
            .filter(|p| !p.components().any(|c| is_node_cgroup(c.as_os_str())))
            .collect()
    }

    fn new_mounts(&self) -> Vec<String> {
        // Bytes, decoded lossily: a mount the tree left may have a path or
        // source that is not UTF-8, and it must still be reported.
        let Ok(text) = std::fs::read("/proc/self/mountinfo") else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&text);
        text.lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .and_then(|id| id.parse::<u64>().ok())
                    .is_some_and(|id| !self.mounts.contains(&id))
            })
            .map(str::to_owned)
            .collect()
    }
}

fn is_node_cgroup(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with("node-"))
}

fn cgroups_below(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.insert(e.path());
                todo.push(e.path());
            }
        }
    }
    out
}

fn mount_ids() -> BTreeSet<u64> {
    String::from_utf8_lossy(&std::fs::read("/proc/self/mountinfo").unwrap_or_default())
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The `D` of a node's `graceful=D`, when that is what it does on SIGTERM and
/// nothing keeps it from handling SIGTERM (blocked, stopped, traced, or a
/// `userns` node whose namespace init is what SIGTERM reaches).
fn graceful_of(node: &NodeSpec, traced: bool) -> Option<Duration> {
    if traced {
        return None;
    }
    let mut d = None;
    for t in &node.traits {
        match t {
            Trait::BlockAll | Trait::Stop | Trait::Userns => return None,
            Trait::GracefulMs(ms) => d = Some(Duration::from_millis(u64::from(*ms))),
            t if t.sets_sigterm() => d = None,
            _ => {}
        }
    }
    d
}

impl Run<'_> {
    fn scene(&self) -> Scene {
        Scene {
            warden: self.me,
            supervisor: self.sup().pid,
            bystanders: self.bystanders.clone(),
            records: self
                .records
                .values()
                .filter(|r| !self.gone.contains(&r.node))
                .copied()
                .collect(),
            supervisor_exiting: self.sup().exiting,
        }
    }

    /// Opens a witness on every recorded node, once the tree is ready. (A process
    /// forked after readiness is not watched: what the report says is checked
    /// against the recorded nodes.)
    pub(super) fn witness_records(&mut self) {
        // Preorder: a parent's entry is in before its children's. Per node: in a
        // PID namespace a `userns` ancestor made (its init is the tree's), and
        // what it needs after SIGTERM.
        let mut specs: std::collections::BTreeMap<u32, (bool, Option<Duration>)> =
            Default::default();
        for v in self.trial.spec.visits() {
            let parent = v.parent.and_then(|p| self.trial.spec.subtree(p));
            let traced = parent.is_some_and(|p| p.end == crate::spec::End::Trace);
            let nested = v.parent.is_some_and(|p| {
                specs.get(&p).is_some_and(|(n, _)| *n)
                    || parent.is_some_and(|p| p.has_trait(Trait::Userns))
            });
            specs.insert(v.id, (nested, graceful_of(v.node, traced)));
        }
        for r in self.records.values() {
            if self.gone.contains(&r.node) {
                continue;
            }
            let (nested, graceful) = specs.get(&r.node).copied().unwrap_or((true, None));
            let id = Identity {
                pid: r.pid,
                start_time: r.start_time,
            };
            if let Some(w) = Witness::open(&self.proc, id, Some(r.node), nested, graceful) {
                self.witnesses.push(w);
            }
        }
    }

    /// The graceful witnesses still alive: watched while the supervisor tears
    /// down, so that their time of death is known.
    pub(super) fn graceful_fds(&self) -> Vec<(usize, &OwnedFd)> {
        self.witnesses
            .iter()
            .enumerate()
            .filter(|(_, w)| w.graceful.is_some() && w.died_at.is_none())
            .map(|(i, w)| (i, &w.fd))
            .collect()
    }

    /// Stamps the death of the witnesses `idx` (their pidfd polled readable).
    pub(super) fn witnesses_died(&mut self, idx: &[usize]) {
        let now = Instant::now();
        for &i in idx {
            self.witnesses[i].check_dead(now);
        }
    }

    /// The look at done: called the moment the supervisor says done (our
    /// supervisor's report, held; an external's exit).
    pub(super) fn observe_at_done(&mut self) {
        let now = Instant::now();
        self.done_at = Some(now);
        for w in &mut self.witnesses {
            w.check_dead(now);
        }
        let obs = oracle::observe(&self.proc, &self.scene());
        self.at_done = Some(obs);
    }

    /// The oracle's judgement of the processes, the leftovers and the
    /// supervisor's exit. `grace`: wait for stragglers first (false for a hang:
    /// judge what is there).
    pub(super) fn judge(&mut self, grace: bool) {
        if self.at_done.is_none() {
            self.observe_at_done();
        }
        let scene = self.scene();
        let at_done = self.at_done.clone().expect("observed");
        let waiting = at_done.alive_identities();
        let after = if grace && (!waiting.is_empty() || at_done.forking) {
            oracle::wait::wait_all_dead(&self.proc, &waiting, self.trial.straggler_grace);
            oracle::observe(&self.proc, &scene)
        } else {
            at_done.clone()
        };
        let mut j = oracle::judge(&at_done, &after);
        if grace {
            for dir in self.before.new_cgroups() {
                j.add(
                    FindingKind::CgroupLeft,
                    0,
                    None,
                    format!("cgroup {} left after done", dir.display()),
                );
            }
            for line in self.before.new_mounts() {
                j.add(
                    FindingKind::MountLeft,
                    0,
                    None,
                    format!("mount left after done: {line}"),
                );
            }
            self.judge_exit(&mut j);
        }
        self.judgement = Some(j);
    }

    /// `bad-exit` and `supervisor-killed`.
    fn judge_exit(&self, j: &mut oracle::Judgement) {
        let sup = self.sup();
        let upward = self.trial.spec.root.subtree_has(|n| n.has_upward());
        let killed_by = sup.killed_by.map(|s| s.as_raw());
        if let Some(why) = promises::supervisor_killed(killed_by, self.trial.trigger, upward) {
            j.add(FindingKind::SupervisorKilled, sup.pid, None, why);
            return;
        }
        if !matches!(self.trial.supervisor, Supervisor::Method(_)) {
            return;
        }
        let (Some(status), Some(report)) = (sup.status, &self.report) else {
            return;
        };
        if let Some((expected, why)) = promises::promised_exit(self.trial.trigger, report)
            && status != expected
        {
            j.add(
                FindingKind::BadExit,
                sup.pid,
                None,
                format!("teardown run exited {status}; it promises {why}"),
            );
        }
    }

    /// After the safety net (every watched process reaped by then, so each
    /// pidfd has its exit status): `grace-cut` and `false-report`, from how the
    /// watched processes that died before done died.
    pub(super) fn judge_after_net(&mut self) {
        let Some(mut j) = self.judgement.take() else {
            return;
        };
        self.judge_sigkills(&mut j);
        self.judgement = Some(j);
    }

    fn judge_sigkills(&mut self, j: &mut oracle::Judgement) {
        let (Some(trigger_at), Some(done_at)) = (self.trigger_at, self.done_at) else {
            return;
        };
        // The tree cannot send SIGKILL (no `kill-parent=kill`: [`crate::spec::Sig`]);
        // the kernel sends it to a nested namespace when its init dies.
        // The graceful nodes that finished, from their records.
        if let Some(r) = self.rec_r.take() {
            // Every writer is gone after the net: this reads to the end at once.
            let end = Instant::now() + Duration::from_millis(200);
            let _ = self.inbox.read_until(&r, end, |i| i.ended);
        }
        let finished: BTreeSet<u32> = self.inbox.graceful.keys().copied().collect();
        let upward = self.trial.spec.root.subtree_has(|n| n.has_upward());
        let drain = match &self.report {
            Some(RunReport::Drained(d)) => Some(d.drain),
            _ => None,
        };
        let grace_from = promises::grace_from(trigger_at, done_at, drain, upward);
        let mut deaths = Vec::new();
        for w in &self.witnesses {
            let Some(died) = w.died_at.filter(|t| *t <= done_at) else {
                continue;
            };
            let sigkill = match w.killed_by() {
                Ok(sig) => sig == Some(libc::SIGKILL),
                Err(()) => {
                    self.notes.push(
                        "SIGKILLs not judged (this kernel keeps no exit status for pidfds: Linux < 6.15)"
                            .into(),
                    );
                    return;
                }
            };
            deaths.push(promises::Death {
                pid: w.id.pid,
                node: w.node,
                nested: w.nested,
                graceful: w.graceful,
                after_trigger: died.saturating_duration_since(grace_from),
                sigkill,
                finished: w.node.is_some_and(|n| finished.contains(&n)),
            });
        }
        let escalated = match &self.report {
            Some(RunReport::Drained(d)) => Some(d.escalated),
            _ => None,
        };
        promises::judge_deaths(&deaths, self.trial.grace, escalated, j);
    }
}
