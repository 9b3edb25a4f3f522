//! The node interpreter: `teardown node 'SPEC'` plays one spec as real processes.
//!
//! # What a node does, in order
//!
//! 1. **Traits**, in spec order:
//!    * `setsid`, `setpgid`, `ignore-term|int|hup`, `block-all` (every blockable
//!      signal), `sigchld-ign`;
//!    * `respawn-on-term` (a SIGTERM handler that forks a replacement and exits);
//!    * `exec-fresh` (re-exec `/proc/self/exe node --id N 'REST'`, where `REST` is
//!      this node with the traits already applied removed, except those exec would
//!      undo or that act later: `stop`, `evil-name` (exec renames the process),
//!      `kill-parent`, `kill-ancestors`, and the SIGTERM handler in force, if any,
//!      because exec resets handlers);
//!    * `subreaper`: `prctl(PR_SET_CHILD_SUBREAPER)`; orphans of its descendants
//!      are reparented to it, and it never reaps them (unless its end does);
//!    * `evil-name`: `prctl(PR_SET_NAME)` to [`EVIL_NAME`];
//!    * `term-kill-parent=SIG`, `term-kill-ancestors=SIG`: a SIGTERM handler that
//!      sends SIG up as `kill-parent` and `kill-ancestors` do (below), then returns
//!      (the node does not die of that SIGTERM);
//!    * `graceful=DUR`: a SIGTERM handler that sleeps DUR, writes the "finished
//!      gracefully" record ([`record`]) and `_exit(0)`s; the record is encoded
//!      before the handler is installed;
//!    * `userns`: `unshare(CLONE_NEWUSER | CLONE_NEWPID)`, uid and gid maps `0
//!      <uid> 1` (setgroups denied), fork. The parent closes its report and ready
//!      pipes, resets the node's SIGTERM handler if any, waits for the child and
//!      exits with its status (128 + signal if it was killed), like `unshare
//!      --user --pid --fork`; the child, PID 1 of the new
//!      namespace, goes on as the node: its record says PID 1, its namespace the
//!      nested one. As a namespace's init it ignores every signal it has no handler
//!      for, even from outside the namespace, SIGKILL and SIGSTOP aside: SIGTERM
//!      does not end it. If it exits, the kernel kills the rest of its namespace.
//!      If `unshare` fails with EPERM, EINVAL, ENOSPC or EUSERS (no user namespaces
//!      here, or nested too deep) the node says so on stderr and goes on without;
//!    * `cgroup-nest`: the cgroup2 mount from `/proc/self/mountinfo`, its own cgroup
//!      from `/proc/self/cgroup`, `mkdir <own>/node-<id>-<pid>` and `0` written to
//!      its `cgroup.procs`: the node moves itself into a cgroup it made below its
//!      own. If it cannot (no cgroup2, EACCES, EROFS, EBUSY...) one stderr line,
//!      and it goes on;
//!    * `stop`, `kill-parent`, `kill-ancestors` act later (steps 4 and 5).
//!
//!    The SIGTERM-disposition traits (`ignore-term`, `respawn-on-term`,
//!    `term-kill-*`, `graceful`) each replace what SIGTERM does: the last in order
//!    wins.
//! 2. **Children**, in spec order, each by its spawn kind: `fork`; `dfork` (fork, the
//!    intermediate forks the node and `_exit`s at once, so the node is orphaned; the
//!    parent reaps the intermediate); `exec` (fork + exec of `/proc/self/exe node`
//!    with the child's subtree text and node id); `cparent` (`clone(CLONE_PARENT)`:
//!    the child is its grandparent's child, for the leader the supervisor's; from
//!    a PID namespace's init the kernel refuses, and the node says so on stderr and
//!    forks instead).
//! 3. **Readiness**: the node waits until every child reported its whole subtree
//!    ready (one byte each on a per-node pipe, or EOF if a child died first), then
//!    writes its 32-byte [`record`] to the report pipe named by
//!    `TEARDOWN_REPORT_FD`, then tells its own parent, then closes its children's
//!    pipe. The leader's record is therefore the last one: when it arrives the
//!    whole tree is in place, and an `exit` end on any node happens only after its
//!    subtree is ready. A node with a `kill-parent` or `kill-ancestors` node below
//!    it closes its children's pipe only once its own parent has closed its own,
//!    so the closes run down from the leader once it has reported: the whole tree
//!    is ready.
//! 4. **Upward signals**: `kill-parent=SIG` sends SIG to the parent
//!    (`getppid()`, which after `dfork` or `cparent` is not the node that spawned
//!    it), `kill-ancestors=SIG` to every ancestor from the parent up, in spec
//!    order, once the node's parent has closed its children's pipe, that is (step
//!    3) once the whole tree is ready: a process signalled before its record
//!    (stopped, killed) would never report.
//!    Never PID 1 or below, never the warden or above, never past the node's PID
//!    namespace: see [`upward`]. The signals race the warden's trigger, which
//!    comes as soon as the leader's record is in.
//! 5. `stop`: stopped (SIGTERM does not reach it until SIGCONT). Under a warden the
//!    warden sends the SIGSTOP once the tree has settled (every `exit` node dead):
//!    a node that stopped itself earlier could be killed or continued by the
//!    kernel's SIGHUP + SIGCONT to an orphaned process group with a stopped member,
//!    when an `exit` above it orphans its group, as a race decides. Standalone, the
//!    node stops itself.
//! 6. **End**: `pause` forever; `exit` (status 0); `exit-after=D`; `spin`;
//!    `zombies=N` (fork N children that `_exit` at once, never reap them, pause);
//!    `storm=N@R` (fork N pausing children at R per second, bounded by a deadline
//!    and a live cap, then pause);
//!    `main-exit` (start a thread that pauses, then the main thread alone exits:
//!    a live process whose thread-group leader is a zombie, `Zl` in `ps`);
//!    `thread-fork` (start a thread that forks a pausing child and exits, so the
//!    kernel hands the child to the main thread, which pauses);
//!    `vfork=N` (a chain of N processes made by `clone(CLONE_VM | CLONE_VFORK)`
//!    without exec, each on its own stack, each parent blocked in it, state `D`;
//!    the last pauses);
//!    `hop=N@R` (N times at R per second: `setsid`, fork, the parent exits and the
//!    child goes on; then pause: one live process, always a new PID and session,
//!    bounded by the storm deadline);
//!    `trace` (`PTRACE_SEIZE` every child whose PID it knows, that is all but
//!    `dfork` children, and all but `stop` children, whose stop is the warden's to
//!    make; then `waitpid(-1, __WALL)`: every signal-delivery-stop and group-stop
//!    is resumed with no signal, so the children never see SIGTERM, SIGINT or
//!    SIGSTOP, only SIGKILL; children are reaped as they exit; it pauses when none
//!    is left; if `PTRACE_SEIZE` is refused, one stderr line per child).
//!
//! Nodes never end by themselves otherwise: the supervisor under test, or the
//! warden's safety net, ends them.
//!
//! # Signals and inheritance
//!
//! Kernel semantics are kept on purpose: an ignored signal, the blocked mask and
//! `SIGCHLD = SIG_IGN` are inherited by forked and exec'd children (that is the
//! bug class), a handler is not inherited across exec. A node's SIGTERM handler is
//! reset in its forked children (and in the processes of its `vfork` chain and
//! `thread-fork` end) unless the child has the same `respawn-on-term` trait itself;
//! the processes of a `hop` end are the node going on, and keep it. A replacement
//! forked by `respawn-on-term` carries on the original's end (it does not start
//! children again and writes no record). `setsid` in a process-group leader (a
//! leader spawned in its own group) fails with `EPERM`; like most daemons the node
//! then carries on in its group.
//!
//! # Running it by hand
//!
//! Outside a warden there is no report pipe: `teardown node` refuses (exit 2)
//! unless `--standalone` is given, in which case it plays the spec and reports
//! nothing. A spec that signals up the ancestry (`kill-parent`, `kill-ancestors`,
//! `term-kill-*`) refuses even then: outside a warden its ancestors are the
//! user's shell (it needs `TEARDOWN_WARDEN_PID`, and the warden above it).
//!
//! The interpreter is single-threaded and forks without exec; it checks that it has
//! one thread before the first fork (see [`crate::sys`]). The `main-exit` and
//! `thread-fork` ends start threads, after which it never forks again.

mod children;
mod ends;
pub mod record;
mod traits;
pub mod upward;

use std::convert::Infallible;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::io::FdFlags;

use crate::spec::{End, NodeSpec, Trait, TraitKind, TreeSpec};
use crate::sys;
use crate::trial::NodeRecord;

/// A fork storm never has more live children than this, whatever the spec says.
pub const STORM_LIVE_CAP: u32 = 1000;
/// A fork storm (or a `hop` end) stops forking this long after it started,
/// whatever the spec says.
pub const STORM_DEADLINE: Duration = Duration::from_secs(30);

/// What a `slow-exit` node holds: 256 MiB of private memory, every page present
/// and huge pages refused, which the kernel frees at exit one 4 KiB page at a
/// time (65,536 pages: about 20 ms here; making them takes ~85 ms). See
/// [`crate::sys::hold_touched_memory`] and [`crate::spec::Trait::SlowExit`];
/// `slow-exit=SIZE` holds SIZE instead ([`slow_exit_bytes`]).
pub const SLOW_EXIT_BYTES: usize = slow_exit_bytes(crate::spec::SLOW_EXIT_MIB);

/// The bytes a `slow-exit=<mib>MiB` node holds.
pub const fn slow_exit_bytes(mib: u32) -> usize {
    (mib as usize) << 20
}

/// The name `evil-name` gives a node (`prctl(PR_SET_NAME)`, 15 bytes, the most
/// `comm` holds): a `)` and spaces that shift the fields of a `/proc/<pid>/stat`
/// parser that splits on whitespace or stops at the first `)` (which then reads
/// state `Z`, parent 1), a newline for line-based readers of `/proc/<pid>/comm`,
/// and a byte that is not UTF-8 (`0xE6`, the first byte of a three-byte
/// character cut off: what a UTF-8 name cut at 15 bytes leaves), for readers of
/// `/proc/<pid>/status` or `comm` as text (`pidns`'s init was one, and spun for
/// ever on such a leader).
pub const EVIL_NAME: &[u8; 15] = b") Z 1 1 (\n\xe6x x)";

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
    /// A spec that signals up the ancestry, without a warden above it.
    #[error(
        "refusing to signal up the ancestry without a warden: {why} (kill-parent, kill-ancestors and term-kill-* run only under a warden, e.g. teardown replay; outside one the ancestors are your shell and session)"
    )]
    NoWarden {
        /// What is missing.
        why: String,
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
    let warden = if spec.root.has_upward() {
        Some(upward::warden_above()?)
    } else {
        None
    };
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
    if report.is_some() {
        // Read here, once, so that the processes this node forks inherit it
        // (`sys::own_pidns`); a failure is reported where the record is made.
        let _ = sys::own_pidns();
    }
    let mut node = Node {
        id: opts.id,
        report,
        parent_ready,
        children_ready: None,
        standalone: opts.standalone,
        live: 0,
        term: TermHandler::None,
        warden,
        children: Vec::new(),
    };
    node.play(&spec.root)
}

/// The SIGTERM handler a trait installed in this process, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TermHandler {
    /// None (SIGTERM is at its default, or ignored: both pass to children).
    None,
    /// `respawn-on-term`.
    Respawn,
    /// `term-kill-parent` or `term-kill-ancestors`.
    Upward,
    /// `graceful`, with its delay in milliseconds.
    Graceful(u32),
}

/// The running process's view of itself.
struct Node {
    id: u32,
    report: Option<OwnedFd>,
    parent_ready: Option<OwnedFd>,
    /// The read end of this node's children's ready pipe, kept open until this
    /// node has reported ready (a child with an upward trait waits for it to close).
    children_ready: Option<OwnedFd>,
    standalone: bool,
    /// Children forked by the end (storm), for the live cap.
    live: u32,
    /// The SIGTERM handler installed in this process.
    term: TermHandler,
    /// The warden's PID, when the spec signals up the ancestry.
    warden: Option<i32>,
    /// Children whose PID this node knows (not `dfork`'s), and whether each has
    /// the `stop` trait: what a `trace` end seizes.
    children: Vec<(i32, bool)>,
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
        self.report_ready(spec);
        self.signal_up_once_ready(spec);
        // Under a warden (a report pipe) the warden stops this node once the tree
        // has settled (see the module docs).
        if spec.traits.contains(&Trait::Stop) && self.report.is_none() {
            // kill(getpid()), not raise(): a `cparent` child's C library still
            // holds its creator's TID, which raise() would signal.
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::STOP,
            );
        }
        self.end(spec.end)
    }

    fn report_ready(&mut self, spec: &NodeSpec) {
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
        if let Some(ready) = &self.parent_ready {
            let _ = rustix::io::write(ready, &[1]);
        }
        // Keep the pipe to the parent only to see it close (`parent_reported`).
        let kills_up = spec
            .traits
            .iter()
            .any(|t| matches!(t, Trait::KillParent(_) | Trait::KillAncestors(_)));
        let below_kills_up = spec.children.iter().any(|c| {
            c.node.subtree_has(|n| {
                n.has_trait_kind(TraitKind::KillParent)
                    || n.has_trait_kind(TraitKind::KillAncestors)
            })
        });
        if !kills_up && !below_kills_up {
            self.parent_ready = None;
        }
        // A `kill-parent` or `kill-ancestors` below must not signal a process
        // still waiting for its other children (its parent is not always the node
        // that spawned it: `dfork`, `cparent`): this node lets its children go on
        // only once every node above it has reported (the leader's record is the
        // last one), so they signal only a tree that is all ready.
        if below_kills_up {
            self.parent_reported();
        }
        // Children waiting to signal this node may go on now; those of an `exit`
        // node only once it has exited (the kernel closes its end then): a
        // `kill-parent=stop` that came between its report and its exit would stop
        // it for good, and the tree would never be ready (its exit is part of
        // readiness).
        if spec.end != End::Exit {
            self.children_ready = None;
        }
    }

    /// Waits until the parent has reported ready: it closes the read end of the
    /// pipe this node told it on (POLLERR on the write end: no reader left).
    /// At once for the leader, whose parent is the supervisor.
    fn parent_reported(&self) {
        if let Some(ready) = &self.parent_ready {
            let mut fds = [rustix::event::PollFd::new(
                ready,
                rustix::event::PollFlags::empty(),
            )];
            while let Err(rustix::io::Errno::INTR) = rustix::event::poll(&mut fds, None) {}
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
    let start_time = crate::sys::climb::own_start_time()
        .ok_or_else(|| io::Error::other("/proc/self/stat unreadable or not as expected"))?;
    Ok(NodeRecord {
        node: id,
        // nix, not rustix: a group or session whose leader is outside our PID
        // namespace is 0 here (rustix's `Pid` cannot be 0).
        pid: nix::unistd::getpid().as_raw(),
        pgid: nix::unistd::getpgrp().as_raw(),
        sid: nix::unistd::getsid(None).map_err(io::Error::from)?.as_raw(),
        start_time,
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
