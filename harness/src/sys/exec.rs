//! `pre_exec` hooks: what a child started with `std::process::Command` does
//! between fork and exec. Each makes only async-signal-safe calls (the child of a
//! multithreaded parent may run nothing else), through rustix or nix where they
//! are safe; registering a hook is what needs `unsafe`.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};

/// Makes `cmd`'s child start with an empty signal mask: `sigprocmask(SIG_SETMASK,
/// ∅)` between fork and exec. Needed by a supervisor that blocks the signals it
/// reads from a `signalfd` (std's `Command` passes the mask on to the child, and a
/// leader with SIGTERM blocked would ignore a graceful teardown).
pub fn unblock_signals_in_child(cmd: &mut Command) {
    let hook = || -> io::Result<()> {
        // sigprocmask(2) is async-signal-safe; the set is an empty one on the stack.
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
            .map_err(io::Error::from)
    };
    // SAFETY: the hook only calls sigprocmask(2) on a local set.
    unsafe { cmd.pre_exec(hook) };
}

/// A supervisor must see its children exit: if this process was started with
/// SIGCHLD ignored (`SIG_IGN` survives `exec`; aurae PR 599), the kernel would reap
/// the leader itself and the in-process methods could neither hold its process
/// group nor learn its status. Resets SIGCHLD to `SIG_DFL` here and makes `cmd`'s
/// child put the caller's disposition back before it execs, so the tree sees the
/// environment it would have seen without the supervisor.
pub fn take_sigchld_for_supervisor(cmd: &mut Command) -> io::Result<()> {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_DFL installs no handler code.
    let old = unsafe { nix::sys::signal::sigaction(Signal::SIGCHLD, &default) }
        .map_err(io::Error::from)?;
    if !matches!(old.handler(), SigHandler::SigIgn) {
        // Not ignored (an exec'd process has no handlers, and exec clears
        // SA_NOCLDWAIT): SIG_DFL is what it had.
        return Ok(());
    }
    let hook = move || -> io::Result<()> {
        // SAFETY: sigaction(2) is async-signal-safe; `old` is SIG_IGN.
        unsafe { nix::sys::signal::sigaction(Signal::SIGCHLD, &old) }
            .map(drop)
            .map_err(io::Error::from)
    };
    // SAFETY: the hook only calls sigaction(2) with a prebuilt action.
    unsafe { cmd.pre_exec(hook) };
    Ok(())
}

/// Makes `cmd`'s child get `sig` when the thread that spawned it dies
/// (`PR_SET_PDEATHSIG`, set between fork and exec; if the parent is already gone
/// by then, the child sends it to itself). What keeps a wrapper's daemon from
/// outliving a wrapper that was SIGKILLed.
pub fn die_with_parent(cmd: &mut Command, sig: Signal) {
    use rustix::process::{getpid, getppid, kill_process, set_parent_process_death_signal};
    let sig = rustix::process::Signal::from_named_raw(sig as i32).expect("a named signal");
    let parent = getpid();
    let hook = move || -> io::Result<()> {
        // prctl(2), getppid(2), getpid(2) and kill(2): raw system calls.
        set_parent_process_death_signal(Some(sig))?;
        if getppid() != Some(parent) {
            let _ = kill_process(getpid(), sig);
        }
        Ok(())
    };
    // SAFETY: the hook only makes async-signal-safe system calls.
    unsafe { cmd.pre_exec(hook) };
}
