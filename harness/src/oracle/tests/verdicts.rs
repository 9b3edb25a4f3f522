//! Survivors, early and dying processes, and which verdict wins.

use super::*;

#[test]
fn an_empty_tree_is_clean() {
    let p = table();
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Clean);
    assert_eq!(
        (j.survivors, j.stragglers, j.zombies, j.bystanders_killed),
        (0, 0, 0, 0)
    );
    assert!(j.findings.is_empty());
}

#[test]
fn a_process_alive_after_the_grace_is_a_survivor_and_the_verdict_is_leak() {
    let mut p = table();
    p.live(10, SUP).live(11, WARDEN); // the leader, and an orphan adopted by the warden
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!(j.survivors, 2);
    assert!(j.findings.iter().all(|f| f.kind == "survivor"));
}

#[test]
fn a_process_alive_at_done_that_dies_within_the_grace_is_early() {
    let mut p = table();
    p.live(11, WARDEN);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    p.dies(11); // now a zombie of the warden: not the supervisor's
    let after = observe(&p, &sc);
    let j = judge(&at_done, &after);
    assert_eq!(j.verdict, Verdict::Early);
    assert_eq!((j.stragglers, j.survivors, j.zombies), (1, 0, 0));
    assert_eq!(j.count(FindingKind::Early), 1);
}

#[test]
fn a_process_dying_of_sigkill_at_done_is_early_too() {
    // killpg then wait for the leader only (Bazel's process-wrapper before its
    // fix): the other members have SIGKILL pending when the supervisor returns.
    // Until they finish exiting the contract is broken: a process blocked in the
    // kernel may finish what it is doing.
    let mut p = table();
    p.live(11, WARDEN).dying(11).live(12, WARDEN);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    assert_eq!((at_done.alive.len(), at_done.dying.len()), (1, 1));
    p.dies(11).dies(12);
    let j = judge(&at_done, &observe(&p, &sc));
    assert_eq!(j.verdict, Verdict::Early, "{j:?}");
    assert_eq!((j.stragglers, j.dying, j.survivors), (1, 1, 0));
    let kinds: Vec<(i32, &str)> = j
        .findings
        .iter()
        .map(|f| (f.pid, f.kind.as_str()))
        .collect();
    assert_eq!(kinds, [(12, "early"), (11, "early")]);
    assert!(j.findings[1].note.starts_with("dying at done"), "{j:?}");
}

#[test]
fn a_process_still_dying_at_done_is_early_and_one_gone_by_then_is_clean() {
    let mut p = table();
    p.live(11, WARDEN).dying(11);
    let sc = scene(&p);
    let still_dying = observe(&p, &sc);
    p.reaped(11);
    let gone = observe(&p, &sc);
    assert_eq!(judge(&still_dying, &gone).verdict, Verdict::Early);
    assert_eq!(judge(&gone, &gone).verdict, Verdict::Clean);
}

#[test]
fn a_dying_process_still_alive_after_the_grace_is_a_survivor() {
    let mut p = table();
    p.live(11, WARDEN).dying(11);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!((j.survivors, j.dying), (1, 0));
}

#[test]
fn an_early_process_that_was_reaped_meanwhile_is_still_early() {
    let mut p = table();
    p.live(11, WARDEN);
    let sc = scene(&p);
    let at_done = observe(&p, &sc);
    p.reaped(11);
    assert_eq!(judge(&at_done, &observe(&p, &sc)).verdict, Verdict::Early);
}

#[test]
fn a_zombie_main_thread_with_a_live_thread_is_alive() {
    let mut p = table();
    p.zombie_main_live_thread(10, WARDEN);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!((j.survivors, j.zombies), (1, 0));
}

#[test]
fn the_worst_problem_wins() {
    let mut p = table();
    p.live(10, WARDEN).zombie(11, SUP);
    assert_eq!(verdict_once(&p, &scene(&p)).verdict, Verdict::Leak);
    p.dies(BY_OWN);
    let j = verdict_once(&p, &scene(&p));
    assert_eq!(j.verdict, Verdict::BystanderKilled);
    assert_eq!((j.survivors, j.zombies, j.bystanders_killed), (1, 1, 1));
}

#[test]
fn severity_orders_verdicts_worst_first_as_documented() {
    let worst_first = [
        Verdict::Error,
        Verdict::Unsupported,
        Verdict::Hang,
        Verdict::BystanderKilled,
        Verdict::Leak,
        Verdict::Zombie,
        Verdict::Early,
        Verdict::GraceCut,
        Verdict::SupervisorKilled,
        Verdict::BadExit,
        Verdict::FalseReport,
        Verdict::Leftover,
        Verdict::Clean,
    ];
    for w in worst_first.windows(2) {
        assert!(
            severity(w[0]) > severity(w[1]),
            "{} should be worse than {}",
            w[0],
            w[1]
        );
        assert_eq!(worst(w[1], w[0]), w[0]);
        assert_eq!(worst(w[0], w[1]), w[0]);
    }
}
