//! `teardown`: spawn a command as a contained process tree, and tear the whole
//! tree down — every process gone, every zombie reaped — before returning.
//!
//! # Background
//!
//! Killing "a command" usually kills one process. `Child::kill` (std, tokio)
//! signals only the direct child: an `sh -c` wrapper dies and its background
//! children live on (aurae issue 534). Killing the process group (aurae PR 599)
//! misses every process that called `setsid`/`setpgid` (dumb-init 191, tini 236),
//! and `waitpid(-pgid)` waits for direct children only, not grandchildren
//! (process-wrap, command-group; Bazel issue 10245). A group killed after its
//! leader was reaped can be a recycled PGID (Bazel 11910). SIGTERM does not reach
//! a stopped process until SIGCONT. `kill(pid, 0)` succeeds on zombies, so
//! liveness must be judged by identity `(pid, start time)` from `/proc`
//! ([`ProcessIdentity`]).
//!
//! # Usage
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use teardown::Method;
//!
//! let mut cmd = Command::new("sh");
//! cmd.args(["-c", "sleep 100 & setsid sleep 100 & wait"]);
//! let mut tree = Method::Auto.spawn(&mut cmd)?;          // or "cgroup".parse::<Method>()?
//! let exited = tree.wait_leader_timeout(Duration::from_secs(1))?; // or wait_leader, try_wait_leader
//! let report = tree.teardown(Duration::from_secs(2))?;   // SIGTERM, 2 s grace, SIGKILL
//! println!("{} drained {} processes in {:?}", report.method, report.signalled, report.drain);
//! # let _ = exited;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In a tokio program (feature `tokio`), `teardown::tokio::spawn` gives an
//! `AsyncTree`: the same methods, awaited, with no thread blocked per tree (see
//! the `teardown::tokio` docs):
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::{process::Command, time::Duration};
//! use teardown::{Method, SpawnOptions};
//!
//! let mut cmd = Command::new("sh");
//! cmd.args(["-c", "sleep 100 & setsid sleep 100 & wait"]);
//! let mut tree = teardown::tokio::spawn(Method::Auto, &mut cmd, &SpawnOptions::default())?;
//! tokio::select! {
//!     status = tree.wait_leader() => println!("leader exited: {}", status?),
//!     _ = tokio::signal::ctrl_c() => println!("stopping"),
//! }
//! let report = tree.teardown(Duration::from_secs(2)).await?; // no thread blocked
//! println!("{} drained {} processes in {:?}", report.method, report.signalled, report.drain);
//! # Ok(()) }
//! ```
//!
//! [`Tree::teardown`] returns only when the tree is drained (by the method's own
//! notion — the weak methods are weak on purpose), is idempotent, works after the
//! leader exited on its own or was waited for, and reports what it did
//! ([`DrainReport`]). A grace of zero means SIGKILL at once. Dropping a tree that
//! was not torn down tears it down with SIGKILL. [`probe()`] says which methods
//! this host supports and why not; `auto` finds out by spawning (below).
//!
//! # Methods
//!
//! | method | containment | kill and drain | known weakness |
//! |---|---|---|---|
//! | `leader` | own process group | SIGKILL the leader, reap it (tokio `Child::kill`) | everything but the leader survives |
//! | `killpg` | own process group | `killpg`, reap the leader (aurae PR 599) | `setsid` escapes survive; returns before grandchildren exit |
//! | `killpg-waitpgid` | own process group | `killpg`, `waitpid(-pgid)` until `ECHILD` (process-wrap) | same as `killpg` |
//! | `subreaper` | group + subreaper shim | `killpg`, reap until `ECHILD` | escapes are never signalled: hangs until the deadline |
//! | `cgroup-kill` | fresh cgroup v2 leaf (as `cgroup`) | `cgroup.kill` alone, wait `populated 0` (systemd's path) | a process whose main thread exited survives `cgroup.kill`: hangs until the deadline |
//! | `proc-walk` | subreaper shim | walk `/proc/<pid>/task/*/children`, kill by identity-checked pidfd, repeat; reap until `ECHILD` | a fork rate that outruns the walk; a tree that stops its shim (SIGSTOP) |
//! | `cgroup` | fresh cgroup v2 leaf, joined before exec; a watchdog outside it for host death | `cgroup.kill`, then a TGID-wide kill by pidfd of every member left, until `populated 0` (`poll(POLLPRI)` on `cgroup.events`); reap (the leader's `CLONE_PARENT` children too); remove the leaf and the cgroups the tree made below it | needs a writable cgroup2; root can move itself out; a tree that stops its host (SIGSTOP) |
//! | `pidns` | shim init = PID 1 of a new PID namespace (+ user namespace when not root), in a fresh cgroup leaf when cgroup2 is writable | SIGKILL the init; the kernel kills the rest; remove the leaf | needs root or user namespaces |
//! | `auto` | the strongest that runs here: `pidns` > `cgroup` > `proc-walk`, tried in that order by spawning, moving on only when one is unsupported (before the command runs) | — | the report says which ran, [`Tree::passed_over`] why not the others |
//!
//! ## How `auto` chooses
//!
//! `auto` tries `pidns`, `cgroup` and `proc-walk` in that order, each with its real
//! spawn, and moves on to the next exactly when one fails with
//! [`SpawnError::Unsupported`]; any other error is returned as it is. Each checks
//! what costs nothing first (the shim program can be found; cgroup2 is mounted,
//! this process has a cgroup and its children are not reaped by the kernel; pidfd
//! and subreapers work) and only then does the work that tells for sure — the
//! shim's `unshare`, the leaf's `mkdir` — as part of the spawn: where `pidns`
//! runs, `auto` costs what `pidns` costs. Every `Unsupported` comes before the
//! command could run, so it runs once, under the method [`Tree::method`] and the
//! report name; [`Tree::passed_over`] says why the ones before it could not run.
//! Moving on spawns the same `Command` again: the hooks the library added for the
//! method that failed are disarmed, but the caller's own `pre_exec` hooks run once
//! per attempt (for a failed `pidns`, in the process that became its shim, never
//! in the command). [`probe()`] runs every check (the shim's namespace probe
//! included), and its [`Probe::auto`] is the method this order ends up with. With
//! [`SpawnOptions::cgroup_parent`] set, `auto` is `cgroup` under that parent.
//!
//! Each method's module docs (in `src/method/`) describe its mechanism and the
//! races it handles. Gracefully, every method first sends SIGTERM then SIGCONT to
//! what it can reach, waits up to the grace, and only then SIGKILLs.
//!
//! # A tree that attacks its supervisor
//!
//! The tree may signal or stop any process it can name: its parent, every
//! ancestor it finds in `/proc`. What the supervisor side does about it:
//!
//! * **Catchable signals** cannot hurt it. The shim (every mode) blocks every
//!   signal and reads them from a `signalfd`, acting on SIGCHLD only; a `pidns`
//!   init blocks only SIGCHLD, so the kernel drops every signal a process of its
//!   namespace sends it (an init gets only what it has a handler for). The host
//!   of the in-process methods is your program: its signal dispositions are
//!   yours (`teardown run` blocks every signal, tears down on SIGTERM, SIGINT and
//!   SIGHUP, forwards SIGUSR1, SIGUSR2, SIGWINCH, SIGQUIT and SIGALRM to the
//!   leader with [`Tree::signal_leader`], and drops the rest).
//! * **SIGSTOP and SIGKILL** cannot be blocked. Only `pidns` hides the supervisor
//!   side: the host and the shim are in the parent namespace, which the tree
//!   cannot name, and the init drops them. A tree that stops or kills the shim
//!   (`subreaper`, `proc-walk`) or the host (`cgroup`, the weak in-process
//!   methods) hangs or defeats the teardown; that is why `auto` prefers `pidns`.
//!   A shim that dies takes its leader with it (`PR_SET_PDEATHSIG`); a `pidns`
//!   shim that dies takes the whole namespace (its init's parent-death signal).
//! * **Moving the host** into the tree's cgroup (root can write any PID it can
//!   name into `cgroup.procs`): `cgroup` moves the host back out before it kills,
//!   and never signals it.
//!
//! # Host-program safety
//!
//! The host is assumed to be a multithreaded program with children of its own. A
//! method never signals or reaps a process outside its tree:
//!
//! * in-process methods (`leader`, `killpg`, `killpg-waitpgid`, `cgroup`) wait
//!   only for their leader (or `waitpid(-pgid)` of its own group), never
//!   `waitpid(-1)`; the leader's exit is observed with `waitid(WNOWAIT)` through a
//!   pidfd and it is reaped only after the kill, so its PID/PGID cannot be reused
//!   under the signal;
//! * `subreaper`, `proc-walk` and `pidns` run in a dedicated single-threaded shim
//!   process ([`shim`]), the only place that calls `waitpid(-1)`;
//! * processes are signalled through pidfds whose identity and ancestry (or cgroup
//!   membership) were checked after opening them.
//!
//! # When the host dies
//!
//! A host killed by SIGKILL never runs its teardown. The shim methods
//! (`subreaper`, `proc-walk`, `pidns`) tear the tree down with SIGKILL when their
//! shim sees end of file on its control pipe. `cgroup` (and `auto` when it picks
//! it) starts a small **watchdog** outside the leaf (the shim program in
//! `watch-cgroup` mode) holding a pipe whose only write end is the host's: a
//! drained teardown, a drop, or a failed spawn removes the leaf and then disarms
//! and reaps it; the host's death closes the pipe without disarming, and the
//! watchdog writes `cgroup.kill`, waits for `populated 0` and removes the leaf. It
//! is on by default ([`SpawnOptions::cgroup_watchdog`]: off only if you have a
//! safety net of your own) and needs the shim program: without it `cgroup` is
//! [`SpawnError::Unsupported`], never silently unguarded. The other in-process
//! methods (`leader`, `killpg`, `killpg-waitpgid`) leave their tree behind, as
//! `Child::kill`-based supervisors do.
//!
//! # The shim program
//!
//! The shim methods exec a shim program, and `cgroup` runs it as its watchdog:
//! `teardown-shim` (this crate's binary), or any binary that calls [`run_shim`]
//! and is named in [`SpawnOptions::shim`]. See
//! [`shim`] for how it is found and how it keeps the caller's stdio, working
//! directory, ids and environment. `Command::env_clear` and `arg0` cannot be seen
//! through `Command`; use [`SpawnOptions::clear_env`]. A single-threaded host
//! (`teardown run` is one) can fork the shim instead, one exec less per spawn,
//! with the leader spawned from the shim's copy of the `Command` itself
//! ([`SpawnOptions::forked_shim`]; `Stdio::piped()` is refused there);
//! `pidns` then needs no shim at all: the host forks the namespace's init
//! itself and does the shim's part in-process.
//!
//! # Limitations
//!
//! * Linux only (pidfd: 5.3; `cgroup.kill`: 5.14; `PIDFD_GET_INFO` speeds up
//!   `proc-walk` on 6.13+).
//! * The library adds `pre_exec` hooks and a process group to the `Command`: do not
//!   spawn the same `Command` twice.
//! * `cgroup`: orphans of the tree are re-parented to the nearest subreaper (or
//!   init), which reaps them; a host that is itself a subreaper must reap them.
//! * `cgroup`: the leader is born in its leaf by `clone3(CLONE_INTO_CGROUP)` from
//!   the child std forked (one fork more per spawn), so it never waits for a
//!   cgroup migration. When the kernel refuses that clone (older than 5.7, a
//!   seccomp filter, or a uid set on the `Command` that cannot write the leaf),
//!   the leader writes itself into `cgroup.procs` instead, and a migration takes
//!   the kernel's `cgroup_threadgroup_rwsem` for writing, which waits for an RCU
//!   grace period when no migration happened lately (~13–16 ms here for a lone
//!   spawn; cgroup2's `favordynmods` mount option removes the wait):
//!   [`Tree::cgroup_entry`] says which happened. A `pre_exec` hook of the caller's
//!   runs in that forked child, and what a fork does not carry over is lost
//!   (timers, record locks, a controlling terminal it acquired; group and session
//!   leadership and `PR_SET_PDEATHSIG` are taken again).
//! * `pidns`: if the init is SIGKILLed before it reaped the leader, the leader's
//!   status is reported as killed by SIGKILL (which is what the namespace kill did).
//! * A process whose children the kernel reaps as they exit (`SIGCHLD` set to
//!   `SIG_IGN`, which survives `exec`, or `SA_NOCLDWAIT`) cannot hold its leader
//!   unreaped: `leader`, `killpg`, `killpg-waitpgid` and `cgroup` are then
//!   [`SpawnError::Unsupported`] (checked at every spawn and probe, never cached),
//!   and `auto` picks a shim method, whose shim takes SIGCHLD back for itself and
//!   gives the leader the host's disposition. `teardown run` resets SIGCHLD for
//!   itself and hands the caller's disposition on to the leader.
//! * Dropping a tree waits at most [`DROP_DEADLINE`].
//! * `cgroup`'s watchdog adds a fork and exec of the shim program to each spawn
//!   (about 1 ms here); a host that dies leaves the tree for at most the time the
//!   watchdog takes to notice and kill it (milliseconds).
#![deny(unsafe_code)]

// The layers, each using only those listed before it: `sys` (the system calls
// rustix cannot make safely), `fds` (descriptors over rustix), `waiter` (how a
// method waits: one async implementation for the blocking and async fronts),
// `pidfd` and `driver` (process handles; the contract every method
// implements), `cgroup2` (the cgroup filesystem), `held` (the in-process
// methods' leader) and `shim` (the shim's protocol, reaper, watchdog and host
// side), `method` (the methods), then `tree` and `probe` (the public face), and
// `tokio` and `process_wrap` (the async and process-wrap faces of `tree`,
// features `tokio` and `process-wrap`). The public vocabulary
// (`Method`, the errors, `DrainReport`, `Verdict`, `ProcessIdentity`) is named
// through this root by every layer.
mod cgroup2;
mod driver;
pub mod errors;
mod fds;
mod held;
pub mod identity;
pub mod method;
mod method_name;
mod options;
mod pidfd;
pub mod probe;
#[cfg(feature = "process-wrap")]
pub mod process_wrap;
mod report;
pub mod shim;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;
mod tree;
mod verdict;
mod waiter;

pub use errors::{ParseMethodError, ShimError, SignalError, SpawnError, TeardownError, WaitError};
pub use identity::ProcessIdentity;
pub use method::run_shim;
pub use method_name::Method;
pub use options::{DROP_DEADLINE, SpawnOptions, TeardownOptions};
pub use probe::{Availability, HostFacts, Probe, probe, probe_with};
pub use report::{CgroupEntry, DrainReport};
pub use tree::Tree;
pub use verdict::{ParseVerdictError, Verdict};
