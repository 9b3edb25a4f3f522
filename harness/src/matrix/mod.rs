//! The matrix: supervisors × trees, every cell a trial judged against its
//! expectation. `teardown matrix` prints it; `teardown check` and
//! [`crate::check`] run one external supervisor's row.
//!
//! # Rows, columns, cells
//!
//! * **Rows** are supervisors: every teardown method (`teardown run --method M`),
//!   then known real supervisors ([`teardown_scenarios::peers`], `--peers`), then
//!   any other command (`--supervisor 'CMD ARGS'`). A method the host probe says
//!   cannot run, or a supervisor that is not installed, is a row of `unsupported`
//!   cells with the reason.
//! * **Columns** are trees: the named scenarios ([`teardown_scenarios::all`]), then
//!   `--random N` random trees named `random-<seed>-<i>`.
//! * **Cells** are one trial each ([`crate::warden::run_trial`]), run `--jobs` at a
//!   time, and judged: a method against the catalog (on random trees the
//!   escape-proof methods must be `clean`; the weak ones are not judged), a peer
//!   against its documented expectations, a `check` row against `clean`, any other
//!   external supervisor not at all (`expected: null`).
//!
//! The printed table is transposed (one line per tree): see [`table`] for why, and
//! the workspace README.md ("JSON") for the JSON document.
//!
//! # Running
//!
//! ```no_run
//! use teardown_harness::matrix::{self, Options, Plan};
//! let plan = Plan::new(Options::new(), matrix::host_probe()).unwrap();
//! let report = matrix::run(plan, &mut |_progress| {});
//! print!("{}", matrix::table::render(&report, Default::default()));
//! assert_eq!(report.unexpected().count(), 0);
//! ```

mod budget;
mod identity;
pub mod json;
pub mod markdown;
pub mod merge;
pub(crate) mod plan;
mod random;
pub(crate) mod rows;
pub(crate) mod run;
pub mod shard;
mod spec_text;
pub mod table;

use std::path::PathBuf;

pub use crate::shell::{format_duration_arg, trigger_name};
pub use merge::MergeError;
pub use plan::{Column, Options, Plan, PlanError, Timing, default_jobs, trigger_of};
#[cfg(feature = "proptest")]
pub use random::specs as random_trees;
pub use rows::{Judge, Row, RowSpec, resolve_teardown};
pub use run::{Cell, Part, Progress, Report, Summary, run, run_with};
pub use shard::{Shard, ShardError};

/// Where this project's `teardown` binary is (the warden, `teardown run`), as
/// [`crate::locate::teardown_bin`] finds it; `None` if it cannot be found.
pub fn teardown_bin() -> Option<PathBuf> {
    crate::locate::teardown_bin().ok()
}

/// What the method rows can do here: the core's probe for spawns the way `teardown
/// run` makes them, with this project's `teardown` binary as the shim (`teardown
/// __shim`), so a build without the stand-alone `teardown-shim` still runs the shim
/// methods. Falls back to the plain probe when the binary cannot be found.
pub fn host_probe() -> teardown::Probe {
    match teardown_bin() {
        Some(bin) => teardown::probe_with(
            &teardown::SpawnOptions::default().with_shim(bin, vec!["__shim".to_owned()]),
        ),
        None => teardown::probe(),
    }
}
