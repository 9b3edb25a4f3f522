//! The trial, as the inner warden runs it: bystanders, supervisor, readiness,
//! trigger, done, oracle, safety net.

mod done;
mod outcome;
mod promises;
mod ready;
mod records;
mod start;
mod verdict;

use std::collections::BTreeMap;

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::Signal;
use teardown::Verdict;

use super::cgroup::Cgroup;
use super::contain::{self, Containment};
use super::{NET_DEADLINE, net};
use crate::oracle::{self, Identity, Judgement, LiveProc, Observation, error_outcome};
use crate::sys;
use crate::trial::{NodeRecord, Trial, TrialOutcome};
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
    // A session of its own, for the trial's processes: no controlling terminal
    // (a tree's `/dev/tty` no longer opens the harness's terminal), and, where
    // the scheduler groups by session (`kernel.sched_autogroup_enabled`: most
    // desktops, and this project's VM), one autogroup a trial: a trial's CPU
    // share no longer depends on how many `setsid` spinners other trials
    // started, each an autogroup weighed like the whole harness's (`teardown
    // matrix --random 200` ~10 % faster). The warden's nice value then counts
    // against its own trial's processes only; across trials, each autogroup
    // weighs the same (the flake soaks: 0 disagreements).
    let own_session = rustix::process::setsid();
    let mut run = Run::new(trial, exe, cgroup.map(|c| c.dir.clone()));
    run.notes.push(format!("warden: {}", containment.label()));
    if let Err(e) = own_session {
        run.notes
            .push(format!("warden: no session of its own (setsid: {e})"));
    }
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
    if stop.is_none() {
        run.judge_after_net();
    }
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
    eprintln!(
        "teardown warden: trial {} · {}\nteardown warden: phases {}",
        trial.supervisor.label(),
        trial.spec,
        phases.join(" ")
    );
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
    /// The signal that ended it, if one did.
    killed_by: Option<rustix::process::Signal>,
    /// An external supervisor traced from the trigger on, to look at its exit
    /// stop (see `done.rs`).
    traced: bool,
    /// It is in its exit stop (the look at done is happening there).
    exiting: bool,
    spawned: Instant,
}

struct Run<'a> {
    trial: &'a Trial,
    /// The warden's cgroup, where the supervisor starts (what it leaves there is
    /// judged).
    cgroup_dir: Option<PathBuf>,
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
    /// The records pipe, read to the end of the trial (graceful records).
    rec_r: Option<OwnedFd>,
    report: Option<RunReport>,
    trigger_at: Option<Instant>,
    done_at: Option<Instant>,
    /// The oracle's look at done.
    at_done: Option<Observation>,
    /// Pidfds on every tree process the warden saw, to learn how each died.
    witnesses: Vec<verdict::Witness>,
    /// The cgroups and mounts there were before the supervisor started.
    before: verdict::Snapshot,
    judgement: Option<Judgement>,
    phases: Vec<(&'static str, Duration)>,
}

impl<'a> Run<'a> {
    fn new(trial: &'a Trial, exe: PathBuf, cgroup_dir: Option<PathBuf>) -> Self {
        Run {
            cgroup_dir,
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
            rec_r: None,
            report: None,
            trigger_at: None,
            done_at: None,
            at_done: None,
            witnesses: Vec::new(),
            before: verdict::Snapshot::default(),
            judgement: None,
            phases: Vec::new(),
        }
    }

    fn stages(&mut self) -> Result<(), Stop> {
        let t = Instant::now();
        // The warden was born in its cgroup (if any): everything it starts is there.
        self.spawn_bystanders()?;
        self.before = verdict::Snapshot::take(self.cgroup_dir.as_deref());
        let rec_r = self.spawn_supervisor()?;
        self.phases.push(("spawn", t.elapsed()));

        let t = Instant::now();
        let ready = self.readiness(&rec_r);
        self.rec_r = Some(rec_r);
        ready?;
        self.witness_records();
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
}
