//! The warden: one per trial, the oracle's vantage point and the safety net.
//!
//! `run_trial` (any thread of any program) starts `teardown __warden` with fork
//! **and exec**, writes the [`Trial`] as JSON on its stdin and reads the
//! [`TrialOutcome`] as JSON from its stdout.
//!
//! ```text
//! harness ── outer warden   PDEATHSIG → harness; makes the cgroup; unshare(PID ns)
//!              └── inner warden   PID 1 of the new namespace, private /proc, subreaper
//!                    ├── bystanders         (one in the supervisor's group, one in its own)
//!                    └── supervisor         `teardown run --method M ... -- teardown node SPEC`
//!                          └── leader …     the adversarial tree          or SUPERVISOR... teardown node SPEC
//! ```
//!
//! The outer warden makes the cgroup and unshares the PID namespace, then starts
//! the inner warden with `clone3(CLONE_INTO_CGROUP)` + exec of `teardown __warden
//! --inner CONTEXT` (born in the cgroup: no migration, see
//! [`crate::sys::spawn_in_cgroup`]), the trial on a memfd as its stdin. The inner
//! warden runs the trial (`inner.rs`): bystanders, the supervisor (with
//! `TEARDOWN_REPORT_FD` for the tree's readiness records and `TEARDOWN_BYSTANDERS`
//! with the bystanders' PIDs), readiness, trigger, done, the oracle, then the
//! safety net (`net.rs`); it writes the outcome and exits, and in a PID namespace its
//! exit makes the kernel kill whatever is left. The outer warden waits for it, then
//! kills and removes the cgroup. A cgroup left by a warden killed with the harness
//! is removed by the next warden.
//!
//! Both wardens are single-threaded: the inner one forks the bystanders without
//! exec.

mod cgroup;
mod contain;
mod inner;
mod net;
pub mod spawn;

use std::io::{Read, Write};

use std::time::Duration;

pub use cgroup::cgroup2_mount;
pub use contain::Containment;
use teardown::Verdict;

use crate::sys::{self, Forked};
use crate::trial::{Trial, TrialOutcome};

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

/// The most bystanders a trial may ask for.
pub const MAX_BYSTANDERS: u32 = 64;

/// The longest a safety net may take.
pub const NET_DEADLINE: Duration = Duration::from_secs(10);

/// An outcome that is only an error.
pub fn error_outcome(detail: impl Into<String>) -> TrialOutcome {
    TrialOutcome {
        verdict: Verdict::Error,
        detail: Some(detail.into()),
        survivors: 0,
        stragglers: 0,
        dying: 0,
        zombies: 0,
        orphaned_zombies: 0,
        bystanders_killed: 0,
        report: None,
        drain: None,
        elapsed: Duration::ZERO,
        nodes: Vec::new(),
        findings: Vec::new(),
    }
}

/// `teardown __warden`: reads a trial on stdin, writes its outcome on stdout.
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
    if let Err(e) = crate::spec::Limits::default().check(&trial.spec) {
        return reply(&error_outcome(format!(
            "warden: the spec is over the limits: {e}"
        )));
    }
    if trial.bystanders > MAX_BYSTANDERS {
        return reply(&error_outcome(format!(
            "warden: {} bystanders asked, at most {MAX_BYSTANDERS}",
            trial.bystanders
        )));
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

    let outer_pid = rustix::process::getpid().as_raw_nonzero().get();
    let t = std::time::Instant::now();
    let mut cgroup = cgroup::Cgroup::create(outer_pid);
    let t_cgroup = t.elapsed();
    let containment = contain::unshare_pid_namespace();
    let t_unshare = t.elapsed();
    let (lifeline_r, lifeline_w) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => return reply(&error_outcome(format!("warden: lifeline pipe: {e}"))),
    };
    let inner = match start_inner(&input, &containment, &mut cgroup, &lifeline_r) {
        Ok(pid) => pid,
        Err(e) => {
            if let Ok(cg) = &cgroup {
                let _ = cg.destroy(NET_DEADLINE);
            }
            return reply(&error_outcome(format!(
                "warden: cannot start the inner warden: {e}"
            )));
        }
    };
    drop(lifeline_r);
    let status = loop {
        match rustix::process::waitpid(
            rustix::process::Pid::from_raw(inner),
            rustix::process::WaitOptions::empty(),
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(Some((_, st))) => break st.exit_status().unwrap_or(1),
            _ => break 1,
        }
    };
    drop(lifeline_w);
    let t_inner = t.elapsed();
    if let Ok(cg) = &cgroup
        && let Err(e) = cg.destroy(NET_DEADLINE)
    {
        eprintln!("teardown warden: {e}");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "teardown warden: outer cgroup={:.1}ms unshare={:.1}ms inner={:.1}ms cgroup-destroy={:.1}ms",
        ms(t_cgroup),
        ms(t_unshare - t_cgroup),
        ms(t_inner - t_unshare),
        ms(t.elapsed() - t_inner)
    );
    if status != 0 {
        // The inner warden died without answering (it answers before exiting 0).
        return reply(&error_outcome(format!(
            "warden: the inner warden died without an outcome (status {status})"
        )));
    }
    0
}

/// What the outer warden tells the inner one (as JSON, the argument of
/// `teardown __warden --inner`); the trial itself comes on stdin.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct InnerContext {
    containment: Containment,
    cgroup: Option<cgroup::Cgroup>,
    cgroup_missing: Option<String>,
    lifeline_fd: i32,
}

/// Starts the inner warden: `clone3` into the trial's cgroup (when there is one:
/// born there, no migration), then exec `teardown __warden --inner CONTEXT` with the
/// trial on stdin. Children from now on are in the new PID namespace, if any: the
/// inner warden is its PID 1.
fn start_inner(
    input: &str,
    containment: &Containment,
    cgroup: &mut Result<cgroup::Cgroup, String>,
    lifeline_r: &std::os::fd::OwnedFd,
) -> Result<i32, String> {
    use std::os::fd::{AsFd, AsRawFd};
    let stdin = rustix::fs::memfd_create("teardown-trial", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| format!("memfd: {e}"))?;
    let mut file = std::fs::File::from(stdin);
    file.write_all(input.as_bytes())
        .map_err(|e| format!("memfd: {e}"))?;
    std::io::Seek::rewind(&mut file).map_err(|e| format!("memfd: {e}"))?;
    let exe = std::ffi::CString::new("/proc/self/exe").expect("no NUL");
    let dir = cgroup.as_ref().ok().map(|cg| {
        rustix::fs::open(
            &cg.dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
    });
    let dir = match dir {
        Some(Ok(fd)) => Some(fd),
        Some(Err(e)) => {
            demote(cgroup, format!("cannot open it: {e}"));
            None
        }
        None => None,
    };
    let argv = |cgroup: &Result<cgroup::Cgroup, String>| {
        let ctx = InnerContext {
            containment: containment.clone(),
            cgroup: cgroup.as_ref().ok().cloned(),
            cgroup_missing: cgroup.as_ref().err().cloned(),
            lifeline_fd: lifeline_r.as_raw_fd(),
        };
        [
            "teardown".to_owned(),
            "__warden".into(),
            "--inner".into(),
            serde_json::to_string(&ctx).expect("serializes"),
        ]
        .map(|a| std::ffi::CString::new(a).expect("no NUL in JSON"))
    };
    let keep = [lifeline_r.as_fd()];
    match sys::spawn_in_cgroup(
        dir.as_ref().map(|d| d.as_fd()),
        &exe,
        &argv(cgroup),
        file.as_fd(),
        &keep,
    ) {
        Ok(pid) => Ok(pid),
        Err(e) if dir.is_some() => {
            demote(cgroup, format!("clone3 into it: {e}"));
            sys::spawn_in_cgroup(None, &exe, &argv(cgroup), file.as_fd(), &keep)
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Gives up the cgroup (removing the directory), keeping why.
fn demote(cgroup: &mut Result<cgroup::Cgroup, String>, why: String) {
    if let Ok(cg) = cgroup {
        let _ = cg.destroy(Duration::from_secs(1));
        *cgroup = Err(format!("{}: {why}", cg.dir.display()));
    }
}

/// `teardown __warden --inner CONTEXT`: the inner warden (see [`main`]).
pub fn main_inner(context: &str) -> i32 {
    let ctx: InnerContext = match serde_json::from_str(context) {
        Ok(c) => c,
        Err(e) => return reply(&error_outcome(format!("warden: bad inner context: {e}"))),
    };
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return reply(&error_outcome(format!(
            "warden: cannot read the trial: {e}"
        )));
    }
    let trial: Trial = match serde_json::from_str(&input) {
        Ok(t) => t,
        Err(e) => return reply(&error_outcome(format!("warden: bad trial JSON: {e}"))),
    };
    let lifeline = match sys::adopt_inherited_fd(ctx.lifeline_fd) {
        Ok(fd) => fd,
        Err(e) => return reply(&error_outcome(format!("warden: lifeline: {e}"))),
    };
    let _ = rustix::io::fcntl_setfd(&lifeline, rustix::io::FdFlags::CLOEXEC);
    if let Err(e) = sys::enter_single_threaded() {
        return reply(&error_outcome(format!("warden: {e}")));
    }
    let outcome = inner::main(
        &trial,
        &ctx.containment,
        ctx.cgroup.as_ref(),
        ctx.cgroup_missing.as_ref(),
        lifeline,
    );
    reply(&outcome)
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
fn raise_fd_limit() {
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
