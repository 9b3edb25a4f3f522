//! What to run: the rows (supervisors), the columns (scenarios and random trees),
//! and what each cell is expected to be.

use std::time::Duration;

use teardown::{Method, Probe, Verdict};
use teardown_scenarios::{Expect, Scenario};

use crate::matrix::rows::{Judge, Row, RowSpec, resolve_rows};
use crate::matrix::shard::{Shard, deal};
use crate::matrix::spec_text;
use crate::spec::TreeSpec;
use crate::trial::{Trial, Trigger};

/// What any trial costs, spawning and judging (tens of milliseconds here).
const TRIAL_COST: Duration = Duration::from_millis(30);

/// Trial timings; the defaults are the ones the expectations are written for
/// ([`teardown_scenarios::timing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The supervisor's grace between SIGTERM and SIGKILL (method rows).
    pub grace: Duration,
    /// How long a process may outlive "done" and still be `early` (not a survivor).
    pub straggler_grace: Duration,
    /// How long the supervisor may take after the trigger before `hang`.
    pub deadline: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            grace: teardown_scenarios::timing::GRACE,
            straggler_grace: teardown_scenarios::timing::STRAGGLER_GRACE,
            deadline: teardown_scenarios::timing::DEADLINE,
        }
    }
}

/// One tree of the matrix.
#[derive(Clone, Debug)]
pub struct Column {
    /// The scenario name, or `random-<seed>-<i>`.
    pub name: String,
    /// The spec in canonical text form.
    pub spec_text: String,
    /// The spec.
    pub spec: TreeSpec,
    /// How this tree's teardown is triggered (unless the plan overrides it).
    pub trigger: Trigger,
    /// The catalog entry, for named scenarios.
    pub scenario: Option<&'static Scenario>,
}

/// Everything the matrix was asked to run, resolved.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Supervisors, in print order: methods, then peers, then other externals.
    pub rows: Vec<Row>,
    /// Trees, in print order: scenarios, then random trees.
    pub columns: Vec<Column>,
    /// Trial timings.
    pub timing: Timing,
    /// Trials run at once.
    pub jobs: usize,
    /// The seed of the random trees (`None` when there are none).
    pub seed: Option<u64>,
    /// Bystanders per trial.
    pub bystanders: u32,
    /// A trigger that replaces every column's own (`check --trigger`).
    pub trigger: Option<Trigger>,
    /// The host probe the rows' availability came from.
    pub probe: Probe,
    /// Run only this part of the cells ([`Plan::cells`]); `None`: all of them.
    pub shard: Option<Shard>,
}

/// What the user asked for, before resolution.
#[derive(Clone, Debug)]
pub struct Options {
    /// Rows, in order.
    pub rows: Vec<RowSpec>,
    /// Named scenarios, in order.
    pub scenarios: Vec<&'static Scenario>,
    /// How many random trees to add.
    pub random: u32,
    /// Their seed.
    pub seed: u64,
    /// Trial timings.
    pub timing: Timing,
    /// Trials run at once (at least 1).
    pub jobs: usize,
    /// A trigger for every trial instead of each tree's own.
    pub trigger: Option<Trigger>,
    /// Bystanders per trial.
    pub bystanders: u32,
    /// Run only this part of the cells (see [`crate::matrix::shard`]).
    pub shard: Option<Shard>,
}

impl Options {
    /// Every method × every scenario, default timings, no random trees, one job per
    /// core.
    pub fn new() -> Options {
        Options {
            rows: Method::ALL.into_iter().map(RowSpec::Method).collect(),
            scenarios: teardown_scenarios::all().iter().collect(),
            random: 0,
            seed: 0,
            timing: Timing::default(),
            jobs: default_jobs(),
            trigger: None,
            bystanders: 1,
            shard: None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

/// Trials run at once by default. A trial mostly waits (readiness, a grace, a
/// straggler window) and uses little CPU, so concurrency follows what the machine
/// can hold, not its cores: [`JOBS_PER_CORE`] per core, fewer if memory
/// (half of `MemAvailable`, at [`TRIAL_MEMORY`] a trial) or room for processes
/// (half of what `kernel.threads-max` leaves, at [`TRIAL_PROCESSES`] a trial)
/// allows fewer; never fewer than one per core.
pub fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let mem_avail = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024);
    let threads_max = read("/proc/sys/kernel/threads-max")
        .trim()
        .parse::<u64>()
        .ok();
    budget_jobs(cores, mem_avail, threads_max)
}

/// Trials at once per core, when nothing else limits: thirty-two, what the
/// process budget lets small trees reach (`budget.rs`). The trials whose
/// verdict hangs on timing (the weak methods', the peers') still run with at
/// most eight per core beside them: at sixteen per core for every trial, the
/// timing scenarios' own processes (a 256 MiB `slow-exit` to touch and free, a
/// 500 ms `exit-after` inside a 1 s straggler grace) got too little CPU, and 1
/// default matrix in 3 had a cell off its expectation.
pub const JOBS_PER_CORE: usize = 32;
/// Memory set aside per concurrent trial by [`default_jobs`].
pub const TRIAL_MEMORY: u64 = 64 << 20;
/// Processes set aside per concurrent trial by [`default_jobs`].
pub const TRIAL_PROCESSES: u64 = 200;

/// [`default_jobs`] from the facts (`None`: unknown, not a limit).
pub fn budget_jobs(cores: usize, mem_avail: Option<u64>, threads_max: Option<u64>) -> usize {
    let by_cores = cores * JOBS_PER_CORE;
    let by_mem = mem_avail.map_or(usize::MAX, |m| (m / 2 / TRIAL_MEMORY) as usize);
    let by_procs = threads_max.map_or(usize::MAX, |t| (t / 2 / TRIAL_PROCESSES) as usize);
    by_cores.min(by_mem).min(by_procs).max(cores)
}

/// The plan could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A catalog spec does not parse: a bug in the catalog or the parser.
    #[error("scenario {name}: spec does not parse: {message}")]
    BadScenarioSpec {
        /// The scenario.
        name: String,
        /// The parser's message.
        message: String,
    },
    /// Random trees could not be generated.
    #[error("random trees: {0}")]
    Random(String),
    /// Nothing to run.
    #[error("nothing to run: no supervisors or no trees selected")]
    Empty,
}

impl Plan {
    /// Resolves `options` against this host's `probe`.
    pub fn new(options: Options, probe: Probe) -> Result<Plan, PlanError> {
        let mut columns = Vec::new();
        for s in &options.scenarios {
            let spec = spec_text::parse(s.spec).map_err(|message| PlanError::BadScenarioSpec {
                name: s.name.to_owned(),
                message,
            })?;
            columns.push(Column {
                name: s.name.to_owned(),
                spec_text: spec_text::print(&spec),
                spec,
                trigger: trigger_of(s.trigger),
                scenario: Some(s),
            });
        }
        let seed = (options.random > 0).then_some(options.seed);
        let random =
            super::random::specs(options.seed, options.random).map_err(PlanError::Random)?;
        for (i, (spec, trigger)) in random.into_iter().enumerate() {
            columns.push(Column {
                name: format!("random-{}-{i}", options.seed),
                spec_text: spec_text::print(&spec),
                spec,
                trigger,
                scenario: None,
            });
        }
        let rows = resolve_rows(&options.rows, &probe);
        if rows.is_empty() || columns.is_empty() {
            return Err(PlanError::Empty);
        }
        Ok(Plan {
            rows,
            columns,
            timing: options.timing,
            jobs: options.jobs.max(1),
            seed,
            bystanders: options.bystanders,
            trigger: options.trigger,
            probe,
            shard: options.shard,
        })
    }

    /// The trial of one cell.
    pub fn trial(&self, row: usize, col: usize) -> Trial {
        let c = &self.columns[col];
        Trial {
            supervisor: self.rows[row].supervisor.clone(),
            spec: c.spec.clone(),
            trigger: self.trigger_of(col),
            grace: self.grace_of(row),
            straggler_grace: self.timing.straggler_grace,
            deadline: self.deadline_of(row),
            bystanders: self.bystanders,
        }
    }

    /// How long a row's supervisor may take after the trigger: `--deadline`, plus
    /// twice a known peer's own grace (supervisord's SIGKILL comes on its next
    /// one-second tick after `stopwaitsecs`).
    pub fn deadline_of(&self, row: usize) -> Duration {
        match &self.rows[row].judge {
            Judge::Peer(p) => self.timing.deadline + 2 * p.grace,
            _ => self.timing.deadline,
        }
    }

    /// The grace a row's trials give (and `grace-cut` holds the supervisor to): a
    /// known peer's own ([`teardown_scenarios::Peer::grace`]), else `--grace`.
    pub fn grace_of(&self, row: usize) -> Duration {
        match &self.rows[row].judge {
            Judge::Peer(p) => p.grace,
            _ => self.timing.grace,
        }
    }

    /// The trigger a column's trials use.
    pub fn trigger_of(&self, col: usize) -> Trigger {
        self.trigger.unwrap_or(self.columns[col].trigger)
    }

    /// What a cell is expected to be; `None` when it is not judged.
    pub fn expected(&self, row: usize, col: usize) -> Option<Expect> {
        let scenario = self.columns[col].scenario;
        match (self.rows[row].judge, scenario) {
            (Judge::Method(m), Some(s)) => Some(s.expected(m)),
            (Judge::Method(m), None) => m.is_escape_proof().then(Expect::clean),
            (Judge::Peer(p), Some(s)) => p.expected(s.name),
            (Judge::Peer(_), None) => None,
            (Judge::Clean, _) => Some(Expect::clean()),
            (Judge::Unjudged, _) => None,
        }
    }

    /// The command line that replays one cell, exactly runnable:
    /// `teardown replay --method killpg --grace 250ms 'pause [fork: setsid pause]'` or
    /// `teardown replay 'SPEC' -- tini --` ([`crate::replay::line`]: options only
    /// where they differ from `replay`'s defaults).
    pub fn replay(&self, row: usize, col: usize) -> String {
        crate::replay::line(&self.trial(row, col))
    }

    /// The cells to run here, as (row, column), row-major: every cell, or the
    /// plan's [`shard`](Plan::shard) of them.
    pub fn cells(&self) -> Vec<(usize, usize)> {
        match self.shard {
            None => self.all_cells().collect(),
            Some(shard) => self.cells_of(shard),
        }
    }

    /// The cells `shard` runs, row-major ([`crate::matrix::shard::deal`] by
    /// [`Plan::estimated_cost`]).
    pub fn cells_of(&self, shard: Shard) -> Vec<(usize, usize)> {
        let all: Vec<(usize, usize)> = self.all_cells().collect();
        let costs: Vec<u64> = all
            .iter()
            .map(|&(r, c)| self.estimated_cost(r, c).as_micros() as u64)
            .collect();
        let owner = deal(&costs, shard.count());
        all.into_iter()
            .zip(owner)
            .filter(|&(_, s)| s + 1 == shard.index())
            .map(|(cell, _)| cell)
            .collect()
    }

    fn all_cells(&self) -> impl Iterator<Item = (usize, usize)> + use<> {
        let ncols = self.columns.len();
        (0..self.rows.len()).flat_map(move |r| (0..ncols).map(move |c| (r, c)))
    }

    /// How long a cell will likely take: a trial's own cost, plus the deadline
    /// for an expected `hang`, the straggler grace for a `leak`, half of it for a
    /// `early`, and a little per byte of spec (bigger trees take longer to
    /// spawn). For scheduling and dealing cells to shards only; it depends on the
    /// plan alone, never on the host.
    pub fn estimated_cost(&self, row: usize, col: usize) -> Duration {
        let t = self.timing;
        let base = match self.expected(row, col).map(|e| e.verdicts()[0]) {
            Some(Verdict::Hang) => self.deadline_of(row),
            Some(Verdict::Leak) => t.straggler_grace,
            Some(Verdict::Early) => t.straggler_grace / 2,
            _ => Duration::ZERO,
        };
        TRIAL_COST + base + Duration::from_micros(self.columns[col].spec_text.len() as u64 * 20)
    }

    /// How many cells in the whole plan (every shard's).
    pub fn len(&self) -> usize {
        self.rows.len() * self.columns.len()
    }

    /// True if there are no cells (never, for a plan [`Plan::new`] built).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The harness's trigger for a catalog trigger (same words).
pub fn trigger_of(t: teardown_scenarios::Trigger) -> Trigger {
    match t {
        teardown_scenarios::Trigger::Sigterm => Trigger::Sigterm,
        teardown_scenarios::Trigger::Sigint => Trigger::Sigint,
        teardown_scenarios::Trigger::Timeout => Trigger::Timeout,
        teardown_scenarios::Trigger::LeaderExit => Trigger::LeaderExit,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn default_jobs_follow_cores_then_memory_then_processes() {
        let gib = 1u64 << 30;
        assert_eq!(budget_jobs(2, None, None), 2 * JOBS_PER_CORE);
        assert_eq!(budget_jobs(2, Some(24 * gib), Some(200_000)), 64);
        // 1 GiB available: half of it at 64 MiB a trial.
        assert_eq!(budget_jobs(8, Some(gib), None), 8);
        assert_eq!(budget_jobs(2, Some(gib), None), 8);
        // 4,000 threads allowed: half of it at 200 a trial.
        assert_eq!(budget_jobs(4, None, Some(4_000)), 10);
        // Never under one per core.
        assert_eq!(budget_jobs(4, Some(1 << 20), Some(10)), 4);
    }

    #[test]
    fn every_catalog_spec_parses_and_is_written_in_canonical_form() {
        for s in teardown_scenarios::all() {
            let spec = spec_text::parse(s.spec).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(
                spec_text::print(&spec),
                s.spec,
                "{} is not in canonical form",
                s.name
            );
        }
    }

    #[cfg(feature = "proptest")]
    mod shards {
        use std::collections::BTreeSet;

        use proptest::prelude::*;
        use proptest::sample::subsequence;
        use teardown::Method;

        use crate::matrix::run::tests::fake_plan;
        use crate::matrix::shard::Shard;

        fn names() -> Vec<&'static str> {
            teardown_scenarios::all().iter().map(|s| s.name).collect()
        }

        proptest! {
            #[test]
            fn the_shards_of_a_plan_are_disjoint_cover_it_and_ignore_jobs_and_hosts(
                methods in subsequence(Method::ALL.to_vec(), 0..=Method::ALL.len()),
                scenarios in subsequence(names(), 0..=names().len()),
                count in 1u32..9,
                jobs in 1usize..9,
            ) {
                let plan = fake_plan(&methods, &scenarios);
                let all: BTreeSet<(usize, usize)> = plan.cells().into_iter().collect();
                prop_assert_eq!(all.len(), plan.len());
                let mut elsewhere = plan.clone();
                elsewhere.jobs = jobs;
                for row in &mut elsewhere.rows {
                    row.available = Err("not on this host".into());
                }
                let mut seen = BTreeSet::new();
                for shard in Shard::all(count) {
                    let mine = plan.cells_of(shard);
                    prop_assert_eq!(&mine, &elsewhere.cells_of(shard));
                    let mut sharded = plan.clone();
                    sharded.shard = Some(shard);
                    prop_assert_eq!(&mine, &sharded.cells());
                    prop_assert!(mine.windows(2).all(|w| w[0] < w[1]), "row-major");
                    for cell in mine {
                        prop_assert!(seen.insert(cell), "{:?} is in two shards", cell);
                    }
                }
                prop_assert_eq!(seen, all);
            }
        }
    }
}
