//! What every shim mode shares: the setup a mode starts with, the leader's
//! spawn, the teardown's report to the host, and the namespaces `pidns` makes
//! (which the `probe-pidns` mode tries out).

use std::cell::RefCell;
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::protocol::{Event, LineReader, LineWriter};
use crate::driver::Drained;
use crate::sys::exec::{die_with_parent_before_exec, restore_before_exec};
use crate::sys::fork::{Forked, fork_single_threaded};
use crate::sys::ns::unshare_pid_namespace;
use crate::sys::signal::SavedAction;
use crate::sys::wait::{WaitFlags, Who, wait_exit};
use crate::{Method, TeardownError};

/// What every shim mode starts with.
pub(crate) struct Setup {
    pub method: Method,
    pub ctl: LineReader,
    pub out: LineWriter,
    pub sigfd: OwnedFd,
    pub saved: Vec<SavedAction>,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// A forked shim's copy of the caller's `Command`, which the leader is
    /// spawned from (taken by the spawn); `None` for an exec'd shim, which has
    /// `program` and `args`.
    pub command: RefCell<Option<Command>>,
}

impl Setup {
    /// The setup of `method`'s shim side: its protocol pipes' shim ends, what
    /// [`crate::shim::server`] made of the signals, and the command (as argv, and
    /// for a forked shim its own `Command`).
    pub(crate) fn new(
        method: Method,
        (ctl, evt): (OwnedFd, OwnedFd),
        (sigfd, saved): (OwnedFd, Vec<SavedAction>),
        (program, args): (OsString, Vec<OsString>),
        command: Option<Command>,
    ) -> Setup {
        Setup {
            method,
            ctl: LineReader::new(ctl),
            out: LineWriter::new(evt),
            sigfd,
            saved,
            program,
            args,
            command: RefCell::new(command),
        }
    }
}

/// What a forked shim reports when the caller's `Command` had `Stdio::piped()`:
/// the pipes would be the shim's, not the host's.
pub(crate) const PIPED_IN_FORKED_SHIM: i32 = libc::EOPNOTSUPP;

/// What ends the leader if its parent (the shim, or `pidns`'s init) dies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ParentDeath {
    /// `PR_SET_PDEATHSIG(SIGKILL)` in the child before it execs: the shim can be
    /// SIGKILLed, and the leader must die with it.
    Kill,
    /// Nothing to add: the parent is a PID namespace's init, whose death
    /// makes the kernel kill the whole namespace.
    Namespace,
}

/// Spawns the leader in its own process group, with the caller's ignored
/// signal dispositions and an empty signal mask (a `pre_exec` hook: std resets
/// neither), and what `death` says.
///
/// A forked shim spawns the caller's own `Command` (its hooks run first); one
/// with piped stdio is killed and reaped at once, and the spawn fails with
/// [`PIPED_IN_FORKED_SHIM`].
pub(crate) fn spawn_leader(setup: &Setup, death: ParentDeath) -> io::Result<Child> {
    let forked = setup.command.borrow_mut().take();
    let mut cmd = forked.unwrap_or_else(|| {
        let mut c = Command::new(&setup.program);
        c.args(&setup.args);
        c
    });
    spawn_command(&mut cmd, &setup.saved, death)
}

/// [`spawn_leader`] from a `Command` (the caller's own, in a forked copy of
/// the host) and the dispositions saved before the shim or init took SIGCHLD.
/// Borrowed, so that a forked init neither moves nor drops the host's copy:
/// every heap page it writes is a copy-on-write fault.
pub(crate) fn spawn_command(
    cmd: &mut Command,
    saved: &[SavedAction],
    death: ParentDeath,
) -> io::Result<Child> {
    cmd.process_group(0);
    // A handler cannot outlive `exec`; only an ignored disposition can, and
    // only that needs restoring.
    let saved: Vec<SavedAction> = saved.iter().filter(|s| s.is_ignored()).cloned().collect();
    // Always, so that std forks: through glibc's `posix_spawn` (a vfork, which
    // std picks when no hook needs a fork) the leader came out with glibc's
    // internal signals 32 and 33 ignored (`SigIgn: 180000000`), and the vfork
    // saved nothing measurable here.
    restore_before_exec(cmd, saved);
    if death == ParentDeath::Kill {
        die_with_parent_before_exec(cmd);
    }
    let mut child = cmd.spawn()?;
    if child.stdin.is_some() || child.stdout.is_some() || child.stderr.is_some() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::from_raw_os_error(PIPED_IN_FORKED_SHIM));
    }
    Ok(child)
}

/// The errno of an I/O error, for the protocol.
pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Sends a teardown's outcome to the host.
pub(crate) fn send_result(
    out: &mut LineWriter,
    method: Method,
    result: Result<Drained, TeardownError>,
) {
    let event = match result {
        Ok(d) => {
            let report = d.report(method, method);
            Event::Drained(serde_json::to_string(&report).unwrap_or_default())
        }
        Err(TeardownError::Deadline { elapsed, alive }) => {
            Event::Deadline(elapsed.as_micros() as u64, alive as u64)
        }
        Err(TeardownError::Io { what, source }) => Event::Failed(errno(&source), what),
    };
    let _ = out.send(&event.encode());
}

/// What `probe-pidns` prints when the namespaces can be made.
pub(crate) const PIDNS_OK: &str = "ok";

/// Creates the namespaces (user namespace too when not root). The next fork is
/// the namespace's PID 1.
pub(crate) fn enter_namespaces() -> Result<(), String> {
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let user = uid != 0;
    unshare_pid_namespace(user).map_err(|e| {
        if user {
            format!("cannot create a user and PID namespace: {e} (run as root, or allow unprivileged user namespaces: sysctl user.max_user_namespaces > 0)")
        } else {
            format!("cannot create a PID namespace: {e} (a seccomp profile or container may forbid unshare)")
        }
    })?;
    if user {
        let write = |path: &str, text: String| {
            std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))
        };
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    }
    Ok(())
}

/// `teardown-shim probe-pidns`: print `ok` and exit 0 if a PID namespace (and,
/// when not root, a user namespace) can be created here; else print why and exit
/// 1. (The words count when the prober lost the exit status: see `probe.rs`.)
pub(crate) fn probe_in_shim() -> i32 {
    if let Err(reason) = enter_namespaces() {
        println!("{reason}");
        return 1;
    }
    match fork_single_threaded() {
        Ok(Forked::Child) => std::process::exit(0),
        Ok(Forked::Parent(pid)) => match wait_exit(Who::Pid(pid), WaitFlags::REAP) {
            Ok(Some((_, 0))) => {
                println!("{PIDNS_OK}");
                0
            }
            other => {
                println!("the namespace's first process failed: {other:?}");
                1
            }
        },
        Err(e) => {
            println!("cannot fork into the new PID namespace: {e}");
            1
        }
    }
}
