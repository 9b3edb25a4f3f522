//! The independent drain observer: it decides when a benched tree is *really*
//! gone, whatever the method under test says.
//!
//! Normally a cgroup v2 leaf the bench creates under its own cgroup (found from
//! `/proc/self/mountinfo` and `/proc/self/cgroup`): every tree starts inside it (the
//! helper joins it first, or — for the `cgroup` method — the method's own leaf is
//! created below it). Its `cgroup.events` is the authority: the tree is drained
//! when it reads `populated 0` (a process leaves the cgroup when it exits, before it
//! is reaped: zombies do not count).
//!
//! Waiting is event-driven, never busy-polling, but not on `cgroup.events` alone:
//! the kernel rate-limits that file's change notification
//! (`cgroup_file_notify()`, `CGROUP_FILE_NOTIFY_MIN_INTV`), so a `poll(POLLPRI)`
//! wakes 5–20 ms late when the previous change (the tree's own start) was recent —
//! measured here with trees of one process. So before the clock starts, the
//! observer opens a pidfd for every process listed in the cgroup (and its
//! children), and waits on all of them and on `cgroup.events` together with epoll:
//! a pidfd becomes readable the moment its process exits, the file read stays the
//! authority, and a process the pidfds do not know still wakes the wait through
//! `cgroup.events`.
//!
//! Without a writable cgroup2, the fallback watches pidfds of the PIDs the tree
//! reported ready: blind to processes that did not report and to trees in another
//! PID namespace (those are counted as unobserved).

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::{Timespec, epoll};
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use crate::errors::{ObserverError, error_chain, io_err};

/// Watches benched trees drain, independently of the method under test.
#[derive(Debug)]
pub struct Observer {
    cgroup: Option<CgroupDir>,
    exits: Option<ExitWatch>,
    blind: bool,
}

/// The epoll key of `cgroup.events`; pidfds use their index.
const EVENTS_KEY: u64 = u64::MAX;

/// How long to sleep between reads when every watched process has exited but the
/// cgroup still reads populated (a process no pidfd knows, or the moment between
/// a task's exit notification and its cgroup unlink).
const SETTLE_STEP: Duration = Duration::from_micros(100);

impl Observer {
    /// A cgroup observer if this host has a writable cgroup2, else the pidfd
    /// fallback, with the reason it fell back. `TEARDOWN_BENCH_OBSERVER=pidfd`
    /// forces the fallback.
    pub fn create() -> (Observer, Option<String>) {
        let fallback = |reason: String| (Observer::without_cgroup(), Some(reason));
        if std::env::var_os("TEARDOWN_BENCH_OBSERVER").is_some_and(|v| v == "pidfd") {
            return fallback("TEARDOWN_BENCH_OBSERVER=pidfd".into());
        }
        match CgroupDir::create() {
            Ok(cgroup) => (
                Observer {
                    cgroup: Some(cgroup),
                    exits: None,
                    blind: false,
                },
                None,
            ),
            Err(error) => fallback(error_chain(&error)),
        }
    }

    /// The fallback observer (pidfds of the reported PIDs), whatever the host has.
    pub fn without_cgroup() -> Observer {
        Observer {
            cgroup: None,
            exits: None,
            blind: false,
        }
    }

    /// True if this observer is a cgroup (not the fallback).
    pub fn has_cgroup(&self) -> bool {
        self.cgroup.is_some()
    }

    /// The `cgroup.procs` file a helper writes `0` to so that its tree starts
    /// inside the observer; `None` for the fallback.
    pub fn join_file(&self) -> Option<PathBuf> {
        self.cgroup.as_ref().map(|c| c.dir.join("cgroup.procs"))
    }

    /// The observer's cgroup directory, the parent for the `cgroup` method's leaf.
    pub fn cgroup_dir(&self) -> Option<&Path> {
        self.cgroup.as_ref().map(|c| c.dir.as_path())
    }

    /// Confirms, before the clock starts, that the tree is running, and opens a
    /// pidfd for each of its processes. `reported` are the readiness records when
    /// they are PIDs in this process's namespace, `None` when they are not (a tree
    /// in a new PID namespace).
    pub fn arm(&mut self, reported: Option<&[i32]>) -> Result<(), ObserverError> {
        self.exits = None;
        self.blind = false;
        let pids = match (&self.cgroup, reported) {
            (Some(cgroup), _) => {
                if !cgroup.populated()? {
                    return Err(ObserverError::NotRunning);
                }
                cgroup.pids()?
            }
            (None, Some(pids)) => pids.to_vec(),
            (None, None) => {
                self.blind = true;
                return Ok(());
            }
        };
        let events = self.cgroup.as_ref().map(|c| c.events.as_fd());
        let exits = ExitWatch::new(&pids, events)?;
        if self.cgroup.is_none() && exits.pending < pids.len() {
            return Err(ObserverError::NotRunning);
        }
        self.exits = Some(exits);
        Ok(())
    }

    /// True if the tree is drained now (no waiting).
    pub fn is_drained(&mut self) -> Result<bool, ObserverError> {
        match (&self.cgroup, &mut self.exits) {
            (Some(cgroup), _) => Ok(!cgroup.populated()?),
            (None, Some(exits)) => {
                exits.collect(Some(Duration::ZERO))?;
                Ok(exits.pending == 0)
            }
            (None, None) => Ok(true),
        }
    }

    /// Blocks until the tree is drained, or fails after `deadline`.
    pub fn wait_drained(&mut self, deadline: Duration) -> Result<(), ObserverError> {
        let start = Instant::now();
        while !self.is_drained()? {
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(ObserverError::NotDrained {
                    waited: start.elapsed(),
                });
            }
            match &mut self.exits {
                Some(exits) if exits.pending > 0 => exits.collect(Some(left))?,
                _ => std::thread::sleep(SETTLE_STEP.min(left)),
            }
        }
        Ok(())
    }

    /// True when the last armed tree could not be observed (fallback, tree in
    /// another PID namespace).
    pub fn blind(&self) -> bool {
        self.blind
    }

    /// Safety net: kills whatever is left under the observer (cgroup only).
    pub fn kill_all(&mut self) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
    }
}

/// Pidfds of the watched processes and `cgroup.events`, in one epoll set.
struct ExitWatch {
    epoll: OwnedFd,
    _pidfds: Vec<OwnedFd>,
    /// Watched processes not yet seen exiting.
    pending: usize,
    buffer: Vec<epoll::Event>,
}

impl std::fmt::Debug for ExitWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExitWatch")
            .field("watched", &self._pidfds.len())
            .field("pending", &self.pending)
            .finish()
    }
}

impl ExitWatch {
    /// Opens a pidfd per PID (a PID already gone is skipped) and registers each
    /// once (`EPOLLONESHOT`: a pidfd stays readable after the exit).
    fn new(
        pids: &[i32],
        events: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<ExitWatch, ObserverError> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)
            .map_err(|e| io_err("create epoll")(e.into()))?;
        if let Some(events) = events {
            epoll::add(
                &epoll,
                events,
                epoll::EventData::new_u64(EVENTS_KEY),
                epoll::EventFlags::PRI,
            )
            .map_err(|e| io_err("watch cgroup.events")(e.into()))?;
        }
        let mut pidfds = Vec::with_capacity(pids.len());
        for &pid in pids {
            let Some(pid) = Pid::from_raw(pid) else {
                continue;
            };
            let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::SRCH) => continue,
                Err(e) => return Err(io_err(format!("pidfd_open({pid})"))(e.into())),
            };
            let key = epoll::EventData::new_u64(pidfds.len() as u64);
            epoll::add(
                &epoll,
                &pidfd,
                key,
                epoll::EventFlags::IN | epoll::EventFlags::ONESHOT,
            )
            .map_err(|e| io_err("watch a pidfd")(e.into()))?;
            pidfds.push(pidfd);
        }
        let pending = pidfds.len();
        Ok(ExitWatch {
            epoll,
            _pidfds: pidfds,
            pending,
            buffer: Vec::with_capacity(256),
        })
    }

    /// Waits up to `timeout` (`Some(ZERO)`: not at all) for exits or a
    /// `cgroup.events` change, and counts the exits.
    fn collect(&mut self, timeout: Option<Duration>) -> Result<(), ObserverError> {
        let timespec = timeout.map(|t| Timespec {
            tv_sec: t.as_secs() as i64,
            tv_nsec: t.subsec_nanos().into(),
        });
        self.buffer.clear();
        match epoll::wait(
            &self.epoll,
            spare_capacity(&mut self.buffer),
            timespec.as_ref(),
        ) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(io_err("wait for exits")(e.into())),
        }
        let exits = self
            .buffer
            .iter()
            .filter(|event| event.data.u64() != EVENTS_KEY)
            .count();
        self.pending = self.pending.saturating_sub(exits);
        Ok(())
    }
}

/// A cgroup v2 directory the bench created; killed and removed (with any cgroup
/// below it) on drop.
#[derive(Debug)]
struct CgroupDir {
    dir: PathBuf,
    events: File,
}

impl CgroupDir {
    /// Creates `teardown-bench-<pid>-<n>` under this process's own cgroup2 directory.
    fn create() -> Result<CgroupDir, ObserverError> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_err("read /proc/self/mountinfo"))?;
        let (mount, root) = cgroup2_mount(&mountinfo).ok_or(ObserverError::NoCgroup2)?;
        let own =
            fs::read_to_string("/proc/self/cgroup").map_err(io_err("read /proc/self/cgroup"))?;
        let own = own_cgroup(&own).ok_or(ObserverError::NoOwnCgroup)?;
        let relative = own.strip_prefix(root.as_str()).unwrap_or(own);
        let parent = mount.join(relative.trim_start_matches('/'));
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("teardown-bench-{}-{seq}", std::process::id()));
        fs::create_dir(&dir).map_err(io_err(format!("create cgroup {}", dir.display())))?;
        match File::open(dir.join("cgroup.events")) {
            Ok(events) => Ok(CgroupDir { dir, events }),
            Err(source) => {
                let _ = fs::remove_dir(&dir);
                Err(ObserverError::Io {
                    what: format!("open {}/cgroup.events", dir.display()),
                    source,
                })
            }
        }
    }

    /// Reads `cgroup.events`: does the cgroup (or a descendant) hold a live
    /// process? The value is current; only the change notification is rate-limited.
    fn populated(&self) -> Result<bool, ObserverError> {
        let mut buf = [0u8; 128];
        let len = self
            .events
            .read_at(&mut buf, 0)
            .map_err(io_err("read cgroup.events"))?;
        let text = std::str::from_utf8(&buf[..len]).unwrap_or("");
        Ok(parse_populated(text).unwrap_or(true))
    }

    /// Every PID in this cgroup and the cgroups below it.
    fn pids(&self) -> Result<Vec<i32>, ObserverError> {
        let mut pids = Vec::new();
        collect_pids(&self.dir, &mut pids).map_err(io_err("read cgroup.procs"))?;
        Ok(pids)
    }

    /// Writes `1` to `cgroup.kill` and waits (bounded) for `populated 0`.
    fn kill_all(&self) {
        if self.populated().unwrap_or(true) {
            let _ = fs::write(self.dir.join("cgroup.kill"), b"1");
            let start = Instant::now();
            while self.populated().unwrap_or(false) && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

impl Drop for CgroupDir {
    fn drop(&mut self) {
        self.kill_all();
        remove_cgroup_tree(&self.dir);
    }
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
                // A leaf the method removed meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// Removes a cgroup directory and every cgroup below it, deepest first. A cgroup
/// can be busy for a moment after its last process exited: retried, bounded.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    for _ in 0..200 {
        match fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    eprintln!(
        "teardown-benches: could not remove cgroup {}",
        dir.display()
    );
}

/// The cgroup2 mount point and the mount's root, from `/proc/self/mountinfo`.
fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = before.split_whitespace().collect();
        let root = unescape_mountinfo(fields.get(3)?);
        let mount = unescape_mountinfo(fields.get(4)?);
        Some((PathBuf::from(mount), root))
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

/// This process's cgroup2 path (the `0::` line of `/proc/self/cgroup`).
fn own_cgroup(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
}

/// The `populated` key of `cgroup.events`.
fn parse_populated(events: &str) -> Option<bool> {
    events.lines().find_map(|line| match line.split_once(' ')? {
        ("populated", "0") => Some(false),
        ("populated", _) => Some(true),
        _ => None,
    })
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
        let (mount, root) = cgroup2_mount(MOUNTINFO).unwrap();
        assert_eq!(mount, PathBuf::from("/sys/fs/cgroup/unified dir"));
        assert_eq!(root, "/");
    }

    #[test]
    fn a_host_without_cgroup2_has_no_mount() {
        assert_eq!(
            cgroup2_mount(&MOUNTINFO.replace("cgroup2 cgroup2", "cgroup cgroup")),
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
            own_cgroup("9:name=systemd:/\n0::/user.slice/x\n"),
            Some("/user.slice/x")
        );
        assert_eq!(own_cgroup("9:name=systemd:/\n"), None);
    }

    #[test]
    fn populated_is_read_from_cgroup_events() {
        assert_eq!(parse_populated("populated 1\nfrozen 0\n"), Some(true));
        assert_eq!(parse_populated("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(parse_populated("frozen 0\n"), None);
    }
}
