//! Property tests over random trees (`teardown_harness::prop`), every case a real
//! trial under the warden (`run_trial`).
//!
//! * [`escape_proof`]: `proc-walk`, `cgroup`, `pidns` and `auto` are `clean` on
//!   every random tree; a failure shrinks to a minimal tree and prints its
//!   `teardown replay` line.
//! * [`negative_controls`]: `leader`, `killpg`, `killpg-waitpgid` and `subreaper`
//!   must be caught within a bounded number of random trees, shrunk to a tree whose
//!   shape explains the verdict, and the printed replay line must replay it.
//! * [`hostile_controls`]: the same for the hostile adversary's words: `cgroup-kill`
//!   caught on a process whose main thread exited, `killpg` and `subreaper` on
//!   trees without the classic causes of their failures.
//! * [`fuzz_trial`]: the `trial` fuzz target's library side.
//!
//! `PROPTEST_CASES` sets the number of random trees per escape-proof method
//! (default [`DEFAULT_CASES`]); `PROPTEST_RNG_SEED` fixes the trees.

mod escape_proof;
mod fuzz_trial;
mod hostile_controls;
mod negative_controls;

use std::path::PathBuf;
use std::time::Duration;

use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use teardown::{Availability, Method, SpawnOptions, Verdict};
use teardown_harness::prop::{PropParams, tree_spec};
use teardown_harness::spec::TreeSpec;
use teardown_harness::trial::{Supervisor, Trial, TrialOutcome};
use teardown_harness::warden::run_trial;

/// Random trees per escape-proof method when `PROPTEST_CASES` is unset: about
/// 5 s of trials per method here, so the whole workspace suite stays well under
/// its 10-minute budget on 2 cores.
pub const DEFAULT_CASES: u32 = 24;

/// `PROPTEST_CASES`, or [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// The `teardown` binary the trials run.
pub fn teardown_bin() -> PathBuf {
    teardown_harness::locate::teardown_bin().expect("the teardown binary is built")
}

/// What the core's probe says of `method` for spawns through the shim the
/// trials' supervisor uses (`teardown __shim`).
pub fn availability(method: Method) -> Availability {
    let opts = SpawnOptions::default().with_shim(teardown_bin(), vec!["__shim".to_owned()]);
    teardown::probe_with(&opts).availability(method).clone()
}

/// A property trial: `trial` adjusted from [`Trial::new`] by `tune`.
pub fn trial(method: Method, spec: TreeSpec, tune: fn(&mut Trial)) -> Trial {
    let mut t = Trial::new(Supervisor::Method(method), spec);
    tune(&mut t);
    t
}

/// What a search over random trees saw.
#[derive(Debug, Default)]
pub struct Search {
    /// Trials run (cases and shrinking steps).
    pub trials: u32,
    /// The 1-based case of the first non-clean verdict, if any.
    pub first_failure: Option<u32>,
}

/// A failure proptest shrank: the minimal tree, its outcome, its replay line,
/// and the message to panic with.
#[derive(Debug)]
pub struct Minimal {
    pub trial: Trial,
    pub outcome: TrialOutcome,
    pub replay: String,
    pub message: String,
}

/// Runs `method` on random trees (`params`) with proptest's runner: every case
/// is a trial built by `trial(method, spec, tune)`; a verdict for which `passes`
/// is false fails the case. Returns the shrunk failure, if any, and what the
/// search saw.
pub fn search(
    method: Method,
    params: PropParams,
    config: Config,
    tune: fn(&mut Trial),
    passes: fn(Verdict) -> bool,
) -> (Result<(), Box<Minimal>>, Search) {
    let seen = std::cell::RefCell::new(Search::default());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&tree_spec(params), |spec| {
        let t = trial(method, spec, tune);
        let outcome = run_trial(&t);
        let mut s = seen.borrow_mut();
        s.trials += 1;
        if passes(outcome.verdict) {
            return Ok(());
        }
        if s.first_failure.is_none() {
            // Shrinking has not started yet: this is the first failing case.
            s.first_failure = Some(s.trials);
        }
        Err(TestCaseError::fail(format!(
            "{} ({})",
            outcome.verdict,
            outcome.detail.as_deref().unwrap_or("")
        )))
    });
    let search = seen.into_inner();
    let result = result.map_err(|e| match e {
        TestError::Abort(why) => panic!("{method}: proptest aborted: {why}"),
        TestError::Fail(why, spec) => {
            // Once more, to keep the minimal tree's outcome for the assertions:
            // a failure that depends on timing (a straggler still alive after
            // its grace, or dying at done) may not recur at once, so up to
            // RERUNS runs, keeping the first that fails as the search saw.
            let t = trial(method, spec, tune);
            let mut outcome = run_trial(&t);
            for _ in 1..RERUNS {
                if !passes(outcome.verdict) {
                    break;
                }
                outcome = run_trial(&t);
            }
            let replay = teardown_harness::replay::line(&t);
            let message = format!(
                "method {method}: minimal failing tree ({} nodes): {}\n  \
                 shrunk failure: {why}\n  now: {} ({})\n  replay: {replay}",
                t.spec.node_count(),
                t.spec,
                outcome.verdict,
                outcome.detail.as_deref().unwrap_or(""),
            );
            Box::new(Minimal {
                trial: t,
                outcome,
                replay,
                message,
            })
        }
    });
    (result, search)
}

/// How many times [`search`] runs its minimal tree again for the failure it
/// found.
const RERUNS: usize = 5;

/// Short enough that a test waits little for a tree that ignores SIGTERM.
pub const GRACE: Duration = Duration::from_millis(100);
