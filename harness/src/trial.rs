//! One trial: a supervisor, a spec, a trigger — and the oracle's verdict.
//!
//! Pure data: the contract shared by the engine (warden, oracle), the matrix,
//! `check`, the property tests and the benches. The warden runs a trial:
//! [`crate::warden::run_trial`].

use std::time::Duration;

use teardown::{DrainReport, Method, Verdict};

use crate::spec::TreeSpec;

/// Who tears the tree down.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Supervisor {
    /// `teardown run --method M -- <node command>`.
    Method(Method),
    /// An external command; the node command is appended to its argv.
    External(Vec<String>),
}

impl Supervisor {
    /// The label used in every output: `method:killpg`, `external:tini -g --`.
    pub fn label(&self) -> String {
        match self {
            Supervisor::Method(m) => format!("method:{m}"),
            Supervisor::External(argv) => format!("external:{}", argv.join(" ")),
        }
    }
}

/// How the warden asks the supervisor to tear down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// SIGTERM to the supervisor (the default).
    Sigterm,
    /// SIGINT to the supervisor.
    Sigint,
    /// The supervisor's own timeout: `teardown run --timeout`; for external
    /// supervisors, the supervisor is expected to time out by itself (e.g. `timeout 1`).
    Timeout,
    /// The leader exits on its own (the node spec's root ends with `exit`).
    LeaderExit,
}

/// Everything that defines one trial.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trial {
    /// Who tears down.
    pub supervisor: Supervisor,
    /// The tree.
    pub spec: TreeSpec,
    /// How teardown is triggered.
    pub trigger: Trigger,
    /// The supervisor's grace (SIGTERM → SIGKILL), for `Supervisor::Method`.
    pub grace: Duration,
    /// How long a process may outlive the supervisor's "done" before it is a leak.
    pub straggler_grace: Duration,
    /// How long the supervisor may take after the trigger before the verdict is `hang`.
    pub deadline: Duration,
    /// How many bystanders (processes outside the tree that must survive) to start.
    pub bystanders: u32,
}

impl Trial {
    /// A trial with the defaults every command uses: trigger SIGTERM, grace 2 s,
    /// straggler grace 1 s, deadline 10 s, two bystanders.
    pub fn new(supervisor: Supervisor, spec: TreeSpec) -> Trial {
        Trial {
            supervisor,
            spec,
            trigger: Trigger::Sigterm,
            grace: Duration::from_secs(2),
            straggler_grace: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
            bystanders: 2,
        }
    }
}

/// The oracle's findings about one trial.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrialOutcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, for `unsupported`, `error` and `hang`; a one-line summary otherwise.
    pub detail: Option<String>,
    /// Tree processes alive after the straggler grace.
    pub survivors: u32,
    /// Tree processes alive and not dying at "done" that died within the straggler
    /// grace (`early`).
    pub stragglers: u32,
    /// Tree processes dying at "done" (SIGKILL pending, or exiting) that died
    /// within the grace: the supervisor said done before they were gone (`early`
    /// too, counted apart).
    #[serde(default)]
    pub dying: u32,
    /// Dead processes held unreaped by a live process of the supervisor side at
    /// "done" (`zombie`).
    pub zombies: u32,
    /// Dead processes reparented to the warden at "done" (their parent died): what
    /// any init reaps at once. Counted, not a fault.
    #[serde(default)]
    pub orphaned_zombies: u32,
    /// Bystanders found dead.
    pub bystanders_killed: u32,
    /// The supervisor's drain report, when it is ours.
    pub report: Option<DrainReport>,
    /// Drain latency: the report's, or trigger → supervisor exit for external ones.
    pub drain: Option<Duration>,
    /// Wall time of the whole trial.
    pub elapsed: Duration,
    /// CPU time of the trial's processes: the warden that ran it and everything it
    /// reaped (supervisor, tree, helpers). Zero when unknown.
    #[serde(default)]
    pub cpu: TrialCpu,
    /// The tree as it was spawned: one record per node that reported ready.
    pub nodes: Vec<NodeRecord>,
    /// The processes the oracle found, for verbose output.
    pub findings: Vec<Finding>,
}

/// CPU time spent by a trial's processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrialCpu {
    /// In user mode.
    pub user: Duration,
    /// In the kernel.
    pub system: Duration,
}

impl TrialCpu {
    /// User plus system time.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }
}

/// One node's readiness record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeRecord {
    /// Preorder index of the node in the expanded spec.
    pub node: u32,
    /// PID (in the warden's PID namespace).
    pub pid: i32,
    /// Process group (0: its leader is outside the node's PID namespace).
    pub pgid: i32,
    /// Session (0: its leader is outside the node's PID namespace).
    pub sid: i32,
    /// Start time, clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// The PID namespace the node saw `pid` in (the inode of its
    /// `/proc/self/ns/pid`; 0 unknown). A record from a nested namespace whose
    /// process is gone cannot be placed by `NSpid`; this says that its `pid` names
    /// nothing in the warden's view, however well a process there matches it.
    #[serde(default)]
    pub pidns: u64,
}

/// One process the oracle judged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// PID (in the warden's PID namespace).
    pub pid: i32,
    /// Node id, if it was a recorded node.
    pub node: Option<u32>,
    /// Which part of the contract it is about
    /// ([`crate::oracle::FindingKind`]): `survivor`, `early`, `zombie`,
    /// `orphaned-zombie`, `bystander-killed`, `helper-left`, `cgroup-left`,
    /// `mount-left`, `grace-cut`, `false-report`, `bad-exit`, `supervisor-killed`.
    pub kind: String,
    /// What was seen (parent PID, state and command of a process), for people.
    pub note: String,
}
