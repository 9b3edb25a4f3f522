//! The trial, as the inner warden runs it: bystanders, supervisor, readiness,
//! trigger, done, oracle, safety net.

mod records;
mod start;

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Signal, WaitId, WaitIdOptions};
use teardown::Verdict;

use super::cgroup::Cgroup;
use super::contain::{self, Containment};
use super::{NET_DEADLINE, error_outcome, net, readiness_deadline, run_timeout};
use crate::oracle::{self, Identity, Judgement, LiveProc, Observation, ProcSource, Scene};
use crate::sys;
use crate::trial::{NodeRecord, Supervisor, Trial, TrialOutcome, Trigger};
use crate::wire::RunReport;

/// Runs the trial in the inner warden; returns its outcome (the caller writes it).
pub(super) fn main(
    trial: &Trial,
    containment: &Containment,
    cgroup: Option<&Cgroup>,
    cgroup_err: Option<&String>,
    lifeline: OwnedFd,
) -> TrialOutcome {
    let t0 = Instant::now();
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
        return error_outcome(format!("warden: PR_SET_PDEATHSIG: {e}"));
    }
    if outer_gone(&lifeline) {
        sys::exit_now(1);
    }
    if containment.is_pidns()
        && let Err(e) = contain::private_proc()
    {
        return error_outcome(format!(
            "warden: cannot mount a private /proc in its PID namespace: {e}"
        ));
    }
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        return error_outcome(format!("warden: PR_SET_CHILD_SUBREAPER: {e}"));
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return error_outcome(format!("warden: cannot find its own binary: {e}")),
    };
    let mut run = Run::new(trial, exe);
    run.notes.push(format!("warden: {}", containment.label()));
    if let Containment::Subreaper { why } = containment {
        run.notes.push(format!("no PID namespace ({why})"));
    }
    match (cgroup, cgroup_err) {
        (Some(_), _) => run.notes.push("cgroup".into()),
        (None, Some(e)) => run.notes.push(format!("no cgroup ({e})")),
        (None, None) => {}
    }
    run.phases.push(("setup", t0.elapsed()));
    let stop = run.stages().err();
    let t_net = Instant::now();
    // Not `cgroup.kill`: the inner warden is in the cgroup itself. The outer warden
    // kills the cgroup once this one has exited.
    let net = net::sweep(run.me, &run.proc, None, NET_DEADLINE);
    run.phases.push(("net", t_net.elapsed()));
    let mut out = run.outcome(stop);
    if let Err(e) = net {
        out.verdict = oracle::worst(out.verdict, Verdict::Error);
        out.detail = Some(format!("{e}; {}", out.detail.unwrap_or_default()));
    }
    out.elapsed = t0.elapsed();
    let phases: Vec<String> = run
        .phases
        .iter()
        .map(|(n, d)| format!("{n}={:.1}ms", d.as_secs_f64() * 1e3))
        .collect();
    eprintln!("teardown warden: phases {}", phases.join(" "));
    out
}

/// True if the outer warden died before PDEATHSIG was armed (its lifeline end closed).
fn outer_gone(lifeline: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(lifeline, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(1))
        && fds[0].revents().contains(PollFlags::HUP)
}

/// Why the trial stopped before the oracle could judge it normally.
struct Stop {
    verdict: Verdict,
    detail: String,
}

impl Stop {
    fn error(detail: impl Into<String>) -> Stop {
        Stop {
            verdict: Verdict::Error,
            detail: detail.into(),
        }
    }
}

/// The supervisor, as the warden holds it.
struct Sup {
    pid: i32,
    fd: OwnedFd,
    /// Its stdout and stderr (shared by the tree).
    log: std::fs::File,
    /// Our supervisor's `--report` pipe.
    report_r: Option<OwnedFd>,
    /// Our supervisor waits after its report until this closes ([`crate::wire::HOLD_FD_ENV`]).
    hold_w: Option<OwnedFd>,
    report_buf: Vec<u8>,
    /// Shell-style exit status once it exited.
    status: Option<i32>,
    spawned: Instant,
}

struct Run<'a> {
    trial: &'a Trial,
    exe: PathBuf,
    me: i32,
    proc: LiveProc,
    nodes: u32,
    notes: Vec<String>,
    bystanders: Vec<Identity>,
    sup: Option<Sup>,
    records: BTreeMap<u32, NodeRecord>,
    /// Everything the tree said on the report pipe.
    inbox: records::Inbox,
    /// Nodes whose process was gone before its record could be placed in the
    /// warden's view (see `readiness`).
    gone: std::collections::BTreeSet<u32>,
    report: Option<RunReport>,
    handed: Vec<Identity>,
    trigger_at: Option<Instant>,
    done_at: Option<Instant>,
    judgement: Option<Judgement>,
    phases: Vec<(&'static str, Duration)>,
}

impl<'a> Run<'a> {
    fn new(trial: &'a Trial, exe: PathBuf) -> Self {
        Run {
            trial,
            exe,
            me: rustix::process::getpid().as_raw_nonzero().get(),
            proc: LiveProc::default(),
            nodes: trial.spec.node_count(),
            notes: Vec::new(),
            bystanders: Vec::new(),
            sup: None,
            records: BTreeMap::new(),
            inbox: records::Inbox::default(),
            gone: Default::default(),
            report: None,
            handed: Vec::new(),
            trigger_at: None,
            done_at: None,
            judgement: None,
            phases: Vec::new(),
        }
    }

    fn stages(&mut self) -> Result<(), Stop> {
        let t = Instant::now();
        // The warden was born in its cgroup (if any): everything it starts is there.
        let started = self
            .spawn_bystanders()
            .and_then(|()| self.spawn_supervisor());
        let rec_r = started?;
        self.phases.push(("spawn", t.elapsed()));

        let t = Instant::now();
        self.readiness(&rec_r)?;
        self.phases.push(("ready", t.elapsed()));

        let t = Instant::now();
        self.trigger();
        self.wait_done()?;
        self.phases.push(("teardown", t.elapsed()));

        let t = Instant::now();
        self.judge(true);
        self.phases.push(("oracle", t.elapsed()));
        Ok(())
    }

    fn sup(&self) -> &Sup {
        self.sup.as_ref().expect("supervisor spawned")
    }

    /// Reads records until every node reported, the pipe has no writer left, or the
    /// readiness deadline; then waits for the upward signals ([`Run::await_upward`])
    /// and settles the tree.
    fn readiness(&mut self, rec_r: &OwnedFd) -> Result<(), Stop> {
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
                    .stat(r.pid)
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

    fn trigger(&mut self) {
        self.handed = self.supervisor_children();
        let sig = match self.trial.trigger {
            Trigger::Sigterm => Some(Signal::TERM),
            Trigger::Sigint => Some(Signal::INT),
            Trigger::Timeout | Trigger::LeaderExit => None,
        };
        if let Some(sig) = sig {
            // The supervisor is our unreaped child: its pidfd cannot name anyone else.
            let _ = rustix::process::pidfd_send_signal(&self.sup().fd, sig);
        }
        self.trigger_at = Some(Instant::now());
    }

    fn supervisor_children(&self) -> Vec<Identity> {
        let sup = self.sup().pid;
        self.proc
            .children(sup)
            .into_iter()
            .filter_map(|c| self.proc.stat(c))
            .map(|s| s.identity())
            .collect()
    }

    /// Waits for "done": our supervisor's drain report then its exit; an external
    /// supervisor's exit. Past the deadline: `hang`.
    fn wait_done(&mut self) -> Result<(), Stop> {
        let trigger_at = self.trigger_at.expect("triggered");
        let mut deadline = trigger_at + self.trial.deadline;
        if self.trial.trigger == Trigger::Timeout
            && matches!(self.trial.supervisor, Supervisor::Method(_))
        {
            deadline =
                deadline.max(self.sup().spawned + run_timeout(self.nodes) + self.trial.deadline);
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.judge(false);
                return Err(Stop {
                    verdict: Verdict::Hang,
                    detail: format!(
                        "supervisor not done {:?} after the trigger{}",
                        self.trial.deadline,
                        self.sup_tail()
                    ),
                });
            }
            let sup = self.sup.as_ref().expect("supervisor spawned");
            let watch_report = sup.report_r.is_some() && self.report.is_none();
            let (exited, report_ready) = {
                let mut fds = vec![PollFd::new(&sup.fd, PollFlags::IN)];
                if watch_report && let Some(r) = &sup.report_r {
                    fds.push(PollFd::new(r, PollFlags::IN));
                }
                let t = Timespec::try_from(left).unwrap_or(Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                });
                match rustix::event::poll(&mut fds, Some(&t)) {
                    Ok(_) => (
                        !fds[0].revents().is_empty(),
                        fds.get(1).is_some_and(|f| !f.revents().is_empty()),
                    ),
                    Err(rustix::io::Errno::INTR) => (false, false),
                    Err(e) => return Err(Stop::error(format!("warden: poll: {e}"))),
                }
            };
            if report_ready {
                self.read_report(true);
                if self.report.is_some() {
                    // Our supervisor said done and waits for us: its children now,
                    // then let it go.
                    self.handed = self.supervisor_children();
                    self.sup.as_mut().expect("supervisor spawned").hold_w = None;
                }
            }
            if exited {
                let sup = self.sup.as_mut().expect("supervisor spawned");
                let st = rustix::process::waitid(
                    WaitId::PidFd(sup.fd.as_fd()),
                    WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
                )
                .ok()
                .flatten();
                sup.status = st.map(|s| {
                    s.exit_status()
                        .unwrap_or_else(|| 128 + s.terminating_signal().unwrap_or(0))
                });
                self.done_at = Some(Instant::now());
                self.read_report(false);
                return Ok(());
            }
        }
    }

    /// Reads what is in our supervisor's report pipe; parses the first full line.
    fn read_report(&mut self, blocking_ok: bool) {
        let Some(sup) = self.sup.as_mut() else { return };
        let Some(r) = &sup.report_r else { return };
        if self.report.is_some() {
            return;
        }
        let _ = rustix::io::ioctl_fionbio(r, !blocking_ok);
        let mut chunk = [0u8; 4096];
        loop {
            match rustix::io::read(r, &mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    sup.report_buf.extend_from_slice(&chunk[..n]);
                    if sup.report_buf.contains(&b'\n') || blocking_ok {
                        break;
                    }
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => break,
            }
        }
        if let Some(end) = sup.report_buf.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&sup.report_buf[..end]).into_owned();
            self.report = Some(
                serde_json::from_str(&line).unwrap_or_else(|e| RunReport::Failed {
                    error: format!("unreadable drain report ({e}): {line}"),
                }),
            );
        }
    }

    /// The oracle. `grace`: wait for stragglers (false for a hang: judge what is there).
    fn judge(&mut self, grace: bool) {
        let scene = Scene {
            warden: self.me,
            supervisor: self.sup().pid,
            bystanders: self.bystanders.clone(),
            records: self
                .records
                .values()
                .filter(|r| !self.gone.contains(&r.node))
                .copied()
                .collect(),
            handed: self.handed.clone(),
        };
        let at_done = oracle::observe(&self.proc, &scene);
        let after: Observation = if grace && !at_done.alive_identities().is_empty() {
            oracle::wait::wait_all_dead(
                &self.proc,
                &at_done.alive_identities(),
                self.trial.straggler_grace,
            );
            oracle::observe(&self.proc, &scene)
        } else {
            at_done.clone()
        };
        self.judgement = Some(oracle::judge(&at_done, &after));
    }

    /// The last lines the supervisor (and the tree) wrote on stdout/stderr.
    fn sup_tail(&self) -> String {
        let Some(sup) = &self.sup else {
            return String::new();
        };
        let mut log = &sup.log;
        let mut text = String::new();
        if log.rewind().is_err() || log.read_to_string(&mut text).is_err() {
            return String::new();
        }
        let backtrace = |l: &str| {
            let l = l.trim();
            l.is_empty()
                || l.starts_with("at ")
                || l.starts_with("stack backtrace")
                || l.starts_with("note: ")
                || l.split_once(':')
                    .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        };
        let lines: Vec<&str> = text.lines().filter(|l| !backtrace(l)).collect();
        let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
        let status = sup
            .status
            .map(|s| format!("; supervisor exited {s}"))
            .unwrap_or_default();
        if tail.is_empty() {
            status
        } else {
            format!("{status}; supervisor said: {tail}")
        }
    }

    fn outcome(&self, stop: Option<Stop>) -> TrialOutcome {
        let mut out = error_outcome(String::new());
        out.nodes = self.records.values().copied().collect();
        if let Some(j) = &self.judgement {
            out.verdict = j.verdict;
            out.survivors = j.survivors;
            out.stragglers = j.stragglers;
            out.dying = j.dying;
            out.zombies = j.zombies;
            out.bystanders_killed = j.bystanders_killed;
            out.findings = j.findings.clone();
        }
        let mut detail = Vec::new();
        match &self.report {
            Some(RunReport::Drained(d)) => {
                out.drain = Some(d.drain);
                out.report = Some(d.clone());
            }
            Some(RunReport::Unsupported { unsupported }) if stop.is_none() => {
                out.verdict = oracle::worst(out.verdict, Verdict::Unsupported);
                detail.push(unsupported.clone());
            }
            Some(RunReport::Failed { error }) if stop.is_none() => {
                out.verdict = oracle::worst(out.verdict, Verdict::Error);
                detail.push(format!("teardown run failed: {error}"));
            }
            None if stop.is_none() && matches!(self.trial.supervisor, Supervisor::Method(_)) => {
                out.verdict = oracle::worst(out.verdict, Verdict::Error);
                detail.push(format!(
                    "teardown run exited without a drain report{}",
                    self.sup_tail()
                ));
            }
            _ => {}
        }
        if out.drain.is_none()
            && let (Some(t), Some(d)) = (self.trigger_at, self.done_at)
        {
            out.drain = Some(d.saturating_duration_since(t));
        }
        match stop {
            Some(s) => {
                out.verdict = oracle::worst(
                    if self.judgement.is_some() {
                        out.verdict
                    } else {
                        s.verdict
                    },
                    s.verdict,
                );
                detail.insert(0, s.detail);
            }
            None => {
                let j = self.judgement.as_ref().expect("judged");
                let dying = match j.dying {
                    0 => String::new(),
                    n => format!(" ({n} more dying of SIGKILL at done)"),
                };
                detail.push(format!(
                    "{} survivor(s), {} straggler(s){dying}, {} zombie(s), {} bystander(s) killed; supervisor exited {}",
                    j.survivors,
                    j.stragglers,
                    j.zombies,
                    j.bystanders_killed,
                    self.sup.as_ref().and_then(|s| s.status).map_or("?".into(), |s| s.to_string())
                ));
            }
        }
        detail.extend(self.notes.iter().cloned());
        out.detail = Some(detail.join("; "));
        out
    }
}

/// Whether a live thread of `pid` is stopped (`T`, or `t` under a tracer).
fn any_thread_stopped(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| matches!(state, "T" | "t"))
        })
    })
}
