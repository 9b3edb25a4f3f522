//! The last step of a node: its end (see the module docs of [`crate::node`]).

use std::time::{Duration, Instant};

use super::{Node, STORM_DEADLINE, STORM_LIVE_CAP, TermHandler, die, pause_forever};
use crate::spec::End;
use crate::sys::{self, Forked};

impl Node {
    pub(super) fn end(&mut self, end: End) -> ! {
        match end {
            End::Pause => pause_forever(),
            End::Exit => sys::exit_now(0),
            End::ExitAfterMs(ms) => {
                std::thread::sleep(Duration::from_millis(ms.into()));
                sys::exit_now(0)
            }
            End::Spin => loop {
                std::hint::spin_loop();
            },
            End::Zombies(n) => {
                for _ in 0..n {
                    match sys::fork() {
                        Ok(Forked::Child) => sys::exit_now(0),
                        Ok(Forked::Parent(_)) => {}
                        Err(e) => die(self.id, "fork zombie", e),
                    }
                }
                pause_forever()
            }
            End::Storm { total, rate } => {
                self.storm(total, rate);
                pause_forever()
            }
            End::MainExit => self.main_exit(),
            End::ThreadFork => self.thread_fork(),
            End::Vfork(n) => {
                let e = sys::vfork_chain(n, self.term != TermHandler::None);
                eprintln!("teardown node {}: vfork={n}: {e}", self.id);
                pause_forever()
            }
            End::Hop { total, rate } => {
                hop(total, rate);
                pause_forever()
            }
            End::Trace => self.trace(),
        }
    }

    /// Forks `total` pausing children at `rate` per second, bounded by
    /// [`STORM_LIVE_CAP`] and [`STORM_DEADLINE`]; stops early if fork fails.
    fn storm(&mut self, total: u32, rate: u32) {
        let start = Instant::now();
        let interval = Duration::from_secs(1) / rate.max(1);
        for i in 0..total.min(STORM_LIVE_CAP) {
            if self.live >= STORM_LIVE_CAP || start.elapsed() > STORM_DEADLINE {
                return;
            }
            match sys::fork() {
                Ok(Forked::Child) => pause_forever(),
                Ok(Forked::Parent(_)) => self.live += 1,
                Err(_) => return,
            }
            let due = interval * (i + 1);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }

    /// A thread that pauses, then the main thread exits alone.
    fn main_exit(&mut self) -> ! {
        sys::leave_single_threaded();
        if let Err(e) = std::thread::Builder::new().spawn(|| pause_forever()) {
            die(self.id, "main-exit: start a thread", e);
        }
        sys::exit_thread()
    }

    /// A thread forks a pausing child and exits; the main thread pauses.
    fn thread_fork(&mut self) -> ! {
        sys::leave_single_threaded();
        let reset_term = self.term != TermHandler::None;
        let id = self.id;
        let forker = std::thread::Builder::new().spawn(move || {
            if let Err(e) = sys::fork_pausing_child(reset_term) {
                eprintln!("teardown node {id}: thread-fork: fork: {e}");
            }
        });
        match forker {
            // The thread is gone once joined: its child belongs to this thread now.
            Ok(t) => drop(t.join()),
            Err(e) => die(id, "thread-fork: start a thread", e),
        }
        pause_forever()
    }

    /// `PTRACE_SEIZE` the known children, then swallow their signals and reap
    /// them; pause when none is left.
    fn trace(&mut self) -> ! {
        use nix::sys::ptrace;
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        let mut seized = 0;
        for &(pid, stop) in &self.children {
            if stop {
                continue;
            }
            match ptrace::seize(nix::unistd::Pid::from_raw(pid), ptrace::Options::empty()) {
                Ok(()) => seized += 1,
                Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => eprintln!(
                    "teardown node {}: trace: PTRACE_SEIZE {pid}: {e} (not traced)",
                    self.id
                ),
            }
        }
        if seized == 0 {
            pause_forever()
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::__WALL)) {
                // A signal-delivery-stop: resume without it (swallowed). A
                // group-stop or PTRACE_EVENT_STOP: resume too (no stop).
                Ok(WaitStatus::Stopped(pid, _))
                | Ok(WaitStatus::PtraceEvent(pid, _, _))
                | Ok(WaitStatus::PtraceSyscall(pid)) => {
                    let _ = ptrace::cont(pid, None);
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                // ECHILD: no child and no tracee left.
                Err(_) => pause_forever(),
            }
        }
    }
}

/// `total` hops at `rate` per second, bounded by [`STORM_DEADLINE`]: `setsid`
/// (EPERM for a group leader: the first hop of a leader keeps its session), fork,
/// the parent exits and the child goes on. Returns in the last process.
fn hop(total: u32, rate: u32) {
    let start = Instant::now();
    let interval = Duration::from_secs(1) / rate.max(1);
    for i in 0..total {
        if start.elapsed() > STORM_DEADLINE {
            return;
        }
        let _ = rustix::process::setsid();
        match sys::fork() {
            Ok(Forked::Child) => {}
            Ok(Forked::Parent(_)) => sys::exit_now(0),
            Err(_) => return,
        }
        let due = interval * (i + 1);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}
