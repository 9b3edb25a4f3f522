//! The warden: the oracle's vantage point and the safety net, one per trial.
//!
//! [`run_trial`] (any thread of any program) hands the [`Trial`] to a warden
//! **server** (`teardown __warden --serve`, started with fork **and exec** and kept
//! idle between trials, see [`spawn`]) and reads the [`TrialOutcome`] back. For
//! each trial the server clones a fresh copy of itself into a new PID namespace
//! and into a fresh cgroup with one `clone3` ([`server`]): that copy is the trial's
//! inner warden.
//!
//! ```text
//! harness ── warden server   one per concurrent trial, reused; a fresh cgroup per trial
//!              └── inner warden   clone3(NEWPID|INTO_CGROUP): PID 1, private /proc, subreaper,
//!                    │                a session of its own (no controlling terminal)
//!                    ├── bystanders         (one in the supervisor's group, one in its own)
//!                    └── supervisor         `teardown run --method M ... -- teardown node SPEC`
//!                          └── leader …     the adversarial tree          or SUPERVISOR... teardown node SPEC
//! ```
//!
//! The inner warden runs the trial (`inner.rs`): bystanders, the supervisor (with
//! `TEARDOWN_REPORT_FD` for the tree's readiness records and `TEARDOWN_BYSTANDERS`
//! with the bystanders' PIDs), readiness, trigger (an external supervisor still
//! running its start-up is first given up to 250 ms to sleep: `done.rs`), done,
//! the oracle, then the safety net (`net.rs`); it writes the outcome and exits,
//! and as PID 1 its exit makes the kernel kill whatever is left of the
//! namespace. The server waits for it, kills and removes the trial's cgroup (and
//! those the tree made in it) and answers. A cgroup left by a server killed with
//! the harness is removed by the next server.
//!
//! The server and the inner wardens are single-threaded: the server clones
//! without exec, the inner warden forks the bystanders without exec.
//!
//! `teardown __warden` without `--serve` runs one trial from stdin the same way,
//! for a person or a script.

mod cgroup;
mod contain;
pub mod frame;
mod inner;
mod net;
pub mod server;
pub mod spawn;

use std::io::{Read, Write};

use std::time::Duration;

pub use contain::Containment;

use crate::oracle::error_outcome;
use crate::sys::{self, Forked};
use crate::trial::{Trial, TrialOutcome};

/// Runs one trial under a fresh warden and returns the oracle's findings.
///
/// Safe to call from any thread of a multithreaded program, from many at once:
/// the trial goes to an idle warden server of this process (a `teardown __warden
/// --serve` started with fork **and exec**, found by
/// [`crate::locate::teardown_bin`]; one more is started when none is idle) as
/// JSON, and the outcome comes back as JSON. The calling thread blocks until the
/// answer. Servers are shared by every thread and outlive the calling one; they
/// exit when this process does (the end of their input), killing whatever trial
/// they were running.
///
/// Never panics: every failure (no binary, a warden that does not answer within
/// its own deadlines plus a margin) is an outcome with verdict `error` and the
/// reason in `detail`. Set `TEARDOWN_TRACE=1` to see the warden's stderr (phase
/// timings, problems) on this process's stderr.
pub fn run_trial(trial: &Trial) -> TrialOutcome {
    let start = std::time::Instant::now();
    let mut out = spawn::run(trial).unwrap_or_else(error_outcome);
    out.elapsed = start.elapsed();
    out
}

/// Ends the idle warden servers [`run_trial`] kept and waits for them to exit:
/// call it last in a program that wants nothing of its trials left when it
/// returns (the `teardown` commands do). Without it the servers exit on their own
/// when this process does, a moment later.
pub fn shutdown_wardens() {
    spawn::shutdown();
}

/// Environment variable with the PID the warden expects as its parent (the
/// process that called `run_trial`): checked after `PR_SET_PDEATHSIG`.
pub const PARENT_ENV: &str = "TEARDOWN_WARDEN_PARENT";
/// Environment variable with the bystanders' PIDs, comma-separated, given to the
/// supervisor (a test supervisor can misbehave and kill them).
pub const BYSTANDERS_ENV: &str = "TEARDOWN_BYSTANDERS";

/// How long the tree may take to report ready: 5 s, plus 20 ms per node, at most 60 s.
pub fn readiness_deadline(nodes: u32) -> Duration {
    (Duration::from_secs(5) + Duration::from_millis(20) * nodes).min(Duration::from_secs(60))
}

/// The `--timeout` given to `teardown run` for [`crate::trial::Trigger::Timeout`]:
/// long enough for the tree to be ready first (1 s plus 10 ms per node, at most 20 s).
pub fn run_timeout(nodes: u32) -> Duration {
    (Duration::from_secs(1) + Duration::from_millis(10) * nodes).min(Duration::from_secs(20))
}

/// The longest a warden may take for this trial, with a margin.
pub fn warden_deadline(trial: &Trial) -> Duration {
    let n = trial.spec.node_count();
    readiness_deadline(n)
        + run_timeout(n)
        + trial.deadline
        + trial.straggler_grace
        + NET_DEADLINE * 2
        + Duration::from_secs(10)
}

/// The most bystanders a trial may ask for.
pub const MAX_BYSTANDERS: u32 = 64;

/// The longest a safety net may take.
pub const NET_DEADLINE: Duration = Duration::from_secs(10);

/// `teardown __warden`: reads one trial on stdin, writes its outcome on stdout (the
/// wardens' log on stderr). The harness uses [`server::serve`] instead; this is
/// the same work for one trial, for a person or a script.
/// Returns the process exit code (0 when an outcome was written).
pub fn main() -> i32 {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return reply(&error_outcome(format!(
            "warden: cannot read the trial from stdin: {e}"
        )));
    }
    let trial: Trial = match serde_json::from_str(&input) {
        Ok(t) => t,
        Err(e) => {
            return reply(&error_outcome(format!(
                "warden: bad trial JSON on stdin: {e}"
            )));
        }
    };
    // A trial that did not come through the spec parser is checked here: the
    // limits are what keeps a trial within what the machine can take.
    if let Err(e) = server::admit(&trial) {
        return reply(&error_outcome(e));
    }
    let expected_parent = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse().ok());
    match contain::die_with_parent(expected_parent) {
        Ok(true) => {}
        Ok(false) => return 1, // the harness is gone: nobody to answer
        Err(e) => return reply(&error_outcome(format!("warden: PR_SET_PDEATHSIG: {e}"))),
    }
    if let Err(e) = sys::enter_single_threaded() {
        return reply(&error_outcome(format!("warden: {e}")));
    }
    raise_fd_limit();
    let mut host = server::Host::new();
    let (answer, _) = host.run(&trial, None);
    host.close();
    eprint!("{}", answer.log);
    reply(&answer.outcome)
}

/// Writes the outcome on stdout; the exit code to use.
fn reply(outcome: &TrialOutcome) -> i32 {
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer(&mut out, outcome)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush())
    {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Raises the soft open-files limit to the hard one (the straggler wait holds one
/// pidfd per live process).
pub(crate) fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

/// What containment a warden gets on this host (for `teardown probe`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WardenFacts {
    /// `pidns`, `userns+pidns` or `subreaper`.
    pub containment: String,
    /// Why not a PID namespace with a private `/proc`, if not.
    pub pid_namespace_missing: Option<String>,
    /// Where the warden's cgroup would go, if it can make one.
    pub cgroup: Option<String>,
    /// Why no cgroup, if not.
    pub cgroup_missing: Option<String>,
}

/// Tries, in this (single-threaded, short-lived) process, what a warden does:
/// make a cgroup (removed again), unshare a PID namespace, and mount a private
/// `/proc` in a child that is PID 1 there. Run it as `teardown __warden --probe`.
pub fn probe_containment() -> WardenFacts {
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    let (cgroup, cgroup_missing) = match cgroup::Cgroup::create(pid) {
        Ok(cg) => {
            let enter = cg.enter().and_then(|()| cg.leave());
            let _ = cg.destroy(Duration::from_secs(1));
            match enter {
                Ok(()) => (Some(cg.dir.display().to_string()), None),
                Err(e) => (
                    None,
                    Some(format!(
                        "cannot move a process into {}: {e}",
                        cg.dir.display()
                    )),
                ),
            }
        }
        Err(e) => (None, Some(e)),
    };
    let mut containment = contain::unshare_pid_namespace();
    if containment.is_pidns() {
        let ok = sys::enter_single_threaded().is_ok()
            && match sys::fork() {
                Ok(Forked::Child) => sys::exit_now(if contain::private_proc().is_ok() {
                    0
                } else {
                    1
                }),
                Ok(Forked::Parent(child)) => matches!(
                    rustix::process::waitpid(rustix::process::Pid::from_raw(child), rustix::process::WaitOptions::empty()),
                    Ok(Some((_, st))) if st.exit_status() == Some(0)
                ),
                Err(_) => false,
            };
        if !ok {
            containment = Containment::Subreaper {
                why: "cannot mount /proc in a new PID namespace".into(),
            };
        }
    }
    WardenFacts {
        containment: containment.label().into(),
        pid_namespace_missing: match containment {
            Containment::Subreaper { why } => Some(why),
            Containment::PidNamespace { .. } => None,
        },
        cgroup,
        cgroup_missing,
    }
}
