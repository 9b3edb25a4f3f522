//! A `pre_exec` hook that has the command's process born in a cgroup:
//! `clone3(CLONE_INTO_CGROUP | CLONE_PARENT)` from the child std forked.
//!
//! # Why
//!
//! A process that writes itself into `cgroup.procs` is *migrated*, and a migration
//! takes the kernel's `cgroup_threadgroup_rwsem` for writing, which waits for an
//! RCU grace period when no migration happened lately (~13–16 ms here after a
//! quiet spell; cgroup2's `favordynmods` mount option avoids it). A process made
//! by `clone3(CLONE_INTO_CGROUP)` is born in its cgroup: no migration, no wait.
//!
//! # How, keeping everything std's `Command` does
//!
//! std's `Command` cannot be spawned with `clone3`, and most of what a caller set
//! on it (stdio, uid/gid, process group, `pre_exec` hooks) cannot be read back.
//! So std spawns as usual and applies all of it in its child; this hook, the last
//! one, runs there just before std's `exec`, and instead of exec'ing makes the
//! real leader: a `clone3(CLONE_INTO_CGROUP | CLONE_PARENT)` copy of itself, born
//! in the leaf, a child of the *host* (`CLONE_PARENT`), which returns from the
//! hook into std's own post-fork code and execs the program. The std child (the
//! "intermediate") writes the leader's PID to a pipe and `_exit`s; the host reaps
//! it and holds the leader. Everything the intermediate had (stdio, cwd, ids,
//! environment, rlimits, umask, signal mask and dispositions, what the caller's
//! hooks set) is inherited by the copy; std's error pipe is too, so `spawn` still
//! returns only once the leader has exec'd, with `exec`'s errno if it failed.
//!
//! What a fork does not carry over is re-applied in the leader: being its group's
//! leader (`process_group(0)`, which every in-process method sets: `setpgid(0,
//! 0)` again) or its session's (a caller's `setsid()` in a hook: `setsid()` again;
//! a controlling terminal the caller's hook acquired is *not* carried over), and
//! `PR_SET_PDEATHSIG` (set again; it fires when the host thread that spawned
//! exits, as it would have). Not carried over at all: pending signals, timers
//! (`alarm`, `setitimer`), `fcntl` record locks and `mlock`s taken by a caller's
//! hook, a `ptrace(PTRACE_TRACEME)` made there, and `PR_SET_CHILD_SUBREAPER`.
//! Changed: a hook's `unshare(CLONE_NEWPID)` makes the leader PID 1 of that
//! namespace (which ignores SIGTERM unless it handles it); a hook that records
//! `getpid()` (a pidfile) records the intermediate process, not the leader; a
//! hook that closes every descriptor (rather than marking them close-on-exec)
//! closes the report pipe, and the spawn fails with `EBADF`.
//!
//! Runs in a forked copy of a possibly multithreaded process: only
//! async-signal-safe system calls, on data prepared before the fork. The leader is
//! such a copy too, and returns into std's post-fork code, which is written for
//! exactly that.
//!
//! # When the clone cannot be made
//!
//! `clone3` may be refused: `ENOSYS` (kernel older than 5.7, or a seccomp filter),
//! `EACCES` (the hook runs with the ids the `Command` set, and the new uid cannot
//! write the leaf's `cgroup.procs`), `EPERM`, `EINVAL`, `E2BIG`. Then the
//! intermediate joins the leaf the old way, writing "0" to the leaf's
//! `cgroup.procs` through a descriptor opened by the host (its permission is the
//! opener's), and execs as the leader itself; it says so on the pipe ([`Joined`]).
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/clone3.2.html> (`CLONE_INTO_CGROUP`,
//! `CLONE_PARENT`); kernel `cgroup_attach_lock`, `cgroup_css_set_fork`.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::exec::HookSwitch;
use super::fork::{Forked, clone_into_cgroup};

/// How the leader came to be in its cgroup, as the intermediate reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// Born there by `clone3(CLONE_INTO_CGROUP)`: this PID, a child of the host.
    Born(i32),
    /// `clone3` was refused with this errno: the intermediate wrote itself into
    /// `cgroup.procs` and is the leader.
    Moved(i32),
}

impl Joined {
    /// Decodes the 8 bytes the hook wrote: `[kind, value]` as native `i32`s.
    pub(crate) fn decode(bytes: [u8; 8]) -> Option<Joined> {
        let kind = i32::from_ne_bytes(bytes[..4].try_into().ok()?);
        let value = i32::from_ne_bytes(bytes[4..].try_into().ok()?);
        match kind {
            1 if value > 0 => Some(Joined::Born(value)),
            2 => Some(Joined::Moved(value)),
            _ => None,
        }
    }
}

/// Writes all of `buf` to `fd` (async-signal-safe).
fn write_all(fd: RawFd, buf: &[u8]) -> io::Result<()> {
    // SAFETY: write(2) of a local buffer to a descriptor the host keeps open until
    // `spawn` returns; async-signal-safe.
    let n = super::cvt_retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) as _ })?;
    if n as usize != buf.len() {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    Ok(())
}

fn record(kind: i32, value: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&kind.to_ne_bytes());
    b[4..].copy_from_slice(&value.to_ne_bytes());
    b
}

/// Adds the hook (see the module docs) to `cmd`: the leader is born in the
/// cgroup open as `cgroup_dir` (or, if `clone3` is refused, joins it by writing
/// "0" to `procs`), and what happened is written to `report` (8 bytes, read with
/// [`Joined::decode`]). Add it last: hooks added after it run in the leader.
/// The returned switch turns the hook off.
pub(crate) fn be_born_in_cgroup(
    cmd: &mut Command,
    cgroup_dir: RawFd,
    procs: RawFd,
    report: RawFd,
) -> HookSwitch {
    let switch = HookSwitch::new();
    let armed = switch.clone();
    let hook = move || -> io::Result<()> {
        if !armed.is_armed() {
            return Ok(());
        }
        // SAFETY (this block): getpid, getpgid, getsid and prctl(PR_GET_PDEATHSIG)
        // are plain system calls, async-signal-safe; `pdeath` is a local.
        let (me, pgid, sid, pdeath) = unsafe {
            let mut pdeath: libc::c_int = 0;
            libc::prctl(libc::PR_GET_PDEATHSIG, &mut pdeath as *mut libc::c_int);
            (libc::getpid(), libc::getpgid(0), libc::getsid(0), pdeath)
        };
        // With CLONE_PARENT the kernel takes the exit signal from this process
        // (SIGCHLD, as std forked it).
        // SAFETY: this forked copy (and the child, a copy of it) makes only
        // async-signal-safe calls before std's exec.
        let ret = unsafe { clone_into_cgroup(libc::CLONE_PARENT as u64, 0, cgroup_dir) };
        match ret {
            Ok(Forked::Child) => {
                // The leader: take back what a fork does not inherit.
                // SAFETY: setsid, setpgid and prctl are async-signal-safe system
                // calls with integer arguments.
                unsafe {
                    if sid == me {
                        if libc::setsid() == -1 {
                            return Err(io::Error::last_os_error());
                        }
                    } else if pgid == me && libc::setpgid(0, 0) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                    if pdeath != 0
                        && libc::prctl(libc::PR_SET_PDEATHSIG, pdeath as libc::c_ulong) == -1
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(0);
                if ![
                    libc::ENOSYS,
                    libc::EACCES,
                    libc::EPERM,
                    libc::EINVAL,
                    libc::E2BIG,
                ]
                .contains(&errno)
                {
                    return Err(io::Error::from_raw_os_error(errno));
                }
                write_all(procs, b"0")?;
                write_all(report, &record(2, errno))
            }
            Ok(Forked::Parent(pid)) => {
                let r = write_all(report, &record(1, pid));
                // SAFETY: _exit is async-signal-safe; this copy's work is done (the
                // leader holds std's error pipe and reports its exec).
                unsafe { libc::_exit(if r.is_ok() { 0 } else { 1 }) }
            }
        }
    };
    // SAFETY: the hook only makes async-signal-safe calls (getpid, getpgid,
    // getsid, prctl, clone3, setsid, setpgid, write, _exit) on pre-built data.
    unsafe { cmd.pre_exec(hook) };
    switch
}
