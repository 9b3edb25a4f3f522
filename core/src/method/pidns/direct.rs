//! `pidns` with no shim process: the host is the outer side itself.
//!
//! A single-threaded host that asked for a forked shim
//! ([`crate::SpawnOptions::forked_shim`], as `teardown run` does) has no use
//! for a shim between itself and the init: it can fork the init straight into
//! the new namespace (`clone3(CLONE_NEWPID | CLONE_INTO_CGROUP)`, which leaves
//! its own later children where they were) and do what the outer shim does —
//! find the leader's PID, relay nothing, SIGKILL the init at teardown, reap it,
//! remove the leaf — in the [`Driver`] below, through the [`Waiter`] like every
//! method. One process and two message hops fewer per tree than
//! [`super::run_outer`]; the init is the same code ([`super::init`]), and what
//! holds the tree is the same: a PID namespace nothing leaves, whose init the
//! tree cannot signal, and a host it cannot name.
//!
//! One difference: the outer shim outlives a SIGKILLed host and removes the
//! leaf; here the host is the outer. So the init does not die with its parent
//! (`PR_SET_PDEATHSIG`) but notices: at end of file on its command pipe (the
//! host's end closes when the host dies) it SIGKILLs the namespace, reaps it
//! empty, moves itself out of the leaf into the leaf's parent, removes the
//! leaf, and exits.
//!
//! Without root the namespace is owned by a new user namespace made in the
//! same `clone3` (`CLONE_NEWUSER`), and the init waits for the host to write
//! its identity uid and gid maps (`mapped`) before it spawns anything; and a
//! host whose user can make a leaf (a delegated cgroup) keeps the shim, since
//! the tree could freeze the leaf with the init in it (see [`spawn`]).

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::AsFd;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::{InitInProc, direct_init};
use crate::cgroup2::{Leaf, own_dir};
use crate::driver::{Drained, Driver, Wait};
use crate::fds::pipe_cloexec;
use crate::options::{DROP_DEADLINE, SpawnOptions, TeardownOptions};
use crate::pidfd::PidFd;
use crate::shim::protocol::{LineReader, LineWriter, Next};
use crate::shim::setup::PIPED_IN_FORKED_SHIM;
use crate::sys::fork::{Forked, fork_into_new_pid_namespace, run_forked};
use crate::sys::signal::kill_child;
use crate::sys::wait::{RawStatus, WaitFlags, Who, killed_by, wait_exit};
use crate::waiter::{BoxFuture, Waiter};
use crate::{Method, SpawnError, TeardownError};

/// The host side of a shim-less `pidns` tree.
struct Direct {
    init: i32,
    init_fd: PidFd,
    /// The init's events: `exited <status>`, `empty`, `busy`.
    ievt: LineReader,
    /// Commands to the init: `go`, `term`, `probe`, `signal <n>`.
    icmd: LineWriter,
    leaf: Option<Leaf>,
    leader_pid: u32,
    leader: Option<RawStatus>,
    /// The init said nothing of the namespace runs but the leader's zombie.
    empty: bool,
    /// The teardown's outcome, for repeated calls: drained, or why not.
    finished: Option<Result<Drained, String>>,
    /// The init has been reaped.
    reaped: bool,
}

/// Spawns `cmd` under `pidns` with the host as the outer side, if it asked for
/// a forked shim (a single-threaded host); `Ok(None)`: use the shim.
pub(crate) fn spawn(
    cmd: &mut Command,
    opts: &SpawnOptions,
) -> Result<Option<Box<dyn Driver>>, SpawnError> {
    if !opts.forked_shim {
        return Ok(None);
    }
    let (uid, gid) = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    let user = uid != 0;
    let (ievt_r, ievt_w) = pipe_cloexec().map_err(SpawnError::setup("the init's event pipe"))?;
    let (icmd_r, icmd_w) = pipe_cloexec().map_err(SpawnError::setup("the init's command pipe"))?;
    // As the outer shim: a leaf under this process's own cgroup when cgroup2 is
    // writable; without one the namespace alone holds the tree.
    let leaf = own_dir()
        .ok()
        .and_then(|dir| Leaf::create_in_own(&dir).ok());
    // A leaf this user can make is one the tree (the same user) can freeze,
    // itself and the init with it; if the host then dies, no outer process is
    // left to SIGKILL the init (which a freeze does not stop) and the tree
    // lives on, frozen. So without root, a leaf means the shim, which lives
    // outside the leaf. (A root tree can freeze its leaf too: outside the
    // threat model, like its writing any cgroup; README, Limitations.)
    if user && leaf.is_some() {
        return Ok(None);
    }
    let init = match fork_into_new_pid_namespace(leaf.as_ref().map(Leaf::dir_fd), user) {
        Ok(Forked::Child) => {
            drop((ievt_r, icmd_w));
            // The copy of the leaf is the host's: never dropped here (its drop
            // would kill the leaf, and this process is in it).
            let mut leaf = ManuallyDrop::new(leaf);
            run_forked(|| direct_init::run(cmd, &mut leaf, user, ievt_w, icmd_r));
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            return Err(SpawnError::Unsupported {
                method: Method::Pidns,
                reason: "SpawnOptions::forked_shim needs a single-threaded process, and this \
                         one has more than one thread (leave forked_shim off to exec the shim \
                         program)"
                    .to_owned(),
            });
        }
        Err(e) => {
            return Err(SpawnError::Unsupported {
                method: Method::Pidns,
                reason: if user {
                    format!(
                        "cannot create a user and PID namespace: {e} (run as root, or allow \
                         unprivileged user namespaces: sysctl user.max_user_namespaces > 0)"
                    )
                } else {
                    format!(
                        "cannot create a PID namespace: {e} (a seccomp profile or container \
                         may forbid unshare)"
                    )
                },
            });
        }
    };
    drop((ievt_w, icmd_r));
    let program = format!("{:?}", cmd.get_program());
    let init_fd = match PidFd::open(init) {
        Ok(fd) => fd,
        Err(e) => {
            kill_and_reap(init);
            return Err(SpawnError::setup("a pidfd on the init")(e));
        }
    };
    let mut tree = Direct {
        init,
        init_fd,
        ievt: LineReader::new(ievt_r),
        icmd: LineWriter::new(icmd_w),
        leaf,
        leader_pid: 0,
        leader: None,
        empty: false,
        finished: None,
        reaped: false,
    };
    // The init as `/proc` shows it (`/proc` may be an outer namespace's).
    let Some(in_proc) = InitInProc::find(init, tree.init_fd.as_fd()) else {
        tree.end_init();
        return Err(SpawnError::Setup {
            what: "the init in /proc".to_owned(),
            source: io::Error::from_raw_os_error(libc::ESRCH),
        });
    };
    if user {
        // Before anything runs in the namespace: `auto` may move on.
        if let Err(reason) = direct_init::write_maps(in_proc.pid, uid, gid) {
            tree.end_init();
            return Err(SpawnError::Unsupported {
                method: Method::Pidns,
                reason,
            });
        }
        let _ = tree.icmd.send("mapped\n");
    }
    // The init reports the leader's spawn and reaps nothing until "go": the
    // leader is still its only child, and its children list names it.
    let failure = match tree.ievt.next(None) {
        Ok(Next::Line(l)) if l.starts_with("spawned") => None,
        Ok(Next::Line(l)) if l.starts_with("spawn-failed") => {
            let errno = l
                .split(' ')
                .nth(1)
                .and_then(|e| e.parse().ok())
                .unwrap_or(libc::EIO);
            Some(SpawnError::Spawn {
                what: if errno == PIPED_IN_FORKED_SHIM {
                    format!(
                        "{program} with Stdio::piped() from a forked shim (the pipes would be \
                         the init's: use pipes of your own, or leave forked_shim off)"
                    )
                } else {
                    program
                },
                source: io::Error::from_raw_os_error(errno),
            })
        }
        other => Some(SpawnError::Setup {
            what: "the namespace's init".to_owned(),
            source: io::Error::other(format!("it did not start the leader: {other:?}")),
        }),
    };
    if let Some(e) = failure {
        tree.end_init();
        return Err(e);
    }
    let leader = in_proc.leader_pid().and_then(|p| u32::try_from(p).ok());
    let Some(leader) = leader else {
        tree.end_init();
        return Err(SpawnError::Setup {
            what: "the leader's PID".to_owned(),
            source: io::Error::from_raw_os_error(libc::ESRCH),
        });
    };
    tree.leader_pid = leader;
    let _ = tree.icmd.send("go\n");
    Ok(Some(Box::new(tree)))
}

fn kill_and_reap(init: i32) {
    let _ = kill_child(init, libc::SIGKILL);
    let _ = wait_exit(Who::Pid(init), WaitFlags::REAP);
}

impl Direct {
    /// SIGKILLs the init (the kernel kills the namespace) and reaps it: a
    /// spawn that failed, or a drop without a teardown.
    fn end_init(&mut self) {
        if self.reaped {
            return;
        }
        let _ = kill_child(self.init, libc::SIGKILL);
        if self
            .init_fd
            .wait_exited(Some(DROP_DEADLINE))
            .unwrap_or(false)
        {
            let _ = wait_exit(Who::Pid(self.init), WaitFlags::REAP);
            self.reaped = true;
        }
    }

    /// Takes in one line from the init.
    fn handle(&mut self, line: &str) {
        if let Some(st) = line.strip_prefix("exited ").and_then(|s| s.parse().ok()) {
            self.leader.get_or_insert(st);
        } else if line == "empty" {
            self.empty = true;
        }
    }

    /// The next line from the init, waiting through `w` up to `end`.
    async fn next_event(&mut self, end: Option<Instant>, w: &dyn Waiter) -> io::Result<Next> {
        self.ievt.next_on(end, w).await
    }

    async fn wait_leader_on(
        &mut self,
        wait: Wait,
        w: &dyn Waiter,
    ) -> io::Result<Option<RawStatus>> {
        let end = wait.end();
        while self.leader.is_none() && self.finished.is_none() {
            match self.next_event(end, w).await? {
                Next::Line(l) => self.handle(&l),
                Next::Timeout => break,
                // The init died (only SIGKILL from outside the namespace, or
                // the OOM killer, ends it), and with it the namespace: the
                // kernel's kill ended the leader.
                Next::Eof => self.leader = Some(killed_by(libc::SIGKILL)),
            }
        }
        Ok(self.leader)
    }

    async fn teardown_on(
        &mut self,
        opts: TeardownOptions,
        w: &dyn Waiter,
    ) -> Result<Drained, TeardownError> {
        match &self.finished {
            Some(Ok(d)) => return Ok(d.clone()),
            Some(Err(what)) => {
                return Err(TeardownError::Io {
                    what: what.clone(),
                    source: io::Error::other("an earlier teardown failed"),
                });
            }
            None => {}
        }
        let result = self.drain(opts, w).await;
        // A deadline missed leaves the init (or the leaf) to a later call.
        match &result {
            Ok(d) => self.finished = Some(Ok(d.clone())),
            Err(TeardownError::Io { what, source }) => {
                self.finished = Some(Err(format!("{what}: {source}")));
            }
            Err(TeardownError::Deadline { .. }) => {}
        }
        result
    }

    /// [`super::teardown_outer`] and [`super::remove_leaf`], from the host.
    async fn drain(
        &mut self,
        opts: TeardownOptions,
        w: &dyn Waiter,
    ) -> Result<Drained, TeardownError> {
        let start = Instant::now();
        let deadline = opts.deadline.map(|d| start + d);
        let mut d = Drained {
            rounds: 1,
            signalled: 1,
            ..Drained::default()
        };
        let read_err = |e| TeardownError::io("read the init's events")(e);
        // Lines read with the leader's exit and not yet taken in ("empty").
        while let Some(l) = self.ievt.pending() {
            self.handle(&l);
        }
        // `empty` before the teardown: the init said, when the leader exited,
        // that nothing else of the namespace ran; nothing can have started since.
        let running = !self.reaped && !self.init_fd.has_exited().unwrap_or(true);
        if !self.empty && running && !opts.grace.is_zero() {
            let _ = self.icmd.send("term\n");
            let grace_end = deadline.map_or(start + opts.grace, |dl| dl.min(start + opts.grace));
            while !self.empty {
                match self
                    .next_event(Some(grace_end), w)
                    .await
                    .map_err(&read_err)?
                {
                    Next::Line(l) => self.handle(&l),
                    Next::Timeout | Next::Eof => break,
                }
            }
            d.escalated = !self.empty;
            d.rounds += u64::from(d.escalated);
        } else if !self.empty && running {
            // SIGKILL at once: it reaches something of the tree unless the
            // namespace is empty but for the leader's zombie. Ask the init.
            let _ = self.icmd.send("probe\n");
            let until = Instant::now() + Duration::from_secs(1);
            d.escalated = loop {
                match self.next_event(Some(until), w).await.map_err(&read_err)? {
                    Next::Line(l) if l == "busy" => break true,
                    Next::Line(l) => {
                        self.handle(&l);
                        if self.empty {
                            break false;
                        }
                    }
                    // No answer: assume something was there (SIGKILL goes anyway).
                    Next::Timeout | Next::Eof => break true,
                }
            };
        }
        // SIGKILL the init: the kernel kills the rest of the namespace, and the
        // init exits only once the namespace is empty.
        if !self.reaped {
            match kill_child(self.init, libc::SIGKILL) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(TeardownError::io("kill the init")(e)),
            }
            let left = deadline.map(|dl| dl.saturating_duration_since(Instant::now()));
            if !self
                .init_fd
                .wait_exited_on(left, w)
                .await
                .map_err(TeardownError::io("wait for the init"))?
            {
                return Err(TeardownError::Deadline {
                    elapsed: start.elapsed(),
                    alive: 1,
                });
            }
            match wait_exit(Who::Pid(self.init), WaitFlags::REAP) {
                Ok(_) => {}
                // A host that ignores SIGCHLD has its children reaped for it.
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
                Err(e) => return Err(TeardownError::io("reap the init")(e)),
            }
            self.reaped = true;
        }
        d.reaped = 1;
        // Whatever the init said before it died.
        while let Ok(Next::Line(l)) = self.ievt.next(Some(Duration::ZERO)) {
            self.handle(&l);
        }
        let leader = *self.leader.get_or_insert(killed_by(libc::SIGKILL));
        d.leader = Some(leader);
        d.drain = start.elapsed();
        self.remove_leaf(&d, deadline, w).await?;
        Ok(d)
    }

    /// After the namespace is gone: removes the leaf (and the cgroups the tree
    /// made below it), killing first what a root tree moved in from outside.
    async fn remove_leaf(
        &mut self,
        d: &Drained,
        deadline: Option<Instant>,
        w: &dyn Waiter,
    ) -> Result<(), TeardownError> {
        let Some(leaf) = self.leaf.as_mut() else {
            return Ok(());
        };
        // Mostly empty: one `rmdir` says so (the kernel refuses it otherwise).
        // Or already gone: an init whose host it took for dead removed it.
        if leaf.remove_if_empty() || leaf.remove().is_ok() {
            return Ok(());
        }
        let left = deadline.map(|dl| dl.saturating_duration_since(Instant::now()));
        if !leaf
            .kill_all_on(left, true, w)
            .await
            .map_err(TeardownError::io("kill the cgroup leaf"))?
        {
            return Err(TeardownError::Deadline {
                elapsed: d.drain,
                alive: leaf.members().map_or(0, |m| m.len()),
            });
        }
        leaf.remove()
            .map_err(TeardownError::io("remove the cgroup leaf"))
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // `Tree`'s drop has tried a teardown; if it could not end the init, do
        // it here (the leaf's own drop then removes it).
        self.end_init();
    }
}

impl Driver for Direct {
    fn leader_pid(&self) -> u32 {
        self.leader_pid
    }

    fn child(&mut self) -> Option<&mut Child> {
        None
    }

    fn signal_leader(&mut self, sig: i32) -> io::Result<bool> {
        if self.leader.is_some() || self.finished.is_some() {
            return Ok(false);
        }
        // Never blocks: the init always reads its command pipe, but a host
        // thread that forwards signals must not stall on it regardless.
        self.icmd
            .try_send(&format!("signal {sig}\n"))
            .map(|()| true)
    }

    fn wait_leader<'a>(
        &'a mut self,
        wait: Wait,
        w: &'a dyn Waiter,
    ) -> BoxFuture<'a, io::Result<Option<RawStatus>>> {
        Box::pin(self.wait_leader_on(wait, w))
    }

    fn teardown<'a>(
        &'a mut self,
        opts: TeardownOptions,
        w: &'a dyn Waiter,
    ) -> BoxFuture<'a, Result<Drained, TeardownError>> {
        Box::pin(self.teardown_on(opts, w))
    }
}
