//! `teardown run`: a supervisor usable like tini or `timeout`.
//!
//! One thread, one loop: every signal is blocked and read from a `signalfd`; the
//! leader's exit is a pidfd becoming readable; the timeout is the `poll(2)`
//! timeout. SIGTERM, SIGINT or SIGHUP, the leader's exit or the timeout, whichever
//! comes first, starts the teardown, which returns only when the tree is drained.
//! The user's signals (SIGUSR1, SIGUSR2, SIGWINCH, SIGQUIT, SIGALRM) are
//! forwarded to the leader alone (not its group: a helper of the command that
//! does not expect SIGUSR1 would die of it), tini-style, unless the leader sent them itself; every
//! other signal is read and dropped. So a tree that signals its parent (Xorg's
//! `kill -USR1 $PPID` readiness protocol) or its ancestors cannot kill the
//! supervisor. SIGSTOP cannot be blocked: under a method that leaves the
//! supervisor visible to the tree (every method but `pidns`) a tree can stop it.
//!
//! At a terminal, the command's group gets the foreground, and Ctrl-Z and `fg`
//! work as for a shell's job: see [`super::terminal`].

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::event::{PollFd, PollFlags, Timespec};
use teardown::{SpawnError, SpawnOptions, TeardownOptions, Tree};
use teardown_harness::wire::{HOLD_FD_ENV, RunReport};

use super::terminal::Terminal;
use super::{Fail, chain};

mod args;

pub use args::{ABOUT, RunArgs, parse_args};

/// What started the teardown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Signal(i32),
    Timeout,
    LeaderExit,
}

pub fn main(args: RunArgs) -> Result<ExitCode, Fail> {
    let mut report = match &args.report {
        Some(p) => Some(File::create(p).map_err(|e| {
            Fail::usage(format!("cannot write the report to {}: {e}", p.display()))
        })?),
        None => None,
    };
    let hold = hold_fd();
    let mut write_report = |r: &RunReport| {
        if let Some(f) = report.as_mut()
            && let Err(e) = f.write_all(r.to_line().as_bytes()).and_then(|()| f.flush())
        {
            eprintln!("teardown run: cannot write the report: {e}");
        }
        if let Some(fd) = &hold {
            hold_until_released(fd);
        }
    };

    // Block every signal before the tree exists, and read them from a signalfd;
    // the leader starts with an empty mask (see below).
    let all = SigSet::all();
    all.thread_block()
        .map_err(|e| Fail::usage(format!("cannot block signals: {e}")))?;
    let signals = SignalFd::with_flags(&all, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Fail::usage(format!("cannot create a signalfd: {e}")))?;

    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    // Only when it is there: any change to a `Command`'s environment makes std
    // copy the whole of it for the child (an allocation per variable, in the
    // forked init under `pidns`), which is most of a spawn's page faults.
    if std::env::var_os(HOLD_FD_ENV).is_some() {
        cmd.env_remove(HOLD_FD_ENV);
    }
    teardown_harness::sys::take_sigchld_for_supervisor(&mut cmd)
        .map_err(|e| Fail::usage(format!("cannot reset SIGCHLD: {e}")))?;
    // One thread: the shim methods fork their shim rather than exec it.
    // The leader starts with nothing blocked, whatever the method (we block
    // every signal for our signalfd).
    let mut opts = SpawnOptions::default()
        .with_forked_shim(true)
        .with_unblocked_signals(true);
    if let Ok(me) = std::env::current_exe() {
        opts = opts.with_shim(me, vec!["__shim".to_owned()]);
    }
    let started = Instant::now();
    let mut tree = match args.method.spawn_with(&mut cmd, &opts) {
        Ok(t) => t,
        Err(e) => return Err(spawn_failure(&e, &args.command[0], &mut write_report)),
    };

    // At a terminal, the command's group gets the foreground; dropping `terminal`
    // gives it back, with the terminal's mode, on every way out of this function.
    let mut terminal = Terminal::controlling();
    if let Some(t) = terminal.as_mut()
        && let Err(e) = t.hand_over(tree.leader_pid())
    {
        eprintln!(
            "teardown run: cannot give the terminal to the command (reading it will stop the command): {e}"
        );
    }
    let deadline = args.timeout.map(|t| started + t);
    let cause = wait_for_cause(&mut tree, &signals, deadline, terminal.as_mut())
        .map_err(|e| failure(format!("waiting: {e}"), &mut write_report))?;
    let own_exit = if cause == Cause::LeaderExit {
        leader_status(&mut tree, &signals)
    } else {
        None
    };

    let mut topts = TeardownOptions::default();
    topts.grace = args.grace;
    let drained = tree
        .teardown_with(topts)
        .map_err(|e| failure(chain(&e), &mut write_report))?;
    drop(terminal);
    write_report(&RunReport::Drained(drained.clone()));

    let status = drained.leader_status.or(own_exit.map(shell_status));
    Ok(match (cause, status) {
        (Cause::Timeout, _) => ExitCode::from(124),
        (_, Some(s)) => ExitCode::from(s.clamp(0, 255) as u8),
        (Cause::Signal(sig), None) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        (Cause::LeaderExit, None) => ExitCode::from(125),
    })
}

/// The hold pipe ([`HOLD_FD_ENV`]), if the warden gave one.
fn hold_fd() -> Option<OwnedFd> {
    let raw: i32 = std::env::var(HOLD_FD_ENV).ok()?.trim().parse().ok()?;
    let fd = teardown_harness::sys::adopt_inherited_fd(raw).ok()?;
    let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
    Some(fd)
}

/// Blocks until the hold pipe's writer closes it (at most 30 s).
fn hold_until_released(fd: &OwnedFd) {
    let t = Timespec {
        tv_sec: 30,
        tv_nsec: 0,
    };
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    while let Err(rustix::io::Errno::INTR) = rustix::event::poll(&mut fds, Some(&t)) {}
}

/// The status a shell shows: the exit code, or 128+signal.
fn shell_status(st: ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

fn failure(reason: String, write_report: &mut impl FnMut(&RunReport)) -> Fail {
    write_report(&RunReport::Failed {
        error: reason.clone(),
    });
    Fail { code: 125, reason }
}

fn spawn_failure(e: &SpawnError, program: &str, write_report: &mut impl FnMut(&RunReport)) -> Fail {
    match e {
        SpawnError::Unsupported { .. } => {
            write_report(&RunReport::Unsupported {
                unsupported: e.to_string(),
            });
            Fail::usage(e)
        }
        SpawnError::Spawn { source, .. } => {
            let reason = format!("cannot run {program}: {source}");
            write_report(&RunReport::Failed {
                error: reason.clone(),
            });
            let code = match source.kind() {
                io::ErrorKind::NotFound => 127,
                _ => 126,
            };
            Fail { code, reason }
        }
        SpawnError::Setup { .. } => failure(chain(e), write_report),
    }
}

/// The signals that start the teardown.
const TEARDOWN_SIGNALS: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];
/// The signals forwarded to the leader while it runs.
const FORWARDED: [Signal; 5] = [
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGQUIT,
    Signal::SIGALRM,
];

/// What to do with a signal read from the signalfd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnSignal {
    Teardown(i32),
    Forward(i32),
    Drop,
}

/// The rule, apart from the reading: `sender` is the signal's sender PID (0 for
/// the kernel), `leader` the leader's.
fn on_signal(signo: i32, sender: i32, leader: i32) -> OnSignal {
    let Ok(sig) = Signal::try_from(signo) else {
        return OnSignal::Drop;
    };
    if TEARDOWN_SIGNALS.contains(&sig) {
        OnSignal::Teardown(signo)
    } else if FORWARDED.contains(&sig) && sender != leader {
        // Not back to its own sender: a leader that tells its parent "ready" with
        // SIGUSR1 and handles SIGUSR1 would otherwise ping-pong forever.
        OnSignal::Forward(signo)
    } else {
        OnSignal::Drop
    }
}

/// The exited leader's status, as the method reports it; `None` if a teardown
/// signal comes first. The leader's pidfd said it exited, so the method's word
/// normally follows at once, but `run` keeps reading its signals while it waits:
/// a method that never said it (pidns's init spinning on a leader whose name was
/// not UTF-8 did) must not make `run` deaf to SIGTERM.
fn leader_status(tree: &mut Tree, signals: &SignalFd) -> Option<ExitStatus> {
    loop {
        match tree.wait_leader_timeout(Duration::from_millis(100)) {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        while let Ok(Some(info)) = signals.read_signal() {
            let sig = Signal::try_from(info.ssi_signo as i32).ok();
            if sig.is_some_and(|s| TEARDOWN_SIGNALS.contains(&s)) {
                return None;
            }
        }
    }
}

/// Waits for the first of: a teardown signal, the leader's exit, the deadline;
/// forwards the user's signals to the leader meanwhile.
fn wait_for_cause(
    tree: &mut Tree,
    signals: &SignalFd,
    deadline: Option<Instant>,
    mut terminal: Option<&mut Terminal>,
) -> io::Result<Cause> {
    // A pidfd for the leader: readable once it has exited (whoever its parent is,
    // the core or its shim). Opened while the leader cannot have been reaped yet
    // by anyone but its parent; if it is already gone, it has exited.
    let leader: Option<OwnedFd> = rustix::process::Pid::from_raw(tree.leader_pid() as i32)
        .and_then(|pid| {
            rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
        });
    let Some(leader) = leader else {
        return Ok(Cause::LeaderExit);
    };
    loop {
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Cause::Timeout);
                }
                Some(Timespec::try_from(left).unwrap_or(Timespec {
                    tv_sec: 3600,
                    tv_nsec: 0,
                }))
            }
            None => None,
        };
        let tick = terminal.as_ref().and_then(|t| t.tick());
        let timeout = match (timeout, tick.and_then(|t| Timespec::try_from(t).ok())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut fds = [
            PollFd::new(signals, PollFlags::IN),
            PollFd::new(&leader, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        if !fds[0].revents().is_empty() {
            while let Ok(Some(info)) = signals.read_signal() {
                match on_signal(
                    info.ssi_signo as i32,
                    info.ssi_pid as i32,
                    tree.leader_pid() as i32,
                ) {
                    OnSignal::Teardown(sig) => return Ok(Cause::Signal(sig)),
                    OnSignal::Forward(sig) => {
                        let _ = tree.signal_leader(sig);
                    }
                    OnSignal::Drop => {}
                }
            }
        }
        if !fds[1].revents().is_empty() {
            return Ok(Cause::LeaderExit);
        }
        if let Some(t) = terminal.as_deref_mut()
            && let Err(e) = t.follow(tree.leader_pid())
        {
            // A hung-up terminal, say: the command goes on, without job control.
            eprintln!("teardown run: stopped following the terminal: {e}");
            terminal = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_signals_start_the_teardown_from_anyone() {
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            assert_eq!(on_signal(sig, 0, 42), OnSignal::Teardown(sig));
            assert_eq!(on_signal(sig, 42, 42), OnSignal::Teardown(sig));
        }
    }

    #[test]
    fn user_signals_are_forwarded_but_never_back_to_the_leader_that_sent_them() {
        assert_eq!(
            on_signal(libc::SIGUSR1, 7, 42),
            OnSignal::Forward(libc::SIGUSR1)
        );
        assert_eq!(
            on_signal(libc::SIGWINCH, 0, 42),
            OnSignal::Forward(libc::SIGWINCH)
        );
        assert_eq!(on_signal(libc::SIGUSR1, 42, 42), OnSignal::Drop);
    }

    #[test]
    fn every_other_signal_is_dropped() {
        for sig in [
            libc::SIGPIPE,
            libc::SIGCHLD,
            libc::SIGURG,
            libc::SIGTSTP,
            libc::SIGSEGV,
            40,
        ] {
            assert_eq!(on_signal(sig, 7, 42), OnSignal::Drop, "{sig}");
        }
    }
}
