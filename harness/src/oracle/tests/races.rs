//! A `/proc` that moves while it is read: processes forked, exiting and
//! hopping between the looks of one scan.

use super::*;

/// A process table that moves on between scans: each call of `pids` (the second
/// listing of a scan) starts the next table, so a scan reads its children lists
/// from one table and its PIDs and states from the next — as a real scan does
/// while the tree forks and exits under it.
struct Moving {
    tables: Vec<FakeProc>,
    at: std::cell::Cell<usize>,
}

impl Moving {
    fn now(&self) -> &FakeProc {
        &self.tables[self.at.get().min(self.tables.len() - 1)]
    }
}

impl ProcSource for Moving {
    fn pids(&self) -> Vec<i32> {
        let pids = self.now().pids();
        self.at.set(self.at.get() + 1);
        pids
    }
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        self.now().stat(pid)
    }
    fn children(&self, pid: i32) -> Vec<i32> {
        self.now().children(pid)
    }
    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        self.now().nspid(pid)
    }
    fn own_pidns(&self) -> Option<u64> {
        self.now().own_pidns()
    }
}

#[test]
fn a_child_forked_by_a_process_seen_dead_in_the_same_scan_is_not_missed() {
    // dumb-init × respawn-on-term: the node (10, an orphan of the warden) forks
    // its replacement (11) after the scan listed PIDs, and has exited by the time
    // the scan reads it (a zombie the single-threaded warden has not reaped: it is
    // scanning). The replacement is in no list of that scan, and a dead process
    // is not waited for: before the rescan the trial came out clean.
    let mut listed = table();
    listed.live(10, WARDEN);
    let mut forked = table();
    forked.zombie(10, WARDEN).live(11, WARDEN);
    let mut later = table();
    later.live(11, WARDEN);
    let src = Moving {
        tables: vec![listed, forked, later],
        at: std::cell::Cell::new(0),
    };
    let sc = scene(&table());
    let at_done = observe(&src, &sc);
    assert_eq!(
        at_done.alive_identities(),
        vec![Identity {
            pid: 11,
            start_time: 110
        }],
        "the replacement is found by the rescan: {at_done:?}"
    );
    let j = judge(&at_done, &observe(&src, &sc));
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!(j.survivors, 1);
}

/// A process first seen alive and not dying, as `LiveProc` reads it.
fn looked_alive(pid: i32) -> ProcStat {
    let mut p = FakeProc::new();
    p.live(pid, 1);
    p.stat(pid).unwrap()
}

#[test]
fn a_process_that_dies_while_it_is_read_is_not_called_alive() {
    // The race `settle` exists for: the first look saw the main thread running,
    // then no live thread to show its pending SIGTERM. The second look decides.
    let first = looked_alive(7);
    let mut zombie = first.clone();
    zombie.state = 'Z';
    zombie.alive = false;
    assert_eq!(
        source::settle(first.clone(), || Some(zombie.clone())),
        Some(zombie)
    );
    let mut dying = first.clone();
    dying.dying = true;
    assert_eq!(
        source::settle(first.clone(), || Some(dying.clone())),
        Some(dying)
    );
    assert_eq!(
        source::settle(first.clone(), || None),
        None,
        "reaped meanwhile"
    );
    let mut reused = looked_alive(7);
    reused.start_time += 1;
    assert_eq!(
        source::settle(first.clone(), || Some(reused.clone())),
        Some(reused)
    );
}

#[test]
fn a_process_alive_on_both_looks_stays_alive_and_a_dying_one_is_looked_at_once() {
    let first = looked_alive(7);
    let mut later = first.clone();
    later.state = 'R';
    assert_eq!(
        source::settle(first.clone(), || Some(later)),
        Some(first.clone())
    );
    let mut dying = first;
    dying.dying = true;
    assert_eq!(
        source::settle(dying.clone(), || panic!("no second look")),
        Some(dying)
    );
}

/// A `/proc` where a fork-hopper makes a new process, already dead when read,
/// every time the pids are listed: faster than a scan.
struct Hopping {
    table: std::cell::RefCell<FakeProc>,
    next: std::cell::Cell<i32>,
}

impl ProcSource for Hopping {
    fn pids(&self) -> Vec<i32> {
        let pid = self.next.get();
        self.next.set(pid + 1);
        self.table.borrow_mut().zombie(pid, WARDEN);
        self.table.borrow().pids()
    }
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        self.table.borrow().stat(pid)
    }
    fn children(&self, pid: i32) -> Vec<i32> {
        self.table.borrow().children(pid)
    }
    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        self.table.borrow().nspid(pid)
    }
    fn own_pidns(&self) -> Option<u64> {
        None
    }
}

#[test]
fn a_tree_still_forking_after_the_grace_is_a_survivor_though_every_process_read_was_dead() {
    let p = Hopping {
        table: std::cell::RefCell::new(table()),
        next: std::cell::Cell::new(100),
    };
    let sc = scene(&p.table.borrow());
    let after = observe(&p, &sc);
    assert!(after.forking && after.alive.is_empty(), "{after:?}");
    let j = judge(&Observation::default(), &after);
    assert_eq!(j.verdict, Verdict::Leak);
    assert_eq!(j.survivors, 1);
    assert!(
        j.findings
            .iter()
            .any(|f| f.kind == "survivor" && f.pid == 0)
    );
}

#[test]
fn a_tree_that_settles_is_not_forking() {
    let mut p = table();
    p.zombie(10, WARDEN).live(11, WARDEN);
    let obs = observe(&p, &scene(&p));
    assert!(!obs.forking);
    assert_eq!(judge(&obs, &obs).survivors, 1, "only the live one");
}

/// A source that counts full looks and glances, and answers a glance the cheap
/// way only when `enough` says so (as [`LiveProc`] does).
struct Counting {
    table: FakeProc,
    full: std::cell::RefCell<Vec<i32>>,
    glances: std::cell::Cell<usize>,
}

impl ProcSource for Counting {
    fn pids(&self) -> Vec<i32> {
        self.table.pids()
    }
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        self.full.borrow_mut().push(pid);
        self.table.stat(pid)
    }
    fn glance(&self, pid: i32, enough: &dyn Fn(&ProcStat) -> bool) -> Option<ProcStat> {
        let first = self.table.stat(pid)?;
        if enough(&first) {
            self.glances.set(self.glances.get() + 1);
            return Some(first);
        }
        self.stat(pid)
    }
    fn children(&self, pid: i32) -> Vec<i32> {
        self.table.children(pid)
    }
    fn nspid(&self, pid: i32) -> Option<Vec<i32>> {
        self.table.nspid(pid)
    }
    fn own_pidns(&self) -> Option<u64> {
        self.table.own_pidns()
    }
}

#[test]
fn a_scan_looks_closely_only_at_a_tree_process_it_has_not_seen() {
    // The costly look (stat and status, twice) is for a tree process's first
    // sighting; the warden, the supervisor, the bystanders and the processes an
    // earlier scan of the same look found are glanced at (one stat).
    let mut t = table();
    t.live(10, SUP).live(11, 10).zombie(12, WARDEN);
    let sc = scene(&t);
    let src = Counting {
        table: t,
        full: Default::default(),
        glances: Default::default(),
    };
    let found = crate::oracle::tree_processes(&src, &sc);
    assert_eq!(
        found.iter().map(|s| s.pid).collect::<Vec<_>>(),
        [10, 11, 12]
    );
    let mut full = src.full.borrow().clone();
    full.sort_unstable();
    assert_eq!(full, [10, 11, 12], "one full look per tree process");
    // Scan 1: the four of the harness; scan 2 (settled): all seven.
    assert_eq!(src.glances.get(), 4 + 7);
}
