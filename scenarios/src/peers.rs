//! Real supervisors people run today, and what they make of every scenario.
//!
//! Each [`Peer`] is an argv prefix (the harness appends the tree's node command) and
//! one expectation per catalog scenario, taken from running it here (Linux 6.x, the
//! Debian/Ubuntu packages of tini, dumb-init, coreutils `timeout` and bubblewrap) and
//! explained — every cell that is not `clean` cites the upstream issue or the code
//! path that explains it. `teardown matrix --peers` runs them as extra rows and checks
//! these expectations. A peer that is not installed is reported `unsupported`.
//!
//! The trigger is the scenario's own (SIGTERM to the supervisor for most). None of
//! these peers is PID 1 or a subreaper here: the harness's warden is, so orphans
//! they leave behind are reparented to the warden, where the oracle finds them.

use std::sync::LazyLock;

use std::time::Duration;

use teardown::Verdict::{Clean, Early, Hang, Leak};

use crate::errors::UnknownPeer;
use crate::expect::Expect;
use crate::scenario::Source;

/// A real supervisor: how to run it and what to expect of it.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Short name for the command line (`--peers tini,dumb-init`): `tini-g`.
    pub name: &'static str,
    /// The argv prefix; the node command is appended. A leading `teardown` means
    /// this project's own binary (the harness substitutes the one it runs).
    pub argv: &'static [&'static str],
    /// How it tears down, in one sentence.
    pub about: &'static str,
    /// Upstream issues and docs that explain its non-clean cells.
    pub sources: &'static [Source],
    /// The grace it gives between SIGTERM and SIGKILL (`timeout -k 1`: 1 s); zero
    /// for a supervisor that never escalates. What `grace-cut` holds it to.
    pub grace: Duration,
    expected: Vec<(&'static str, Expect)>,
}

impl Peer {
    /// The expectation for a catalog scenario; `None` for a name not in the catalog
    /// (random trees: peers are not judged on those).
    pub fn expected(&self, scenario: &str) -> Option<Expect> {
        self.expected
            .iter()
            .find(|(name, _)| *name == scenario)
            .map(|(_, e)| *e)
    }

    /// The row label, as `teardown_harness::trial::Supervisor::label` prints it.
    pub fn label(&self) -> String {
        format!("external:{}", self.argv.join(" "))
    }
}

/// Every peer, in the order the matrix prints them.
pub fn all() -> &'static [Peer] {
    static PEERS: LazyLock<Vec<Peer>> = LazyLock::new(build);
    &PEERS
}

/// The peer called `name`, or an error listing every valid name.
pub fn by_name(name: &str) -> Result<&'static Peer, UnknownPeer> {
    all()
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| UnknownPeer {
            name: name.to_owned(),
            valid: all().iter().map(|p| p.name).collect(),
        })
}

/// The peer whose argv is exactly `argv`, if any: `--supervisor 'tini --'` is judged
/// against the `tini` peer's expectations.
pub fn by_argv<S: AsRef<str>>(argv: &[S]) -> Option<&'static Peer> {
    all().iter().find(|p| {
        p.argv.len() == argv.len() && p.argv.iter().zip(argv).all(|(a, b)| *a == b.as_ref())
    })
}

mod note {
    pub const TINI_CHILD_ONLY: &str = "tini forwards the signal to its child only and exits with it; the child's own children are left behind (tini 172: \"Tini's goal isn't to kill all your subprocesses when it exits\")";
    pub const DUMB_INIT_CHILD_ONLY: &str = "with --single-child dumb-init forwards signals to its child only and exits with it; the rest of the tree is left behind";
    pub const EXITS_WITH_LEADER: &str = "it exits as soon as its child does, without waiting for the rest of the tree (dumb-init 212, tini 172): whatever is still running is left behind";
    pub const EXITS_WITH_LEADER_LATE: &str = "it exits as soon as its child does, without waiting for the rest of the tree (dumb-init 212, tini 172); the process left behind exits on its own within the straggler grace";
    pub const NEVER_SIGNALLED_LATE: &str = "the process left the group and is never signalled; it exits on its own after the supervisor did, within the straggler grace";
    pub const GROUP_DYING: &str = "the group is signalled and the supervisor exits with its child without waiting for the others: one still exiting when it returns is early; whether the look catches one is a race";
    pub const ESCAPED: &str = "signals go to the process group; a process that called setsid/setpgid is out of reach (dumb-init 191)";
    pub const TERM_THEN_EXIT: &str = "SIGTERM reaches the group, the child dies of it, and the supervisor exits; the member that ignores SIGTERM (or respawned) is never killed";
    pub const NO_SIGCONT: &str = "the signal is forwarded but SIGCONT is not: a stopped child never handles it, and the supervisor waits for it forever";
    pub const FORWARD_ONLY: &str = "the signal is only forwarded, never escalated to SIGKILL: a child that ignores or blocks it never exits, and the supervisor waits for it forever";
    pub const PIDNS: &str = "bwrap does not forward SIGTERM (bubblewrap 369): it dies of it without waiting for its sandbox. Its init dies with it (--die-with-parent, a SIGKILL: bubblewrap 684) and the kernel kills the PID namespace, so nothing leaks; but the tree is killed only when the init, SIGKILLed as bwrap exits, runs its own exit (zap_pid_ns_processes): bwrap is always gone before its sandbox is (early; the warden looks at bwrap's exit stop, so the microseconds between are seen every run). The init, dead and reparented to the warden, is an orphaned zombie: not a fault";
    pub const PIDNS_LEADER_EXIT: &str = "the child exits on its own, and so does bwrap's init; bwrap returns on whichever it sees first (its monitor_child): the exit code the init writes to an eventfd before it exits, or the init's SIGCHLD. Nothing leaks either way, but the rest of the namespace is still alive, not yet killed by the init's exit, when bwrap returns (early). The warden traces a supervisor from the trigger on, and here bwrap may be exiting already by then (ptrace refuses an exiting process): then the look comes after its exit and may miss the namespace (clean); jmmv-grandchild's slow exit is caught either way";
    pub const STOPPED: &str = "the tree stops its parent, the supervisor (SIGSTOP can be neither blocked nor handled): stopped, it never handles the SIGTERM. Only a PID namespace hides a supervisor from its tree";
    pub const GRACEFUL_AFTER_CHILD: &str = "SIGTERM reaches the group, the child dies of it and the supervisor exits while the other members still run their 100 ms shutdown: it said done too early";
    pub const DUMB_INIT_CPARENT: &str = "the CLONE_PARENT children are dumb-init's own: it reaps its children on SIGCHLD but exits as soon as its child has; those it did not reap yet the warden reaps as orphans (counted, not a fault)";
    pub const TIMEOUT_CPARENT: &str = "the CLONE_PARENT children are timeout's own: it waits for its child only and exits holding them; the warden reaps them as orphans (counted, not a fault). They die of the same group signal as its child, so one may still be exiting when timeout is gone (early)";
    pub const CATATONIT_CHILD_ONLY: &str = "catatonit forwards the signal to its child only and exits with it; the child's own children are left behind";
    pub const SD_GROUP: &str = "supervisord signals the program's process group (stopasgroup; SIGKILL to it after stopwaitsecs, killasgroup) and waits for the program only: a member still exiting then would be early, though its one-second loop usually gives them time";
    pub const SD_EXITED_PROGRAM: &str = "the program exits on its own; supervisord records it as exited and never signals its group again: the orphans live on";
    pub const SD_USR1: &str = "the tree signals supervisord: SIGUSR1 (Xorg's ready signal, to its parent) and SIGALRM (to every ancestor) have no handler there and kill it, SIGUSR2 only makes it reopen its logs; the tree is left";
    pub const PW_GROUP: &str = "kill() SIGKILLs the process group and wait() reaps the leader, then waitpid(-pgid) for the wrapper's own children: members that are not its children may still be exiting (early when the look catches one)";
    pub const PW_USR1: &str = "the tree sends its parent SIGUSR1 or SIGUSR2, which a process-wrap supervisor has no handler for: it dies of it and leaves the tree";
    pub const SLOW_EXIT: &str = "the group is signalled and the supervisor exits with its child, while the slow member is still exiting (early, every run)";
    pub const TIMEOUT_NO_HANDLER: &str = "timeout has no handler for SIGUSR1 or SIGUSR2, which the tree sends its parent (Xorg's ready signal, or carelessly): it dies of it and leaves the tree";
    pub const TIMEOUT_KILL: &str = "the signal is forwarded to the group and ignored; after -k 1 second timeout SIGKILLs its whole process group, itself included: it dies with its child unreaped, which the warden reaps as an orphan (counted, not a fault), and exits 137 as documented. Its children die of the same kill at the same instant, so one may still be exiting when it is gone (early)";
}

const TINI_172: Source = Source {
    label: "tini issue 172",
    url: "https://github.com/krallin/tini/issues/172",
};
const TINI_236: Source = Source {
    label: "tini issue 236",
    url: "https://github.com/krallin/tini/issues/236",
};
const TINI_PR_15: Source = Source {
    label: "tini PR 15 (-g)",
    url: "https://github.com/krallin/tini/pull/15",
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
const TIMEOUT_DOC: Source = Source {
    label: "GNU coreutils timeout",
    url: "https://www.gnu.org/software/coreutils/manual/html_node/timeout-invocation.html",
};
const CATATONIT: Source = Source {
    label: "catatonit",
    url: "https://github.com/openSUSE/catatonit",
};
const SUPERVISORD_DOC: Source = Source {
    label: "supervisord [program:x] (stopasgroup, killasgroup)",
    url: "https://supervisord.org/configuration.html#program-x-section-settings",
};
const PROCESS_WRAP_DOC: Source = Source {
    label: "process-wrap ProcessGroup",
    url: "https://docs.rs/process-wrap/latest/process_wrap/std/struct.ProcessGroup.html",
};
const BWRAP_369: Source = Source {
    label: "bubblewrap issue 369",
    url: "https://github.com/containers/bubblewrap/issues/369",
};
const BWRAP_684: Source = Source {
    label: "bubblewrap issue 684",
    url: "https://github.com/containers/bubblewrap/issues/684",
};

/// Every catalog scenario name, grouped by how a peer tends to fail it.
mod group {
    pub const ESCAPES: &[&str] = &["setsid-escape", "setpgid-escape", "daemonize"];
    pub const LATE: &[&str] = &["jmmv-grandchild", "escape-exits-late"];
    pub const TERM_SURVIVORS: &[&str] = &["sigterm-ignored", "respawn-on-term"];
    pub const NEVER_DIES_OF_FORWARDED: &[&str] = &["blocked-signals", "sigint-ignored"];
    /// The tree stops its parent.
    pub const STOPS_PARENT: &[&str] = &["stop-parent", "stop-ancestors-on-term"];
    /// A process out of the group at the trigger (setsid, a hop).
    pub const NEW_ESCAPES: &[&str] = &[
        "thread-fork",
        "subreaper-in-tree",
        "hostile-names",
        "fork-hoppers",
    ];
    /// A process that outlives the group's SIGTERM by a new way: a zombie main
    /// thread ignoring it, a nested init, a swallowing tracer.
    pub const NEW_TERM_SURVIVORS: &[&str] = &[
        "main-thread-exits",
        "nested-pid-namespace",
        "ptrace-swallows-term",
    ];
    /// The leader exits on its own and leaves children running.
    pub const LEADER_EXITS: &[&str] = &["leader-exits-orphans-remain", "unreadable-name-exits"];
    /// Members that need 100 ms after SIGTERM.
    pub const GRACEFUL: &[&str] = &["nested-cgroup", "graceful-shutdown"];
}

/// What every peer that signals its child's process group shares (`tini -g`,
/// `catatonit -g`, `timeout`, `dumb-init`): the escapes leak, the late exits are
/// early, the SIGTERM survivors are left, a tree that stops its parent stops it,
/// and members that need time after SIGTERM are still running when it exits.
fn signals_group() -> Cells {
    Cells::all(Expect::any_of(&[Clean, Early], note::GROUP_DYING))
        .escapes_leak()
        .late_exits_early()
        .set(group::STOPS_PARENT, Expect::is(Hang, note::STOPPED))
        .set(group::TERM_SURVIVORS, TERM_THEN_EXIT)
        .set(group::NEW_TERM_SURVIVORS, TERM_THEN_EXIT)
        .set(
            group::GRACEFUL,
            Expect::is(Early, note::GRACEFUL_AFTER_CHILD),
        )
        .set(&["slow-exit-member"], Expect::is(Early, note::SLOW_EXIT))
}

/// A leaked member that ignores SIGTERM (or respawned): the group's SIGTERM is
/// all it gets ([`note::TERM_THEN_EXIT`]).
const TERM_THEN_EXIT: Expect = Expect::is(Leak, note::TERM_THEN_EXIT);

/// [`signals_group`], for a peer that also exits with its child, leaving a
/// leader's orphans (`tini -g`, `catatonit -g`, `timeout`).
fn signals_group_then_exits() -> Cells {
    signals_group().set(
        group::LEADER_EXITS,
        Expect::is(Leak, note::EXITS_WITH_LEADER),
    )
}

/// A peer that forwards signals to its child only and exits with it (`tini`,
/// `dumb-init --single-child`, `catatonit`): everything below the child is left
/// (`child_only` says why).
fn child_forwarder(child_only: &'static str) -> Vec<(&'static str, Expect)> {
    Cells::all(Expect::is(Leak, child_only))
        .set(group::LATE, Expect::is(Early, note::EXITS_WITH_LEADER_LATE))
        .set(group::STOPS_PARENT, Expect::is(Hang, note::STOPPED))
        .forwards_only()
        .0
}

/// A peer that forwards signals to its child's process group and exits with
/// its child (`tini -g`, `catatonit -g`).
fn group_exits_with_child() -> Vec<(&'static str, Expect)> {
    signals_group_then_exits().forwards_only().0
}

/// Builds one peer's expectations: a default for every catalog scenario, then
/// overrides.
struct Cells(Vec<(&'static str, Expect)>);

impl Cells {
    fn all(default: Expect) -> Cells {
        Cells(crate::all().iter().map(|s| (s.name, default)).collect())
    }

    fn set(mut self, names: &[&str], expect: Expect) -> Cells {
        for name in names {
            let cell = self.0.iter_mut().find(|(n, _)| n == name);
            let cell =
                cell.unwrap_or_else(|| panic!("peer expectation for unknown scenario {name}"));
            cell.1 = expect;
        }
        self
    }

    /// Every escape, old and new, leaks: the peer's signals go to the group.
    fn escapes_leak(self) -> Cells {
        let escaped = Expect::is(Leak, note::ESCAPED);
        self.set(group::ESCAPES, escaped)
            .set(group::NEW_ESCAPES, escaped)
    }

    /// The late exits are early: the escapee is never signalled, and the
    /// grandchild outlives a peer that exits with its child.
    fn late_exits_early(self) -> Cells {
        self.set(
            &["escape-exits-late"],
            Expect::is(Early, note::NEVER_SIGNALLED_LATE),
        )
        .set(
            &["jmmv-grandchild"],
            Expect::is(Early, note::EXITS_WITH_LEADER_LATE),
        )
    }

    /// Signals are forwarded, never followed by SIGCONT nor escalated: a stopped
    /// child, and one that does not die of the forwarded signal, hang the peer.
    fn forwards_only(self) -> Cells {
        self.set(&["stopped"], Expect::is(Hang, note::NO_SIGCONT))
            .set(
                group::NEVER_DIES_OF_FORWARDED,
                Expect::is(Hang, note::FORWARD_ONLY),
            )
    }
}

fn build() -> Vec<Peer> {
    vec![
        Peer {
            name: "tini",
            argv: &["tini", "--"],
            about: "forwards signals to its child, reaps zombies, exits with its child",
            grace: Duration::ZERO,
            sources: &[TINI_172, TINI_236],
            expected: child_forwarder(note::TINI_CHILD_ONLY),
        },
        Peer {
            name: "tini-g",
            argv: &["tini", "-g", "--"],
            about: "forwards signals to its child's process group, exits with its child",
            grace: Duration::ZERO,
            sources: &[TINI_PR_15, TINI_172],
            expected: group_exits_with_child(),
        },
        Peer {
            name: "dumb-init",
            argv: &["dumb-init"],
            about: "runs its child in a new session, forwards signals to that process group, \
                    and when the child exits sends SIGTERM to the group and exits at once",
            grace: Duration::ZERO,
            sources: &[DUMB_INIT_191, DUMB_INIT_212, DUMB_INIT_80],
            expected: signals_group()
                .set(
                    &["clone-parent"],
                    Expect::is(Clean, note::DUMB_INIT_CPARENT),
                )
                .forwards_only()
                .0,
        },
        Peer {
            name: "dumb-init-single-child",
            argv: &["dumb-init", "--single-child"],
            about: "forwards signals to its child only, exits with its child",
            grace: Duration::ZERO,
            sources: &[DUMB_INIT_212],
            expected: child_forwarder(note::DUMB_INIT_CHILD_ONLY),
        },
        Peer {
            name: "timeout",
            argv: &["timeout", "-k", "1", "5"],
            about: "runs its child in its own process group; on a signal or at the timeout \
                    signals the group (then SIGCONT), SIGKILLs it after -k, exits with its child",
            grace: Duration::from_secs(1),
            sources: &[TIMEOUT_DOC],
            expected: signals_group_then_exits()
                .set(
                    &["clone-parent"],
                    Expect::any_of(&[Clean, Early], note::TIMEOUT_CPARENT),
                )
                .set(
                    &["xorg-ready-signal", "signals-upward"],
                    Expect::is(Leak, note::TIMEOUT_NO_HANDLER),
                )
                .set(
                    group::NEVER_DIES_OF_FORWARDED,
                    Expect::any_of(&[Clean, Early], note::TIMEOUT_KILL),
                )
                .0,
        },
        Peer {
            name: "bwrap",
            argv: &[
                "bwrap",
                "--dev-bind",
                "/",
                "/",
                "--unshare-pid",
                "--die-with-parent",
            ],
            about: "runs its child under an init in a new PID namespace; when bwrap dies the \
                    init dies with it and the kernel kills the namespace",
            grace: Duration::ZERO,
            sources: &[BWRAP_369, BWRAP_684],
            expected: Cells::all(Expect::is(Early, note::PIDNS))
                .set(
                    &["jmmv-grandchild"],
                    Expect::is(Early, note::PIDNS_LEADER_EXIT),
                )
                .set(
                    group::LEADER_EXITS,
                    Expect::any_of(&[Clean, Early], note::PIDNS_LEADER_EXIT),
                )
                .0,
        },
        Peer {
            name: "catatonit",
            argv: &["catatonit", "--"],
            about: "a container init (podman's): forwards signals to its child, reaps zombies, exits with its child",
            grace: Duration::ZERO,
            sources: &[CATATONIT],
            expected: child_forwarder(note::CATATONIT_CHILD_ONLY),
        },
        Peer {
            name: "catatonit-g",
            argv: &["catatonit", "-g", "--"],
            about: "catatonit forwarding signals to its child's process group",
            grace: Duration::ZERO,
            sources: &[CATATONIT],
            expected: group_exits_with_child(),
        },
        Peer {
            name: "supervisord",
            argv: &["teardown", "peer-wrap", "supervisord", "--"],
            about: "supervisord with the tree as its one program (stopasgroup, killasgroup, \
                    stopwaitsecs=1), stopped on SIGTERM or when the program exits",
            grace: Duration::from_secs(1),
            sources: &[SUPERVISORD_DOC],
            expected: Cells::all(Expect::any_of(&[Clean, Early], note::SD_GROUP))
                .escapes_leak()
                .set(
                    group::LEADER_EXITS,
                    Expect::is(Leak, note::SD_EXITED_PROGRAM),
                )
                .set(
                    &["xorg-ready-signal", "signals-upward"],
                    Expect::is(Leak, note::SD_USR1),
                )
                .set(group::STOPS_PARENT, Expect::is(Hang, note::STOPPED))
                .0,
        },
        Peer {
            name: "process-wrap",
            argv: &["teardown", "peer-wrap", "process-wrap", "--"],
            about: "a Rust supervisor on the process-wrap crate: ProcessGroup::leader(), \
                    kill() (SIGKILL to the group) then wait() on SIGTERM",
            grace: Duration::ZERO,
            sources: &[PROCESS_WRAP_DOC],
            expected: Cells::all(Expect::any_of(&[Clean, Early], note::PW_GROUP))
                .escapes_leak()
                .late_exits_early()
                .set(&["slow-exit-member"], Expect::is(Early, note::SLOW_EXIT))
                .set(
                    group::LEADER_EXITS,
                    Expect::is(Leak, note::EXITS_WITH_LEADER),
                )
                .set(
                    &["xorg-ready-signal", "signals-upward"],
                    Expect::is(Leak, note::PW_USR1),
                )
                .set(&["stop-parent"], Expect::is(Hang, note::STOPPED))
                .0,
        },
        Peer {
            name: "teardown-auto",
            argv: &["teardown", "run", "--method", "auto", "--"],
            about: "this project's supervisor with the strongest method the host supports",
            grace: Duration::from_secs(2),
            sources: &[],
            expected: Cells::all(Expect::clean()).0,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_has_an_expectation_for_every_scenario() {
        for peer in all() {
            for s in crate::all() {
                assert!(
                    peer.expected(s.name).is_some(),
                    "{} has no expectation for {}",
                    peer.name,
                    s.name
                );
            }
            assert_eq!(peer.expected("random-1-0"), None);
        }
    }

    #[test]
    fn every_non_clean_peer_cell_says_why() {
        for peer in all() {
            for (name, e) in &peer.expected {
                assert!(e.is_clean() || e.note().is_some(), "{} × {name}", peer.name);
            }
        }
    }

    #[test]
    fn peers_are_found_by_exact_argv_only() {
        assert_eq!(by_argv(&["tini", "--"]).unwrap().name, "tini");
        assert_eq!(by_argv(&["tini", "-g", "--"]).unwrap().name, "tini-g");
        assert!(by_argv(&["tini"]).is_none());
        assert!(by_argv(&["tini", "--", "x"]).is_none());
    }

    #[test]
    fn an_unknown_peer_lists_the_valid_names() {
        let err = by_name("runit").unwrap_err().to_string();
        for p in all() {
            assert!(err.contains(p.name), "{err}");
        }
    }

    #[test]
    fn peer_names_are_unique() {
        let mut names: Vec<_> = all().iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all().len());
    }
}
