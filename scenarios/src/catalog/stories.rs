//! The stories: trees that bit a real supervisor, each with its source.

use teardown::Verdict::{Early, Leak};

use super::*;

pub(super) fn aurae_534_sh_wrapper() -> Scenario {
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

pub(super) fn jmmv_grandchild() -> Scenario {
    Scenario {
        name: "jmmv-grandchild",
        spec: "exit [fork: slow-exit ignore-term exit-after=500ms]",
        story: "The direct child exits at once; its own child is still finishing its work \
                (it does not stop for SIGTERM) and exits half a second later. A wrapper \
                that waits for the leader, or for its direct children in the group with \
                waitpid(-pgid), returns while that grandchild still runs; one that \
                SIGKILLs the group first (Bazel's process-wrapper before its fix) \
                returns while it is still dying: its exit is slow (slow-exit), as a \
                process blocked in the kernel finishing a write may be.",
        sources: &[JMMV_2019, BAZEL_10245],
        trigger: Trigger::LeaderExit,
        expected: weak_methods(
            Expect::is(Early, note::EXITS_LATER),
            Expect::is(Early, note::TERM_THEN_LEADER),
        ),
    }
}

pub(super) fn double_fork() -> Scenario {
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

pub(super) fn setsid_escape() -> Scenario {
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

pub(super) fn setpgid_escape() -> Scenario {
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

pub(super) fn daemonize() -> Scenario {
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

pub(super) fn escape_exits_late() -> Scenario {
    Scenario {
        name: "escape-exits-late",
        spec: "pause [fork: setpgid exit-after=500ms]",
        story: "A helper leaves the group and finishes on its own half a second later. \
                Nothing signals it, so a group method returns while it still runs: the \
                supervisor said the command was stopped before it was (the contract \
                jmmv's post and Bazel 10245 are about). A subreaper waits for it.",
        sources: &[BAZEL_10245, JMMV_2019],
        trigger: Trigger::Sigterm,
        expected: weak_methods(
            Expect::is(Early, note::EXITS_LATER),
            Expect::is(Early, note::EXITS_LATER),
        ),
    }
}

pub(super) fn slow_exit_member() -> Scenario {
    Scenario {
        name: "slow-exit-member",
        spec: "pause [fork: slow-exit pause]",
        story: "A member of the group takes tens of milliseconds to finish exiting once \
                it is killed (a large address space to free; a process blocked in the \
                kernel finishing a write). A supervisor that signals the group and \
                returns when the leader is reaped says done while it is still exiting: \
                the contract is broken for that long, every run.",
        sources: &[JMMV_2019, BAZEL_10245],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Early, note::SLOW_EXIT)),
    }
}

pub(super) fn sigterm_ignored() -> Scenario {
    Scenario {
        name: "sigterm-ignored",
        spec: "pause [fork: ignore-term pause]",
        story: "The leader stops on SIGTERM, its child ignores it. A graceful supervisor \
                that sends SIGTERM to the group and waits for the leader sees the leader \
                go and never escalates to SIGKILL.",
        sources: &[DUMB_INIT_212],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Leak, note::TERM_THEN_LEADER)),
    }
}

pub(super) fn sigint_ignored() -> Scenario {
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

pub(super) fn stopped() -> Scenario {
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

pub(super) fn sigchld_ignored() -> Scenario {
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

pub(super) fn zombie_maker() -> Scenario {
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

pub(super) fn respawn_on_term() -> Scenario {
    Scenario {
        name: "respawn-on-term",
        spec: "respawn-on-term pause [fork: respawn-on-term pause]",
        story: "Every node answers SIGTERM by forking a replacement of itself and exiting, \
                like a self-restarting server (Jenkins restarts by fork, exit, re-exec). \
                Waiting for the leader's exit proves nothing.",
        sources: &[DUMB_INIT_80],
        trigger: Trigger::Sigterm,
        expected: weak_methods(
            Expect::is(Leak, note::RESPAWNED),
            Expect::is(Leak, note::RESPAWNED),
        ),
    }
}

pub(super) fn blocked_signals() -> Scenario {
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

pub(super) fn leader_exits_orphans_remain() -> Scenario {
    Scenario {
        name: "leader-exits-orphans-remain",
        spec: "exit [fork: pause, dfork: pause]",
        story: "The leader exits on its own and leaves a background child and a \
                double-forked orphan behind. A supervisor that treats the leader's exit \
                as the end of the command leaves them running.",
        sources: &[TINI_172, DUMB_INIT_212],
        trigger: Trigger::LeaderExit,
        expected: weak_methods(Expect::is(Leak, note::LEADER_GONE), GROUP_RACE),
    }
}
