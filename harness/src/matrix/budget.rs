//! Admission by size: how many trials run at once follows how many processes
//! they make, not only how many there are.
//!
//! `--jobs` trials may run at once, but a 500-process tree and a 6-process one do
//! not weigh the same: sixteen trials that each SIGTERM hundreds of processes on 2
//! cores leave each process too little CPU to finish dying within the straggler
//! grace, and the verdict becomes the machine's (seen: `dumb-init` ×
//! `wide-fanout`, `leak` with 319 survivors, at 16 trials at once). So each trial
//! also takes its weight (its processes, at least [`MIN_WEIGHT`]) from a budget of
//! [`PROCESSES_PER_CORE`] per core, in the order the trials were queued (first
//! come, first served: a big tree waits for room, nothing overtakes it).
//!
//! # Calm trials
//!
//! Most trials wait (a grace, a straggler window) and their verdict does not
//! hang on timing: the escape-proof methods drain whatever the CPU does, so
//! they run many at once ([`PROCESSES_PER_CORE`] lets 32 small ones per core).
//! The verdicts documented for the weak methods and the peers do hang on it
//! (whether a process exited before its supervisor did: `leak` or `early`);
//! at 24 trials per core, `jmmv-grandchild` × `leader` and `clone-parent` ×
//! `killpg` came out otherwise in 2 default matrices of 6. So such a calm
//! trial starts only when fewer than [`CALM_PER_CORE`] trials per core run, and
//! while one runs no trial starts past that ([`Budget::acquire`]): it runs
//! among as many as every trial did before.

use std::sync::{Condvar, Mutex};

use crate::spec::{End, TreeSpec};

/// Processes of running trials per core, at most (a trial bigger than the
/// whole budget runs alone).
pub const PROCESSES_PER_CORE: u32 = 1024;
/// Trials per core, at most, while a calm trial runs (see the module docs).
pub const CALM_PER_CORE: u32 = 8;
/// The least a trial weighs: the warden, supervisor, shims and bystanders.
pub const MIN_WEIGHT: u32 = 32;

/// What a trial of `spec` weighs: its nodes and its storms' children.
pub fn weight(spec: &TreeSpec) -> u32 {
    let storms: u32 = spec
        .walk()
        .map(|(_, n, _)| match n.end {
            End::Storm { total, .. } => total,
            _ => 0,
        })
        .sum();
    spec.node_count().saturating_add(storms).max(MIN_WEIGHT)
}

/// A budget of process slots, handed out first come, first served; and a cap
/// on how many trials run while a calm one does.
pub struct Budget {
    total: u32,
    /// Trials that may run at once while a calm one runs, itself included.
    calm_cap: u32,
    state: Mutex<State>,
    turn: Condvar,
}

struct State {
    used: u32,
    /// Trials running, and how many of them are calm.
    running: u32,
    calm: u32,
    next_ticket: u64,
    serving: u64,
}

/// Slots taken from a [`Budget`]; given back on drop.
pub struct Permit<'a> {
    budget: &'a Budget,
    weight: u32,
    calm: bool,
}

impl Budget {
    /// A budget of `total` slots, with no cap for calm trials.
    pub fn new(total: u32) -> Budget {
        Budget {
            total: total.max(1),
            calm_cap: u32::MAX,
            state: Mutex::new(State {
                used: 0,
                running: 0,
                calm: 0,
                next_ticket: 0,
                serving: 0,
            }),
            turn: Condvar::new(),
        }
    }

    /// The budget for this machine: [`PROCESSES_PER_CORE`] per core, and
    /// [`CALM_PER_CORE`] trials per core while a calm one runs.
    pub fn for_cores(cores: usize) -> Budget {
        let cores = cores.max(1) as u32;
        let mut b = Budget::new(PROCESSES_PER_CORE.saturating_mul(cores));
        b.calm_cap = CALM_PER_CORE.saturating_mul(cores);
        b
    }

    /// Waits for its turn and for `weight` free slots (at most the whole
    /// budget), and takes them. A `calm` trial also waits until fewer than the
    /// calm cap run; while one runs, no trial starts past that cap.
    pub fn acquire(&self, weight: u32, calm: bool) -> Permit<'_> {
        let weight = weight.clamp(1, self.total);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        while s.serving != ticket
            || s.used + weight > self.total
            || ((calm || s.calm > 0) && s.running >= self.calm_cap)
        {
            s = self.turn.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.used += weight;
        s.running += 1;
        s.calm += u32::from(calm);
        s.serving += 1;
        drop(s);
        self.turn.notify_all();
        Permit {
            budget: self,
            weight,
            calm,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.budget.state.lock().unwrap_or_else(|e| e.into_inner());
        s.used -= self.weight;
        s.running -= 1;
        s.calm -= u32::from(self.calm);
        drop(s);
        self.budget.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_weighs_its_nodes_and_storm_children_at_least_the_minimum() {
        let w = |s: &str| weight(&s.parse().unwrap());
        assert_eq!(w("pause [5*fork: pause]"), MIN_WEIGHT);
        assert_eq!(w("pause [500*fork: pause]"), 501);
        assert_eq!(w("storm=200@2000 [fork: pause]"), 202);
    }

    #[test]
    fn a_big_trial_waits_for_room_and_nothing_overtakes_it() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let budget = Budget::new(100);
        let order = Mutex::new(Vec::new());
        let running = AtomicU32::new(0);
        let small = budget.acquire(60, false);
        std::thread::scope(|s| {
            // The big one queues first; the small one after it must not pass it.
            s.spawn(|| {
                let _p = budget.acquire(100, false);
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "ran alone");
                order.lock().unwrap().push("big");
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            s.spawn(|| {
                let _p = budget.acquire(10, false);
                running.fetch_add(1, Ordering::SeqCst);
                order.lock().unwrap().push("small");
                running.fetch_sub(1, Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(small);
        });
        assert_eq!(*order.lock().unwrap(), ["big", "small"]);
    }

    #[test]
    fn a_trial_over_the_whole_budget_still_runs() {
        let budget = Budget::new(10);
        let p = budget.acquire(1000, false);
        assert_eq!(p.weight, 10);
    }

    #[test]
    fn while_a_calm_trial_runs_no_trial_starts_past_the_calm_cap() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let mut budget = Budget::new(1000);
        budget.calm_cap = 3;
        let running = AtomicU32::new(0);
        let most = AtomicU32::new(0);
        let calm_seen = AtomicU32::new(0);
        // Without a calm trial: as many as the slots allow.
        let free: Vec<_> = (0..5).map(|_| budget.acquire(10, false)).collect();
        drop(free);
        std::thread::scope(|s| {
            let budget = &budget;
            for i in 0..12 {
                let (running, most, calm_seen) = (&running, &most, &calm_seen);
                s.spawn(move || {
                    let calm = i % 4 == 0;
                    let _p = budget.acquire(10, calm);
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    if calm {
                        calm_seen.fetch_max(now, Ordering::SeqCst);
                    }
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(
            calm_seen.load(Ordering::SeqCst) <= 3,
            "a calm trial ran with more than 3"
        );
    }
}
