//! What the clock alone does not say: how often a method returned before its tree
//! was drained, and by how much. Printed per benchmark id and kept in a JSON file
//! beside criterion's results for `bench-table`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// Stats of the bench runs by benchmark id (`drain/cgroup/flat/1000`), saved as JSON.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StatsFile {
    /// By full benchmark id (each run replaces the ids it ran).
    pub benchmarks: BTreeMap<String, DrainStats>,
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
