//! `teardown-benches`: how fast each teardown method drains a tree, measured
//! against the kernel's own cost and against the library Rust users pick today.
//!
//! # What is measured
//!
//! Criterion group `drain`, benchmark ids `METHOD/SHAPE/N`:
//!
//! * `METHOD`: every [`teardown::Method`] this host supports ([`teardown::probe()`]),
//!   except `leader` (it leaves a flat tree's children running: not a drain) and
//!   `auto` (it is one of the others, which it names); plus two references:
//!   * `floor` — the least code that can do the job: a single-threaded helper forks
//!     `N` children into one group, and times `killpg(SIGKILL)` and a `waitpid` of
//!     each. The kernel's own cost.
//!   * `process-wrap` — the crates.io library (std frontend,
//!     `ProcessGroup::leader()`): `kill()` then `wait()`.
//! * `SHAPE`/`N`: [`Shape::Flat`] (N = 1, 10, 100, 1000) and [`Shape::Chain`]
//!   (N = 10, 100); `N` counts every process, the leader included. Both are built
//!   by the single-threaded `bench-tree` helper ([`helper`]).
//! * `METHOD/mixed/NAME`: named scenarios of `teardown-scenarios` (escapes, ignored
//!   and blocked signals, stopped processes, zombies, exec chains) played by the
//!   harness's node interpreter. A row runs only where the scenario expects the
//!   method `clean`: a method that cannot drain an escape is left out, not timed
//!   as a hang (`process-wrap` is held to `killpg-waitpgid`'s expectations).
//!
//! Only the teardown is timed (criterion's `iter_custom`): the tree is spawned, every
//! process reports ready (see [`ready`]) and the [`observer`] sees it running
//! before the clock starts. The clock stops when the observer — a cgroup v2 leaf
//! around the tree, independent of the method — sees the tree drained
//! (`populated 0`), so a method or peer that returns early is charged until its
//! last process is gone, and the bench counts how often that happened
//! ([`stats`]).
//!
//! Group `trial`: whole harness trials per second (`run_trial`: warden, `teardown
//! run --method M`, node interpreter, oracle; 100 ms grace), ids
//! `trial/METHOD/SHAPE/N`, by size and by method:
//!
//! * `auto` on `flat` trees of N = 1, 4, 16 and 64 processes (`pause [N-1*fork:
//!   pause]`, all obeying SIGTERM), on the `fixed` 16-node mixed spec (forks, a
//!   `setsid` escape, exec'd nodes) and on 16 `random` trees of the harness's
//!   proptest strategy (fixed seed);
//! * every other method the host supports but `leader` on `flat/16`;
//! * `trial/floor/fork-exec`: spawn and wait `/bin/true` with
//!   `std::process::Command`, the least a process costs.
//!
//! Beside criterion's wall time, each benchmark prints the CPU a trial costs —
//! the reaped descendants' user + system time ([`cpu`]: warden, supervisor, tree
//! and helpers are all descendants that get waited for) per trial — its ratio to
//! the floor's per spawn, and the verdicts, and keeps them in the stats file
//! ([`stats::TrialStats`]). A `flat` tree that does not come out as the catalog
//! expects its `wide-fanout` scenario (`clean`; `clean|early` for the group
//! methods), or the `fixed` spec not `clean` under an escape-proof method, fails
//! the bench; any other verdict than `clean` is printed with its replay line.
//!
//! # Running
//!
//! ```text
//! cargo build --release -p teardown-harness              # the `teardown` binary (mixed, trial)
//! cargo bench -p teardown-benches                        # everything, < 10 minutes
//! cargo bench -p teardown-benches -- 'drain/(floor|cgroup)/flat'   # a subset
//! cargo bench -p teardown-benches --bench drain -- trial           # the trial group, < 1 minute
//! cargo run --release -p teardown-benches --bin bench-table        # the README tables
//! ```
//!
//! The shim methods need the core crate's shim; cargo builds a package's own
//! binaries for its benches but not its dependencies', so this package builds the
//! same shim as `bench-shim` and the bench points `TEARDOWN_SHIM` at it. The
//! harness's `teardown` binary cannot be hosted that way (its command line is not
//! in its library), so the `mixed` rows and the `trial` group need it built first
//! (found by `teardown_harness::locate`: `TEARDOWN_BIN`, or `target/release/teardown`);
//! without it they are skipped with a message.
//!
//! Criterion's HTML report, with line charts over `N` per `METHOD/SHAPE`, is
//! `target/criterion/report/index.html` (the group: `target/criterion/drain/report/`).
//! `TEARDOWN_BENCH_METHODS=cgroup,pidns` restricts the method rows;
//! `TEARDOWN_BENCH_OBSERVER=pidfd` forces the fallback observer (pidfds of the
//! reported PIDs, no cgroup). `examples/profile-drain.rs` runs one shape's
//! teardowns in a loop for `perf`, or several methods interleaved for a quick
//! comparison under the same load.
#![forbid(unsafe_code)]

pub mod cpu;
pub mod errors;
pub mod helper;
pub mod observer;
pub mod ready;
pub mod rig;
pub mod shape;
pub mod stats;
pub mod table;

pub use shape::{Shape, TreeShape};
