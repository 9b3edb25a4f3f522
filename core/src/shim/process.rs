//! The shim process as the host holds it: spawned (std's `Child`) or forked.

use std::process::Child;

use crate::sys::wait::{WaitFlags, Who, wait_exit};

/// The shim process: spawned (it exec'd the shim program), or forked.
pub(super) enum ShimProc {
    Spawned(Child),
    Forked(i32),
}

impl ShimProc {
    /// The shim's PID.
    pub(super) fn pid(&self) -> i32 {
        match self {
            ShimProc::Spawned(c) => c.id() as i32,
            ShimProc::Forked(pid) => *pid,
        }
    }

    /// Waits for the shim to exit and reaps it; its status, as text.
    pub(super) fn wait(&mut self) -> String {
        match self {
            ShimProc::Spawned(c) => c
                .wait()
                .map(|s| s.to_string())
                .unwrap_or_else(|e| e.to_string()),
            ShimProc::Forked(pid) => match wait_exit(Who::Pid(*pid), WaitFlags::REAP) {
                Ok(Some((_, raw))) => format!("wait status {raw}"),
                Ok(None) => "not reaped".to_owned(),
                Err(e) => e.to_string(),
            },
        }
    }
}
