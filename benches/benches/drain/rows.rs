//! The rows of the `drain` group: `floor`, `process-wrap` and the core methods on
//! the benched shapes, and on the `mixed` specs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, measurement::WallTime};
use process_wrap::std::{CommandWrap, ProcessGroup};
use teardown::Method;
use teardown_benches::TreeShape;
use teardown_benches::errors::error_chain;
use teardown_benches::rig::{PidView, Placement, Rig, RigFailure, floor_request};
use teardown_benches::stats::{DrainStats, StatsFile};

use crate::{BenchResult, shim};

/// One benchmark registration: the group, the rig and the stats being collected.
pub struct Bench<'a, 'g> {
    pub group: &'a mut BenchmarkGroup<'g, WallTime>,
    pub rig: &'a mut Rig,
    pub stats: &'a mut StatsFile,
}

/// What a row tears down: a benched shape, or a catalog spec the node
/// interpreter plays (`mixed`).
#[derive(Clone, Copy, Debug)]
pub enum Played<'a> {
    /// `bench-tree SHAPE N`: `drain/WHO/SHAPE/N`.
    Shape(TreeShape),
    /// `bench-tree node TEARDOWN SPEC`: `drain/WHO/mixed/NAME`.
    Mixed {
        /// The node interpreter (the harness's `teardown` binary).
        teardown: &'a Path,
        /// The scenario's name.
        name: &'a str,
        /// The scenario's spec.
        spec: &'a str,
    },
}

impl Played<'_> {
    /// The benchmark's shape part and parameter: `flat` and `10`, `mixed` and
    /// `daemonize`.
    fn id(self) -> (String, String) {
        match self {
            Played::Shape(shape) => (shape.shape.to_string(), shape.n.to_string()),
            Played::Mixed { name, .. } => ("mixed".to_owned(), name.to_owned()),
        }
    }

    /// The command that builds the tree.
    fn command(self, rig: &Rig, placement: Placement) -> Command {
        match self {
            Played::Shape(shape) => rig.tree_command(shape, placement),
            Played::Mixed { teardown, spec, .. } => rig.node_command(teardown, spec, placement),
        }
    }

    /// Waits until the tree reported ready and the observer sees it.
    fn await_ready(self, rig: &mut Rig, view: PidView) -> Result<(), RigFailure> {
        match self {
            Played::Shape(shape) => rig.await_ready(shape, view).map(drop),
            Played::Mixed { .. } => rig.await_node_ready(view).map(drop),
        }
    }
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
                        .unwrap_or_else(|e| panic!("{id}: floor helper: {}", error_chain(&e)));
                    stats.record_batch(iters, total);
                    total
                })
            });
        drop(server.stdin.take());
        let _ = server.wait();
        self.report(id, stats);
    }

    /// `process-wrap/SHAPE/N` or `process-wrap/mixed/NAME`:
    /// `ProcessGroup::leader()`, `kill()` then `wait()`.
    pub fn process_wrap(&mut self, tree: Played) {
        let (shape, param) = tree.id();
        self.run(format!("process-wrap/{shape}"), param, |rig, stats| {
            let cmd = tree.command(rig, Placement::JoinObserver);
            let mut child = CommandWrap::from(cmd)
                .wrap(ProcessGroup::leader())
                .spawn()?;
            tree.await_ready(rig, PidView::Ours)?;
            let (timed, result) = rig.time_teardown(stats, || {
                child.kill()?;
                child.wait()
            })?;
            result?;
            Ok(timed.drained)
        });
    }

    /// `METHOD/SHAPE/N` or `METHOD/mixed/NAME` through the core library.
    pub fn method(&mut self, method: Method, tree: Played) {
        let opts = self.rig.spawn_options(shim());
        let (placement, view) = Placement::of_method(method);
        let (shape, param) = tree.id();
        self.run(format!("{method}/{shape}"), param, |rig, stats| {
            let mut cmd = tree.command(rig, placement);
            let mut spawned = method.spawn_with(&mut cmd, &opts)?;
            drop(cmd);
            tree.await_ready(rig, view)?;
            let (timed, report) = rig.time_teardown(stats, || spawned.teardown(Duration::ZERO))?;
            stats.rounds += report?.rounds;
            Ok(timed.drained)
        });
    }
}
