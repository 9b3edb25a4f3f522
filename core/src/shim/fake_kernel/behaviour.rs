//! How the fake kernel behaves: exits hand children to the shim, signals kill
//! (at once, later or never), the clock fires what is due, hooks run after their
//! call; and the [`Kernel`] calls themselves.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{Call, FakeKernel, FakePidfd, Proc, SHIM, State};
use crate::shim::kernel::Kernel;
use crate::sys::wait::{RawStatus, WaitFlags, killed_by};

/// See `enter`.
const CALL_LIMIT: usize = 100_000;

impl FakeKernel {
    /// The process exits with wait status `status`: its children go to the shim.
    pub(super) fn die(&mut self, pid: i32, status: RawStatus) {
        let p = self.proc(pid);
        assert!(!matches!(p.state, State::Zombie(_)), "{pid} exited twice");
        p.state = State::Zombie(status);
        let ppid = p.ppid;
        let orphans: Vec<i32> = self
            .procs
            .iter()
            .filter(|(_, q)| q.ppid == pid)
            .map(|(&q, _)| q)
            .collect();
        for q in orphans {
            self.next_seq += 1;
            let seq = self.next_seq;
            let q = self.proc(q);
            (q.ppid, q.thread, q.seq) = (SHIM, 0, seq);
            if matches!(q.state, State::Zombie(_)) {
                self.sigchld = true;
            }
        }
        if ppid == SHIM {
            self.sigchld = true;
        }
    }

    fn deliver(&mut self, pid: i32, sig: i32) {
        let p = self.proc(pid);
        if sig == libc::SIGTERM && p.respawns && p.state == State::Running {
            let start = p.start;
            self.delivered.push((pid, start, sig));
            let copy = self.procs.keys().max().map_or(pid, |&m| m.max(SHIM)) + 1;
            self.spawn(copy, pid).respawns_on_term(copy);
            self.die(pid, 0);
            return;
        }
        let start = p.start;
        let fatal = sig == libc::SIGKILL || (sig == libc::SIGTERM && !p.ignores_term);
        let dies = (fatal && p.state == State::Running).then_some(p.kill_delay);
        if dies.is_some() {
            p.state = State::Dying;
        }
        self.delivered.push((pid, start, sig));
        match dies {
            Some(Some(d)) if d.is_zero() => self.die(pid, killed_by(sig)),
            Some(Some(d)) => {
                let at = self.elapsed + d;
                self.at(at, move |k| {
                    if k.procs.get(&pid).is_some_and(|p| p.start == start) {
                        k.die(pid, killed_by(sig));
                    }
                });
            }
            _ => {}
        }
    }

    /// Moves the clock to `to`, firing the timers due on the way, in order.
    fn advance_to(&mut self, to: Duration) {
        loop {
            let due = (self.timers.iter().enumerate())
                .filter(|(_, (at, _))| *at <= to)
                .min_by_key(|(_, (at, _))| *at)
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let (at, f) = self.timers.remove(i);
            self.elapsed = self.elapsed.max(at);
            f(self);
        }
        self.elapsed = self.elapsed.max(to);
    }

    fn enter(&mut self, call: Call) {
        self.advance_to(self.elapsed + self.tick);
        self.calls.push(call);
        // No rule needs this many calls: code under test that makes them is
        // spinning, and the test should fail, not hang.
        assert!(
            self.calls.len() < CALL_LIMIT,
            "{CALL_LIMIT} kernel calls: the code under test spins (last: {call:?})"
        );
    }

    fn leave(&mut self, call: Call) {
        if let Some(i) = self.hooks.iter().position(|(c, _)| *c == call) {
            let (_, f) = self.hooks.remove(i);
            f(self);
        }
    }

    /// The children of `pid` listed by thread `thread`, in list order.
    fn listed(&self, pid: i32, thread: usize) -> Vec<i32> {
        let mut kids: Vec<(u64, i32)> = (self.procs.iter())
            .filter(|(_, p)| p.ppid == pid && p.thread == thread)
            .filter(|(_, p)| p.hidden_until.is_none_or(|t| self.elapsed >= t))
            .map(|(&q, p)| (p.seq, q))
            .collect();
        kids.sort_unstable();
        kids.into_iter().map(|(_, q)| q).collect()
    }

    fn threads_of(&self, pid: i32) -> usize {
        if pid == SHIM {
            self.shim_threads
        } else {
            self.procs.get(&pid).map_or(0, |p| p.threads)
        }
    }

    fn by_handle(&self, h: &FakePidfd) -> Option<&Proc> {
        self.procs.get(&h.pid).filter(|p| p.start == h.start)
    }
}

fn esrch() -> io::Error {
    io::Error::from_raw_os_error(libc::ESRCH)
}

fn echild() -> io::Error {
    io::Error::from_raw_os_error(libc::ECHILD)
}

impl Kernel for FakeKernel {
    type Handle = FakePidfd;

    fn own_pid(&self) -> i32 {
        SHIM
    }

    fn now(&self) -> Instant {
        self.base + self.elapsed
    }

    fn start_clock(&self) -> u64 {
        // Every process spawned from now on gets a greater start time.
        self.next_start
    }

    fn children(&mut self, pid: Option<i32>, out: &mut Vec<i32>) {
        self.enter(Call::Children(pid));
        let of = pid.unwrap_or(SHIM);
        for t in 0..self.threads_of(of) {
            out.extend(self.listed(of, t));
        }
        self.leave(Call::Children(pid));
    }

    fn own_children(&mut self) -> io::Result<Vec<i32>> {
        self.enter(Call::OwnChildren);
        let kids = (0..self.shim_threads)
            .flat_map(|t| self.listed(SHIM, t))
            .map(|q| q + self.host_offset)
            .collect();
        self.leave(Call::OwnChildren);
        Ok(kids)
    }

    fn stat(&mut self, pid: i32) -> Option<(i32, u64)> {
        self.enter(Call::Stat(pid));
        let st = (self.procs.get(&pid))
            .filter(|p| !p.stat_unreadable)
            .map(|p| (p.ppid, p.start));
        self.leave(Call::Stat(pid));
        st
    }

    fn namespace_pid(&mut self, host: i32, level: usize) -> Option<i32> {
        self.enter(Call::NamespacePid(host));
        let pid = host - self.host_offset;
        let got = self.procs.get_mut(&pid).and_then(|p| {
            if p.status_unreadable > 0 {
                if p.status_unreadable != u32::MAX {
                    p.status_unreadable -= 1;
                }
                return None;
            }
            let line = p.nspid.clone().unwrap_or_else(|| vec![host, pid]);
            line.get(level).copied()
        });
        self.leave(Call::NamespacePid(host));
        got
    }

    fn open(&mut self, pid: i32) -> io::Result<FakePidfd> {
        self.enter(Call::Open(pid));
        let fd = self.procs.get(&pid).map(|p| {
            self.open.set(self.open.get() + 1);
            FakePidfd {
                pid,
                start: p.start,
                open: Rc::clone(&self.open),
            }
        });
        self.max_open = self.max_open.max(self.open.get());
        self.leave(Call::Open(pid));
        fd.ok_or_else(esrch)
    }

    fn parent_of(&mut self, h: &FakePidfd) -> io::Result<Option<i32>> {
        self.enter(Call::ParentOf(h.pid));
        let got = match self.by_handle(h) {
            _ if !self.pidfd_info => Ok(None),
            Some(p) => Ok(Some(p.ppid)),
            None => Err(esrch()),
        };
        self.leave(Call::ParentOf(h.pid));
        got
    }

    fn has_exited(&mut self, h: &FakePidfd) -> io::Result<bool> {
        self.enter(Call::HasExited(h.pid));
        // A reaped process has exited too.
        let exited = self
            .by_handle(h)
            .is_none_or(|p| matches!(p.state, State::Zombie(_)));
        self.leave(Call::HasExited(h.pid));
        Ok(exited)
    }

    fn signal(&mut self, h: &FakePidfd, sig: i32) -> io::Result<()> {
        self.enter(Call::Signal(h.pid, sig));
        let got = match self.by_handle(h) {
            Some(_) => {
                self.deliver(h.pid, sig);
                Ok(())
            }
            None => Err(esrch()),
        };
        self.leave(Call::Signal(h.pid, sig));
        got
    }

    fn signal_group(&mut self, pgid: i32, sig: i32) -> io::Result<()> {
        self.enter(Call::SignalGroup(pgid, sig));
        let members: Vec<i32> = (self.procs.iter())
            .filter(|(_, p)| p.pgid == pgid)
            .map(|(&q, _)| q)
            .collect();
        for &q in &members {
            self.deliver(q, sig);
        }
        self.leave(Call::SignalGroup(pgid, sig));
        if members.is_empty() {
            Err(esrch())
        } else {
            Ok(())
        }
    }

    fn wait_any(&mut self, flags: WaitFlags) -> io::Result<Option<(i32, RawStatus)>> {
        assert!(flags.nohang, "the fake cannot block in waitid");
        self.enter(Call::WaitAny);
        let kids = || self.procs.iter().filter(|(_, p)| p.ppid == SHIM);
        let got = if kids().next().is_none() {
            Err(echild())
        } else {
            let first = kids()
                .filter_map(|(&q, p)| match p.state {
                    State::Zombie(st) => Some((p.seq, q, st)),
                    _ => None,
                })
                .min();
            if let Some((_, q, _)) = first.filter(|_| !flags.keep) {
                self.procs.remove(&q);
            }
            Ok(first.map(|(_, q, st)| (q, st)))
        };
        self.leave(Call::WaitAny);
        got
    }

    fn reap(&mut self, pid: i32) -> io::Result<Option<(i32, RawStatus)>> {
        self.enter(Call::Reap(pid));
        let got = match self.procs.get(&pid).filter(|p| p.ppid == SHIM) {
            None => Err(echild()),
            Some(p) => match p.state {
                State::Zombie(st) => {
                    self.procs.remove(&pid);
                    Ok(Some((pid, st)))
                }
                _ => Ok(None),
            },
        };
        self.leave(Call::Reap(pid));
        got
    }

    fn clear_sigchld(&mut self) {
        self.sigchld = false;
    }

    fn wait_sigchld(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.enter(Call::WaitSigchld);
        let end = timeout.map(|t| self.elapsed + t);
        while !self.sigchld {
            let next = self.timers.iter().map(|(at, _)| *at).min();
            match (next, end) {
                (Some(at), Some(end)) if at > end => {
                    self.advance_to(end);
                    break;
                }
                (Some(at), _) => self.advance_to(at),
                (None, Some(end)) => {
                    self.advance_to(end);
                    break;
                }
                (None, None) => panic!("waiting for SIGCHLD forever, and nothing is due"),
            }
        }
        self.leave(Call::WaitSigchld);
        Ok(())
    }
}
