//! A fresh cgroup v2 leaf per tree, and every cgroup the tree makes below it.
//!
//! # Membership is the subtree
//!
//! A tree may make cgroups below its own and move into them (a nested `teardown
//! run`, a container runtime, `systemd-run --scope`). `cgroup.procs` lists only a
//! cgroup's own processes, so everything here reads the whole subtree
//! ([`Leaf::members`]): the graceful SIGTERM reaches the processes of the tree's
//! own cgroups too, the kill covers them (`cgroup.kill` is recursive), `populated`
//! in `cgroup.events` already counts the subtree, and [`Leaf::remove`] removes it
//! deepest first. A threaded cgroup has no readable `cgroup.procs`: its
//! `cgroup.threads` is read instead and each thread mapped to its process.
//!
//! # The kill does not stop at `cgroup.kill`
//!
//! `cgroup.kill` (Linux 5.14+) SIGKILLs every process of the subtree, atomically
//! with respect to forks. But it signals each process through its thread-group
//! leader *thread*: when that thread has already exited (`pthread_exit` from
//! `main`) while another thread lives, the signal is queued on the dead thread and
//! never becomes a group kill, the process lives on and `populated` never drops
//! to 0 (seen on Linux 6.18; writing `cgroup.kill` again does not help). A
//! TGID-wide kill (`pidfd_send_signal`, like `kill(2)`) kills it at once. So
//! [`Leaf::kill_all`] writes `cgroup.kill`, then waits for the subtree to empty,
//! and whenever a member has not exited for a while (a stall: [`FIRST_STALL`],
//! doubling) it SIGKILLs every member still there by pidfd, membership re-checked,
//! and waits again, until `populated 0` or the deadline. systemd's `cgroup.kill`
//! path has the same hole; the `cgroup-kill` method keeps it, as a negative
//! control.
//!
//! # The host is never in the set it kills
//!
//! A tree with write access to the leaf's `cgroup.procs` (root) can move any
//! process it can name into it — its parent, which is the host for the in-process
//! methods — and `cgroup.kill` would then SIGKILL the host. Before the kill the
//! host reads its own cgroup, and if it is inside the subtree it moves itself back
//! to where it was ([`Leaf::kill_all`]); the sweep never signals the host. A tree
//! that moves the host in again in the microseconds between that check and the
//! `cgroup.kill` write still wins; only a PID namespace (the `pidns` method, which
//! `auto` prefers) makes the host unnameable.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use super::{is_cgroup2_dir, own_dir, parse_proc_cgroup, rel_path};
use crate::sys::fd::{PollFd, poll};
use crate::sys::pidfd::PidFd;

/// After `cgroup.kill`, a member that has not exited after this long is a stall:
/// every member left gets a TGID-wide SIGKILL. Doubles at each stall, up to
/// [`MAX_STALL`]. A SIGKILLed process normally exits in microseconds; only speed
/// on the rare stall depends on it.
pub(crate) const FIRST_STALL: Duration = Duration::from_millis(20);
/// The longest wait between two sweeps.
const MAX_STALL: Duration = Duration::from_millis(500);

/// How many names a new leaf tries before giving up (each name taken means a
/// leaf of that name already exists: a stale one, or another namespace's).
const NAME_TRIES: u64 = 64;

/// Why a leaf could not be made.
#[derive(Debug)]
pub(crate) enum LeafError {
    /// The host cannot do it (reason a person can act on).
    Unsupported(String),
    /// A step failed unexpectedly.
    Io(&'static str, io::Error),
}

/// A fresh, empty cgroup created for one tree (with what the tree makes below
/// it); removed on drop.
#[derive(Debug)]
pub(crate) struct Leaf {
    dir: PathBuf,
    /// The leaf's path as `/proc/<pid>/cgroup` shows it (`0::<rel>`).
    rel: String,
    /// The directory itself: pins its identity, and `clone3(CLONE_INTO_CGROUP)`
    /// takes it.
    fd: OwnedFd,
    /// `cgroup.procs`, open for writing (a child writes "0" to join before exec).
    procs: Option<File>,
    events: File,
    /// Where a host the tree moved into the leaf goes back to.
    home: Option<PathBuf>,
    removed: bool,
    /// Every member PID a read of the subtree found (see [`Leaf::wait_exited`]).
    seen: std::sync::Mutex<std::collections::BTreeSet<i32>>,
}

static NEXT_LEAF: AtomicU64 = AtomicU64::new(0);

/// `teardown-<pid-namespace inode>-<pid>-<n>`: a PID alone repeats in every PID
/// namespace (PID 3 in each container), the namespace's inode does not.
fn leaf_name(n: u64) -> String {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino());
    format!("teardown-{ns}-{}-{n}", std::process::id())
}

fn open_in(dir: BorrowedFd<'_>, name: &str, flags: OFlags) -> io::Result<File> {
    let fd = rustix::fs::openat(dir, name, flags | OFlags::CLOEXEC, Mode::empty())?;
    Ok(File::from(fd))
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

impl Leaf {
    /// Creates `teardown-<ns>-<pid>-<n>` under `parent`, checks it has
    /// `cgroup.kill`, and opens its `cgroup.procs` (for the child to join) and
    /// `cgroup.events`.
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
        let mut tries = 0;
        let dir = loop {
            let dir = parent.join(leaf_name(NEXT_LEAF.fetch_add(1, Ordering::Relaxed)));
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < NAME_TRIES => {
                    tries += 1;
                }
                Err(e) => {
                    return Err(match e.raw_os_error() {
                        Some(libc::EACCES | libc::EPERM | libc::EROFS) => {
                            LeafError::Unsupported(format!(
                                "cannot create a cgroup under {}: {e} (run as root, or delegate a writable cgroup2 subtree and pass it as cgroup_parent)",
                                parent.display()
                            ))
                        }
                        _ => LeafError::Io("create the cgroup leaf", e),
                    });
                }
            }
        };
        let fd = match open_dir(&dir) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(LeafError::Io("open the cgroup leaf", e));
            }
        };
        let mut leaf = Leaf::with(dir, fd).map_err(|e| LeafError::Io("open cgroup.events", e))?;
        if rustix::fs::accessat(
            leaf.fd.as_fd(),
            "cgroup.kill",
            rustix::fs::Access::EXISTS,
            rustix::fs::AtFlags::empty(),
        )
        .is_err()
        {
            return Err(LeafError::Unsupported(
                "this kernel has no cgroup.kill (needs Linux 5.14 or later)".into(),
            ));
        }
        leaf.procs = Some(
            OpenOptions::new()
                .write(true)
                .open(leaf.dir.join("cgroup.procs"))
                .map_err(|e| LeafError::Io("open cgroup.procs", e))?,
        );
        Ok(leaf)
    }

    /// A leaf made earlier (by this process's shim, or by the host of a watchdog),
    /// known by its open directory `fd` and its `path`: for killing and removing
    /// it. Removal checks that `path` still names that directory.
    pub(crate) fn adopt(fd: OwnedFd, path: &Path) -> io::Result<Leaf> {
        Leaf::with(path.to_path_buf(), fd)
    }

    fn with(dir: PathBuf, fd: OwnedFd) -> io::Result<Leaf> {
        let events = open_in(fd.as_fd(), "cgroup.events", OFlags::RDONLY)?;
        let rel = rel_path(&dir);
        let mut leaf = Leaf {
            dir,
            rel,
            fd,
            procs: None,
            events,
            home: None,
            removed: false,
            seen: Default::default(),
        };
        // Where the host goes back to if the tree moves it in: its cgroup now,
        // or (already inside) the leaf's parent.
        leaf.home = own_dir()
            .ok()
            .filter(|d| !d.starts_with(&leaf.dir))
            .or_else(|| leaf.dir.parent().map(Path::to_path_buf));
        Ok(leaf)
    }

    /// The open `cgroup.procs` (writing "0" to it moves the writer in).
    pub(crate) fn procs_fd(&self) -> Option<RawFd> {
        self.procs.as_ref().map(|f| f.as_raw_fd())
    }

    /// The leaf's directory, open (for `clone3(CLONE_INTO_CGROUP)`).
    pub(crate) fn dir_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The leaf's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// True once the leaf has been removed.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed
    }

    /// The leaf and every cgroup below it, parents before children.
    fn cgroups(&self) -> Vec<PathBuf> {
        let mut out = vec![self.dir.clone()];
        let mut i = 0;
        while i < out.len() {
            if let Ok(entries) = std::fs::read_dir(&out[i]) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        out.push(e.path());
                    }
                }
            }
            i += 1;
        }
        out
    }

    /// The processes (by TGID) in the leaf and every cgroup below it, now; never
    /// this process (a tree can move it in: see [`Leaf::evict_self`]).
    pub(crate) fn members(&self) -> io::Result<Vec<i32>> {
        let mut out = Vec::new();
        for (i, cg) in self.cgroups().into_iter().enumerate() {
            match read_ids(&cg.join("cgroup.procs")) {
                Ok(pids) => out.extend(pids),
                // A threaded cgroup: its threads, each mapped to its process.
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                    let tids = read_ids(&cg.join("cgroup.threads")).unwrap_or_default();
                    out.extend(tids.into_iter().filter_map(tgid_of));
                }
                // A cgroup below the leaf removed meanwhile.
                Err(e) if i > 0 && e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_unstable();
        out.dedup();
        let me = std::process::id() as i32;
        out.retain(|&p| p != me);
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(out.iter().copied());
        Ok(out)
    }

    /// Waits (up to `timeout`; `None`: forever) until every member any read of
    /// the subtree found has exited. True if they all did.
    ///
    /// # The race this handles
    ///
    /// `populated 0` is not "every member has exited": a task leaves its cgroup
    /// early in `do_exit` (`cgroup_exit`), before `exit_notify`. For most that gap
    /// is microseconds, but the init of a PID namespace made in the tree spends it
    /// in `zap_pid_ns_processes`, waiting for its namespace to die: the leaf is
    /// empty while it is still dying, and a teardown that returned then returned
    /// early (seen with `nested-pid-namespace` × `cgroup` under load, 1 run in 3).
    /// A pidfd becomes readable in `exit_notify`, after that wait. A PID that now
    /// names nobody was reaped; one that names a process outside the subtree was
    /// reused by a stranger (a process that died still shows its cgroup): neither
    /// is waited for.
    pub(crate) fn wait_exited(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let end = timeout.map(|t| Instant::now() + t);
        let seen = std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()));
        for pid in seen {
            let Ok(fd) = PidFd::open(pid) else { continue };
            if !self.contains(pid) {
                continue;
            }
            loop {
                let left = end.map(|e| e.saturating_duration_since(Instant::now()));
                let mut fds = [PollFd::new(fd.as_fd(), libc::POLLIN)];
                if poll(&mut fds, left)? > 0 && fds[0].ready() {
                    break;
                }
                if left.is_some_and(|l| l.is_zero()) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Whether process `pid` is in the leaf or below it (`/proc/<pid>/cgroup`; a
    /// zombie still shows the cgroup it died in).
    pub(crate) fn contains(&self, pid: i32) -> bool {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            return false;
        };
        parse_proc_cgroup(&text).is_some_and(|p| {
            p == self.rel
                || p.strip_prefix(self.rel.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Signals one member by pidfd (the whole process: TGID-wide), after
    /// re-checking, with the pidfd open, that it is still in the subtree and has
    /// not exited. Never this process. `Ok(false)` if it left or exited.
    pub(crate) fn signal_member(&self, pid: i32, sigs: &[i32]) -> io::Result<bool> {
        if pid == std::process::id() as i32 {
            return Ok(false);
        }
        let fd = match PidFd::open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
            Err(e) => return Err(e),
        };
        if !self.contains(pid) {
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

    /// Sends `sigs` to every member of the subtree, reading the members again and
    /// signalling the new ones (forked meanwhile) until a read finds none, or
    /// `until`. Returns how many processes were signalled.
    pub(crate) fn signal_all(&self, sigs: &[i32], until: Instant) -> io::Result<u64> {
        let mut seen = std::collections::HashSet::new();
        let mut signalled = 0;
        let mut batch = self.members()?;
        while !batch.is_empty() && Instant::now() < until {
            for &pid in &batch {
                seen.insert(pid);
                signalled += u64::from(self.signal_member(pid, sigs)?);
            }
            batch = self.members()?;
            batch.retain(|p| !seen.contains(p));
        }
        Ok(signalled)
    }

    /// `echo 1 > cgroup.kill`—SIGKILLs every process in the subtree, atomically
    /// with respect to forks (but see the module docs).
    pub(crate) fn kill(&self) -> io::Result<()> {
        open_in(self.fd.as_fd(), "cgroup.kill", OFlags::WRONLY)?.write_all(b"1")
    }

    /// If a tree moved this process into the subtree, moves it back home (see the
    /// module docs). Fails if it cannot get out: killing would kill the host.
    /// [`Leaf::kill_all`] calls it; a teardown calls it first too, so that a
    /// graceful wait is not a wait for the host itself.
    pub(crate) fn evict_self(&self) -> io::Result<()> {
        if !self.contains(std::process::id() as i32) {
            return Ok(());
        }
        let home = self.home.as_ref().ok_or_else(|| {
            io::Error::other("this process was moved into the tree's cgroup and has no home")
        })?;
        std::fs::write(home.join("cgroup.procs"), "0")
    }

    /// Kills the subtree and waits (up to `timeout`; `None`: forever) until it is
    /// empty: moves this process out if the tree moved it in, writes
    /// `cgroup.kill`, and with `sweep` SIGKILLs what is left by pidfd at every
    /// stall (see the module docs). True if it emptied.
    pub(crate) fn kill_all(&mut self, timeout: Option<Duration>, sweep: bool) -> io::Result<bool> {
        let end = timeout.map(|t| Instant::now() + t);
        self.evict_self()?;
        self.kill()?;
        let mut stall = FIRST_STALL;
        loop {
            let left = end.map(|e| e.saturating_duration_since(Instant::now()));
            match self.wait(left, sweep.then_some(stall))? {
                Emptied::Empty => return Ok(true),
                Emptied::TimedOut => return Ok(false),
                Emptied::Stalled => {
                    self.sweep()?;
                    stall = (stall * 2).min(MAX_STALL);
                }
            }
        }
    }

    /// SIGKILLs every member left, TGID-wide, by pidfd. Returns how many.
    fn sweep(&self) -> io::Result<u64> {
        let mut n = 0;
        for pid in self.members()? {
            n += u64::from(self.signal_member(pid, &[libc::SIGKILL])?);
        }
        Ok(n)
    }

    /// Waits (up to `timeout`; `None`: forever) for `populated 0`. True if it
    /// came.
    pub(crate) fn wait_empty(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        Ok(self.wait(timeout, None)? == Emptied::Empty)
    }

    /// Waits for `populated 0`, up to `timeout`, and (with `stall`) no longer than
    /// that for any one member to exit.
    ///
    /// # The race this handles
    ///
    /// The kernel rate-limits `cgroup.events` notifications to one per 10 ms per
    /// file (`CGROUP_FILE_NOTIFY_MIN_INTV`, `kernel/cgroup/cgroup.c`) and sends them
    /// from a workqueue: a leaf that empties within ~20 ms of its last change (a
    /// tree killed soon after it started) is announced up to ~20 ms late —
    /// measured here, a `sleep` killed 1–20 ms after its spawn took 8–19 ms to
    /// drain, one killed after 100 ms took 0.3 ms. A member's pidfd becomes
    /// readable the moment it has exited, which is after it left the cgroup. So
    /// this waits for each member's pidfd in turn, with `cgroup.events` in the
    /// same `poll`, and then reads `populated` again; only if something it did not
    /// see is still there (forked while the members were read) does it wait for
    /// the notification alone. The pidfds are only a reason to look again early:
    /// the answer is always `cgroup.events`, so a missed member or a PID recycled
    /// by a stranger costs time, never correctness.
    fn wait(&mut self, timeout: Option<Duration>, stall: Option<Duration>) -> io::Result<Emptied> {
        let end = timeout.map(|t| Instant::now() + t);
        // The end of this wait: the deadline, or the stall limit from `since`.
        let bound = |since: Instant| -> (Option<Duration>, bool) {
            let now = Instant::now();
            let left = end.map(|e| e.saturating_duration_since(now));
            match stall.map(|s| (since + s).saturating_duration_since(now)) {
                Some(s) if left.is_none_or(|l| s < l) => (Some(s), true),
                _ => (left, false),
            }
        };
        let over = |this: &mut Leaf, stalled: bool| -> io::Result<Emptied> {
            Ok(if !populated(&mut this.events)? {
                Emptied::Empty
            } else if stalled {
                Emptied::Stalled
            } else {
                Emptied::TimedOut
            })
        };
        for pid in self.members()? {
            // Gone already (ESRCH), or no pidfds: the notification still comes.
            let Ok(member) = PidFd::open(pid) else {
                continue;
            };
            let since = Instant::now();
            loop {
                let (limit, is_stall) = bound(since);
                let mut fds = [
                    PollFd::new(member.as_fd(), libc::POLLIN),
                    PollFd::new(self.events.as_fd(), libc::POLLPRI),
                ];
                let timed_out = poll(&mut fds, limit)? == 0;
                let (exited, changed) = (fds[0].ready(), fds[1].ready());
                if timed_out {
                    return over(self, is_stall);
                }
                if changed && !populated(&mut self.events)? {
                    return Ok(Emptied::Empty);
                }
                if exited {
                    break;
                }
            }
        }
        let since = Instant::now();
        loop {
            if !populated(&mut self.events)? {
                return Ok(Emptied::Empty);
            }
            let (limit, is_stall) = bound(since);
            if limit == Some(Duration::ZERO) {
                return over(self, is_stall);
            }
            let mut fds = [PollFd::new(self.events.as_fd(), libc::POLLPRI)];
            if poll(&mut fds, limit)? == 0 {
                return over(self, is_stall);
            }
        }
    }

    /// Reaps this process's children that died in the subtree: a tree process
    /// made with `clone(CLONE_PARENT)` by the leader is a child of the host (the
    /// leader's parent), and nobody else may reap it. `skip`: the leader (reaped
    /// on its own). Call once the subtree is empty. Returns how many it reaped.
    ///
    /// Safe in a host with children of its own: a child is reaped only through a
    /// pidfd opened on it and only if its cgroup (a zombie still shows it) is the
    /// leaf or below.
    pub(crate) fn reap_own_children(&self, skip: i32) -> u64 {
        use crate::sys::wait::{WaitFlags, Who, wait_exit};
        let Ok(children) = crate::shim::reaper::own_children() else {
            return 0;
        };
        let mut n = 0;
        for pid in children.into_iter().filter(|&p| p != skip) {
            let Ok(fd) = PidFd::open(pid) else { continue };
            if !self.contains(pid) {
                continue;
            }
            if let Ok(Some(_)) = wait_exit(Who::PidFd(fd.as_fd()), WaitFlags::REAP_NOHANG) {
                n += 1;
            }
        }
        n
    }

    /// Removes the subtree, deepest cgroup first (the tree's own cgroups too); it
    /// must be empty. A leaf whose path no longer names this directory (removed
    /// by someone, another cgroup now has the name) counts as removed.
    pub(crate) fn remove(&mut self) -> io::Result<()> {
        if self.removed {
            return Ok(());
        }
        let held = rustix::fs::fstat(&self.fd)?;
        match rustix::fs::stat(&self.dir) {
            Ok(named) if (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino) => {}
            Ok(_) | Err(rustix::io::Errno::NOENT) => {
                self.removed = true;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        let mut cgroups = self.cgroups();
        cgroups.reverse();
        for cg in cgroups {
            match std::fs::remove_dir(&cg) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.removed = true;
        Ok(())
    }

    /// Removes the subtree if it is still there; if it is still populated (a
    /// failed teardown), kills it, waits up to a second and tries again. What
    /// dropping a leaf does.
    pub(crate) fn clean_up(&mut self) {
        if self.removed {
            return;
        }
        if self.remove().is_err() && self.kill_all(Some(Duration::from_secs(1)), true).is_ok() {
            let _ = self.remove();
        }
    }
}

impl Drop for Leaf {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// How a wait for the subtree to empty ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Emptied {
    /// `populated 0`.
    Empty,
    /// The timeout passed.
    TimedOut,
    /// A member did not exit within the stall limit.
    Stalled,
}

/// The numbers in a `cgroup.procs` or `cgroup.threads` file.
fn read_ids(path: &Path) -> io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// The process a thread belongs to (`Tgid:` in `/proc/<tid>/status`).
fn tgid_of(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))?
        .trim()
        .parse()
        .ok()
}

fn populated(events: &mut File) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    events.seek(SeekFrom::Start(0))?;
    let n = events.read(&mut buf)?;
    let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
    Ok(!text.lines().any(|l| l.trim() == "populated 0"))
}
