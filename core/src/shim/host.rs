//! The host side of a shim method: spawns the shim in place of the command and
//! talks to it.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::process::ShimProc;
use super::protocol::{Event, LineReader, LineWriter, Next, Request, TeardownRequest};
use super::server::ShimSides;
use super::setup::PIPED_IN_FORKED_SHIM;
use crate::driver::{Drained, Driver, Wait};
use crate::fds::pipe_cloexec;
use crate::options::{SpawnOptions, TeardownOptions};
use crate::pidfd::PidFd;
use crate::sys::exec::{ExecImage, exec_instead};
use crate::sys::fork::{Forked, fork_single_threaded, run_forked};
use crate::sys::wait::RawStatus;
use crate::waiter::{Blocking, BoxFuture, Waiter, block};
use crate::{DrainReport, Method, SpawnError, TeardownError};

/// A tree contained by a shim process.
pub(crate) struct ShimTree {
    shim: ShimProc,
    ctl: Option<LineWriter>,
    evt: LineReader,
    leader_pid: u32,
    leader: Option<RawStatus>,
    /// Set when the shim has exited: the stored outcome for repeated calls.
    finished: Option<Finished>,
    /// The cgroup leaf the shim put the tree in (`pidns`), which the shim removes
    /// itself; this process does if the shim died without a drained report.
    leaf: Option<std::path::PathBuf>,
    /// A pidfd on the shim, to wait for its exit without blocking.
    shim_fd: Option<PidFd>,
    /// The teardown request went out (a resumed teardown does not send another).
    requested: bool,
    /// The shim's exit status once reaped.
    shim_status: Option<String>,
}

#[derive(Clone, Debug)]
enum Finished {
    Drained(Drained),
    Deadline(Duration, usize),
    Broken(String),
}

impl ShimTree {
    /// Spawns the shim for `cmd` (forks it with [`SpawnOptions::forked_shim`],
    /// running `sides` there).
    pub(crate) fn spawn(
        method: Method,
        cmd: &mut Command,
        opts: &SpawnOptions,
        sides: &ShimSides,
    ) -> Result<ShimTree, SpawnError> {
        if matches!(method, Method::Subreaper | Method::ProcWalk)
            && let Some(reason) = crate::shim::kernel::foreign_proc()
        {
            return Err(SpawnError::Unsupported { method, reason });
        }
        if opts.forked_shim {
            return Self::fork(method, cmd, sides);
        }
        let (shim_path, lead) = super::locate(opts.shim.as_ref())
            .map_err(|reason| SpawnError::Unsupported { method, reason })?;
        let (ctl_r, ctl_w) =
            pipe_cloexec().map_err(SpawnError::setup("the shim's control pipe"))?;
        let (evt_r, evt_w) = pipe_cloexec().map_err(SpawnError::setup("the shim's event pipe"))?;

        let mut argv = vec![cstring(shim_path.as_os_str())?];
        for a in &lead {
            argv.push(cstring(OsStr::new(a))?);
        }
        argv.push(cstring(OsStr::new(method.name()))?);
        argv.push(cstring(OsStr::new(&ctl_r.as_raw_fd().to_string()))?);
        argv.push(cstring(OsStr::new(&evt_w.as_raw_fd().to_string()))?);
        argv.push(cstring(OsStr::new("--"))?);
        argv.push(cstring(cmd.get_program())?);
        for a in cmd.get_args() {
            argv.push(cstring(a)?);
        }
        let image = ExecImage {
            path: cstring(shim_path.as_os_str())?,
            argv,
            envp: environment(cmd, opts.clear_env)?,
        };
        let hook = exec_instead(cmd, image, vec![ctl_r.as_raw_fd(), evt_w.as_raw_fd()]);
        let started = Self::start(cmd, method, &shim_path, (ctl_r, ctl_w), (evt_r, evt_w));
        if started.is_err() {
            // The command may be spawned again (`auto` tries its next method):
            // the hook must not exec this shim, with these closed pipes, then.
            hook.disarm();
        }
        started
    }

    /// Forks the shim: the child runs the method's shim side with its copy of
    /// `cmd` and exits; this side reads its events as [`ShimTree::start`] does.
    fn fork(method: Method, cmd: &mut Command, sides: &ShimSides) -> Result<ShimTree, SpawnError> {
        let (ctl_r, ctl_w) =
            pipe_cloexec().map_err(SpawnError::setup("the shim's control pipe"))?;
        let (evt_r, evt_w) = pipe_cloexec().map_err(SpawnError::setup("the shim's event pipe"))?;
        match fork_single_threaded() {
            Ok(Forked::Child) => {
                // The host's ends must close with the host: the shim tears the
                // tree down on its control pipe's end of file.
                drop((ctl_w, evt_r));
                let command = std::mem::replace(cmd, Command::new(""));
                run_forked(|| super::server::main_forked(method, ctl_r, evt_w, command, sides));
            }
            Ok(Forked::Parent(pid)) => {
                drop((ctl_r, evt_w));
                Self::events_until_ready(cmd, method, ShimProc::Forked(pid), ctl_w, evt_r, "")
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Err(SpawnError::Unsupported {
                method,
                reason: "SpawnOptions::forked_shim needs a single-threaded process, and this one \
                         has more than one thread (leave forked_shim off to exec the shim program)"
                    .to_owned(),
            }),
            Err(e) => Err(SpawnError::setup("fork the shim")(e)),
        }
    }

    /// Spawns `cmd` (which execs the shim) and reads the shim's events until it
    /// reports the leader spawned, or why not.
    fn start(
        cmd: &mut Command,
        method: Method,
        shim_path: &std::path::Path,
        (ctl_r, ctl_w): (OwnedFd, OwnedFd),
        (evt_r, evt_w): (OwnedFd, OwnedFd),
    ) -> Result<ShimTree, SpawnError> {
        let shim = cmd
            .spawn()
            .map_err(SpawnError::spawn(format!("shim {}", shim_path.display())))?;
        drop(ctl_r);
        drop(evt_w);
        let path = shim_path.display().to_string();
        Self::events_until_ready(cmd, method, ShimProc::Spawned(shim), ctl_w, evt_r, &path)
    }

    /// Reads the new shim's events until it reports the leader spawned, or why
    /// not. `path`: the shim program, for errors (empty: a forked shim).
    fn events_until_ready(
        cmd: &Command,
        method: Method,
        shim: ShimProc,
        ctl_w: OwnedFd,
        evt_r: OwnedFd,
        path: &str,
    ) -> Result<ShimTree, SpawnError> {
        let forked = matches!(shim, ShimProc::Forked(_));
        let mut tree = ShimTree {
            shim,
            ctl: Some(LineWriter::new(ctl_w)),
            evt: LineReader::new(evt_r),
            leader_pid: 0,
            leader: None,
            finished: None,
            leaf: None,
            shim_fd: None,
            requested: false,
            shim_status: None,
        };
        tree.shim_fd = PidFd::open(tree.shim.pid()).ok();
        loop {
            let failure = match tree.evt.next(None) {
                Ok(Next::Line(l)) => match Event::parse(&l) {
                    Some(Event::Ready(pid)) => {
                        tree.leader_pid = pid as u32;
                        return Ok(tree);
                    }
                    Some(Event::Leaf(path)) => {
                        tree.leaf = Some(path.into());
                        continue;
                    }
                    Some(Event::SpawnFailed(errno)) => SpawnError::Spawn {
                        what: if forked && errno == PIPED_IN_FORKED_SHIM {
                            format!(
                                "{:?} with Stdio::piped() from a forked shim (the pipes would \
                                 be the shim's: use pipes of your own, or leave forked_shim off)",
                                cmd.get_program()
                            )
                        } else {
                            format!("{:?}", cmd.get_program())
                        },
                        source: io::Error::from_raw_os_error(errno),
                    },
                    // Sent only before the shim forks anything that could run the
                    // command (`pidns`: no namespace; the others: no subreaper):
                    // `auto` moves on to its next method on it.
                    Some(Event::Unsupported(reason)) => SpawnError::Unsupported { method, reason },
                    Some(Event::Failed(errno, what)) => SpawnError::Setup {
                        what,
                        source: io::Error::from_raw_os_error(errno),
                    },
                    _ => continue,
                },
                Ok(Next::Timeout) => continue,
                Ok(Next::Eof) => SpawnError::Setup {
                    what: if forked {
                        "the forked shim".to_owned()
                    } else {
                        format!("the shim {path}")
                    },
                    source: io::Error::other("it exited before reporting ready"),
                },
                Err(e) => SpawnError::Setup {
                    what: "reading the shim's events".into(),
                    source: e,
                },
            };
            tree.ctl = None;
            tree.shim.wait();
            tree.finished = Some(Finished::Broken("spawn failed".into()));
            tree.clean_up_leaf();
            return Err(failure);
        }
    }

    /// After the shim died without removing its leaf: kills what is in it and
    /// removes it, as the shim would have (the namespace is gone with the init's
    /// parent-death signal; this takes whatever a root tree moved in, and the
    /// cgroups the tree made).
    fn clean_up_leaf(&mut self) {
        block(self.clean_up_leaf_on(&Blocking))
    }

    /// [`ShimTree::clean_up_leaf`], waiting through `w`.
    async fn clean_up_leaf_on(&mut self, w: &dyn Waiter) {
        let Some(path) = self.leaf.take() else { return };
        let dir = rustix::fs::open(
            &path,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        );
        // Gone already: the shim removed it.
        if let Ok(dir) = dir
            && let Ok(mut leaf) = crate::cgroup2::Leaf::adopt(dir, &path)
        {
            leaf.clean_up_on(w).await;
        }
    }

    /// Waits (through `w`) for the shim to exit, reaps it, and says how it exited.
    async fn reap_shim(&mut self, w: &dyn Waiter) -> String {
        if let Some(s) = &self.shim_status {
            return s.clone();
        }
        if let Some(fd) = &self.shim_fd {
            let _ = fd.wait_exited_on(None, w).await;
        }
        let status = self.shim.wait();
        self.shim_status = Some(status.clone());
        status
    }

    async fn shim_gone(&mut self, during: &str, w: &dyn Waiter) -> Finished {
        self.ctl = None;
        let status = self.reap_shim(w).await;
        Finished::Broken(format!("the shim exited {during} ({status})"))
    }

    /// The next line from the shim, waiting through `w` up to `end`. Cancelled
    /// midway, it has consumed nothing.
    async fn next_event(&mut self, end: Option<Instant>, w: &dyn Waiter) -> io::Result<Next> {
        self.evt.next_on(end, w).await
    }

    async fn wait_leader_on(
        &mut self,
        wait: Wait,
        w: &dyn Waiter,
    ) -> io::Result<Option<RawStatus>> {
        if self.leader.is_some() || self.finished.is_some() {
            return Ok(self.leader);
        }
        let end = wait.end();
        loop {
            match self.next_event(end, w).await? {
                Next::Line(l) => {
                    if let Some(Event::LeaderExited(s)) = Event::parse(&l) {
                        self.leader = Some(s);
                        return Ok(Some(s));
                    }
                }
                Next::Timeout => return Ok(None),
                Next::Eof => {
                    let f = self.shim_gone("while the leader ran", w).await;
                    self.finished = Some(f);
                    return Err(io::Error::other("the shim exited while the leader ran"));
                }
            }
        }
    }

    async fn teardown_on(
        &mut self,
        opts: TeardownOptions,
        w: &dyn Waiter,
    ) -> Result<Drained, TeardownError> {
        if self.finished.is_none() {
            if !self.requested
                && let Some(ctl) = &mut self.ctl
            {
                let req = TeardownRequest {
                    grace: opts.grace,
                    deadline: opts.deadline,
                };
                // If the shim is gone the write fails; whatever it said is still
                // in the event pipe, read below.
                let _ = ctl.send(&Request::Teardown(req).encode());
            }
            self.requested = true;
            let f = self.read_outcome(w).await;
            if !matches!(f, Finished::Drained(_)) {
                self.clean_up_leaf_on(w).await;
            }
            self.finished = Some(f);
        }
        self.reap_shim(w).await;
        Self::outcome(self.finished.as_ref().expect("finished above"))
    }

    /// Reads the shim's events until its teardown outcome.
    async fn read_outcome(&mut self, w: &dyn Waiter) -> Finished {
        loop {
            let line = match self.next_event(None, w).await {
                Ok(Next::Line(l)) => l,
                Ok(Next::Timeout) => continue,
                Ok(Next::Eof) => return self.shim_gone("during teardown", w).await,
                Err(e) => return Finished::Broken(format!("reading the shim's events: {e}")),
            };
            let f = match Event::parse(&line) {
                Some(Event::LeaderExited(s)) => {
                    self.leader = Some(s);
                    continue;
                }
                Some(Event::Drained(json)) => match serde_json::from_str::<DrainReport>(&json) {
                    Ok(r) => Finished::Drained(Drained {
                        signalled: r.signalled,
                        reaped: r.reaped,
                        rounds: r.rounds,
                        escalated: r.escalated,
                        drain: r.drain,
                        leader: self.leader,
                    }),
                    Err(e) => Finished::Broken(format!("the shim sent a bad report: {e}")),
                },
                Some(Event::Deadline(us, alive)) => {
                    Finished::Deadline(Duration::from_micros(us), alive as usize)
                }
                Some(Event::Failed(errno, what)) => {
                    let e = io::Error::from_raw_os_error(errno);
                    Finished::Broken(format!("the shim failed to {what}: {e}"))
                }
                _ => continue,
            };
            // The shim exits after its outcome: it is reaped by the caller.
            self.ctl = None;
            return f;
        }
    }

    fn outcome(f: &Finished) -> Result<Drained, TeardownError> {
        match f {
            Finished::Drained(d) => Ok(d.clone()),
            Finished::Deadline(elapsed, alive) => Err(TeardownError::Deadline {
                elapsed: *elapsed,
                alive: *alive,
            }),
            Finished::Broken(what) => Err(TeardownError::Io {
                what: what.clone(),
                source: io::Error::from(io::ErrorKind::BrokenPipe),
            }),
        }
    }
}

impl Drop for ShimTree {
    fn drop(&mut self) {
        // `Tree`'s drop has tried a teardown; the shim removed its leaf unless it
        // died first.
        if !matches!(self.finished, Some(Finished::Drained(_))) {
            self.clean_up_leaf();
        }
    }
}

impl Driver for ShimTree {
    fn leader_pid(&self) -> u32 {
        self.leader_pid
    }

    fn signal_leader(&mut self, sig: i32) -> io::Result<bool> {
        if self.leader.is_some() || self.finished.is_some() {
            return Ok(false);
        }
        match &mut self.ctl {
            // Never blocks: a shim stopped by its tree must not stall the host
            // (a runtime thread, for the tokio front) that forwards signals.
            Some(ctl) => ctl.try_send(&Request::Signal(sig).encode()).map(|()| true),
            None => Ok(false),
        }
    }

    fn child(&mut self) -> Option<&mut Child> {
        match &mut self.shim {
            ShimProc::Spawned(c) => Some(c),
            ShimProc::Forked(_) => None,
        }
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

fn cstring(s: &OsStr) -> Result<CString, SpawnError> {
    CString::new(s.as_bytes()).map_err(|_| SpawnError::Spawn {
        what: format!("{s:?}"),
        source: io::Error::new(io::ErrorKind::InvalidInput, "argument contains a NUL byte"),
    })
}

/// The environment the command would get: this process's (unless `clear`), with
/// the command's `env`/`env_remove` applied.
fn environment(cmd: &Command, clear: bool) -> Result<Vec<CString>, SpawnError> {
    let mut env: BTreeMap<OsString, OsString> = if clear {
        BTreeMap::new()
    } else {
        std::env::vars_os().collect()
    };
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => env.insert(k.to_owned(), v.to_owned()),
            None => env.remove(k),
        };
    }
    env.into_iter()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            cstring(OsStr::from_bytes(&kv))
        })
        .collect()
}
