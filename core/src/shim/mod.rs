//! The shim: a dedicated single-threaded process between the host program and the
//! tree, for the methods that must reap adopted orphans (`subreaper`, `proc-walk`)
//! or create a PID namespace (`pidns`); the same program, in `watch-cgroup` mode,
//! is the `cgroup` method's watchdog (see below).
//!
//! # Why a separate process
//!
//! A subreaper has to `waitpid(-1)`, which in a host program with children of its
//! own would steal their exit statuses; a PID namespace's init and
//! `unshare(CLONE_NEWUSER)` need a single-threaded process; and nothing but
//! async-signal-safe calls may run between `fork` and `exec` in a multithreaded
//! host. So these methods run their containment in a shim, like Bazel's
//! process-wrapper or tini.
//!
//! # How it is started
//!
//! The library adds a `pre_exec` hook to the caller's `Command`. When it runs, std
//! has already applied the command's stdio, working directory, uid/gid and process
//! group; the hook clears close-on-exec on the two protocol pipes and `execve`s the
//! shim program with argv `[shim, <leading args>..., <method>, <ctl-fd>, <evt-fd>,
//! --, program, args...]` and, as environment, this process's environment with the
//! command's `env`/`env_remove` applied (or only the latter with
//! [`crate::SpawnOptions::clear_env`]: `Command::env_clear` cannot be seen through
//! `Command`'s getters, neither can `arg0`). So `spawn()` returns the shim as the
//! child; if the shim cannot be exec'd, `spawn` fails with that errno. The
//! caller's own `pre_exec` hooks run (before ours) in the process that becomes
//! the shim: what they set that survives `exec` and `fork` (resource limits, a
//! session, ...) reaches the leader by inheritance.
//!
//! The shim then leaves the caller's process group (a Ctrl-C meant for the host
//! must not kill it and orphan the tree), becomes a subreaper (or creates the
//! namespace and forks its init), forks and execs the leader in its own process
//! group with the caller's signal dispositions and stdio, points its own stdio at
//! `/dev/null` (so it does not hold the caller's pipes open), and speaks the line
//! protocol of `protocol.rs`: `ready <pid>`, `leader-exited <status>`,
//! `drained <report>`. If the host goes away (end of file on its control pipe)
//! the shim tears the tree down with SIGKILL and exits.
//!
//! # A forked shim
//!
//! With [`crate::SpawnOptions::forked_shim`] (a single-threaded host only) the
//! host forks instead: the child closes the host's ends of the protocol pipes
//! and runs the method's shim side with its own copy of the caller's `Command`,
//! from which the leader is spawned (so the caller's settings and hooks apply to
//! the leader as with a plain spawn). It keeps copies of every other descriptor
//! the host had open, as a fork does, until it exits. `pidns` forks no
//! shim: the host forks the namespace's init directly and is the outer side
//! itself (`method/pidns/direct.rs`).
//!
//! # The `cgroup` watchdog
//!
//! The `cgroup` method keeps the tree in the host, so it starts the shim program
//! as a watchdog instead: argv `[shim, <leading args>..., watch-cgroup, <arm-fd>,
//! <leaf-dir-fd>, <leaf-path>]`, outside the leaf, in its own process group. It
//! blocks reading the arm pipe (the host holds the only write end): one byte means
//! the host removed the leaf (exit); end of file without it means the host died
//! (`cgroup.kill` through the leaf's descriptor, wait for `populated 0`, `rmdir`
//! the leaf if its path still names that directory, exit). The host reaps it
//! when it disarms it. Turned off with [`crate::SpawnOptions::cgroup_watchdog`].
//!
//! # Finding the shim program
//!
//! Any binary can host the shim by calling [`crate::run_shim`] (the `teardown` CLI does it as a
//! hidden subcommand and passes itself in [`crate::SpawnOptions::shim`]). When no
//! shim is given, the library looks for it, in order: the environment variable
//! `TEARDOWN_SHIM`; `teardown-shim` beside the current executable and in its parent
//! directory (so `target/debug/deps/test-*` finds `target/debug/teardown-shim`);
//! `teardown-shim` in `PATH`.

pub(crate) mod host;
pub(crate) mod kernel;
mod process;
pub(crate) mod protocol;
pub(crate) mod reaper;
pub(crate) mod server;
pub(crate) mod setup;
pub(crate) mod watchdog;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The name of the stand-alone shim binary.
pub const SHIM_BINARY: &str = "teardown-shim";

/// Finds the shim program (see the module docs for the order). The error is a
/// reason a person can act on.
pub fn locate(explicit: Option<&(PathBuf, Vec<String>)>) -> Result<(PathBuf, Vec<String>), String> {
    if let Some((p, args)) = explicit {
        return if is_executable(p) {
            Ok((p.clone(), args.clone()))
        } else {
            Err(format!(
                "shim program {} does not exist or is not executable",
                p.display()
            ))
        };
    }
    if let Some(p) = std::env::var_os("TEARDOWN_SHIM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok((p, Vec::new()))
        } else {
            Err(format!(
                "TEARDOWN_SHIM={} does not exist or is not executable",
                p.display()
            ))
        };
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(SHIM_BINARY));
        if let Some(up) = dir.parent() {
            candidates.push(up.join(SHIM_BINARY));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(SHIM_BINARY)));
    }
    candidates
        .into_iter()
        .find(|c| is_executable(c))
        .map(|p| (p, Vec::new()))
        .ok_or_else(|| format!("shim binary {SHIM_BINARY} not found: set TEARDOWN_SHIM or install it (cargo install teardown)"))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
