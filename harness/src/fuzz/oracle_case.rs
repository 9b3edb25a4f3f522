//! Target `oracle`: a random process table and scene → the oracle.
//!
//! The oracle is pure logic over a [`ProcSource`]; here the source is a
//! [`FakeProc`] built from the input, small PIDs (1 to [`ORACLE_MAX_PID`]) and few start
//! ticks, so that parents, groups, records, bystanders and nested namespaces
//! collide often. [`check`] runs what the warden runs — [`map_records`], then
//! [`observe`] at done and after the grace (the table changed by
//! [`OracleCase::grace`]), then [`judge`] — and holds each against a reference
//! written from the module docs of [`crate::oracle`], not from its code:
//!
//! * nothing panics, on any table (ppid cycles, missing parents, a warden that is
//!   also a bystander);
//! * `map_records` keeps every record's node and start time, moves a record only
//!   onto a process whose innermost `NSpid` and start time are the record's (and
//!   never a record of our own namespace), and says `gone` only of records from a
//!   nested namespace, kept as they were;
//! * `observe` finds exactly the tree processes — the warden's descendants by
//!   `ppid` chain not through a bystander, plus recorded nodes with their
//!   identity, never the warden, the supervisor or a bystander — and puts each in
//!   the bucket its state and command line say (alive, dying, helper, a zombie of
//!   the supervisor side, an orphaned zombie), naming recorded nodes; a bystander
//!   is dead exactly when its identity is not alive;
//! * `judge` gives exactly one verdict, one of the oracle's own (never `hang`,
//!   `unsupported` or `error`), the worst of what it found; its counts equal its
//!   findings of each kind; and judging one observation twice finds nothing
//!   early.

use crate::oracle::{FakeProc, Identity, ProcSource, Scene};
use crate::trial::NodeRecord;

/// PIDs of a case are 1 to `ORACLE_MAX_PID`.
pub const ORACLE_MAX_PID: u8 = 24;
/// Processes of a case's table, at most (later ones are ignored).
const MAX_PROCS: usize = 64;
/// The PID namespace a case's table is in, when it says.
const OURS: u64 = 4_026_531_836;
/// Another (nested) PID namespace.
const NESTED: u64 = 4_026_532_999;

/// A random process table, scene and straggler grace for the oracle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OracleCase {
    /// The process table at done (a later process with the same PID replaces an
    /// earlier one).
    pub table: Vec<FakeProcess>,
    /// Whether the table says which PID namespace it is in.
    pub own_pidns: bool,
    /// The warden (a process byte: a PID below [`ORACLE_MAX_PID`], else an entry of
    /// the table).
    pub warden: u8,
    /// The supervisor (a process byte).
    pub supervisor: u8,
    /// Looked at in its exit stop.
    pub supervisor_exiting: bool,
    /// Bystanders: (process byte, start tick).
    pub bystanders: Vec<(u8, u8)>,
    /// Readiness records, as the nodes wrote them.
    pub records: Vec<FakeRecord>,
    /// What happens to the table during the straggler grace.
    pub grace: Vec<Change>,
}

/// Lists of a drawn length (up to a few dozen processes, a handful of the rest),
/// not `arbitrary`'s coin flip per element, which keeps most tables at one or
/// two processes; the elements are derived.
#[cfg(any(test, feature = "arbitrary"))]
impl<'a> arbitrary::Arbitrary<'a> for OracleCase {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        fn many<'a, T: arbitrary::Arbitrary<'a>>(
            u: &mut arbitrary::Unstructured<'a>,
            max: usize,
        ) -> arbitrary::Result<Vec<T>> {
            let n = u.int_in_range(0..=max)?;
            (0..n).map(|_| T::arbitrary(u)).collect()
        }
        Ok(OracleCase {
            table: many(u, 2 * usize::from(ORACLE_MAX_PID))?,
            own_pidns: u.arbitrary()?,
            warden: u.arbitrary()?,
            supervisor: u.arbitrary()?,
            supervisor_exiting: u.arbitrary()?,
            bystanders: many(u, 3)?,
            records: many(u, 12)?,
            grace: many(u, 12)?,
        })
    }
}

/// One process of an [`OracleCase`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct FakeProcess {
    /// PID: 1 + this modulo [`ORACLE_MAX_PID`].
    pub pid: u8,
    /// Parent: up to [`ORACLE_MAX_PID`] that PID (0: none), above an earlier entry.
    pub ppid: u8,
    /// Process group, read like the parent.
    pub pgid: u8,
    /// Session, read like the parent.
    pub sid: u8,
    /// Start time: one of a few ticks, so that look-alikes happen.
    pub tick: u8,
    /// Alive, dying, dead.
    pub state: FakeState,
    /// Its PIDs in nested namespaces, innermost last (empty: none).
    pub nested: Vec<u8>,
    /// Left out of its parent's `children` file.
    pub hidden: bool,
    /// Runs a helper's command line (a shim), not the node interpreter's.
    pub helper: bool,
}

/// A process's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum FakeState {
    /// Alive, not dying.
    Alive,
    /// Alive with SIGKILL pending.
    Dying,
    /// Every thread dead, not reaped.
    Zombie,
    /// The main thread a zombie, another thread alive.
    ZombieMainLiveThread,
}

/// A readiness record of an [`OracleCase`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct FakeRecord {
    /// Node id.
    pub node: u8,
    /// The node's process (a process byte); a record from a nested namespace
    /// names its innermost PID.
    pub pid: u8,
    /// Its group, read like a parent.
    pub pgid: u8,
    /// Its session, read like a parent.
    pub sid: u8,
    /// Its start tick (below 192: the process's own).
    pub tick: u8,
    /// Which namespace it saw its PID in.
    pub ns: RecordNs,
}

/// The PID namespace a record names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum RecordNs {
    /// Not said (0).
    Unknown,
    /// The table's own.
    Ours,
    /// A nested one.
    Nested,
}

/// What happens to one process during the straggler grace.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum Change {
    /// It (a process byte) exits: a zombie of its parent.
    Dies(u8),
    /// It is reaped.
    Reaped(u8),
    /// It gets SIGKILL.
    Killed(u8),
    /// A new process (a fork storm, a respawn) appears.
    Forks {
        /// Its PID: 1 + this modulo [`ORACLE_MAX_PID`].
        pid: u8,
        /// Its parent, read like an entry's.
        ppid: u8,
    },
}

fn pid(x: u8) -> i32 {
    1 + i32::from(x % ORACLE_MAX_PID)
}

fn start(tick: u8) -> u64 {
    100 + u64::from(tick % 4)
}

/// A process a byte names: a PID (1 to [`ORACLE_MAX_PID`]), its start time, and its
/// innermost PID in a nested namespace, if it has one.
type Named = (i32, u64, Option<i32>);

impl OracleCase {
    fn procs(&self) -> &[FakeProcess] {
        &self.table[..self.table.len().min(MAX_PROCS)]
    }

    /// The process byte `b` names: below [`ORACLE_MAX_PID`] the PID `b + 1` itself,
    /// started at `tick`; above, an entry of the table (most random bytes: so
    /// that the scene fits the table), started when it was unless `tick` is
    /// 192 or more.
    fn named(&self, b: u8, tick: u8) -> Named {
        let procs = self.procs();
        if b < ORACLE_MAX_PID || procs.is_empty() {
            return (pid(b), start(tick), None);
        }
        let e = &procs[usize::from(b - ORACLE_MAX_PID) % procs.len()];
        let t = if tick < 192 { e.tick } else { tick };
        (pid(e.pid), start(t), e.nested.last().map(|&n| pid(n)))
    }

    /// The parent byte `b` of the `i`-th entry names: up to [`ORACLE_MAX_PID`] that PID
    /// (0: none), above an earlier entry (so that random tables are mostly trees).
    fn parent(&self, i: usize, b: u8) -> i32 {
        if b <= ORACLE_MAX_PID || i == 0 {
            return i32::from(b % (ORACLE_MAX_PID + 1));
        }
        pid(self.procs()[usize::from(b - ORACLE_MAX_PID - 1) % i].pid)
    }

    /// The process table at done.
    pub fn before(&self) -> FakeProc {
        let mut t = FakeProc::new();
        if self.own_pidns {
            t.in_pidns(OURS);
        }
        for (i, f) in self.procs().iter().enumerate() {
            let (p, ppid) = (pid(f.pid), self.parent(i, f.ppid));
            match f.state {
                FakeState::Alive => t.live(p, ppid),
                FakeState::Dying => t.live(p, ppid).dying(p),
                FakeState::Zombie => t.zombie(p, ppid),
                FakeState::ZombieMainLiveThread => t.zombie_main_live_thread(p, ppid),
            };
            t.group(p, self.parent(i, f.pgid), self.parent(i, f.sid))
                .started(p, start(f.tick));
            if !f.nested.is_empty() {
                let ns = std::iter::once(p)
                    .chain(f.nested.iter().take(3).map(|&n| pid(n)))
                    .collect();
                t.nspid_of(p, ns);
            }
            if f.hidden {
                t.hide_child(p);
            }
            if f.helper {
                t.helper(p);
            }
        }
        t
    }

    /// The table after the straggler grace: [`OracleCase::grace`] applied.
    pub fn after(&self, before: &FakeProc) -> FakeProc {
        let mut t = before.clone();
        for c in self.grace.iter().take(MAX_PROCS) {
            let exists = |b: u8| {
                let p = self.named(b, 0).0;
                t.stat(p).is_some().then_some(p)
            };
            match *c {
                Change::Dies(b) => {
                    if let Some(p) = exists(b) {
                        t.dies(p);
                    }
                }
                Change::Reaped(b) => {
                    if let Some(p) = exists(b) {
                        t.reaped(p);
                    }
                }
                Change::Killed(b) => {
                    if let Some(p) = exists(b) {
                        t.dying(p);
                    }
                }
                Change::Forks { pid: b, ppid } => {
                    let (p, ppid) = (pid(b), self.parent(self.procs().len(), ppid));
                    if t.stat(p).is_none() {
                        // A new process: a start time no earlier one had.
                        t.live(p, ppid).started(p, start(b) + 10);
                    }
                }
            }
        }
        t
    }

    /// The readiness records as the nodes wrote them: a record from a nested
    /// namespace names its process's innermost PID.
    pub fn records(&self) -> Vec<NodeRecord> {
        let n = self.procs().len();
        self.records
            .iter()
            .take(MAX_PROCS)
            .map(|r| {
                let (p, start_time, inner) = self.named(r.pid, r.tick);
                NodeRecord {
                    node: u32::from(r.node),
                    pid: match (r.ns, inner) {
                        (RecordNs::Nested, Some(inner)) => inner,
                        _ => p,
                    },
                    pgid: self.parent(n, r.pgid),
                    sid: self.parent(n, r.sid),
                    start_time,
                    pidns: match r.ns {
                        RecordNs::Unknown => 0,
                        RecordNs::Ours => OURS,
                        RecordNs::Nested => NESTED,
                    },
                }
            })
            .collect()
    }

    /// The scene, with `records` (already placed).
    pub fn scene(&self, records: Vec<NodeRecord>) -> Scene {
        let identity = |&(b, tick): &(u8, u8)| {
            let (pid, start_time, _) = self.named(b, tick);
            Identity { pid, start_time }
        };
        Scene {
            warden: self.named(self.warden, 0).0,
            supervisor: self.named(self.supervisor, 0).0,
            bystanders: self.bystanders.iter().map(identity).collect(),
            records,
            supervisor_exiting: self.supervisor_exiting,
        }
    }
}

mod check;

pub use check::check;
#[cfg(test)]
pub(crate) use check::{Oracle, check_with};

#[cfg(test)]
mod tests;
