//! Group `trial`: whole harness trials per second — warden, supervisor
//! (`teardown run --method auto`), node interpreter, oracle — for a fixed 16-node
//! spec and for random trees, so the harness's own speed is tracked.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use teardown::{Method, Verdict};
use teardown_harness::prop::{PropParams, tree_spec};
use teardown_harness::spec::TreeSpec;
use teardown_harness::trial::{Supervisor, Trial, run_trial};

/// Sixteen processes: forks, a `setsid` orphan with a child, exec'd nodes.
pub const FIXED_SPEC: &str = "pause [fork: pause [2*fork: pause], dfork: setsid pause [fork: pause], 3*exec: pause [fork: pause], 4*fork: pause]";

/// How many random trees the `random` benchmark cycles through.
pub const RANDOM_TREES: usize = 16;

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

/// One trial as the bench runs it: `auto`, SIGTERM, a 100 ms grace (random trees
/// ignore SIGTERM often; the default 2 s grace would bench the grace).
fn trial(spec: TreeSpec) -> Trial {
    let mut trial = Trial::new(Supervisor::Method(Method::Auto), spec);
    trial.grace = Duration::from_millis(100);
    trial
}

/// Registers `trial/fixed/16` and `trial/random/16`.
pub fn bench(criterion: &mut Criterion) {
    let fixed: TreeSpec = FIXED_SPEC.parse().expect("the fixed spec parses");
    assert_eq!(fixed.node_count(), 16, "the fixed spec has 16 nodes");
    let mut group = criterion.benchmark_group("trial");
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(3));

    let trials = [trial(fixed)];
    run(&mut group, "fixed", &trials);
    let trials: Vec<Trial> = random_specs().into_iter().map(trial).collect();
    run(&mut group, "random", &trials);
    group.finish();
}

fn run(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    trials: &[Trial],
) {
    let mut verdicts: BTreeMap<Verdict, u64> = BTreeMap::new();
    let mut next = 0;
    group.bench_function(criterion::BenchmarkId::new(name, 16), |b| {
        b.iter(|| {
            let outcome = run_trial(&trials[next % trials.len()]);
            next += 1;
            *verdicts.entry(outcome.verdict).or_default() += 1;
            outcome
        })
    });
    if !verdicts.is_empty() {
        let counts: Vec<String> = verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        eprintln!("trial/{name}/16: verdicts: {}", counts.join(", "));
    }
}
