//! The trial timings the expectations are written for.
//!
//! A few expectations depend on them: a process that exits on its own
//! [`LATE_EXIT`] after it is ready is `early` (not a `leak`) only because
//! `LATE_EXIT` is shorter than [`STRAGGLER_GRACE`], and it outlives the supervisor only
//! because teardown starts right after readiness. The matrix and `check` use these as
//! their defaults; run with other timings and some expectations may not hold.

use std::time::Duration;

/// The supervisor's grace between SIGTERM and SIGKILL (`teardown run --grace`).
pub const GRACE: Duration = Duration::from_millis(250);

/// How long a tree process may outlive the supervisor's "done" and still count as
/// `early` rather than a survivor.
pub const STRAGGLER_GRACE: Duration = Duration::from_secs(1);

/// How long the supervisor may take after the trigger before the verdict is `hang`.
pub const DEADLINE: Duration = Duration::from_secs(3);

/// How long the "exits later on its own" nodes of the catalog live after they are
/// ready (`exit-after=500ms` in their specs).
pub const LATE_EXIT: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_exit_falls_after_the_grace_and_inside_the_straggler_grace() {
        assert!(LATE_EXIT > GRACE);
        assert!(LATE_EXIT < STRAGGLER_GRACE);
        assert!(DEADLINE > GRACE + LATE_EXIT);
    }
}
