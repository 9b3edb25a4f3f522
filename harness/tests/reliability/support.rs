//! What every reliability test needs: the binary, a cgroup the test owns to
//! contain what it starts, and bounded waits.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use teardown::Method;

/// The `teardown` binary under test.
pub fn teardown_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_teardown"))
}

/// A `Command` for `teardown ARGS`.
pub fn teardown(args: &[&str]) -> Command {
    let mut c = Command::new(teardown_bin());
    c.args(args);
    c
}

/// The methods the reliability tests drive one by one: each with its own
/// mechanism (`auto` picks one of them).
pub const METHODS: [Method; 7] = [
    Method::Leader,
    Method::Killpg,
    Method::KillpgWaitpgid,
    Method::Subreaper,
    Method::ProcWalk,
    Method::Cgroup,
    Method::Pidns,
];

/// The arguments of `teardown run --method METHOD --report REPORT -- sh -c
/// SCRIPT`: a shell script under a method, its drain report written to a file.
pub fn run_script<'a>(method: &'a str, report: &'a Path, script: &'a str) -> [&'a str; 9] {
    let report = report.to_str().expect("a UTF-8 report path");
    [
        "run", "--method", method, "--report", report, "--", "sh", "-c", script,
    ]
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A cgroup v2 directory this test created (`reliab-<pid>-<n>` under the test
/// process's own cgroup): everything a command started inside it stays inside, so
/// `cgroup.procs` and `cgroup.events` count what it left. Dropping it kills what is
/// left and removes it (and any child cgroups).
pub struct TestCgroup {
    pub dir: PathBuf,
}

impl TestCgroup {
    pub fn new() -> TestCgroup {
        let mount = teardown_harness::cgroup2::mount_point().expect("a cgroup2 mount");
        let own = fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
        let rel = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup2 line")
            .trim_start_matches('/')
            .to_owned();
        let parent = mount.join(rel);
        reclaim_stale(&parent);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("reliab-{}-{n}", std::process::id()));
        fs::create_dir(&dir).expect("create the test cgroup");
        TestCgroup { dir }
    }

    /// Wraps `cmd` so that it runs inside this cgroup: `sh` moves itself in, then
    /// execs the command (same PID, so the returned child is the command itself).
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(r#"echo 0 > "$1/cgroup.procs" && shift && exec "$@""#)
            .arg("sh")
            .arg(&self.dir)
            .arg(program)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// `self.command(...)` with stdout/stderr piped, spawned.
    pub fn spawn(&self, program: &Path, args: &[&str]) -> Child {
        self.command(program, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn in the test cgroup")
    }

    /// The PIDs in this cgroup and every cgroup below it.
    pub fn procs(&self) -> Vec<i32> {
        let mut out = Vec::new();
        collect_procs(&self.dir, &mut out);
        out
    }

    /// `populated` from `cgroup.events` (this cgroup or any below it has a process).
    pub fn populated(&self) -> bool {
        fs::read_to_string(self.dir.join("cgroup.events"))
            .map(|t| t.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    }

    /// Waits up to `limit` for `populated 0`; how long it took, or `None`.
    pub fn wait_empty(&self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if !self.populated() {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (!self.populated()).then(|| start.elapsed())
    }

    /// Every cgroup directory below this one whose name starts with `teardown-`.
    pub fn teardown_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        collect_dirs(&self.dir, &mut out);
        out.retain(|d| {
            d.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("teardown-"))
        });
        out
    }

    /// A one-line description of what is in the cgroup, for assertion messages.
    pub fn describe(&self) -> String {
        let procs: Vec<String> = self
            .procs()
            .iter()
            .map(|p| {
                let cmd = fs::read(format!("/proc/{p}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                    .unwrap_or_default();
                format!("{p}: {}", cmd.trim())
            })
            .collect();
        format!(
            "procs [{}], dirs {:?}",
            procs.join("; "),
            self.teardown_dirs()
        )
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
        let _ = self.wait_empty(Duration::from_secs(5));
        remove_tree(&self.dir);
    }
}

/// Reclaims the `reliab-<pid>-<n>` cgroups under `parent` of a test process
/// that is gone (one stopped by a signal runs no `Drop`): what is left in them
/// is killed by their `cgroup.kill` (they are ours) and they are removed. A PID
/// that is alive again, reused, keeps its directories: the safe side.
fn reclaim_stale(parent: &Path) {
    for dir in subdirs(parent) {
        let pid = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("reliab-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            drop(TestCgroup { dir });
        }
    }
}

fn collect_procs(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(t) = fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    for d in subdirs(dir) {
        collect_procs(&d, out);
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    for d in subdirs(dir) {
        out.push(d.clone());
        collect_dirs(&d, out);
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn remove_tree(dir: &Path) {
    for d in subdirs(dir) {
        remove_tree(&d);
    }
    let _ = fs::remove_dir(dir);
}

/// Waits up to `limit` for `cond`; true if it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILLs a child this test spawned (by its `Child`, never by a bare PID) and reaps it.
pub fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// stdout and stderr of a finished command.
pub fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
