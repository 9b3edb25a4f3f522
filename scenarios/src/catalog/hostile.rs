//! The hostile trees: what a program may do to its supervisor side and to the
//! kernel mechanisms a method relies on — threads, signals and SIGSTOP sent
//! upward, `CLONE_PARENT`, nested subreapers, PID namespaces and cgroups, vfork,
//! ptrace, fork-hopping, hostile names — and a graceful shutdown that needs its
//! time. Each was a way to defeat at least one method (issue 12) or a real
//! supervisor.

use teardown::Method::{CgroupKill, Killpg, KillpgWaitpgid, Leader, Subreaper};
use teardown::Verdict::{Early, Hang, Leak, Zombie};

use super::*;

const SYSTEMD_12262: Source = Source {
    label: "systemd issue 12262: a zombie thread-group leader with live threads blocks shutdown",
    url: "https://github.com/systemd/systemd/issues/12262",
};
const SYSTEMD_37455: Source = Source {
    label: "systemd PR 37455: cg_kill() stops killing threads one by one",
    url: "https://github.com/systemd/systemd/pull/37455",
};
const XSERVER_USR1: Source = Source {
    label: "Xserver(1): started with SIGUSR1 ignored, the server sends SIGUSR1 to its parent when ready",
    url: "https://www.x.org/releases/current/doc/man/man1/Xserver.1.xhtml",
};
const KILL_MAN: Source = Source {
    label: "kill(2): a process may signal any process of the same user",
    url: "https://man7.org/linux/man-pages/man2/kill.2.html",
};
const PID_NAMESPACES: Source = Source {
    label: "pid_namespaces(7): an init gets only the signals it has a handler for",
    url: "https://man7.org/linux/man-pages/man7/pid_namespaces.7.html",
};
const RUNC_NSEXEC: Source = Source {
    label: "runc nsexec.c: clone(CLONE_PARENT) makes the container init its runtime's sibling",
    url: "https://github.com/opencontainers/runc/blob/main/libcontainer/nsenter/nsexec.c",
};
const VFORK_MAN: Source = Source {
    label: "vfork(2): the parent is suspended until the child execs or exits",
    url: "https://man7.org/linux/man-pages/man2/vfork.2.html",
};
const PTRACE_MAN: Source = Source {
    label: "ptrace(2): at a signal-delivery-stop the tracer may suppress the signal",
    url: "https://man7.org/linux/man-pages/man2/ptrace.2.html",
};
const PROC_STAT: Source = Source {
    label: "proc_pid_stat(5): comm may contain spaces and parentheses",
    url: "https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html",
};
const PROC_STATUS: Source = Source {
    label: "proc_pid_status(5) and prctl(2) PR_SET_NAME: a process names itself with any 15 bytes",
    url: "https://man7.org/linux/man-pages/man5/proc_pid_status.5.html",
};
const CGROUP_V2_DELEGATION: Source = Source {
    label: "Control Group v2, Delegation: a delegatee makes cgroups below its own",
    url: "https://docs.kernel.org/admin-guide/cgroup-v2.html#delegation",
};
const LWN_PIDFD: Source = Source {
    label: "LWN, \"Toward race-free process signaling\" (2018)",
    url: "https://lwn.net/Articles/773459/",
};

/// Why a cell of a hostile tree is not clean.
mod why {
    pub const CGROUP_KILL_MISSES: &str = "cgroup.kill signals each process through its thread-group leader thread; a process whose main thread has exited keeps its other threads, so populated never drops to 0 and the method waits forever (systemd's path until it killed thread by thread)";
    pub const STOPPED_SUPERVISOR: &str = "the tree stops its parent (SIGSTOP cannot be blocked or handled): the supervisor (or its shim) never handles the teardown. Only a PID namespace hides the supervisor side from the tree (pidns, which auto picks)";
    pub const STOPPED_IN_GRACE: &str = "on SIGTERM the tree stops every ancestor it can name, the supervisor (or its shim) among them, in the middle of the teardown. Only a PID namespace hides the supervisor side (pidns, which auto picks)";
    pub const CPARENT_UNREAPED: &str = "the CLONE_PARENT children are the supervisor's own children: it SIGKILLs them with the group but reaps only the leader, and still holds them as zombies when it says done; they die of the same group signal as the leader, so one may still be exiting then (early)";
    pub const CPARENT_LEADER_ONLY: &str = "only the leader is signalled; the CLONE_PARENT children are the supervisor's own children, in the group, and live on";
    pub const NESTED_INIT: &str = "the tree made a PID namespace: its init ignores the SIGTERM it has no handler for, like every init, and survives the group's SIGTERM; the method stops once the leader is reaped and never sends SIGKILL";
    pub const SWALLOWED: &str = "the tracer ignores SIGTERM and swallows its tracee's: both survive the group's SIGTERM, and the method stops once the leader is reaped";
    pub const GRACEFUL_AFTER_LEADER: &str = "the group gets SIGTERM and the method returns once the leader is reaped, while the other members still run their 100 ms shutdown: the supervisor said done too early";
    pub const ADOPTED_ESCAPE: &str =
        "a subreaper in the tree adopted a setsid escapee: the group signal never reaches it";
}

/// Every method whose supervisor side the tree can name hangs; `pidns` and
/// `auto` are clean.
fn stops_a_visible_supervisor(note: &'static str) -> Expected {
    let hang = Expect::is(Hang, note);
    let mut e = Expected::all_clean();
    for m in teardown::Method::ALL {
        if !m.hides_supervisor() {
            e = e.with(m, hang);
        }
    }
    e
}

pub(super) fn main_thread_exits() -> Scenario {
    Scenario {
        name: "main-thread-exits",
        spec: "pause [fork: ignore-term main-exit]",
        story: "A daemon starts its worker thread and ends main() with pthread_exit, and \
                it ignores SIGTERM. Its thread-group leader is a zombie while the worker \
                runs. cgroup.kill signals each process through that leader thread, so \
                the signal never becomes a group kill: the process survives, populated \
                stays 1, and a supervisor that relies on cgroup.kill alone (systemd's path, \
                the cgroup method before this fix, and the default method with it) waits \
                forever. A TGID-wide kill by pidfd ends it at once.",
        sources: &[SYSTEMD_12262, SYSTEMD_37455],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Leak, note::TERM_THEN_LEADER))
            .with(CgroupKill, Expect::is(Hang, why::CGROUP_KILL_MISSES)),
    }
}

pub(super) fn thread_fork() -> Scenario {
    Scenario {
        name: "thread-fork",
        spec: "pause [fork: setsid thread-fork]",
        story: "A process that left the group starts a thread, the thread forks a helper \
                and exits: the kernel hands the helper to a sibling thread, so it shows \
                up in another thread's /proc/<pid>/task/<tid>/children. A walker that \
                reads only the main thread's list never finds it.",
        sources: &[PROC_CHILDREN],
        trigger: Trigger::Sigterm,
        expected: escaped_tree(),
    }
}

pub(super) fn xorg_ready_signal() -> Scenario {
    Scenario {
        name: "xorg-ready-signal",
        spec: "ignore=usr1 kill-parent=usr1 pause [fork: pause]",
        story: "An X server started with SIGUSR1 ignored tells its parent it is ready by \
                sending it SIGUSR1. A supervisor (or its shim) that does not expect it \
                dies of it: before this fix the proc-walk and subreaper shims died (the \
                tree was left running under init) and teardown run itself died under \
                cgroup.",
        sources: &[XSERVER_USR1],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

pub(super) fn signals_upward() -> Scenario {
    Scenario {
        name: "signals-upward",
        spec: "kill-ancestors=usr2 kill-ancestors=alrm kill-ancestors=pipe pause \
               [fork: term-kill-ancestors=quit pause]",
        story: "A careless tree signals every ancestor it can find in /proc, once ready \
                and again from a SIGTERM handler: SIGUSR2, SIGALRM, SIGPIPE, SIGQUIT, all \
                fatal by default. The supervisor side must survive every catchable \
                signal; the child's handler keeps it alive through SIGTERM, so only \
                SIGKILL ends it.",
        sources: &[KILL_MAN],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Leak, note::TERM_THEN_LEADER)),
    }
}

pub(super) fn stop_parent() -> Scenario {
    Scenario {
        name: "stop-parent",
        spec: "kill-parent=stop pause [fork: pause]",
        story: "Once ready, the leader sends SIGSTOP to its parent. SIGSTOP can be neither \
                blocked nor handled: a supervisor the tree can name stays stopped and \
                never handles the request to stop the tree. A PID namespace is the only \
                defence: the tree's parent is then the namespace's init, and the kernel \
                drops every signal to an init that it has no handler for, SIGSTOP \
                included.",
        sources: &[KILL_MAN, PID_NAMESPACES],
        trigger: Trigger::Sigterm,
        expected: stops_a_visible_supervisor(why::STOPPED_SUPERVISOR),
    }
}

pub(super) fn stop_ancestors_on_term() -> Scenario {
    Scenario {
        name: "stop-ancestors-on-term",
        spec: "term-kill-ancestors=stop pause [fork: pause]",
        story: "The leader answers SIGTERM by stopping every ancestor it can name, in \
                the middle of the teardown: the supervisor (or its shim) is stopped \
                between its SIGTERM and its SIGKILL.",
        sources: &[KILL_MAN, PID_NAMESPACES],
        trigger: Trigger::Sigterm,
        expected: stops_a_visible_supervisor(why::STOPPED_IN_GRACE),
    }
}

pub(super) fn clone_parent() -> Scenario {
    Scenario {
        name: "clone-parent",
        spec: "pause [cparent: pause, cparent: exit]",
        story: "The leader creates two processes with clone(CLONE_PARENT), as runc's \
                nsexec does to make the container's init its runtime's sibling: they are \
                children of the leader's parent, the supervisor. A supervisor that \
                reaps only its leader holds them as zombies; before this fix the cgroup \
                method's host did, after it said the tree was drained.",
        sources: &[RUNC_NSEXEC],
        trigger: Trigger::Sigterm,
        expected: Expected::all_clean()
            .with(Leader, Expect::is(Leak, why::CPARENT_LEADER_ONLY))
            .with(
                Killpg,
                Expect::any_of(&[Zombie, Early], why::CPARENT_UNREAPED),
            )
            .with(KillpgWaitpgid, GROUP_RACE),
    }
}

pub(super) fn subreaper_in_tree() -> Scenario {
    Scenario {
        name: "subreaper-in-tree",
        spec: "pause [fork: subreaper pause [fork: exit [fork: setsid pause, fork: exit]]]",
        story: "A process in the tree is a subreaper itself (a nested init, tini -s, \
                systemd --user): the orphans below it, a setsid escapee and a zombie, are \
                reparented to it, not to the supervisor. A supervisor that only reaps what \
                reaches it, or signals only its group, never sees them.",
        sources: &[SUBREAPER_MAN],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Leak, why::ADOPTED_ESCAPE))
            .with(Subreaper, Expect::is(Hang, note::SUBREAPER_HANG)),
    }
}

pub(super) fn vfork_chain() -> Scenario {
    Scenario {
        name: "vfork-chain",
        spec: "pause [fork: vfork=4]",
        story: "A chain of four vfork() children that never exec: every parent is \
                suspended in the kernel (state D) until its child execs or exits, which \
                it never does. posix_spawn and shells use vfork; a walker must not wait \
                on a parent that cannot run, and SIGTERM reaches the suspended parents \
                only when they wake.",
        sources: &[VFORK_MAN],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

pub(super) fn hostile_names() -> Scenario {
    Scenario {
        name: "hostile-names",
        spec: "evil-name pause [fork: evil-name setsid pause]",
        story: "Every process names itself \") Z 1 1 (\" with a newline: a parser that \
                splits /proc/<pid>/stat on spaces, or takes the first \")\", reads the \
                wrong parent and state. One of them also left the group.",
        sources: &[PROC_STAT],
        trigger: Trigger::Sigterm,
        expected: escaped_tree(),
    }
}

pub(super) fn unreadable_name_exits() -> Scenario {
    Scenario {
        name: "unreadable-name-exits",
        spec: "evil-name exit [fork: pause, dfork: pause]",
        story: "The leader names itself with a byte that is not UTF-8 (a UTF-8 name cut \
                at comm's 15 bytes does it too), then exits on its own, leaving two \
                children. A supervisor that reads /proc/<pid>/status as text cannot read \
                it: pidns's init took the leader's zombie for an unreadable child and \
                spun for ever, and teardown run never returned.",
        sources: &[PROC_STATUS],
        trigger: Trigger::LeaderExit,
        expected: weak_methods(Expect::is(Leak, note::LEADER_GONE), GROUP_RACE),
    }
}

pub(super) fn nested_pid_namespace() -> Scenario {
    Scenario {
        name: "nested-pid-namespace",
        spec: "pause [fork: userns pause [fork: graceful=100ms pause]]",
        story: "A container runtime in the tree (podman, bwrap, unshare --fork) makes a \
                user and PID namespace; its init ignores SIGTERM (an init gets only what \
                it has a handler for) while a process inside needs 100 ms to shut down. \
                The pidns method used to read the nested init's PID as 1, take it for \
                gone and SIGKILL the namespace a millisecond after SIGTERM.",
        sources: &[PID_NAMESPACES],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Leak, why::NESTED_INIT)),
    }
}

pub(super) fn nested_cgroup() -> Scenario {
    Scenario {
        name: "nested-cgroup",
        spec: "cgroup-nest pause [fork: cgroup-nest graceful=100ms pause]",
        story: "A nested runtime (a teardown run inside the tree, systemd-run --scope) \
                makes a cgroup below its own and moves in; so does the leader. The tree's \
                cgroup.procs is then empty: the cgroup method hung waiting for a leader it \
                never killed, or failed to remove a leaf that still had a child cgroup, \
                and the processes in it never got SIGTERM.",
        sources: &[CGROUP_V2_DELEGATION],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Early, why::GRACEFUL_AFTER_LEADER)),
    }
}

pub(super) fn ptrace_swallows_term() -> Scenario {
    Scenario {
        name: "ptrace-swallows-term",
        spec: "pause [fork: ignore-term trace [fork: pause]]",
        story: "A tracer (strace -f, a ptrace sandbox such as proot) sits between the \
                supervisor and its tracee: it ignores SIGTERM itself and suppresses every \
                signal its tracee gets at the signal-delivery-stop. Only SIGKILL cannot \
                be swallowed.",
        sources: &[PTRACE_MAN],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Leak, why::SWALLOWED)),
    }
}

pub(super) fn fork_hoppers() -> Scenario {
    Scenario {
        name: "fork-hoppers",
        spec: "pause [2*fork: ignore-term hop=500@500]",
        story: "Two processes that ignore SIGTERM hop 500 times a second each: setsid, \
                fork, the parent exits. Each is never at one PID for long and never in \
                the group: a supervisor that lists then kills races it, and one that asks \
                \"any children left?\" from a snapshot can get \"no\" while a hop is in \
                flight (the pidns method did, and cut the grace short).",
        sources: &[LWN_PIDFD],
        trigger: Trigger::Sigterm,
        expected: escaped_tree(),
    }
}

pub(super) fn graceful_shutdown() -> Scenario {
    Scenario {
        name: "graceful-shutdown",
        spec: "pause [2*fork: graceful=100ms pause]",
        story: "Two servers need 100 ms after SIGTERM to finish their work (flush, close, \
                remove a lock file), well within the grace. A supervisor that signals the \
                group and waits only for the leader returns while they still run.",
        sources: &[DOCKER_STOP],
        trigger: Trigger::Sigterm,
        expected: weak_methods(LEADER_ONLY, Expect::is(Early, why::GRACEFUL_AFTER_LEADER)),
    }
}

/// The names of the scenarios in this module, for the tests.
#[cfg(test)]
pub(super) const NAMES: [&str; 16] = [
    "main-thread-exits",
    "thread-fork",
    "xorg-ready-signal",
    "signals-upward",
    "stop-parent",
    "stop-ancestors-on-term",
    "clone-parent",
    "subreaper-in-tree",
    "vfork-chain",
    "hostile-names",
    "unreadable-name-exits",
    "nested-pid-namespace",
    "nested-cgroup",
    "ptrace-swallows-term",
    "fork-hoppers",
    "graceful-shutdown",
];
