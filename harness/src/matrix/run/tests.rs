//! Running plans with fabricated outcomes; the fake plans other modules' tests use.

use std::sync::atomic::{AtomicUsize, Ordering};

use teardown::Method;

use super::*;
use crate::matrix::plan::{Column, Timing};
use crate::matrix::rows::method_row;
use crate::matrix::rows::tests::fake_probe;
use crate::trial::Supervisor;

/// A plan over fabricated columns (no parser needed): `methods` × the named
/// catalog scenarios, with their spec text kept as is.
pub(crate) fn fake_plan(methods: &[Method], scenarios: &[&str]) -> Plan {
    let probe = fake_probe();
    let rows = methods.iter().map(|&m| method_row(m, &probe)).collect();
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
        shard: None,
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

#[test]
fn a_shard_runs_only_its_cells_and_the_report_holds_only_those() {
    let mut plan = fake_plan(
        &[Method::Leader, Method::Cgroup, Method::Pidns],
        &["setsid-escape", "double-fork", "stopped"],
    );
    let shard = crate::matrix::Shard::new(2, 3).unwrap();
    let mine = plan.cells_of(shard);
    plan.shard = Some(shard);
    let calls = AtomicUsize::new(0);
    let runner = |_: &Trial| {
        calls.fetch_add(1, Ordering::SeqCst);
        outcome(Verdict::Clean, Some(10))
    };
    let mut totals = Vec::new();
    let report = run_with(plan, &runner, &mut |p| totals.push(p.total));
    let got: Vec<(usize, usize)> = report.cells.iter().map(|c| (c.row, c.col)).collect();
    assert_eq!(got, mine);
    assert!(totals.iter().all(|&t| t == mine.len()));
    let ran = mine.iter().filter(|&&(r, _)| r != 1).count();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        ran,
        "cgroup cells are not run"
    );
    for r in 0..3 {
        for c in 0..3 {
            assert_eq!(report.get(r, c).is_some(), mine.contains(&(r, c)));
        }
    }
    assert_eq!(report.summary().trials, mine.len());
}
