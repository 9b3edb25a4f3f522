//! `pidns`: the tree runs under a tiny init that is PID 1 of a new PID namespace,
//! in a fresh cgroup leaf when this process can make one.
//!
//! Runs in the shim (or, for a single-threaded host that asked for a forked
//! shim, `teardown run`, in the host itself: `direct.rs`, where the init is the
//! host's own child). The shim (the "outer" process) makes a cgroup leaf under its
//! own cgroup (when cgroup2 is writable; see `cgroup2/leaf/`), calls
//! `unshare(CLONE_NEWPID)` — with `CLONE_NEWUSER` and identity uid/gid maps when it
//! is not root — and forks the init, the namespace's PID 1, born in the leaf
//! (`clone3(CLONE_INTO_CGROUP)`: no migration), shim code in init mode with
//! `PR_SET_PDEATHSIG(SIGKILL)` tied to the outer shim. The init forks and execs
//! the leader in its own process group and reaps every orphan of the namespace,
//! relaying the leader's status to the outer shim; the leader's own zombie is kept
//! until teardown, so `leader_pid()` is not reused meanwhile.
//!
//! Teardown: gracefully, the init forwards SIGTERM + SIGCONT to every process of
//! the namespace (`kill(-1, ..)` from a namespace's init is scoped by the kernel to
//! that namespace) and reports when it has no children left but the leader's
//! zombie (which it also says unasked when the leader exits with nothing else
//! running: nothing can start again, so that teardown skips the round); after the
//! grace, or at once, the outer shim SIGKILLs the init. The
//! kernel then SIGKILLs every other process of the namespace, and the init's
//! `waitpid` returns only once the namespace is empty. No process can leave a PID
//! namespace. Last, the outer shim removes the leaf and every cgroup the tree made
//! below it (a nested runtime's), killing first whatever a root tree moved in.
//!
//! # Why this is the method that resists the tree
//!
//! The outer shim and the host are in the parent namespace: no process of the
//! tree can name them, so none can signal, stop or `cgroup.procs`-move them. The
//! tree can name the init (its PID 1, the leader's parent): the kernel drops every
//! signal sent to a namespace's init from inside the namespace that the init has
//! no handler for, SIGKILL and SIGSTOP included; the init blocks only SIGCHLD
//! (for its signalfd), so nothing else reaches it. This is why `auto` prefers it.
//!
//! The leader's status is the one the init reaped; if the init was killed first,
//! the kernel's namespace kill is what ended the leader: 128 + SIGKILL.
//! `leader_pid()` is the leader's PID as this host sees it (found from the init's
//! children list in the host's `/proc`).

use std::time::{Duration, Instant};

mod direct;
mod direct_init;
mod init;

pub(crate) use direct::spawn as spawn_direct;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use self::init::{End, OnParentDeath};
use crate::TeardownError;
use crate::cgroup2::{Leaf, own_dir};
use crate::driver::Drained;
use crate::errors::ShimError;
use crate::fds::{PollFd, PollFlags, Ready, pipe_cloexec, poll, stdio_to_dev_null};
use crate::options::{DROP_DEADLINE, TeardownOptions};
use crate::pidfd::PidFd;
use crate::shim::protocol::{Event, LineReader, LineWriter, Next, Request};
use crate::shim::setup::{ParentDeath, Setup, enter_namespaces, errno, send_result, spawn_leader};
use crate::sys::fork::{Forked, fork_into_cgroup, fork_single_threaded, run_forked};
use crate::sys::proc_text;
use crate::sys::signal::kill_child;
use crate::sys::wait::{RawStatus, WaitFlags, Who, killed_by, wait_exit};

/// The outer shim: creates the namespace, forks the init, relays.
pub(crate) fn run_outer(mut s: Setup) -> Result<i32, ShimError> {
    let (ievt_r, ievt_w) = pipe_cloexec().map_err(ShimError::io("create the init's event pipe"))?;
    let (icmd_r, icmd_w) =
        pipe_cloexec().map_err(ShimError::io("create the init's command pipe"))?;
    // The leaf is made before the namespace, under this process's own cgroup;
    // without a writable cgroup2 the namespace alone holds the tree.
    let mut leaf = own_dir()
        .ok()
        .and_then(|dir| Leaf::create_in_own(&dir).ok());
    if let Err(reason) = enter_namespaces() {
        let _ = s.out.send(&Event::Unsupported(reason).encode());
        return Ok(0);
    }
    let forked = match &leaf {
        Some(l) => fork_into_cgroup(l.dir_fd()),
        None => fork_single_threaded(),
    };
    let init = match forked {
        Ok(Forked::Child) => {
            drop((ievt_r, icmd_w));
            // A copy of the shim, itself maybe a forked copy of the host: end
            // it without flushing or exit handlers of the original.
            run_forked(|| {
                let spawn = || spawn_leader(&s, ParentDeath::Namespace);
                let sigfd = s.sigfd.as_fd();
                let (out, cmd) = (LineWriter::new(ievt_w), LineReader::new(icmd_r));
                let end = init::run(spawn, sigfd, OnParentDeath::Die, out, cmd);
                i32::from(end != End::SpawnFailed)
            });
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            let _ = s
                .out
                .send(&Event::Failed(errno(&e), "fork the namespace's init".into()).encode());
            return Ok(0);
        }
    };
    drop((ievt_w, icmd_r));
    let mut ievt = LineReader::new(ievt_r);
    let mut icmd = LineWriter::new(icmd_w);
    let init_fd = PidFd::open(init).map_err(ShimError::io("open a pidfd on the init"))?;

    // The init reports the leader's spawn; it reaps nothing until we say "go", so
    // the leader is still its only child and visible in its children list.
    match ievt
        .next(None)
        .map_err(ShimError::io("read the init's events"))?
    {
        Next::Line(l) if l.starts_with("spawned") => {}
        Next::Line(l) if l.starts_with("spawn-failed") => {
            let e = l
                .split(' ')
                .nth(1)
                .and_then(|e| e.parse().ok())
                .unwrap_or(libc::EIO);
            let _ = s.out.send(&Event::SpawnFailed(e).encode());
            kill_and_reap(init);
            return Ok(0);
        }
        other => {
            let _ = s
                .out
                .send(&Event::Failed(libc::EIO, format!("start the init: {other:?}")).encode());
            kill_and_reap(init);
            return Ok(0);
        }
    }
    let leader_host_pid = InitInProc::find(init, init_fd.as_fd()).and_then(InitInProc::leader_pid);
    let Some(leader_host_pid) = leader_host_pid else {
        let _ = s
            .out
            .send(&Event::Failed(libc::ESRCH, "find the leader's host pid".into()).encode());
        kill_and_reap(init);
        return Ok(0);
    };
    if let Some(l) = &leaf {
        let _ = s
            .out
            .send(&Event::Leaf(l.dir().display().to_string()).encode());
    }
    let _ = s.out.send(&Event::Ready(leader_host_pid).encode());
    let _ = icmd.send("go\n");
    stdio_to_dev_null().map_err(ShimError::io("point stdio at /dev/null"))?;

    let mut leader: Option<RawStatus> = None;
    let mut empty = false;
    let opts = loop {
        let (ctl_ready, evt_ready) = {
            let mut fds = [
                PollFd::new(&s.ctl, PollFlags::IN),
                PollFd::new(&ievt, PollFlags::IN),
            ];
            poll(&mut fds, None).map_err(ShimError::io("poll"))?;
            (fds[0].ready(), fds[1].ready())
        };
        if evt_ready && !ievt.is_eof() {
            ievt.fill()
                .map_err(ShimError::io("read the init's events"))?;
            relay(&mut ievt, &mut s.out, &mut leader, &mut empty);
        }
        if ctl_ready {
            s.ctl
                .fill()
                .map_err(ShimError::io("read the control pipe"))?;
        }
        let mut request = None;
        while let Some(line) = s.ctl.pending() {
            match Request::parse(&line) {
                Some(Request::Teardown(req)) => {
                    request = Some(req);
                    break;
                }
                Some(Request::Signal(n)) => {
                    let _ = icmd.send(&format!("signal {n}\n"));
                }
                None => {}
            }
        }
        if let Some(req) = request {
            break TeardownOptions {
                grace: req.grace,
                deadline: req.deadline,
            };
        }
        if s.ctl.is_eof() {
            break TeardownOptions {
                grace: Duration::ZERO,
                deadline: Some(DROP_DEADLINE),
            };
        }
        if ievt.is_eof() && leader.is_none() {
            // The init died (it should not: only SIGKILL from outside the
            // namespace, or the OOM killer, ends it), and with it the namespace:
            // the kernel's kill ended the leader. Say so, or a host waiting for
            // the leader's exit waits for ever.
            leader = Some(killed_by(libc::SIGKILL));
            let _ = s
                .out
                .send(&Event::LeaderExited(killed_by(libc::SIGKILL)).encode());
        }
        if ievt.is_eof() && s.ctl.pending().is_none() {
            // The init died: wait for the host's command only.
            let mut fds = [PollFd::new(&s.ctl, PollFlags::IN)];
            poll(&mut fds, None).map_err(ShimError::io("poll"))?;
        }
    };
    let result = teardown_outer(
        init,
        &init_fd,
        &mut ievt,
        &mut icmd,
        &mut s.out,
        &mut leader,
        &mut empty,
        opts,
    )
    .and_then(|d| remove_leaf(leaf.as_mut(), opts, d));
    send_result(&mut s.out, crate::Method::Pidns, result);
    Ok(0)
}

/// After the namespace is gone: empties (a process moved in from elsewhere by a
/// root tree) and removes the leaf and the cgroups the tree made below it.
fn remove_leaf(
    leaf: Option<&mut Leaf>,
    opts: TeardownOptions,
    d: Drained,
) -> Result<Drained, TeardownError> {
    let Some(leaf) = leaf else {
        return Ok(d);
    };
    // The namespace is gone; what the leaf can still hold is what a root tree
    // moved in from outside it, or cgroups the tree made. Mostly neither: one
    // `rmdir` says so (the kernel refuses it while anything is there).
    if leaf.remove_if_empty() {
        return Ok(d);
    }
    let left = opts.deadline.map(|dl| dl.saturating_sub(d.drain));
    if !leaf
        .kill_all(left, true)
        .map_err(TeardownError::io("kill the cgroup leaf"))?
    {
        return Err(TeardownError::Deadline {
            elapsed: d.drain,
            alive: leaf.members().map_or(0, |m| m.len()),
        });
    }
    leaf.remove()
        .map_err(TeardownError::io("remove the cgroup leaf"))?;
    Ok(d)
}

/// Relays complete lines from the init: the leader's exit, and "empty".
fn relay(
    ievt: &mut LineReader,
    out: &mut LineWriter,
    leader: &mut Option<RawStatus>,
    empty: &mut bool,
) {
    while let Some(l) = ievt.pending() {
        handle_line(&l, out, leader, empty);
    }
}

fn handle_line(l: &str, out: &mut LineWriter, leader: &mut Option<RawStatus>, empty: &mut bool) {
    if let Some(st) = l.strip_prefix("exited ").and_then(|s| s.parse().ok()) {
        if leader.is_none() {
            *leader = Some(st);
            let _ = out.send(&Event::LeaderExited(st).encode());
        }
    } else if l == "empty" {
        *empty = true;
    }
}

fn kill_and_reap(init: i32) {
    let _ = kill_child(init, libc::SIGKILL);
    let _ = wait_exit(Who::Pid(init), WaitFlags::REAP);
}

#[allow(clippy::too_many_arguments)]
fn teardown_outer(
    init: i32,
    init_fd: &PidFd,
    ievt: &mut LineReader,
    icmd: &mut LineWriter,
    out: &mut LineWriter,
    leader: &mut Option<RawStatus>,
    empty: &mut bool,
    opts: TeardownOptions,
) -> Result<Drained, TeardownError> {
    let start = Instant::now();
    let deadline = opts.deadline.map(|d| start + d);
    let mut d = Drained {
        rounds: 1,
        signalled: 1,
        ..Drained::default()
    };
    // `empty` before the teardown: the init said, when the leader exited, that
    // nothing else of the namespace ran; nothing can have started since.
    let settled = *empty;
    if !settled && !opts.grace.is_zero() && !init_fd.has_exited().unwrap_or(true) {
        *empty = false;
        let _ = icmd.send("term\n");
        let grace_end = deadline.map_or(start + opts.grace, |dl| dl.min(start + opts.grace));
        while !*empty {
            let left = grace_end.saturating_duration_since(Instant::now());
            match ievt
                .next(Some(left))
                .map_err(TeardownError::io("read the init's events"))?
            {
                Next::Line(l) => handle_line(&l, out, leader, empty),
                Next::Timeout | Next::Eof => break,
            }
        }
        d.escalated = !*empty;
        d.rounds += u64::from(d.escalated);
    } else if !settled && opts.grace.is_zero() && !init_fd.has_exited().unwrap_or(true) {
        // SIGKILL at once: it reaches something of the tree unless the namespace
        // is empty but for the leader's zombie. Ask the init.
        *empty = false;
        let _ = icmd.send("probe\n");
        let until = Instant::now() + Duration::from_secs(1);
        let busy = loop {
            let left = until.saturating_duration_since(Instant::now());
            match ievt
                .next(Some(left))
                .map_err(TeardownError::io("read the init's events"))?
            {
                Next::Line(l) if l == "busy" => break true,
                Next::Line(l) => {
                    handle_line(&l, out, leader, empty);
                    if *empty {
                        break false;
                    }
                }
                // No answer: assume something was there (SIGKILL is sent anyway).
                Next::Timeout | Next::Eof => break true,
            }
        };
        d.escalated = busy;
    }
    // SIGKILL the init: the kernel kills the rest of the namespace, and the init
    // exits only once the namespace is empty.
    match kill_child(init, libc::SIGKILL) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
        Err(e) => return Err(TeardownError::io("kill the init")(e)),
    }
    let left = deadline.map(|dl| dl.saturating_duration_since(Instant::now()));
    if !init_fd
        .wait_exited(left)
        .map_err(TeardownError::io("wait for the init"))?
    {
        return Err(TeardownError::Deadline {
            elapsed: start.elapsed(),
            alive: 1,
        });
    }
    wait_exit(Who::Pid(init), WaitFlags::REAP).map_err(TeardownError::io("reap the init"))?;
    d.reaped = 1;
    // Whatever the init said before it died.
    while let Ok(Next::Line(l)) = ievt.next(Some(Duration::ZERO)) {
        handle_line(&l, out, leader, empty);
    }
    d.leader = Some(leader.unwrap_or_else(|| killed_by(libc::SIGKILL)));
    if leader.is_none() {
        let _ = out.send(&Event::LeaderExited(killed_by(libc::SIGKILL)).encode());
    }
    d.drain = start.elapsed();
    Ok(d)
}

/// Where `/proc` shows the init: this process's `/proc` may be another PID
/// namespace's (a `teardown run` inside another one's namespace, which mounts
/// no `/proc` of its own), and then `/proc/<pid>` with a PID of ours names
/// another process, or none. The init's pidfd says, in `/proc`'s own terms
/// (`/proc/self/fdinfo/<fd>`'s `NSpid:`): its PID there, down to its PID in
/// its own namespace (1), the one below ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct InitInProc {
    /// The init's PID in `/proc`'s namespace.
    pub(super) pid: i32,
    /// How many PID namespaces this process is below `/proc`'s (0: the same).
    level: usize,
}

impl InitInProc {
    /// `init`, `init_fd`: the init's PID here and a pidfd on it, a child of
    /// this process in a new PID namespace. A kernel older than 5.5 writes no
    /// `NSpid:` in a pidfd's `fdinfo`: there, if `/proc` is this process's
    /// namespace's, the init is `init` in it too.
    pub(super) fn find(init: i32, init_fd: BorrowedFd<'_>) -> Option<InitInProc> {
        let info = proc_text::read(format!("/proc/self/fdinfo/{}", init_fd.as_raw_fd())).ok()?;
        InitInProc::from_fdinfo(&info).or_else(|| {
            (proc_text::status_field(&info, "NSpid:").is_none()
                && proc_text::proc_is_ours().unwrap_or(false))
            .then_some(InitInProc {
                pid: init,
                level: 0,
            })
        })
    }

    fn from_fdinfo(info: &[u8]) -> Option<InitInProc> {
        let nspid: Vec<i32> = proc_text::status_field(info, "NSpid:")?
            .split_ascii_whitespace()
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        Some(InitInProc {
            pid: *nspid.first().filter(|&&p| p > 0)?,
            level: nspid.len().checked_sub(2)?,
        })
    }

    /// The leader's PID as this process sees it, from the init's children
    /// list: read before the host's "go", while the leader is the init's only
    /// child. Below `/proc`'s namespace, the leader's `NSpid` at our level.
    pub(super) fn leader_pid(self) -> Option<i32> {
        let pid = self.pid;
        let text = proc_text::read(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        let child: i32 = std::str::from_utf8(&text)
            .ok()?
            .split_ascii_whitespace()
            .next()?
            .parse()
            .ok()?;
        if self.level == 0 {
            return Some(child);
        }
        let status = proc_text::read(format!("/proc/{child}/status")).ok()?;
        proc_text::status_field(&status, "NSpid:")?
            .split_ascii_whitespace()
            .nth(self.level)?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod init_in_proc_tests {
    use super::InitInProc;

    #[test]
    fn the_init_is_found_at_its_proc_pid_and_our_level_from_its_fdinfo() {
        // /proc is ours: the init is 4242 here, 1 in its own namespace.
        let same = b"pos:\t0\nflags:\t02000002\nPid:\t4242\nNSpid:\t4242\t1\n";
        assert_eq!(
            InitInProc::from_fdinfo(same),
            Some(InitInProc {
                pid: 4242,
                level: 0
            })
        );
        // /proc is the namespace above ours: 9001 there, 17 to us, 1 to itself.
        let below = b"Pid:\t9001\nNSpid:\t9001\t17\t1\n";
        assert_eq!(
            InitInProc::from_fdinfo(below),
            Some(InitInProc {
                pid: 9001,
                level: 1
            })
        );
        // Not in /proc's namespace at all (-1), or no NSpid line: not found.
        assert_eq!(InitInProc::from_fdinfo(b"Pid:\t-1\nNSpid:\t-1\n"), None);
        assert_eq!(InitInProc::from_fdinfo(b"Pid:\t5\n"), None);
    }
}
