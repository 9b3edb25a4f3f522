//! The node interpreter plays every word for real: each test runs a tree under a
//! warden (`run_trial`) and looks at the processes it made.
//!
//! * [`shapes`]: the process shape each new word makes, seen by the
//!   `shape-probe` example, an external supervisor that wraps `teardown run`
//!   and writes what its descendants look like when the warden's trigger comes
//!   (and, asked, once more after it forwarded the SIGTERM), and every record it
//!   copied to the warden;
//! * [`verdicts`]: trees with the new words come back `clean` under `pidns` and
//!   `proc-walk`, unless they attack upward (those only under `pidns`);
//! * [`session`]: the session a trial's tree runs in, and its (missing)
//!   controlling terminal.
//!
//! The probe is an example: `cargo test -p teardown-harness` builds it; with
//! `--test node` alone, build it first (`cargo build -p teardown-harness
//! --example shape-probe`).

mod session;
mod shapes;
mod verdicts;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use teardown_harness::trial::{Supervisor, Trial, TrialOutcome};
use teardown_harness::warden::run_trial;

/// The `teardown` binary under test.
pub fn teardown_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_teardown"))
}

/// The `shape-probe` example, beside the test binary's directory.
pub fn probe_bin() -> PathBuf {
    let me = std::env::current_exe().expect("the test binary's path");
    let dir = me
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps");
    let probe = dir.join("examples").join("shape-probe");
    assert!(
        probe.is_file(),
        "{} is missing: build it with `cargo build -p teardown-harness --example shape-probe`",
        probe.display()
    );
    probe
}

/// A trial under the probe and what the probe saw.
pub struct Observed {
    pub outcome: TrialOutcome,
    /// `first` (at the trigger), `second` (with `again`), `records`, `status`.
    pub seen: Value,
}

impl Observed {
    /// The PID (in the warden's view) of node `id`, from its record.
    pub fn pid(&self, id: u32) -> i64 {
        let r = self
            .outcome
            .nodes
            .iter()
            .find(|r| r.node == id)
            .unwrap_or_else(|| panic!("no record of node {id}: {:#?}", self.outcome));
        i64::from(r.pid)
    }

    /// Process `pid` in snapshot `which` (`first` or `second`).
    pub fn proc(&self, which: &str, pid: i64) -> Option<&Value> {
        self.seen[which]
            .as_array()?
            .iter()
            .find(|p| p["pid"].as_i64() == Some(pid))
    }

    /// Process `pid` in the first snapshot; panics if it is not there.
    pub fn at_trigger(&self, pid: i64) -> &Value {
        self.proc("first", pid)
            .unwrap_or_else(|| panic!("pid {pid} not in the first snapshot: {}", self.dump()))
    }

    /// Every process of snapshot `which`.
    pub fn all(&self, which: &str) -> Vec<&Value> {
        self.seen[which]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }

    /// The snapshots and the outcome, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "{}\nverdict {} ({:?})",
            serde_json::to_string_pretty(&self.seen).unwrap_or_default(),
            self.outcome.verdict,
            self.outcome.detail
        )
    }
}

/// Runs `spec` under `shape-probe ... -- teardown run --method METHOD --grace
/// GRACE --` (the warden appends the node command), the probe waiting `wait`
/// before its first look and looking again `again` after it forwarded the
/// SIGTERM.
pub fn observe(
    spec: &str,
    method: &str,
    grace: Duration,
    wait: Option<Duration>,
    again: Option<Duration>,
) -> Observed {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shape.json");
    let mut argv = vec![probe_bin().display().to_string(), out.display().to_string()];
    if let Some(w) = wait {
        argv.extend(["--wait".to_owned(), w.as_millis().to_string()]);
    }
    if let Some(a) = again {
        argv.extend(["--again".to_owned(), a.as_millis().to_string()]);
    }
    argv.extend([
        "--".to_owned(),
        teardown_bin().display().to_string(),
        "run".to_owned(),
        "--method".to_owned(),
        method.to_owned(),
        "--grace".to_owned(),
        format!("{}ms", grace.as_millis()),
        "--".to_owned(),
    ]);
    let trial = Trial::new(Supervisor::External(argv), spec.parse().unwrap());
    let outcome = run_trial(&trial);
    let seen = std::fs::read(&out)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("the probe wrote nothing for {spec}: {outcome:#?}"));
    Observed { outcome, seen }
}
