//! Checking a supervisor from its own test suite: every scenario (and random trees)
//! against one external command, every verdict required `clean`.
//!
//! ```no_run
//! use teardown_harness::check::Check;
//!
//! #[test]
//! fn my_supervisor_leaves_nothing_behind() {
//!     // `my-sup -- CMD...` supervises CMD; the harness appends the tree's command.
//!     Check::new(["my-sup", "--"]).random(8).run().assert_clean();
//! }
//! ```
//!
//! A failing assertion names each scenario, its verdict and what the oracle found,
//! and the exact command that replays it:
//!
//! ```text
//! teardown check: 2 of 27 trials of `my-sup --` are not clean (random trees from seed 7):
//!   setsid-escape: leak (1 survivor(s))
//!     replay: teardown replay 'pause [fork: setsid pause]' -- my-sup --
//!   ...
//! ```
//!
//! # What it needs
//!
//! Every trial runs under a warden, which is this project's `teardown` binary. It is
//! found ([`crate::locate`]) from the `TEARDOWN_BIN` environment variable, then
//! beside the test binary or one directory up (`target/<profile>/`, where cargo puts
//! it for this workspace's own tests), then on `PATH`. Cargo does not build a
//! dependency's binaries, so a downstream crate installs it
//! (`cargo install teardown-harness`). The supervisor itself is looked up on `PATH`
//! like `execvp` does; if it is missing, every trial is `unsupported` and the check
//! fails saying so.
//!
//! Each trial takes tens of milliseconds for a correct supervisor; a leak costs the
//! straggler grace (1 s) and a hang the deadline (3 s). Trials run in parallel, as many
//! as the machine holds ([`crate::matrix::default_jobs`], [`Check::jobs`]).
//!
//! # Random trees
//!
//! [`Check::random`] adds random adversarial trees. Their seed is [`Check::seed`] if
//! set, else the `TEARDOWN_SEED` environment variable, else taken from the clock; it
//! is printed with any failure, and each failure's replay line carries its spec.
//!
//! # A runnable example
//!
//! This project's own supervisor passes; it skips where the `teardown` binary
//! cannot be found (in this workspace's doctests it is `target/debug/teardown`):
//!
//! ```
//! use teardown_harness::check::Check;
//! # let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/teardown");
//! # if std::env::var_os("TEARDOWN_BIN").is_none() && built.exists() {
//! #     // SAFETY: the doctest has no other thread yet.
//! #     unsafe { std::env::set_var("TEARDOWN_BIN", &built) };
//! # }
//!
//! let Ok(teardown) = teardown_harness::locate::teardown_bin() else {
//!     eprintln!("skipped: the teardown binary was not found (set TEARDOWN_BIN)");
//!     return;
//! };
//! let teardown = teardown.to_string_lossy().into_owned();
//! Check::new([teardown.as_str(), "run", "--method", "auto", "--"])
//!     .scenarios(["aurae-534-sh-wrapper", "setsid-escape", "sigterm-ignored"])
//!     .run()
//!     .assert_clean();
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use teardown::Verdict;
use teardown_scenarios::UnknownScenario;

use crate::matrix::{self, Options, Plan, PlanError, Report, RowSpec, Shard, Timing};
use crate::trial::Trigger;

/// A check of one supervisor: build it, then [`Check::run`].
#[derive(Clone, Debug)]
pub struct Check {
    supervisor: Vec<String>,
    scenarios: Option<Vec<String>>,
    random: u32,
    seed: Option<u64>,
    trigger: Option<Trigger>,
    jobs: Option<usize>,
    timing: Timing,
    shard: Option<Shard>,
}

/// A check could not be run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The supervisor argv is empty.
    #[error("no supervisor command given")]
    NoSupervisor,
    /// A scenario name is not in the catalog.
    #[error(transparent)]
    UnknownScenario(#[from] UnknownScenario),
    /// The plan could not be built.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A shard with random trees and no seed given ([`Check::seed`] or
    /// `TEARDOWN_SEED`): each machine would draw other trees.
    #[error("{}", crate::matrix::shard::SEED_REQUIRED)]
    ShardNeedsSeed,
}

impl Check {
    /// Checks `supervisor` (program and leading arguments; the tree's node command
    /// is appended) on every scenario, with the scenarios' own triggers.
    pub fn new<I, S>(supervisor: I) -> Check
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Check {
            supervisor: supervisor.into_iter().map(Into::into).collect(),
            scenarios: None,
            random: 0,
            seed: None,
            trigger: None,
            jobs: None,
            timing: Timing::default(),
            shard: None,
        }
    }

    /// Only these scenarios (by name), in this order.
    pub fn scenarios<I, S>(mut self, names: I) -> Check
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.scenarios = Some(names.into_iter().map(|s| s.as_ref().to_owned()).collect());
        self
    }

    /// Adds `n` random trees.
    pub fn random(mut self, n: u32) -> Check {
        self.random = n;
        self
    }

    /// The random trees' seed (see the module docs for the default).
    pub fn seed(mut self, seed: u64) -> Check {
        self.seed = Some(seed);
        self
    }

    /// Triggers every trial this way instead of each scenario's own: e.g.
    /// [`Trigger::Timeout`] for a supervisor that times out by itself.
    pub fn trigger(mut self, trigger: Trigger) -> Check {
        self.trigger = Some(trigger);
        self
    }

    /// Trials run at once (default: [`crate::matrix::default_jobs`]).
    pub fn jobs(mut self, jobs: usize) -> Check {
        self.jobs = Some(jobs);
        self
    }

    /// How long a process may outlive the supervisor and still be `early` (not a survivor).
    pub fn straggler_grace(mut self, d: Duration) -> Check {
        self.timing.straggler_grace = d;
        self
    }

    /// How long the supervisor may take after the trigger before `hang`.
    pub fn deadline(mut self, d: Duration) -> Check {
        self.timing.deadline = d;
        self
    }

    /// Runs only this shard of the trials (`K/N`; see [`crate::matrix::shard`]):
    /// N machines with the same settings and seed run the whole check between
    /// them, and `teardown merge` puts their JSON outputs back together. With
    /// random trees the seed must be given ([`Check::seed`] or `TEARDOWN_SEED`).
    pub fn shard(mut self, shard: Shard) -> Check {
        self.shard = Some(shard);
        self
    }

    /// The options of the one-row matrix this check runs.
    pub fn options(&self) -> Result<Options, CheckError> {
        if self.supervisor.is_empty() {
            return Err(CheckError::NoSupervisor);
        }
        let scenarios = match &self.scenarios {
            None => teardown_scenarios::all().iter().collect(),
            Some(names) => names
                .iter()
                .map(|n| teardown_scenarios::by_name(n))
                .collect::<Result<_, _>>()?,
        };
        let seed = self.seed.or_else(env_seed);
        if self.shard.is_some() && self.random > 0 && seed.is_none() {
            return Err(CheckError::ShardNeedsSeed);
        }
        Ok(Options {
            rows: vec![RowSpec::External {
                argv: self.supervisor.clone(),
                expect_clean: true,
            }],
            scenarios,
            random: self.random,
            seed: seed.unwrap_or_else(default_seed),
            timing: self.timing,
            jobs: self.jobs.unwrap_or_else(matrix::default_jobs),
            trigger: self.trigger,
            bystanders: 1,
            shard: self.shard,
        })
    }

    /// Runs the check; errors only for bad input (names, an empty command).
    pub fn try_run(&self) -> Result<CheckReport, CheckError> {
        let plan = Plan::new(self.options()?, matrix::host_probe())?;
        Ok(CheckReport {
            report: matrix::run(plan, &mut |_| {}),
        })
    }

    /// Runs the check; panics on bad input, with the reason.
    #[track_caller]
    pub fn run(&self) -> CheckReport {
        self.try_run()
            .unwrap_or_else(|e| panic!("teardown check: {e}"))
    }
}

/// The seed `TEARDOWN_SEED` gives, if it is set to a number.
pub fn env_seed() -> Option<u64> {
    std::env::var("TEARDOWN_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The seed when none is given: `TEARDOWN_SEED`, else the clock.
pub fn default_seed() -> u64 {
    if let Some(seed) = env_seed() {
        return seed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
}

/// The result of a check.
#[derive(Clone, Debug)]
pub struct CheckReport {
    report: Report,
}

/// One trial that was not clean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The scenario name, or `random-<seed>-<i>`.
    pub scenario: String,
    /// The tree.
    pub spec: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What the oracle found, in a few words.
    pub detail: String,
    /// The command that replays this trial.
    pub replay: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})\n    replay: {}",
            self.scenario, self.verdict, self.detail, self.replay
        )
    }
}

impl CheckReport {
    /// Wraps a finished one-row matrix.
    pub fn from_report(report: Report) -> CheckReport {
        CheckReport { report }
    }

    /// The underlying matrix report (for the table or JSON renderers).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// True if every trial was `clean` (of this shard's, for a sharded check).
    pub fn is_clean(&self) -> bool {
        self.report
            .cells
            .iter()
            .all(|c| c.verdict() == Verdict::Clean)
    }

    /// Every trial that was not `clean`, in scenario order.
    pub fn failures(&self) -> Vec<Failure> {
        let plan = &self.report.plan;
        self.report
            .cells
            .iter()
            .filter(|c| c.verdict() != Verdict::Clean)
            .map(|c| {
                let o = &c.outcome;
                let mut found = Vec::new();
                for (n, what) in [
                    (o.survivors, "survivor(s)"),
                    (o.stragglers + o.dying, "early"),
                    (o.zombies, "zombie(s)"),
                    (o.bystanders_killed, "bystander(s) killed"),
                ] {
                    if n > 0 {
                        found.push(format!("{n} {what}"));
                    }
                }
                if let Some(d) = &o.detail {
                    found.push(d.clone());
                }
                Failure {
                    scenario: plan.columns[c.col].name.clone(),
                    spec: plan.columns[c.col].spec_text.clone(),
                    verdict: c.verdict(),
                    detail: found.join("; "),
                    replay: plan.replay(c.row, c.col),
                }
            })
            .collect()
    }

    /// Panics, listing every trial that was not clean with its replay line.
    #[track_caller]
    pub fn assert_clean(&self) {
        let failures = self.failures();
        if failures.is_empty() {
            return;
        }
        let plan = &self.report.plan;
        let who = plan.rows.first().map_or("", |r| {
            r.label.strip_prefix("external:").unwrap_or(&r.label)
        });
        let mut msg = format!(
            "teardown check: {} of {} trials of `{who}` are not clean",
            failures.len(),
            self.report.cells.len()
        );
        if let Some(seed) = plan.seed {
            msg.push_str(&format!(" (random trees from seed {seed})"));
        }
        msg.push(':');
        for f in &failures {
            msg.push_str(&format!("\n  {f}"));
        }
        panic!("{msg}");
    }
}

#[cfg(test)]
mod tests {
    use teardown::Method;

    use super::*;
    use crate::matrix::run_with;
    use crate::matrix::{Column, Judge, Row};
    use crate::trial::{Supervisor, Trial};

    fn one_row_report(verdicts: &[(&str, Verdict)]) -> CheckReport {
        let mut plan = crate::matrix::run::tests::fake_plan(&[Method::Pidns], &[]);
        plan.rows = vec![Row {
            label: "external:my-sup --".into(),
            header: "my-sup".into(),
            supervisor: Supervisor::External(vec!["my-sup".into(), "--".into()]),
            argv: vec!["my-sup".into(), "--".into()],
            available: Ok(()),
            judge: Judge::Clean,
        }];
        let template = crate::matrix::run::tests::fake_plan(&[Method::Pidns], &["double-fork"])
            .columns[0]
            .clone();
        plan.columns = verdicts
            .iter()
            .map(|(name, _)| {
                let s = teardown_scenarios::by_name(name).unwrap();
                Column {
                    name: s.name.into(),
                    spec_text: s.spec.into(),
                    spec: s.spec.parse().unwrap(),
                    scenario: Some(s),
                    ..template.clone()
                }
            })
            .collect();
        let runner = |_: &Trial| crate::matrix::run::tests::outcome(Verdict::Clean, Some(10));
        let mut report = run_with(plan, &runner, &mut |_| {});
        for (cell, (_, v)) in report.cells.iter_mut().zip(verdicts) {
            cell.outcome = crate::matrix::run::tests::outcome(*v, Some(10));
        }
        CheckReport::from_report(report)
    }

    #[test]
    fn a_clean_report_passes_the_assertion() {
        let r = one_row_report(&[
            ("double-fork", Verdict::Clean),
            ("setsid-escape", Verdict::Clean),
        ]);
        assert!(r.is_clean());
        r.assert_clean();
    }

    #[test]
    fn a_failing_assertion_names_the_scenario_the_verdict_and_the_replay_line() {
        let r = one_row_report(&[
            ("double-fork", Verdict::Clean),
            ("setsid-escape", Verdict::Leak),
        ]);
        assert!(!r.is_clean());
        let msg = std::panic::catch_unwind(|| r.assert_clean()).unwrap_err();
        let msg = msg.downcast_ref::<String>().unwrap();
        assert!(
            msg.starts_with("teardown check: 1 of 2 trials of `my-sup --` are not clean:"),
            "{msg}"
        );
        assert!(msg.contains("setsid-escape: leak (1 survivor(s))"), "{msg}");
        assert!(
            msg.contains("replay: teardown replay --grace 250ms --deadline 3s --bystanders 1 'pause [fork: setsid pause]' -- my-sup --"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_scenarios_are_refused_with_the_valid_names() {
        let err = Check::new(["my-sup"])
            .scenarios(["no-such"])
            .options()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown scenario \"no-such\"") && err.contains("setsid-escape"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_supervisor_is_refused() {
        assert!(matches!(
            Check::new(Vec::<String>::new()).options(),
            Err(CheckError::NoSupervisor)
        ));
    }

    #[test]
    fn options_make_one_row_judged_clean() {
        let o = Check::new(["tini", "--"])
            .random(3)
            .seed(9)
            .jobs(1)
            .options()
            .unwrap();
        assert!(matches!(
            &o.rows[..],
            [RowSpec::External {
                expect_clean: true,
                ..
            }]
        ));
        assert_eq!((o.random, o.seed, o.jobs), (3, 9, 1));
        assert_eq!(o.scenarios.len(), teardown_scenarios::all().len());
    }
}
