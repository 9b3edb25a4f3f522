//! `auto`: the strongest method this host supports — `pidns` (a PID namespace,
//! in a cgroup leaf when cgroup2 is writable), else `cgroup`, else `proc-walk` —
//! chosen by [`crate::probe_with`] (the shim the options name, if any, is the
//! one probed). The tree and its report say which one
//! ran ([`crate::Tree::method`], [`crate::DrainReport::method`]); `requested` stays
//! `auto`. Never a silent fall back to a weak method: if none of the three can
//! run, spawning fails with [`crate::SpawnError::Unsupported`] and every reason.

use crate::probe::{Availability, probe_with};
use crate::tree::SpawnOptions;
use crate::{Method, SpawnError};

/// The order `auto` tries. `pidns` first: it is the only method whose
/// supervisor side the tree cannot name, so the only one a tree that signals or
/// stops its parent and ancestors cannot defeat (see `method/pidns/mod.rs`); and
/// with a leaf it also removes the cgroups the tree made. `cgroup` next: the tree
/// cannot escape it, but the host is its leader's parent.
pub(crate) const PREFERENCE: [Method; 3] = [Method::Pidns, Method::Cgroup, Method::ProcWalk];

pub(crate) fn pick(opts: &SpawnOptions) -> Result<Method, SpawnError> {
    if opts.cgroup_parent.is_some() {
        // The caller named a cgroup: use it (its errors are the caller's to see).
        return Ok(Method::Cgroup);
    }
    let p = probe_with(opts);
    if let Some(m) = p.auto {
        return Ok(m);
    }
    let reasons: Vec<String> = PREFERENCE
        .iter()
        .map(|m| match p.availability(*m) {
            Availability::Unsupported { reason } => format!("{m}: {reason}"),
            Availability::Available => format!("{m}: available"),
        })
        .collect();
    Err(SpawnError::Unsupported {
        method: Method::Auto,
        reason: format!(
            "no escape-proof method can run here ({})",
            reasons.join("; ")
        ),
    })
}
