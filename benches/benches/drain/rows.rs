//! The rows of the `drain` group: `floor`, `process-wrap` and the core methods on
//! the benched shapes, and on the `mixed` specs.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, measurement::WallTime};
use process_wrap::std::{CommandWrap, ProcessGroup};
use teardown::{Method, SpawnOptions};
use teardown_benches::TreeShape;
use teardown_benches::rig::{PidView, Placement, Rig};
use teardown_benches::stats::{DrainStats, StatsFile};

use crate::{BenchResult, error_chain, shim};

/// One benchmark registration: the group, the rig and the stats being collected.
pub struct Bench<'a, 'g> {
    pub group: &'a mut BenchmarkGroup<'g, WallTime>,
    pub rig: &'a mut Rig,
    pub stats: &'a mut StatsFile,
}

/// Where a method's tree starts, and in which PID namespace its records are.
fn placement_and_view(method: Method) -> (Placement, PidView) {
    // The cgroup methods put the leader in their own leaf (below the observer's
    // cgroup): a tree that joined the observer itself would be outside the leaf
    // they kill, and never drain.
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

impl Bench<'_, '_> {
    /// Registers `drain/FUNCTION/PARAM`, whose every iteration is `once` (returning
    /// the measured drain latency), and prints its early-return summary.
    fn run(
        &mut self,
        function: String,
        param: String,
        mut once: impl FnMut(&mut Rig, &mut DrainStats) -> BenchResult<Duration>,
    ) {
        let id = format!("drain/{function}/{param}");
        let mut stats = DrainStats::default();
        let rig = &mut *self.rig;
        self.group
            .bench_function(BenchmarkId::new(function, param), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        match once(rig, &mut stats) {
                            Ok(drained) => total += drained,
                            Err(error) => {
                                rig.kill_leftovers();
                                panic!("{id}: {}", error_chain(&*error));
                            }
                        }
                    }
                    total
                })
            });
        self.report(id, stats);
    }

    /// Prints and keeps the stats of a benchmark that ran (was not filtered out).
    fn report(&mut self, id: String, mut stats: DrainStats) {
        if stats.iterations > 0 {
            stats.observer_fallback = self.rig.fallback().map(str::to_owned);
            eprintln!("{id}: {}", stats.summary());
            self.stats.benchmarks.insert(id, stats);
        }
    }

    /// `floor/flat/N`: the kernel's cost, timed inside the single-threaded helper
    /// (one request per criterion batch: the helper runs the rounds back to back).
    pub fn floor(&mut self, n: u32) {
        let function = "floor/flat".to_owned();
        let id = format!("drain/{function}/{n}");
        let mut server = self
            .rig
            .floor_command(n)
            .spawn()
            .unwrap_or_else(|e| panic!("{id}: spawning the floor helper: {e}"));
        let mut stats = DrainStats::default();
        self.group
            .bench_function(BenchmarkId::new(function, n), |b| {
                b.iter_custom(|iters| {
                    let total = floor_request(&mut server, iters)
                        .unwrap_or_else(|e| panic!("{id}: floor helper: {}", error_chain(&*e)));
                    stats.record_batch(iters, total);
                    total
                })
            });
        drop(server.stdin.take());
        let _ = server.wait();
        self.report(id, stats);
    }

    /// `process-wrap/SHAPE/N`: `ProcessGroup::leader()`, `kill()` then `wait()`.
    pub fn process_wrap(&mut self, shape: TreeShape) {
        let function = format!("process-wrap/{}", shape.shape);
        self.run(function, shape.n.to_string(), |rig, stats| {
            let cmd = rig.tree_command(shape, Placement::JoinObserver);
            let mut child = CommandWrap::from(cmd)
                .wrap(ProcessGroup::leader())
                .spawn()?;
            rig.await_ready(shape, PidView::Ours)?;
            let (timed, result) = rig.time_teardown(stats, || {
                child.kill()?;
                child.wait()
            })?;
            result?;
            Ok(timed.drained)
        });
    }

    /// `METHOD/SHAPE/N` through the core library.
    pub fn method(&mut self, method: Method, shape: TreeShape) {
        let opts = spawn_options(self.rig);
        let (placement, view) = placement_and_view(method);
        let function = format!("{method}/{}", shape.shape);
        self.run(function, shape.n.to_string(), |rig, stats| {
            let mut cmd = rig.tree_command(shape, placement);
            let mut tree = method.spawn_with(&mut cmd, &opts)?;
            drop(cmd);
            rig.await_ready(shape, view)?;
            let (timed, report) = rig.time_teardown(stats, || tree.teardown(Duration::ZERO))?;
            stats.rounds += report?.rounds;
            Ok(timed.drained)
        });
    }

    /// `process-wrap/mixed/NAME`: the node interpreter playing `spec`.
    pub fn process_wrap_mixed(&mut self, teardown: &Path, name: &str, spec: &str) {
        self.run("process-wrap/mixed".into(), name.into(), |rig, stats| {
            let cmd = rig.node_command(teardown, spec, Placement::JoinObserver);
            let mut child = CommandWrap::from(cmd)
                .wrap(ProcessGroup::leader())
                .spawn()?;
            rig.await_node_ready(PidView::Ours)?;
            let (timed, result) = rig.time_teardown(stats, || {
                child.kill()?;
                child.wait()
            })?;
            result?;
            Ok(timed.drained)
        });
    }

    /// `METHOD/mixed/NAME`: the node interpreter playing `spec`.
    pub fn method_mixed(&mut self, method: Method, teardown: &Path, name: &str, spec: &str) {
        let opts = spawn_options(self.rig);
        let (placement, view) = placement_and_view(method);
        self.run(format!("{method}/mixed"), name.into(), |rig, stats| {
            let mut cmd = rig.node_command(teardown, spec, placement);
            let mut tree = method.spawn_with(&mut cmd, &opts)?;
            drop(cmd);
            rig.await_node_ready(view)?;
            let (timed, report) = rig.time_teardown(stats, || tree.teardown(Duration::ZERO))?;
            stats.rounds += report?.rounds;
            Ok(timed.drained)
        });
    }
}

/// The bench's shim, and the observer cgroup as the `cgroup` method's parent (so
/// the observer sees the method's leaf too).
fn spawn_options(rig: &Rig) -> SpawnOptions {
    let opts = SpawnOptions::default().with_shim(shim(), Vec::new());
    match rig.observer_cgroup() {
        Some(dir) => opts.with_cgroup_parent(dir),
        None => opts,
    }
}

/// Asks the floor server for `iters` kill-and-reap rounds; returns their total time.
fn floor_request(server: &mut Child, iters: u64) -> BenchResult<Duration> {
    let stdin = server.stdin.as_mut().ok_or("floor server has no stdin")?;
    stdin.write_all(&iters.to_ne_bytes())?;
    stdin.flush()?;
    let stdout = server.stdout.as_mut().ok_or("floor server has no stdout")?;
    let mut reply = [0u8; 8];
    stdout.read_exact(&mut reply)?;
    Ok(Duration::from_nanos(u64::from_ne_bytes(reply)))
}
