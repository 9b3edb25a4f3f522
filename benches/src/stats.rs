//! What the clock alone does not say: how often a method returned before its tree
//! was drained, and by how much (group `drain`); what CPU a whole trial cost and
//! which verdicts it got (group `trial`). Printed per benchmark id and kept in a
//! JSON file beside criterion's results for `bench-table`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cpu::CpuTimes;

/// Per benchmark id: every timed teardown, warm-up included.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DrainStats {
    /// Teardowns timed.
    pub iterations: u64,
    /// Teardowns that returned while the observer still saw a live process.
    pub returned_early: u64,
    /// Teardowns the observer could not see (pidfd fallback, other PID namespace).
    pub unobserved: u64,
    /// Sum of the times until the method or peer returned, in nanoseconds.
    pub returned_ns: u64,
    /// Sum of the times until the observer saw the tree drained, in nanoseconds.
    pub drained_ns: u64,
    /// The longest wait after an early return, in nanoseconds.
    pub max_overrun_ns: u64,
    /// Sum of the walk or kill rounds the method reported (core methods only).
    #[serde(default)]
    pub rounds: u64,
    /// Why this benchmark's drains were observed by pidfds of the reported PIDs
    /// instead of a cgroup, if they were.
    #[serde(default)]
    pub observer_fallback: Option<String>,
}

impl DrainStats {
    /// Records one teardown: returned after `returned`, drained after `drained`.
    pub fn record(&mut self, returned: Duration, drained: Duration, early: bool, observed: bool) {
        self.iterations += 1;
        self.returned_early += u64::from(early);
        self.unobserved += u64::from(!observed);
        self.returned_ns += returned.as_nanos() as u64;
        self.drained_ns += drained.as_nanos() as u64;
        if early {
            self.max_overrun_ns = self
                .max_overrun_ns
                .max(drained.saturating_sub(returned).as_nanos() as u64);
        }
    }

    /// Records `iters` teardowns timed together (the floor: no early return).
    pub fn record_batch(&mut self, iters: u64, total: Duration) {
        self.iterations += iters;
        self.returned_ns += total.as_nanos() as u64;
        self.drained_ns += total.as_nanos() as u64;
    }

    /// One line for people: `55 teardowns, returned early 0 times`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} teardowns, returned early {} times",
            self.iterations, self.returned_early
        );
        if self.returned_early > 0 {
            line.push_str(&format!(
                " (up to {:?} before drained)",
                Duration::from_nanos(self.max_overrun_ns)
            ));
        }
        if self.rounds > 0 && self.iterations > 0 {
            line.push_str(&format!(
                ", {:.1} rounds each",
                self.rounds as f64 / self.iterations as f64
            ));
        }
        if self.unobserved > 0 {
            line.push_str(&format!(", {} unobserved", self.unobserved));
        }
        line
    }
}

/// Per `trial` benchmark id: the CPU its processes cost and the verdicts they got,
/// over every iteration, warm-up included.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrialStats {
    /// Iterations run: trials, or spawns for the fork+exec floor.
    pub iterations: u64,
    /// Their wall time, in nanoseconds.
    pub wall_ns: u64,
    /// User CPU of the reaped descendants (warden, supervisor, tree, helpers), in
    /// nanoseconds (`getrusage(RUSAGE_CHILDREN)`, see [`crate::cpu`]).
    pub user_ns: u64,
    /// System CPU of the reaped descendants, in nanoseconds.
    pub sys_ns: u64,
    /// CPU (user + system) of the bench thread that started and waited for them,
    /// in nanoseconds: not part of the per-trial figure.
    pub thread_ns: u64,
    /// How many trials got each verdict (empty for the floor).
    pub verdicts: BTreeMap<String, u64>,
}

impl TrialStats {
    /// Records `iters` iterations that took `wall` and cost `children` in reaped
    /// descendants and `thread` in the calling thread.
    pub fn record_batch(
        &mut self,
        iters: u64,
        wall: Duration,
        children: CpuTimes,
        thread: CpuTimes,
    ) {
        self.iterations += iters;
        self.wall_ns += wall.as_nanos() as u64;
        self.user_ns += children.user.as_nanos() as u64;
        self.sys_ns += children.sys.as_nanos() as u64;
        self.thread_ns += thread.total().as_nanos() as u64;
    }

    /// Descendants' CPU (user + system) per iteration, in nanoseconds.
    pub fn cpu_ns(&self) -> Option<f64> {
        self.per_iteration(self.user_ns + self.sys_ns)
    }

    fn per_iteration(&self, ns: u64) -> Option<f64> {
        (self.iterations > 0).then(|| ns as f64 / self.iterations as f64)
    }

    /// This benchmark's CPU per iteration over `floor`'s (`None` if either has none).
    pub fn ratio_to(&self, floor: &TrialStats) -> Option<f64> {
        match (self.cpu_ns(), floor.cpu_ns()) {
            (Some(cpu), Some(base)) if base > 0.0 => Some(cpu / base),
            _ => None,
        }
    }

    /// One line for people: `cpu 12.3 ms/trial (user 5.1 + sys 7.2), 9.8× fork+exec,
    /// bench thread 0.31 ms, verdicts: clean 10`. `unit` names an iteration.
    pub fn summary(&self, unit: &str, floor: Option<&TrialStats>) -> String {
        let Some(cpu) = self.cpu_ns() else {
            return format!("no {unit}s");
        };
        // The parts to the total's precision, so they visibly add up.
        let decimals = if cpu >= 10e6 { 1 } else { 2 };
        let ms = |ns: u64| format!("{:.decimals$}", ns as f64 / self.iterations as f64 / 1e6);
        let mut line = format!(
            "cpu {:.decimals$} ms/{unit} (user {} + sys {})",
            cpu / 1e6,
            ms(self.user_ns),
            ms(self.sys_ns),
        );
        if let Some(ratio) = floor.and_then(|floor| self.ratio_to(floor)) {
            line.push_str(&format!(", {ratio:.1}× fork+exec"));
        }
        line.push_str(&format!(", bench thread {} ms", ms(self.thread_ns)));
        if !self.verdicts.is_empty() {
            let counts: Vec<String> = self
                .verdicts
                .iter()
                .map(|(v, n)| format!("{v} {n}"))
                .collect();
            line.push_str(&format!(", verdicts: {}", counts.join(", ")));
        }
        line
    }
}

fn criterion_dir_from(
    criterion_home: Option<OsString>,
    cargo_target: Option<OsString>,
    target_dir: &Path,
) -> PathBuf {
    if let Some(home) = criterion_home {
        return PathBuf::from(home);
    }
    if let Some(target) = cargo_target {
        return PathBuf::from(target).join("criterion");
    }
    target_dir.join("criterion")
}

/// Stats of the bench runs by benchmark id (`drain/cgroup/flat/1000`,
/// `trial/auto/flat/16`), saved as JSON.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StatsFile {
    /// Group `drain`, by full benchmark id (each run replaces the ids it ran).
    pub benchmarks: BTreeMap<String, DrainStats>,
    /// Group `trial`, by full benchmark id (each run replaces the ids it ran).
    #[serde(default)]
    pub trials: BTreeMap<String, TrialStats>,
}

impl StatsFile {
    /// The file's name inside criterion's output directory.
    pub const NAME: &str = "teardown-drain-stats.json";

    /// Criterion's output directory, found the way criterion finds it:
    /// `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, else `criterion` in
    /// `target_dir` (the target directory the caller's executable was built in).
    pub fn criterion_dir(target_dir: &Path) -> PathBuf {
        criterion_dir_from(
            std::env::var_os("CRITERION_HOME"),
            std::env::var_os("CARGO_TARGET_DIR"),
            target_dir,
        )
    }

    /// Loads the file, or an empty one if it does not exist.
    pub fn load(path: &Path) -> io::Result<StatsFile> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(io::Error::other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(StatsFile::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the file (creating its directory).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(
            path,
            serde_json::to_vec_pretty(self).map_err(io::Error::other)?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_early_return_is_counted_with_its_overrun() {
        let mut stats = DrainStats::default();
        stats.record(
            Duration::from_micros(10),
            Duration::from_micros(10),
            false,
            true,
        );
        stats.record(
            Duration::from_micros(10),
            Duration::from_micros(70),
            true,
            true,
        );
        assert_eq!(stats.iterations, 2);
        assert_eq!(stats.returned_early, 1);
        assert_eq!(stats.max_overrun_ns, 60_000);
        assert!(stats.summary().contains("returned early 1 times"));
    }

    #[test]
    fn a_trial_summary_gives_cpu_per_trial_its_ratio_to_the_floor_and_the_verdicts() {
        let ms = Duration::from_millis;
        let mut floor = TrialStats::default();
        floor.record_batch(
            4,
            ms(8),
            CpuTimes {
                user: ms(1),
                sys: ms(3),
            },
            CpuTimes::default(),
        );
        let mut trial = TrialStats::default();
        trial.record_batch(
            2,
            ms(60),
            CpuTimes {
                user: ms(10),
                sys: ms(14),
            },
            CpuTimes {
                user: ms(1),
                sys: ms(0),
            },
        );
        trial.verdicts.insert("clean".into(), 2);
        assert_eq!(floor.cpu_ns(), Some(1e6));
        assert_eq!(trial.ratio_to(&floor), Some(12.0));
        assert_eq!(
            trial.summary("trial", Some(&floor)),
            "cpu 12.0 ms/trial (user 5.0 + sys 7.0), 12.0× fork+exec, bench thread 0.5 ms, verdicts: clean 2"
        );
        assert_eq!(
            floor.summary("spawn", None),
            "cpu 1.00 ms/spawn (user 0.25 + sys 0.75), bench thread 0.00 ms"
        );
        assert_eq!(TrialStats::default().cpu_ns(), None);
        assert_eq!(TrialStats::default().summary("trial", None), "no trials");
    }

    #[test]
    fn a_stats_file_without_trials_still_loads() {
        let file: StatsFile = serde_json::from_str(r#"{"benchmarks":{}}"#).unwrap();
        assert!(file.trials.is_empty());
    }

    #[test]
    fn criterion_dir_follows_criterion_home_then_cargo_target_dir_then_the_target_dir() {
        let target = Path::new("/w/target");
        assert_eq!(
            criterion_dir_from(None, None, target),
            PathBuf::from("/w/target/criterion")
        );
        assert_eq!(
            criterion_dir_from(None, Some("/t".into()), target),
            PathBuf::from("/t/criterion")
        );
        assert_eq!(
            criterion_dir_from(Some("/c".into()), Some("/t".into()), target),
            PathBuf::from("/c")
        );
    }
}
