//! Point 4: unprivileged use. The root test process runs `teardown probe` and
//! `teardown replay` as uid/gid 65534 with no supplementary groups (`setpriv`,
//! util-linux), inside a root-owned cgroup the test made (so nobody can create
//! cgroups there, as on a host without delegation). Methods that need a writable
//! cgroup say `unsupported` with the reason; the warden still contains each trial
//! in a PID namespace through a user namespace; the verdicts are the same as root's.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::support::{TestCgroup, run_script, teardown_bin, texts};

/// A copy of the `teardown` binary in a fresh world-readable directory: the
/// checkout (and so `target/`) may sit in a private directory (a `mktemp -d` clone
/// is mode 0700) that uid 65534 cannot enter. The copy hosts its own shim, warden
/// and node interpreter.
fn staged_teardown() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("teardown-stage-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("teardown");
    // Copied by a child process, not `fs::copy`: a write descriptor open in this
    // multithreaded process leaks into whatever another test thread forks at that
    // moment, and exec'ing the copy then fails with ETXTBSY until that child execs.
    let st = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(teardown_bin())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success(), "install the teardown binary: {st}");
    (dir, copy)
}

/// `teardown ARGS` as uid/gid 65534 inside `cg`, from the staged copy `bin`.
fn nobody_command(cg: &TestCgroup, bin: &Path, args: &[&str]) -> Command {
    let bin_s = bin.display().to_string();
    let mut argv = vec![
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        bin_s.as_str(),
    ];
    argv.extend_from_slice(args);
    let mut c = cg.command(Path::new("setpriv"), &argv);
    c.current_dir("/");
    c
}

fn as_nobody(cg: &TestCgroup, args: &[&str]) -> Output {
    let (_stage, bin) = staged_teardown();
    nobody_command(cg, &bin, args).output().unwrap()
}

#[test]
fn probe_as_nobody_says_why_cgroup_is_unsupported_and_uses_a_user_namespace() {
    let cg = TestCgroup::new();
    let out = as_nobody(&cg, &["probe", "--format", "json"]);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["core"]["host"]["euid"], 65534, "{o}");
    let methods = v["core"]["methods"].as_array().unwrap();
    let status = |name: &str| {
        methods
            .iter()
            .find(|m| m[0] == name)
            .map(|m| m[1].clone())
            .unwrap_or_else(|| panic!("{name} missing: {o}"))
    };
    let cgroup = status("cgroup");
    assert_eq!(cgroup["status"], "unsupported", "{o}");
    assert!(
        cgroup.to_string().contains("delegate"),
        "no reason a person can act on: {cgroup}"
    );
    for m in ["pidns", "proc-walk", "subreaper", "killpg"] {
        assert_eq!(status(m)["status"], "available", "{m}: {o}");
    }
    assert_eq!(v["warden"]["containment"], "userns+pidns", "{o}");
    // The warden just made one: the kernel allows unprivileged user namespaces, so
    // the probe must say so, and `auto` must use them (pidns before proc-walk).
    assert_eq!(v["core"]["host"]["user_namespaces"], true, "{o}");
    assert_eq!(v["core"]["auto"], "pidns", "{o}");
    assert!(
        cg.procs().is_empty() && cg.teardown_dirs().is_empty(),
        "{}",
        cg.describe()
    );
}

#[test]
fn replay_as_nobody_gives_the_same_verdicts_and_unsupported_for_cgroup() {
    let cg = TestCgroup::new();
    for (method, expect) in [
        ("cgroup", "unsupported"),
        ("pidns", "clean"),
        ("proc-walk", "clean"),
        ("auto", "clean"),
        ("killpg", "leak"),
    ] {
        let out = as_nobody(
            &cg,
            &[
                "replay",
                "--method",
                method,
                "--expect",
                expect,
                "pause [fork: setsid pause, fork: pause]",
            ],
        );
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{method}: {o}{e}");
        assert!(o.contains("warden: userns+pidns"), "{method}: {o}");
        if method == "cgroup" {
            assert!(o.contains("delegate a writable cgroup2"), "{o}");
        }
        assert!(
            cg.procs().is_empty() && cg.teardown_dirs().is_empty(),
            "{method}: {}",
            cg.describe()
        );
    }
}

/// `teardown run` itself as nobody, outside any warden. (In `replay` the supervisor
/// runs inside the warden's user namespace, where it is root: only a bare `run`
/// exercises the methods' own unprivileged paths, e.g. `pidns` making its own user
/// namespace.)
#[test]
fn run_as_nobody_drains_the_tree_and_says_unsupported_for_cgroup() {
    use std::os::unix::fs::PermissionsExt;
    let (_stage, bin) = staged_teardown();
    // nobody writes the report: a world-writable directory.
    let out_dir = tempfile::Builder::new()
        .prefix("teardown-nobody-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for (method, ran) in [
        ("auto", Some("pidns")),
        ("pidns", Some("pidns")),
        ("proc-walk", Some("proc-walk")),
        ("subreaper", Some("subreaper")),
        ("cgroup", None),
    ] {
        let cg = TestCgroup::new();
        let report = out_dir.path().join(format!("{method}.json"));
        let status = nobody_command(
            &cg,
            &bin,
            &run_script(method, &report, "sleep 100 & exit 3"),
        )
        // Not piped: a leaked orphan would hold a pipe open.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
        let line = std::fs::read_to_string(&report).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("{method}: report {line:?}: {e}"));
        match ran {
            Some(ran) => {
                assert_eq!(status.code(), Some(3), "{method}: {line}");
                assert_eq!(v["method"], ran, "{method}: {line}");
                assert_eq!(v["leader_status"], 3, "{method}: {line}");
            }
            None => {
                assert_eq!(status.code(), Some(2), "{method}: {line}");
                let why = v["unsupported"].as_str().unwrap_or_default();
                assert!(why.contains("delegate"), "{method}: {line}");
            }
        }
        assert!(
            cg.procs().is_empty() && cg.teardown_dirs().is_empty(),
            "{method}: {}",
            cg.describe()
        );
    }
}
