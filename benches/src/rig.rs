//! The rig every drain benchmark runs on: the helper program, the independent
//! observer, the readiness FIFO, and the one routine that times a teardown.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use teardown::{Method, SpawnOptions};

use teardown_harness::node::record::{RECORD_LEN, decode};
use teardown_harness::trial::NodeRecord;

use crate::errors::{ObserverError, ReadyError};
use crate::observer::Observer;
use crate::ready::ReadyFifo;
use crate::shape::TreeShape;
use crate::stats::DrainStats;

/// How long a tree may take to report ready (a 1000-process tree on a loaded
/// 2-core machine takes well under a second).
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// How long the observer waits after a teardown returned before it calls the tree
/// undrained (and the benchmark fails).
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Where the readiness records' PIDs live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidView {
    /// PIDs in the bench's own PID namespace.
    Ours,
    /// PIDs in another PID namespace (`pidns`): the pidfd fallback cannot watch them.
    Foreign,
}

/// Where the tree starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The helper joins the observer cgroup first.
    JoinObserver,
    /// The method places the leader itself (the `cgroup` and `cgroup-kill`
    /// methods, in a leaf created below the observer).
    ByMethod,
}

impl Placement {
    /// Where `method`'s tree starts, and in which PID namespace its records are.
    /// The cgroup methods put the leader in their own leaf (below the observer's
    /// cgroup): a tree that joined the observer itself would be outside the leaf
    /// they kill, and never drain. `pidns` trees report PIDs of their own
    /// namespace.
    pub fn of_method(method: Method) -> (Placement, PidView) {
        let placement = if matches!(method, Method::Cgroup | Method::CgroupKill) {
            Placement::ByMethod
        } else {
            Placement::JoinObserver
        };
        let view = if method == Method::Pidns {
            PidView::Foreign
        } else {
            PidView::Ours
        };
        (placement, view)
    }
}

/// Setting up the rig failed.
#[derive(Debug, thiserror::Error)]
pub enum RigError {
    /// The readiness FIFO could not be made.
    #[error("failed to set up readiness")]
    Ready(#[source] ReadyError),
}

/// The helper, the observer and the readiness FIFO.
#[derive(Debug)]
pub struct Rig {
    helper: PathBuf,
    observer: Observer,
    ready: ReadyFifo,
    fallback: Option<String>,
}

/// One timed teardown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timed {
    /// From the first call of the teardown until it returned.
    pub returned: Duration,
    /// From the same start until the observer saw the tree drained (never less
    /// than `returned`): the measured drain latency.
    pub drained: Duration,
    /// The observer still saw a live process when the teardown returned.
    pub early: bool,
    /// The observer could watch this tree.
    pub observed: bool,
}

impl Rig {
    /// A rig that spawns trees with `helper` (the `bench-tree` program).
    pub fn new(helper: PathBuf) -> Result<Rig, RigError> {
        let (observer, fallback) = Observer::create();
        let ready = ReadyFifo::create().map_err(RigError::Ready)?;
        Ok(Rig {
            helper,
            observer,
            ready,
            fallback,
        })
    }

    /// A rig with the given observer (tests use the fallback this way).
    pub fn with_observer(helper: PathBuf, observer: Observer) -> Result<Rig, RigError> {
        let ready = ReadyFifo::create().map_err(RigError::Ready)?;
        Ok(Rig {
            helper,
            observer,
            ready,
            fallback: None,
        })
    }

    /// The observer.
    pub fn observer(&mut self) -> &mut Observer {
        &mut self.observer
    }

    /// Why the rig observes by pidfds of the reported PIDs instead of a cgroup, if it does.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The observer's cgroup directory (the `cgroup` method's parent), if any.
    pub fn observer_cgroup(&self) -> Option<PathBuf> {
        self.observer.cgroup_dir().map(PathBuf::from)
    }

    /// The core methods' options here: `shim`, and the observer cgroup as the
    /// cgroup methods' parent (so that the observer sees their leaf too).
    pub fn spawn_options(&self, shim: PathBuf) -> SpawnOptions {
        let opts = SpawnOptions::default().with_shim(shim, Vec::new());
        match self.observer_cgroup() {
            Some(dir) => opts.with_cgroup_parent(dir),
            None => opts,
        }
    }

    /// The command that builds `shape`: `bench-tree [--join ..] --ready FIFO SHAPE N`.
    pub fn tree_command(&self, shape: TreeShape, placement: Placement) -> Command {
        let mut cmd = Command::new(&self.helper);
        if let (Placement::JoinObserver, Some(join)) = (placement, self.observer.join_file()) {
            cmd.arg("--join").arg(join);
        }
        cmd.arg("--ready").arg(self.ready.path());
        cmd.arg(shape.shape.name()).arg(shape.n.to_string());
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    /// The command that plays `spec` with the node interpreter `teardown`:
    /// `bench-tree [--join ..] --ready FIFO node TEARDOWN SPEC`.
    pub fn node_command(&self, teardown: &Path, spec: &str, placement: Placement) -> Command {
        let mut cmd = Command::new(&self.helper);
        if let (Placement::JoinObserver, Some(join)) = (placement, self.observer.join_file()) {
            cmd.arg("--join").arg(join);
        }
        cmd.arg("--ready").arg(self.ready.path());
        cmd.arg("node").arg(teardown).arg(spec);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    /// Waits until the node interpreter's leader reported its whole tree ready
    /// (its record comes last) and the observer sees the tree.
    pub fn await_node_ready(&mut self, view: PidView) -> Result<Vec<NodeRecord>, RigFailure> {
        let records = self
            .ready
            .read_records_until(RECORD_LEN, READY_DEADLINE, |r| decode_record(r).node == 0)
            .map_err(RigFailure::Ready)?;
        let records: Vec<NodeRecord> = records.iter().map(|r| decode_record(r)).collect();
        let pids: Vec<i32> = records.iter().map(|r| r.pid).collect();
        let watched = match view {
            PidView::Ours => Some(pids.as_slice()),
            PidView::Foreign => None,
        };
        self.observer.arm(watched).map_err(RigFailure::Observer)?;
        Ok(records)
    }

    /// The floor server for `n` processes: `bench-tree [--join ..] floor N`, piped.
    pub fn floor_command(&self, n: u32) -> Command {
        let mut cmd = Command::new(&self.helper);
        if let Some(join) = self.observer.join_file() {
            cmd.arg("--join").arg(join);
        }
        cmd.arg("floor").arg(n.to_string());
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        cmd
    }

    /// Waits until every process of the freshly spawned `shape` reported ready and
    /// the observer sees the tree: the tree is confirmed running.
    pub fn await_ready(&mut self, shape: TreeShape, view: PidView) -> Result<Vec<i32>, RigFailure> {
        let pids = self
            .ready
            .read_pids(shape.n as usize, READY_DEADLINE)
            .map_err(RigFailure::Ready)?;
        let watched = match view {
            PidView::Ours => Some(pids.as_slice()),
            PidView::Foreign => None,
        };
        self.observer.arm(watched).map_err(RigFailure::Observer)?;
        Ok(pids)
    }

    /// Times `teardown` until the observer sees the tree drained, and records it.
    /// Call only after [`Rig::await_ready`].
    pub fn time_teardown<T>(
        &mut self,
        stats: &mut DrainStats,
        teardown: impl FnOnce() -> T,
    ) -> Result<(Timed, T), RigFailure> {
        let start = Instant::now();
        let output = teardown();
        let returned = start.elapsed();
        let early = !self.observer.is_drained().map_err(RigFailure::Observer)?;
        if early {
            self.observer
                .wait_drained(DRAIN_DEADLINE)
                .map_err(RigFailure::Observer)?;
        }
        let drained = start.elapsed();
        let observed = !self.observer.blind();
        stats.record(returned, drained, early, observed);
        Ok((
            Timed {
                returned,
                drained,
                early,
                observed,
            },
            output,
        ))
    }

    /// Safety net after a failure: kills whatever is left under the observer.
    pub fn kill_leftovers(&mut self) {
        self.observer.kill_all();
    }
}

/// Asks a floor server ([`Rig::floor_command`]) for `iters` kill-and-reap rounds;
/// returns their total time, as the server measured it.
pub fn floor_request(server: &mut Child, iters: u64) -> io::Result<Duration> {
    let piped = |what| io::Error::other(format!("the floor server's {what} is not piped"));
    let stdin = server.stdin.as_mut().ok_or_else(|| piped("stdin"))?;
    stdin.write_all(&iters.to_ne_bytes())?;
    stdin.flush()?;
    let stdout = server.stdout.as_mut().ok_or_else(|| piped("stdout"))?;
    let mut reply = [0u8; 8];
    stdout.read_exact(&mut reply)?;
    Ok(Duration::from_nanos(u64::from_ne_bytes(reply)))
}

/// A benched tree could not be readied or observed.
#[derive(Debug, thiserror::Error)]
pub enum RigFailure {
    /// The tree did not report ready.
    #[error("tree did not get ready")]
    Ready(#[source] ReadyError),
    /// The observer failed or the tree did not drain.
    #[error("drain observer")]
    Observer(#[source] ObserverError),
}

fn decode_record(bytes: &[u8]) -> NodeRecord {
    let record: &[u8; RECORD_LEN] = bytes
        .try_into()
        .expect("records are read RECORD_LEN at a time");
    decode(record)
}
