//! The `cgroup` method's watchdog: a small process, outside the tree's leaf, that
//! removes the leaf if the host dies before it did.
//!
//! The in-process `cgroup` method has no process of its own between the host and
//! the tree: a host killed by SIGKILL leaves nothing to write `cgroup.kill`, and the
//! tree would live on in its leaf. So at spawn the method starts the shim program in
//! `watch-cgroup` mode (`Command`: fork and exec, never a bare fork), in its own
//! process group (a Ctrl-C meant for the host does not reach it), with its stdio on
//! `/dev/null` and its working directory `/`, holding:
//!
//! * the read end of the **arm pipe**, whose only write end the host holds
//!   (close-on-exec in the host, so neither the tree nor any other child inherits
//!   it; the read end is closed in the host before the leader is spawned);
//! * a descriptor of the **leaf directory**, opened by the host, so the watchdog
//!   acts on that very cgroup and never on a later one with the same name.
//!
//! argv: `[shim, <leading args>..., watch-cgroup, <arm-fd>, <leaf-dir-fd>, <leaf-path>]`.
//!
//! The host **disarms** it once the leaf is removed (a drained teardown, a failed
//! spawn): one byte on the pipe, then close, then a bounded wait to reap it, so the
//! host is left with no zombie and the watchdog never outlives the tree. End of
//! file without that byte means the host died (or gave up on a leaf it could not
//! remove): the watchdog kills the leaf through its descriptor as a teardown does
//! (`cgroup.kill`, then a TGID-wide SIGKILL by pidfd, membership checked, to
//! whatever is left at a stall: see `cgroup2/leaf/kill.rs`), waits for `populated 0`
//! with `poll(POLLPRI)` on `cgroup.events` (at most [`DROP_DEADLINE`]), removes the
//! leaf and every cgroup below it if the path still names that directory, and
//! exits. It has no children; it is single-threaded.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cgroup2::Leaf;
use crate::errors::ShimError;
use crate::fds::pipe_cloexec;
use crate::options::DROP_DEADLINE;
use crate::pidfd::PidFd;
use crate::sys::exec::keep_open_across_exec;
use crate::sys::fd::adopt_inherited;
use crate::waiter::{Waiter, sleep_until};
use crate::{Method, SpawnError};

/// The shim mode that runs the watchdog.
pub(crate) const MODE: &str = "watch-cgroup";

/// The byte that disarms the watchdog.
const DISARM: u8 = b'd';

/// How long the host waits for a disarmed watchdog to exit (it exits at once).
const REAP_WAIT: Duration = Duration::from_secs(5);

/// How long the host waits for a watchdog it handed a leaf over to; past it the
/// watchdog finishes on its own and stays an unreaped child until the host exits.
const HAND_OVER_WAIT: Duration = Duration::from_secs(1);

/// The host's handle on a running watchdog.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    pidfd: Option<PidFd>,
    arm: File,
}

/// The shim program a watchdog runs: `shim` (`None`: look it up, see
/// [`crate::shim`]), or why `method` cannot have its watchdog. Checked before the
/// leaf is made.
pub(crate) fn program(
    method: Method,
    shim: Option<&(PathBuf, Vec<String>)>,
) -> Result<(PathBuf, Vec<String>), SpawnError> {
    super::locate(shim).map_err(|reason| SpawnError::Unsupported {
        method,
        reason: format!(
            "its watchdog (which removes the tree if this process dies) needs the shim program: {reason}; pass one with SpawnOptions::with_shim, or opt out with SpawnOptions::with_cgroup_watchdog(false) if you have your own safety net"
        ),
    })
}

impl Watchdog {
    /// Starts a watchdog for `leaf` with the shim program `(path, lead)` (see
    /// [`program`]).
    pub(crate) fn spawn(
        (path, lead): &(PathBuf, Vec<String>),
        leaf: &Leaf,
    ) -> Result<Watchdog, SpawnError> {
        let (arm_r, arm_w) = pipe_cloexec().map_err(SpawnError::setup("the watchdog's pipe"))?;
        // std opens with O_CLOEXEC.
        let dir = File::open(leaf.dir()).map_err(SpawnError::setup("open the cgroup leaf"))?;
        let mut cmd = Command::new(path);
        cmd.args(lead)
            .arg(MODE)
            .arg(arm_r.as_raw_fd().to_string())
            .arg(dir.as_raw_fd().to_string())
            .arg(leaf.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            .process_group(0);
        keep_open_across_exec(&mut cmd, vec![arm_r.as_raw_fd(), dir.as_raw_fd()]);
        let child = cmd.spawn().map_err(SpawnError::spawn(format!(
            "the cgroup watchdog {}",
            path.display()
        )))?;
        // Only the watchdog holds the read end now: the leader cannot inherit it.
        drop(arm_r);
        drop(dir);
        let pidfd = PidFd::open(child.id() as i32).ok();
        Ok(Watchdog {
            child,
            pidfd,
            arm: File::from(arm_w),
        })
    }

    /// The leaf is gone: tells the watchdog to exit without touching it, and reaps
    /// it (bounded wait).
    pub(crate) fn disarm(mut self) {
        // A failed write (the watchdog died) changes nothing: it is reaped below.
        let _ = self.arm.write_all(&[DISARM]);
        self.close_and_reap(REAP_WAIT);
    }

    /// [`Watchdog::disarm`], waiting for its exit through `w`, in place: a call
    /// cancelled midway leaves the watchdog disarmed here, for the next call (or
    /// [`Watchdog::disarm`]) to reap.
    pub(crate) async fn disarm_on(&mut self, w: &dyn Waiter) {
        let Some(fd) = &self.pidfd else {
            // No pidfds (before Linux 5.3): nothing to wait on but a backoff.
            let _ = self.arm.write_all(&[DISARM]);
            let end = std::time::Instant::now() + REAP_WAIT;
            let mut nap = Duration::from_millis(1);
            while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < end {
                let _ = sleep_until(w, std::time::Instant::now() + nap).await;
                nap = (nap * 2).min(Duration::from_millis(50));
            }
            return;
        };
        if !fd.has_exited().unwrap_or(true) {
            // A failed write (the watchdog died) changes nothing: it is reaped below.
            let _ = self.arm.write_all(&[DISARM]);
        }
        if fd.wait_exited_on(Some(REAP_WAIT), w).await.unwrap_or(false) {
            // ECHILD if this process ignores SIGCHLD (auto-reaped): nothing to do.
            let _ = self.child.wait();
        }
    }

    /// The host gives up on a leaf it could not remove: closes the pipe without
    /// the disarm byte, so the watchdog kills and removes the leaf as if the host
    /// had died, and reaps it if it is done within a short wait.
    pub(crate) fn hand_over(self) {
        self.close_and_reap(HAND_OVER_WAIT);
    }

    fn close_and_reap(self, wait: Duration) {
        let Watchdog {
            mut child,
            pidfd,
            arm,
        } = self;
        drop(arm);
        let exited = match &pidfd {
            Some(fd) => fd.wait_exited(Some(wait)).unwrap_or(false),
            None => wait_polling(&mut child, wait),
        };
        if exited {
            // ECHILD if this process ignores SIGCHLD (auto-reaped): nothing to do.
            let _ = child.wait();
        }
    }
}

/// Without a pidfd: `try_wait` with a backoff (1 ms doubling to 50 ms).
fn wait_polling(child: &mut Child, wait: Duration) -> bool {
    let end = std::time::Instant::now() + wait;
    let mut nap = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) => {}
        }
        let now = std::time::Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep(nap.min(end - now));
        nap = (nap * 2).min(Duration::from_millis(50));
    }
}

/// The watchdog's side (`watch-cgroup <arm-fd> <leaf-dir-fd> <leaf-path>`): waits
/// for the disarm byte or end of file; on end of file cleans the leaf up.
pub(crate) fn main(mut args: impl Iterator<Item = OsString>) -> Result<i32, ShimError> {
    let usage = |m: &str| ShimError::Usage(format!("{MODE}: {m}"));
    let mut fd = |what: &str| -> Result<i32, ShimError> {
        args.next()
            .and_then(|s| s.to_str()?.parse().ok())
            .ok_or_else(|| usage(&format!("missing {what}")))
    };
    let (arm_n, dir_n) = (fd("arm fd")?, fd("leaf directory fd")?);
    let path = PathBuf::from(args.next().ok_or_else(|| usage("missing leaf path"))?);
    let arm = adopt_inherited(arm_n).map_err(ShimError::io("adopt the arm pipe"))?;
    let dir = adopt_inherited(dir_n).map_err(ShimError::io("adopt the leaf directory"))?;
    if wait_for_disarm(arm).map_err(ShimError::io("read the arm pipe"))? {
        return Ok(0);
    }
    // The host is gone: nobody reads an error, the exit code is for tests.
    match clean_up(dir, &path, DROP_DEADLINE) {
        Ok(true) => Ok(0),
        Ok(false) => Ok(1),
        Err(e) => Err(ShimError::Io {
            what: format!("clean up the cgroup leaf {}", path.display()),
            source: e,
        }),
    }
}

/// Blocks until the host disarms (true) or its end closes without the byte (false).
fn wait_for_disarm(arm: OwnedFd) -> io::Result<bool> {
    let mut f = File::from(arm);
    let mut b = [0u8; 1];
    loop {
        match f.read(&mut b) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(b[0] == DISARM),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Kills the leaf open as `dir` (at `path`) the way a teardown does
/// ([`Leaf::kill_all`]: `cgroup.kill`, then TGID-wide kills of whatever a stall
/// shows is left), waits (up to `deadline`) for it to empty, and removes it and
/// every cgroup below it if `path` still names that directory. True if the leaf
/// is gone; a leaf already removed counts.
fn clean_up(dir: OwnedFd, path: &Path, deadline: Duration) -> io::Result<bool> {
    let mut leaf = match Leaf::adopt(dir, path) {
        Ok(l) => l,
        // The leaf was removed (by the host, before it died).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENODEV)) => {
            return Ok(true);
        }
        Err(e) => return Err(e),
    };
    match leaf.kill_all(Some(deadline), true) {
        Ok(true) => {}
        Ok(false) => return Ok(false),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENODEV)) => {
            return Ok(true);
        }
        Err(e) => return Err(e),
    }
    leaf.remove()?;
    Ok(true)
}
