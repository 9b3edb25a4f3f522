//! From two looks (at done, after the straggler grace) to findings and one verdict.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use teardown::Verdict;

use super::{Identity, Observation, Seen, worst};
use crate::trial::{Finding, TrialOutcome};

/// What a finding says, and so which part of the contract it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// A tree process alive after the straggler grace (`leak`).
    Survivor,
    /// A tree process that existed at done (running or dying) and was gone by
    /// the end of the straggler grace (`early`).
    Early,
    /// A dead process held unreaped by a live process of the supervisor side
    /// (`zombie`).
    Zombie,
    /// A dead process reparented to the warden: counted, not a fault.
    OrphanedZombie,
    /// A bystander killed (`bystander-killed`).
    BystanderKilled,
    /// A helper of the supervisor alive after the straggler grace (`leftover`).
    HelperLeft,
    /// A cgroup the supervisor made, left after it was done (`leftover`).
    CgroupLeft,
    /// A mount the supervisor made, left after it was done (`leftover`).
    MountLeft,
    /// A node that handles SIGTERM and needed less than the grace was killed
    /// before it finished (`grace-cut`).
    GraceCut,
    /// The drain report is not what happened (`false-report`).
    FalseReport,
    /// The supervisor exited with a status it does not promise (`bad-exit`).
    BadExit,
    /// The supervisor died of a signal its tree sent (`supervisor-killed`).
    SupervisorKilled,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 12] = [
        FindingKind::Survivor,
        FindingKind::Early,
        FindingKind::Zombie,
        FindingKind::OrphanedZombie,
        FindingKind::BystanderKilled,
        FindingKind::HelperLeft,
        FindingKind::CgroupLeft,
        FindingKind::MountLeft,
        FindingKind::GraceCut,
        FindingKind::FalseReport,
        FindingKind::BadExit,
        FindingKind::SupervisorKilled,
    ];

    /// The word in [`Finding::kind`], the JSON and verbose output.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Survivor => "survivor",
            FindingKind::Early => "early",
            FindingKind::Zombie => "zombie",
            FindingKind::OrphanedZombie => "orphaned-zombie",
            FindingKind::BystanderKilled => "bystander-killed",
            FindingKind::HelperLeft => "helper-left",
            FindingKind::CgroupLeft => "cgroup-left",
            FindingKind::MountLeft => "mount-left",
            FindingKind::GraceCut => "grace-cut",
            FindingKind::FalseReport => "false-report",
            FindingKind::BadExit => "bad-exit",
            FindingKind::SupervisorKilled => "supervisor-killed",
        }
    }

    /// The verdict it makes, `None` for what is only counted.
    pub fn verdict(self) -> Option<Verdict> {
        Some(match self {
            FindingKind::Survivor => Verdict::Leak,
            FindingKind::Early => Verdict::Early,
            FindingKind::Zombie => Verdict::Zombie,
            FindingKind::OrphanedZombie => return None,
            FindingKind::BystanderKilled => Verdict::BystanderKilled,
            FindingKind::HelperLeft | FindingKind::CgroupLeft | FindingKind::MountLeft => {
                Verdict::Leftover
            }
            FindingKind::GraceCut => Verdict::GraceCut,
            FindingKind::FalseReport => Verdict::FalseReport,
            FindingKind::BadExit => Verdict::BadExit,
            FindingKind::SupervisorKilled => Verdict::SupervisorKilled,
        })
    }

    /// The kind written `word`, if any.
    pub fn from_name(word: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The oracle's judgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// The worst verdict of the findings (`clean` without any).
    pub verdict: Verdict,
    /// Tree processes alive after the straggler grace.
    pub survivors: u32,
    /// Tree processes running (alive, not dying) at done, gone after the grace.
    pub stragglers: u32,
    /// Tree processes dying at done (SIGKILL pending, or exiting), gone after the
    /// grace. With `stragglers`, what `early` counts.
    pub dying: u32,
    /// Dead processes held by the supervisor side at done.
    pub zombies: u32,
    /// Dead processes reparented to the warden at done: counted, not a fault.
    pub orphaned_zombies: u32,
    /// Bystanders killed.
    pub bystanders_killed: u32,
    /// One entry per finding.
    pub findings: Vec<Finding>,
}

impl Judgement {
    /// A judgement with nothing found.
    pub fn clean() -> Judgement {
        Judgement {
            verdict: Verdict::Clean,
            survivors: 0,
            stragglers: 0,
            dying: 0,
            zombies: 0,
            orphaned_zombies: 0,
            bystanders_killed: 0,
            findings: Vec::new(),
        }
    }

    /// The outcome that says this judgement (verdict, counts, findings) and
    /// `detail`; no report, timings or nodes yet.
    pub fn into_outcome(self, detail: Option<String>) -> TrialOutcome {
        TrialOutcome {
            verdict: self.verdict,
            detail,
            survivors: self.survivors,
            stragglers: self.stragglers,
            dying: self.dying,
            zombies: self.zombies,
            orphaned_zombies: self.orphaned_zombies,
            bystanders_killed: self.bystanders_killed,
            report: None,
            drain: None,
            elapsed: Duration::ZERO,
            cpu: Default::default(),
            nodes: Vec::new(),
            findings: self.findings,
        }
    }

    /// Adds a finding (the warden's: grace, report, exit, cgroups, mounts), and
    /// worsens the verdict by what it says.
    pub fn add(&mut self, kind: FindingKind, pid: i32, node: Option<u32>, note: impl Into<String>) {
        if let Some(v) = kind.verdict() {
            self.verdict = worst(self.verdict, v);
        }
        self.findings.push(Finding {
            pid,
            node,
            kind: kind.as_str().into(),
            note: note.into(),
        });
    }

    fn add_seen(&mut self, kind: FindingKind, s: &Seen, prefix: &str) {
        self.add(kind, s.id.pid, s.node, format!("{prefix}{}", s.note));
    }

    /// The findings of one kind.
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings
            .iter()
            .filter(|f| f.kind == kind.as_str())
            .count()
    }
}

/// An outcome with nothing judged: only `verdict` (`unsupported`, `error`) and
/// why.
pub fn bare_outcome(verdict: Verdict, detail: impl Into<String>) -> TrialOutcome {
    Judgement {
        verdict,
        ..Judgement::clean()
    }
    .into_outcome(Some(detail.into()))
}

/// An outcome that is only an error: what every failure to run a trial (no
/// binary, a warden that does not answer, a bad trial) comes back as.
pub fn error_outcome(detail: impl Into<String>) -> TrialOutcome {
    bare_outcome(Verdict::Error, detail)
}

/// Judges the processes of a trial from its observation at done and the one
/// after the straggler grace (pass the same observation twice when there was
/// nothing to wait for).
pub fn judge(at_done: &Observation, after_grace: &Observation) -> Judgement {
    let mut j = Judgement::clean();
    let still: BTreeSet<Identity> = after_grace
        .alive
        .iter()
        .chain(&after_grace.dying)
        .map(|s| s.id)
        .collect();
    for s in after_grace.alive.iter().chain(&after_grace.dying) {
        j.add_seen(FindingKind::Survivor, s, "");
    }
    // Still forking after the grace, though every process read was dead by then:
    // the tree lives on (one survivor, whichever process it is now).
    let forking = after_grace.forking && still.is_empty();
    if forking {
        j.add(
            FindingKind::Survivor,
            0,
            None,
            "the tree was still making processes after the straggler grace (every rescan found a new one), faster than a scan reads them alive",
        );
    }
    j.survivors = still.len() as u32 + u32::from(forking);
    for s in at_done.alive.iter().filter(|s| !still.contains(&s.id)) {
        j.add_seen(FindingKind::Early, s, "running at done: ");
        j.stragglers += 1;
    }
    for s in at_done.dying.iter().filter(|s| !still.contains(&s.id)) {
        j.add_seen(FindingKind::Early, s, "dying at done: ");
        j.dying += 1;
    }
    let held = |s: &&Seen| {
        !at_done.held_by_helpers.contains(&s.id) || after_grace.zombies.iter().any(|z| z.id == s.id)
    };
    for s in at_done.zombies.iter().filter(held) {
        j.add_seen(FindingKind::Zombie, s, "");
        j.zombies += 1;
    }
    for s in &at_done.orphaned_zombies {
        j.add_seen(FindingKind::OrphanedZombie, s, "");
    }
    j.orphaned_zombies = at_done.orphaned_zombies.len() as u32;
    for s in &after_grace.helpers {
        j.add_seen(FindingKind::HelperLeft, s, "");
    }
    // Once each, though listed twice or seen dead on both looks.
    let mut dead_bystanders: Vec<&Seen> = Vec::new();
    for s in at_done
        .bystanders_dead
        .iter()
        .chain(&after_grace.bystanders_dead)
    {
        if !dead_bystanders.iter().any(|d| d.id == s.id) {
            dead_bystanders.push(s);
        }
    }
    for s in &dead_bystanders {
        j.add_seen(FindingKind::BystanderKilled, s, "");
    }
    j.bystanders_killed = dead_bystanders.len() as u32;
    j
}
