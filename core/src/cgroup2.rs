//! The cgroup v2 filesystem: finding the mount and this process's cgroup, and
//! managing the fresh leaf the `cgroup` method puts a tree in.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sys::fd::{PollFd, poll};
use crate::sys::pidfd::PidFd;

/// `CGROUP2_SUPER_MAGIC` from `linux/magic.h`.
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// A cgroup2 mount: where it is mounted, and which cgroup path is its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    pub point: PathBuf,
    pub root: String,
}

/// Finds the cgroup2 mount in `/proc/self/mountinfo` (hybrid layouts mount it at
/// `/sys/fs/cgroup/unified`, pure v2 at `/sys/fs/cgroup`: never assume).
pub(crate) fn find_mount() -> io::Result<Option<Mount>> {
    Ok(parse_mountinfo(&std::fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

fn parse_mountinfo(text: &str) -> Option<Mount> {
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if post.split(' ').next() != Some("cgroup2") {
            continue;
        }
        let f: Vec<&str> = pre.split(' ').collect();
        if f.len() < 5 {
            continue;
        }
        return Some(Mount {
            point: PathBuf::from(unescape(f[4])),
            root: unescape(f[3]),
        });
    }
    None
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup2 path (`0::/path` in `/proc/self/cgroup`).
pub(crate) fn own_cgroup() -> io::Result<Option<String>> {
    Ok(parse_proc_cgroup(&std::fs::read_to_string(
        "/proc/self/cgroup",
    )?))
}

fn parse_proc_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end().to_owned())
}

/// The directory of this process's own cgroup2 cgroup.
pub(crate) fn own_dir() -> Result<PathBuf, String> {
    let mount = find_mount()
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?
        .ok_or_else(|| {
            "no cgroup2 filesystem is mounted (mount one, e.g. on /sys/fs/cgroup)".to_owned()
        })?;
    let own = own_cgroup()
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?
        .ok_or_else(|| {
            "this process is in no cgroup2 cgroup (no 0:: line in /proc/self/cgroup)".to_owned()
        })?;
    let rel = own
        .strip_prefix(mount.root.trim_end_matches('/'))
        .unwrap_or(&own);
    Ok(mount.point.join(rel.trim_start_matches('/')))
}

/// Whether `path` is a directory on a cgroup2 filesystem.
pub(crate) fn is_cgroup2_dir(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|s| s.f_type as u64 == CGROUP2_SUPER_MAGIC)
}

/// Why a leaf could not be made.
#[derive(Debug)]
pub(crate) enum LeafError {
    /// The host cannot do it (reason a person can act on).
    Unsupported(String),
    /// A step failed unexpectedly.
    Io(&'static str, io::Error),
}

/// A fresh, empty cgroup created for one tree; removed on drop.
#[derive(Debug)]
pub(crate) struct Leaf {
    dir: PathBuf,
    /// The leaf's path as `/proc/<pid>/cgroup` shows it (`0::<rel>`).
    rel: String,
    procs: File,
    events: File,
    removed: bool,
}

static NEXT_LEAF: AtomicU64 = AtomicU64::new(0);

impl Leaf {
    /// Creates `teardown-<pid>-<n>` under `parent`, checks it has `cgroup.kill`,
    /// and opens its `cgroup.procs` (for the child to join) and `cgroup.events`.
    pub(crate) fn create(parent: &Path) -> Result<Leaf, LeafError> {
        if !parent.is_dir() {
            return Err(LeafError::Unsupported(format!(
                "cgroup parent {} does not exist (pass an existing cgroup2 directory)",
                parent.display()
            )));
        }
        if !is_cgroup2_dir(parent) {
            return Err(LeafError::Unsupported(format!(
                "{} is not on a cgroup2 filesystem",
                parent.display()
            )));
        }
        let n = NEXT_LEAF.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("teardown-{}-{n}", std::process::id()));
        if let Err(e) = std::fs::create_dir(&dir) {
            return Err(match e.raw_os_error() {
                Some(libc::EACCES | libc::EPERM | libc::EROFS) => LeafError::Unsupported(format!(
                    "cannot create a cgroup under {}: {e} (run as root, or delegate a writable cgroup2 subtree and pass it as cgroup_parent)",
                    parent.display()
                )),
                _ => LeafError::Io("create the cgroup leaf", e),
            });
        }
        let mut leaf = Leaf {
            dir,
            rel: String::new(),
            procs: null_file(),
            events: null_file(),
            removed: false,
        };
        if !leaf.dir.join("cgroup.kill").exists() {
            return Err(LeafError::Unsupported(
                "this kernel has no cgroup.kill (needs Linux 5.14 or later)".into(),
            ));
        }
        leaf.rel = rel_path(&leaf.dir);
        leaf.procs = OpenOptions::new()
            .write(true)
            .open(leaf.dir.join("cgroup.procs"))
            .map_err(|e| LeafError::Io("open cgroup.procs", e))?;
        leaf.events = File::open(leaf.dir.join("cgroup.events"))
            .map_err(|e| LeafError::Io("open cgroup.events", e))?;
        Ok(leaf)
    }

    /// The open `cgroup.procs` (writing "0" to it moves the writer in).
    pub(crate) fn procs_fd(&self) -> std::os::fd::RawFd {
        self.procs.as_raw_fd()
    }

    /// The PIDs in the leaf now.
    pub(crate) fn pids(&self) -> io::Result<Vec<i32>> {
        let text = std::fs::read_to_string(self.dir.join("cgroup.procs"))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// Signals one member by pidfd, after re-checking (with the pidfd open) that it
    /// is still in this leaf. `Ok(false)` if it left or exited.
    pub(crate) fn signal_member(&self, pid: i32, sigs: &[i32]) -> io::Result<bool> {
        let fd = match PidFd::open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
            Err(e) => return Err(e),
        };
        let Ok(cg) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            return Ok(false);
        };
        if parse_proc_cgroup(&cg).as_deref() != Some(self.rel.as_str()) {
            return Ok(false);
        }
        // The pidfd pins the identity: if the process has not exited, the /proc
        // read above described it and not a successor with the same number.
        if fd.has_exited()? {
            return Ok(false);
        }
        for &s in sigs {
            match fd.signal(s) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// `echo 1 > cgroup.kill`—SIGKILLs every process in the leaf, atomically with
    /// respect to forks.
    pub(crate) fn kill(&self) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .open(self.dir.join("cgroup.kill"))?
            .write_all(b"1")
    }

    /// Waits (up to `timeout`; `None`: forever) for `populated 0` in `cgroup.events`.
    /// True if it came.
    ///
    /// # The race this handles
    ///
    /// The kernel rate-limits `cgroup.events` notifications to one per 10 ms per
    /// file (`CGROUP_FILE_NOTIFY_MIN_INTV`, `kernel/cgroup/cgroup.c`) and sends them
    /// from a workqueue: a leaf that empties within ~20 ms of its last change (a
    /// tree killed soon after it started) is announced up to ~20 ms late — measured
    /// here, a `sleep` killed 1–20 ms after its spawn took 8–19 ms to drain, one
    /// killed after 100 ms took 0.3 ms. A member's pidfd becomes readable the
    /// moment it has exited, which is after it left the cgroup. So this waits for
    /// each member's pidfd in turn, with `cgroup.events` in the same `poll`, and
    /// then reads `populated` again; only if something it did not see is still
    /// there (forked while `cgroup.procs` was read) does it wait for the
    /// notification alone. The pidfds are only a reason to look again early: the
    /// answer is always `cgroup.events`, so a missed member or a PID recycled by a
    /// stranger costs time, never correctness.
    pub(crate) fn wait_empty(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let end = timeout.map(|t| Instant::now() + t);
        let left = || end.map(|e| e.saturating_duration_since(Instant::now()));
        for pid in self.pids()? {
            // Gone already (ESRCH), or no pidfds: the notification still comes.
            let Ok(member) = PidFd::open(pid) else {
                continue;
            };
            loop {
                let mut fds = [
                    PollFd::new(member.as_fd(), libc::POLLIN),
                    PollFd::new(self.events.as_fd(), libc::POLLPRI),
                ];
                let timed_out = poll(&mut fds, left())? == 0;
                let (exited, changed) = (fds[0].ready(), fds[1].ready());
                if timed_out {
                    return Ok(!populated(&mut self.events)?);
                }
                if changed && !populated(&mut self.events)? {
                    return Ok(true);
                }
                if exited {
                    break;
                }
            }
        }
        wait_unpopulated(&mut self.events, left())
    }

    /// The leaf's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// True once the leaf has been removed.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed
    }

    /// `rmdir` the leaf (it must be empty).
    pub(crate) fn remove(&mut self) -> io::Result<()> {
        if self.removed {
            return Ok(());
        }
        std::fs::remove_dir(&self.dir)?;
        self.removed = true;
        Ok(())
    }

    /// Removes the leaf if it is still there; if it is still populated (a failed
    /// teardown), `cgroup.kill`s it, waits up to a second and tries again. What
    /// dropping a leaf does.
    pub(crate) fn clean_up(&mut self) {
        if self.removed {
            return;
        }
        if self.remove().is_err() && self.kill().is_ok() {
            let _ = self.wait_empty(Some(Duration::from_secs(1)));
            let _ = self.remove();
        }
    }
}

impl Drop for Leaf {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// Waits (up to `timeout`; `None`: forever) until the open `cgroup.events` says
/// `populated 0`, sleeping in `poll(POLLPRI)` (the kernel signals every change of
/// the file). True if it did.
pub(crate) fn wait_unpopulated(events: &mut File, timeout: Option<Duration>) -> io::Result<bool> {
    let end = timeout.map(|t| Instant::now() + t);
    loop {
        if !populated(events)? {
            return Ok(true);
        }
        let left = end.map(|e| e.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        let mut fds = [PollFd::new(events.as_fd(), libc::POLLPRI)];
        poll(&mut fds, left)?;
    }
}

fn populated(events: &mut File) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    events.seek(SeekFrom::Start(0))?;
    let n = events.read(&mut buf)?;
    let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
    Ok(!text.lines().any(|l| l.trim() == "populated 0"))
}

fn null_file() -> File {
    File::open("/dev/null").expect("/dev/null opens")
}

/// The cgroup path of a directory on the cgroup2 mount, as `/proc/<pid>/cgroup`
/// shows it.
fn rel_path(dir: &Path) -> String {
    let mount = find_mount().ok().flatten();
    match mount {
        Some(m) => {
            let rel = dir.strip_prefix(&m.point).unwrap_or(dir);
            let root = m.root.trim_end_matches('/');
            format!("{root}/{}", rel.display())
        }
        None => dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_finds_the_cgroup2_line_and_unescapes_it() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                    41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw\n";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m.point, PathBuf::from("/sys/fs/cgroup/uni fied"));
        assert_eq!(m.root, "/");
    }

    #[test]
    fn mountinfo_without_cgroup2_gives_none() {
        assert_eq!(
            parse_mountinfo("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"),
            None
        );
    }

    #[test]
    fn proc_cgroup_picks_the_unified_line() {
        assert_eq!(
            parse_proc_cgroup("4:memory:/x\n0::/a/b\n").as_deref(),
            Some("/a/b")
        );
        assert_eq!(parse_proc_cgroup("4:memory:/x\n"), None);
    }
}
