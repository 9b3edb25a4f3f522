//! Helpers: spawning scripted trees whose processes report their PIDs, and judging
//! liveness by identity from `/proc`. Shared with the test host
//! (`tests/host/test_host.rs`), so nothing here uses a dev-dependency.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use teardown::{DrainReport, Method, ProcessIdentity, SpawnOptions, Tree};

/// Runs `check` for each of `methods` in turn (a test over many methods iterates
/// [`Method::ALL`], or part of it, rather than repeating the list), and fails
/// naming every method whose check failed; each one's panic is printed as it
/// happens, and its guards are dropped before the next method runs.
pub fn for_each_method(methods: impl IntoIterator<Item = Method>, check: impl Fn(Method)) {
    let failed: Vec<Method> = methods
        .into_iter()
        .filter(|&m| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(m))).is_err())
        .collect();
    assert!(
        failed.is_empty(),
        "failed for {failed:?} (each panic is above)"
    );
}

/// Every method but `auto` (which only ever runs one of the others).
pub fn all_but_auto() -> impl Iterator<Item = Method> {
    Method::ALL.into_iter().filter(|m| *m != Method::Auto)
}

/// `eval "$R"` in a tree script prints the PID of the shell running it, as the
/// host's `/proc` shows it (so it is right inside a PID namespace too). Used as
/// `(eval "$R"; exec sleep 60) &`: the subshell reports itself, then becomes sleep.
pub const REPORT: &str = "read p _ < /proc/self/stat; echo $p";

/// The shim binary built with this package: the tests know its path; the test
/// host (`teardown-test-host`, which shares this file) is told in
/// `TEARDOWN_SHIM` by the test that runs it.
pub fn shim() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_teardown-shim") {
        Some(path) => path.into(),
        None => std::env::var_os("TEARDOWN_SHIM")
            .expect("TEARDOWN_SHIM names the shim (the methods tests set it for the test host)")
            .into(),
    }
}

/// Options that point at the shim binary built with this package.
pub fn opts() -> SpawnOptions {
    SpawnOptions::default().with_shim(shim(), Vec::new())
}

/// A spawned scripted tree and the identities of its processes.
pub struct Scripted {
    pub tree: Tree,
    pub leader: ProcessIdentity,
    /// The reported processes, in report order.
    pub reported: Vec<ProcessIdentity>,
    /// The rest of the tree's stdout.
    pub out: BufReader<std::process::ChildStdout>,
}

impl Scripted {
    /// Every identity, leader first.
    pub fn all(&self) -> Vec<ProcessIdentity> {
        std::iter::once(self.leader)
            .chain(self.reported.iter().copied())
            .collect()
    }
}

/// Spawns `program args` with `method`, and reads `reports` PIDs from its stdout.
pub fn spawn_reporting(method: Method, program: &str, args: &[&str], reports: usize) -> Scripted {
    spawn_reporting_with(method, program, args, reports, &opts())
}

/// [`spawn_reporting`] with spawn options.
pub fn spawn_reporting_with(
    method: Method,
    program: &str,
    args: &[&str],
    reports: usize,
    options: &SpawnOptions,
) -> Scripted {
    let mut cmd = Command::new(program);
    cmd.args(args).env("R", REPORT).stdout(Stdio::piped());
    let mut tree = method
        .spawn_with(&mut cmd, options)
        .unwrap_or_else(|e| panic!("{method}: spawn failed: {e}"));
    let leader = ProcessIdentity::of(tree.leader_pid()).expect("leader identity");
    let mut out = BufReader::new(tree.take_stdout().expect("stdout is piped"));
    let mut reported = Vec::new();
    for _ in 0..reports {
        let mut line = String::new();
        out.read_line(&mut line).expect("read a reported pid");
        let pid: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{method}: bad report line {line:?}"));
        reported.push(ProcessIdentity::of(pid).expect("reported process identity"));
    }
    Scripted {
        tree,
        leader,
        reported,
        out,
    }
}

/// Spawns `sh -c script`, reading `reports` PIDs.
pub fn spawn_sh(method: Method, script: &str, reports: usize) -> Scripted {
    spawn_reporting(method, "sh", &["-c", script], reports)
}

/// The identities among `ids` that are alive now.
pub fn alive(ids: &[ProcessIdentity]) -> Vec<ProcessIdentity> {
    ids.iter()
        .copied()
        .filter(ProcessIdentity::is_alive)
        .collect()
}

/// Waits (up to 10 s) until none of `ids` is alive; returns those still alive.
pub fn settle_dead(ids: &[ProcessIdentity]) -> Vec<ProcessIdentity> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let left = alive(ids);
        if left.is_empty() || Instant::now() > end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (up to 10 s) until `pred` holds.
pub fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !pred() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The state letter of a process (`R`, `S`, `T`, `Z`, ...).
pub fn state(id: &ProcessIdentity) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{}/stat", id.pid)).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    after.chars().next()
}

/// Kills every survivor among `ids`, by identity-checked pidfd.
pub fn cleanup(ids: &[ProcessIdentity]) {
    for id in ids {
        let _ = id.kill();
    }
}

/// Kills survivors when a test ends, even by panic.
pub struct Cleanup(pub Vec<ProcessIdentity>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        cleanup(&self.0);
    }
}

/// The cgroup2 directory of process `pid` (from its `/proc/<pid>/cgroup` and this
/// process's mountinfo).
pub fn cgroup_dir_of(pid: u32) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?.to_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (root, point) = info.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if !post.starts_with("cgroup2 ") {
            return None;
        }
        let f: Vec<&str> = pre.split(' ').collect();
        Some((f.get(3)?.to_string(), f.get(4)?.to_string()))
    })?;
    let rel = rel.strip_prefix(root.trim_end_matches('/')).unwrap_or(&rel);
    Some(std::path::Path::new(&point).join(rel.trim_start_matches('/')))
}

/// The live processes one of whose arguments contains `needle`, with their
/// parent PID.
pub fn processes_with_arg(needle: &str) -> Vec<(ProcessIdentity, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !cmd
            .split(|&b| b == 0)
            .any(|a| String::from_utf8_lossy(a).contains(needle))
        {
            continue;
        }
        let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| {
                let after = t[t.rfind(')')? + 2..].to_owned();
                after.split(' ').nth(1)?.parse().ok()
            });
        if let (Ok(id), Some(ppid)) = (ProcessIdentity::of(pid), ppid) {
            out.push((id, ppid));
        }
    }
    out
}

/// `sh` that appends a line to `marker` and prints one: how many times it ran.
pub fn counting_command(marker: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"echo ran >> "$MARKER"; echo out"#])
        .env("MARKER", marker)
        .stdout(Stdio::piped());
    cmd
}

/// Spawns the counting command (appending to `marker`) with `auto`, waits for
/// it, tears it down; returns the method, what was passed over, the report, and
/// how many times it ran (checking it printed once on the pipe the caller asked
/// for).
pub fn spawn_counting(marker: &Path) -> (Method, Vec<(Method, String)>, DrainReport, usize) {
    let mut tree = Method::Auto
        .spawn_with(&mut counting_command(marker), &opts())
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
    let runs = std::fs::read_to_string(marker)
        .unwrap_or_default()
        .lines()
        .count();
    (method, passed_over, report, runs)
}
