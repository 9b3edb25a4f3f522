//! The trigger, and waiting for the supervisor to say done.

use std::os::fd::AsFd;
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Signal, WaitId, WaitIdOptions};
use teardown::Verdict;

use super::{Run, Stop};
use crate::trial::{Supervisor, Trigger};
use crate::warden::run_timeout;
use crate::wire::RunReport;

impl Run<'_> {
    pub(super) fn trigger(&mut self) {
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
                let t = Timespec::try_from(left).unwrap_or(Timespec {
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
}
