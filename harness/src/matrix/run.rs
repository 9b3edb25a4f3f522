//! Running a plan: every cell's trial, in parallel, with progress.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use teardown::Verdict;
use teardown_scenarios::Expect;

use crate::matrix::plan::Plan;
use crate::trial::{Trial, TrialOutcome};

/// One cell: a trial's outcome and what it was expected to be.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Row index in the plan.
    pub row: usize,
    /// Column index in the plan.
    pub col: usize,
    /// The oracle's findings (fabricated `unsupported` for rows that cannot run).
    pub outcome: TrialOutcome,
    /// The expectation, if the cell is judged.
    pub expected: Option<Expect>,
    /// Whether the trial ran (false: its row cannot run here and the outcome is
    /// fabricated from the probe's reason).
    pub ran: bool,
}

impl Cell {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.outcome.verdict
    }

    /// Whether the verdict is the expected one; `None` when the cell is not judged,
    /// and for the `unsupported` cells of a row the probe found cannot run here (a
    /// host limitation, not a judgement). A trial that ran and came back
    /// `unsupported` although its row was probed available is unexpected: never a
    /// silent pass.
    pub fn as_expected(&self) -> Option<bool> {
        let e = self.expected?;
        if !self.ran
            && self.outcome.verdict == Verdict::Unsupported
            && !e.accepts(Verdict::Unsupported)
        {
            return None;
        }
        Some(e.accepts(self.outcome.verdict))
    }
}

/// A finished matrix.
#[derive(Clone, Debug)]
pub struct Report {
    /// What was run.
    pub plan: Plan,
    /// Every cell, row-major (`row * columns + col`).
    pub cells: Vec<Cell>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// Counts over a report.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Cells.
    pub trials: usize,
    /// Judged cells with the expected verdict.
    pub as_expected: usize,
    /// Judged cells with another verdict.
    pub unexpected: usize,
    /// Cells without an expectation (or `unsupported`).
    pub unjudged: usize,
    /// Cells per verdict word.
    pub by_verdict: BTreeMap<&'static str, usize>,
}

impl Report {
    /// The cell at (`row`, `col`).
    pub fn cell(&self, row: usize, col: usize) -> &Cell {
        &self.cells[row * self.plan.columns.len() + col]
    }

    /// The cells whose verdict is not the expected one.
    pub fn unexpected(&self) -> impl Iterator<Item = &Cell> {
        self.cells.iter().filter(|c| c.as_expected() == Some(false))
    }

    /// Counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            trials: self.cells.len(),
            ..Summary::default()
        };
        for c in &self.cells {
            match c.as_expected() {
                Some(true) => s.as_expected += 1,
                Some(false) => s.unexpected += 1,
                None => s.unjudged += 1,
            }
            *s.by_verdict.entry(c.verdict().as_str()).or_default() += 1;
        }
        s
    }
}

/// Where a run is, for a progress line.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Cells finished.
    pub done: usize,
    /// Cells in all.
    pub total: usize,
    /// Trials running now.
    pub running: usize,
    /// Unexpected verdicts so far.
    pub unexpected: usize,
    /// Time since the start.
    pub elapsed: Duration,
    /// The last cell that finished: (row label, column name, verdict).
    pub last: Option<(String, String, Verdict)>,
}

/// Runs every cell of `plan` with [`crate::trial::run_trial`].
pub fn run(plan: Plan, on_progress: &mut dyn FnMut(&Progress)) -> Report {
    run_with(plan, &crate::trial::run_trial, on_progress)
}

/// Runs every cell of `plan` with `runner`, `plan.jobs` at a time.
///
/// Rows that cannot run here get a fabricated `unsupported` outcome with the reason.
/// A runner that panics gets the cell an `error` verdict with the panic message.
/// The longest trials are started first (an expected `hang` lasts the deadline, a
/// `leak` the straggler grace), so the tail of the run is not one slow trial.
pub fn run_with(
    plan: Plan,
    runner: &(dyn Fn(&Trial) -> TrialOutcome + Sync),
    on_progress: &mut dyn FnMut(&Progress),
) -> Report {
    let start = Instant::now();
    let ncols = plan.columns.len();
    let mut slots: Vec<Option<Cell>> = vec![None; plan.len()];
    let mut jobs = Vec::new();
    for (r, row) in plan.rows.iter().enumerate() {
        for c in 0..ncols {
            let expected = plan.expected(r, c);
            match &row.available {
                Ok(()) => jobs.push((r, c)),
                Err(reason) => {
                    slots[r * ncols + c] = Some(Cell {
                        row: r,
                        col: c,
                        outcome: unsupported(reason),
                        expected,
                        ran: false,
                    });
                }
            }
        }
    }
    jobs.sort_by_key(|&(r, c)| std::cmp::Reverse(estimated_cost(&plan, r, c)));

    let mut progress = Progress {
        done: plan.len() - jobs.len(),
        total: plan.len(),
        running: 0,
        unexpected: 0,
        elapsed: Duration::ZERO,
        last: None,
    };
    on_progress(&progress);

    let queue = Mutex::new(jobs.into_iter());
    let (tx, rx) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs {
            let tx = tx.clone();
            let queue = &queue;
            let plan = &plan;
            scope.spawn(move || {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((r, c)) = next else { break };
                    if tx.send(Message::Started).is_err() {
                        break;
                    }
                    let trial = plan.trial(r, c);
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runner(&trial)))
                        .unwrap_or_else(|panic| errored(&panic_message(&panic)));
                    if tx.send(Message::Finished(r, c, Box::new(outcome))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for msg in rx {
            match msg {
                Message::Started => progress.running += 1,
                Message::Finished(r, c, outcome) => {
                    progress.running -= 1;
                    progress.done += 1;
                    let cell = Cell {
                        row: r,
                        col: c,
                        outcome: *outcome,
                        expected: plan.expected(r, c),
                        ran: true,
                    };
                    if cell.as_expected() == Some(false) {
                        progress.unexpected += 1;
                    }
                    progress.last = Some((
                        plan.rows[r].label.clone(),
                        plan.columns[c].name.clone(),
                        cell.verdict(),
                    ));
                    slots[r * ncols + c] = Some(cell);
                }
            }
            progress.elapsed = start.elapsed();
            on_progress(&progress);
        }
    });

    let cells = slots
        .into_iter()
        .map(|c| c.expect("every cell is either unsupported or was run"))
        .collect();
    Report {
        plan,
        cells,
        elapsed: start.elapsed(),
    }
}

enum Message {
    Started,
    Finished(usize, usize, Box<TrialOutcome>),
}

/// How long a cell will likely take, for scheduling only.
fn estimated_cost(plan: &Plan, row: usize, col: usize) -> Duration {
    let t = plan.timing;
    let base = match plan.expected(row, col).map(|e| e.verdicts()[0]) {
        Some(Verdict::Hang) => t.deadline,
        Some(Verdict::Leak) => t.straggler_grace,
        Some(Verdict::Straggler) => t.straggler_grace / 2,
        _ => Duration::ZERO,
    };
    // Bigger trees take longer to spawn: the spec text is a fair proxy.
    base + Duration::from_micros(plan.columns[col].spec_text.len() as u64 * 20)
}

/// The outcome of a cell whose row cannot run here.
pub fn unsupported(reason: &str) -> TrialOutcome {
    blank(Verdict::Unsupported, reason)
}

/// The outcome of a trial that could not be run at all.
pub fn errored(reason: &str) -> TrialOutcome {
    blank(Verdict::Error, reason)
}

fn blank(verdict: Verdict, detail: &str) -> TrialOutcome {
    TrialOutcome {
        verdict,
        detail: Some(detail.to_owned()),
        survivors: 0,
        stragglers: 0,
        dying: 0,
        zombies: 0,
        bystanders_killed: 0,
        report: None,
        drain: None,
        elapsed: Duration::ZERO,
        nodes: Vec::new(),
        findings: Vec::new(),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("the trial panicked: {text}")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use teardown::Method;

    use super::*;
    use crate::matrix::plan::{Column, Timing};
    use crate::matrix::rows::tests::fake_probe;
    use crate::matrix::rows::{Judge, Row};
    use crate::trial::Supervisor;

    /// A plan over fabricated columns (no parser needed): `methods` × the named
    /// catalog scenarios, with their spec text kept as is.
    pub(crate) fn fake_plan(methods: &[Method], scenarios: &[&str]) -> Plan {
        let probe = fake_probe();
        let rows = methods
            .iter()
            .map(|&m| {
                let available = match probe
                    .methods
                    .iter()
                    .find(|(pm, _)| *pm == m)
                    .unwrap()
                    .1
                    .clone()
                {
                    teardown::Availability::Available => Ok(()),
                    teardown::Availability::Unsupported { reason } => Err(reason),
                };
                Row {
                    label: Supervisor::Method(m).label(),
                    header: m.name().to_owned(),
                    supervisor: Supervisor::Method(m),
                    argv: Vec::new(),
                    available,
                    judge: Judge::Method(m),
                }
            })
            .collect();
        let columns = scenarios
            .iter()
            .map(|name| {
                let s = teardown_scenarios::by_name(name).unwrap();
                Column {
                    name: s.name.to_owned(),
                    spec_text: s.spec.to_owned(),
                    spec: s.spec.parse().unwrap(),
                    trigger: crate::matrix::plan::trigger_of(s.trigger),
                    scenario: Some(s),
                }
            })
            .collect();
        Plan {
            rows,
            columns,
            timing: Timing::default(),
            jobs: 2,
            seed: None,
            bystanders: 1,
            trigger: None,
            probe,
        }
    }

    pub(crate) fn outcome(verdict: Verdict, drain_us: Option<u64>) -> TrialOutcome {
        let mut o = blank(verdict, "fabricated");
        o.detail = None;
        o.drain = drain_us.map(Duration::from_micros);
        o.elapsed = Duration::from_millis(12);
        o.survivors = u32::from(verdict == Verdict::Leak);
        o
    }

    #[test]
    fn every_cell_is_run_once_and_unsupported_rows_are_not_run() {
        let plan = fake_plan(
            &[Method::Leader, Method::Cgroup, Method::Pidns],
            &["setsid-escape", "double-fork"],
        );
        let calls = AtomicUsize::new(0);
        let runner = |t: &Trial| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert_ne!(t.supervisor, Supervisor::Method(Method::Cgroup));
            outcome(Verdict::Clean, Some(100))
        };
        let mut seen = Vec::new();
        let report = run_with(plan, &runner, &mut |p| seen.push((p.done, p.total)));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(report.cells.len(), 6);
        assert_eq!(report.cell(1, 0).verdict(), Verdict::Unsupported);
        assert_eq!(
            report.cell(1, 0).outcome.detail.as_deref(),
            Some("no writable cgroup2 here")
        );
        assert_eq!(report.cell(1, 0).as_expected(), None);
        assert_eq!(seen.first(), Some(&(2, 6)));
        assert_eq!(seen.last(), Some(&(6, 6)));
    }

    #[test]
    fn a_weak_method_that_comes_back_clean_where_it_must_leak_is_unexpected() {
        let plan = fake_plan(&[Method::Killpg, Method::Pidns], &["setsid-escape"]);
        let report = run_with(
            plan,
            &|_: &Trial| outcome(Verdict::Clean, Some(100)),
            &mut |_| {},
        );
        assert_eq!(report.cell(0, 0).as_expected(), Some(false));
        assert_eq!(report.cell(1, 0).as_expected(), Some(true));
        let s = report.summary();
        assert_eq!(
            (s.trials, s.as_expected, s.unexpected, s.unjudged),
            (2, 1, 1, 0)
        );
        assert_eq!(s.by_verdict.get("clean"), Some(&2));
    }

    #[test]
    fn an_available_row_whose_trial_comes_back_unsupported_is_unexpected() {
        let plan = fake_plan(&[Method::Pidns, Method::Cgroup], &["double-fork"]);
        let report = run_with(
            plan,
            &|_: &Trial| unsupported("pidns: cannot create a PID namespace"),
            &mut |_| {},
        );
        // pidns was probed available and ran: its unsupported is a surprise.
        assert!(report.cell(0, 0).ran);
        assert_eq!(report.cell(0, 0).as_expected(), Some(false));
        // cgroup was probed unsupported and never ran: not judged.
        assert!(!report.cell(1, 0).ran);
        assert_eq!(report.cell(1, 0).as_expected(), None);
        let s = report.summary();
        assert_eq!((s.unexpected, s.unjudged), (1, 1));
    }

    #[test]
    fn a_panicking_runner_gives_an_error_verdict_not_a_crash() {
        let plan = fake_plan(&[Method::Pidns], &["double-fork"]);
        let report = run_with(plan, &|_: &Trial| panic!("engine not ready"), &mut |_| {});
        let cell = report.cell(0, 0);
        assert_eq!(cell.verdict(), Verdict::Error);
        assert!(
            cell.outcome
                .detail
                .as_deref()
                .unwrap()
                .contains("engine not ready")
        );
        assert_eq!(cell.as_expected(), Some(false));
    }

    #[test]
    fn the_longest_expected_trials_are_started_first() {
        let mut plan = fake_plan(
            &[Method::Pidns, Method::Subreaper],
            &["double-fork", "setsid-escape"],
        );
        plan.jobs = 1;
        let order = Mutex::new(Vec::new());
        let runner = |t: &Trial| {
            order.lock().unwrap().push(t.supervisor.clone());
            outcome(Verdict::Clean, None)
        };
        run_with(plan, &runner, &mut |_| {});
        // subreaper × setsid-escape is an expected hang: it goes first.
        assert_eq!(
            order.lock().unwrap()[0],
            Supervisor::Method(Method::Subreaper)
        );
    }
}
