//! `pre_exec` hooks: code that runs in the forked child between `fork` and `exec`.
//!
//! Everything here runs in a copy of a possibly multithreaded process, so it only
//! makes async-signal-safe calls (`fcntl`, `write`, `sigaction`, `execve`) on data
//! prepared beforehand in the parent: no allocation, no locks.
//!
//! std has already applied the `Command`'s stdio, working directory, uid/gid,
//! process group and signal-mask reset when these hooks run; hooks run in the order
//! they were added, after any the caller added.

use std::ffi::{CString, c_char};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::signal::SavedAction;

/// Turns a hook added to a caller's `Command` into a no-op for its later spawns.
///
/// A failed spawn leaves its hooks in the `Command` (std has no way to remove
/// one), and `auto` spawns the same `Command` again with its next method: a hook
/// left armed would act on descriptors closed since (or reused by then) and exec
/// the wrong program. The method disarms its hooks whenever its spawn fails. The
/// hook reads the flag in the forked child: a plain load, async-signal-safe.
#[derive(Clone, Debug)]
#[must_use = "disarm the hook when the spawn fails"]
pub(crate) struct HookSwitch(Arc<AtomicBool>);

impl HookSwitch {
    pub(crate) fn new() -> HookSwitch {
        HookSwitch(Arc::new(AtomicBool::new(true)))
    }

    /// Whether the hook still acts (read in the child).
    pub(crate) fn is_armed(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Makes the hook do nothing in every later spawn of its `Command`.
    pub(crate) fn disarm(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// A program image to `execve` in place of the `Command`'s own program.
pub(crate) struct ExecImage {
    /// Path of the executable (not searched in `PATH`).
    pub path: CString,
    /// `argv`, including `argv[0]`.
    pub argv: Vec<CString>,
    /// `envp`, as `KEY=VALUE` strings.
    pub envp: Vec<CString>,
}

/// An [`ExecImage`] with its pointer arrays built, ready for `execve` in the child.
struct Prepared {
    image: ExecImage,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    inherit: Vec<RawFd>,
}

// SAFETY: the raw pointers point into the heap buffers of the CStrings owned by
// `image`, which move with the struct and are never mutated; they are only read in
// the forked child.
unsafe impl Send for Prepared {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for Prepared {}

/// Makes `cmd` exec `image` instead of its own program, after std has set up the
/// child (stdio, cwd, ids, group), with the descriptors `inherit` left open across
/// the exec. If the `execve` fails, `spawn` fails with its errno. The returned
/// switch turns the hook off.
pub(crate) fn exec_instead(cmd: &mut Command, image: ExecImage, inherit: Vec<RawFd>) -> HookSwitch {
    let mut argv: Vec<*const c_char> = image.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const c_char> = image.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let prepared = Prepared {
        image,
        argv,
        envp,
        inherit,
    };
    let switch = HookSwitch::new();
    let armed = switch.clone();
    let hook = move || -> io::Result<()> {
        if !armed.is_armed() {
            return Ok(());
        }
        let p = &prepared;
        for &fd in &p.inherit {
            // SAFETY: async-signal-safe fcntl on a descriptor the parent keeps open
            // until spawn returns.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: async-signal-safe execve; path, argv and envp are NUL-terminated
        // strings and NULL-terminated arrays prepared before the fork.
        unsafe { libc::execve(p.image.path.as_ptr(), p.argv.as_ptr(), p.envp.as_ptr()) };
        Err(io::Error::last_os_error())
    };
    // SAFETY: the hook only makes async-signal-safe calls on pre-built data (and
    // reads an atomic flag).
    unsafe { cmd.pre_exec(hook) };
    switch
}

/// Makes the child keep the descriptors `fds` open across its `exec` (they stay
/// close-on-exec in this process, so no other child inherits them): how the
/// `cgroup` method hands its watchdog the arm pipe and the leaf directory.
pub(crate) fn keep_open_across_exec(cmd: &mut Command, fds: Vec<RawFd>) {
    let hook = move || -> io::Result<()> {
        for &fd in &fds {
            // SAFETY: async-signal-safe fcntl on a descriptor the parent keeps open
            // until spawn returns.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook only calls fcntl(2) on pre-built data.
    unsafe { cmd.pre_exec(hook) };
}

/// Makes the child ask for SIGKILL when this (single-threaded) process dies
/// (`PR_SET_PDEATHSIG`), before it execs; if this process is already gone by then
/// (the child's parent changed), the child exits at once with status 127.
pub(crate) fn die_with_parent_before_exec(cmd: &mut Command) {
    // Read before the fork, in the parent.
    let parent = rustix::process::getpid();
    let hook = move || -> io::Result<()> {
        // Both are plain system calls through rustix: async-signal-safe.
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
        if rustix::process::getppid() != Some(parent) {
            // SAFETY: _exit is async-signal-safe and ends the forked child at once.
            unsafe { libc::_exit(127) };
        }
        Ok(())
    };
    // SAFETY: the hook only calls prctl(2), getppid(2) and _exit(2).
    unsafe { cmd.pre_exec(hook) };
}

/// Makes the child restore signal dispositions saved earlier, before it execs (the
/// shim changes SIGCHLD for itself; the leader must get what the caller had).
pub(crate) fn restore_before_exec(cmd: &mut Command, saved: Vec<SavedAction>) {
    let hook = move || -> io::Result<()> {
        for s in &saved {
            s.restore()?;
        }
        // The shim blocks SIGCHLD for its signalfd, and a forked child inherits the
        // mask (std's spawn does not reset it in this path): unblock everything, as
        // the host's own spawn gave the shim an empty mask.
        let mut empty = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
        // SAFETY: sigemptyset on a local set; sigprocmask on this (only) thread of
        // the forked child; both are async-signal-safe.
        let rc = unsafe {
            libc::sigemptyset(empty.as_mut_ptr());
            libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the hook only calls sigaction(2) and sigprocmask(2) on pre-built or
    // local structs, which are async-signal-safe.
    unsafe { cmd.pre_exec(hook) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cstr(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    #[test]
    fn a_disarmed_exec_hook_lets_the_command_run_its_own_program() {
        let false_image = || ExecImage {
            path: cstr("/bin/sh"),
            argv: vec![cstr("sh"), cstr("-c"), cstr("exit 3")],
            envp: Vec::new(),
        };
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 0"]);
        let hook = exec_instead(&mut cmd, false_image(), Vec::new());
        assert_eq!(
            cmd.status().unwrap().code(),
            Some(3),
            "armed: the image ran"
        );
        hook.disarm();
        assert_eq!(
            cmd.status().unwrap().code(),
            Some(0),
            "disarmed: the command ran"
        );
        // A second hook added after the first was disarmed acts on its own.
        let _second = exec_instead(&mut cmd, false_image(), Vec::new());
        assert_eq!(cmd.status().unwrap().code(), Some(3));
    }
}
