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
//! takes the terminal back with its mode as it was at the start, and stops `run`
//! itself with SIGTSTP, so that the user's shell sees the job stopped. When the
//! shell continues `run` (`fg`), `run` gives the terminal and the command's mode
//! back and sends the command's group SIGCONT; after `bg`, only SIGCONT.
//!
//! Dropping the [`Terminal`] gives the foreground back to `run`'s group and
//! restores the mode the terminal had at the start, whichever way `run` ends
//! (the leader's exit, a signal, an error); only SIGKILL skips it.
//!
//! `tcsetpgrp` and `tcsetattr` from a background group raise SIGTTOU unless it is
//! blocked or ignored: every call here holds it blocked (run blocks every signal
//! anyway; the guard keeps this module right on its own).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, raise};
use rustix::process::{Pid, getpgid, getpgrp, kill_process_group};
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetpgrp, tcsetattr, tcsetpgrp};

/// How often the leader's state is read while the command has the terminal. A
/// shim method's leader is `run`'s grandchild: its stop notifies the shim, not
/// `run`, so nothing wakes `run` when it stops. A twentieth of a second is below
/// what a person at a terminal notices after Ctrl-Z.
pub(super) const TICK: Duration = Duration::from_millis(50);

/// The terminal `run` was started in the foreground of, while its command uses it.
pub(super) struct Terminal {
    /// The mode at the start: restored at the end and while the job is stopped.
    start_mode: Termios,
    /// stdin, the terminal.
    stdin: io::Stdin,
    /// `run`'s own process group.
    own: Pid,
    /// The command's process group, once handed the terminal.
    command: Option<Pid>,
}

impl Terminal {
    /// The terminal on stdin, if it is `run`'s controlling terminal and `run` is
    /// in its foreground group (not `run ... &`, not a pipe, not a file).
    pub(super) fn foreground() -> Option<Terminal> {
        let stdin = io::stdin();
        let tty = stdin.as_fd();
        if !rustix::termios::isatty(tty) {
            return None;
        }
        // ENOTTY unless it is our controlling terminal.
        let fg = tcgetpgrp(tty).ok()?;
        let own = getpgrp();
        if fg != own {
            return None;
        }
        let start_mode = tcgetattr(tty).ok()?;
        Some(Terminal {
            stdin,
            start_mode,
            own,
            command: None,
        })
    }

    /// Makes the leader's process group the terminal's foreground group, then
    /// sends it SIGCONT: a command that read the terminal before the hand-over
    /// got SIGTTIN, and SIGCONT resumes it (or discards the stop still pending).
    /// After the hand-over, no new SIGTTIN can reach it.
    pub(super) fn hand_over(&mut self, leader: u32) -> io::Result<()> {
        let leader = pid(leader)?;
        let group = getpgid(Some(leader))?;
        if group == self.own {
            // Already in the foreground, with `run`.
            return Ok(());
        }
        with_sigttou_blocked(|| tcsetpgrp(self.tty(), group))?;
        self.command = Some(group);
        kill_process_group(group, rustix::process::Signal::CONT)?;
        Ok(())
    }

    fn tty(&self) -> BorrowedFd<'_> {
        self.stdin.as_fd()
    }

    /// The poll timeout while the command has the terminal.
    pub(super) fn tick(&self) -> Option<Duration> {
        self.command.map(|_| TICK)
    }

    /// If the leader is stopped (Ctrl-Z, or SIGTTIN after `bg`): takes the
    /// terminal back, stops `run` (the shell sees the job stopped), and once
    /// continued resumes the command, with the terminal if `run` got it back (`fg`).
    pub(super) fn follow(&mut self, leader: u32) -> io::Result<()> {
        let Some(group) = self.command else {
            return Ok(());
        };
        if !is_stopped(leader) {
            return Ok(());
        }
        let tty = self.tty();
        let command_mode = if tcgetpgrp(tty)? == group {
            let mode = tcgetattr(tty).ok();
            with_sigttou_blocked(|| {
                tcsetpgrp(tty, self.own)?;
                tcsetattr(tty, OptionalActions::Drain, &self.start_mode)
            })?;
            mode
        } else {
            None
        };
        stop_self()?;
        // Continued: by `fg` (the shell gave `run`'s group the terminal) or `bg`.
        if tcgetpgrp(tty)? == self.own {
            with_sigttou_blocked(|| {
                if let Some(mode) = &command_mode {
                    tcsetattr(tty, OptionalActions::Drain, mode)?;
                }
                tcsetpgrp(tty, group)
            })?;
        }
        kill_process_group(group, rustix::process::Signal::CONT)?;
        Ok(())
    }
}

impl Drop for Terminal {
    /// Gives the foreground back to `run`'s group and restores the start mode,
    /// unless the terminal now belongs to someone else (`run` was put in the
    /// background and the shell has it).
    fn drop(&mut self) {
        let tty = self.tty();
        let Ok(fg) = tcgetpgrp(tty) else {
            return;
        };
        if fg != self.own && Some(fg) != self.command {
            return;
        }
        let restored = with_sigttou_blocked(|| {
            tcsetattr(tty, OptionalActions::Drain, &self.start_mode)?;
            tcsetpgrp(tty, self.own)
        });
        if let Err(e) = restored {
            eprintln!("teardown run: cannot restore the terminal: {e}");
        }
    }
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

/// Stops this process with SIGTSTP, as a job does on Ctrl-Z, and returns once it
/// is continued. SIGTSTP is raised while blocked, then unblocked: it is delivered
/// on that return from `sigprocmask`, exactly once. If it is ignored (a parent
/// without job control started `run`), nothing stops: nobody could continue it.
fn stop_self() -> io::Result<()> {
    let mut tstp = SigSet::empty();
    tstp.add(Signal::SIGTSTP);
    let old = tstp.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
    raise(Signal::SIGTSTP)?;
    tstp.thread_unblock()?;
    old.thread_set_mask()?;
    Ok(())
}

/// Whether the process is stopped by a signal (state `T` in `/proc/PID/stat`).
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| stat_state(&s) == Some('T'))
}

/// The state letter of a `/proc/PID/stat` line: the first field after the
/// command name, which is in parentheses and may itself hold `)` and spaces.
fn stat_state(stat: &str) -> Option<char> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_read_after_the_last_parenthesis_of_the_name() {
        assert_eq!(stat_state("42 (cat) T 1 42 42 34816"), Some('T'));
        assert_eq!(stat_state("42 (a) b) S 1 42 42 0"), Some('S'));
        assert_eq!(stat_state("42 (x"), None);
    }
}
