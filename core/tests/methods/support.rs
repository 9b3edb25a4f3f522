//! Helpers: spawning scripted trees whose processes report their PIDs, and judging
//! liveness by identity from `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use teardown::{Method, ProcessIdentity, SpawnOptions, Tree};

/// `eval "$R"` in a tree script prints the PID of the shell running it, as the
/// host's `/proc` shows it (so it is right inside a PID namespace too). Used as
/// `(eval "$R"; exec sleep 60) &`: the subshell reports itself, then becomes sleep.
pub const REPORT: &str = "read p _ < /proc/self/stat; echo $p";

/// Options that point at the shim binary built with this package.
pub fn opts() -> SpawnOptions {
    SpawnOptions::default().with_shim(env!("CARGO_BIN_EXE_teardown-shim"), Vec::new())
}

/// A copy of `binary` in a fresh world-readable directory, for a child that runs
/// as another uid: the checkout (and so `target/`) may sit in a private directory
/// (a `mktemp -d` clone is mode 0700). Keep the `TempDir` alive while it runs.
pub fn stage_for_any_user(binary: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("teardown-stage-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir
        .path()
        .join(std::path::Path::new(binary).file_name().unwrap());
    // Copied by a child process, not `fs::copy`: a write descriptor open in this
    // multithreaded process leaks into whatever another test thread forks at that
    // moment, and exec'ing the copy then fails with ETXTBSY until that child execs.
    let st = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(binary)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success(), "install {binary}: {st}");
    (dir, copy)
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
