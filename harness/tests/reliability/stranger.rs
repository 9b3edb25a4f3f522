//! Point 5: no stranger is ever signalled, even when PIDs are recycled.
//!
//! The test re-runs its own binary as PID 1 of a fresh PID namespace (`unshare
//! --pid --fork --mount-proc`, util-linux), where nothing else forks, so writing
//! `/proc/sys/kernel/ns_last_pid` steers the next PID exactly. There:
//!
//! * the naive pattern (a test fixture, not a library method: reap the leader,
//!   then `killpg` its old PGID) is shown to kill a bystander that was given the
//!   leader's recycled PID (and so leads a group with the old PGID);
//! * every method of ours observes the leader's exit with `wait_leader` but keeps
//!   its zombie until teardown, so the same steering cannot give the leader's PID
//!   to the bystander, and the bystander survives the teardown.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use teardown::SpawnOptions;

use super::support::{METHODS, teardown_bin};

const HELPER_ENV: &str = "RELIAB_PIDNS_HELPER";

/// Makes the next PID allocated in this (the helper's own) namespace `pid`.
fn steer_next_pid(pid: u32) {
    std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
        .expect("write ns_last_pid (needs CAP_SYS_ADMIN over this PID namespace)");
}

/// A bystander in a group of its own (so its PGID is its PID).
fn bystander() -> Child {
    use std::os::unix::process::CommandExt;
    Command::new("sleep")
        .arg("100")
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

/// Runs `test` of this binary as PID 1 of a new PID namespace; asserts it passed.
fn in_own_pid_namespace(test: &str) {
    let me = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(me)
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(HELPER_ENV, "1")
        .env("TEARDOWN_BIN", teardown_bin())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{test} in a PID namespace: {text}"
    );
}

#[test]
fn the_naive_reap_then_killpg_pattern_kills_a_bystander_with_the_recycled_pid() {
    in_own_pid_namespace("stranger::pidns_naive_pattern_hits_the_bystander");
}

#[test]
fn our_methods_keep_the_leaders_pid_until_teardown_so_a_bystander_cannot_take_it() {
    in_own_pid_namespace("stranger::pidns_methods_never_hit_the_bystander");
}

#[test]
#[ignore = "helper: runs in its own PID namespace (see the_naive_... test)"]
fn pidns_naive_pattern_hits_the_bystander() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let mut leader = Command::new("true").process_group(0).spawn().unwrap();
    let pgid = leader.id();
    leader.wait().unwrap(); // reaped: its PID (and PGID) are free
    steer_next_pid(pgid);
    let mut by = bystander();
    assert_eq!(by.id(), pgid, "steering the next PID failed");
    // The naive teardown: signal the group the leader led.
    killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL).unwrap();
    let st = by.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(9), "the bystander was not hit: {st:?}");
}

#[test]
#[ignore = "helper: runs in its own PID namespace (see our_methods_... test)"]
fn pidns_methods_never_hit_the_bystander() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let opts = SpawnOptions::default().with_shim(teardown_bin(), vec!["__shim".into()]);
    for m in METHODS {
        let mut cmd = Command::new("true");
        let mut tree = m.spawn_with(&mut cmd, &opts).unwrap();
        let leader = tree.leader_pid();
        let st = tree.wait_leader().unwrap();
        assert!(st.success(), "{m}: {st:?}");
        steer_next_pid(leader);
        let mut by = bystander();
        assert_ne!(
            by.id(),
            leader,
            "{m}: the leader's PID was free for reuse after wait_leader"
        );
        tree.teardown(Duration::ZERO).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(alive(&mut by), "{m}: the bystander was killed");
        by.kill().unwrap();
        by.wait().unwrap();
    }
}
