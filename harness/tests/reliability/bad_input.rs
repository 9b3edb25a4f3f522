//! Point 3: bad input gets a one-line reason on stderr and exit 2, and nothing is
//! started and nothing is left.
//!
//! "Nothing started" is observed, not assumed: each command runs inside a cgroup
//! the test owns, with `TEARDOWN_BIN` pointing at a wrapper that records every
//! start of a warden/supervisor/node before exec'ing the real binary, and with a
//! `CMD` (for `teardown run`) that would leave a marker file if it ran.

use std::path::Path;

use rstest::rstest;

use super::support::{TestCgroup, teardown_bin, texts};

/// A wrapper for the `teardown` binary that appends its argv[1] to `log` first.
fn recording_wrapper(dir: &Path, log: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let w = dir.join("teardown");
    std::fs::write(
        &w,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            teardown_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    w
}

#[rstest]
#[case::malformed_spec(&["replay", "pause [fork: paus]"], "byte 13")]
#[case::unclosed_spec(&["replay", "pause [fork"], "byte")]
#[case::spec_over_the_node_limit(&["replay", "pause [3000*fork: pause]"], "over the limit")]
#[case::spec_over_the_live_limit(&["replay", "storm=100000@100000"], "over the limit")]
#[case::unknown_method_in_replay(&["replay", "--method", "nope", "pause"], "unknown method \"nope\"")]
#[case::supervisor_path_missing(&["replay", "pause", "--", "/nonexistent/sup"], "not found")]
#[case::supervisor_name_missing(&["replay", "pause", "--", "no-such-supervisor-xyz"], "not found on PATH")]
#[case::supervisor_not_executable(&["replay", "pause", "--", "/etc/passwd"], "not an executable file")]
#[case::negative_grace(&["replay", "--grace=-1s", "pause"], "no sign")]
#[case::zero_deadline(&["replay", "--deadline", "0s", "pause"], "is zero")]
#[case::absurd_straggler_grace(&["replay", "--straggler-grace", "10h", "pause"], "1h limit")]
#[case::unknown_verdict(&["replay", "--expect", "fine", "pause"], "fine")]
#[case::unknown_method_in_run(&["run", "--method", "nope", "--", "MARK"], "unknown method \"nope\"")]
#[case::negative_grace_in_run(&["run", "--grace=-1s", "--", "MARK"], "no sign")]
#[case::absurd_timeout_in_run(&["run", "--timeout", "99999h", "--", "MARK"], "1h limit")]
#[case::unitless_timeout_in_run(&["run", "--timeout", "5", "--", "MARK"], "no unit")]
#[case::node_by_hand(&["node", "pause [fork: pause]"], "--standalone")]
#[case::node_with_a_bad_spec(&["node", "--standalone", "pause [fork"], "byte")]
fn bad_input_exits_2_with_a_one_line_reason_and_starts_nothing(
    #[case] args: &[&str],
    #[case] reason: &str,
) {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("started");
    let marker = tmp.path().join("cmd-ran");
    let wrapper = recording_wrapper(tmp.path(), &log);
    let mark = format!("touch '{}'", marker.display());
    let mut argv: Vec<&str> = Vec::new();
    for a in args {
        if *a == "MARK" {
            argv.extend(["sh", "-c", &mark]);
        } else {
            argv.push(a);
        }
    }
    let cg = TestCgroup::new();
    let out = cg
        .command(&wrapper, &argv)
        .env("TEARDOWN_BIN", &wrapper)
        .output()
        .unwrap();
    let (_, err) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "teardown {argv:?}: {err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains(reason),
        "teardown {argv:?}: first stderr line {first:?} lacks {reason:?}"
    );
    // Started: only the command itself (the wrapper logs argv[1] once per start).
    let starts = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        starts.lines().count(),
        1,
        "teardown {argv:?} started more teardown processes: {starts:?}"
    );
    assert!(!marker.exists(), "teardown {argv:?} ran CMD");
    assert!(
        cg.procs().is_empty() && cg.teardown_dirs().is_empty(),
        "teardown {argv:?} left {}",
        cg.describe()
    );
}
