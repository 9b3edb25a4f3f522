//! CPU time spent by the processes a benchmark starts, for the `trial` group:
//! `getrusage(RUSAGE_CHILDREN)` counts every descendant that exited and was
//! waited for (the floor's `/bin/true`s), and `RUSAGE_THREAD` the calling
//! thread's own part (encoding the trial, reading the outcome). A trial's own
//! cost comes in its outcome (`TrialOutcome::cpu`: the warden server's and what it
//! reaped), since the servers live on between trials.

use std::io;
use std::time::Duration;

use nix::sys::resource::{Usage, UsageWho, getrusage};
use nix::sys::time::TimeValLike;

/// User and system CPU time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time in user mode.
    pub user: Duration,
    /// Time in the kernel.
    pub sys: Duration,
}

impl CpuTimes {
    /// User plus system time.
    pub fn total(self) -> Duration {
        self.user + self.sys
    }

    /// What was spent between `earlier` and `self` (zero where a counter went back).
    pub fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }

    fn of(usage: Usage) -> CpuTimes {
        let micros = |t: nix::sys::time::TimeVal| {
            Duration::from_micros(u64::try_from(t.num_microseconds()).unwrap_or(0))
        };
        CpuTimes {
            user: micros(usage.user_time()),
            sys: micros(usage.system_time()),
        }
    }
}

/// The CPU time of every descendant of this process that has exited and been
/// waited for, so far (`getrusage(RUSAGE_CHILDREN)`).
pub fn children() -> io::Result<CpuTimes> {
    Ok(CpuTimes::of(getrusage(UsageWho::RUSAGE_CHILDREN)?))
}

/// The calling thread's CPU time so far (`getrusage(RUSAGE_THREAD)`).
pub fn this_thread() -> io::Result<CpuTimes> {
    Ok(CpuTimes::of(getrusage(UsageWho::RUSAGE_THREAD)?))
}

/// A reading of both counters; [`CpuMeter::elapsed`] gives what was spent since.
#[derive(Clone, Copy, Debug)]
pub struct CpuMeter {
    children: CpuTimes,
    thread: CpuTimes,
}

impl CpuMeter {
    /// Reads the counters now.
    pub fn start() -> io::Result<CpuMeter> {
        Ok(CpuMeter {
            children: children()?,
            thread: this_thread()?,
        })
    }

    /// (reaped descendants, this thread): the CPU each spent since [`CpuMeter::start`].
    /// Read it on the thread that started the meter.
    pub fn elapsed(&self) -> io::Result<(CpuTimes, CpuTimes)> {
        Ok((
            children()?.since(self.children),
            this_thread()?.since(self.thread),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waited_child_s_cpu_time_is_counted() {
        let meter = CpuMeter::start().unwrap();
        let status = std::process::Command::new("/bin/sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let (children, _thread) = meter.elapsed().unwrap();
        assert!(
            children.total() >= Duration::from_millis(5),
            "a busy shell used {children:?}"
        );
    }

    #[test]
    fn since_never_goes_below_zero() {
        let a = CpuTimes {
            user: Duration::from_millis(3),
            sys: Duration::from_millis(1),
        };
        let b = CpuTimes {
            user: Duration::from_millis(5),
            sys: Duration::ZERO,
        };
        assert_eq!(
            b.since(a),
            CpuTimes {
                user: Duration::from_millis(2),
                sys: Duration::ZERO
            }
        );
        assert_eq!(b.since(a).total(), Duration::from_millis(2));
    }
}
