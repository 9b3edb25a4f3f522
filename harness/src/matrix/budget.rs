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

use std::sync::{Condvar, Mutex};

use crate::spec::{End, TreeSpec};

/// Processes of running trials per core, at most (a trial bigger than the
/// whole budget runs alone).
pub const PROCESSES_PER_CORE: u32 = 256;
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

/// A budget of process slots, handed out first come, first served.
pub struct Budget {
    total: u32,
    state: Mutex<State>,
    turn: Condvar,
}

struct State {
    used: u32,
    next_ticket: u64,
    serving: u64,
}

/// Slots taken from a [`Budget`]; given back on drop.
pub struct Permit<'a> {
    budget: &'a Budget,
    weight: u32,
}

impl Budget {
    /// A budget of `total` slots.
    pub fn new(total: u32) -> Budget {
        Budget {
            total: total.max(1),
            state: Mutex::new(State {
                used: 0,
                next_ticket: 0,
                serving: 0,
            }),
            turn: Condvar::new(),
        }
    }

    /// The budget for this machine: [`PROCESSES_PER_CORE`] per core.
    pub fn for_cores(cores: usize) -> Budget {
        Budget::new(PROCESSES_PER_CORE.saturating_mul(cores.max(1) as u32))
    }

    /// Waits for its turn and for `weight` free slots (at most the whole
    /// budget), and takes them.
    pub fn acquire(&self, weight: u32) -> Permit<'_> {
        let weight = weight.clamp(1, self.total);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        while s.serving != ticket || s.used + weight > self.total {
            s = self.turn.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.used += weight;
        s.serving += 1;
        drop(s);
        self.turn.notify_all();
        Permit {
            budget: self,
            weight,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.budget.state.lock().unwrap_or_else(|e| e.into_inner());
        s.used -= self.weight;
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
        let small = budget.acquire(60);
        std::thread::scope(|s| {
            // The big one queues first; the small one after it must not pass it.
            s.spawn(|| {
                let _p = budget.acquire(100);
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "ran alone");
                order.lock().unwrap().push("big");
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            s.spawn(|| {
                let _p = budget.acquire(10);
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
        let p = budget.acquire(1000);
        assert_eq!(p.weight, 10);
    }
}
