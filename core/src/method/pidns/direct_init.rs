//! The init's side of a shim-less `pidns` tree (`direct.rs`): the host writes
//! its uid and gid maps when it made a user namespace, the init runs
//! [`super::init`], and when the host is gone it does the outer shim's
//! clean-up itself.

use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;

use super::init::{self, End, OnParentDeath};
use crate::cgroup2::Leaf;
use crate::shim::protocol::{LineReader, LineWriter, Next};
use crate::shim::server::take_signals;
use crate::shim::setup::{ParentDeath, spawn_command};
use crate::sys::signal::kill_all_in_own_pid_namespace;
use crate::sys::wait::{WaitFlags, Who, wait_exit};

/// Gives the init's new user namespace the identity maps of this process's
/// uid and gid (what an unprivileged process may map); `init_in_proc`: the
/// init's PID in `/proc`'s namespace.
pub(super) fn write_maps(init_in_proc: i32, uid: u32, gid: u32) -> Result<(), String> {
    let write = |file: &str, text: String| {
        let path = format!("/proc/{init_in_proc}/{file}");
        std::fs::write(&path, text).map_err(|e| format!("cannot write {path}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{uid} {uid} 1"))?;
    write("gid_map", format!("{gid} {gid} 1"))
}

/// The init's side, in the forked child: the init of [`super::init`], and at
/// the host's death the clean-up the outer shim would have done.
pub(super) fn run(
    command: &mut Command,
    leaf: &mut Option<Leaf>,
    user: bool,
    evt: OwnedFd,
    cmd: OwnedFd,
) -> i32 {
    let (out, mut cmd) = (LineWriter::new(evt), LineReader::new(cmd));
    // In a new user namespace, nothing has an id until the host maps them.
    if user && !matches!(cmd.next(None), Ok(Next::Line(l)) if l == "mapped") {
        return 1;
    }
    // Out of the host's process group: a Ctrl-C at the host's terminal is sent
    // to that group by the kernel, from outside the namespace, and would end
    // the init (and the tree) behind the host's back.
    let _ = rustix::process::setpgid(None, None);
    // Every signal blocked and read from a signalfd, SIGCHLD's disposition
    // saved and reset: as a forked shim does (`shim::server::main_forked`).
    let Ok((sigfd, mut saved)) = take_signals() else {
        return 2;
    };
    saved.retain(|s| s.is_ignored());
    let spawn = move || spawn_command(command, &saved, ParentDeath::Namespace);
    match init::run(spawn, sigfd.as_fd(), OnParentDeath::Notice, out, cmd) {
        End::SpawnFailed => 0,
        End::HostGone | End::Broken => {
            // Nothing else will: SIGKILL the namespace, reap it empty, then
            // leave the leaf (only from outside it can it be removed) and
            // remove it with the cgroups the tree made below it, deepest first.
            let _ = kill_all_in_own_pid_namespace(libc::SIGKILL);
            while let Ok(Some(_)) = wait_exit(Who::Any, WaitFlags::REAP) {}
            if let Some(leaf) = leaf.as_mut()
                && let Some(parent) = leaf.dir().parent()
            {
                let _ = std::fs::write(parent.join("cgroup.procs"), "0");
                let _ = leaf.remove();
            }
            1
        }
    }
}
