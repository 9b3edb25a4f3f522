//! `teardown-harness-test-host`: the reliability tests' helper program. The
//! bystander roles run as PID 1 of a fresh PID namespace (`unshare --pid --fork
//! --mount-proc`), where nothing else forks, so that writing
//! `/proc/sys/kernel/ns_last_pid` steers the next PID exactly; `run-trial-forever`
//! is a program calling `run_trial` from a thread of its own (as a downstream
//! test binary does) for a test to kill mid-trial. Built only for the tests (the `test-host` feature, which the
//! tests' dev-dependency turns on); not a test itself.
//!
//! ```text
//! teardown-harness-test-host naive-pattern-hits-the-bystander
//! teardown-harness-test-host methods-never-hit-the-bystander METHOD...
//! teardown-harness-test-host run-trial-forever
//! ```
//!
//! with `TEARDOWN_BIN` naming the `teardown` binary (the shim, the warden). A
//! bystander role prints `helper-passed` when every check held and panics
//! otherwise; the test that runs it requires that line and a zero exit (see
//! `tests/reliability/stranger.rs`).

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use teardown::{Method, SpawnOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("naive-pattern-hits-the-bystander") if args.len() == 1 => naive_pattern(),
        Some("run-trial-forever") if args.len() == 1 => run_trial_forever(),
        Some("methods-never-hit-the-bystander") if args.len() > 1 => {
            let methods = args[1..].iter().map(|m| m.parse().expect("a method name"));
            our_methods(methods.collect());
        }
        _ => {
            eprintln!(
                "usage: teardown-harness-test-host naive-pattern-hits-the-bystander | \
                 methods-never-hit-the-bystander METHOD... | run-trial-forever \
                 (run by the reliability tests)"
            );
            std::process::exit(2);
        }
    }
    println!("helper-passed");
}

/// Makes the next PID allocated in this (the helper's own) namespace `pid`.
fn steer_next_pid(pid: u32) {
    std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
        .expect("write ns_last_pid (needs CAP_SYS_ADMIN over this PID namespace)");
}

/// A bystander in a group of its own (so its PGID is its PID).
fn bystander() -> Child {
    Command::new("sleep")
        .arg("100")
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// The naive teardown (a fixture, not a library method: reap the leader, then
/// `killpg` its old PGID) kills a bystander given the leader's recycled PID.
fn naive_pattern() {
    let mut leader = Command::new("true").process_group(0).spawn().unwrap();
    let pgid = leader.id();
    leader.wait().unwrap(); // reaped: its PID (and PGID) are free
    steer_next_pid(pgid);
    let mut by = bystander();
    assert_eq!(by.id(), pgid, "steering the next PID failed");
    killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL).unwrap();
    let st = by.wait().unwrap();
    assert_eq!(st.signal(), Some(9), "the bystander was not hit: {st:?}");
}

/// Every method keeps the leader's zombie until teardown, so the same steering
/// cannot give the leader's PID to a bystander, which survives the teardown.
fn our_methods(methods: Vec<Method>) {
    let shim = PathBuf::from(std::env::var_os("TEARDOWN_BIN").expect("TEARDOWN_BIN is set"));
    let opts = SpawnOptions::default().with_shim(shim, vec!["__shim".into()]);
    for m in methods {
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
        assert!(
            by.try_wait().unwrap().is_none(),
            "{m}: the bystander was killed"
        );
        by.kill().unwrap();
        by.wait().unwrap();
    }
}

/// A trial whose oracle waits a minute for a `setsid` survivor, run from a
/// thread of this program: the test kills this program in that wait.
fn run_trial_forever() {
    let spec = "pause [fork: setsid pause]".parse().unwrap();
    let mut t = teardown_harness::trial::Trial::new(
        teardown_harness::trial::Supervisor::Method(Method::Killpg),
        spec,
    );
    t.straggler_grace = Duration::from_secs(60);
    let worker = std::thread::spawn(move || teardown_harness::warden::run_trial(&t));
    let _ = worker.join();
}
