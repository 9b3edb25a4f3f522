//! The supervisor's promises, judged from facts the warden gathered: how it
//! exited (`bad-exit`, `supervisor-killed`), how the watched processes that died
//! before done died (`grace-cut`, `false-report`). Pure functions, so each rule
//! is tested against hand-made facts.

use std::time::{Duration, Instant};

use crate::oracle::{FindingKind, Judgement};
use crate::trial::Trigger;
use crate::wire::RunReport;

/// A watched tree process that died before the supervisor said done.
#[derive(Clone, Debug)]
pub(super) struct Death {
    pub pid: i32,
    pub node: Option<u32>,
    /// In a PID namespace the tree made (below a `userns` node): the kernel
    /// SIGKILLs it when that namespace's init dies, whatever the supervisor does.
    /// Neither rule holds the supervisor to it.
    pub nested: bool,
    /// What its `graceful=D` needs after SIGTERM, when SIGTERM is what it handles.
    pub graceful: Option<Duration>,
    /// From the trigger to its death (as the warden saw its pidfd turn readable);
    /// from the supervisor's first kill signal if the tree made it start before
    /// the trigger.
    pub after_trigger: Duration,
    /// It died of SIGKILL (its exit status, kept by its pidfd).
    pub sigkill: bool,
    /// It wrote its "finished gracefully" record.
    pub finished: bool,
}

/// `grace-cut`: a graceful node that needs less than `grace` (the grace the
/// supervisor gives, or promises) was SIGKILLed sooner after the trigger than it
/// needs, and so before it could finish. `false-report`: the drain report says `escalated: false`
/// (`escalated`: `None` when there is no drain report) but a process of the tree
/// (not nested) died of SIGKILL before done. The other direction (`true` with
/// nothing SIGKILLed) is not judged: a process forked after readiness is not
/// watched, and the group methods cannot tell (see `DrainReport::escalated`).
pub(super) fn judge_deaths(
    deaths: &[Death],
    grace: Duration,
    escalated: Option<bool>,
    j: &mut Judgement,
) {
    for d in deaths
        .iter()
        .filter(|d| d.sigkill && !d.finished && !d.nested)
    {
        let Some(needs) = d.graceful else { continue };
        // SIGKILLed before even `needs` had passed since the trigger: whenever its
        // SIGTERM came, it could not have finished. (Killed later, inside the
        // grace, it may have had its SIGTERM late: not attributable.)
        if needs < grace && d.after_trigger < needs {
            j.add(
                FindingKind::GraceCut,
                d.pid,
                d.node,
                format!(
                    "needs {needs:?} after SIGTERM; SIGKILLed {:.1} ms after the trigger, within the grace of {grace:?}",
                    d.after_trigger.as_secs_f64() * 1e3
                ),
            );
        }
    }
    if escalated == Some(false)
        && let Some(d) = deaths.iter().find(|d| d.sigkill && !d.nested)
    {
        j.add(
            FindingKind::FalseReport,
            d.pid,
            d.node,
            "the drain report says escalated: false, but this process died of SIGKILL before done",
        );
    }
}

/// Where [`Death::after_trigger`] counts from: the trigger, or, when the tree
/// started the teardown before it, the supervisor's first kill signal (`done_at`
/// less its report's drain latency, `drain`). `teardown run` tears down on a
/// SIGINT from anyone, and a tree that sends its ancestors SIGINT
/// (`kill-ancestors=int`, `upward`) reaches it under the methods that do not
/// hide it: its grace then began before the trigger, and a graceful node
/// SIGKILLed at the end of that grace, less than its time after the trigger,
/// was given it all the same (seen: `proc-walk`, seed 4 of the random trees, 1
/// trial in 3). Without upward traits nothing but the trigger starts a
/// teardown, and the report's word is not taken for it.
pub(super) fn grace_from(
    trigger_at: Instant,
    done_at: Instant,
    drain: Option<Duration>,
    upward: bool,
) -> Instant {
    match drain
        .filter(|_| upward)
        .and_then(|d| done_at.checked_sub(d))
    {
        Some(began) => began.min(trigger_at),
        None => trigger_at,
    }
}

/// The signal the trigger sends the supervisor, if it sends one.
fn trigger_signal(trigger: Trigger) -> Option<i32> {
    match trigger {
        Trigger::Sigterm => Some(libc::SIGTERM),
        Trigger::Sigint => Some(libc::SIGINT),
        Trigger::Timeout | Trigger::LeaderExit => None,
    }
}

/// `supervisor-killed`: the supervisor died of a signal that is not the
/// trigger's, from a tree that signals its ancestors (`upward`). Without upward
/// traits nothing of the tree signals the supervisor: a signal death is its own
/// doing (`timeout -k` SIGKILLs its own group, itself included, as documented).
pub(super) fn supervisor_killed(
    killed_by: Option<i32>,
    trigger: Trigger,
    upward: bool,
) -> Option<String> {
    let sig = killed_by?;
    (upward && Some(sig) != trigger_signal(trigger))
        .then(|| format!("the supervisor died of signal {sig}, which its tree sends up"))
}

/// What `teardown run` promises to exit with after `report`: 124 after its own
/// `--timeout`; the leader's status; 128+n for the signal n that stopped it when
/// the leader's status is unknown; 2 when the method is unsupported; 125 when it
/// failed. `None` when it promises nothing checkable.
pub(super) fn promised_exit(trigger: Trigger, report: &RunReport) -> Option<(i32, String)> {
    Some(match report {
        RunReport::Drained(d) => match (trigger, d.leader_status) {
            (Trigger::Timeout, _) => (124, "124 after its --timeout".to_owned()),
            (_, Some(s)) => (s, format!("the leader's status, {s}")),
            (_, None) => {
                let sig = trigger_signal(trigger)?;
                (
                    128 + sig,
                    format!("128+{sig} for the signal that stopped it"),
                )
            }
        },
        RunReport::Unsupported { .. } => (2, "2 when the method is unsupported".to_owned()),
        RunReport::Failed { .. } => (125, "125 when it failed".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use teardown::Verdict;

    use super::*;

    fn death(graceful: Option<u64>, after_ms: u64, sigkill: bool) -> Death {
        Death {
            pid: 10,
            node: Some(1),
            nested: false,
            graceful: graceful.map(Duration::from_millis),
            after_trigger: Duration::from_millis(after_ms),
            sigkill,
            finished: false,
        }
    }

    fn judged(deaths: &[Death], grace_ms: u64, escalated: Option<bool>) -> Judgement {
        let mut j = Judgement::clean();
        judge_deaths(deaths, Duration::from_millis(grace_ms), escalated, &mut j);
        j
    }

    #[test]
    fn a_graceful_node_sigkilled_inside_the_grace_is_grace_cut() {
        let j = judged(&[death(Some(300), 2, true)], 2000, Some(true));
        assert_eq!(j.verdict, Verdict::GraceCut);
        assert_eq!(j.findings[0].node, Some(1));
    }

    #[test]
    fn the_grace_is_not_cut_when_it_ran_out_or_the_node_needs_more_or_finished() {
        // SIGKILLed once the grace was over: the node was slow, not cut.
        assert_eq!(
            judged(&[death(Some(300), 2001, true)], 2000, None).verdict,
            Verdict::Clean
        );
        // SIGKILLed after its 300 ms but inside the grace: its SIGTERM may have
        // come late (a walk that took time), so not judged a cut.
        assert_eq!(
            judged(&[death(Some(300), 400, true)], 2000, None).verdict,
            Verdict::Clean
        );
        // Needs more than the grace: SIGKILL is what the grace is for.
        assert_eq!(
            judged(&[death(Some(3000), 2, true)], 2000, None).verdict,
            Verdict::Clean
        );
        // It finished (its record), then died: not cut.
        let mut d = death(Some(300), 400, true);
        d.finished = true;
        assert_eq!(judged(&[d], 2000, None).verdict, Verdict::Clean);
        // Died of its own accord.
        assert_eq!(
            judged(&[death(Some(300), 300, false)], 2000, None).verdict,
            Verdict::Clean
        );
        // No grace promised: nothing to cut.
        assert_eq!(
            judged(&[death(Some(300), 2, true)], 0, None).verdict,
            Verdict::Clean
        );
    }

    #[test]
    fn escalated_false_with_a_sigkilled_process_is_a_false_report() {
        let j = judged(&[death(None, 5, true)], 250, Some(false));
        assert_eq!(j.verdict, Verdict::FalseReport);
        assert_eq!(j.count(FindingKind::FalseReport), 1);
        // True, or no drain report: nothing to check.
        assert_eq!(
            judged(&[death(None, 5, true)], 250, Some(true)).verdict,
            Verdict::Clean
        );
        assert_eq!(
            judged(&[death(None, 5, true)], 250, None).verdict,
            Verdict::Clean
        );
        // Nobody SIGKILLed: false is true.
        assert_eq!(
            judged(&[death(None, 5, false)], 250, Some(false)).verdict,
            Verdict::Clean
        );
    }

    #[test]
    fn a_nested_process_sigkilled_by_the_kernel_is_not_the_reports_business() {
        let mut d = death(Some(0), 5, true);
        d.nested = true;
        assert_eq!(judged(&[d], 250, Some(false)).verdict, Verdict::Clean);
    }

    #[test]
    fn a_supervisor_killed_by_a_signal_its_tree_sends_up_is_its_own_finding() {
        let usr1 = Some(libc::SIGUSR1);
        assert!(supervisor_killed(usr1, Trigger::Sigterm, true).is_some());
        // The trigger's own signal is how it is meant to end.
        assert!(supervisor_killed(Some(libc::SIGTERM), Trigger::Sigterm, true).is_none());
        // No upward traits: its own doing (timeout -k).
        assert!(supervisor_killed(Some(libc::SIGKILL), Trigger::Sigterm, false).is_none());
        assert!(supervisor_killed(None, Trigger::Sigterm, true).is_none());
        assert!(supervisor_killed(Some(libc::SIGKILL), Trigger::LeaderExit, true).is_some());
    }

    fn drained(leader_status: Option<i32>) -> RunReport {
        RunReport::Drained(teardown::DrainReport {
            method: teardown::Method::Cgroup,
            requested: teardown::Method::Auto,
            signalled: 1,
            reaped: 1,
            rounds: 1,
            escalated: false,
            drain: Duration::ZERO,
            leader_status,
        })
    }

    #[test]
    fn teardown_run_promises_the_leaders_status_124_2_or_125() {
        let exit = |t, r: &RunReport| promised_exit(t, r).map(|(s, _)| s);
        assert_eq!(exit(Trigger::Sigterm, &drained(Some(143))), Some(143));
        assert_eq!(exit(Trigger::LeaderExit, &drained(Some(3))), Some(3));
        assert_eq!(exit(Trigger::Timeout, &drained(Some(143))), Some(124));
        assert_eq!(exit(Trigger::Sigint, &drained(None)), Some(130));
        assert_eq!(exit(Trigger::LeaderExit, &drained(None)), None);
        let unsupported = RunReport::Unsupported {
            unsupported: "no".into(),
        };
        assert_eq!(exit(Trigger::Sigterm, &unsupported), Some(2));
        let failed = RunReport::Failed { error: "x".into() };
        assert_eq!(exit(Trigger::Sigterm, &failed), Some(125));
    }

    #[test]
    fn the_grace_counts_from_a_teardown_the_tree_started_before_the_trigger() {
        let t0 = Instant::now();
        let trigger = t0 + Duration::from_millis(300);
        let done = t0 + Duration::from_millis(400);
        // Began 100 ms before the trigger (drain 400 ms): from then, if upward.
        let early = Some(Duration::from_millis(400));
        assert_eq!(grace_from(trigger, done, early, true), t0);
        assert_eq!(grace_from(trigger, done, early, false), trigger);
        // Began after the trigger, or no report: the trigger.
        assert_eq!(
            grace_from(trigger, done, Some(Duration::from_millis(50)), true),
            trigger
        );
        assert_eq!(grace_from(trigger, done, None, true), trigger);
    }
}
