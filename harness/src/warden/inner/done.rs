//! The trigger, and waiting for the supervisor to say done.

use std::os::fd::AsFd;
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Signal, WaitId, WaitIdOptions};
use teardown::Verdict;

use nix::sys::ptrace;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};

use super::{Run, Stop};
use crate::oracle::ProcSource;
use crate::trial::{Supervisor, Trigger};
use crate::warden::run_timeout;
use crate::wire::RunReport;

/// How often a traced supervisor's stops are looked for.
const TRACE_TICK: std::time::Duration = std::time::Duration::from_millis(2);

/// How long an external supervisor that is still running (state `R`) when the
/// tree is ready is given to go to sleep before the trigger: see
/// [`Run::let_supervisor_settle`].
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_millis(250);

impl Run<'_> {
    pub(super) fn trigger(&mut self) {
        let sig = match self.trial.trigger {
            Trigger::Sigterm => Some(Signal::TERM),
            Trigger::Sigint => Some(Signal::INT),
            Trigger::Timeout | Trigger::LeaderExit => None,
        };
        // Only a signal can land in a start-up window; a supervisor already
        // handling its leader's exit (`LeaderExit`) must be traced at once.
        if sig.is_some() {
            self.let_supervisor_settle();
        }
        self.trace_supervisor();
        // Stamped before the signal goes: the supervisor it wakes may run first
        // and tear down for milliseconds before this process runs again (a busy
        // machine, the supervisor on this CPU), and a stamp taken after that
        // made every death in the tree look that much sooner after the trigger:
        // `grace-cut` for a graceful node SIGKILLed at the end of a grace it was
        // given whole (the fuzz target `trial`: `graceful=8ms pause [cparent:
        // slow-exit=64MiB setsid pause]`, 10 ms grace, 2 trials at once: 1 in
        // 4 under `auto` and `cgroup`, "SIGKILLed 4.8 ms after the trigger" while
        // the supervisor's SIGKILL went 10.2 ms after its SIGTERM). Early, the
        // stamp only makes a death look later, which no rule holds against the
        // supervisor.
        self.trigger_at = Some(Instant::now());
        if let Some(sig) = sig {
            // The supervisor is our unreaped child: its pidfd cannot name anyone else.
            let _ = rustix::process::pidfd_send_signal(&self.sup().fd, sig);
        }
    }

    /// An external supervisor (a peer, or any `--supervisor`) is signalled once it
    /// sleeps, not while it still runs its own start-up after starting the tree
    /// (at most [`SETTLE_LIMIT`]): its row shows how it tears a tree down, not
    /// whether a signal in the first milliseconds of its life finds its handler.
    /// That window is real, and a loaded machine widens it: GNU `timeout` 9.1
    /// forks, and a SIGTERM that arrives before it has stored its child's PID
    /// (it is handled on the way out of `fork`) makes its handler `_exit(143)`
    /// without forwarding anything (`cleanup()`'s `else` branch); under load 1
    /// to 8 of its 36 cells leaked so in each timeout-only matrix run. A
    /// method's trial gets no such allowance: `teardown run --method M` is
    /// triggered the moment the tree is ready.
    fn let_supervisor_settle(&self) {
        if !matches!(self.trial.supervisor, Supervisor::External(_)) {
            return;
        }
        let pid = self.sup().pid;
        let until = Instant::now() + SETTLE_LIMIT;
        while let Some(st) = self.proc.glance(pid, &|_| true)
            && st.state == 'R'
            && Instant::now() < until
        {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// Waits for "done" and looks at it: our supervisor's drain report (it waits,
    /// held, while the oracle looks; then it is let go and its exit awaited); an
    /// external supervisor's exit. Past the deadline: `hang`.
    pub(super) fn wait_done(&mut self) -> Result<(), Stop> {
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
                self.untrace();
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
            let (exited, report_ready, died) = {
                let mut fds = vec![PollFd::new(&sup.fd, PollFlags::IN)];
                if watch_report && let Some(r) = &sup.report_r {
                    fds.push(PollFd::new(r, PollFlags::IN));
                }
                // The graceful nodes: when each dies is what `grace-cut` judges.
                let first_witness = fds.len();
                let graceful = self.graceful_fds();
                fds.extend(
                    graceful
                        .iter()
                        .map(|(_, fd)| PollFd::new(*fd, PollFlags::IN)),
                );
                // A traced supervisor's stops are seen by waitid, not poll:
                // look every 2 ms.
                let wait = if sup.traced {
                    left.min(TRACE_TICK)
                } else {
                    left
                };
                let t = Timespec::try_from(wait).unwrap_or(Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                });
                match rustix::event::poll(&mut fds, Some(&t)) {
                    Ok(_) => (
                        !fds[0].revents().is_empty(),
                        first_witness > 1 && !fds[1].revents().is_empty(),
                        fds[first_witness..]
                            .iter()
                            .zip(&graceful)
                            .filter(|(f, _)| !f.revents().is_empty())
                            .map(|(_, (i, _))| *i)
                            .collect::<Vec<usize>>(),
                    ),
                    Err(rustix::io::Errno::INTR) => (false, false, Vec::new()),
                    Err(e) => return Err(Stop::error(format!("warden: poll: {e}"))),
                }
            };
            self.witnesses_died(&died);
            self.serve_trace();
            if report_ready {
                self.read_report(true);
                if self.report.is_some() {
                    // Our supervisor said done and waits for us: look now, then
                    // let it go.
                    self.observe_at_done();
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
                sup.killed_by = st
                    .and_then(|s| s.terminating_signal())
                    .and_then(Signal::from_named_raw);
                self.read_report(false);
                if self.at_done.is_none() {
                    self.observe_at_done();
                }
                self.untrace();
                return Ok(());
            }
        }
    }

    /// Reads what is in our supervisor's report pipe; parses the first full line.
    pub(super) fn read_report(&mut self, blocking_ok: bool) {
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

    /// Traces an external supervisor from the trigger on, to look at the tree at
    /// the moment it exits: `PTRACE_EVENT_EXIT` stops it before its children are
    /// reparented and before their `PR_SET_PDEATHSIG` (bwrap's init) is sent.
    /// Every signal it gets is passed on at once; a group-stop ends the tracing
    /// (a stopped supervisor is left stopped, as it would be). Not our supervisor
    /// (it holds, waiting, after its report).
    fn trace_supervisor(&mut self) {
        if matches!(self.trial.supervisor, Supervisor::Method(_)) {
            return;
        }
        let sup = self.sup.as_mut().expect("supervisor spawned");
        let pid = nix::unistd::Pid::from_raw(sup.pid);
        match ptrace::seize(pid, ptrace::Options::PTRACE_O_TRACEEXIT) {
            Ok(()) => sup.traced = true,
            Err(e) => self.notes.push(format!(
                "supervisor not traced ({e}; EPERM: it was exiting already): done is seen after its exit"
            )),
        }
    }

    /// Serves the traced supervisor's stops: signals passed on, the exit stop
    /// looked at (then the supervisor is let go), a group-stop left alone.
    fn serve_trace(&mut self) {
        loop {
            let Some(sup) = self.sup.as_ref().filter(|s| s.traced) else {
                return;
            };
            let pid = nix::unistd::Pid::from_raw(sup.pid);
            let st = waitid(
                Id::PIDFd(sup.fd.as_fd()),
                WaitPidFlag::WSTOPPED | WaitPidFlag::WNOHANG | WaitPidFlag::__WALL,
            );
            let detach = |run: &mut Self| {
                let _ = ptrace::detach(pid, None);
                run.sup.as_mut().expect("supervisor spawned").traced = false;
            };
            match st {
                Ok(WaitStatus::PtraceEvent(_, _, libc::PTRACE_EVENT_EXIT)) => {
                    if self.at_done.is_none() {
                        self.sup.as_mut().expect("supervisor spawned").exiting = true;
                        self.observe_at_done();
                        self.sup.as_mut().expect("supervisor spawned").exiting = false;
                    }
                    detach(self);
                    return;
                }
                Ok(WaitStatus::PtraceEvent(_, sig, libc::PTRACE_EVENT_STOP)) => {
                    if is_stop_signal(sig) {
                        // A group-stop: left as it is (detached, it stays stopped).
                        self.notes.push(
                            "supervisor stopped: tracing ended, done is seen after its exit".into(),
                        );
                        detach(self);
                        return;
                    }
                    if ptrace::cont(pid, None).is_err() {
                        detach(self);
                        return;
                    }
                }
                Ok(WaitStatus::PtraceEvent(_, sig, _)) | Ok(WaitStatus::Stopped(_, sig)) => {
                    if ptrace::cont(pid, Some(sig)).is_err() {
                        detach(self);
                        return;
                    }
                }
                Ok(WaitStatus::StillAlive) => return,
                Ok(_) | Err(_) => {
                    detach(self);
                    return;
                }
            }
        }
    }

    /// Ends the tracing whatever state the supervisor is in, so that nothing is
    /// left waiting for a tracer (a SIGKILLed tracee still stops at its exit
    /// event): interrupt it, take the stop it reports (passing a pending
    /// signal on), detach. Bounded by a second.
    fn untrace(&mut self) {
        let Some(sup) = self.sup.as_mut().filter(|s| s.traced) else {
            return;
        };
        sup.traced = false;
        let pid = nix::unistd::Pid::from_raw(sup.pid);
        let _ = ptrace::interrupt(pid);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while std::time::Instant::now() < deadline {
            match waitid(
                Id::PIDFd(sup.fd.as_fd()),
                WaitPidFlag::WSTOPPED | WaitPidFlag::WNOHANG | WaitPidFlag::__WALL,
            ) {
                Ok(WaitStatus::PtraceEvent(_, sig, 0)) | Ok(WaitStatus::Stopped(_, sig)) => {
                    let _ = ptrace::detach(pid, Some(sig));
                    return;
                }
                Ok(WaitStatus::PtraceEvent(..)) => {
                    let _ = ptrace::detach(pid, None);
                    return;
                }
                Ok(WaitStatus::StillAlive) => std::thread::sleep(TRACE_TICK),
                _ => return,
            }
        }
    }
}

/// The signals that put a process in group-stop.
fn is_stop_signal(sig: nix::sys::signal::Signal) -> bool {
    use nix::sys::signal::Signal as S;
    matches!(sig, S::SIGSTOP | S::SIGTSTP | S::SIGTTIN | S::SIGTTOU)
}
