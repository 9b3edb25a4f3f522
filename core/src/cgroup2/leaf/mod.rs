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
//! Killing the subtree, and waiting for it to empty, is [`kill`].

mod kill;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustix::fs::{Mode, OFlags};

use crate::sys::proc_text;
use crate::waiter::{Blocking, Waiter, block};

use super::{is_cgroup2_dir, own_dir, rel_path};

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
    /// `cgroup.procs`, open for writing (a child writes "0" to join before
    /// exec), and `cgroup.events`: opened when first needed (`pidns` needs
    /// neither unless its teardown must kill the leaf; each open is ~1 % of a
    /// `teardown run`).
    procs: OnceLock<File>,
    events: OnceLock<File>,
    /// Where a host the tree moved into the leaf goes back to.
    home: Option<PathBuf>,
    removed: bool,
    /// Every member PID a read of the subtree found (see [`Leaf::wait_exited_on`]).
    seen: std::sync::Mutex<std::collections::BTreeSet<i32>>,
}

static NEXT_LEAF: AtomicU64 = AtomicU64::new(0);

/// `teardown-<pid-namespace inode>-<pid>-<n>`: a PID alone repeats in every PID
/// namespace (PID 3 in each container), the namespace's inode does not.
fn leaf_name(n: u64) -> String {
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;
    // The namespace of a PID does not change: looked up once per PID (a forked
    // copy, maybe in another namespace, has another PID).
    static NS: Mutex<(u32, u64)> = Mutex::new((0, 0));
    let pid = std::process::id();
    let mut cached = NS.lock().unwrap_or_else(|e| e.into_inner());
    if cached.0 != pid {
        let ns = std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino());
        *cached = (pid, ns);
    }
    format!("teardown-{}-{pid}-{n}", cached.1)
}

fn open_in(dir: BorrowedFd<'_>, name: &str, flags: OFlags) -> io::Result<File> {
    let fd = rustix::fs::openat(dir, name, flags | OFlags::CLOEXEC, Mode::empty())?;
    Ok(File::from(fd))
}

/// The file in `cell`, opened by `open` the first time.
fn once_open(cell: &OnceLock<File>, open: impl FnOnce() -> io::Result<File>) -> io::Result<&File> {
    if let Some(f) = cell.get() {
        return Ok(f);
    }
    let f = open()?;
    Ok(cell.get_or_init(|| f))
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
        Leaf::create_with_home(parent, None)
    }

    /// [`Leaf::create`] under this process's own cgroup `own` (as
    /// [`own_dir`] found it), which is also where the host goes back to if the
    /// tree moves it in: saves reading it again.
    pub(crate) fn create_in_own(own: &Path) -> Result<Leaf, LeafError> {
        Leaf::create_with_home(own, Some(own.to_path_buf()))
    }

    fn create_with_home(parent: &Path, home: Option<PathBuf>) -> Result<Leaf, LeafError> {
        // One `statfs` in the common case; only a failure asks which failure.
        let cgroup2 = is_cgroup2_dir(parent);
        if !cgroup2 && !parent.is_dir() {
            return Err(LeafError::Unsupported(format!(
                "cgroup parent {} does not exist (pass an existing cgroup2 directory)",
                parent.display()
            )));
        }
        if !cgroup2 {
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
                                "cannot create a cgroup under {}: {e} (run as root, or delegate a writable cgroup2 subtree and pass it as cgroup_parent; there a tree of the same uid can move itself out of its cgroup, so without root prefer pidns)",
                                parent.display()
                            ))
                        }
                        // A file on the cgroup2 file system passes the `statfs` above.
                        Some(libc::ENOTDIR | libc::ENOENT) => LeafError::Unsupported(format!(
                            "cgroup parent {} does not exist (pass an existing cgroup2 directory)",
                            parent.display()
                        )),
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
        let leaf = Leaf::with(dir, fd, home);
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
        Ok(leaf)
    }

    /// A leaf made earlier (by this process's shim, or by the host of a watchdog),
    /// known by its open directory `fd` and its `path`: for killing and removing
    /// it. Removal checks that `path` still names that directory.
    /// Fails (ENOENT, ENODEV) if the leaf is gone already: its `cgroup.events`
    /// is opened here.
    pub(crate) fn adopt(fd: OwnedFd, path: &Path) -> io::Result<Leaf> {
        let leaf = Leaf::with(path.to_path_buf(), fd, None);
        leaf.events()?;
        Ok(leaf)
    }

    /// `home`: where the host goes back to if the tree moves it in; `None`: its
    /// cgroup now, read here.
    fn with(dir: PathBuf, fd: OwnedFd, home: Option<PathBuf>) -> Leaf {
        let rel = rel_path(&dir);
        let mut leaf = Leaf {
            dir,
            rel,
            fd,
            procs: OnceLock::new(),
            events: OnceLock::new(),
            home: None,
            removed: false,
            seen: Default::default(),
        };
        // Where the host goes back to if the tree moves it in: its cgroup now,
        // or (already inside) the leaf's parent.
        leaf.home = home
            .or_else(|| own_dir().ok())
            .filter(|d| !d.starts_with(&leaf.dir))
            .or_else(|| leaf.dir.parent().map(Path::to_path_buf));
        leaf
    }

    /// The open `cgroup.procs` (writing "0" to it moves the writer in).
    pub(crate) fn procs_fd(&self) -> io::Result<RawFd> {
        once_open(&self.procs, || {
            OpenOptions::new()
                .write(true)
                .open(self.dir.join("cgroup.procs"))
        })
        .map(AsRawFd::as_raw_fd)
    }

    /// The open `cgroup.events`, for `populated`.
    pub(crate) fn events(&self) -> io::Result<&File> {
        once_open(&self.events, || {
            open_in(self.fd.as_fd(), "cgroup.events", OFlags::RDONLY)
        })
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

    /// Whether process `pid`, of pidfd `fd`, is in the leaf or below it
    /// (`/proc/<pid>/cgroup`; a zombie still shows the cgroup it died in). Under
    /// a `/proc` of an outer PID namespace, where `pid` names another process or
    /// none, the pidfd says which PID `/proc` gives it.
    pub(crate) fn contains(&self, pid: i32, fd: BorrowedFd<'_>) -> bool {
        let Some(pid) = proc_text::pid_in_proc(pid, fd) else {
            return false;
        };
        self.holds(format!("/proc/{pid}/cgroup"))
    }

    /// Whether this process is in the leaf or below it (a tree can move it in).
    pub(crate) fn holds_self(&self) -> bool {
        self.holds("/proc/self/cgroup".to_owned())
    }

    /// Whether the `/proc/<pid>/cgroup` file at `path` names the leaf or below.
    fn holds(&self, path: String) -> bool {
        // Bytes: a root tree can name its cgroups with bytes that are not UTF-8.
        let Ok(text) = proc_text::read(path) else {
            return false;
        };
        let rel = self.rel.as_bytes();
        proc_text::unified_cgroup(&text).is_some_and(|p| {
            p == rel
                || p.strip_prefix(rel)
                    .is_some_and(|rest| rest.starts_with(b"/"))
        })
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

    /// Removes the leaf if it is empty and has no cgroup below it (one `rmdir`,
    /// which the kernel refuses with `EBUSY` otherwise). True if removed; on
    /// false nothing changed. An `rmdir` that succeeds is itself the proof that
    /// no process was left in the leaf. Not if the path names another directory
    /// now (a root tree can rename cgroups): [`Leaf::remove`] sorts that out.
    pub(crate) fn remove_if_empty(&mut self) -> bool {
        if self.removed {
            return true;
        }
        let same = match (rustix::fs::fstat(&self.fd), rustix::fs::stat(&self.dir)) {
            (Ok(held), Ok(named)) => (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino),
            _ => false,
        };
        if same
            && rustix::fs::unlinkat(rustix::fs::CWD, &self.dir, rustix::fs::AtFlags::REMOVEDIR)
                .is_ok()
        {
            self.removed = true;
        }
        self.removed
    }

    /// Removes the subtree if it is still there; if it is still populated (a
    /// failed teardown), kills it, waits up to a second and tries again. What
    /// dropping a leaf does.
    pub(crate) fn clean_up(&mut self) {
        block(self.clean_up_on(&Blocking))
    }

    /// [`Leaf::clean_up`], waiting through `w`.
    pub(crate) async fn clean_up_on(&mut self, w: &dyn Waiter) {
        if self.removed {
            return;
        }
        if self.remove().is_err()
            && self
                .kill_all_on(Some(Duration::from_secs(1)), true, w)
                .await
                .is_ok()
        {
            let _ = self.remove();
        }
    }
}

impl Drop for Leaf {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// The numbers in a `cgroup.procs` or `cgroup.threads` file.
fn read_ids(path: &Path) -> io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// The process a thread belongs to (`Tgid:` in `/proc/<tid>/status`).
fn tgid_of(tid: i32) -> Option<i32> {
    // Bytes: the thread's name may not be UTF-8.
    let status = proc_text::read(format!("/proc/{tid}/status")).ok()?;
    proc_text::status_field(&status, "Tgid:")?.parse().ok()
}
