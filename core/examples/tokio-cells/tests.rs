//! The intent of aurae PR 599's tests (`auraed/tests/cell_start_stop_delete.rs`
//! and the unit tests of `executables.rs`), against this cell service: where
//! aurae checks the leader's process group is gone within 3 s, this checks
//! that the whole tree — a `setsid` escapee and a SIGTERM-ignoring child too —
//! is gone when stop returns.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use teardown::{Method, ProcessIdentity, SpawnOptions};

use super::*;

/// Reports the PID of the shell running it, as this process's `/proc` sees it
/// (right inside a PID namespace too).
const REPORT: &str = "read p _ < /proc/self/stat; echo $p";

fn service() -> CellService {
    CellService {
        executables: executables(),
    }
}

fn executables() -> Executables {
    Executables::new(
        Method::Auto,
        SpawnOptions::default(),
        Duration::from_millis(200),
    )
}

/// Kills whatever of these is still alive when a test ends, even by panic.
struct Cleanup(Vec<ProcessIdentity>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = id.kill();
        }
    }
}

/// `sh -c script` with `$R` set and stdout piped.
fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .env("R", REPORT)
        .stdout(Stdio::piped());
    cmd
}

/// Starts `script` as `name`, reads `reports` PIDs it prints; the identities
/// of the leader and of each reported process.
fn start_reporting(
    cells: &mut Executables,
    name: &str,
    script: &str,
    reports: usize,
) -> Vec<ProcessIdentity> {
    let pid = cells.start(name, &mut sh(script)).unwrap();
    let mut ids = vec![ProcessIdentity::of(pid).unwrap()];
    let out = cells.running.get_mut(name).unwrap().take_stdout().unwrap();
    let mut out = BufReader::new(out);
    for _ in 0..reports {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        ids.push(ProcessIdentity::of(line.trim().parse().unwrap()).unwrap());
    }
    ids
}

fn alive(ids: &[ProcessIdentity]) -> Vec<ProcessIdentity> {
    ids.iter()
        .copied()
        .filter(ProcessIdentity::is_alive)
        .collect()
}

#[tokio::test]
async fn cells_start_stop_delete() {
    let mut cells = service();
    let pid = cells
        .start("sleeper", Command::new("sleep").arg("60"))
        .unwrap();
    let _guard = Cleanup(vec![ProcessIdentity::of(pid).unwrap()]);
    let report = cells.stop("sleeper").await.unwrap().expect("it ran");
    assert_eq!(report.leader_status, Some(128 + libc::SIGTERM));
    assert!(cells.executables.running.is_empty(), "deleted on stop");
    assert_eq!(alive(&_guard.0), vec![]);
}

/// aurae issue 534: a shell wrapper's background children outlived stop. Here
/// with a `setsid` escapee (which aurae's `killpg` misses) and a child that
/// ignores SIGTERM: all gone when stop returns.
#[tokio::test]
async fn cells_stop_kills_the_entire_tree() {
    let mut cells = service();
    let ids = start_reporting(
        &mut cells.executables,
        "wrapper",
        r#"(eval "$R"; exec sleep 60) &
           setsid sh -c 'eval "$R"; exec sleep 60' &
           (trap "" TERM; eval "$R"; exec sleep 60) & wait"#,
        3,
    );
    let _guard = Cleanup(ids.clone());
    assert_eq!(
        alive(&ids).len(),
        4,
        "the leader and its three children run"
    );
    let report = cells.stop("wrapper").await.unwrap().expect("it ran");
    assert_eq!(alive(&ids), vec![], "nothing is left when stop returns");
    assert!(report.escalated, "the SIGTERM-ignorer needed SIGKILL");
}

#[tokio::test]
async fn cells_double_stop_is_idempotent() {
    let mut cells = service();
    let pid = cells
        .start("twice", Command::new("sleep").arg("60"))
        .unwrap();
    let _guard = Cleanup(vec![ProcessIdentity::of(pid).unwrap()]);
    assert!(cells.stop("twice").await.unwrap().is_some());
    assert!(
        cells.stop("twice").await.unwrap().is_none(),
        "the second stop is Ok"
    );
    assert_eq!(alive(&_guard.0), vec![]);
}

/// The leader exits on its own, leaving a child behind: stop is `Ok`, reports
/// the leader's own status, and still drains what it left.
#[tokio::test]
async fn cells_stop_after_natural_exit_is_ok() {
    let mut cells = service();
    let ids = start_reporting(
        &mut cells.executables,
        "short",
        r#"setsid sh -c 'eval "$R"; exec sleep 60' & read _ < /dev/null; exit 3"#,
        1,
    );
    let _guard = Cleanup(ids.clone());
    let status = cells.executables.wait("short").await.unwrap();
    assert_eq!(status.code(), Some(3));
    let report = cells.stop("short").await.unwrap().expect("it ran");
    assert_eq!(report.leader_status, Some(3));
    assert_eq!(alive(&ids), vec![], "the orphan it left is drained too");
}

#[tokio::test]
async fn start_should_cache_pid_and_reject_duplicates() {
    let mut cells = executables();
    let pid = cells.start("one", Command::new("sleep").arg("60")).unwrap();
    let _guard = Cleanup(vec![ProcessIdentity::of(pid).unwrap()]);
    assert_eq!(cells.pid("one"), Some(pid));
    match cells.start("one", Command::new("sleep").arg("60")) {
        Err(CellsError::Duplicate(name)) => assert_eq!(name, "one"),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(cells.pid("one"), Some(pid), "the first one is kept");
    cells.stop("one").await.unwrap();
}

#[tokio::test]
async fn stop_after_natural_exit_returns_ok_and_evicts() {
    let mut cells = executables();
    let pid = cells.start("gone", &mut Command::new("true")).unwrap();
    assert!(cells.wait("gone").await.unwrap().success());
    assert_eq!(cells.pid("gone"), Some(pid), "the PID outlives the exit");
    let report = cells.stop("gone").await.unwrap();
    assert_eq!(report.leader_status, Some(0));
    assert_eq!(cells.pid("gone"), None, "evicted");
}

#[tokio::test]
async fn stop_unknown_name_returns_not_found() {
    let mut cells = executables();
    match cells.stop("nobody").await {
        Err(CellsError::NotFound(name)) => assert_eq!(name, "nobody"),
        other => panic!("expected not found, got {other:?}"),
    }
}

#[test]
fn the_command_line_takes_a_method_a_grace_and_the_command() {
    let args = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
    let cli = Cli::parse(args(&[
        "--method", "cgroup", "--grace", "250ms", "--", "sh", "-c", "x",
    ]));
    assert_eq!(
        cli.unwrap(),
        Cli {
            method: Method::Cgroup,
            grace: Duration::from_millis(250),
            command: args(&["sh", "-c", "x"]),
        }
    );
    assert_eq!(
        Cli::parse(args(&["--", "true"])).unwrap().method,
        Method::Auto
    );
    assert!(Cli::parse(args(&["--"])).is_err(), "no command");
    assert!(Cli::parse(args(&["--grace", "2x", "--", "true"])).is_err());
    assert!(Cli::parse(args(&["--method", "nope", "--", "true"])).is_err());
}
