//! A command that names itself with bytes that are not UTF-8 (a UTF-8 name cut
//! at `comm`'s 15 bytes, as `prctl(PR_SET_NAME)` does): `/proc/<pid>/status` is
//! then not UTF-8. `pidns`'s init read it as text, took the leader's zombie for
//! an unreadable stranger, spun on it for ever, and `teardown run` (default
//! method) never returned.

use std::time::Duration;

use rstest::rstest;

use super::{teardown, texts};

/// A hung `run` fails the test instead of hanging it (not a timing assertion).
const BOUND: Duration = Duration::from_secs(60);

/// Renames the shell (the leader) to `a` and the first 14 bytes of "日本語のプロ"
/// in UTF-8 (the last character cut in two), prints the name it now has (read
/// by the shell itself: `/proc/self` in a redirection is the shell), exits 3.
const RENAME_AND_EXIT: &str = r"printf 'a\346\227\245\346\234\254\350\252\236\343\201\256\343\203' > /proc/self/comm; IFS= read -r n < /proc/self/comm; printf '%s' $n; exit 3";

/// The name [`RENAME_AND_EXIT`] gives.
const NAME: &[u8] = b"a\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83";

#[rstest]
fn a_leader_named_with_bytes_that_are_not_utf8_is_seen_to_exit(
    #[values("auto", "pidns", "proc-walk", "subreaper", "cgroup")] method: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = teardown()
        .args(["run", "--method", method, "--report"])
        .arg(&report)
        .args(["--", "sh", "-c", RENAME_AND_EXIT])
        .timeout(BOUND)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{:?}", texts(&out));
    assert_eq!(
        out.stdout, NAME,
        "the leader has the name the test is about"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    if report.get("unsupported").is_some() {
        eprintln!("{method} unsupported here: {report}");
        return;
    }
    assert_eq!(report["leader_status"], 3, "{report}");
    // Nothing but the leader ran, and it exited: nothing to wait out or kill.
    assert_eq!(report["escalated"], false, "{report}");
    if method == "pidns" || method == "auto" {
        assert_eq!(
            report["rounds"], 1,
            "no SIGTERM round after 'empty': {report}"
        );
    }
}
