//! Readiness: every node's record, the upward attacks done, the `stop` nodes
//! stopped; only then the trigger.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::Signal;
use teardown::Verdict;

use super::{Run, Stop, records};
use crate::oracle::{self, Identity, ProcSource};
use crate::trial::NodeRecord;
use crate::warden::readiness_deadline;
use crate::wire::RunReport;

impl Run<'_> {
    /// Reads records until every node reported, the pipe has no writer left, or the
    /// readiness deadline; then waits for the upward signals ([`Run::await_upward`])
    /// and settles the tree.
    pub(super) fn readiness(&mut self, rec_r: &OwnedFd) -> Result<(), Stop> {
        let limit = readiness_deadline(self.nodes);
        let deadline = Instant::now() + limit;
        let nodes = self.nodes as usize;
        let waited = self
            .inbox
            .read_until(rec_r, deadline, |i| i.ready.len() >= nodes)
            .map_err(Stop::error)?;
        let ended = waited == records::Waited::Ended;
        self.records = self.inbox.ready.clone();
        let got = self.records.len() as u32;
        let mapped = oracle::map_records(
            &self.proc,
            &self.records.values().copied().collect::<Vec<_>>(),
        );
        // A record map_records could not place (its process is gone, so it has no
        // NSpid line to match) keeps the PID the node saw. In the warden's view
        // that PID may name another process, started in the same clock tick (the
        // start time's resolution). The record's namespace says whether its PID is
        // one of ours (`mapped.gone`: it is not; seen with `pidns`, an `exit` node
        // gone by now, and a process of the warden's own with the same PID
        // started in the same tick: "node 1 (pid 4) did not exit"). Without it,
        // one whose innermost PID differs is a stranger, and the recorded process
        // is gone.
        self.gone.extend(mapped.gone.iter().copied());
        let mapped = mapped.records;
        for r in &mapped {
            let kept = self.records.get(&r.node).is_some_and(|o| o.pid == r.pid);
            if kept
                && self
                    .proc
                    .nspid(r.pid)
                    .is_some_and(|ns| ns.last() != Some(&r.pid))
            {
                self.gone.insert(r.node);
            }
        }
        self.records = mapped.into_iter().map(|r| (r.node, r)).collect();
        if got >= self.nodes {
            self.await_upward(rec_r, deadline)?;
            return self.settle_and_stop(deadline);
        }
        self.read_report(false);
        if let Some(RunReport::Unsupported { unsupported }) = &self.report {
            return Err(Stop {
                verdict: Verdict::Unsupported,
                detail: unsupported.clone(),
            });
        }
        let missing: Vec<String> = (0..self.nodes)
            .filter(|n| !self.records.contains_key(n))
            .take(8)
            .map(|n| n.to_string())
            .collect();
        let why = if ended {
            format!(
                "the tree ended before it was ready: got {got} of {} records",
                self.nodes
            )
        } else {
            format!(
                "readiness timeout: got {got} of {} records after {limit:?}",
                self.nodes
            )
        };
        Err(Stop::error(format!(
            "{why} (missing nodes {}){}",
            missing.join(","),
            self.sup_tail()
        )))
    }

    /// Waits until every node that signals its ancestors once the tree is ready
    /// (`kill-parent`, `kill-ancestors`) has said so, or has died: the trigger
    /// must find the attack done (a stopped supervisor stopped), never race it.
    /// A node that is gone sends nothing more: its pidfd says so; nor does a node
    /// another one stopped first.
    fn await_upward(&mut self, rec_r: &OwnedFd, deadline: Instant) -> Result<(), Stop> {
        use crate::spec::TraitKind;
        let attackers: Vec<NodeRecord> = self
            .trial
            .spec
            .walk()
            .filter(|(id, node, _)| {
                !self.gone.contains(id)
                    && (node.has_trait_kind(TraitKind::KillParent)
                        || node.has_trait_kind(TraitKind::KillAncestors))
            })
            .filter_map(|(id, _, _)| self.records.get(&id).copied())
            .collect();
        // The same process, if it is still there: its pidfd, opened and then
        // checked against the record's start time.
        let watch: Vec<(u32, OwnedFd)> = attackers
            .iter()
            .filter_map(|r| {
                let fd = rustix::process::Pid::from_raw(r.pid).and_then(|p| {
                    rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                })?;
                let same = self
                    .proc
                    .glance(r.pid, &|_| true)
                    .is_some_and(|s| s.start_time == r.start_time);
                same.then_some((r.node, fd))
            })
            .collect();
        loop {
            let pending: Vec<&(u32, OwnedFd)> = watch
                .iter()
                .filter(|(node, _)| !self.inbox.upward.contains(node))
                .collect();
            if pending.is_empty() || self.inbox.ended {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let nodes: Vec<String> = pending.iter().map(|(n, _)| n.to_string()).collect();
                return Err(Stop::error(format!(
                    "readiness timeout: node(s) {} did not signal upward{}",
                    nodes.join(","),
                    self.sup_tail()
                )));
            }
            // Another node may have stopped an attacker before it could signal
            // (`kill-ancestors=stop` below it): it does nothing until the
            // teardown continues it. No event says a process stopped: look every
            // 2 ms while waiting.
            let stopped: Vec<u32> = pending
                .iter()
                .filter(|(node, _)| {
                    self.records
                        .get(node)
                        .is_some_and(|r| any_thread_stopped(r.pid))
                })
                .map(|(n, _)| *n)
                .collect();
            if !stopped.is_empty() {
                self.inbox.upward.extend(stopped);
                continue;
            }
            let t = Timespec::try_from(left.min(Duration::from_millis(2))).unwrap_or(Timespec {
                tv_sec: 0,
                tv_nsec: 2_000_000,
            });
            let mut fds = vec![PollFd::new(rec_r, PollFlags::IN)];
            fds.extend(pending.iter().map(|(_, fd)| PollFd::new(fd, PollFlags::IN)));
            match rustix::event::poll(&mut fds, Some(&t)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Stop::error(format!("warden: poll: {e}"))),
            }
            if !fds[0].revents().is_empty() {
                self.inbox.read_once(rec_r).map_err(Stop::error)?;
            }
            let exited: Vec<u32> = pending
                .iter()
                .zip(&fds[1..])
                .filter(|(_, f)| !f.revents().is_empty())
                .map(|((n, _), _)| *n)
                .collect();
            // Exited without a word: count it as done (it will not signal now).
            self.inbox.upward.extend(exited);
        }
    }

    /// Settles the tree, then stops its `stop` nodes, and waits (up to `deadline`)
    /// until each is stopped (or dead).
    ///
    /// Settling first is what makes a `stop` node deterministic. When a process
    /// exits and so orphans a process group that has a stopped member, the kernel
    /// sends that group SIGHUP and SIGCONT (POSIX orphaned process groups): a node
    /// that stopped itself before an `exit` node above it was gone would be killed
    /// by the SIGHUP, or continued (SIGHUP blocked or ignored), as the race falls.
    /// So the nodes do not stop themselves under a warden: the warden waits until
    /// every `exit` node is dead, and then sends each `stop` node SIGSTOP by pidfd,
    /// identity-checked. Deaths are waited for by pidfd; no event tells a
    /// non-parent that a process stopped, so that reads `/proc/<pid>/stat`, with a
    /// 1 ms pause between looks.
    fn settle_and_stop(&self, deadline: Instant) -> Result<(), Stop> {
        use crate::spec::{End, Trait};
        let nodes = |pick: &dyn Fn(&crate::spec::NodeSpec) -> bool| -> Vec<(u32, NodeRecord)> {
            self.trial
                .spec
                .walk()
                .filter(|(id, node, _)| pick(node) && !self.gone.contains(id))
                .filter_map(|(id, _, _)| Some((id, *self.records.get(&id)?)))
                .collect()
        };
        let exiters = nodes(&|n| n.end == End::Exit);
        let stoppers = nodes(&|n| n.has_trait(Trait::Stop));
        if stoppers.is_empty() {
            return Ok(());
        }
        // The same process, if it still exists.
        let stat = |r: &NodeRecord| {
            self.proc
                .stat(r.pid)
                .filter(|s| s.start_time == r.start_time)
        };
        let wait_for = |id: u32, r: &NodeRecord, what: &str, done: &dyn Fn() -> bool| {
            while !done() {
                if Instant::now() >= deadline {
                    return Err(Stop::error(format!(
                        "readiness timeout: node {id} (pid {}) {what}",
                        r.pid
                    )));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        };
        // Exits are events: one pidfd each (the oracle's wait), no sleep loop.
        let ids: Vec<Identity> = exiters
            .iter()
            .map(|(_, r)| Identity {
                pid: r.pid,
                start_time: r.start_time,
            })
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if let Some(alive) = oracle::wait::wait_all_dead(&self.proc, &ids, left).first()
            && let Some((id, _)) = exiters.iter().find(|(_, r)| r.pid == alive.pid)
        {
            return Err(Stop::error(format!(
                "readiness timeout: node {id} (pid {}) did not exit",
                alive.pid
            )));
        }
        for (_, r) in &stoppers {
            if let Some(fd) = rustix::process::Pid::from_raw(r.pid)
                .and_then(|pid| rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok())
                // Checked after opening: the pidfd names the process we recorded.
                && stat(r).is_some_and(|s| s.alive)
            {
                let _ = rustix::process::pidfd_send_signal(&fd, Signal::STOP);
            }
        }
        for (id, r) in &stoppers {
            // A node blocked in vfork (a `vfork` end) takes only fatal signals:
            // its SIGSTOP stays pending, and it cannot run anyway.
            let in_vfork = self
                .trial
                .spec
                .walk()
                .any(|(n, node, _)| n == *id && matches!(node.end, End::Vfork(_)));
            if in_vfork {
                continue;
            }
            // The main thread's state is not enough: a `main-exit` node's is `Z`.
            wait_for(*id, r, "did not stop", &|| {
                stat(r).is_none_or(|s| !s.alive || any_thread_stopped(r.pid))
            })?;
        }
        Ok(())
    }
}

/// Whether a live thread of `pid` is stopped (`T`, or `t` under a tracer).
fn any_thread_stopped(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    // Bytes: the node's name may not be UTF-8 (`evil-name`).
    tasks.flatten().any(|t| {
        std::fs::read(t.path().join("stat"))
            .is_ok_and(|stat| matches!(crate::oracle::stat_state(&stat), Some(b'T' | b't')))
    })
}
