//! Signalling up the ancestry: `kill-parent`, `kill-ancestors` and their SIGTERM
//! handler twins `term-kill-parent`, `term-kill-ancestors`.
//!
//! # The safety rule
//!
//! A node never signals PID 1 or below, the warden, or anything above the warden:
//! the climb stops at the first process that is the warden (its PID comes in
//! `TEARDOWN_WARDEN_PID`, see [`super::record::WARDEN_PID_ENV`]), that is PID 1 of
//! the node's PID namespace (or not in it: parent PID 0), or that `/proc` cannot
//! show. Outside a warden the ancestors are the user's shell, terminal and session
//! manager: a node with an upward trait refuses to start without
//! `TEARDOWN_WARDEN_PID`, and also when its climb would reach PID 1 without
//! meeting the warden ([`check_warden_above`]).
//!
//! # The climb
//!
//! `/proc` need not be of the node's own PID namespace: under the `pidns` method,
//! and below a `userns` node, the nodes see the warden's `/proc`, whose PIDs are
//! not theirs; the climb reads each ancestor's `NSpid` line, and signals each by
//! pidfd after an identity check. It runs in a SIGTERM handler too, so it is
//! async-signal-safe and lives with the handlers: [`crate::sys::climb`].

use super::{Node, NodeError, record};
use crate::spec::{NodeSpec, Trait};
use crate::sys::climb::{Scope, Top, check_warden_above, signal_up};

/// The warden's PID from `TEARDOWN_WARDEN_PID`, checked to be above this process
/// (or beyond the edge of its PID namespace).
pub(super) fn warden_above() -> Result<i32, NodeError> {
    let no = |why: String| NodeError::NoWarden { why };
    let value = std::env::var(record::WARDEN_PID_ENV)
        .map_err(|_| no(format!("{} is not set", record::WARDEN_PID_ENV)))?;
    let pid: i32 = value
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| no(format!("{}={value:?} is not a PID", record::WARDEN_PID_ENV)))?;
    check_warden_above(pid).map_err(|top| {
        no(match top {
            Top::Unreadable => "/proc does not show this process's ancestry".to_owned(),
            _ => format!("the warden (pid {pid}) is not an ancestor of this process"),
        })
    })?;
    Ok(pid)
}

impl Node {
    /// `kill-parent` and `kill-ancestors`, in spec order, once the parent has
    /// let this node go on, that is once the whole tree has reported ready (see
    /// `report_ready`).
    pub(super) fn signal_up_once_ready(&mut self, spec: &NodeSpec) {
        if !spec
            .traits
            .iter()
            .any(|t| matches!(t, Trait::KillParent(_) | Trait::KillAncestors(_)))
        {
            return;
        }
        self.parent_reported();
        self.parent_ready = None;
        self.signal_up(spec);
        self.report_upward();
    }

    /// Tells the warden the upward signals are out (see [`record::UPWARD_BIT`]).
    fn report_upward(&self) {
        let Some(report) = &self.report else { return };
        let id = self.id;
        let rec =
            super::own_record(id).unwrap_or_else(|e| super::die(id, "read /proc/self/stat", e));
        // The warden gave up (EPIPE) or the write failed: it times out and says so.
        let _ = rustix::io::write(report, &record::encode_upward(&rec));
    }

    fn signal_up(&self, spec: &NodeSpec) {
        let Some(warden) = self.warden else {
            return;
        };
        for t in &spec.traits {
            let scope = match t {
                Trait::KillParent(_) => Scope::Parent,
                Trait::KillAncestors(_) => Scope::Ancestors,
                _ => continue,
            };
            let sig = t.signal().expect("an upward trait has a signal");
            signal_up(scope, sig.number(), warden);
        }
    }
}
