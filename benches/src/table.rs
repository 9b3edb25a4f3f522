//! `bench-table`: the README's drain and trial tables, from criterion's saved estimates and
//! the bench's [`StatsFile`].
//!
//! ```text
//! cargo run -p teardown-benches --bin bench-table [-- CRITERION_DIR]
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::stats::{DrainStats, StatsFile};

/// One benchmark's result: criterion's median and its 95 % interval, in
/// nanoseconds. The median, not the mean: on a shared machine a few teardowns
/// that met a burst of load would otherwise move a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Median drain latency.
    pub median: f64,
    /// Lower bound of the median's confidence interval.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// Reads every benchmark's estimate of criterion group `group` (`drain`, `trial`)
/// from criterion's directory.
pub fn load_estimates(criterion: &Path, group: &str) -> io::Result<BTreeMap<String, Estimate>> {
    let mut out = BTreeMap::new();
    let group = criterion.join(group);
    for function in fs::read_dir(&group)? {
        let function = function?.path();
        let Ok(values) = fs::read_dir(&function) else {
            continue;
        };
        for value in values {
            let new = value?.path().join("new");
            let (Ok(benchmark), Ok(estimates)) = (
                fs::read(new.join("benchmark.json")),
                fs::read(new.join("estimates.json")),
            ) else {
                continue;
            };
            if let Some((id, estimate)) = parse(&benchmark, &estimates) {
                out.insert(id, estimate);
            }
        }
    }
    Ok(out)
}

fn parse(benchmark: &[u8], estimates: &[u8]) -> Option<(String, Estimate)> {
    let benchmark: serde_json::Value = serde_json::from_slice(benchmark).ok()?;
    let estimates: serde_json::Value = serde_json::from_slice(estimates).ok()?;
    let id = benchmark.get("full_id")?.as_str()?.to_owned();
    let median = estimates.get("median")?;
    let interval = median.get("confidence_interval")?;
    Some((
        id,
        Estimate {
            median: median.get("point_estimate")?.as_f64()?,
            low: interval.get("lower_bound")?.as_f64()?,
            high: interval.get("upper_bound")?.as_f64()?,
        },
    ))
}

/// Human time: `812 µs`, `23.4 ms`.
pub fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.0} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn ratio(value: Option<&Estimate>, base: Option<&Estimate>) -> String {
    match (value, base) {
        (Some(v), Some(b)) if b.median > 0.0 => format!("{:.2}×", v.median / b.median),
        _ => "–".into(),
    }
}

fn early(stats: Option<&DrainStats>) -> String {
    match stats {
        Some(s) => {
            let mark = if s.observer_fallback.is_some() {
                " †"
            } else {
                ""
            };
            format!("{}/{}{mark}", s.returned_early, s.iterations)
        }
        None => "–".into(),
    }
}

/// The methods in the order rows are printed: the references, then the core
/// methods weakest first.
fn row_order(method: &str) -> (usize, String) {
    let rank = match method {
        "floor" => 0,
        "process-wrap" => 1,
        "leader" => 2,
        "killpg" => 3,
        "killpg-waitpgid" => 4,
        "subreaper" => 5,
        "cgroup-kill" => 6,
        "proc-walk" => 7,
        "cgroup" => 8,
        "pidns" => 9,
        _ => 10,
    };
    (rank, method.to_owned())
}

/// The main table (flat 100 and 1000 with ratios) and the full listing, as Markdown.
pub fn render(estimates: &BTreeMap<String, Estimate>, stats: &StatsFile) -> String {
    let mut methods: Vec<String> = estimates
        .keys()
        .filter_map(|id| {
            id.strip_prefix("drain/")?
                .split('/')
                .next()
                .map(str::to_owned)
        })
        .collect();
    methods.sort_by_key(|m| row_order(m));
    methods.dedup();

    let get =
        |method: &str, shape: &str, n: u32| estimates.get(&format!("drain/{method}/{shape}/{n}"));
    let stat = |method: &str, shape: &str, n: u32| {
        stats.benchmarks.get(&format!("drain/{method}/{shape}/{n}"))
    };

    let mut out = String::new();
    out.push_str("| method | flat 100 | × floor | × process-wrap | flat 1000 | × floor | × process-wrap | returned early (100 / 1000) |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for method in &methods {
        let cells: Vec<String> = [100, 1000]
            .iter()
            .flat_map(|&n| {
                let value = get(method, "flat", n);
                [
                    value.map_or("–".into(), |e| human(e.median)),
                    ratio(value, get("floor", "flat", n)),
                    ratio(value, get("process-wrap", "flat", n)),
                ]
            })
            .collect();
        out.push_str(&format!(
            "| {method} | {} | {} / {} |\n",
            cells.join(" | "),
            early(stat(method, "flat", 100)),
            early(stat(method, "flat", 1000)),
        ));
    }

    out.push_str(
        "\nAll benchmarks (median and its 95 % interval; returned early / teardowns):\n\n",
    );
    out.push_str("| benchmark | median | interval | returned early |\n|---|---:|---|---|\n");
    let mut ids: Vec<&String> = estimates.keys().collect();
    ids.sort_by_key(|id| {
        let parts: Vec<&str> = id.split('/').collect();
        let n: u32 = parts.last().and_then(|n| n.parse().ok()).unwrap_or(0);
        (
            parts.get(2).map(|s| s.to_string()),
            n,
            row_order(parts.get(1).unwrap_or(&"")),
        )
    });
    for id in ids {
        let e = &estimates[id];
        out.push_str(&format!(
            "| {id} | {} | {} – {} | {} |\n",
            human(e.median),
            human(e.low),
            human(e.high),
            early(stats.benchmarks.get(id))
        ));
    }
    let mut fallbacks: Vec<&str> = stats
        .benchmarks
        .values()
        .filter_map(|s| s.observer_fallback.as_deref())
        .collect();
    fallbacks.sort_unstable();
    fallbacks.dedup();
    for reason in fallbacks {
        out.push_str(&format!(
            "\n† observed by pidfds of the reported PIDs, not a cgroup: {reason}.\n"
        ));
    }
    out
}

/// The order of the `trial` group's rows: the floor, `auto` by shape (`flat`,
/// `fixed`, `random`) and size, then the other methods weakest first.
fn trial_order(id: &str) -> (usize, (usize, String), usize, u64, String) {
    let mut parts = id.split('/').skip(1);
    let method = parts.next().unwrap_or_default();
    let shape = parts.next().unwrap_or_default();
    let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let first = match method {
        "floor" => 0,
        "auto" => 1,
        _ => 2,
    };
    let shape_rank = match shape {
        "flat" => 0,
        "fixed" => 1,
        "random" => 2,
        _ => 3,
    };
    (first, row_order(method), shape_rank, n, id.to_owned())
}

/// The `trial` group: median wall time per whole harness trial, trials per second,
/// and the CPU each cost (its processes', from the bench's
/// [`TrialStats`](crate::stats::TrialStats)) against `trial/floor/fork-exec`'s per
/// spawn. Only benchmarks with stats are listed (ids of older bench versions are
/// left out).
pub fn render_trials(trials: &BTreeMap<String, Estimate>, stats: &StatsFile) -> String {
    let mut ids: Vec<&String> = trials
        .keys()
        .filter(|id| stats.trials.contains_key(*id))
        .collect();
    if ids.is_empty() {
        return String::new();
    }
    ids.sort_by_key(|id| trial_order(id));
    let floor = stats.trials.get("trial/floor/fork-exec");
    let mut out = String::from(
        "\nWhole harness trials (`trial` group, 100 ms grace; the floor spawns and waits `/bin/true`):\n\n",
    );
    out.push_str("| benchmark | median per trial | trials/s | CPU per trial | user + sys | × fork+exec CPU | verdicts |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---|\n");
    for id in ids {
        let e = &trials[id];
        let s = &stats.trials[id];
        let cpu = s
            .cpu_ns()
            .map_or_else(|| "–".to_owned(), |ns| format!("{:.2} ms", ns / 1e6));
        let split = match s.iterations {
            0 => "–".to_owned(),
            n => format!(
                "{:.2} + {:.2}",
                s.user_ns as f64 / n as f64 / 1e6,
                s.sys_ns as f64 / n as f64 / 1e6
            ),
        };
        let ratio = floor
            .and_then(|floor| s.ratio_to(floor))
            .map_or_else(|| "–".to_owned(), |r| format!("{r:.1}×"));
        let mut verdicts: Vec<String> =
            s.verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        if verdicts.is_empty() {
            verdicts.push("–".into());
        }
        out.push_str(&format!(
            "| {id} | {} | {:.1} | {cpu} | {split} | {ratio} | {} |\n",
            human(e.median),
            1e9 / e.median,
            verdicts.join(", ")
        ));
    }
    out
}

/// `bench-table`'s `main`.
pub fn main() -> ExitCode {
    let criterion = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().unwrap_or_default();
            // target/<profile>/bench-table
            let target = exe
                .ancestors()
                .nth(2)
                .map(Path::to_path_buf)
                .unwrap_or_else(|| "target".into());
            StatsFile::criterion_dir(&target)
        }
    };
    let stats = StatsFile::load(&criterion.join(StatsFile::NAME)).unwrap_or_default();
    let drain = load_estimates(&criterion, "drain").unwrap_or_default();
    let trials = render_trials(
        &load_estimates(&criterion, "trial").unwrap_or_default(),
        &stats,
    );
    if drain.is_empty() && trials.is_empty() {
        eprintln!(
            "bench-table: no drain or trial results in {} (run `cargo bench -p teardown-benches` first)",
            criterion.display()
        );
        return ExitCode::FAILURE;
    }
    if !drain.is_empty() {
        print!("{}", render(&drain, &stats));
    }
    print!("{trials}");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(median: f64) -> Estimate {
        Estimate {
            median,
            low: median * 0.9,
            high: median * 1.1,
        }
    }

    #[test]
    fn trials_are_given_per_second_with_their_cpu_against_the_floor_in_order() {
        use crate::cpu::CpuTimes;
        use crate::stats::TrialStats;
        use std::time::Duration;
        let mut trials = BTreeMap::new();
        let mut stats = StatsFile::default();
        let mut add = |id: &str, median: f64, cpu_ms: u64| {
            trials.insert(id.to_owned(), estimate(median));
            let mut s = TrialStats::default();
            let cpu = CpuTimes {
                user: Duration::from_millis(cpu_ms),
                sys: Duration::from_millis(cpu_ms),
            };
            s.record_batch(2, Duration::from_millis(1), cpu, CpuTimes::default());
            if !id.contains("floor") {
                s.verdicts.insert("clean".into(), 2);
            }
            stats.trials.insert(id.to_owned(), s);
        };
        add("trial/pidns/flat/16", 40e6, 20);
        add("trial/auto/flat/64", 80e6, 40);
        add("trial/auto/flat/4", 20e6, 10);
        add("trial/floor/fork-exec", 1e6, 1);
        trials.insert("trial/fixed/16".to_owned(), estimate(40e6));
        let table = render_trials(&trials, &stats);
        assert!(
            table.contains("| trial/pidns/flat/16 | 40.0 ms | 25.0 | 20.00 ms | 10.00 + 10.00 | 20.0× | clean 2 |"),
            "{table}"
        );
        let rows: Vec<&str> = table
            .lines()
            .filter_map(|l| l.strip_prefix("| trial/"))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                "floor/fork-exec",
                "auto/flat/4",
                "auto/flat/64",
                "pidns/flat/16"
            ],
            "an older id without stats is left out: {table}"
        );
        assert_eq!(render_trials(&BTreeMap::new(), &stats), "");
    }

    #[test]
    fn criterion_files_parse_into_an_id_and_the_median() {
        let benchmark = br#"{"group_id":"drain","function_id":"cgroup/flat","value_str":"1000","full_id":"drain/cgroup/flat/1000"}"#;
        let estimates = br#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.0,"upper_bound":9.0},"point_estimate":5.0,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.0,"standard_error":0.1}}"#;
        let (id, e) = parse(benchmark, estimates).unwrap();
        assert_eq!(id, "drain/cgroup/flat/1000");
        assert_eq!(
            e,
            Estimate {
                median: 2.0,
                low: 1.0,
                high: 3.0
            }
        );
    }

    #[test]
    fn rows_observed_without_a_cgroup_are_marked_with_the_reason() {
        let mut estimates = BTreeMap::new();
        estimates.insert("drain/pidns/flat/10".to_owned(), estimate(1e6));
        estimates.insert("drain/cgroup/flat/10".to_owned(), estimate(1e6));
        let mut stats = StatsFile::default();
        let fallback = DrainStats {
            iterations: 3,
            observer_fallback: Some("no cgroup2 mount".into()),
            ..DrainStats::default()
        };
        stats
            .benchmarks
            .insert("drain/pidns/flat/10".into(), fallback);
        stats.benchmarks.insert(
            "drain/cgroup/flat/10".into(),
            DrainStats {
                iterations: 3,
                ..DrainStats::default()
            },
        );
        let table = render(&estimates, &stats);
        assert!(
            table.contains("| drain/pidns/flat/10 | 1.0 ms | 900 µs – 1.1 ms | 0/3 † |"),
            "{table}"
        );
        assert!(
            table.contains("| drain/cgroup/flat/10 | 1.0 ms | 900 µs – 1.1 ms | 0/3 |"),
            "{table}"
        );
        assert!(table.contains(
            "† observed by pidfds of the reported PIDs, not a cgroup: no cgroup2 mount."
        ));
    }

    #[test]
    fn the_table_gives_ratios_to_floor_and_process_wrap_and_early_counts() {
        let mut estimates = BTreeMap::new();
        estimates.insert("drain/floor/flat/1000".to_owned(), estimate(20e6));
        estimates.insert("drain/process-wrap/flat/1000".to_owned(), estimate(40e6));
        estimates.insert("drain/cgroup/flat/1000".to_owned(), estimate(22e6));
        let mut stats = StatsFile::default();
        stats.benchmarks.insert(
            "drain/process-wrap/flat/1000".into(),
            DrainStats {
                iterations: 10,
                returned_early: 7,
                ..DrainStats::default()
            },
        );
        let table = render(&estimates, &stats);
        let cgroup = table.lines().find(|l| l.starts_with("| cgroup |")).unwrap();
        assert!(cgroup.contains("22.0 ms | 1.10× | 0.55×"), "{cgroup}");
        let wrap = table
            .lines()
            .find(|l| l.starts_with("| process-wrap |"))
            .unwrap();
        assert!(wrap.ends_with("– / 7/10 |"), "{wrap}");
        let rows: Vec<&str> = table
            .lines()
            .take_while(|l| !l.is_empty())
            .skip(2)
            .collect();
        assert!(
            rows[0].starts_with("| floor |") && rows[2].starts_with("| cgroup |"),
            "{rows:?}"
        );
    }
}
