//! The scenarios, one function per group of stories.
//!
//! Reading an expectation: every method starts `clean` ([`Expected::all_clean`]),
//! and each scenario names the cells where a weak method is expected to fail, with
//! the reason. The weak methods are `leader` (tokio `Child::kill`), `killpg` (aurae
//! PR 599), `killpg-waitpgid` (process-wrap's `waitpid(-pgid)` loop) and `subreaper`;
//! `proc-walk`, `cgroup`, `pidns` and `auto` must be clean everywhere.
//!
//! **Deterministic weak verdicts.** `killpg` and friends signal the whole group and
//! then wait only for the leader: a member still exiting (SIGKILL pending, or in
//! its exit) when they return is `early`, but whether the oracle's look catches
//! one on a plain in-group tree is a scheduling race, so those cells accept
//! `clean|early`. The weaknesses the design says the harness must show are pinned
//! by scenarios whose weak verdict rides on no race:
//!
//! * escapes (`setsid-escape`, `setpgid-escape`, `daemonize`): the group signal never
//!   reaches the escaped process, so it is a `leak` for every group method and a
//!   `hang` for `subreaper` (it waits for a child nobody kills);
//! * SIGTERM handled badly (`sigterm-ignored`, `respawn-on-term`): with a grace, the
//!   group methods send SIGTERM, see the leader die, and stop — never sending SIGKILL;
//! * returning early (`jmmv-grandchild`, `escape-exits-late`): a process the method
//!   never kills exits on its own [`LATE_EXIT`](crate::timing::LATE_EXIT) later,
//!   inside the straggler grace: a deterministic `early`. `jmmv-grandchild`'s
//!   grandchild is also `slow-exit`: killed at once (`--grace 0s`, Bazel's
//!   pre-fix process-wrapper), it is still dying tens of milliseconds after the
//!   method returned — `early` every run, where a small process would finish
//!   dying in microseconds and hide the bug.

use teardown::Method::{Killpg, KillpgWaitpgid, Leader, Subreaper};
use teardown::Verdict::{Clean, Early, Hang, Leak};

mod hostile;
mod shapes;
mod stories;

pub(crate) use crate::expect::{Expect, Expected};
pub(crate) use crate::scenario::{Scenario, Source, Trigger};

use hostile::*;
use shapes::*;
use stories::*;

/// Why a cell is not clean. Shared by many scenarios, so the table reads the same.
pub(crate) mod note {
    pub const LEADER_ONLY: &str = "only the leader is signalled (tokio/std Child::kill): its children are orphaned and live on";
    pub const LEADER_GONE: &str = "the leader exited on its own: a method that signals only the leader has nothing left to kill, and the rest of the tree lives on";
    pub const GROUP_DYING: &str = "the whole group is signalled and the method returns once the leader is reaped, without waiting for the other members: one still exiting when it returns is early, whether the look catches one is a race (jmmv-grandchild makes it deterministic)";
    pub const ESCAPED: &str = "the process left the group (setsid/setpgid) before the signal: killpg never reaches it (dumb-init 191)";
    pub const SUBREAPER_HANG: &str = "the escaped process is adopted by the subreaper but never signalled: reaping until ECHILD waits for it forever (hang at the deadline)";
    pub const TERM_THEN_LEADER: &str = "SIGTERM goes to the group, the leader dies of it within the grace and the method stops there: the member that ignores SIGTERM never gets SIGKILL";
    pub const RESPAWNED: &str = "on SIGTERM every node forks a replacement and exits; the method stops once the leader is reaped and the replacements live on";
    pub const SLOW_EXIT: &str = "the group is signalled and the method returns once the leader is reaped; the member needs tens of milliseconds to finish exiting, so it is still there when the method returns (early, every run)";
    pub const EXITS_LATER: &str = "the process is never signalled and exits on its own after the method returned, within the straggler grace: the supervisor said done too early";
}

pub(crate) const AURAE_534: Source = Source {
    label: "aurae issue 534",
    url: "https://github.com/aurae-runtime/aurae/issues/534",
};
pub(crate) const AURAE_599: Source = Source {
    label: "aurae PR 599",
    url: "https://github.com/aurae-runtime/aurae/pull/599",
};
pub(crate) const JMMV_2019: Source = Source {
    label: "jmmv.dev, \"Waiting for process groups\" (2019)",
    url: "https://jmmv.dev/2019/11/wait-for-process-group.html",
};
pub(crate) const BAZEL_10245: Source = Source {
    label: "Bazel issue 10245",
    url: "https://github.com/bazelbuild/bazel/issues/10245",
};
pub(crate) const DUMB_INIT_191: Source = Source {
    label: "dumb-init issue 191",
    url: "https://github.com/Yelp/dumb-init/issues/191",
};
pub(crate) const DUMB_INIT_212: Source = Source {
    label: "dumb-init issue 212",
    url: "https://github.com/Yelp/dumb-init/issues/212",
};
pub(crate) const DUMB_INIT_80: Source = Source {
    label: "dumb-init issue 80",
    url: "https://github.com/Yelp/dumb-init/issues/80",
};
pub(crate) const TINI_172: Source = Source {
    label: "tini issue 172",
    url: "https://github.com/krallin/tini/issues/172",
};
pub(crate) const TINI_236: Source = Source {
    label: "tini issue 236",
    url: "https://github.com/krallin/tini/issues/236",
};
pub(crate) const TINI_PR_15: Source = Source {
    label: "tini PR 15 (process-group signals, Ctrl-C)",
    url: "https://github.com/krallin/tini/pull/15",
};
pub(crate) const SYSTEMD_KILL: Source = Source {
    label: "systemd.kill(5): SIGTERM is followed by SIGCONT",
    url: "https://www.freedesktop.org/software/systemd/man/latest/systemd.kill.html",
};
pub(crate) const SUBREAPER_MAN: Source = Source {
    label: "PR_SET_CHILD_SUBREAPER(2const)",
    url: "https://man7.org/linux/man-pages/man2/PR_SET_CHILD_SUBREAPER.2const.html",
};
pub(crate) const DUMB_INIT_PR_9: Source = Source {
    label: "dumb-init PR 9 (reap zombies)",
    url: "https://github.com/Yelp/dumb-init/pull/9",
};
pub(crate) const DOCKER_STOP: Source = Source {
    label: "docker stop: SIGTERM, then SIGKILL after a grace period",
    url: "https://docs.docker.com/reference/cli/docker/container/stop/",
};
pub(crate) const LINUX_FORK: Source = Source {
    label: "Linux kernel/fork.c: copy_process restarts on a pending group signal",
    url: "https://github.com/torvalds/linux/blob/master/kernel/fork.c",
};
pub(crate) const PROC_CHILDREN: Source = Source {
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
        slow_exit_member(),
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
        main_thread_exits(),
        thread_fork(),
        xorg_ready_signal(),
        signals_upward(),
        stop_parent(),
        stop_ancestors_on_term(),
        clone_parent(),
        subreaper_in_tree(),
        vfork_chain(),
        hostile_names(),
        unreadable_name_exits(),
        nested_pid_namespace(),
        nested_cgroup(),
        ptrace_swallows_term(),
        fork_hoppers(),
        graceful_shutdown(),
    ]
}

/// The expectations of a tree that defeats `leader` one way and the two group
/// methods (`killpg`, `killpg-waitpgid`) another, the same for both; every other
/// method clean.
pub(crate) const fn weak_methods(leader: Expect, group: Expect) -> Expected {
    Expected::all_clean()
        .with(Leader, leader)
        .with(Killpg, group)
        .with(KillpgWaitpgid, group)
}

/// `leader` signals only the leader: its children live on ([`note::LEADER_ONLY`]).
pub(crate) const LEADER_ONLY: Expect = Expect::is(Leak, note::LEADER_ONLY);

/// The expectations of a tree that stays in its group and dies of SIGTERM: only the
/// leader-only method leaks; the group methods may return while members are still
/// exiting ([`GROUP_RACE`]).
pub(crate) fn in_group_tree() -> Expected {
    weak_methods(LEADER_ONLY, GROUP_RACE)
}

/// A group method on a tree whose members all die of the group signal: `early`
/// when a member is still exiting at done, else `clean` ([`note::GROUP_DYING`]).
pub(crate) const GROUP_RACE: Expect = Expect::any_of(&[Clean, Early], note::GROUP_DYING);

/// The expectations of a tree with a process that escaped the group and never exits.
pub(crate) fn escaped_tree() -> Expected {
    weak_methods(LEADER_ONLY, Expect::is(Leak, note::ESCAPED))
        .with(Subreaper, Expect::is(Hang, note::SUBREAPER_HANG))
}

/// `pause [fork: pause [fork: ... pause]]` with `depth` forks below the leader.
pub(crate) fn chain(depth: usize) -> String {
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
pub(crate) fn leak(s: String) -> &'static str {
    s.leak()
}

/// The hostile trees' names (for the crate's tests).
#[cfg(test)]
pub(crate) fn hostile_scenario_names() -> [&'static str; 16] {
    hostile::NAMES
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
