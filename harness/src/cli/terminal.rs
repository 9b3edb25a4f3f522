//! `teardown run` at a terminal: job control for its command, as a shell does it.
//!
//! When stdin is `run`'s controlling terminal and `run` is in its foreground
//! process group, [`Terminal::hand_over`] makes the command's process group the
//! foreground one (`tcsetpgrp`), so that the command can read the terminal
//! instead of being stopped by SIGTTIN. Every method starts its leader in a group
//! of its own (`pgid` = the leader's PID) in `run`'s session, also the shim
//! methods, whose leader is `run`'s grandchild: no method calls `setsid`, so every
//! method can be handed the terminal.
//!
//! Ctrl-Z stops the command's group, not `run` (which is not in it).
//! [`Terminal::follow`] sees the leader stopped (`/proc/PID/stat`, state `T`),
//! takes the terminal back with its mode as it was at the start, and stops its
//! own process group with SIGTSTP (`run`, and a script that started it), so that
//! the user's shell sees the job stopped. When the shell continues the job
//! (`fg`), `run` gives the terminal and the command's mode back and sends the
//! command's group SIGCONT; after `bg`, only SIGCONT. A `run ... &` (a job of its
//! own in the background) does the same: its command stops on reading (SIGTTIN),
//! so does the job, and `fg` gives the command the terminal.
//!
//! Dropping the [`Terminal`] gives the foreground back to `run`'s group and
//! restores the mode the terminal had at the start, whichever way `run` ends
//! (the leader's exit, a signal, an error); only SIGKILL skips it.
//!
//! `tcsetpgrp` and `tcsetattr` from a background group raise SIGTTOU unless it is
//! blocked or ignored: every call here holds it blocked (run blocks every signal
//! anyway; the guard keeps this module right on its own).

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use rustix::process::{Pid, getpgid, getpgrp, kill_process_group};
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetpgrp, tcsetattr, tcsetpgrp};
use teardown_harness::oracle::stat_state;

/// How often the leader's state is read while the command has the terminal. A
/// shim method's leader is `run`'s grandchild: its stop notifies the shim, not
/// `run`, so nothing wakes `run` when it stops. A twentieth of a second is below
/// what a person at a terminal notices after Ctrl-Z.
pub(super) const TICK: Duration = Duration::from_millis(50);

/// `run`'s controlling terminal, while its command uses it.
pub(super) struct Terminal {
    /// The mode when `run` first had the foreground: restored at the end and
    /// while the job is stopped.
    start_mode: Option<Termios>,
    /// The command's mode when it was last stopped: given back at `fg`.
    command_mode: Option<Termios>,
    /// `run`'s own process group.
    own: Pid,
    /// The command's process group, once known.
    command: Option<Pid>,
}

impl Terminal {
    /// The terminal on stdin, if it is `run`'s controlling terminal and `run` is
    /// in its foreground group, or is a job of its own in the background (`run
    /// ... &` from a shell with job control: `run` leads its process group). Not
    /// a pipe, not a file, not a terminal that is not `run`'s.
    pub(super) fn controlling() -> Option<Terminal> {
        let stdin = io::stdin();
        let tty = stdin.as_fd();
        if !rustix::termios::isatty(tty) {
            return None;
        }
        // ENOTTY unless it is our controlling terminal.
        let fg = tcgetpgrp(tty).ok()?;
        let own = getpgrp();
        if fg != own {
            // In the background: a job only if a job-control shell made it one
            // (`run` leads its group and its parent leads the session). A group
            // of its own made by another parent (a supervisor's process group,
            // Python's `process_group=0`) is not a job: no shell would ever
            // continue `run` after it stopped itself.
            let parent_leads_session = rustix::process::getppid()
                .zip(rustix::process::getsid(None).ok())
                .is_some_and(|(parent, sid)| parent == sid);
            if own != rustix::process::getpid() || !parent_leads_session {
                return None;
            }
        }
        Some(Terminal {
            start_mode: None,
            command_mode: None,
            own,
            command: None,
        })
    }

    /// Gives the leader's process group the terminal if `run` has it now (see
    /// `give`); a background `run` gives it once `fg` gave it to `run`
    /// ([`Terminal::follow`]).
    pub(super) fn hand_over(&mut self, leader: u32) -> io::Result<()> {
        let group = getpgid(Some(pid(leader)?))?;
        if group == self.own {
            // Already in the foreground with `run`, or in the background with it.
            return Ok(());
        }
        if tcgetpgrp(io::stdin().as_fd())? == self.own {
            self.give(group)?;
        }
        self.command = Some(group);
        Ok(())
    }

    /// The poll timeout while the command has the terminal.
    pub(super) fn tick(&self) -> Option<Duration> {
        self.command.map(|_| TICK)
    }

    /// Follows the command as a shell follows its job. If the leader is stopped
    /// (Ctrl-Z, or SIGTTIN in the background) and `run` does not have the
    /// terminal: takes it back, if the command has it, and stops `run`'s group
    /// (the shell sees the job stopped); once continued without the terminal
    /// (`bg`), continues the command. Then, whenever `run` finds the terminal
    /// its own (`fg`), gives it to the command.
    pub(super) fn follow(&mut self, leader: u32) -> io::Result<()> {
        let Some(group) = self.command else {
            return Ok(());
        };
        let stdin = io::stdin();
        let tty = stdin.as_fd();
        // Stopped while `run` has the terminal: by SIGTTIN before `run` got it
        // (`fg` of a `run ... &`); `give` below continues it.
        let fg = tcgetpgrp(tty)?;
        if fg != self.own && is_stopped(leader) {
            if fg == group {
                self.command_mode = tcgetattr(tty).ok();
                let start = self.start_mode.as_ref();
                with_sigttou_blocked(|| {
                    tcsetpgrp(tty, self.own)?;
                    match start {
                        Some(mode) => tcsetattr(tty, OptionalActions::Drain, mode),
                        None => Ok(()),
                    }
                })?;
            }
            stop_own_group(self.own)?;
            if tcgetpgrp(tty)? != self.own {
                // `bg`: on, without the terminal.
                kill_process_group(group, rustix::process::Signal::CONT)?;
            }
        }
        if tcgetpgrp(tty)? == self.own {
            self.give(group)?;
        }
        Ok(())
    }

    /// Makes `group` the terminal's foreground group, in its own mode if it was
    /// stopped before, then sends it SIGCONT: a command that read the terminal
    /// before it had it got SIGTTIN, and SIGCONT resumes it (or discards the stop
    /// still pending); with the terminal, no new SIGTTIN can reach it.
    fn give(&mut self, group: Pid) -> io::Result<()> {
        let stdin = io::stdin();
        let tty = stdin.as_fd();
        if self.start_mode.is_none() {
            self.start_mode = Some(tcgetattr(tty)?);
        }
        let mode = self.command_mode.as_ref();
        with_sigttou_blocked(|| {
            if let Some(mode) = mode {
                tcsetattr(tty, OptionalActions::Drain, mode)?;
            }
            tcsetpgrp(tty, group)
        })?;
        kill_process_group(group, rustix::process::Signal::CONT)?;
        Ok(())
    }
}

impl Drop for Terminal {
    /// Gives the foreground back to `run`'s group and restores the start mode,
    /// unless the terminal now belongs to someone else (`run` was put in the
    /// background and the shell has it). A foreground group with no process
    /// left (a group the command made for a job of its own, `bash -i`, torn
    /// down with the tree) is no one's: the terminal is restored.
    fn drop(&mut self) {
        let stdin = io::stdin();
        let tty = stdin.as_fd();
        let Ok(fg) = tcgetpgrp(tty) else {
            return;
        };
        if fg != self.own && Some(fg) != self.command && has_live_member(fg) {
            return;
        }
        let start = self.start_mode.as_ref();
        let restored = with_sigttou_blocked(|| {
            if let Some(mode) = start {
                tcsetattr(tty, OptionalActions::Drain, mode)?;
            }
            tcsetpgrp(tty, self.own)
        });
        if let Err(e) = restored {
            eprintln!("teardown run: cannot restore the terminal: {e}");
        }
    }
}

/// Whether a process of group `pgrp` is running (not a zombie): read from
/// `/proc`, once, when `run` ends (a torn-down job's members may be zombies
/// that their new parent has not reaped yet; they hold the group, no terminal).
fn has_live_member(pgrp: Pid) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        // Bytes: a member may name itself with bytes that are not UTF-8, and
        // skipping it would take the terminal from a live job.
        .filter_map(|e| std::fs::read(e.path().join("stat")).ok())
        .any(|stat| {
            // `pid (comm) state ppid pgrp ...`: comm may hold spaces and `)`.
            let Some(close) = stat.iter().rposition(|&b| b == b')') else {
                return false;
            };
            let rest = String::from_utf8_lossy(&stat[close + 1..]);
            let mut f = rest.split_whitespace();
            let state = f.next();
            let group = f.nth(1).and_then(|g| g.parse::<i32>().ok());
            group == Some(pgrp.as_raw_nonzero().get()) && state != Some("Z")
        })
}

fn pid(raw: u32) -> io::Result<Pid> {
    i32::try_from(raw)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Runs `f` with SIGTTOU blocked in this thread, then restores the mask.
fn with_sigttou_blocked<T>(f: impl FnOnce() -> rustix::io::Result<T>) -> io::Result<T> {
    let mut ttou = SigSet::empty();
    ttou.add(Signal::SIGTTOU);
    let old = ttou.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
    let result = f();
    old.thread_set_mask()?;
    Ok(result?)
}

/// Stops `run`'s process group with SIGTSTP, as a job does on Ctrl-Z (`run` and
/// whatever started it in the same group: a script's shell, which would
/// otherwise wait for a `run` that its own shell does not see stopped), and
/// returns once continued. `run` blocks SIGTSTP while it sends it, then unblocks
/// it: it is delivered on that return from `sigprocmask`, exactly once. If it is
/// ignored (a parent without job control started `run`), nothing stops: nobody
/// could continue it.
fn stop_own_group(own: Pid) -> io::Result<()> {
    let mut tstp = SigSet::empty();
    tstp.add(Signal::SIGTSTP);
    let old = tstp.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
    kill_process_group(own, rustix::process::Signal::TSTP)?;
    tstp.thread_unblock()?;
    old.thread_set_mask()?;
    Ok(())
}

/// Whether the process is stopped by a signal (state `T` in `/proc/PID/stat`,
/// read as bytes: the command may name itself with bytes that are not UTF-8).
fn is_stopped(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|s| stat_state(&s) == Some(b'T'))
}
