//! `auto`: the strongest method that runs here — `pidns` (a PID namespace, in a
//! cgroup leaf when cgroup2 is writable), else `cgroup`, else `proc-walk`. The
//! tree and its report say which one ran ([`crate::Tree::method`],
//! [`crate::DrainReport::method`]; `requested` stays `auto`), and
//! [`crate::Tree::passed_over`] says why the ones before it could not. Never a
//! silent fall back to a weak method: if none of the three can run, spawning
//! fails with [`crate::SpawnError::Unsupported`] and every reason.
//!
//! # How it chooses: by spawning, not by probing
//!
//! `auto` tries the methods of [`PREFERENCE`] in order, each with its real spawn,
//! and moves on to the next exactly when one fails with
//! [`SpawnError::Unsupported`]; any other error is returned as it is. It pays
//! only for what it uses: each method checks what costs nothing first (the shim
//! program can be found; cgroup2 is mounted and this process is in a cgroup, and
//! its children are not reaped by the kernel; pidfd, `/proc/.../children` and
//! subreapers), and only then does the work that tells for sure (the shim's
//! `unshare`, the leaf's `mkdir`) as part of the spawn itself. Where the first
//! choice runs, which is the common case, that is the spawn and nothing more. The
//! host probe ([`crate::probe()`]) is not consulted: it runs every check, the
//! `probe-pidns` shim included, and its [`crate::Probe::auto`] says what this
//! order ends up with.
//!
//! # Moving on never runs the command
//!
//! Every `Unsupported` is raised before anything could exec the command:
//!
//! * `pidns`: the shim program cannot be found (before the spawn), or the shim
//!   cannot create the namespace (it reports it before it forks its init, which
//!   forks the leader);
//! * `cgroup`: this process's children are reaped by the kernel, no cgroup2 or no
//!   cgroup of its own, no shim for the watchdog, or the leaf cannot be made (all
//!   before the spawn);
//! * `proc-walk`: the same shim lookup, or the cheap facts it needs are missing
//!   (checked here, before the spawn), or the shim cannot become a subreaper
//!   (reported before it forks the leader).
//!
//! A method that failed disarms the `pre_exec` hooks it added to the `Command`
//! (see `sys/exec.rs`), so the next method spawns the same `Command` cleanly.
//! The caller's own `pre_exec` hooks run once per attempt: in a failed `pidns`
//! attempt they ran in the process that became the shim, never in the command.
//!
//! With [`SpawnOptions::cgroup_parent`] set, `auto` is `cgroup` under that
//! parent, and its errors are the caller's to see.

use std::process::Command;

use super::spawn_driver;
use crate::driver::Driver;
use crate::options::SpawnOptions;
use crate::{Method, SpawnError};

/// The order `auto` tries. `pidns` first: it is the only method whose
/// supervisor side the tree cannot name, so the only one a tree that signals or
/// stops its parent and ancestors cannot defeat (see `method/pidns/mod.rs`); and
/// with a leaf it also removes the cgroups the tree made. `cgroup` next: the tree
/// cannot escape it, but the host is its leader's parent.
pub(crate) const PREFERENCE: [Method; 3] = [Method::Pidns, Method::Cgroup, Method::ProcWalk];

/// What `auto` spawned.
pub(crate) struct Picked {
    /// The method that runs the tree.
    pub method: Method,
    pub driver: Box<dyn Driver>,
    /// The methods tried before it, with why each could not run here.
    pub passed_over: Vec<(Method, String)>,
}

/// Spawns `cmd` with the first method of [`PREFERENCE`] that runs here.
pub(crate) fn spawn(cmd: &mut Command, opts: &SpawnOptions) -> Result<Picked, SpawnError> {
    if opts.cgroup_parent.is_some() {
        // The caller named a cgroup: use it (its errors are the caller's to see).
        return Ok(Picked {
            method: Method::Cgroup,
            driver: spawn_driver(Method::Cgroup, cmd, opts)?,
            passed_over: Vec::new(),
        });
    }
    let mut passed_over = Vec::new();
    for method in PREFERENCE {
        let attempt = match precondition(method, opts) {
            Some(reason) => Err(SpawnError::Unsupported { method, reason }),
            None => spawn_driver(method, cmd, opts),
        };
        match attempt {
            Ok(driver) => {
                return Ok(Picked {
                    method,
                    driver,
                    passed_over,
                });
            }
            Err(SpawnError::Unsupported { reason, .. }) => passed_over.push((method, reason)),
            Err(e) => return Err(e),
        }
    }
    let reasons: Vec<String> = passed_over
        .iter()
        .map(|(m, reason)| format!("{m}: {reason}"))
        .collect();
    Err(SpawnError::Unsupported {
        method: Method::Auto,
        reason: format!(
            "no escape-proof method can run here ({})",
            reasons.join("; ")
        ),
    })
}

/// Why `method` cannot run here, from what `auto` checks itself before spawning
/// (the methods' spawns check the rest, cheapest first). Only `proc-walk` needs
/// it: its spawn does not look at pidfd, `/proc/.../children` or subreapers
/// itself, and the probe calls it unsupported without them.
fn precondition(method: Method, opts: &SpawnOptions) -> Option<String> {
    match method {
        Method::ProcWalk => crate::shim::locate(opts.shim.as_ref())
            .err()
            .or_else(proc_walk_missing),
        _ => None,
    }
}

/// Why `proc-walk` cannot run here besides a missing shim program, or `None`:
/// pidfd, `/proc/<pid>/task/<tid>/children` and subreapers. Cheap (no process is
/// started, nothing is created): `auto` checks it before it tries `proc-walk`.
pub(crate) fn proc_walk_missing() -> Option<String> {
    if let Some(reason) = crate::shim::kernel::foreign_proc() {
        return Some(reason);
    }
    let children_file =
        std::path::Path::new(&format!("/proc/self/task/{}/children", std::process::id())).exists();
    if !crate::pidfd::supported() {
        Some("pidfd_open does not work here (needs Linux 5.3)".to_owned())
    } else if !children_file {
        Some("/proc/<pid>/task/<tid>/children is missing (kernel built without CONFIG_PROC_CHILDREN)".to_owned())
    } else if !subreaper_supported() {
        Some(NO_SUBREAPER.to_owned())
    } else {
        None
    }
}

pub(crate) const NO_SUBREAPER: &str = "the kernel has no PR_SET_CHILD_SUBREAPER (needs Linux 3.4)";

/// Whether the kernel knows subreapers (it answers `PR_GET_CHILD_SUBREAPER`).
pub(crate) fn subreaper_supported() -> bool {
    rustix::process::child_subreaper().is_ok()
}
