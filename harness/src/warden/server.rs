//! The fork-server: one warden process serves many trials, one at a time.
//!
//! `teardown __warden --serve` reads trials from stdin and writes a [`Reply`] for
//! each on stdout, both as frames ([`super::frame`]). For
//! each trial it makes a cgroup-born, PID-namespace-born copy of itself with one
//! `clone3` ([`crate::sys::clone3_fork`]: `CLONE_NEWPID | CLONE_INTO_CGROUP`):
//! that copy is the trial's inner warden, PID 1 of a fresh namespace, and runs
//! the trial exactly as an exec'd one would (`clone.rs`, then `inner.rs`). No exec, no second
//! fork. Each trial gets a fresh cgroup (`teardown-warden-<pid>.<n>`), killed and
//! removed after it: nothing the tree wrote to its cgroup's files outlives it
//! (and a cgroup is never reused after a `cgroup.kill`: on this kernel (6.18)
//! every later `CLONE_INTO_CGROUP` child of a killed cgroup is SIGKILLed at birth,
//! the clone's `kill_seq` being taken from the parent's cgroup).
//!
//! The server is single-threaded and holds no state a trial can change: each
//! trial's inner warden is a fresh copy of the same idle server, so a trial sees
//! what it would have seen in a fresh process. What the inner warden writes (its
//! outcome, its log) goes to two memfds the server reads once it has exited;
//! its stdin and stdout are `/dev/null`, so no tree process can hold the
//! harness's pipes.
//!
//! Ending: at end of input (the harness closed the pipe, or died: the kernel
//! closes its end either way) the server empties and removes its cgroup and
//! exits. While a trial runs it watches stdin too: when the harness goes, it
//! kills the inner warden (whose PID namespace takes everything with it) and
//! exits. The inner warden dies with the server (`PR_SET_PDEATHSIG`, and a
//! lifeline pipe for the race before that is armed).

mod clone;

use std::io::{self, Read, Seek};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use super::cgroup::Cgroup;
pub use super::frame::PROTOCOL;
use super::frame::{Reply, read_frame, write_frame};
use super::{NET_DEADLINE, warden_deadline};
use crate::oracle::error_outcome;
use crate::sys::{self, NewNamespaces};
use crate::trial::{Trial, TrialCpu, TrialOutcome};
use clone::TrialFiles;

/// Checks what the warden takes from any caller: the spec within the limits,
/// the bystanders within [`super::MAX_BYSTANDERS`].
pub fn admit(trial: &Trial) -> Result<(), String> {
    crate::spec::Limits::default()
        .check(&trial.spec)
        .map_err(|e| format!("warden: the spec is over the limits: {e}"))?;
    if trial.bystanders > super::MAX_BYSTANDERS {
        return Err(format!(
            "warden: {} bystanders asked, at most {}",
            trial.bystanders,
            super::MAX_BYSTANDERS
        ));
    }
    Ok(())
}

/// `teardown __warden --serve`. Returns the exit code.
pub fn serve() -> i32 {
    if let Err(e) = sys::enter_single_threaded() {
        eprintln!("teardown warden: {e}");
        return 1;
    }
    super::raise_fd_limit();
    // A name of its own, for `ps` and profilers (the inner wardens get theirs).
    let _ = rustix::thread::set_name(c"td-warden-srv");
    let mut host = Host::new();
    let input = io::stdin();
    let input = input.as_fd();
    let output = io::stdout();
    let output = output.as_fd();
    loop {
        let frame = match read_frame(input, None) {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                eprintln!("teardown warden: reading a trial: {e}");
                break;
            }
        };
        let (reply, go_on) = match serde_json::from_slice::<Trial>(&frame) {
            Ok(trial) => host.run(&trial, Some(input)),
            Err(e) => (
                Reply {
                    outcome: error_outcome(format!("warden: bad trial JSON: {e}")),
                    log: String::new(),
                    last: false,
                },
                Next::Serve,
            ),
        };
        if go_on == Next::HarnessGone {
            break;
        }
        let bytes = serde_json::to_vec(&reply).expect("replies serialize");
        if write_frame(output, &bytes).is_err() || go_on == Next::Stop {
            break;
        }
    }
    host.close();
    0
}

/// What the server does after a trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Serve the next one.
    Serve,
    /// Answer, then exit (the cgroup could not be emptied: a fresh server is
    /// better than a doubtful one).
    Stop,
    /// The harness is gone: exit without answering.
    HarnessGone,
}

/// What a warden holds across trials: where its cgroups go and the namespaces
/// that work. Nothing a trial can change: each trial gets a fresh cgroup
/// (`teardown-warden-<pid>.<n>`), removed after it, so whatever the tree wrote to
/// its cgroup's files (`cgroup.freeze`, `cgroup.kill`, `cgroup.max.descendants`,
/// a controller's limits) ends with it.
pub(super) struct Host {
    pid: i32,
    /// This process's cgroup, where the trials' cgroups go; or why none.
    home: Result<std::path::PathBuf, String>,
    /// The running trial's cgroup, or why it has none.
    cgroup: Result<Cgroup, String>,
    /// The namespaces the last trial's clone got (tried first next time).
    ns: Option<NewNamespaces>,
    trials: u64,
}

impl Host {
    /// Finds where the trials' cgroups go (reclaiming stale ones); without a
    /// place, each outcome says why.
    pub(super) fn new() -> Host {
        let pid = rustix::process::getpid().as_raw_nonzero().get();
        Host {
            pid,
            home: Cgroup::home_for(pid),
            cgroup: Err("no trial yet".into()),
            ns: None,
            trials: 0,
        }
    }

    /// Removes a cgroup a trial left (none, normally).
    pub(super) fn close(self) {
        if let Ok(cg) = &self.cgroup
            && let Err(e) = cg.destroy(NET_DEADLINE)
        {
            eprintln!("teardown warden: {e}");
        }
    }

    /// Runs one trial in a fresh inner warden. `harness`: the pipe whose hang-up
    /// means the harness is gone (watched while the trial runs).
    pub(super) fn run(&mut self, trial: &Trial, harness: Option<BorrowedFd<'_>>) -> (Reply, Next) {
        self.trials += 1;
        let fail = |detail: String| {
            (
                Reply {
                    outcome: error_outcome(detail),
                    log: String::new(),
                    last: false,
                },
                Next::Serve,
            )
        };
        if let Err(e) = admit(trial) {
            return fail(e);
        }
        self.cgroup = match &self.home {
            Ok(home) => Cgroup::create_in(
                home,
                &format!("{}{}.{}", super::cgroup::PREFIX, self.pid, self.trials),
            ),
            Err(e) => Err(e.clone()),
        };
        let t = Instant::now();
        let cpu_before = cpu_used();
        let files = match TrialFiles::new() {
            Ok(f) => f,
            Err(e) => return fail(format!("warden: {e}")),
        };
        let mut files = files;
        let (pid, pidfd, containment) = match self.clone_inner(trial, &mut files) {
            Ok(started) => started,
            Err(e) => return fail(format!("warden: cannot start the inner warden: {e}")),
        };
        let TrialFiles {
            lifeline_r,
            lifeline_w,
            outcome,
            log,
        } = files;
        drop(lifeline_r);
        let t_clone = t.elapsed();
        let limit = warden_deadline(trial);
        let ended = wait_inner(pid, &pidfd, harness, limit);
        drop(lifeline_w);
        let t_inner = t.elapsed();
        let cpu = cpu_since(cpu_used(), cpu_before);
        let cleaned = self.empty_cgroup();
        let mut log = read_all(log);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        log.push_str(&format!(
            "teardown warden: server clone={:.1}ms inner={:.1}ms cgroup-empty={:.1}ms ({})\n",
            ms(t_clone),
            ms(t_inner - t_clone),
            ms(t.elapsed() - t_inner),
            containment.label()
        ));
        let mut outcome = match ended {
            Ended::HarnessGone => {
                return (
                    Reply {
                        outcome: error_outcome("the harness went away"),
                        log,
                        last: true,
                    },
                    Next::HarnessGone,
                );
            }
            Ended::TimedOut => error_outcome(format!(
                "warden: the inner warden was not done within {limit:?}"
            )),
            Ended::Exited(status) => {
                let text = read_all(outcome);
                match serde_json::from_str::<TrialOutcome>(&text) {
                    Ok(o) => o,
                    Err(_) => error_outcome(format!(
                        "warden: the inner warden died without an outcome ({status})"
                    )),
                }
            }
        };
        outcome.cpu = cpu;
        let next = match cleaned {
            Ok(()) => Next::Serve,
            Err(e) => {
                outcome.verdict = teardown::Verdict::Error;
                outcome.detail = Some(format!("{e}; {}", outcome.detail.unwrap_or_default()));
                Next::Stop
            }
        };
        let last = next != Next::Serve;
        (Reply { outcome, log, last }, next)
    }

    /// Gives up the cgroup (removing it), keeping why.
    fn demote(&mut self, why: String) {
        if let Ok(cg) = &self.cgroup {
            let _ = cg.destroy(Duration::from_secs(1));
            self.cgroup = Err(format!("{}: {why}", cg.dir.display()));
        }
    }

    /// After a trial: kills what is left in its cgroup, waits for it to be empty
    /// and removes it (and the cgroups the tree made in it).
    fn empty_cgroup(&mut self) -> Result<(), String> {
        let Ok(cg) = std::mem::replace(&mut self.cgroup, Err("removed".into())) else {
            return Ok(());
        };
        let done = cg.destroy(NET_DEADLINE);
        if done.is_err() {
            // Still populated: `close` tries once more before the server exits.
            self.cgroup = Ok(cg);
        }
        done
    }
}

/// How the wait for an inner warden ended.
enum Ended {
    /// It exited, with this wait status text.
    Exited(String),
    /// Not within the limit: killed (and reaped).
    TimedOut,
    /// The harness hung up: the inner warden was killed (and reaped).
    HarnessGone,
}

/// Waits for the inner warden to exit (its pidfd), up to `limit`, watching the
/// harness's pipe; kills it on either. Always reaps it.
fn wait_inner(
    pid: i32,
    pidfd: &OwnedFd,
    harness: Option<BorrowedFd<'_>>,
    limit: Duration,
) -> Ended {
    let deadline = Instant::now() + limit;
    let mut ended = None;
    while ended.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            ended = Some(Ended::TimedOut);
            break;
        }
        let t = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds = vec![PollFd::new(pidfd, PollFlags::IN)];
        if let Some(h) = &harness {
            fds.push(PollFd::new(h, PollFlags::empty()));
        }
        match rustix::event::poll(&mut fds, Some(&t)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => {
                ended = Some(Ended::TimedOut);
                break;
            }
        }
        if fds.get(1).is_some_and(|f| {
            f.revents()
                .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL)
        }) {
            ended = Some(Ended::HarnessGone);
        } else if !fds[0].revents().is_empty() {
            break;
        }
    }
    if ended.is_some() {
        let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
    }
    let status = loop {
        match rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(Some((_, st))) => break format!("{st:?}"),
            Ok(None) => break "no status".into(),
            Err(e) => break format!("waitpid: {e}"),
        }
    };
    ended.unwrap_or(Ended::Exited(status))
}

/// CPU time used so far by this process and the children it has reaped (each
/// inner warden, which as PID 1 reaped its whole trial).
fn cpu_used() -> TrialCpu {
    use nix::sys::resource::{UsageWho, getrusage};
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000)
    };
    let mut cpu = TrialCpu::default();
    for who in [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN] {
        if let Ok(u) = getrusage(who) {
            cpu.user += tv(u.user_time());
            cpu.system += tv(u.system_time());
        }
    }
    cpu
}

/// What was spent between two [`cpu_used`] readings.
fn cpu_since(now: TrialCpu, before: TrialCpu) -> TrialCpu {
    TrialCpu {
        user: now.user.saturating_sub(before.user),
        system: now.system.saturating_sub(before.system),
    }
}

/// The whole content of a memfd (empty on error).
fn read_all(fd: OwnedFd) -> String {
    let mut f = std::fs::File::from(fd);
    let mut s = String::new();
    let _ = f.rewind().and_then(|()| f.read_to_string(&mut s));
    s
}
