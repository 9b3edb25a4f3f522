//! Starting a trial's processes: the bystanders (forked) and the supervisor
//! (spawned with the report pipes and environment the tree needs).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use rustix::io::FdFlags;

use super::{Run, Stop, Sup};
use crate::node::record::{REPORT_FD_ENV, WARDEN_PID_ENV};
use crate::oracle::ProcSource;
use crate::sys;
use crate::trial::{Supervisor, Trigger};
use crate::warden::{BYSTANDERS_ENV, run_timeout};
use crate::wire::HOLD_FD_ENV;

impl Run<'_> {
    /// Forks the bystanders (no exec: the warden is single-threaded, and an exec
    /// per bystander was most of the spawn phase). Each sits in `pause` with its
    /// stdio on `/dev/null`. The first leads the group the supervisor joins; after
    /// it they alternate between that group and a group of their own. Both sides
    /// call `setpgid`, so the group exists before the supervisor is spawned.
    pub(super) fn spawn_bystanders(&mut self) -> Result<(), Stop> {
        if self.trial.bystanders == 0 {
            return Ok(());
        }
        let null = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| Stop::error(format!("warden: /dev/null: {e}")))?;
        for i in 0..self.trial.bystanders {
            let leader = self.bystanders.first().map(|b| b.pid);
            let join = if i % 2 == 0 { leader } else { None };
            let pid = match sys::fork() {
                Ok(sys::Forked::Child) => {
                    let _ = rustix::process::setpgid(
                        None,
                        join.and_then(rustix::process::Pid::from_raw),
                    );
                    for fd in [
                        nix::unistd::dup2_stdin,
                        nix::unistd::dup2_stdout,
                        nix::unistd::dup2_stderr,
                    ] {
                        let _ = fd(&null);
                    }
                    loop {
                        nix::unistd::pause();
                    }
                }
                Ok(sys::Forked::Parent(pid)) => pid,
                Err(e) => return Err(Stop::error(format!("warden: cannot fork a bystander: {e}"))),
            };
            let child = rustix::process::Pid::from_raw(pid);
            let group = join.and_then(rustix::process::Pid::from_raw).or(child);
            // EACCES once the child has exec'd is impossible (it never does); an
            // error here means the child already did it itself.
            let _ = rustix::process::setpgid(child, group);
            let stat = self
                .proc
                .stat(pid)
                .ok_or_else(|| Stop::error(format!("warden: bystander {pid} vanished at once")))?;
            self.bystanders.push(stat.identity());
        }
        Ok(())
    }

    fn argv(&self, report_fd: Option<i32>) -> Vec<String> {
        let exe = self.exe.display().to_string();
        let node = [exe.clone(), "node".into(), self.trial.spec.to_string()];
        match &self.trial.supervisor {
            Supervisor::Method(m) => {
                let mut v = vec![exe, "run".into(), "--method".into(), m.to_string()];
                v.extend([
                    "--grace".into(),
                    format!("{}ms", self.trial.grace.as_millis()),
                ]);
                if self.trial.trigger == Trigger::Timeout {
                    v.extend([
                        "--timeout".into(),
                        format!("{}ms", run_timeout(self.nodes).as_millis()),
                    ]);
                }
                if let Some(fd) = report_fd {
                    v.extend(["--report".into(), format!("/dev/fd/{fd}")]);
                }
                v.push("--".into());
                v.extend(node);
                v
            }
            Supervisor::External(argv) => argv.iter().cloned().chain(node).collect(),
        }
    }

    /// Starts the supervisor; returns the read end of the records pipe.
    pub(super) fn spawn_supervisor(&mut self) -> Result<OwnedFd, Stop> {
        let sys_err = |what: &str| {
            let what = what.to_owned();
            move |e: rustix::io::Errno| Stop::error(format!("warden: {what}: {e}"))
        };
        let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC);
        let (rec_r, rec_w) = pipe().map_err(sys_err("records pipe"))?;
        let ours = matches!(self.trial.supervisor, Supervisor::Method(_));
        let (report_r, report_w) = if ours {
            let (r, w) = pipe().map_err(sys_err("report pipe"))?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        // Our supervisor waits, after its report, until we close `hold_w`.
        let (hold_r, hold_w) = if ours {
            let (r, w) = pipe().map_err(sys_err("hold pipe"))?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let log: std::fs::File =
            rustix::fs::memfd_create("teardown-supervisor-log", rustix::fs::MemfdFlags::CLOEXEC)
                .map_err(sys_err("memfd"))?
                .into();
        let argv = self.argv(report_w.as_ref().map(|w| w.as_raw_fd()));
        if argv.is_empty() {
            return Err(Stop::error("warden: empty supervisor command"));
        }
        // The tree inherits the write ends: clear close-on-exec for this spawn only
        // (single-threaded: no other spawn can race).
        rustix::io::fcntl_setfd(&rec_w, FdFlags::empty()).map_err(sys_err("records pipe flags"))?;
        if let Some(w) = &report_w {
            rustix::io::fcntl_setfd(w, FdFlags::empty()).map_err(sys_err("report pipe flags"))?;
        }
        if let Some(r) = &hold_r {
            rustix::io::fcntl_setfd(r, FdFlags::empty()).map_err(sys_err("hold pipe flags"))?;
        }
        let out = log
            .try_clone()
            .map_err(|e| Stop::error(format!("warden: log: {e}")))?;
        let err = log
            .try_clone()
            .map_err(|e| Stop::error(format!("warden: log: {e}")))?;
        let bystanders: Vec<String> = self.bystanders.iter().map(|b| b.pid.to_string()).collect();
        let spawned = Instant::now();
        let mut cmd = Command::new(&argv[0]);
        if let Some(r) = &hold_r {
            cmd.env(HOLD_FD_ENV, r.as_raw_fd().to_string());
        }
        let child = cmd
            .args(&argv[1..])
            .env(REPORT_FD_ENV, rec_w.as_raw_fd().to_string())
            .env(WARDEN_PID_ENV, self.me.to_string())
            .env(BYSTANDERS_ENV, bystanders.join(","))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(self.bystanders.first().map_or(0, |b| b.pid))
            .spawn()
            .map_err(|e| {
                Stop::error(format!(
                    "cannot start the supervisor `{}`: {e}",
                    argv.join(" ")
                ))
            })?;
        drop((rec_w, report_w, hold_r));
        let pid = child.id() as i32;
        let fd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid).expect("pid > 0"),
            rustix::process::PidfdFlags::empty(),
        )
        .map_err(sys_err("pidfd_open(supervisor)"))?;
        self.sup = Some(Sup {
            pid,
            fd,
            log,
            report_r,
            hold_w,
            report_buf: Vec::new(),
            status: None,
            killed_by: None,
            traced: false,
            exiting: false,
            spawned,
        });
        Ok(rec_r)
    }
}
