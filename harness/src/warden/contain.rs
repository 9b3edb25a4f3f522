//! How the warden contains a trial: tied to the harness by `PR_SET_PDEATHSIG`, PID 1
//! of a fresh PID namespace with a private `/proc` when it can, a subreaper always.
//!
//! * root: `unshare(CLONE_NEWPID)` in the outer warden; the inner warden (its
//!   first child) is PID 1 of the new namespace and does `unshare(CLONE_NEWNS)`,
//!   makes `/` recursively private (nothing it mounts propagates out) and mounts a
//!   fresh `proc` on `/proc`, so `/proc` shows exactly the trial's processes;
//! * not root: the same with `CLONE_NEWUSER` added (uid and gid mapped to
//!   themselves as root of the namespace, `setgroups` denied), where the kernel
//!   allows unprivileged user namespaces;
//! * neither: a plain subreaper in the host's PID namespace, said in the outcome.
//!
//! In a PID namespace the safety net is absolute: when the inner warden exits, or
//! dies with the harness (PDEATHSIG, checked against the lifeline pipe to close
//! the race with an outer warden that died first), the kernel kills every process
//! of the namespace.

use std::io;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

/// What containment the warden got.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Containment {
    /// PID 1 of a new PID namespace (`user`: inside a new user namespace too).
    PidNamespace {
        /// A user namespace was needed (not root).
        user: bool,
    },
    /// A plain subreaper, and why no namespace.
    Subreaper {
        /// Why no PID namespace.
        why: String,
    },
}

impl Containment {
    /// Short form for the outcome's detail: `pidns`, `userns+pidns`, `subreaper`.
    pub fn label(&self) -> &'static str {
        match self {
            Containment::PidNamespace { user: false } => "pidns",
            Containment::PidNamespace { user: true } => "userns+pidns",
            Containment::Subreaper { .. } => "subreaper",
        }
    }

    /// Whether children created from now on go to a new PID namespace.
    pub fn is_pidns(&self) -> bool {
        matches!(self, Containment::PidNamespace { .. })
    }
}

/// Enters a new PID namespace for the children to come (outer warden). Never fails:
/// falls back to [`Containment::Subreaper`] with the reason.
pub fn unshare_pid_namespace() -> Containment {
    let root_err = match unshare(CloneFlags::CLONE_NEWPID) {
        Ok(()) => {
            crate::sys::forget_own_pidns();
            return Containment::PidNamespace { user: false };
        }
        Err(e) => e,
    };
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    match unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID) {
        Ok(()) => {
            crate::sys::forget_own_pidns();
            match map_ids(uid, gid) {
                Ok(()) => Containment::PidNamespace { user: true },
                Err(e) => Containment::Subreaper {
                    why: format!("user namespace id maps: {e}"),
                },
            }
        }
        Err(user_err) => Containment::Subreaper {
            why: format!("unshare(CLONE_NEWPID): {root_err}; with CLONE_NEWUSER: {user_err}"),
        },
    }
}

pub(super) fn map_ids(uid: u32, gid: u32) -> io::Result<()> {
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))
}

/// In the inner warden (PID 1 of the new namespace): a private mount namespace with
/// a fresh `/proc`.
pub fn private_proc() -> io::Result<()> {
    unshare(CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )?;
    Ok(())
}

/// `prctl(PR_SET_PDEATHSIG, SIGKILL)`, then checks the parent is still the one
/// expected (it may have died before the call): returns false if it is gone.
pub fn die_with_parent(expected_parent: Option<i32>) -> io::Result<bool> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    Ok(match expected_parent {
        Some(p) => rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get()) == Some(p),
        None => true,
    })
}
