//! Point 5: no stranger is ever signalled, even when PIDs are recycled.
//!
//! The tests run `teardown-harness-test-host` (tests/host/test_host.rs, a helper
//! program, not a test) as PID 1 of a fresh PID namespace (`unshare --pid --fork
//! --mount-proc`, util-linux), where nothing else forks, so writing
//! `/proc/sys/kernel/ns_last_pid` steers the next PID exactly. There:
//!
//! * the naive pattern (a test fixture, not a library method: reap the leader,
//!   then `killpg` its old PGID) is shown to kill a bystander that was given the
//!   leader's recycled PID (and so leads a group with the old PGID);
//! * every method of ours observes the leader's exit with `wait_leader` but keeps
//!   its zombie until teardown, so the same steering cannot give the leader's PID
//!   to the bystander, and the bystander survives the teardown.

use std::process::Command;

use super::support::{METHODS, teardown_bin};

/// Runs the test host's `role` as PID 1 of a new PID namespace; asserts it
/// passed.
fn in_own_pid_namespace(role: &[&str]) {
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(env!("CARGO_BIN_EXE_teardown-harness-test-host"))
        .args(role)
        .env("TEARDOWN_BIN", teardown_bin())
        .output()
        .expect("run unshare (util-linux)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("helper-passed"),
        "{role:?} in a PID namespace: {}: {text}",
        out.status
    );
}

#[test]
fn the_naive_reap_then_killpg_pattern_kills_a_bystander_with_the_recycled_pid() {
    in_own_pid_namespace(&["naive-pattern-hits-the-bystander"]);
}

#[test]
fn our_methods_keep_the_leaders_pid_until_teardown_so_a_bystander_cannot_take_it() {
    let mut role = vec!["methods-never-hit-the-bystander"];
    role.extend(METHODS.iter().map(|m| m.name()));
    in_own_pid_namespace(&role);
}
