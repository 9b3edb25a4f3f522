//! What the shim's reaper ([`super::reaper`]) and the `proc-walk` walker
//! ([`crate::method::proc_walk`]) ask of the kernel — `/proc`, pidfds, signals,
//! waits and the clock — behind one trait, [`Kernel`], so that their rules can be
//! unit-tested against a fake (`fake`, in `fake_kernel/`), as the harness's oracle is
//! against a fake `/proc`. [`Live`] is the real thing: each method is the very
//! system call (or `/proc` read) the walker and the reaper made themselves before
//! the seam, no more.

use std::fmt::Write as _;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use procfs::FromRead;
use procfs::process::Stat;

use crate::fds::{PollFd, PollFlags, poll};
use crate::pidfd::PidFd;
use crate::sys::proc_text;
pub(crate) use crate::sys::proc_text::own_ns_level;
use crate::sys::signal::{drain_signalfd, kill_process_group};
use crate::sys::wait::{RawStatus, WaitFlags, Who, wait_exit};

/// The kernel as the shim's walker and reaper see it. PIDs are as `/proc` shows
/// them, except in the waits, which take and return the waiter's own (they differ
/// in a PID namespace's init: see [`Kernel::namespace_pid`]).
pub(crate) trait Kernel {
    /// A handle on one process that PID reuse cannot fool (a pidfd).
    type Handle;

    /// This process's PID.
    fn own_pid(&self) -> i32;
    /// The time now.
    fn now(&self) -> Instant;
    /// The clock of [`Kernel::stat`]'s start times, now: a process whose start
    /// time is greater started after the call (see
    /// [`crate::identity::start_clock`]).
    fn start_clock(&self) -> u64;

    /// Appends the PIDs in the `children` file of every thread of process `pid`
    /// (`None`: of this process), in file order; nothing from what cannot be read.
    fn children(&mut self, pid: Option<i32>, out: &mut Vec<i32>);
    /// This process's children; an error if they cannot be read. (The reaper
    /// runs in the shim or the init, single-threaded processes: the live
    /// kernel reads the calling thread's list.)
    fn own_children(&mut self) -> io::Result<Vec<i32>>;
    /// The parent and start time of `pid` (`/proc/<pid>/stat`), `None` if unreadable.
    fn stat(&mut self, pid: i32) -> Option<(i32, u64)>;
    /// The PID of `/proc`'s process `pid` in the PID namespace `level` levels
    /// below `/proc`'s (field `level` of its `NSpid`), `None` if unreadable.
    fn namespace_pid(&mut self, pid: i32, level: usize) -> Option<i32>;

    /// `pidfd_open`: a handle on `pid`; `ESRCH` if there is no such process.
    fn open(&mut self, pid: i32) -> io::Result<Self::Handle>;
    /// The parent of the handle's process (`PIDFD_GET_INFO`); `Ok(None)` if the
    /// kernel cannot tell (before Linux 6.13); `ESRCH` once it is reaped.
    fn parent_of(&mut self, process: &Self::Handle) -> io::Result<Option<i32>>;
    /// True once the handle's process has exited (it may be an unreaped zombie).
    fn has_exited(&mut self, process: &Self::Handle) -> io::Result<bool>;
    /// Sends `sig` through the handle; `ESRCH` once its process is reaped.
    fn signal(&mut self, process: &Self::Handle, sig: i32) -> io::Result<()>;
    /// `kill(-pgid, sig)`: signals a process group; `ESRCH` if it is empty.
    fn signal_group(&mut self, pgid: i32, sig: i32) -> io::Result<()>;

    /// `waitid(P_ALL)` with `flags` (always `nohang`): a child that exited, if any;
    /// `ECHILD` when there are no children at all.
    fn wait_any(&mut self, flags: WaitFlags) -> io::Result<Option<(i32, RawStatus)>>;
    /// `waitid(P_PID, pid, WNOHANG)`: reaps child `pid` if it has exited;
    /// `ECHILD` if it is not (or no longer) a child.
    fn reap(&mut self, pid: i32) -> io::Result<Option<(i32, RawStatus)>>;
    /// Forgets the `SIGCHLD`s received so far (drains the signalfd).
    fn clear_sigchld(&mut self);
    /// Waits until a `SIGCHLD` arrives (one already pending returns at once) or
    /// `timeout` passes (`None`: no limit).
    fn wait_sigchld(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

/// The real kernel, for a process that reads its `SIGCHLD`s from `sigfd`.
pub(crate) struct Live<'a> {
    sigfd: BorrowedFd<'a>,
    /// Reused for every `/proc` path and file read (no allocation per process).
    path: String,
    buf: Vec<u8>,
}

impl<'a> Live<'a> {
    pub(crate) fn new(sigfd: BorrowedFd<'a>) -> Live<'a> {
        Live {
            sigfd,
            path: String::with_capacity(64),
            buf: Vec::with_capacity(1024),
        }
    }

    /// Appends the children of every thread in `task_dir` (`/proc/<pid>/task`).
    fn children_of_tasks(&mut self, task_dir: &str, out: &mut Vec<i32>) {
        let Ok(tasks) = std::fs::read_dir(task_dir) else {
            return;
        };
        let mut file = String::with_capacity(64);
        for t in tasks {
            let Ok(t) = t else { continue };
            file.clear();
            let _ = write!(
                file,
                "{task_dir}/{}/children",
                t.file_name().to_string_lossy()
            );
            if proc_text::read_into(&file, &mut self.buf).is_err() {
                continue;
            }
            let mut n: i32 = 0;
            let mut digits = false;
            for &b in &self.buf {
                if b.is_ascii_digit() {
                    n = n * 10 + i32::from(b - b'0');
                    digits = true;
                } else if digits {
                    out.push(n);
                    n = 0;
                    digits = false;
                }
            }
            if digits {
                out.push(n);
            }
        }
    }
}

impl Kernel for Live<'_> {
    type Handle = PidFd;

    fn own_pid(&self) -> i32 {
        std::process::id() as i32
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn start_clock(&self) -> u64 {
        crate::identity::start_clock()
    }

    fn children(&mut self, pid: Option<i32>, out: &mut Vec<i32>) {
        let Some(pid) = pid else {
            return self.children_of_tasks("/proc/self/task", out);
        };
        let mut dir = std::mem::take(&mut self.path);
        dir.clear();
        let _ = write!(dir, "/proc/{pid}/task");
        self.children_of_tasks(&dir, out);
        self.path = dir;
    }

    fn own_children(&mut self) -> io::Result<Vec<i32>> {
        only_thread_children()
    }

    fn stat(&mut self, pid: i32) -> Option<(i32, u64)> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/stat");
        proc_text::read_into(&self.path, &mut self.buf).ok()?;
        let st = Stat::from_read(&self.buf[..]).ok()?;
        Some((st.ppid, st.starttime))
    }

    fn namespace_pid(&mut self, pid: i32, level: usize) -> Option<i32> {
        // Bytes: the process's name may not be UTF-8 (see `sys::proc_text`).
        let status = proc_text::read(format!("/proc/{pid}/status")).ok()?;
        nspid_at(&status, level)
    }

    fn open(&mut self, pid: i32) -> io::Result<PidFd> {
        PidFd::open(pid)
    }

    fn parent_of(&mut self, process: &PidFd) -> io::Result<Option<i32>> {
        process.parent_pid()
    }

    fn has_exited(&mut self, process: &PidFd) -> io::Result<bool> {
        process.has_exited()
    }

    fn signal(&mut self, process: &PidFd, sig: i32) -> io::Result<()> {
        process.signal(sig)
    }

    fn signal_group(&mut self, pgid: i32, sig: i32) -> io::Result<()> {
        kill_process_group(pgid, sig)
    }

    fn wait_any(&mut self, flags: WaitFlags) -> io::Result<Option<(i32, RawStatus)>> {
        wait_exit(Who::Any, flags)
    }

    fn reap(&mut self, pid: i32) -> io::Result<Option<(i32, RawStatus)>> {
        wait_exit(Who::Pid(pid), WaitFlags::REAP_NOHANG)
    }

    fn clear_sigchld(&mut self) {
        drain_signalfd(self.sigfd);
    }

    fn wait_sigchld(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let mut fds = [PollFd::from_borrowed_fd(self.sigfd, PollFlags::IN)];
        poll(&mut fds, timeout).map(drop)
    }
}

/// The PIDs of this process's children (every thread's list).
pub(crate) fn own_children() -> io::Result<Vec<i32>> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task")? {
        let t = t?;
        let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_ascii_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    Ok(out)
}

/// [`own_children`] of a single-threaded process (the shim, the init: forked
/// or exec'd so, they start no thread): the calling thread's list is the
/// process's, one file and no listing of the task directory.
fn only_thread_children() -> io::Result<Vec<i32>> {
    let text = proc_text::read("/proc/thread-self/children")?;
    Ok(text
        .split(u8::is_ascii_whitespace)
        .filter_map(|p| std::str::from_utf8(p).ok()?.parse::<i32>().ok())
        .collect())
}

/// Field `level` of the `NSpid:` line of a `/proc/<pid>/status` text. Not the
/// last field: a child of a namespace's init that is itself the init of a nested
/// namespace shows `<host pid> <pid here> 1`, and 1 is the nested init's own PID.
fn nspid_at(status: &[u8], level: usize) -> Option<i32> {
    let line = proc_text::status_field(status, "NSpid:")?;
    line.split_ascii_whitespace().nth(level)?.parse().ok()
}

/// Why `/proc` cannot stand for this process's PID namespace, if it cannot:
/// `/proc` mounted for an outer namespace (`unshare -p` without
/// `--mount-proc`, or a `teardown run` under `pidns`, which mounts none) shows
/// this process's children with the outer namespace's PIDs, which `kill` and
/// `waitid` here take for others (or none): `subreaper` and `proc-walk` would
/// signal and wait for the wrong processes, and hung doing so. One read of
/// `/proc/self/status` (~20 µs), when one of them spawns or is probed.
pub(crate) fn foreign_proc() -> Option<String> {
    match proc_text::proc_is_ours() {
        Ok(true) => None,
        Ok(false) => Some(
            "/proc is an outer PID namespace's, not this process's (a PID namespace \
             without its own /proc: `unshare -p` without --mount-proc, or inside \
             `teardown run` under pidns), so /proc's PIDs are not the ones kill and \
             waitid take here; mount a /proc for this namespace, or use pidns"
                .to_owned(),
        ),
        Err(e) => Some(format!("cannot read /proc/self/status: {e}")),
    }
}

#[cfg(test)]
#[path = "fake_kernel/mod.rs"]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_init_is_found_at_the_init_s_level_not_by_its_last_pid() {
        let status = b"Name:\tx\nNSpid:\t4242\t7\t1\n";
        assert_eq!(nspid_at(status, 1), Some(7));
        assert_eq!(nspid_at(status, 0), Some(4242));
        assert_eq!(nspid_at(status, 3), None);
        assert_eq!(nspid_at(b"Name:\tx\n", 1), None);
    }

    #[test]
    fn a_process_named_with_bytes_that_are_not_utf8_is_still_found_at_its_level() {
        // `prctl(PR_SET_NAME)` with a UTF-8 name cut at 15 bytes.
        let status =
            b"Name:\ta\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\nNSpid:\t5102\t2\n";
        assert_eq!(nspid_at(status, 1), Some(2));
    }
}
