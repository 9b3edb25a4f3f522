//! Drain latency per method, shape and size, against the kernel floor and
//! process-wrap (group `drain`), and whole harness trials per second (group
//! `trial`). See the `teardown_benches` crate docs for what is measured.

mod rows;
mod trial;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime};
use teardown::{Availability, Method};
use teardown_benches::rig::Rig;
use teardown_benches::stats::StatsFile;
use teardown_benches::{Shape, TreeShape};

use crate::rows::{Bench, Played};

pub(crate) type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The shapes and sizes of the `drain` group.
const SHAPES: [TreeShape; 6] = [
    TreeShape {
        shape: Shape::Flat,
        n: 1,
    },
    TreeShape {
        shape: Shape::Flat,
        n: 10,
    },
    TreeShape {
        shape: Shape::Flat,
        n: 100,
    },
    TreeShape {
        shape: Shape::Flat,
        n: 1000,
    },
    TreeShape {
        shape: Shape::Chain,
        n: 10,
    },
    TreeShape {
        shape: Shape::Chain,
        n: 100,
    },
];

/// The `mixed` specs: named scenarios with escapes, ignored or blocked signals,
/// stopped processes and zombies. A row runs only where the scenario expects the
/// method clean (a method that cannot drain an escape is left out, not timed as
/// a hang); `process-wrap` is held to `killpg-waitpgid`'s expectations.
const MIXED: [&str; 8] = [
    "aurae-534-sh-wrapper",
    "daemonize",
    "setpgid-escape",
    "sigterm-ignored",
    "blocked-signals",
    "stopped",
    "zombie-maker",
    "exec-chain",
];

/// Criterion settings per size: (samples, warm-up, measurement). Spawning a tree
/// (outside the clock) costs far more wall time than tearing it down, and
/// criterion sizes its runs by the measured time only, so small trees get short
/// measurement windows. Together these keep `cargo bench -p teardown-benches`
/// under 10 minutes on 2 loaded cores.
fn timing(n: u32) -> (usize, u64, u64) {
    match n {
        0..=9 => (30, 20, 200),
        10..=99 => (30, 20, 300),
        100..=999 => (30, 20, 600),
        _ => (30, 1, 2000),
    }
}

/// The `mixed` rows' settings (node-interpreter trees take ~20 ms to start).
const MIXED_TIMING: (usize, u64, u64) = (10, 10, 50);

fn configure(
    group: &mut BenchmarkGroup<'_, WallTime>,
    (samples, warm_up_ms, measure_ms): (usize, u64, u64),
) {
    group
        .sample_size(samples)
        .warm_up_time(Duration::from_millis(warm_up_ms))
        .measurement_time(Duration::from_millis(measure_ms));
}

/// The shim for `subreaper`, `proc-walk` and `pidns`: this package's `bench-shim`,
/// unless `TEARDOWN_SHIM` names another.
pub(crate) fn shim() -> PathBuf {
    std::env::var_os("TEARDOWN_SHIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_bench-shim")))
}

fn main() {
    // `teardown::probe()` and the library find the shim through `TEARDOWN_SHIM`
    // (cargo does not build the core crate's own `teardown-shim` for this package's
    // benches). Setting it for the whole process is done by exec'ing ourselves
    // with it, before any thread exists.
    if std::env::var_os("TEARDOWN_SHIM").is_none() {
        let exe = std::env::current_exe().expect("the bench's own path");
        let error = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("TEARDOWN_SHIM", shim())
            .exec();
        panic!("re-exec with TEARDOWN_SHIM set: {error}");
    }
    // 10 000 bootstrap resamples instead of 100 000: the report's distribution
    // plots (a kernel density estimate over every resample) otherwise cost ~5 s
    // of CPU per benchmark here, more than the benchmark itself.
    let mut criterion = Criterion::default()
        .nresamples(10_000)
        .configure_from_args();
    let exe = std::env::current_exe().expect("the bench's own path");
    // target/<profile>/deps/<bench>
    let target_dir = exe
        .ancestors()
        .nth(3)
        .expect("the bench runs from target/<profile>/deps");
    let stats_path = StatsFile::criterion_dir(target_dir).join(StatsFile::NAME);
    let mut stats_file = StatsFile::load(&stats_path).unwrap_or_default();

    let helper = PathBuf::from(env!("CARGO_BIN_EXE_bench-tree"));
    let mut rig = Rig::new(helper).expect("setting up the bench rig");
    if let Some(reason) = rig.fallback() {
        eprintln!(
            "teardown-benches: no writable cgroup2 ({reason}); observing drains by pidfds of the reported PIDs"
        );
    }
    let methods = methods_under_test();
    // The node interpreter (`mixed`) and the warden (`trial`) are the harness's
    // `teardown` binary, which cargo does not build for this package's benches.
    let teardown_bin = match teardown_harness::locate::teardown_bin() {
        Ok(path) => Some(path),
        Err(error) => {
            eprintln!("teardown-benches: the mixed rows and the trial group are skipped: {error}");
            None
        }
    };

    {
        let mut group = criterion.benchmark_group("drain");
        group.sampling_mode(SamplingMode::Flat);
        for shape in SHAPES {
            configure(&mut group, timing(shape.n));
            let mut bench = Bench {
                group: &mut group,
                rig: &mut rig,
                stats: &mut stats_file,
            };
            if shape.shape == Shape::Flat {
                bench.floor(shape.n);
            }
            bench.process_wrap(Played::Shape(shape));
            for &method in &methods {
                bench.method(method, Played::Shape(shape));
            }
        }
        if let Some(teardown) = &teardown_bin {
            configure(&mut group, MIXED_TIMING);
            let mut bench = Bench {
                group: &mut group,
                rig: &mut rig,
                stats: &mut stats_file,
            };
            for name in MIXED {
                let scenario =
                    teardown_scenarios::by_name(name).expect("a scenario of the catalog");
                let mixed = Played::Mixed {
                    teardown,
                    name,
                    spec: scenario.spec,
                };
                if scenario.expected(Method::KillpgWaitpgid).is_clean() {
                    bench.process_wrap(mixed);
                }
                for &method in &methods {
                    if scenario.expected(method).is_clean() {
                        bench.method(method, mixed);
                    }
                }
            }
        }
        group.finish();
    }
    if teardown_bin.is_some() {
        trial::bench(&mut criterion, &mut stats_file, &methods);
    }

    if measuring() {
        if let Err(error) = stats_file.save(&stats_path) {
            eprintln!(
                "teardown-benches: could not save {}: {error}",
                stats_path.display()
            );
        }
    }
    criterion.final_summary();
}

/// True when criterion measures (`cargo bench`), false in its test, list and
/// profile modes (`cargo test --benches`, `--list`, `--profile-time`), whose
/// single runs must not overwrite the saved stats of a measured run.
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench")
        && !args
            .iter()
            .any(|a| a == "--test" || a == "--list" || a.starts_with("--profile-time"))
}

/// The methods benched here: `TEARDOWN_BENCH_METHODS` (comma-separated, or `none`),
/// else every method the host supports but `leader` and `auto`.
fn methods_under_test() -> Vec<Method> {
    if let Ok(list) = std::env::var("TEARDOWN_BENCH_METHODS") {
        return list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty() && *name != "none")
            .map(|name| {
                name.parse()
                    .unwrap_or_else(|e| panic!("TEARDOWN_BENCH_METHODS: {e}"))
            })
            .collect();
    }
    let probe = teardown::probe();
    let mut methods = Vec::new();
    for (method, availability) in probe.methods {
        match (method, availability) {
            (Method::Leader | Method::Auto, _) => {}
            (method, Availability::Available) => methods.push(method),
            (method, Availability::Unsupported { reason }) => {
                eprintln!("teardown-benches: {method} is not benched: unsupported here: {reason}");
            }
        }
    }
    if let Some(auto) = probe.auto {
        eprintln!("teardown-benches: auto picks {auto} here (benched under that name)");
    }
    methods
}
