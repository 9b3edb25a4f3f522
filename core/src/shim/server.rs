//! The shim side: argument parsing, the common setup, and the event loop of the
//! reaping methods (`subreaper`, `proc-walk`). `pidns` has its own loop in
//! `method/pidns.rs`.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::protocol::{Event, LineReader, LineWriter, Request};
use super::reaper::Reaper;
use crate::errors::ShimError;
use crate::sys::exec::{die_with_parent_before_exec, restore_before_exec};
use crate::sys::fd::{PollFd, adopt_inherited, poll, stdio_to_dev_null};
use crate::sys::prctl::set_child_subreaper;
use crate::sys::signal::{
    SavedAction, block_all_signalfd, drain_signalfd, kill_child, set_default,
};
use crate::sys::wait::shell_status;
use crate::tree::{DROP_DEADLINE, Drained, TeardownOptions};
use crate::{DrainReport, Method, TeardownError};

/// What every shim mode starts with.
pub(crate) struct Setup {
    pub method: Method,
    pub ctl: LineReader,
    pub out: LineWriter,
    pub sigfd: OwnedFd,
    pub saved: Vec<SavedAction>,
    pub program: OsString,
    pub args: Vec<OsString>,
}

pub(crate) fn main(args: Vec<OsString>) -> Result<i32, ShimError> {
    // First of all: a tree can signal its parent (the shim) and every ancestor it
    // can see. Every signal is blocked (and read from a signalfd by the modes that
    // reap); only SIGKILL and SIGSTOP still reach the shim, and only a PID
    // namespace (`pidns`) hides it from the tree.
    let sigfd = block_all_signalfd().map_err(ShimError::io("block signals"))?;
    let mut it = args.into_iter();
    let usage = |m: &str| ShimError::Usage(m.to_owned());
    let mode = it.next().ok_or_else(|| usage("missing mode"))?;
    // The caller may have SIGCHLD ignored (it is inherited across exec): the shim
    // needs it, and gives the leader back what the caller had.
    let saved = vec![
        SavedAction::get(libc::SIGCHLD).map_err(ShimError::io("read the SIGCHLD disposition"))?,
    ];
    set_default(libc::SIGCHLD).map_err(ShimError::io("reset SIGCHLD"))?;
    if mode == "probe-pidns" {
        return Ok(crate::method::pidns::probe_in_shim());
    }
    if mode == super::watchdog::MODE {
        return super::watchdog::main(it);
    }
    let method: Method = mode
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| usage("unknown mode"))?;
    let mut fd = || -> Result<i32, ShimError> {
        it.next()
            .and_then(|s| s.to_str()?.parse().ok())
            .ok_or_else(|| usage("missing protocol fd"))
    };
    let (ctl_n, evt_n) = (fd()?, fd()?);
    if it.next().as_deref() != Some("--".as_ref()) {
        return Err(usage("missing --"));
    }
    let program = it.next().ok_or_else(|| usage("missing program"))?;
    let args: Vec<OsString> = it.collect();

    let ctl = adopt_inherited(ctl_n).map_err(ShimError::io("adopt the control pipe"))?;
    let evt = adopt_inherited(evt_n).map_err(ShimError::io("adopt the event pipe"))?;
    // Like the in-process methods' leaders, the shim leaves the caller's process
    // group: a Ctrl-C meant for the host must not kill the shim and orphan the
    // tree. The host decides when to tear down. (Fails harmlessly if it already
    // leads a group or a session.)
    let _ = crate::sys::prctl::new_process_group();
    let setup = Setup {
        method,
        ctl: LineReader::new(ctl),
        out: LineWriter::new(evt),
        sigfd,
        saved,
        program,
        args,
    };
    match method {
        Method::Subreaper | Method::ProcWalk => run_reaping(setup),
        Method::Pidns => crate::method::pidns::run_outer(setup),
        _ => Err(usage("this method does not use a shim")),
    }
}

/// Forks and execs the leader in its own process group, with the caller's signal
/// dispositions and an empty signal mask, and `PR_SET_PDEATHSIG(SIGKILL)`: if the
/// shim dies (it can be SIGKILLed), the leader dies with it.
pub(crate) fn spawn_leader(setup: &Setup) -> io::Result<Child> {
    let mut cmd = Command::new(&setup.program);
    cmd.args(&setup.args).process_group(0);
    restore_before_exec(&mut cmd, setup.saved.clone());
    die_with_parent_before_exec(&mut cmd);
    cmd.spawn()
}

/// The errno of an I/O error, for the protocol.
pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn run_reaping(mut s: Setup) -> Result<i32, ShimError> {
    if let Err(e) = set_child_subreaper() {
        let _ = s.out.send(
            &Event::Unsupported(format!("prctl(PR_SET_CHILD_SUBREAPER) failed: {e}")).encode(),
        );
        return Ok(0);
    }
    let leader = match spawn_leader(&s) {
        Ok(c) => c,
        Err(e) => {
            let _ = s.out.send(&Event::SpawnFailed(errno(&e)).encode());
            return Ok(0);
        }
    };
    let lpid = leader.id() as i32;
    // A failed send means the host is gone: the control pipe's EOF handles it.
    let _ = s.out.send(&Event::Ready(lpid).encode());
    stdio_to_dev_null().map_err(ShimError::io("point stdio at /dev/null"))?;
    let sigfd = s
        .sigfd
        .try_clone()
        .map_err(ShimError::io("dup the signalfd"))?;
    let mut reaper = Reaper::new(sigfd.as_fd(), lpid);
    let mut reported = false;
    loop {
        let (ctl_ready, sig_ready) = {
            let mut fds = [
                PollFd::new(s.ctl.as_fd(), libc::POLLIN),
                PollFd::new(sigfd.as_fd(), libc::POLLIN),
            ];
            poll(&mut fds, None).map_err(ShimError::io("poll"))?;
            (fds[0].ready(), fds[1].ready())
        };
        if sig_ready {
            drain_signalfd(sigfd.as_fd());
            // Keep the leader's zombie: its PID and PGID stay reserved until teardown.
            reaper.reap_ready(true).map_err(ShimError::io("reap"))?;
            if let (Some(st), false) = (reaper.leader_status, reported) {
                let _ = s.out.send(&Event::LeaderExited(st).encode());
                reported = true;
            }
        }
        if ctl_ready {
            s.ctl
                .fill()
                .map_err(ShimError::io("read the control pipe"))?;
        }
        while let Some(line) = s.ctl.pending() {
            match Request::parse(&line) {
                Some(Request::Teardown(req)) => {
                    let opts = TeardownOptions {
                        grace: req.grace,
                        deadline: req.deadline,
                    };
                    finish(&mut s, &mut reaper, opts, reported);
                    return Ok(0);
                }
                // The leader is our unreaped child: its PID is reserved.
                Some(Request::Signal(n)) if reaper.leader_status.is_none() => {
                    let _ = kill_child(lpid, n);
                }
                Some(Request::Signal(_)) => {}
                None => {}
            }
        }
        if s.ctl.is_eof() {
            // The host died or dropped the tree.
            let opts = TeardownOptions {
                grace: std::time::Duration::ZERO,
                deadline: Some(DROP_DEADLINE),
            };
            finish(&mut s, &mut reaper, opts, reported);
            return Ok(0);
        }
    }
}

fn finish(s: &mut Setup, reaper: &mut Reaper<'_>, opts: TeardownOptions, reported: bool) {
    let result = match s.method {
        Method::Subreaper => crate::method::subreaper::teardown(reaper, opts),
        _ => crate::method::proc_walk::teardown(reaper, opts),
    };
    if let (Some(st), false) = (reaper.leader_status, reported) {
        let _ = s.out.send(&Event::LeaderExited(st).encode());
    }
    send_result(&mut s.out, s.method, result);
}

/// Sends a teardown's outcome to the host.
pub(crate) fn send_result(
    out: &mut LineWriter,
    method: Method,
    result: Result<Drained, TeardownError>,
) {
    let event = match result {
        Ok(d) => {
            let report = DrainReport {
                method,
                requested: method,
                signalled: d.signalled,
                reaped: d.reaped,
                rounds: d.rounds,
                escalated: d.escalated,
                drain: d.drain,
                leader_status: d.leader.map(shell_status),
            };
            Event::Drained(serde_json::to_string(&report).unwrap_or_default())
        }
        Err(TeardownError::Deadline { elapsed, alive }) => {
            Event::Deadline(elapsed.as_micros() as u64, alive as u64)
        }
        Err(TeardownError::Io { what, source }) => Event::Failed(errno(&source), what),
    };
    let _ = out.send(&event.encode());
}
