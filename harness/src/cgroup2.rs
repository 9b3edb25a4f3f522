//! cgroup v2 for the judges: the warden's per-trial cgroups
//! ([`crate::warden`]), the `cgroup-nest` node trait, and the benches' drain
//! observer (`teardown_benches::observer`). Where the cgroup2 file system is
//! mounted, this process's cgroup directory, what `cgroup.events` says, and the
//! files that kill, list and remove a cgroup.
//!
//! Kept apart from the core crate's own cgroup2 code on purpose: the judge does
//! not share the code it judges (the `cgroup` method).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

/// Why this process has no cgroup2 directory.
#[derive(Debug, thiserror::Error)]
pub enum Cgroup2Error {
    /// No cgroup2 file system is mounted (see `/proc/self/mountinfo`).
    #[error("no cgroup2 mount in /proc/self/mountinfo")]
    NoMount,
    /// `/proc/self/cgroup` has no `0::` line.
    #[error("this process has no cgroup2 path in /proc/self/cgroup")]
    NoOwnCgroup,
    /// A file of `/proc/self` could not be read.
    #[error("cannot read {file}: {error}")]
    Read {
        /// The file.
        file: &'static str,
        /// Why.
        error: io::Error,
    },
}

/// The cgroup2 mount, from a line of `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub point: PathBuf,
    /// The cgroup at its root (`/`, unless a subtree is bind-mounted).
    pub root: String,
}

/// The cgroup2 mount in a `mountinfo` text; `None` if there is none.
pub fn parse_mount(mountinfo: &str) -> Option<Mount> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = before.split_whitespace().collect();
        Some(Mount {
            root: unescape_mountinfo(fields.get(3)?),
            point: PathBuf::from(unescape_mountinfo(fields.get(4)?)),
        })
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup2 path (the `0::` line of a `/proc/self/cgroup` text).
pub fn parse_own(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
}

fn read_self(file: &'static str) -> Result<String, Cgroup2Error> {
    fs::read_to_string(file).map_err(|error| Cgroup2Error::Read { file, error })
}

/// The cgroup2 mount of this process (`/proc/self/mountinfo`).
pub fn mount() -> Result<Mount, Cgroup2Error> {
    parse_mount(&read_self("/proc/self/mountinfo")?).ok_or(Cgroup2Error::NoMount)
}

/// Where the cgroup2 file system is mounted, if it is.
pub fn mount_point() -> Option<PathBuf> {
    mount().ok().map(|m| m.point)
}

/// This process's cgroup2 directory: its `0::` path in `/proc/self/cgroup`,
/// under the cgroup2 mount.
pub fn own_dir() -> Result<PathBuf, Cgroup2Error> {
    let mount = mount()?;
    let own = read_self("/proc/self/cgroup")?;
    let own = parse_own(&own).ok_or(Cgroup2Error::NoOwnCgroup)?;
    Ok(dir_of(&mount, own))
}

/// The directory of the cgroup at `path` (as `/proc/<pid>/cgroup` names it)
/// under `mount`.
pub fn dir_of(mount: &Mount, path: &str) -> PathBuf {
    let path = Path::new(path);
    let relative = path
        .strip_prefix(&mount.root)
        .or_else(|_| path.strip_prefix("/"))
        .unwrap_or(path);
    mount.point.join(relative)
}

/// The `populated` key of a `cgroup.events` text.
pub fn parse_populated(events: &str) -> Option<bool> {
    events.lines().find_map(|line| match line.split_once(' ')? {
        ("populated", "0") => Some(false),
        ("populated", _) => Some(true),
        _ => None,
    })
}

/// Reads an open `cgroup.events`: does the cgroup (or a descendant) hold a live
/// process? (A process leaves its cgroup when it exits, before it is reaped.)
/// Without a `populated` line, yes: emptiness is never assumed.
pub fn populated(events: &File) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    let len = events.read_at(&mut buf, 0)?;
    let text = std::str::from_utf8(&buf[..len]).unwrap_or("");
    Ok(parse_populated(text).unwrap_or(true))
}

/// `cgroup.kill`: SIGKILL every process in the cgroup `dir` and below.
pub fn kill(dir: &Path) -> io::Result<()> {
    fs::write(dir.join("cgroup.kill"), "1")
}

/// Waits for `populated 0` in `dir`'s `cgroup.events` up to `timeout`, by
/// `poll(POLLPRI)` (never a sleep loop); true if the cgroup is empty.
pub fn wait_empty(dir: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let Ok(events) = File::open(dir.join("cgroup.events")) else {
        return false;
    };
    loop {
        match populated(&events) {
            Ok(false) => return true,
            Ok(true) => {}
            Err(_) => return false,
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let t = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&events, PollFlags::PRI)];
        if matches!(rustix::event::poll(&mut fds, Some(&t)), Err(e) if e != rustix::io::Errno::INTR)
        {
            return false;
        }
    }
}

/// Every PID in the cgroup `dir` and the cgroups below it (a cgroup removed
/// meanwhile is skipped).
pub fn pids(dir: &Path) -> io::Result<Vec<i32>> {
    let mut out = Vec::new();
    collect_pids(dir, &mut out)?;
    Ok(out)
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) -> io::Result<()> {
    let procs = fs::read_to_string(dir.join("cgroup.procs"))?;
    pids.extend(
        procs
            .lines()
            .filter_map(|line| line.trim().parse::<i32>().ok()),
    );
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            match collect_pids(&entry.path(), pids) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// Removes the cgroup directory `dir` and every cgroup below it, deepest first.
/// A cgroup can be busy for a moment after its last process exited: each
/// removal is retried every 10 ms until `patience` has passed (zero: one try).
/// A directory already gone is not an error.
pub fn remove_tree(dir: &Path, patience: Duration) -> io::Result<()> {
    remove_tree_by(dir, Instant::now() + patience)
}

fn remove_tree_by(dir: &Path, deadline: Instant) -> io::Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree_by(&entry.path(), deadline)?;
            }
        }
    }
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified\\040dir rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn the_cgroup2_mount_is_found_among_v1_mounts_and_unescaped() {
        let m = parse_mount(MOUNTINFO).unwrap();
        assert_eq!(m.point, PathBuf::from("/sys/fs/cgroup/unified dir"));
        assert_eq!(m.root, "/");
    }

    #[test]
    fn a_host_without_cgroup2_has_no_mount() {
        assert_eq!(
            parse_mount(&MOUNTINFO.replace("cgroup2 cgroup2", "cgroup cgroup")),
            None
        );
    }

    #[test]
    fn a_backslash_without_three_octal_digits_is_kept() {
        assert_eq!(unescape_mountinfo("a\\04"), "a\\04");
        assert_eq!(unescape_mountinfo("a\\134b"), "a\\b");
    }

    #[test]
    fn the_own_cgroup_is_the_zero_line() {
        assert_eq!(
            parse_own("9:name=systemd:/\n0::/user.slice/x\n"),
            Some("/user.slice/x")
        );
        assert_eq!(parse_own("9:name=systemd:/\n"), None);
    }

    #[test]
    fn a_cgroup_path_is_placed_under_the_mount_without_its_root() {
        let whole = Mount {
            point: "/sys/fs/cgroup".into(),
            root: "/".into(),
        };
        assert_eq!(
            dir_of(&whole, "/user.slice/x"),
            PathBuf::from("/sys/fs/cgroup/user.slice/x")
        );
        let subtree = Mount {
            point: "/sys/fs/cgroup".into(),
            root: "/docker/abc".into(),
        };
        assert_eq!(
            dir_of(&subtree, "/docker/abc/x"),
            PathBuf::from("/sys/fs/cgroup/x")
        );
    }

    #[test]
    fn populated_is_read_from_cgroup_events() {
        assert_eq!(parse_populated("populated 1\nfrozen 0\n"), Some(true));
        assert_eq!(parse_populated("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(parse_populated("frozen 0\n"), None);
    }
}
