//! A shim notices when its host dies (end of file on its control pipe) and tears
//! the tree down with SIGKILL; so does the `cgroup` method's watchdog, which also
//! removes the leaf.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rstest::rstest;
use teardown::{Method, ProcessIdentity};

use crate::helpers::{IGNORING_SIGCHLD, expect_passed, test_host};
use crate::support::{Cleanup, alive, settle_dead, wait_until};

/// A host that spawned a tree with `method` (with or without the cgroup
/// watchdog), SIGKILLed: the identities of its tree, and its leaf (if any).
fn kill_a_host(method: Method, watchdog: bool) -> (Vec<ProcessIdentity>, Option<PathBuf>) {
    let role = if watchdog {
        "host"
    } else {
        "host-without-watchdog"
    };
    let mut host = test_host(&[], role, method.name())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run teardown-test-host");
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

#[rstest]
fn a_host_ignoring_sigchld_still_gets_a_drained_tree_from_the_shim(
    #[values(Method::Subreaper, Method::ProcWalk, Method::Pidns)] method: Method,
) {
    let host = test_host(&IGNORING_SIGCHLD, "sigchld-ignored", method.name());
    expect_passed(method.name(), host);
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
    let host = test_host(
        &IGNORING_SIGCHLD,
        "sigchld-ignored-in-process",
        method.name(),
    );
    expect_passed(method.name(), host);
    // This process does not ignore SIGCHLD: the same probe says available.
    assert!(
        teardown::probe_with(&crate::support::opts())
            .availability(method)
            .is_available()
    );
}
