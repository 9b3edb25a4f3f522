//! The cgroup v2 filesystem: finding the mount and this process's cgroup
//! (here), and the fresh leaf a tree is put in ([`leaf`]).

mod leaf;

use crate::sys::proc_text;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) use leaf::{Leaf, LeafError};

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
///
/// A mount once found is remembered for the life of the process (and its forked
/// copies): a spawn read it up to three times (~0.1 ms of a `teardown run`).
/// Not finding one is not remembered, so a cgroup2 mounted later is found.
pub(crate) fn find_mount() -> io::Result<Option<Mount>> {
    static FOUND: std::sync::OnceLock<Mount> = std::sync::OnceLock::new();
    if let Some(m) = FOUND.get() {
        return Ok(Some(m.clone()));
    }
    // Bytes, decoded lossily: anyone may add a mount whose source or path is
    // not UTF-8 (`fusermount3 -o fsname=...`), and that line must not make the
    // cgroup2 line unreadable.
    let found = mount_in(&proc_text::read("/proc/self/mountinfo")?);
    if let Some(m) = &found {
        let _ = FOUND.set(m.clone());
    }
    Ok(found)
}

/// The cgroup2 mount in a mountinfo text, read as bytes.
fn mount_in(mountinfo: &[u8]) -> Option<Mount> {
    parse_mountinfo(&String::from_utf8_lossy(mountinfo))
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
    // Bytes, decoded lossily: a v1 hierarchy's line may name a cgroup with bytes
    // that are not UTF-8 (only the `0::` line is wanted).
    Ok(parse_proc_cgroup(&String::from_utf8_lossy(
        &proc_text::read("/proc/self/cgroup")?,
    )))
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Option<String> {
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

/// The cgroup path of a directory on the cgroup2 mount, as `/proc/<pid>/cgroup`
/// shows it.
pub(crate) fn rel_path(dir: &Path) -> String {
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
    fn a_mount_whose_path_is_not_utf8_does_not_hide_the_cgroup2_line() {
        let text = b"30 23 0:50 / /tmp/\xff\xfe rw - fuse.x \xff rw\n\
                     41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let m = mount_in(text).unwrap();
        assert_eq!(m.point, PathBuf::from("/sys/fs/cgroup/unified"));
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
