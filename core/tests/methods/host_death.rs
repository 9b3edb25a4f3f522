//! A shim notices when its host dies (end of file on its control pipe) and tears
//! the tree down with SIGKILL; so does the `cgroup` method's watchdog, which also
//! removes the leaf.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use rstest::rstest;
use teardown::{Method, ProcessIdentity};

use crate::support::{
    Cleanup, alive, cgroup_dir_of, opts, settle_dead, spawn_reporting_with, spawn_sh, wait_until,
};

const HOST_VAR: &str = "TEARDOWN_TEST_HOST_METHOD";
const NO_WATCHDOG_VAR: &str = "TEARDOWN_TEST_HOST_NO_WATCHDOG";

/// Not a test on its own: when run by `a_dead_host_leaves_no_tree_behind` (with
/// the variable set), it plays the host — spawns a tree, prints its identities
/// (and its cgroup leaf, if it has one), and waits to be killed.
#[test]
fn host_helper_spawns_a_tree_and_waits_to_be_killed() {
    let Ok(method) = std::env::var(HOST_VAR) else {
        return;
    };
    let options = opts().with_cgroup_watchdog(std::env::var_os(NO_WATCHDOG_VAR).is_none());
    let s = spawn_reporting_with(
        method.parse().unwrap(),
        "sh",
        &["-c", r#"(eval "$R"; exec sleep 60) & wait"#],
        1,
        &options,
    );
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
    // Never torn down: the host dies with the tree running.
    std::mem::forget(s);
    std::thread::sleep(Duration::from_secs(60));
}

/// A host that spawned a tree with `method` (with or without the cgroup
/// watchdog), SIGKILLed: the identities of its tree, and its leaf (if any).
fn kill_a_host(method: Method, watchdog: bool) -> (Vec<ProcessIdentity>, Option<PathBuf>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "host_death::host_helper_spawns_a_tree_and_waits_to_be_killed",
        "--nocapture",
    ])
    .env(HOST_VAR, method.name())
    .stdout(Stdio::piped());
    if !watchdog {
        cmd.env(NO_WATCHDOG_VAR, "1");
    }
    let mut host = cmd.spawn().unwrap();
    let mut ids = Vec::new();
    let mut leaf = None;
    for line in BufReader::new(host.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        if let Some(rest) = line.strip_prefix("identity ") {
            let mut it = rest.split(' ').map(|n| n.parse::<u64>().unwrap());
            ids.push(ProcessIdentity {
                pid: it.next().unwrap() as u32,
                start_time: it.next().unwrap(),
            });
        }
        if let Some(rest) = line.strip_prefix("leaf ") {
            leaf = Some(PathBuf::from(rest));
        }
    }
    host.kill().unwrap();
    host.wait().unwrap();
    (ids, leaf)
}

#[rstest]
fn a_dead_host_leaves_no_tree_behind(
    #[values(
        Method::Subreaper,
        Method::ProcWalk,
        Method::Pidns,
        Method::Cgroup,
        Method::Auto
    )]
    method: Method,
) {
    let (ids, leaf) = kill_a_host(method, true);
    let _guard = Cleanup(ids.clone());
    let _leaf_guard = LeafCleanup(leaf.clone());
    assert_eq!(ids.len(), 2, "the helper reported its tree");
    assert_eq!(
        settle_dead(&ids),
        vec![],
        "{method}: the shim (or the watchdog) tore the tree down"
    );
    if method == Method::Cgroup {
        assert!(leaf.is_some(), "the cgroup tree had a leaf");
    }
    if let Some(leaf) = leaf {
        wait_until(&format!("{method}: {} is removed", leaf.display()), || {
            !leaf.exists()
        });
    }
}

#[test]
fn a_dead_host_without_the_cgroup_watchdog_leaves_its_tree_running() {
    // The negative control: what the watchdog is for.
    let (ids, leaf) = kill_a_host(Method::Cgroup, false);
    let _guard = Cleanup(ids.clone());
    let _leaf_guard = LeafCleanup(leaf.clone());
    assert_eq!(ids.len(), 2, "the helper reported its tree");
    let leaf = leaf.expect("the cgroup tree had a leaf");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(alive(&ids), ids, "nothing was left to kill the tree");
    assert!(
        leaf.exists(),
        "nothing was left to remove {}",
        leaf.display()
    );
}

/// Kills what is left in a leaf and removes it when a test ends.
struct LeafCleanup(Option<PathBuf>);

impl Drop for LeafCleanup {
    fn drop(&mut self) {
        let Some(leaf) = &self.0 else { return };
        if !leaf.exists() {
            return;
        }
        let _ = std::fs::write(leaf.join("cgroup.kill"), "1");
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::remove_dir(leaf).is_err() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

const IGNORING_VAR: &str = "TEARDOWN_TEST_SIGCHLD_IGNORED_METHOD";

/// Not a test on its own: run by `a_host_ignoring_sigchld_...` with SIGCHLD
/// ignored (inherited across exec); checks the shim still drains and the leader
/// inherits the host's SIG_IGN.
#[test]
fn host_helper_with_sigchld_ignored_tears_a_tree_down() {
    let Ok(method) = std::env::var(IGNORING_VAR) else {
        return;
    };
    let method: Method = method.parse().unwrap();
    // The leader gets the host's dispositions back (grep, unlike dash and perl,
    // does not reset SIGCHLD at startup).
    let mut cmd = Command::new("grep");
    cmd.args(["SigIgn", "/proc/self/status"])
        .stdout(Stdio::piped());
    let mut tree = method
        .spawn_with(&mut cmd, &crate::support::opts())
        .unwrap();
    let mut line = String::new();
    BufReader::new(tree.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ign = u64::from_str_radix(line.trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert!(
        ign & (1 << (17 - 1)) != 0,
        "the leader inherits SIGCHLD = SIG_IGN: {line}"
    );
    tree.teardown(Duration::ZERO).unwrap();

    let s = spawn_sh(method, r#"(eval "$R"; exec sleep 60) & wait"#, 1);
    let _guard = Cleanup(s.all());
    let all = s.all();
    let mut tree = s.tree;
    let report = tree.teardown(Duration::ZERO).unwrap();
    assert_eq!(crate::support::alive(&all), vec![], "{method}");
    assert_eq!(report.leader_status, Some(128 + 9));
    println!("helper-passed");
}

#[rstest]
fn a_host_ignoring_sigchld_still_gets_a_drained_tree_from_the_shim(
    #[values(Method::Subreaper, Method::ProcWalk, Method::Pidns)] method: Method,
) {
    run_helper_ignoring_sigchld(
        "host_death::host_helper_with_sigchld_ignored_tears_a_tree_down",
        IGNORING_VAR,
        method,
    );
}

const IGNORING_IN_PROCESS_VAR: &str = "TEARDOWN_TEST_SIGCHLD_IGNORED_IN_PROCESS";

/// Not a test on its own: run by `a_host_ignoring_sigchld_gets_unsupported_...`
/// with SIGCHLD ignored. The kernel reaps such a host's children at once, so a
/// method holding the leader in-process (its zombie pins the process group; its
/// status is the leader's) cannot work: it must say so, at spawn and in the
/// probe, and `auto` must pick a shim method that does work.
#[test]
fn host_helper_with_sigchld_ignored_refuses_in_process_methods() {
    let Ok(method) = std::env::var(IGNORING_IN_PROCESS_VAR) else {
        return;
    };
    let method: Method = method.parse().unwrap();
    let probe = teardown::probe_with(&crate::support::opts());
    assert!(probe.host.sigchld_ignored, "{probe:?}");
    if method == Method::Auto {
        let picked = probe.auto.expect("auto picks a shim method");
        assert!(
            matches!(picked, Method::Pidns | Method::ProcWalk),
            "auto picked {picked}"
        );
        let s = spawn_sh(method, r#"(eval "$R"; exec sleep 60) & wait"#, 1);
        let _guard = Cleanup(s.all());
        let all = s.all();
        let mut tree = s.tree;
        let report = tree.teardown(Duration::ZERO).unwrap();
        assert_eq!(report.method, picked);
        assert_eq!(crate::support::alive(&all), vec![], "{method}");
        assert_eq!(report.leader_status, Some(128 + 9));
    } else {
        let teardown::Availability::Unsupported { reason } = probe.availability(method) else {
            panic!("{method} is available with SIGCHLD ignored: {probe:?}");
        };
        assert!(reason.contains("SIGCHLD"), "{reason}");
        let err = method
            .spawn_with(&mut Command::new("true"), &crate::support::opts())
            .expect_err("spawn refuses");
        let teardown::SpawnError::Unsupported { reason, .. } = &err else {
            panic!("{method}: {err}");
        };
        assert!(reason.contains("SIGCHLD"), "{reason}");
    }
    println!("helper-passed");
}

#[rstest]
fn a_host_ignoring_sigchld_gets_unsupported_from_in_process_methods_and_auto_picks_a_shim(
    #[values(
        Method::Leader,
        Method::Killpg,
        Method::KillpgWaitpgid,
        Method::Cgroup,
        Method::Auto
    )]
    method: Method,
) {
    run_helper_ignoring_sigchld(
        "host_death::host_helper_with_sigchld_ignored_refuses_in_process_methods",
        IGNORING_IN_PROCESS_VAR,
        method,
    );
    // This process does not ignore SIGCHLD: the same probe says available.
    assert!(
        teardown::probe_with(&crate::support::opts())
            .availability(method)
            .is_available()
    );
}

/// Runs the helper test `name` of this binary under `perl`, with SIGCHLD ignored
/// (inherited across exec) and `var` naming `method`; it must print
/// `helper-passed`.
fn run_helper_ignoring_sigchld(name: &str, var: &str, method: Method) {
    let out = Command::new("perl")
        .args(["-e", r#"$SIG{CHLD} = "IGNORE"; exec @ARGV or die"#])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(var, method.name())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("helper-passed"),
        "{method}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
