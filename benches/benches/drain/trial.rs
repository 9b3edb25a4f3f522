//! Group `trial`: whole harness trials per second — warden, supervisor
//! (`teardown run --method M`), node interpreter, oracle — by tree size and by
//! method, and the CPU each trial costs against the fork+exec floor, so the
//! harness's own speed is tracked.
//!
//! Ids `trial/METHOD/SHAPE/N`: `auto` on `flat` trees of 1, 4, 16 and 64 nodes
//! (`pause [N-1*fork: pause]`), on the `fixed` 16-node mixed spec and on 16
//! `random` trees; every other method the host supports but `leader` on
//! `flat/16`. `trial/floor/fork-exec` spawns and waits `/bin/true`.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use teardown::{Availability, Method, Verdict};
use teardown_benches::cpu::{CpuMeter, CpuTimes};
use teardown_benches::stats::{StatsFile, TrialStats};
use teardown_harness::prop::{PropParams, tree_spec};
use teardown_harness::spec::TreeSpec;
use teardown_harness::trial::{Supervisor, Trial, TrialOutcome};
use teardown_harness::warden::run_trial;
use teardown_scenarios::Expect;

/// Sixteen processes: forks, a `setsid` orphan with a child, exec'd nodes.
pub const FIXED_SPEC: &str = "pause [fork: pause [2*fork: pause], dfork: setsid pause [fork: pause], 3*exec: pause [fork: pause], 4*fork: pause]";

/// How many random trees the `random` benchmark cycles through.
pub const RANDOM_TREES: usize = 16;

/// The sizes `auto` is benched at on `flat` trees.
const AUTO_SIZES: [u32; 4] = [1, 4, 16, 64];

/// The size every method is benched at on a `flat` tree.
const METHOD_SIZE: u32 = 16;

/// The grace every trial gets: random trees ignore SIGTERM often, and the default
/// 2 s grace would bench the grace.
const GRACE: Duration = Duration::from_millis(100);

/// The floor's program: spawned with `std::process::Command` (fork **and** exec;
/// this process is multithreaded) and waited for.
const FLOOR_PROGRAM: &str = "/bin/true";

/// The floor's id, whose CPU per spawn the trial benchmarks are compared to.
const FLOOR_ID: &str = "trial/floor/fork-exec";

/// How many spawns measure the floor apart when its benchmark is filtered out.
const FLOOR_APART: u64 = 100;

/// The random trees: [`RANDOM_TREES`] specs from the harness's strategy with a fixed
/// seed, so every run benches the same trees.
pub fn random_specs() -> Vec<TreeSpec> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = tree_spec(PropParams::default());
    (0..RANDOM_TREES)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("the tree strategy generates")
                .current()
        })
        .collect()
}

/// A flat tree of `n` processes that all obey SIGTERM: a leader and `n - 1` children.
fn flat_spec(n: u32) -> TreeSpec {
    let text = match n {
        0 | 1 => "pause".to_owned(),
        n => format!("pause [{}*fork: pause]", n - 1),
    };
    let spec: TreeSpec = text.parse().expect("the flat spec parses");
    assert_eq!(spec.node_count(), n.max(1), "{text} has {n} nodes");
    spec
}

/// One trial as the bench runs it: `method`, SIGTERM, a [`GRACE`] grace.
fn trial(method: Method, spec: TreeSpec) -> Trial {
    let mut trial = Trial::new(Supervisor::Method(method), spec);
    trial.grace = GRACE;
    trial
}

/// The verdicts a benchmark's trials may come out with; `None`: any (random
/// trees). A `flat` tree is the catalog's `wide-fanout` scenario at another size,
/// so it is held to that scenario's expectations: `clean` for every method but
/// the group methods, whose leader may be reaped while a member is still dying
/// (`clean|early`). The `fixed` spec has a `setsid` escape: the escape-proof
/// methods must come out `clean`, the others are not held to anything.
fn expectation(method: Method, shape: &str) -> Option<Expect> {
    match shape {
        "flat" => Some(
            teardown_scenarios::by_name("wide-fanout")
                .expect("wide-fanout is in the catalog")
                .expected(method),
        ),
        "fixed" if method.is_escape_proof() => Some(Expect::clean()),
        _ => None,
    }
}

/// The group: the floor, then `auto` by size and shape, then the methods.
pub fn bench(criterion: &mut Criterion, stats: &mut StatsFile, methods: &[Method]) {
    let mut group = criterion.benchmark_group("trial");
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(2));
    let mut bench = TrialBench {
        group: &mut group,
        stats,
        floor: None,
    };
    bench.floor();

    match teardown::probe().availability(Method::Auto) {
        Availability::Available => {
            for n in AUTO_SIZES {
                bench.run(
                    Method::Auto,
                    "flat",
                    n,
                    &[trial(Method::Auto, flat_spec(n))],
                );
            }
            let fixed: TreeSpec = FIXED_SPEC.parse().expect("the fixed spec parses");
            assert_eq!(fixed.node_count(), 16, "the fixed spec has 16 nodes");
            bench.run(Method::Auto, "fixed", 16, &[trial(Method::Auto, fixed)]);
            let random: Vec<Trial> = random_specs()
                .into_iter()
                .map(|spec| trial(Method::Auto, spec))
                .collect();
            bench.run(Method::Auto, "random", 16, &random);
        }
        Availability::Unsupported { reason } => {
            eprintln!("teardown-benches: trial/auto is not benched: unsupported here: {reason}");
        }
    }
    // `methods` holds what the host supports (the caller probed and said why not
    // for the rest); `leader` is not among them: it leaves a flat tree's children
    // running, a `leak`, not a teardown.
    for &method in methods {
        let trials = [trial(method, flat_spec(METHOD_SIZE))];
        bench.run(method, "flat", METHOD_SIZE, &trials);
    }
    group.finish();
}

/// The group being registered, the stats being kept, and the floor's stats once
/// measured.
struct TrialBench<'a, 'g> {
    group: &'a mut BenchmarkGroup<'g, WallTime>,
    stats: &'a mut StatsFile,
    floor: Option<TrialStats>,
}

impl TrialBench<'_, '_> {
    /// `trial/floor/fork-exec`: spawn and wait [`FLOOR_PROGRAM`].
    fn floor(&mut self) {
        let mut stats = TrialStats::default();
        self.group
            .bench_function(BenchmarkId::new("floor", "fork-exec"), |b| {
                b.iter_custom(|iters| spawn_floor(iters, &mut stats))
            });
        if stats.iterations > 0 {
            eprintln!("{FLOOR_ID}: {}", stats.summary("spawn", None));
            self.floor = Some(stats.clone());
            self.stats.trials.insert(FLOOR_ID.to_owned(), stats);
        }
    }

    /// The floor's stats: its benchmark's, or [`FLOOR_APART`] spawns measured now
    /// if the benchmark was filtered out.
    fn floor_stats(&mut self) -> &TrialStats {
        self.floor.get_or_insert_with(|| {
            let mut stats = TrialStats::default();
            spawn_floor(FLOOR_APART, &mut stats);
            eprintln!(
                "{FLOOR_ID} (measured apart, not benched): {}",
                stats.summary("spawn", None)
            );
            stats
        })
    }

    /// Registers `trial/METHOD/SHAPE/N`, cycling through `trials`, and prints its
    /// CPU per trial, its ratio to the floor and its verdicts.
    fn run(&mut self, method: Method, shape: &str, n: u32, trials: &[Trial]) {
        let id = format!("trial/{method}/{shape}/{n}");
        let expect = expectation(method, shape);
        let mut stats = TrialStats::default();
        let mut odd: BTreeMap<Verdict, (usize, TrialOutcome)> = BTreeMap::new();
        let mut next = 0;
        self.group
            .bench_function(BenchmarkId::new(format!("{method}/{shape}"), n), |b| {
                b.iter_custom(|iters| {
                    let meter = CpuMeter::start().expect("getrusage");
                    let start = Instant::now();
                    // The warden servers live on between trials: each outcome
                    // carries its trial's CPU (the server's and what it reaped).
                    let mut served = CpuTimes::default();
                    for _ in 0..iters {
                        let index = next % trials.len();
                        next += 1;
                        let outcome = run_trial(&trials[index]);
                        served.user += outcome.cpu.user;
                        served.sys += outcome.cpu.system;
                        *stats
                            .verdicts
                            .entry(outcome.verdict.to_string())
                            .or_default() += 1;
                        if let Some(expect) = expect
                            && !expect.accepts(outcome.verdict)
                        {
                            panic!(
                                "{id}: expected {expect}, got {}",
                                not_clean(&trials[index], &outcome)
                            );
                        }
                        if outcome.verdict != Verdict::Clean {
                            odd.entry(outcome.verdict).or_insert((index, outcome));
                        }
                    }
                    let wall = start.elapsed();
                    let (reaped, thread) = meter.elapsed().expect("getrusage");
                    let children = CpuTimes {
                        user: reaped.user + served.user,
                        sys: reaped.sys + served.sys,
                    };
                    stats.record_batch(iters, wall, children, thread);
                    wall
                })
            });
        if stats.iterations == 0 {
            return;
        }
        let floor = self.floor_stats().clone();
        eprintln!("{id}: {}", stats.summary("trial", Some(&floor)));
        for (index, outcome) in odd.values() {
            let expected = match expect.and_then(|e| e.note()) {
                Some(note) => format!(" (expected here: {note})"),
                None => String::new(),
            };
            eprintln!(
                "{id}: NOT CLEAN: {}{expected}",
                not_clean(&trials[*index], outcome)
            );
        }
        self.stats.trials.insert(id, stats);
    }
}

/// Spawns and waits [`FLOOR_PROGRAM`] `iters` times; records and returns the time.
fn spawn_floor(iters: u64, stats: &mut TrialStats) -> Duration {
    let meter = CpuMeter::start().expect("getrusage");
    let start = Instant::now();
    for _ in 0..iters {
        let status = Command::new(FLOOR_PROGRAM)
            .status()
            .unwrap_or_else(|e| panic!("{FLOOR_ID}: spawning {FLOOR_PROGRAM}: {e}"));
        assert!(status.success(), "{FLOOR_ID}: {FLOOR_PROGRAM}: {status}");
    }
    let wall = start.elapsed();
    let (children, thread) = meter.elapsed().expect("getrusage");
    stats.record_batch(iters, wall, children, thread);
    wall
}

/// A trial that did not come out `clean`: the verdict, why, and how to replay it.
fn not_clean(trial: &Trial, outcome: &TrialOutcome) -> String {
    let Supervisor::Method(method) = &trial.supervisor else {
        unreachable!("the bench runs methods only")
    };
    format!(
        "verdict {} ({}); replay: teardown replay --method {method} --grace {}ms '{}'",
        outcome.verdict,
        outcome.detail.as_deref().unwrap_or("no detail"),
        trial.grace.as_millis(),
        trial.spec,
    )
}
