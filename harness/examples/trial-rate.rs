//! Trials per second on random trees: the `N` random trees of a seed that
//! `teardown matrix --random N --seed S` runs, each with its trigger
//! ([`teardown_harness::matrix::random_trees`]: the hostile adversary's words
//! but an upward SIGSTOP, ≤ 16 nodes), run as real trials with `J` threads.
//!
//! ```sh
//! cargo run --release -p teardown-harness --example trial-rate -- \
//!     --trials 500 --jobs 2 --seed 1 --method auto
//! # one fixed tree instead of random ones (e.g. 16 nodes), one trial at a time
//! cargo run --release -p teardown-harness --example trial-rate -- \
//!     --trials 100 --jobs 1 --spec 'pause [15*fork: pause]'
//! # the matrix's grace (default here: 100 ms), and a line a trial: its CPU
//! # time (the trial's processes, warden included), time, verdict and tree
//! cargo run --release -p teardown-harness --example trial-rate -- \
//!     --trials 200 --seed 7 --method proc-walk --grace 250 --each
//! # where the time goes: the warden's phase timings, summed
//! TEARDOWN_TRACE=1 cargo run ... 2> phases.txt
//! # what the fuzz target `trial` runs per input, without libFuzzer: each tree
//! # cut by `fuzz::small_tree`, its trials with `auto` and `proc-walk` at once
//! # (`fuzz::trial_for`), one input at a time; prints inputs/s and the slowest
//! cargo run --release -p teardown-harness --example trial-rate -- --fuzz 400
//! ```
//!
//! Prints the rate, the verdicts, the mean, median and 90th percentile trial
//! time, the mean drain latency and the mean CPU time of a trial's processes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use teardown::Method;
use teardown_harness::fuzz::{TRIAL_METHODS, run_trials, small_tree};
use teardown_harness::prop::any_tree_spec;
use teardown_harness::spec::TreeSpec;
use teardown_harness::trial::{Supervisor, Trial, Trigger};
use teardown_harness::warden::run_trial;

struct Args {
    trials: usize,
    jobs: usize,
    seed: u64,
    method: Method,
    spec: Option<TreeSpec>,
    fuzz: Option<usize>,
    grace: Duration,
    each: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        trials: 500,
        jobs: 2,
        seed: 1,
        method: Method::Auto,
        spec: None,
        fuzz: None,
        grace: Duration::from_millis(100),
        each: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--each" {
            a.each = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| usage(&flag));
        match flag.as_str() {
            "--trials" => a.trials = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--jobs" => a.jobs = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--seed" => a.seed = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--method" => a.method = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--spec" => a.spec = Some(value.parse().unwrap_or_else(|_| usage(&flag))),
            "--fuzz" => a.fuzz = Some(value.parse().unwrap_or_else(|_| usage(&flag))),
            "--grace" => {
                a.grace = Duration::from_millis(value.parse().unwrap_or_else(|_| usage(&flag)))
            }
            _ => usage(&flag),
        }
    }
    a.jobs = a.jobs.max(1);
    a
}

fn usage(flag: &str) -> ! {
    eprintln!(
        "trial-rate: bad {flag}; usage: [--trials N] [--jobs J] [--seed S] [--method M] [--spec SPEC] [--fuzz N] [--grace MS] [--each]"
    );
    std::process::exit(2)
}

/// `n` random trees, the same for the same seed.
fn trees(n: usize, seed: u64) -> Vec<TreeSpec> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = any_tree_spec();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("a tree").current())
        .collect()
}

/// `n` inputs as the fuzz target `trial` runs them, one after the other.
fn fuzz(n: usize, seed: u64) {
    let specs: Vec<TreeSpec> = trees(n, seed).iter().map(small_tree).collect();
    let mut times = Vec::with_capacity(n);
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let start = Instant::now();
    for spec in &specs {
        let t0 = Instant::now();
        let ran = run_trials(spec);
        let ms: Vec<f64> = ran
            .iter()
            .map(|(_, o)| o.elapsed.as_secs_f64() * 1e3)
            .collect();
        times.push((t0.elapsed().as_secs_f64() * 1e3, ms, spec.to_string()));
        for (t, o) in &ran {
            *verdicts.entry(o.verdict.to_string()).or_default() += 1;
            if o.verdict != teardown::Verdict::Clean {
                eprintln!("{}: {}", o.verdict, teardown_harness::replay::line(t));
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{n} fuzz inputs (trees cut by small_tree, {} trials each at once), seed {seed}: \
         {wall:.2}s wall, {:.1} inputs/s; verdicts {verdicts:?}",
        TRIAL_METHODS.len(),
        n as f64 / wall
    );
    times.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total: f64 = times.iter().map(|t| t.0).sum();
    println!("slowest inputs (ms per input, ms per trial, tree), {total:.0} ms in all:");
    for (ms, each, spec) in times.iter().take(12) {
        let each: Vec<String> = each.iter().map(|m| format!("{m:.1}")).collect();
        println!("  {ms:6.1}  [{}]  {spec}", each.join(", "));
    }
}

fn main() {
    let args = parse_args();
    if let Some(n) = args.fuzz {
        return fuzz(n, args.seed);
    }
    let specs: Vec<(TreeSpec, Trigger)> = match &args.spec {
        Some(spec) => vec![(spec.clone(), Trigger::Sigterm); args.trials],
        None => teardown_harness::matrix::random_trees(args.seed, args.trials as u32)
            .unwrap_or_else(|e| panic!("random trees: {e}")),
    };
    let trial = |i: usize| {
        let (spec, trigger) = &specs[i];
        let mut t = Trial::new(Supervisor::Method(args.method), spec.clone());
        t.grace = args.grace;
        t.trigger = *trigger;
        t
    };
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(specs.len()));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= specs.len() {
                        break;
                    }
                    let o = run_trial(&trial(i));
                    results.lock().unwrap().push((i, o));
                }
            });
        }
    });
    let wall = start.elapsed();
    let results = results.into_inner().unwrap();
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    for (i, o) in &results {
        if args.each {
            println!(
                "each cpu={:.2}ms elapsed={:.1}ms {} {}",
                o.cpu.total().as_secs_f64() * 1e3,
                o.elapsed.as_secs_f64() * 1e3,
                o.verdict,
                specs[*i].0
            );
        }
        *verdicts.entry(o.verdict.to_string()).or_default() += 1;
        if o.verdict != teardown::Verdict::Clean {
            eprintln!(
                "{}: {}",
                o.verdict,
                teardown_harness::replay::line(&trial(*i))
            );
        }
    }
    let n = results.len().max(1) as f64;
    let mean = |f: &dyn Fn(&teardown_harness::trial::TrialOutcome) -> f64| {
        results.iter().map(|(_, o)| f(o)).sum::<f64>() / n
    };
    let nodes: f64 = specs
        .iter()
        .map(|(s, _)| f64::from(s.node_count()))
        .sum::<f64>()
        / n;
    println!(
        "{} trials, {} jobs, seed {}, method {}: {:.2}s wall, {:.1} trials/s",
        results.len(),
        args.jobs,
        args.seed,
        args.method,
        wall.as_secs_f64(),
        n / wall.as_secs_f64()
    );
    let mut times: Vec<f64> = results
        .iter()
        .map(|(_, o)| o.elapsed.as_secs_f64() * 1e3)
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times.get(((times.len() as f64 - 1.0) * q).round() as usize);
    println!(
        "mean nodes {:.1}; trial mean {:.1}ms, median {:.1}ms, p90 {:.1}ms; mean drain {:.2}ms; \
         cpu {:.2}ms/trial; verdicts {:?}",
        nodes,
        mean(&|o| o.elapsed.as_secs_f64() * 1e3),
        at(0.5).copied().unwrap_or(0.0),
        at(0.9).copied().unwrap_or(0.0),
        mean(&|o| o.drain.map_or(0.0, |d| d.as_secs_f64() * 1e3)),
        mean(&|o| o.cpu.total().as_secs_f64() * 1e3),
        verdicts
    );
}
