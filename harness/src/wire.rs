//! What `teardown run --report FILE` writes: one JSON object on one line.
//!
//! * drained: the core's [`DrainReport`] (`{"method": "cgroup", ..., "drain_us": 812, ...}`);
//! * the method cannot run here: `{"unsupported": "reason"}` (and `teardown run`
//!   exits 2);
//! * teardown failed: `{"error": "reason"}`.
//!
//! The warden reads it from a pipe to tell a drained tree, an unsupported method
//! and a failure apart.

use teardown::DrainReport;

/// Environment variable the warden sets for its own supervisor (`teardown run`):
/// the read end of a pipe. After writing its report, `run` waits until the warden
/// closes the other end, so that the warden judges the tree at the very moment
/// `run` says it is done, with `run` alive and holding what it holds (a zombie it
/// never reaped is judged as held, not by a race with its exit). Unset, `run`
/// exits at once; not for users.
pub const HOLD_FD_ENV: &str = "TEARDOWN_HOLD_FD";

/// The content of a `teardown run --report` file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum RunReport {
    /// The tree was torn down and drained.
    Drained(DrainReport),
    /// The method cannot run on this host.
    Unsupported {
        /// Why (from the core's `SpawnError::Unsupported`).
        unsupported: String,
    },
    /// Spawning or tearing down failed.
    Failed {
        /// Why.
        error: String,
    },
}

impl RunReport {
    /// The one-line JSON form, newline-terminated.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a report serializes") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_report_is_not_mistaken_for_a_drain_report() {
        let r: RunReport = serde_json::from_str(r#"{"unsupported": "no cgroup2 mount"}"#).unwrap();
        assert_eq!(
            r,
            RunReport::Unsupported {
                unsupported: "no cgroup2 mount".into()
            }
        );
        let line = RunReport::Failed { error: "x".into() }.to_line();
        assert_eq!(line, "{\"error\":\"x\"}\n");
    }

    #[test]
    fn a_drain_report_round_trips() {
        let d = DrainReport {
            method: teardown::Method::Killpg,
            requested: teardown::Method::Auto,
            signalled: 3,
            reaped: 1,
            rounds: 1,
            escalated: false,
            drain: std::time::Duration::from_micros(812),
            leader_status: Some(143),
        };
        let line = RunReport::Drained(d.clone()).to_line();
        assert!(line.contains("\"drain_us\":812"), "{line}");
        assert_eq!(
            serde_json::from_str::<RunReport>(&line).unwrap(),
            RunReport::Drained(d)
        );
    }
}
