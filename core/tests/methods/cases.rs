//! Every method × every tree shape that breaks naive supervisors. Strong methods
//! leave nothing alive; the weak ones leave exactly what they are known to leave
//! (the negative controls: a no-op teardown would fail every row).

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use rstest::rstest;
use teardown::{Method, ProcessIdentity, TeardownError, TeardownOptions};

use crate::support::{
    Cleanup, Scripted, alive, for_each_method, settle_dead, spawn_reporting, spawn_sh, state,
    wait_until,
};

/// A tree shape, named after where it bit someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// `sh -c` with background children (aurae issue 534).
    BackgroundChildren,
    /// A grandchild whose parent exits at once: an orphan.
    GrandchildOutlivesParent,
    /// A child that calls `setsid()` and leaves the process group (dumb-init 191).
    SetsidEscape,
    /// Every process ignores SIGTERM; torn down with a grace.
    IgnoresTerm,
    /// Every process is stopped (SIGTERM cannot arrive until SIGCONT).
    Stopped,
    /// The leader has SIGCHLD = SIG_IGN (children auto-reaped, aurae PR 599).
    SigchldIgnored,
}

impl Case {
    fn spawn(self, m: Method) -> Scripted {
        const SLEEPER: &str = r#"(eval "$R"; exec sleep 60) &"#;
        match self {
            Case::BackgroundChildren => spawn_sh(m, &format!("{SLEEPER} {SLEEPER} wait"), 2),
            Case::GrandchildOutlivesParent => spawn_sh(
                m,
                r#"sh -c '(eval "$R"; exec sleep 60) &'; exec sleep 60"#,
                1,
            ),
            Case::SetsidEscape => spawn_sh(
                m,
                &format!(r#"setsid sh -c 'eval "$R"; exec sleep 60' & {SLEEPER} wait"#),
                2,
            ),
            Case::IgnoresTerm => spawn_sh(m, &format!("trap '' TERM; {SLEEPER} {SLEEPER} wait"), 2),
            Case::Stopped => {
                let stopper = r#"sh -c 'eval "$R"; kill -STOP $$; exec sleep 60' &"#;
                let s = spawn_sh(
                    m,
                    &format!("{stopper} {stopper} sleep 0.05; kill -STOP $$; wait"),
                    2,
                );
                for id in s.all() {
                    wait_until("every process is stopped", || state(&id) == Some('T'));
                }
                s
            }
            Case::SigchldIgnored => spawn_reporting(
                m,
                "perl",
                &[
                    "-e",
                    r#"$SIG{CHLD} = "IGNORE";
                       for (1..2) { if (!fork) { exec "sh", "-c", q{eval "$R"; exec sleep 60} } }
                       if (!fork) { exit 0 }
                       sleep 60;"#,
                ],
                2,
            ),
        }
    }

    fn grace(self) -> Duration {
        match self {
            Case::IgnoresTerm => Duration::from_millis(300),
            Case::Stopped => Duration::from_secs(5),
            _ => Duration::ZERO,
        }
    }
}

/// Which reported processes a method leaves alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Left {
    /// None: and the tree is drained when teardown returns.
    Nothing,
    /// None, but some may exit only after teardown returned (not our children).
    NothingEventually,
    /// Every reported process (the leader alone is killed).
    AllButLeader,
    /// The processes that left the leader's process group.
    Escapees,
}

/// What each method is known to do with each case.
fn expectation(m: Method, case: Case) -> (Left, bool) {
    let escape = case == Case::SetsidEscape;
    match m {
        // When the leader dies, its group is orphaned with stopped members, and the
        // kernel sends them SIGHUP + SIGCONT (POSIX orphaned process groups): the
        // stopped shells die of that, not of anything `leader` did.
        Method::Leader if case == Case::Stopped => (Left::NothingEventually, false),
        Method::Leader => (Left::AllButLeader, false),
        Method::Killpg | Method::KillpgWaitpgid if escape => (Left::Escapees, false),
        Method::Killpg | Method::KillpgWaitpgid => (Left::NothingEventually, false),
        // The escapee is never signalled but stays our descendant: reaping hangs.
        Method::Subreaper if escape => (Left::Escapees, true),
        _ => (Left::Nothing, false),
    }
}

fn pgid(id: &ProcessIdentity) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{}/stat", id.pid)).ok()?;
    text[text.rfind(')')? + 2..].split(' ').nth(2)?.parse().ok()
}

#[rstest]
fn method_leaves_what_it_is_known_to_leave(
    #[values(
        Case::BackgroundChildren,
        Case::GrandchildOutlivesParent,
        Case::SetsidEscape,
        Case::IgnoresTerm,
        Case::Stopped,
        Case::SigchldIgnored
    )]
    case: Case,
) {
    for_each_method(Method::ALL, |method| {
        leaves_what_it_is_known_to_leave(method, case)
    });
}

/// One row of the table: `method` on `case`, with a bystander that must survive.
fn leaves_what_it_is_known_to_leave(method: Method, case: Case) {
    let mut bystander = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn a bystander");
    let bystander_id = ProcessIdentity::of(bystander.id()).unwrap();
    let _bystander_guard = Cleanup(vec![bystander_id]);

    let s = case.spawn(method);
    let _guard = Cleanup(s.all());
    let leader_pgid = pgid(&s.leader).expect("leader pgid");
    let escapees: Vec<ProcessIdentity> = s
        .reported
        .iter()
        .copied()
        .filter(|id| pgid(id) != Some(leader_pgid))
        .collect();
    if case == Case::SetsidEscape {
        assert_eq!(escapees.len(), 1, "the setsid child left the group");
    }
    let all = s.all();
    let mut tree = s.tree;
    let (left, hangs) = expectation(method, case);
    let deadline = if hangs {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(60)
    };
    let result = tree.teardown_with(TeardownOptions::new(case.grace()).with_deadline(deadline));

    if hangs {
        assert!(
            matches!(result, Err(TeardownError::Deadline { .. })),
            "{method}: expected a deadline, got {result:?}"
        );
    } else {
        let report = result.unwrap_or_else(|e| panic!("{method} on {case:?}: {e}"));
        assert_eq!(report.requested, method);
        if method == Method::Auto {
            assert_eq!(
                Some(report.method),
                teardown::probe_with(&crate::support::opts()).auto
            );
        } else {
            assert_eq!(report.method, method);
        }
        match case {
            Case::IgnoresTerm => assert!(
                report.escalated,
                "{method}: SIGTERM was ignored, SIGKILL must follow"
            ),
            Case::Stopped => assert!(
                !report.escalated,
                "{method}: SIGCONT lets SIGTERM through: {report:?}"
            ),
            _ => {}
        }
        assert!(
            report.leader_status.is_some(),
            "{method}: leader status known"
        );
    }

    match left {
        Left::Nothing => assert_eq!(
            alive(&all),
            vec![],
            "{method} on {case:?}: alive after teardown returned"
        ),
        Left::NothingEventually => {
            assert_eq!(settle_dead(&all), vec![], "{method} on {case:?}: survivors")
        }
        Left::AllButLeader => {
            assert_eq!(
                settle_dead(&[s.leader]),
                vec![],
                "{method}: the leader is killed"
            );
            assert_eq!(
                alive(&s.reported),
                s.reported,
                "{method} on {case:?}: the rest survives"
            );
        }
        Left::Escapees => {
            let rest: Vec<ProcessIdentity> = all
                .iter()
                .copied()
                .filter(|id| !escapees.contains(id))
                .collect();
            assert_eq!(settle_dead(&rest), vec![], "{method}: the group is killed");
            assert_eq!(
                alive(&escapees),
                escapees,
                "{method}: the setsid escapee survives"
            );
        }
    }

    assert!(bystander_id.is_alive(), "{method}: the bystander survives");
    bystander.kill().unwrap();
    let status = bystander
        .wait()
        .expect("the bystander is still ours to reap");
    assert_eq!(status.signal(), Some(libc_sigkill()));
}

fn libc_sigkill() -> i32 {
    9
}
