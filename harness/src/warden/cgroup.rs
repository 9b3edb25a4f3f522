//! The warden's own cgroup v2 directory, `teardown-warden-<pid>`, beside the
//! warden's cgroup (found by [`crate::cgroup2`], the judges' cgroup2 module).
//!
//! The warden moves itself in, starts the bystanders and the supervisor (they, and
//! everything they fork, stay in), then moves itself back out; so its safety net can
//! `cgroup.kill` everything else without killing itself. The outer warden kills
//! again, waits for `populated 0` on `cgroup.events` (by `poll(POLLPRI)`, never a
//! sleep loop) and removes the directory. A directory left by a warden that was
//! SIGKILLed (its PID no longer exists) is reclaimed by the next warden.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cgroup2;

/// Prefix of every warden cgroup's name.
pub const PREFIX: &str = "teardown-warden-";

/// A cgroup this warden created.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    /// The warden's cgroup directory.
    pub dir: PathBuf,
    /// The directory the warden came from (to move back to).
    pub home: PathBuf,
}

impl Cgroup {
    /// Creates `teardown-warden-<pid>` under this process's cgroup, after
    /// reclaiming stale ones. `Err` says why not (the warden goes on without one).
    pub fn create(pid: i32) -> Result<Cgroup, String> {
        Cgroup::create_in(&Cgroup::home_for(pid)?, &format!("{PREFIX}{pid}"))
    }

    /// This process's cgroup directory, where a warden's cgroups go, after
    /// reclaiming the stale ones there (`pid`: this warden's).
    pub fn home_for(pid: i32) -> Result<PathBuf, String> {
        let home = cgroup2::own_dir().map_err(|e| e.to_string())?;
        reclaim_stale(&home, pid);
        Ok(home)
    }

    /// Creates `home/name` (a name starting `teardown-warden-<pid>`, so that a
    /// later warden reclaims it if this one dies).
    pub fn create_in(home: &Path, name: &str) -> Result<Cgroup, String> {
        let dir = home.join(name);
        fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Cgroup {
            dir,
            home: home.to_path_buf(),
        })
    }

    /// Moves the calling process into this cgroup.
    pub fn enter(&self) -> io::Result<()> {
        fs::write(self.dir.join("cgroup.procs"), "0")
    }

    /// Moves the calling process back where it came from.
    pub fn leave(&self) -> io::Result<()> {
        fs::write(self.home.join("cgroup.procs"), "0")
    }

    /// `cgroup.kill`: SIGKILL every process in the cgroup (and below).
    pub fn kill_all(&self) -> io::Result<()> {
        cgroup2::kill(&self.dir)
    }

    /// Waits for `populated 0` up to `timeout`; true if the cgroup is empty.
    pub fn wait_empty(&self, timeout: Duration) -> bool {
        cgroup2::wait_empty(&self.dir, timeout)
    }

    /// Kills, waits for empty, and removes the directory (and any child cgroups a
    /// method left behind).
    pub fn destroy(&self, timeout: Duration) -> Result<(), String> {
        let _ = self.kill_all();
        if !self.wait_empty(timeout) {
            return Err(format!(
                "{} still populated after {timeout:?}",
                self.dir.display()
            ));
        }
        cgroup2::remove_tree(&self.dir, Duration::ZERO)
            .map_err(|e| format!("cannot remove {}: {e}", self.dir.display()))
    }
}

/// Whether `pid` is a live warden. A warden SIGKILLed with its harness is reparented
/// to init and may stay a zombie for a while (`/proc/<pid>` still exists), and its
/// PID may be reused by anything: only a running `teardown __warden` counts.
fn warden_alive(pid: i32) -> bool {
    // Bytes: the PID may have been reused by a process of any name.
    let running = fs::read(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        crate::oracle::stat_state(&stat).is_some_and(|s| !matches!(s, b'Z' | b'X' | b'x'))
    });
    running
        && fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"__warden"))
}

/// Removes `teardown-warden-<pid>[.<trial>]` directories whose warden no longer exists
/// (`own`: this warden's PID, whose name may be left over from an earlier warden
/// that had the same PID).
fn reclaim_stale(home: &Path, own: i32) {
    let Ok(entries) = fs::read_dir(home) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        // `teardown-warden-<pid>` or `teardown-warden-<pid>.<trial>`.
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|p| p.split('.').next()?.parse::<i32>().ok())
        else {
            continue;
        };
        if pid != own && warden_alive(pid) {
            continue;
        }
        let dir = e.path();
        let _ = cgroup2::kill(&dir);
        if cgroup2::wait_empty(&dir, Duration::from_secs(1)) {
            let _ = cgroup2::remove_tree(&dir, Duration::ZERO);
        }
    }
}
