//! The scenarios, one function per group of stories.
//!
//! Reading an expectation: every method starts `clean` ([`Expected::all_clean`]),
//! and each scenario names the cells where a weak method is expected to fail, with
//! the reason. The weak methods are `leader` (tokio `Child::kill`), `killpg` (aurae
//! PR 599), `killpg-waitpgid` (process-wrap's `waitpid(-pgid)` loop) and `subreaper`;
//! `proc-walk`, `cgroup`, `pidns` and `auto` must be clean everywhere.
//!
//! **Deterministic weak verdicts.** `killpg` and friends SIGKILL the whole group and
//! then wait only for the leader: whether the other members have finished exiting
//! when the oracle looks is a scheduling race, so the oracle does not judge by it:
//! a member with SIGKILL pending at "done" is *dying*, not a straggler, and on plain
//! in-group trees those cells are `clean`. The weaknesses the design says the
//! harness must show are pinned by scenarios whose weak verdict rides on no race:
//!
//! * escapes (`setsid-escape`, `setpgid-escape`, `daemonize`): the group signal never
//!   reaches the escaped process, so it is a `leak` for every group method and a
//!   `hang` for `subreaper` (it waits for a child nobody kills);
//! * SIGTERM handled badly (`sigterm-ignored`, `respawn-on-term`): with a grace, the
//!   group methods send SIGTERM, see the leader die, and stop — never sending SIGKILL;
//! * returning early (`jmmv-grandchild`, `escape-exits-late`): a process the method
//!   never kills exits on its own [`LATE_EXIT`](crate::timing::LATE_EXIT) later,
//!   inside the straggler grace: a deterministic `straggler`.

use teardown::Method::{Killpg, KillpgWaitpgid, Leader, Subreaper};
use teardown::Verdict::{Clean, Hang, Leak, Straggler};

use crate::expect::{Expect, Expected};
use crate::scenario::{Scenario, Source, Trigger};

/// Why a cell is not clean. Shared by many scenarios, so the table reads the same.
mod note {
    pub const LEADER_ONLY: &str = "only the leader is signalled (tokio/std Child::kill): its children are orphaned and live on";
    pub const LEADER_GONE: &str = "the leader exited on its own: a method that signals only the leader has nothing left to kill, and the rest of the tree lives on";
    pub const GROUP_DYING: &str = "the whole group is signalled and the method returns once the leader is reaped: the other members may still be exiting, but each has SIGKILL pending (dying), so none can run again (a process the signal never reached is the jmmv-grandchild case)";
    pub const ESCAPED: &str = "the process left the group (setsid/setpgid) before the signal: killpg never reaches it (dumb-init 191)";
    pub const SUBREAPER_HANG: &str = "the escaped process is adopted by the subreaper but never signalled: reaping until ECHILD waits for it forever (hang at the deadline)";
    pub const TERM_THEN_LEADER: &str = "SIGTERM goes to the group, the leader dies of it within the grace and the method stops there: the member that ignores SIGTERM never gets SIGKILL";
    pub const RESPAWNED: &str = "on SIGTERM every node forks a replacement and exits; the method stops once the leader is reaped and the replacements live on";
    pub const EXITS_LATER: &str = "the process is never signalled and exits on its own after the method returned, within the straggler grace: the supervisor said done too early";
}

const AURAE_534: Source = Source {
    label: "aurae issue 534",
    url: "https://github.com/aurae-runtime/aurae/issues/534",
};
const AURAE_599: Source = Source {
    label: "aurae PR 599",
    url: "https://github.com/aurae-runtime/aurae/pull/599",
};
const JMMV_2019: Source = Source {
    label: "jmmv.dev, \"Waiting for process groups\" (2019)",
    url: "https://jmmv.dev/2019/11/wait-for-process-group.html",
};
const BAZEL_10245: Source = Source {
    label: "Bazel issue 10245",
    url: "https://github.com/bazelbuild/bazel/issues/10245",
};
const DUMB_INIT_191: Source = Source {
    label: "dumb-init issue 191",
    url: "https://github.com/Yelp/dumb-init/issues/191",
};
const DUMB_INIT_212: Source = Source {
    label: "dumb-init issue 212",
    url: "https://github.com/Yelp/dumb-init/issues/212",
};
const DUMB_INIT_80: Source = Source {
    label: "dumb-init issue 80",
    url: "https://github.com/Yelp/dumb-init/issues/80",
};
const TINI_172: Source = Source {
    label: "tini issue 172",
    url: "https://github.com/krallin/tini/issues/172",
};
const TINI_236: Source = Source {
    label: "tini issue 236",
    url: "https://github.com/krallin/tini/issues/236",
};
const TINI_PR_15: Source = Source {
    label: "tini PR 15 (process-group signals, Ctrl-C)",
    url: "https://github.com/krallin/tini/pull/15",
};
const SYSTEMD_KILL: Source = Source {
    label: "systemd.kill(5): SIGTERM is followed by SIGCONT",
    url: "https://www.freedesktop.org/software/systemd/man/latest/systemd.kill.html",
};
const SUBREAPER_MAN: Source = Source {
    label: "PR_SET_CHILD_SUBREAPER(2const)",
    url: "https://man7.org/linux/man-pages/man2/PR_SET_CHILD_SUBREAPER.2const.html",
};
const DUMB_INIT_PR_9: Source = Source {
    label: "dumb-init PR 9 (reap zombies)",
    url: "https://github.com/Yelp/dumb-init/pull/9",
};
const DOCKER_STOP: Source = Source {
    label: "docker stop: SIGTERM, then SIGKILL after a grace period",
    url: "https://docs.docker.com/reference/cli/docker/container/stop/",
};
const LINUX_FORK: Source = Source {
    label: "Linux kernel/fork.c: copy_process restarts on a pending group signal",
    url: "https://github.com/torvalds/linux/blob/master/kernel/fork.c",
};
const PROC_CHILDREN: Source = Source {
    label: "proc_pid_task(5): /proc/<pid>/task/<tid>/children",
    url: "https://man7.org/linux/man-pages/man5/proc_pid_task.5.html",
};

/// How deep `deep-chain` is: forks below the leader.
pub const DEEP_CHAIN_DEPTH: usize = 100;
/// How many children `wide-fanout` has.
pub const WIDE_FANOUT: usize = 500;

/// Every scenario, in the order the matrix prints them: the stories first, then the
/// shapes.
pub(crate) fn build() -> Vec<Scenario> {
    vec![
        aurae_534_sh_wrapper(),
        jmmv_grandchild(),
        double_fork(),
        setsid_escape(),
        setpgid_escape(),
        daemonize(),
        escape_exits_late(),
        sigterm_ignored(),
        sigint_ignored(),
        stopped(),
        sigchld_ignored(),
        zombie_maker(),
        respawn_on_term(),
        blocked_signals(),
        leader_exits_orphans_remain(),
        fork_storm(),
        deep_chain(),
        wide_fanout(),
        exec_chain(),
    ]
}

/// The expectations of a tree that stays in its group and dies of SIGTERM: only the
/// leader-only method leaks; the group methods leave members dying ([`note::GROUP_DYING`]).
fn in_group_tree() -> Expected {
    Expected::all_clean()
        .with(Leader, Expect::is(Leak, note::LEADER_ONLY))
        .with(Killpg, Expect::is(Clean, note::GROUP_DYING))
        .with(KillpgWaitpgid, Expect::is(Clean, note::GROUP_DYING))
}

/// The expectations of a tree with a process that escaped the group and never exits.
fn escaped_tree() -> Expected {
    Expected::all_clean()
        .with(Leader, Expect::is(Leak, note::LEADER_ONLY))
        .with(Killpg, Expect::is(Leak, note::ESCAPED))
        .with(KillpgWaitpgid, Expect::is(Leak, note::ESCAPED))
        .with(Subreaper, Expect::is(Hang, note::SUBREAPER_HANG))
}

fn aurae_534_sh_wrapper() -> Scenario {
    Scenario {
        name: "aurae-534-sh-wrapper",
        spec: "pause [2*exec: pause]",
        story: "An `sh -c` wrapper starts two background commands and waits. The runtime \
                stops it with tokio's Child::kill, which signals only the wrapper: the two \
                background commands are orphaned and keep running. aurae fixed it by \
                spawning into a process group and killing the group.",
        sources: &[AURAE_534, AURAE_599],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn jmmv_grandchild() -> Scenario {
    Scenario {
        name: "jmmv-grandchild",
        spec: "exit [fork: ignore-term exit-after=500ms]",
        story: "The direct child exits at once; its own child is still finishing its work \
                (it does not stop for SIGTERM) and exits half a second later. A wrapper \
                that waits for the leader, or for its direct children in the group with \
                waitpid(-pgid), returns while that grandchild still runs.",
        sources: &[JMMV_2019, BAZEL_10245],
        trigger: Trigger::LeaderExit,
        expected: Expected::all_clean()
            .with(Leader, Expect::is(Straggler, note::EXITS_LATER))
            .with(Killpg, Expect::is(Straggler, note::TERM_THEN_LEADER))
            .with(
                KillpgWaitpgid,
                Expect::is(Straggler, note::TERM_THEN_LEADER),
            ),
    }
}

fn double_fork() -> Scenario {
    Scenario {
        name: "double-fork",
        spec: "pause [dfork: pause]",
        story: "The leader forks a child that forks again and exits: the grandchild is \
                orphaned and reparented to the nearest subreaper, but stays in the group. \
                Nothing that follows parent links from the leader finds it.",
        sources: &[SUBREAPER_MAN],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn setsid_escape() -> Scenario {
    Scenario {
        name: "setsid-escape",
        spec: "pause [fork: setsid pause]",
        story: "A child calls setsid(): a new session and a new process group. Signals to \
                the original group never reach it.",
        sources: &[DUMB_INIT_191],
        trigger: Trigger::Sigterm,
        expected: escaped_tree(),
    }
}

fn setpgid_escape() -> Scenario {
    Scenario {
        name: "setpgid-escape",
        spec: "pause [fork: setpgid pause]",
        story: "A child calls setpgid(0, 0), as shells with job control do for every \
                pipeline: it leads its own group, out of reach of the original one.",
        sources: &[DUMB_INIT_191],
        trigger: Trigger::Sigterm,
        expected: escaped_tree(),
    }
}

fn daemonize() -> Scenario {
    Scenario {
        name: "daemonize",
        spec: "pause [dfork: setsid pause]",
        story: "The classic daemon: fork, setsid, fork again, the intermediate exits. The \
                daemon is orphaned and in its own session; a test that starts a server \
                this way leaves it running after the test runner is done.",
        sources: &[DUMB_INIT_80, TINI_236],
        trigger: Trigger::Sigterm,
        expected: escaped_tree(),
    }
}

fn escape_exits_late() -> Scenario {
    Scenario {
        name: "escape-exits-late",
        spec: "pause [fork: setpgid exit-after=500ms]",
        story: "A helper leaves the group and finishes on its own half a second later. \
                Nothing signals it, so a group method returns while it still runs: the \
                supervisor said the command was stopped before it was (the contract \
                jmmv's post and Bazel 10245 are about). A subreaper waits for it.",
        sources: &[BAZEL_10245, JMMV_2019],
        trigger: Trigger::Sigterm,
        expected: Expected::all_clean()
            .with(Leader, Expect::is(Straggler, note::EXITS_LATER))
            .with(Killpg, Expect::is(Straggler, note::EXITS_LATER))
            .with(KillpgWaitpgid, Expect::is(Straggler, note::EXITS_LATER)),
    }
}

fn sigterm_ignored() -> Scenario {
    Scenario {
        name: "sigterm-ignored",
        spec: "pause [fork: ignore-term pause]",
        story: "The leader stops on SIGTERM, its child ignores it. A graceful supervisor \
                that sends SIGTERM to the group and waits for the leader sees the leader \
                go and never escalates to SIGKILL.",
        sources: &[DUMB_INIT_212],
        trigger: Trigger::Sigterm,
        expected: Expected::all_clean()
            .with(Leader, Expect::is(Leak, note::LEADER_ONLY))
            .with(Killpg, Expect::is(Leak, note::TERM_THEN_LEADER))
            .with(KillpgWaitpgid, Expect::is(Leak, note::TERM_THEN_LEADER)),
    }
}

fn sigint_ignored() -> Scenario {
    Scenario {
        name: "sigint-ignored",
        spec: "ignore-int pause [fork: ignore-int pause]",
        story: "The whole tree ignores SIGINT and the supervisor gets Ctrl-C. A supervisor \
                that forwards the signal it received, rather than tearing down, waits \
                forever; one that tears down with SIGTERM/SIGKILL is unaffected.",
        sources: &[TINI_PR_15],
        trigger: Trigger::Sigint,
        expected: in_group_tree(),
    }
}

fn stopped() -> Scenario {
    Scenario {
        name: "stopped",
        spec: "stop pause [fork: stop pause]",
        story: "The leader and its child are stopped (SIGSTOP). SIGTERM stays pending on \
                a stopped process until SIGCONT, which is why systemd sends both; a \
                supervisor that forwards only SIGTERM waits forever.",
        sources: &[SYSTEMD_KILL],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn sigchld_ignored() -> Scenario {
    Scenario {
        name: "sigchld-ignored",
        spec: "sigchld-ign pause [exec: pause [fork: exit], fork: exit]",
        story: "The leader sets SIGCHLD to SIG_IGN, which every descendant inherits across \
                fork and exec: children are reaped by the kernel, so waitpid fails with \
                ECHILD and kill with ESRCH where a supervisor expects a zombie. aurae had \
                it in its own process and hung in waitpid.",
        sources: &[AURAE_599],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn zombie_maker() -> Scenario {
    Scenario {
        name: "zombie-maker",
        spec: "zombies=8 [fork: zombies=8]",
        story: "The leader and its child each fork eight children that exit at once and \
                are never reaped. When their parents die the zombies are reparented, and \
                whoever adopts them must reap them.",
        sources: &[DUMB_INIT_PR_9],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn respawn_on_term() -> Scenario {
    Scenario {
        name: "respawn-on-term",
        spec: "respawn-on-term pause [fork: respawn-on-term pause]",
        story: "Every node answers SIGTERM by forking a replacement of itself and exiting, \
                like a self-restarting server (Jenkins restarts by fork, exit, re-exec). \
                Waiting for the leader's exit proves nothing.",
        sources: &[DUMB_INIT_80],
        trigger: Trigger::Sigterm,
        expected: Expected::all_clean()
            .with(Leader, Expect::is(Leak, note::RESPAWNED))
            .with(Killpg, Expect::is(Leak, note::RESPAWNED))
            .with(KillpgWaitpgid, Expect::is(Leak, note::RESPAWNED)),
    }
}

fn blocked_signals() -> Scenario {
    Scenario {
        name: "blocked-signals",
        spec: "block-all pause [fork: block-all pause]",
        story: "Every node blocks every blockable signal: SIGTERM stays pending and only \
                SIGKILL ends them. A supervisor must escalate after its grace.",
        sources: &[DOCKER_STOP],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn leader_exits_orphans_remain() -> Scenario {
    Scenario {
        name: "leader-exits-orphans-remain",
        spec: "exit [fork: pause, dfork: pause]",
        story: "The leader exits on its own and leaves a background child and a \
                double-forked orphan behind. A supervisor that treats the leader's exit \
                as the end of the command leaves them running.",
        sources: &[TINI_172, DUMB_INIT_212],
        trigger: Trigger::LeaderExit,
        expected: Expected::all_clean()
            .with(Leader, Expect::is(Leak, note::LEADER_GONE))
            .with(Killpg, Expect::is(Clean, note::GROUP_DYING))
            .with(KillpgWaitpgid, Expect::is(Clean, note::GROUP_DYING)),
    }
}

fn fork_storm() -> Scenario {
    Scenario {
        name: "fork-storm",
        spec: "storm=200@2000 [fork: pause]",
        story: "The leader forks 200 children at 2000 a second while it is being torn \
                down (the storm starts when the tree is ready). On Linux a fork cannot \
                outrun a group signal, but a walk of /proc can lose to the fork rate.",
        sources: &[LINUX_FORK],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn deep_chain() -> Scenario {
    Scenario {
        name: "deep-chain",
        spec: leak(chain(DEEP_CHAIN_DEPTH)),
        story: "A chain of 100 forks, each the child of the one before: recursion depth \
                for walkers, and a long reparenting cascade when the top dies first.",
        sources: &[PROC_CHILDREN],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn wide_fanout() -> Scenario {
    Scenario {
        name: "wide-fanout",
        spec: "pause [500*fork: pause]",
        story: "The leader has 500 children: a group kill takes a while to land on all of \
                them, and the leader is not necessarily the last to die.",
        sources: &[BAZEL_10245],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

fn exec_chain() -> Scenario {
    Scenario {
        name: "exec-chain",
        spec: "pause [exec: pause [exec: pause [2*exec: pause]]]",
        story: "Every node is started by fork and exec, as real programs start helpers: \
                start times and command lines change, identities must be taken after \
                the exec.",
        sources: &[PROC_CHILDREN],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

/// `pause [fork: pause [fork: ... pause]]` with `depth` forks below the leader.
fn chain(depth: usize) -> String {
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str("pause [fork: ");
    }
    s.push_str("pause");
    for _ in 0..depth {
        s.push(']');
    }
    s
}

/// A generated spec lives as long as the catalog, which is static.
fn leak(s: String) -> &'static str {
    s.leak()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_nests_depth_forks() {
        assert_eq!(chain(0), "pause");
        assert_eq!(chain(2), "pause [fork: pause [fork: pause]]");
        assert_eq!(
            chain(DEEP_CHAIN_DEPTH).matches("fork:").count(),
            DEEP_CHAIN_DEPTH
        );
    }

    #[test]
    fn wide_fanout_spec_has_the_documented_width() {
        assert!(
            wide_fanout()
                .spec
                .contains(&format!("{WIDE_FANOUT}*fork: pause"))
        );
    }
}
