//! The node interpreter: `teardown node 'SPEC'` plays one spec as real processes.
//!
//! # What a node does, in order
//!
//! 1. **Traits**, in spec order: `setsid`, `setpgid`, `ignore-term|int|hup`,
//!    `block-all` (every blockable signal), `sigchld-ign`, `respawn-on-term` (a
//!    SIGTERM handler that forks a replacement and exits), `exec-fresh` (re-exec
//!    `/proc/self/exe node --id N 'REST'`, where `REST` is this node with the traits
//!    already applied removed; `respawn-on-term` and `stop` are carried over because
//!    exec resets handlers and `stop` comes later). `stop` is applied in step 4.
//! 2. **Children**, in spec order, each by its spawn kind: `fork`; `dfork` (fork, the
//!    intermediate forks the node and `_exit`s at once, so the node is orphaned; the
//!    parent reaps the intermediate); `exec` (fork + exec of `/proc/self/exe node`
//!    with the child's subtree text and node id).
//! 3. **Readiness**: the node waits until every child reported its whole subtree
//!    ready (one byte each on a per-node pipe, or EOF if a child died first), then
//!    writes its 24-byte [`record`] to the report pipe named by
//!    `TEARDOWN_REPORT_FD`, then tells its own parent. The leader's record is
//!    therefore the last one: when it arrives the whole tree is in place, and an
//!    `exit` end on any node happens only after its subtree is ready.
//! 4. `stop`: stopped (SIGTERM does not reach it until SIGCONT). Under a warden the
//!    warden sends the SIGSTOP once the tree has settled (every `exit` node dead):
//!    a node that stopped itself earlier could be killed or continued by the
//!    kernel's SIGHUP + SIGCONT to an orphaned process group with a stopped member,
//!    when an `exit` above it orphans its group, as a race decides. Standalone, the
//!    node stops itself.
//! 5. **End**: `pause` forever; `exit` (status 0); `exit-after=D`; `spin`;
//!    `zombies=N` (fork N children that `_exit` at once, never reap them, pause);
//!    `storm=N@R` (fork N pausing children at R per second, bounded by a deadline
//!    and a live cap, then pause).
//!
//! Nodes never end by themselves otherwise: the supervisor under test, or the
//! warden's safety net, ends them.
//!
//! # Signals and inheritance
//!
//! Kernel semantics are kept on purpose: an ignored signal, the blocked mask and
//! `SIGCHLD = SIG_IGN` are inherited by forked and exec'd children (that is the
//! bug class), a handler is not inherited across exec. The respawn handler is reset
//! in forked children that do not have the trait themselves. A replacement forked
//! by `respawn-on-term` carries on the original's end (it does not start children
//! again and writes no record). `setsid` in a process-group leader (a leader spawned
//! in its own group) fails with `EPERM`; like most daemons the node then carries
//! on in its group.
//!
//! # Running it by hand
//!
//! Outside a warden there is no report pipe: `teardown node` refuses (exit 2)
//! unless `--standalone` is given, in which case it plays the spec and reports
//! nothing.
//!
//! The interpreter is single-threaded and forks without exec; it checks that it has
//! one thread before the first fork (see [`crate::sys`]).

pub mod record;

use std::convert::Infallible;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use rustix::io::FdFlags;

use crate::spec::{End, NodeSpec, SpawnKind, Trait, TreeSpec};
use crate::sys::{self, Forked};
use crate::trial::NodeRecord;

/// A fork storm never has more live children than this, whatever the spec says.
pub const STORM_LIVE_CAP: u32 = 1000;
/// A fork storm stops forking this long after it started, whatever the spec says.
pub const STORM_DEADLINE: Duration = Duration::from_secs(30);

/// How a `teardown node` process was started.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// Node id (preorder index in the expanded spec) of the spec's root.
    pub id: u32,
    /// Pipe to tell the parent node this subtree is ready (set for exec'd children).
    pub ready_fd: Option<RawFd>,
    /// Play without a report pipe (by hand, outside a warden).
    pub standalone: bool,
}

/// Why the node interpreter could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No report pipe and not `--standalone`.
    #[error(
        "no report pipe: TEARDOWN_REPORT_FD is not set (teardown node runs under a warden; pass --standalone to play a spec by hand)"
    )]
    NoReportPipe,
    /// The report pipe variable is not an open file descriptor.
    #[error("TEARDOWN_REPORT_FD={value} is not an open file descriptor")]
    BadReportPipe {
        /// The variable's value.
        value: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `--ready-fd` is not an open file descriptor.
    #[error("--ready-fd {fd} is not an open file descriptor")]
    BadReadyFd {
        /// The descriptor.
        fd: RawFd,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The interpreter found itself multithreaded, or a system call failed.
    #[error("node {id}: {what}")]
    Sys {
        /// Node id.
        id: u32,
        /// The step that failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Plays `spec` as node `opts.id` and its subtree. Returns only on a setup error;
/// otherwise the process ends as the spec says (or is killed).
pub fn run(spec: &TreeSpec, opts: &NodeOptions) -> Result<Infallible, NodeError> {
    let sys_err = |what: &str| {
        let what = what.to_owned();
        move |source| NodeError::Sys {
            id: opts.id,
            what,
            source,
        }
    };
    sys::enter_single_threaded().map_err(sys_err("check single-threaded"))?;
    let report = match std::env::var(record::REPORT_FD_ENV) {
        Ok(value) => {
            let raw: RawFd = value.trim().parse().map_err(|_| NodeError::BadReportPipe {
                value: value.clone(),
                source: io::Error::from_raw_os_error(libc::EBADF),
            })?;
            Some(
                sys::adopt_inherited_fd(raw)
                    .map_err(|source| NodeError::BadReportPipe { value, source })?,
            )
        }
        Err(_) if opts.standalone => None,
        Err(_) => return Err(NodeError::NoReportPipe),
    };
    let parent_ready = match opts.ready_fd {
        Some(fd) => {
            let owned = sys::adopt_inherited_fd(fd)
                .map_err(|source| NodeError::BadReadyFd { fd, source })?;
            rustix::io::fcntl_setfd(&owned, FdFlags::CLOEXEC).map_err(|e| {
                NodeError::BadReadyFd {
                    fd,
                    source: e.into(),
                }
            })?;
            Some(owned)
        }
        None => None,
    };
    let mut node = Node {
        id: opts.id,
        report,
        parent_ready,
        standalone: opts.standalone,
        live: 0,
        respawn: false,
    };
    node.play(&spec.root)
}

/// The running process's view of itself.
struct Node {
    id: u32,
    report: Option<OwnedFd>,
    parent_ready: Option<OwnedFd>,
    standalone: bool,
    /// Children forked by the end (storm), for the live cap.
    live: u32,
    /// The respawn-on-TERM handler is installed in this process.
    respawn: bool,
}

/// A failure inside the tree, after the first fork: said on stderr, and the process
/// ends with status 3 (its record never arrives; the warden names what is missing).
fn die(id: u32, what: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("teardown node {id}: {what}: {err}");
    sys::exit_now(3)
}

impl Node {
    fn play(&mut self, spec: &NodeSpec) -> ! {
        self.apply_traits(spec);
        self.start_children(spec);
        self.report_ready();
        // Under a warden (a report pipe) the warden stops this node once the tree
        // has settled (see the module docs).
        if spec.traits.contains(&Trait::Stop) && self.report.is_none() {
            let _ = nix::sys::signal::raise(Signal::SIGSTOP);
        }
        self.end(spec.end)
    }

    fn apply_traits(&mut self, spec: &NodeSpec) {
        let id = self.id;
        for (i, t) in spec.traits.iter().enumerate() {
            let res: io::Result<()> = match t {
                Trait::Setsid => match rustix::process::setsid() {
                    Err(rustix::io::Errno::PERM) => Ok(()),
                    r => r.map(drop).map_err(io::Error::from),
                },
                Trait::Setpgid => match rustix::process::setpgid(None, None) {
                    Err(rustix::io::Errno::PERM) => Ok(()),
                    r => r.map_err(io::Error::from),
                },
                Trait::IgnoreTerm => {
                    sys::ignore_signal(Signal::SIGTERM).map(|()| self.respawn = false)
                }
                Trait::IgnoreInt => sys::ignore_signal(Signal::SIGINT),
                Trait::IgnoreHup => sys::ignore_signal(Signal::SIGHUP),
                Trait::BlockAll => {
                    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None)
                        .map_err(io::Error::from)
                }
                Trait::SigchldIgn => sys::ignore_signal(Signal::SIGCHLD),
                Trait::RespawnOnTerm => sys::respawn_on_term().map(|()| self.respawn = true),
                Trait::ExecFresh => Err(self.exec_fresh(spec, i)),
                Trait::Stop => Ok(()),
            };
            if let Err(e) = res {
                die(id, &format!("trait {t:?}"), e);
            }
        }
    }

    /// Re-execs the interpreter on the rest of this node; returns only on failure.
    fn exec_fresh(&mut self, spec: &NodeSpec, at: usize) -> io::Error {
        let mut rest = spec.clone();
        let carried = spec.traits[..at]
            .iter()
            .copied()
            .filter(|t| matches!(t, Trait::RespawnOnTerm | Trait::Stop));
        rest.traits = carried
            .chain(spec.traits[at + 1..].iter().copied())
            .collect();
        let ready = self.parent_ready.take();
        exec_node(&rest, self.id, ready.as_ref(), self.standalone)
    }

    fn start_children(&mut self, spec: &NodeSpec) {
        if spec.children.is_empty() {
            return;
        }
        let id = self.id;
        let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .unwrap_or_else(|e| die(id, "ready pipe", e));
        let mut next = id + 1;
        let mut expected = 0usize;
        for child in &spec.children {
            let size = child.node.node_count();
            for _ in 0..child.count {
                match sys::fork().unwrap_or_else(|e| die(id, "fork", e)) {
                    Forked::Child => {
                        // The child is a node of its own now: it keeps only the write
                        // end of this pipe, as its way to tell its parent it is ready.
                        drop(ready_r);
                        self.become_child(child.spawn, &child.node, next, ready_w)
                    }
                    Forked::Parent(pid) => {
                        if child.spawn == SpawnKind::DoubleFork {
                            // Reap the intermediate (ECHILD if SIGCHLD is ignored).
                            let _ = rustix::process::waitpid(
                                rustix::process::Pid::from_raw(pid),
                                rustix::process::WaitOptions::empty(),
                            );
                        }
                    }
                }
                next += size;
                expected += 1;
            }
        }
        drop(ready_w);
        wait_ready(&ready_r, expected);
    }

    fn become_child(
        &mut self,
        kind: SpawnKind,
        spec: &NodeSpec,
        child_id: u32,
        ready: OwnedFd,
    ) -> ! {
        self.id = child_id;
        self.parent_ready = Some(ready); // drops the grandparent's end
        self.live = 0;
        if self.respawn && !spec.traits.contains(&Trait::RespawnOnTerm) {
            // The parent's handler is not the child's trait: back to the default (an
            // inherited SIG_IGN would have stayed; kernel semantics).
            if let Err(e) = sys::default_signal(Signal::SIGTERM) {
                die(child_id, "reset SIGTERM", e)
            }
            self.respawn = false;
        }
        match kind {
            SpawnKind::Fork => self.play(spec),
            SpawnKind::DoubleFork => match sys::fork() {
                Ok(Forked::Child) => self.play(spec),
                Ok(Forked::Parent(_)) => sys::exit_now(0),
                Err(e) => die(child_id, "double fork", e),
            },
            SpawnKind::Exec => {
                let ready = self.parent_ready.take();
                let e = exec_node(spec, child_id, ready.as_ref(), self.standalone);
                die(child_id, "exec /proc/self/exe", e)
            }
        }
    }

    fn report_ready(&mut self) {
        let id = self.id;
        if let Some(report) = &self.report {
            let rec = own_record(id).unwrap_or_else(|e| die(id, "read /proc/self/stat", e));
            let bytes = record::encode(&rec);
            match rustix::io::write(report, &bytes) {
                Ok(n) if n == bytes.len() => {}
                Ok(n) => die(id, "write record", format!("short write of {n} bytes")),
                // The warden gave up (closed the pipe): nobody is listening, carry on.
                Err(rustix::io::Errno::PIPE) => {}
                Err(e) => die(id, "write record", e),
            }
        }
        if let Some(ready) = self.parent_ready.take() {
            let _ = rustix::io::write(&ready, &[1]);
        }
    }

    fn end(&mut self, end: End) -> ! {
        match end {
            End::Pause => pause_forever(),
            End::Exit => sys::exit_now(0),
            End::ExitAfterMs(ms) => {
                std::thread::sleep(Duration::from_millis(ms.into()));
                sys::exit_now(0)
            }
            End::Spin => loop {
                std::hint::spin_loop();
            },
            End::Zombies(n) => {
                for _ in 0..n {
                    match sys::fork() {
                        Ok(Forked::Child) => sys::exit_now(0),
                        Ok(Forked::Parent(_)) => {}
                        Err(e) => die(self.id, "fork zombie", e),
                    }
                }
                pause_forever()
            }
            End::Storm { total, rate } => {
                self.storm(total, rate);
                pause_forever()
            }
        }
    }

    /// Forks `total` pausing children at `rate` per second, bounded by
    /// [`STORM_LIVE_CAP`] and [`STORM_DEADLINE`]; stops early if fork fails.
    fn storm(&mut self, total: u32, rate: u32) {
        let start = Instant::now();
        let interval = Duration::from_secs(1) / rate.max(1);
        for i in 0..total.min(STORM_LIVE_CAP) {
            if self.live >= STORM_LIVE_CAP || start.elapsed() > STORM_DEADLINE {
                return;
            }
            match sys::fork() {
                Ok(Forked::Child) => pause_forever(),
                Ok(Forked::Parent(_)) => self.live += 1,
                Err(_) => return,
            }
            let due = interval * (i + 1);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
}

fn pause_forever() -> ! {
    loop {
        nix::unistd::pause();
    }
}

/// Waits until `expected` children said their subtree is ready, or every writer is
/// gone (a child died before it was ready: its record will be missing).
fn wait_ready(ready_r: &OwnedFd, expected: usize) {
    let mut got = 0;
    let mut buf = [0u8; 64];
    while got < expected {
        match rustix::io::read(ready_r, &mut buf) {
            Ok(0) => return,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// This process's record, read from `/proc/self/stat` (start time) and the ids.
fn own_record(id: u32) -> io::Result<NodeRecord> {
    let stat = procfs::process::Process::myself()
        .and_then(|p| p.stat())
        .map_err(io::Error::other)?;
    Ok(NodeRecord {
        node: id,
        // nix, not rustix: a group or session whose leader is outside our PID
        // namespace is 0 here (rustix's `Pid` cannot be 0).
        pid: nix::unistd::getpid().as_raw(),
        pgid: nix::unistd::getpgrp().as_raw(),
        sid: nix::unistd::getsid(None).map_err(io::Error::from)?.as_raw(),
        start_time: stat.starttime,
        pidns: crate::sys::own_pidns().unwrap_or(0),
    })
}

/// Execs `/proc/self/exe node --id ID [--ready-fd FD] [--standalone] 'SPEC'`.
/// Returns only on failure.
fn exec_node(spec: &NodeSpec, id: u32, ready: Option<&OwnedFd>, standalone: bool) -> io::Error {
    let mut args = vec![
        "teardown".to_owned(),
        "node".to_owned(),
        "--id".to_owned(),
        id.to_string(),
    ];
    if let Some(fd) = ready {
        if let Err(e) = rustix::io::fcntl_setfd(fd.as_fd(), FdFlags::empty()) {
            return e.into();
        }
        args.push("--ready-fd".to_owned());
        args.push(fd.as_raw_fd().to_string());
    }
    if standalone {
        args.push("--standalone".to_owned());
    }
    args.push(spec.to_string());
    let argv: Vec<CString> = match args.into_iter().map(CString::new).collect() {
        Ok(v) => v,
        Err(e) => return io::Error::other(e),
    };
    match nix::unistd::execv(c"/proc/self/exe", &argv) {
        Ok(never) => match never {},
        Err(e) => e.into(),
    }
}
