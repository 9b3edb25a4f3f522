//! Process identity: `(pid, start time)` read from `/proc`, and liveness judged by
//! it — never by `kill(pid, 0)`, which succeeds on zombies and on whatever process
//! got a recycled PID.

use std::io;

use procfs::FromRead;
use procfs::process::Stat;

use crate::pidfd::PidFd;

/// One process, named so that a recycled PID is a different process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ProcessIdentity {
    /// The PID (as this process's `/proc` shows it).
    pub pid: u32,
    /// The start time, in clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
}

impl ProcessIdentity {
    /// Reads the identity of the process now holding `pid`.
    pub fn of(pid: u32) -> io::Result<ProcessIdentity> {
        let stat = read_stat(pid, None)?;
        Ok(ProcessIdentity {
            pid,
            start_time: stat.starttime,
        })
    }

    /// True if this very process still exists and is not dead: some thread of it
    /// is not a zombie (a zombie main thread with live threads counts as alive).
    pub fn is_alive(&self) -> bool {
        match read_stat(self.pid, None) {
            Ok(s) if s.starttime == self.start_time => {}
            _ => return false,
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return false;
        };
        let alive = tasks.filter_map(Result::ok).any(|t| {
            let tid: u32 = t.file_name().to_string_lossy().parse().unwrap_or(0);
            read_stat(self.pid, Some(tid)).is_ok_and(|s| !matches!(s.state, 'Z' | 'X' | 'x'))
        });
        // Re-check the identity: the reads above must not describe a successor.
        alive && read_stat(self.pid, None).is_ok_and(|s| s.starttime == self.start_time)
    }

    /// SIGKILLs this very process, if it is still alive: through a pidfd, after
    /// checking (with the pidfd open) that the PID still has this start time.
    /// Returns whether a signal was sent.
    pub fn kill(&self) -> io::Result<bool> {
        let fd = match PidFd::open(self.pid as i32) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
            Err(e) => return Err(e),
        };
        match read_stat(self.pid, None) {
            Ok(s) if s.starttime == self.start_time => {}
            _ => return Ok(false),
        }
        if fd.has_exited()? {
            return Ok(false);
        }
        match fd.signal(libc::SIGKILL) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The clock of [`ProcessIdentity::start_time`], now: clock ticks of
/// `CLOCK_BOOTTIME`, which is how the kernel stamps a process's start (field 22
/// of `/proc/<pid>/stat`). A process whose start time is greater than this
/// started after the call; a process that started before it has one no greater
/// (one that starts within the same tick, 10 ms at the usual 100 Hz, has an
/// equal one: which side of the call it is on, the clock cannot tell).
pub(crate) fn start_clock() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let ns = u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000
        + u64::try_from(t.tv_nsec).unwrap_or(0);
    ns / (1_000_000_000 / rustix::param::clock_ticks_per_second().max(1))
}

fn read_stat(pid: u32, tid: Option<u32>) -> io::Result<Stat> {
    let path = match tid {
        Some(t) => format!("/proc/{pid}/task/{t}/stat"),
        None => format!("/proc/{pid}/stat"),
    };
    let f = std::fs::File::open(path)?;
    Stat::from_read(f).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_clock_is_the_clock_of_start_times() {
        let own = ProcessIdentity::of(std::process::id()).unwrap();
        let before = start_clock();
        assert!(own.start_time <= before, "{own:?} started before {before}");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let started = ProcessIdentity::of(child.id());
        let after = start_clock();
        child.kill().unwrap();
        child.wait().unwrap();
        let started = started.unwrap().start_time;
        assert!(
            (before..=after).contains(&started),
            "a child started between {before} and {after}, at {started}"
        );
    }
}
