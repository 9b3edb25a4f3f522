//! The init: PID 1 of the namespace (see the parent module).

use std::io;
use std::os::fd::BorrowedFd;
use std::process::Child;

use rustix::process::Signal;

use crate::fds::{PollFd, PollFlags, Ready, poll, stdio_to_dev_null};
use crate::shim::protocol::{LineReader, LineWriter, Next};
use crate::shim::reaper::{Left, Reaper};
use crate::shim::setup::errno;
use crate::sys::signal::{block_only, drain_signalfd, kill_all_in_own_pid_namespace, kill_child};

/// How the init's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// The leader could not be spawned (said on the event pipe).
    SpawnFailed,
    /// End of file on the command pipe: whoever drives the init is gone.
    HostGone,
    /// A step failed.
    Broken,
}

/// Who ends the init when its parent dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OnParentDeath {
    /// `PR_SET_PDEATHSIG(SIGKILL)`: the outer shim, single-threaded, is the
    /// parent; its death kills the init and with it the namespace.
    Die,
    /// Nothing: the parent is the host itself, and the init, at end of file on
    /// its command pipe, kills the namespace and removes the leaf (which only
    /// something outside the leaf can do: see `direct.rs`).
    Notice,
}

/// The init: PID 1 of the namespace. `spawn` spawns the leader; `sigfd` reads
/// SIGCHLD.
pub(super) fn run(
    spawn: impl FnOnce() -> io::Result<Child>,
    sigfd: BorrowedFd<'_>,
    death: OnParentDeath,
    mut out: LineWriter,
    mut cmd: LineReader,
) -> End {
    // Die with the outer shim (single-threaded, so its one thread is "the parent").
    // If it died before this call, the command pipe is at EOF and we exit below.
    // (getppid() cannot tell: the parent is outside the namespace, it shows 0.)
    if death == OnParentDeath::Die {
        let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    }
    // The init blocks only SIGCHLD (for its signalfd; whoever forked us blocked
    // every signal), so that the kernel drops whatever a process of the
    // namespace sends it: a namespace's init gets only the signals it has a
    // handler for (none), SIGKILL and SIGSTOP included. Blocked, they would be
    // queued instead. (The leader's mask is emptied by its spawn's hook.)
    let _ = block_only(libc::SIGCHLD);
    let spawned = spawn();
    let leader = match spawned {
        Ok(c) => c.id() as i32,
        Err(e) => {
            let _ = out.send(&format!("spawn-failed {}\n", errno(&e)));
            return End::SpawnFailed;
        }
    };
    let _ = out.send(&format!("spawned {leader}\n"));
    match cmd.next(None) {
        Ok(Next::Line(l)) if l == "go" => {}
        Ok(Next::Eof) => return End::HostGone,
        _ => return End::Broken,
    }
    let _ = stdio_to_dev_null();
    // Orphans of the namespace are re-parented to us: reap them all, but keep the
    // leader's zombie (its PID stays reserved, as with every method) until the
    // namespace is killed. `/proc` is the host's: children are translated to our
    // PIDs at our own level of `NSpid`.
    let mut reaper = Reaper::new(sigfd, leader).in_own_pid_namespace();
    let mut reported = false;
    let mut term = false;
    loop {
        // Commands first, also those already buffered: "term" can arrive in the
        // same read as "go" (a teardown right after the spawn), and no poll would
        // ever report it again.
        while let Some(l) = cmd.pending() {
            if l == "term" {
                // kill(-1) from a namespace's init reaches exactly the
                // namespace: the one allowed use.
                let _ = kill_all_in_own_pid_namespace(libc::SIGTERM);
                let _ = kill_all_in_own_pid_namespace(libc::SIGCONT);
                term = true;
            } else if l == "probe" {
                // Before a SIGKILL teardown: does anything of the tree still run?
                let left = reaper.reap_ready(true).unwrap_or(Left::Nothing);
                let _ = out.send(if left == Left::Running {
                    "busy\n"
                } else {
                    "empty\n"
                });
            } else if let Some(n) = l.strip_prefix("signal ").and_then(|n| n.parse().ok()) {
                // The leader is our unreaped child: its PID is reserved.
                if reaper.leader_status.is_none() {
                    let _ = kill_child(leader, n);
                }
            }
        }
        if cmd.is_eof() {
            return End::HostGone;
        }
        drain_signalfd(sigfd);
        let left = reaper.reap_ready(true).unwrap_or(Left::Nothing);
        if let (Some(st), false) = (reaper.leader_status, reported) {
            reported = true;
            // Nothing of the namespace runs and nothing can start again (only a
            // running process forks): the teardown needs no "term" round. One
            // write for both lines: one wake-up of the host.
            let empty = if left == Left::Running { "" } else { "empty\n" };
            let _ = out.send(&format!("exited {st}\n{empty}"));
        }
        if term && left != Left::Running {
            let _ = out.send("empty\n");
            term = false;
        }
        let cmd_ready = {
            let mut fds = [
                PollFd::new(&cmd, PollFlags::IN),
                PollFd::from_borrowed_fd(sigfd, PollFlags::IN),
            ];
            if poll(&mut fds, None).is_err() {
                return End::Broken;
            }
            fds[0].ready()
        };
        if cmd_ready && cmd.fill().is_err() {
            return End::Broken;
        }
    }
}
