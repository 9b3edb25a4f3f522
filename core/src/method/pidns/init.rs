//! The init: PID 1 of the namespace (see the parent module).

use std::os::fd::{AsFd, OwnedFd};

use rustix::process::Signal;

use crate::fds::{PollFd, PollFlags, Ready, poll, stdio_to_dev_null};
use crate::shim::protocol::{LineReader, LineWriter, Next};
use crate::shim::reaper::{Left, Reaper, own_ns_level};
use crate::shim::setup::{ParentDeath, Setup, errno, spawn_leader};
use crate::sys::signal::{block_only, drain_signalfd, kill_all_in_own_pid_namespace, kill_child};

/// The init: PID 1 of the namespace.
pub(super) fn run(s: &Setup, evt: OwnedFd, cmd: OwnedFd) -> i32 {
    // Die with the outer shim (single-threaded, so its one thread is "the parent").
    // If it died before this call, the command pipe is at EOF and we exit below.
    // (getppid() cannot tell: the parent is outside the namespace, it shows 0.)
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    // The outer shim blocks every signal; the init blocks only SIGCHLD (for its
    // signalfd), so that the kernel drops whatever a process of the namespace
    // sends it: a namespace's init gets only the signals it has a handler for
    // (none), SIGKILL and SIGSTOP included. Blocked, they would be queued instead.
    let _ = block_only(Some(libc::SIGCHLD));
    let mut out = LineWriter::new(evt);
    let mut cmd = LineReader::new(cmd);
    // The leader inherits our mask through a `posix_spawn` (no hook of ours
    // runs in it): empty it for the spawn. A SIGCHLD meanwhile is lost to the
    // signalfd, but the reaper looks before it first waits.
    let _ = block_only(None);
    let spawned = spawn_leader(s, ParentDeath::Namespace);
    let _ = block_only(Some(libc::SIGCHLD));
    let leader = match spawned {
        Ok(c) => c.id() as i32,
        Err(e) => {
            let _ = out.send(&format!("spawn-failed {}\n", errno(&e)));
            return 0;
        }
    };
    let _ = out.send(&format!("spawned {leader}\n"));
    match cmd.next(None) {
        Ok(Next::Line(l)) if l == "go" => {}
        _ => return 1,
    }
    let _ = stdio_to_dev_null();
    let sigfd = s.sigfd.as_fd();
    // Orphans of the namespace are re-parented to us: reap them all, but keep the
    // leader's zombie (its PID stays reserved, as with every method) until the
    // namespace is killed. `/proc` is the host's: children are translated to our
    // PIDs at our own level of `NSpid`.
    let Ok(level) = own_ns_level() else {
        return 1;
    };
    let mut reaper = Reaper::new(sigfd, leader).in_pid_namespace(level);
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
            return 1;
        }
        drain_signalfd(sigfd);
        let left = reaper.reap_ready(true).unwrap_or(Left::Nothing);
        if let (Some(st), false) = (reaper.leader_status, reported) {
            let _ = out.send(&format!("exited {st}\n"));
            reported = true;
            if left != Left::Running {
                // Nothing of the namespace runs and nothing can start again (only
                // a running process forks): the teardown needs no "term" round.
                let _ = out.send("empty\n");
            }
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
                return 1;
            }
            fds[0].ready()
        };
        if cmd_ready && cmd.fill().is_err() {
            return 1;
        }
    }
}
