//! `teardown-test-host`: a host program of the methods tests, run as a process of
//! its own where a test needs process-wide conditions it cannot set in its own
//! (multithreaded) process — a host that gets killed, one that ignores SIGCHLD,
//! one without `CAP_SYS_ADMIN`. Built only for the tests (the `test-host`
//! feature, which the tests' dev-dependency turns on); not a test itself.
//!
//! ```text
//! teardown-test-host ROLE ARG
//! ```
//!
//! with `TEARDOWN_SHIM` naming the shim. A role that checks something prints
//! `helper-passed` when every check held (and panics otherwise); the test that
//! runs it requires that line and a zero exit.

#[path = "../methods/support.rs"]
#[allow(dead_code)] // shared with the methods tests, which use the rest
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use teardown::{Availability, Method, SpawnError};

use support::{
    Cleanup, alive, cgroup_dir_of, opts, spawn_counting, spawn_reporting_with, spawn_sh,
};

/// A sleeper below the leader, reporting its PID.
const TREE: &str = r#"(eval "$R"; exec sleep 60) & wait"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [role, arg] = &args[..] else {
        eprintln!("usage: teardown-test-host ROLE ARG (run by the methods tests)");
        std::process::exit(2);
    };
    let method = || arg.parse::<Method>().expect("ARG is a method");
    match role.as_str() {
        "host" => host(method(), true),
        "host-without-watchdog" => host(method(), false),
        "sigchld-ignored" => sigchld_ignored(method()),
        "sigchld-ignored-in-process" => sigchld_ignored_in_process(method()),
        "auto-falls-back" => auto_falls_back(method()),
        "forked-shim" => forked_shim(method()),
        _ => panic!("unknown role {role}"),
    }
    println!("helper-passed");
}

/// Spawns a tree with `method`, prints its identities (`identity PID START`, the
/// leader first), its cgroup leaf if it has one (`leaf PATH`), then `ready`, and
/// waits to be killed: the tree is never torn down.
fn host(method: Method, watchdog: bool) -> ! {
    let options = opts().with_cgroup_watchdog(watchdog);
    let s = spawn_reporting_with(method, "sh", &["-c", TREE], 1, &options);
    for id in s.all() {
        println!("identity {} {}", id.pid, id.start_time);
    }
    if let Some(dir) = cgroup_dir_of(s.leader.pid).filter(|d| {
        d.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("teardown-"))
    }) {
        println!("leaf {}", dir.display());
    }
    println!("ready");
    std::mem::forget(s);
    std::thread::sleep(Duration::from_secs(60));
    panic!("nobody killed the host within 60 s");
}

/// Run with SIGCHLD ignored (inherited across exec): the shim still drains the
/// tree, and the leader inherits the host's SIG_IGN.
fn sigchld_ignored(method: Method) {
    // The leader gets the host's dispositions back (grep, unlike dash and perl,
    // does not reset SIGCHLD at startup).
    let mut cmd = Command::new("grep");
    cmd.args(["SigIgn", "/proc/self/status"])
        .stdout(Stdio::piped());
    let mut tree = method.spawn_with(&mut cmd, &opts()).unwrap();
    let mut line = String::new();
    BufReader::new(tree.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ign = u64::from_str_radix(line.trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert!(
        ign & (1 << (libc::SIGCHLD - 1)) != 0,
        "the leader inherits SIGCHLD = SIG_IGN: {line}"
    );
    tree.teardown(Duration::ZERO).unwrap();
    sigkill_a_tree(method);
}

/// Spawns a tree with `method`, tears it down with SIGKILL, checks it is gone.
fn sigkill_a_tree(method: Method) -> teardown::DrainReport {
    let s = spawn_sh(method, TREE, 1);
    let _guard = Cleanup(s.all());
    let all = s.all();
    let mut tree = s.tree;
    let report = tree.teardown(Duration::ZERO).unwrap();
    assert_eq!(alive(&all), vec![], "{method}");
    assert_eq!(report.leader_status, Some(128 + 9));
    report
}

/// Run with SIGCHLD ignored. The kernel reaps such a host's children at once, so
/// a method holding the leader in-process (its zombie pins the process group;
/// its status is the leader's) cannot work: it must say so, at spawn and in the
/// probe, and `auto` must pick a shim method that does work.
fn sigchld_ignored_in_process(method: Method) {
    let probe = teardown::probe_with(&opts());
    assert!(probe.host.sigchld_ignored, "{probe:?}");
    if method == Method::Auto {
        let picked = probe.auto.expect("auto picks a shim method");
        assert!(
            matches!(picked, Method::Pidns | Method::ProcWalk),
            "auto picked {picked}"
        );
        assert_eq!(sigkill_a_tree(method).method, picked);
        return;
    }
    let Availability::Unsupported { reason } = probe.availability(method) else {
        panic!("{method} is available with SIGCHLD ignored: {probe:?}");
    };
    assert!(reason.contains("SIGCHLD"), "{reason}");
    let err = method
        .spawn_with(&mut Command::new("true"), &opts())
        .expect_err("spawn refuses");
    let SpawnError::Unsupported { reason, .. } = &err else {
        panic!("{method}: {err}");
    };
    assert!(reason.contains("SIGCHLD"), "{reason}");
}

/// Run without `CAP_SYS_ADMIN` (and maybe with SIGCHLD ignored): spawns with
/// `auto` and checks it ran `expected`, once, with the reasons recorded and
/// agreeing with the probe.
fn auto_falls_back(expected: Method) {
    let p = teardown::probe_with(&opts());
    let Availability::Unsupported { reason } = p.availability(Method::Pidns) else {
        panic!("pidns still works here: the test cannot force the fallback: {p:?}");
    };
    assert!(reason.contains("cannot create a PID namespace"), "{reason}");

    let dir = std::env::temp_dir().join(format!("teardown-test-host-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let counted = spawn_counting(&dir.join("ran"));
    std::fs::remove_dir_all(&dir).unwrap();
    let (method, passed_over, report, runs) = counted;
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
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let children = std::fs::read_to_string(task.unwrap().path().join("children")).unwrap();
        assert_eq!(children.trim(), "", "children left: {children}");
    }
}

/// Spawns with a forked shim (this host is single-threaded): the leader gets
/// what the `Command` set, `env_clear` and `arg0` included, which an exec'd shim
/// cannot see; `Stdio::piped()` is refused with `EOPNOTSUPP`.
fn forked_shim(method: Method) {
    use std::os::unix::process::CommandExt;
    let options = opts().with_forked_shim(true);
    let dir = std::env::temp_dir().join(format!("teardown-forked-shim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("out");
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        r#"printf '%s|%s|%s|%s\n' "$PWD" "$FOO" "${HOME-unset}" "$0""#,
    ])
    .arg0("custom-arg0")
    .env_clear()
    .env("FOO", "bar")
    .env("PATH", "/usr/bin:/bin")
    .current_dir(&dir)
    .stdout(std::fs::File::create(&out_path).unwrap());
    let mut tree = method.spawn_with(&mut cmd, &options).unwrap();
    assert!(
        tree.take_stdout().is_none(),
        "{method}: no std Child to take from"
    );
    assert_eq!(tree.wait_leader().unwrap().code(), Some(0), "{method}");
    let report = tree.teardown(Duration::ZERO).unwrap();
    assert_eq!(report.leader_status, Some(0), "{method}");
    let cwd = dir.canonicalize().unwrap();
    let out = std::fs::read_to_string(&out_path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        out,
        format!("{}|bar|unset|custom-arg0\n", cwd.display()),
        "{method}"
    );

    let mut piped = Command::new("true");
    piped.stdout(Stdio::piped());
    match method.spawn_with(&mut piped, &options) {
        Err(SpawnError::Spawn { what, source }) => {
            assert_eq!(source.raw_os_error(), Some(libc::EOPNOTSUPP), "{method}");
            assert!(what.contains("Stdio::piped()"), "{method}: {what}");
        }
        other => panic!("{method}: a piped command spawned: {other:?}"),
    }
}
