//! Running a plan: every cell's trial, in parallel, with progress.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use teardown::Verdict;
use teardown_scenarios::Expect;

use crate::matrix::plan::Plan;
use crate::matrix::rows::Judge;
use crate::matrix::shard::Shard;
use crate::oracle;
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

/// A finished matrix, or the part of it one shard ran.
#[derive(Clone, Debug)]
pub struct Report {
    /// What was run.
    pub plan: Plan,
    /// The cells that were run, row-major: every cell of the plan, or the cells
    /// of its [`shard`](Plan::shard).
    pub cells: Vec<Cell>,
    /// Wall time of the whole run (of the longest shard, for a merged report).
    pub elapsed: Duration,
    /// The shards a merged report was made of ([`crate::matrix::merge`]); empty
    /// for a report run here.
    pub parts: Vec<Part>,
}

/// One shard of a merged report ([`Report::parts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Which shard (`None`: an unsharded run, merged alone).
    pub shard: Option<Shard>,
    /// The file it came from.
    pub file: String,
    /// Its cells.
    pub trials: usize,
    /// Its wall time.
    pub elapsed: Duration,
    /// Its trials run at once.
    pub jobs: usize,
    /// The kernel it ran on.
    pub kernel: String,
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
    ///
    /// # Panics
    ///
    /// If this report does not hold it (another shard ran it): see [`Report::get`].
    pub fn cell(&self, row: usize, col: usize) -> &Cell {
        self.get(row, col).unwrap_or_else(|| {
            panic!("cell ({row}, {col}) is not in this report (it is another shard's)")
        })
    }

    /// The cell at (`row`, `col`), if this report holds it.
    pub fn get(&self, row: usize, col: usize) -> Option<&Cell> {
        let ncols = self.plan.columns.len();
        if let Some(c) = self.cells.get(row * ncols + col)
            && (c.row, c.col) == (row, col)
        {
            return Some(c);
        }
        self.cells
            .binary_search_by_key(&(row, col), |c| (c.row, c.col))
            .ok()
            .map(|i| &self.cells[i])
    }

    /// Whether the run passed, which decides the exit status: no judged cell
    /// with an unexpected verdict; and when every row must be clean (`teardown
    /// check`), every cell `clean` (a supervisor that is not installed fails).
    pub fn passed(&self) -> bool {
        if self
            .plan
            .rows
            .iter()
            .all(|r| matches!(r.judge, Judge::Clean))
        {
            self.cells.iter().all(|c| c.verdict() == Verdict::Clean)
        } else {
            self.unexpected().next().is_none()
        }
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

/// Runs every cell of `plan` with [`crate::warden::run_trial`].
pub fn run(plan: Plan, on_progress: &mut dyn FnMut(&Progress)) -> Report {
    run_with(plan, &crate::warden::run_trial, on_progress)
}

/// Runs every cell of `plan` with `runner`, `plan.jobs` at a time, and no more
/// at once than their processes fit the machine's budget (`budget.rs`).
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
    let cells = plan.cells();
    let mut slots: Vec<Option<Cell>> = vec![None; plan.len()];
    let mut jobs = Vec::new();
    for &(r, c) in &cells {
        let expected = plan.expected(r, c);
        match &plan.rows[r].available {
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
    jobs.sort_by_key(|&(r, c)| std::cmp::Reverse(plan.estimated_cost(r, c)));

    let mut progress = Progress {
        done: cells.len() - jobs.len(),
        total: cells.len(),
        running: 0,
        unexpected: 0,
        elapsed: Duration::ZERO,
        last: None,
    };
    on_progress(&progress);

    let queue = Mutex::new(jobs.into_iter());
    let budget = super::budget::Budget::for_cores(
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let (tx, rx) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs {
            let tx = tx.clone();
            let queue = &queue;
            let plan = &plan;
            let budget = &budget;
            scope.spawn(move || {
                loop {
                    // Taken in queue order, with the queue held: a big tree waits
                    // for room first in line (see `budget.rs`).
                    let (next, permit) = {
                        let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
                        let Some((r, c)) = q.next() else { break };
                        let trial = plan.trial(r, c);
                        let weight = super::budget::weight(&trial.spec);
                        (
                            (r, c),
                            budget.acquire(weight, needs_calm(&trial.supervisor)),
                        )
                    };
                    let (r, c) = next;
                    if tx.send(Message::Started).is_err() {
                        break;
                    }
                    let trial = plan.trial(r, c);
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runner(&trial)))
                        .unwrap_or_else(|panic| errored(&panic_message(&panic)));
                    drop(permit);
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

    let cells = slots.into_iter().flatten().collect::<Vec<_>>();
    debug_assert_eq!(
        cells.len(),
        progress.total,
        "every cell is unsupported or was run"
    );
    Report {
        plan,
        cells,
        elapsed: start.elapsed(),
        parts: Vec::new(),
    }
}

enum Message {
    Started,
    Finished(usize, usize, Box<TrialOutcome>),
}

/// The outcome of a cell whose row cannot run here.
pub fn unsupported(reason: &str) -> TrialOutcome {
    oracle::bare_outcome(Verdict::Unsupported, reason)
}

/// The outcome of a trial that could not be run at all.
pub fn errored(reason: &str) -> TrialOutcome {
    oracle::error_outcome(reason)
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
pub(crate) mod tests;

/// Whether a trial's documented verdict hangs on timing (see `budget.rs`):
/// the weak methods' and the peers'.
fn needs_calm(supervisor: &crate::trial::Supervisor) -> bool {
    match supervisor {
        crate::trial::Supervisor::Method(m) => !m.is_escape_proof(),
        crate::trial::Supervisor::External(_) => true,
    }
}
