//! `teardown-harness`: adversarial fork trees, the warden, the oracle, and the
//! `teardown` command line.
//!
//! The harness attacks a teardown implementation — one of the core crate's methods
//! through `teardown run`, or any supervisor binary — with a tree of processes
//! described by a [`spec`], and proves with an independent [`oracle`] whether
//! anything survived.
//!
//! # One trial
//!
//! ```no_run
//! use teardown::{Method, Verdict};
//! use teardown_harness::trial::{Supervisor, Trial};
//! use teardown_harness::warden::run_trial;
//!
//! let spec = "pause [fork: pause, dfork: setsid ignore-term pause]".parse().unwrap();
//! let outcome = run_trial(&Trial::new(Supervisor::Method(Method::Killpg), spec));
//! assert_eq!(outcome.verdict, Verdict::Leak); // the setsid escape outlives killpg
//!
//! let spec = "pause [fork: pause]".parse().unwrap();
//! let tini = Supervisor::External(vec!["tini".into(), "-g".into(), "--".into()]);
//! println!("{}", run_trial(&Trial::new(tini, spec)).verdict);
//! ```
//!
//! [`warden::run_trial`] may be called from any thread of any program: it hands the
//! trial to a [`warden`] server (`teardown __warden --serve`, found by [`locate`],
//! started with fork **and exec** and kept idle between trials) and reads the
//! outcome back in JSON over pipes. Per trial the server clones a fresh inner
//! warden, which:
//!
//! 1. is PID 1 of a new PID namespace with a private `/proc` (root, or a user
//!    namespace), else a plain subreaper; dies with the server, and the server
//!    with the caller (end of its input); is born in the server's cgroup when it
//!    can;
//! 2. forks the **bystanders** (processes outside the tree that must survive; one
//!    shares the supervisor's process group) and starts the **supervisor**
//!    (`teardown run --method M -- teardown node SPEC`, or the external argv with
//!    `teardown node SPEC` appended);
//! 3. waits for **readiness**: every [`node`] writes a 32-byte record (id, pid, pgid,
//!    sid, start time, PID namespace) when its subtree is in place;
//! 4. **triggers** teardown (SIGTERM or SIGINT to the supervisor, its `--timeout`, or
//!    the leader's own exit) and waits for **done** (our supervisor's drain report
//!    and exit; an external one's exit), with a deadline past which the verdict is
//!    `hang`;
//! 5. lets the **oracle** judge the whole contract ([`oracle`]): from `/proc`, by
//!    identity `(pid, start time)`, survivors (`leak`), processes still there at
//!    done (`early`), zombies held by the supervisor side, killed bystanders,
//!    helpers left; and from what only the warden sees, cgroups and mounts left
//!    behind, how each watched process died (a pidfd keeps its exit status: a
//!    grace cut short, a false drain report), the supervisor's exit;
//! 6. kills and reaps whatever is left (the **safety net**) and replies.
//!
//! Every finding is listed, and one verdict comes back, the worst of them
//! ([`teardown::Verdict`]'s order: `clean`, `leftover`, `false-report`,
//! `bad-exit`, `supervisor-killed`, `grace-cut`, `early`, `zombie`, `leak`,
//! `bystander-killed`, `hang`, `unsupported`, `error`), with counts, the tree as
//! spawned and the supervisor's report ([`trial::TrialOutcome`]).
//!
//! # The command line
//!
//! `teardown run` (a supervisor like tini or `timeout`), `teardown replay` (one
//! trial, verbose), `teardown probe` (what this host supports), and the matrix and
//! check commands; `teardown --help` and each command's `--help` teach with
//! examples. Exit status: 0 as expected, 1 an unexpected verdict, 2 bad usage or
//! input (`run` passes the leader's status on instead).
//!
//! # Limitations
//!
//! * Linux only. Without root or user namespaces the warden is a plain subreaper
//!   (said in the outcome's detail): a tree process that escapes the warden's view
//!   is impossible (orphans reparent to it), but the last safety net after a hard
//!   kill of the harness is then the cgroup, if any.
//! * "Done" is one look: a supervisor that returns microseconds before its tree
//!   is gone is `early` only when the look catches the tree (a race the catalog
//!   accepts as `clean|early`); `slow-exit` nodes make the window tens of
//!   milliseconds wide where a scenario must show it every run.
//! * `grace-cut` and `false-report` need the exit status a pidfd keeps
//!   (`PIDFD_INFO_EXIT`, Linux 6.15); before that they are not judged, and the
//!   outcome's detail says so.
//! * Records from a tree inside an external supervisor's own PID namespace are
//!   mapped to the warden's view through `NSpid`, start time, group and session
//!   ([`oracle::map_records`]).
//! * `setsid` in a process-group leader fails (`EPERM`); the node carries on in its
//!   group, like most daemons.

#![deny(unsafe_code)]

pub mod cgroup2;
pub mod check;
pub mod errors;
pub mod fuzz;
pub mod locate;
pub mod matrix;
pub mod node;
pub mod oracle;
pub mod peer;
#[cfg(feature = "proptest")]
pub mod prop;
pub mod replay;
pub mod shell;
pub mod spec;
/// The only `unsafe` of the harness and the benches (the benches use it too).
#[doc(hidden)]
pub mod sys;
pub mod trial;
pub mod warden;
pub mod wire;
