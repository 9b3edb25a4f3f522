//! `auto` spawns with the first method of its preference that runs here, moves on
//! when one is unsupported without ever running the command twice, and says
//! which one ran and why the others did not.
//!
//! The fallback is forced by a real mechanism, not a test hook: the test binary
//! runs itself again under `setpriv` without `CAP_SYS_ADMIN` (what a root
//! container commonly gets), so `unshare(CLONE_NEWPID)` fails in the `pidns` shim
//! while a cgroup leaf can still be made.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use rstest::rstest;
use teardown::{Availability, Method, SpawnError};

use crate::support::opts;

/// Set in the helper: the method `auto` must end up with there.
const EXPECT_VAR: &str = "TEARDOWN_TEST_AUTO_EXPECT";

#[test]
fn auto_runs_its_first_choice_here_and_says_so() {
    let p = teardown::probe_with(&opts());
    let dir = tempfile::tempdir().unwrap();
    let (tree_method, passed_over, report, runs) = spawn_counting(&dir);
    assert_eq!(
        Some(tree_method),
        p.auto,
        "auto ran what the probe says it picks"
    );
    if p.host.euid == 0 && p.availability(Method::Pidns).is_available() {
        assert_eq!(tree_method, Method::Pidns);
    }
    // Every method before the one that ran was passed over, with the probe's
    // verdict agreeing.
    for (m, reason) in &passed_over {
        assert!(!reason.is_empty());
        assert!(!p.availability(*m).is_available(), "{m}: {reason}");
    }
    assert_eq!(report.method, tree_method);
    assert_eq!(report.requested, Method::Auto);
    assert_eq!(runs, 1);
}

#[test]
fn auto_with_no_usable_method_lists_every_reason_and_never_runs_the_command() {
    // No shim program: `pidns` and `proc-walk` need it, and so does `cgroup`'s
    // watchdog.
    let o = opts().with_shim("/nonexistent/teardown-shim", Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let err = Method::Auto
        .spawn_with(&mut counting_command(&marker), &o)
        .unwrap_err();
    let SpawnError::Unsupported { method, reason } = &err else {
        panic!("expected unsupported, got {err:?}");
    };
    assert_eq!(*method, Method::Auto);
    assert!(
        reason.starts_with("no escape-proof method can run here ("),
        "{reason}"
    );
    for m in ["pidns: ", "; cgroup: ", "; proc-walk: "] {
        assert!(reason.contains(m), "{m} in {reason}");
    }
    assert!(reason.contains("/nonexistent/teardown-shim"), "{reason}");
    assert!(!marker.exists(), "the command ran");
    let p = teardown::probe_with(&o);
    assert_eq!(p.auto, None);
    assert!(!p.availability(Method::Auto).is_available());
}

/// `sh` that appends a line to `marker` and prints one: how many times it ran.
fn counting_command(marker: &std::path::Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"echo ran >> "$MARKER"; echo out"#])
        .env("MARKER", marker)
        .stdout(Stdio::piped());
    cmd
}

/// Spawns the counting command with `auto`, waits for it, tears it down; returns
/// the method, what was passed over, the report, and how many times it ran
/// (checking it printed once on the pipe the caller asked for).
fn spawn_counting(
    dir: &tempfile::TempDir,
) -> (Method, Vec<(Method, String)>, teardown::DrainReport, usize) {
    let marker = dir.path().join("ran");
    let mut tree = Method::Auto
        .spawn_with(&mut counting_command(&marker), &opts())
        .unwrap_or_else(|e| panic!("auto: spawn failed: {e}"));
    let method = tree.method();
    let passed_over = tree.passed_over().to_vec();
    let mut out = String::new();
    tree.take_stdout()
        .expect("stdout is piped")
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "out\n");
    let status = tree.wait_leader().unwrap();
    assert!(status.success(), "{status}");
    let report = tree.teardown(Duration::from_secs(2)).unwrap();
    let runs = std::fs::read_to_string(&marker)
        .unwrap_or_default()
        .lines()
        .count();
    (method, passed_over, report, runs)
}

/// Not a test on its own: run by `auto_falls_back_...` without `CAP_SYS_ADMIN`
/// (and maybe with SIGCHLD ignored), it spawns with `auto` and checks it ran the
/// expected method, once, with the reasons recorded and agreeing with the probe.
#[test]
fn helper_auto_falls_back() {
    let Ok(expected) = std::env::var(EXPECT_VAR) else {
        return;
    };
    let expected: Method = expected.parse().unwrap();
    let p = teardown::probe_with(&opts());
    let Availability::Unsupported { reason } = p.availability(Method::Pidns) else {
        panic!("pidns still works here: the test cannot force the fallback: {p:?}");
    };
    assert!(reason.contains("cannot create a PID namespace"), "{reason}");

    let dir = tempfile::tempdir().unwrap();
    let (method, passed_over, report, runs) = spawn_counting(&dir);
    assert_eq!(method, expected);
    assert_eq!(
        Some(method),
        p.auto,
        "auto ran what the probe says it picks"
    );
    assert_eq!(report.method, expected);
    assert_eq!(report.requested, Method::Auto);
    assert_eq!(runs, 1, "the command ran exactly once");
    let tried: Vec<Method> = passed_over.iter().map(|(m, _)| *m).collect();
    let want: Vec<Method> = [Method::Pidns, Method::Cgroup]
        .into_iter()
        .take_while(|m| *m != expected)
        .collect();
    assert_eq!(tried, want, "{passed_over:?}");
    assert!(
        passed_over[0].1.contains("cannot create a PID namespace"),
        "{passed_over:?}"
    );
    if expected == Method::ProcWalk {
        assert!(passed_over[1].1.contains("SIGCHLD"), "{passed_over:?}");
    }
    // The shim of the failed attempt was reaped: nothing of it is left.
    let me = std::process::id();
    for task in std::fs::read_dir(format!("/proc/{me}/task")).unwrap() {
        let children = std::fs::read_to_string(task.unwrap().path().join("children")).unwrap();
        assert_eq!(children.trim(), "", "children left: {children}");
    }
    println!("helper-passed");
}

/// `auto` where no PID namespace can be made (no `CAP_SYS_ADMIN`) runs `cgroup`;
/// with SIGCHLD ignored as well (the in-process methods refuse), `proc-walk`.
#[rstest]
#[case::cgroup(Method::Cgroup, false)]
#[case::proc_walk_when_sigchld_is_ignored(Method::ProcWalk, true)]
fn auto_falls_back_when_no_pid_namespace_can_be_made(
    #[case] expected: Method,
    #[case] ignore_sigchld: bool,
) {
    if teardown::probe().host.euid != 0 {
        // As another user `pidns` uses a user namespace, which dropping a
        // capability does not forbid.
        eprintln!("skipped: needs root");
        return;
    }
    let Some(setpriv) = which("setpriv") else {
        eprintln!("skipped: no setpriv (util-linux)");
        return;
    };
    let mut cmd = if ignore_sigchld {
        let mut c = Command::new("perl");
        c.args(["-e", r#"$SIG{CHLD} = "IGNORE"; exec @ARGV or die"#])
            .arg(&setpriv);
        c
    } else {
        Command::new(&setpriv)
    };
    let out = cmd
        .args([
            "--bounding-set",
            "-sys_admin",
            "--inh-caps",
            "-sys_admin",
            "--",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "auto::helper_auto_falls_back", "--nocapture"])
        .env(EXPECT_VAR, expected.name())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("helper-passed"),
        "{expected}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
