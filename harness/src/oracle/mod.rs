//! The oracle: judges a trial against the contract a teardown keeps.
//!
//! # The contract
//!
//! Once the supervisor says done: nothing of the tree survives (`leak`) or still
//! exists (`early`); no dead process is held unreaped by a live process of the
//! supervisor side (`zombie`; one reparented to the warden because its parent died
//! is what any init reaps: counted, `orphaned_zombies`, not a fault); a node that
//! handles SIGTERM and needs less than the grace gets to finish (`grace-cut`); the
//! drain report is true (`false-report`); nothing the supervisor made is left:
//! helper processes, cgroups, mounts (`leftover`); the supervisor exits as it
//! promises (`bad-exit`) and is not killed by its own tree (`supervisor-killed`);
//! no bystander is hurt (`bystander-killed`). Every part is judged on its own and
//! listed as [`Finding`]s; the verdict is the worst of them ([`teardown::Verdict`]'s
//! order). This module judges the processes ([`observe`], [`judge`]); the warden
//! adds what only it can see (the records, the report, the exit status, the
//! cgroups and mounts) with [`Judgement::add`].
//!
//! # When "done" is
//!
//! `teardown run` (our supervisor) says done with its drain report, and then waits
//! until the warden has looked (the hold pipe, `crate::wire::HOLD_FD_ENV`): the look
//! at done happens while it is alive and holds what it holds. An external
//! supervisor says done by exiting, and the warden looks at the moment it does:
//! it traces the supervisor from the trigger on (`PTRACE_SEIZE` with
//! `PTRACE_O_TRACEEXIT`, every signal passed on at once) and looks at its exit
//! stop, before the kernel reparents its children or sends their
//! `PR_SET_PDEATHSIG` (what kills bwrap's sandbox). Where it cannot trace (the
//! supervisor stopped, or `ptrace` refused), it looks once the exit is seen.
//!
//! # What it looks at
//!
//! The warden describes the [`Scene`] (its own PID, the supervisor's, the
//! bystanders', the readiness records) and the oracle [`observe`]s the process
//! table through a [`ProcSource`]:
//!
//! * **descendants**: every descendant of the warden except the supervisor and the
//!   bystanders, found from every thread's `children` file *and* by following every
//!   process's `ppid` chain up to the warden (the `children` files are not reliable
//!   for a process being reparented), plus every recorded node whose identity
//!   `(pid, start time)` still exists; scanned again until a scan finds nobody new
//!   (a process can fork between two reads: [`scan`]);
//! * a live descendant is a **tree process** when it runs the node interpreter
//!   (`teardown node`, argv[1] is `node`) or is a recorded node, and a **helper**
//!   of the supervisor otherwise (a shim, a namespace init, bwrap's init, a
//!   wrapper's `sh`);
//! * a process is **alive** while any of its threads lives — a zombie main thread
//!   with a live thread is alive, and a process in state `R` is never a zombie.
//!   Liveness is never judged by `kill(pid, 0)` (it succeeds on zombies). An alive
//!   process is **dying** when it is committed to exit: SIGKILL pending, or every
//!   thread in `do_exit` ([`ProcStat::dying`]); a process read as alive and not
//!   dying is read once more, because one look is several files;
//! * a **dead** process is a **zombie** finding when its parent is alive and on the
//!   supervisor side: the supervisor, or a helper that still holds it after the
//!   straggler grace (an init reaping as it goes holds each for a moment); it is
//!   an **orphaned zombie**
//!   (counted) when its parent is the warden; a tree process's own unreaped
//!   children are the tree's business;
//! * a **bystander** not alive (by identity) was killed.
//!
//! The warden then waits up to the straggler grace for the live ones to die
//! (event-driven, see [`wait`]) and observes again: tree processes alive then —
//! dying or not, including new ones a fork storm made meanwhile, and a tree whose
//! rescans never settled (still forking faster than a scan reads it) — are
//! **survivors** (`leak`); the ones that existed at done and were gone by then
//! are **early** (`early`: running or dying, the supervisor said done before the
//! tree drained); helpers alive then were **left** (`leftover`).
//!
//! # PID namespaces
//!
//! Records carry the PIDs the nodes see. When the tree runs in a nested PID
//! namespace (`pidns`, `bwrap --unshare-pid`, a `userns` node), those differ from
//! the warden's view: [`map_records`] finds each record's process by the innermost
//! PID of its `NSpid` line, its start time and its PID namespace, and rewrites pid
//! (and pgid/sid where the group or session leader was mapped too) into the
//! warden's view.

mod fake;
mod judge;
mod observe;
mod procread;
mod records;
mod scan;
mod source;
pub mod wait;

pub use fake::FakeProc;
pub use judge::{FindingKind, Judgement, bare_outcome, error_outcome, judge};
pub use observe::observe;
pub use procread::stat_state;
pub use records::{Placed, map_records};
pub use scan::tree_processes;
pub use source::{Identity, LiveProc, ProcSource, ProcStat};
use teardown::Verdict;

use crate::trial::NodeRecord;

/// What the warden knows when it asks the oracle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scene {
    /// The warden's PID (the root of the enumeration).
    pub warden: i32,
    /// The supervisor's PID (never counted as a tree process).
    pub supervisor: i32,
    /// The bystanders' identities.
    pub bystanders: Vec<Identity>,
    /// The readiness records, in the warden's PID view.
    pub records: Vec<NodeRecord>,
    /// The supervisor is in its exit (the warden looks at its `PTRACE_EVENT_EXIT`
    /// stop): it holds nothing any more, and its dead children are about to pass
    /// to the warden (orphaned, not its zombies).
    pub supervisor_exiting: bool,
}

/// One process the oracle saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Who.
    pub id: Identity,
    /// The node id, if it is a recorded node.
    pub node: Option<u32>,
    /// Parent, state, command.
    pub note: String,
}

/// One look at the process table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// The tree never stopped making processes while it was looked at: each of
    /// the rescans found one no scan before had. Something of the tree was alive,
    /// even if every process was already dead when read (a fork-hopper that forks
    /// faster than a scan reads `/proc`).
    pub forking: bool,
    /// Tree processes alive and not dying.
    pub alive: Vec<Seen>,
    /// Tree processes alive but committed to exit ([`ProcStat::dying`]).
    pub dying: Vec<Seen>,
    /// Live processes of the supervisor side other than the supervisor itself.
    pub helpers: Vec<Seen>,
    /// Dead processes held unreaped by a live process of the supervisor side.
    pub zombies: Vec<Seen>,
    /// Those of `zombies` whose holder is a helper, not the supervisor: a helper
    /// that reaps as it goes (bwrap's init, among hoppers) holds one for a
    /// moment, so these count only if still held after the straggler grace.
    pub held_by_helpers: Vec<Identity>,
    /// Dead processes whose parent is the warden (their own parent died).
    pub orphaned_zombies: Vec<Seen>,
    /// Bystanders no longer alive.
    pub bystanders_dead: Vec<Seen>,
}

impl Observation {
    /// Identities of the alive tree processes and helpers, dying or not (what the
    /// straggler wait watches).
    pub fn alive_identities(&self) -> Vec<Identity> {
        self.alive
            .iter()
            .chain(&self.dying)
            .chain(&self.helpers)
            .map(|s| s.id)
            .collect()
    }
}

/// How bad a verdict is: higher is worse ([`Verdict`]'s own order).
pub fn severity(v: Verdict) -> u8 {
    v as u8
}

/// The worse of two verdicts.
pub fn worst(a: Verdict, b: Verdict) -> Verdict {
    a.max(b)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_live;
#[cfg(test)]
mod tests_real;
