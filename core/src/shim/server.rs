//! The shim program: argument parsing, the common setup, and the event loop of
//! the reaping methods (`subreaper`, `proc-walk`). The methods' own shim sides
//! (their teardowns, `pidns`'s whole outer shim) live with the methods and are
//! handed in as [`ShimSides`].

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;

use super::protocol::{Event, Request};
use super::reaper::Reaper;
use super::setup::{ParentDeath, Setup, errno, probe_in_shim, send_result, spawn_leader};
use crate::driver::Drained;
use crate::errors::ShimError;
use crate::fds::{PollFd, PollFlags, Ready, poll, stdio_to_dev_null};
use crate::options::{DROP_DEADLINE, TeardownOptions};
use crate::sys::fd::adopt_inherited;
use crate::sys::signal::{
    SavedAction, block_all_signalfd, drain_signalfd, kill_child, set_default,
};
use crate::{Method, TeardownError};

/// A reaping method's teardown, run in the shim with its reaper.
pub(crate) type ReapingTeardown =
    fn(&mut Reaper<'_>, TeardownOptions) -> Result<Drained, TeardownError>;

/// The methods' shim sides, which live above the shim's parts (in `method/`).
pub(crate) struct ShimSides {
    /// `subreaper`'s teardown.
    pub subreaper: ReapingTeardown,
    /// `proc-walk`'s teardown.
    pub proc_walk: ReapingTeardown,
    /// `pidns`: the outer shim, from its setup to its exit code.
    pub pidns: fn(Setup) -> Result<i32, ShimError>,
}

pub(crate) fn main(args: Vec<OsString>, sides: &ShimSides) -> Result<i32, ShimError> {
    let (sigfd, saved) = take_signals()?;
    let mut it = args.into_iter();
    let usage = |m: &str| ShimError::Usage(m.to_owned());
    let mode = it.next().ok_or_else(|| usage("missing mode"))?;
    if mode == "probe-pidns" {
        return Ok(probe_in_shim());
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
    run(
        Setup::new(method, (ctl, evt), (sigfd, saved), (program, args), None),
        sides,
    )
}

/// A forked shim (see [`crate::SpawnOptions::forked_shim`]): the host's copy
/// after the fork, with the protocol pipes' shim ends and the caller's `Command`.
/// Returns the exit code.
pub(crate) fn main_forked(
    method: Method,
    ctl: OwnedFd,
    evt: OwnedFd,
    command: Command,
    sides: &ShimSides,
) -> i32 {
    let run_it = || -> Result<i32, ShimError> {
        let (sigfd, mut saved) = take_signals()?;
        // The host's own disposition is what a plain spawn gives the leader; the
        // shim's default SIGCHLD already is, so only an ignored one is restored
        // (after the caller's hooks, which run in the leader here).
        saved.retain(SavedAction::is_ignored);
        let argv = (
            command.get_program().to_owned(),
            command.get_args().map(ToOwned::to_owned).collect(),
        );
        let signals = (sigfd, saved);
        run(
            Setup::new(method, (ctl, evt), signals, argv, Some(command)),
            sides,
        )
    };
    match run_it() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("teardown-shim: {e}");
            2
        }
    }
}

/// First of all: a tree can signal its parent (the shim) and every ancestor it
/// can see. Every signal is blocked (and read from a signalfd by the modes that
/// reap); only SIGKILL and SIGSTOP still reach the shim, and only a PID
/// namespace (`pidns`) hides it from the tree. The caller may have SIGCHLD
/// ignored (it is inherited across exec): the shim needs it, and gives the
/// leader back what the caller had.
pub(crate) fn take_signals() -> Result<(OwnedFd, Vec<SavedAction>), ShimError> {
    let sigfd = block_all_signalfd().map_err(ShimError::io("block signals"))?;
    let saved = vec![
        SavedAction::get(libc::SIGCHLD).map_err(ShimError::io("read the SIGCHLD disposition"))?,
    ];
    set_default(libc::SIGCHLD).map_err(ShimError::io("reset SIGCHLD"))?;
    Ok((sigfd, saved))
}

/// The method's shim side, from its setup to its exit code.
fn run(setup: Setup, sides: &ShimSides) -> Result<i32, ShimError> {
    // Like the in-process methods' leaders, the shim leaves the caller's process
    // group: a Ctrl-C meant for the host must not kill the shim and orphan the
    // tree. The host decides when to tear down. (Fails harmlessly if it already
    // leads a group or a session.)
    let _ = rustix::process::setpgid(None, None);
    match setup.method {
        Method::Subreaper => run_reaping(setup, sides.subreaper),
        Method::ProcWalk => run_reaping(setup, sides.proc_walk),
        Method::Pidns => (sides.pidns)(setup),
        _ => Err(ShimError::Usage(
            "this method does not use a shim".to_owned(),
        )),
    }
}

fn run_reaping(mut s: Setup, teardown: ReapingTeardown) -> Result<i32, ShimError> {
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        let _ = s.out.send(
            &Event::Unsupported(format!("prctl(PR_SET_CHILD_SUBREAPER) failed: {e}")).encode(),
        );
        return Ok(0);
    }
    let leader = match spawn_leader(&s, ParentDeath::Kill) {
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
                PollFd::new(&s.ctl, PollFlags::IN),
                PollFd::new(&sigfd, PollFlags::IN),
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
                    finish(&mut s, &mut reaper, teardown, opts, reported);
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
            finish(&mut s, &mut reaper, teardown, opts, reported);
            return Ok(0);
        }
    }
}

fn finish(
    s: &mut Setup,
    reaper: &mut Reaper<'_>,
    teardown: ReapingTeardown,
    opts: TeardownOptions,
    reported: bool,
) {
    let result = teardown(reaper, opts);
    if let (Some(st), false) = (reaper.leader_status, reported) {
        let _ = s.out.send(&Event::LeaderExited(st).encode());
    }
    send_result(&mut s.out, s.method, result);
}
