//! `auto` spawns with the first method of its preference that runs here, moves on
//! when one is unsupported without ever running the command twice, and says
//! which one ran and why the others did not.
//!
//! The fallback is forced by a real mechanism, not a test hook: the test host
//! (`teardown-test-host auto-falls-back`) runs under `setpriv` without
//! `CAP_SYS_ADMIN` (what a root container commonly gets), so
//! `unshare(CLONE_NEWPID)` fails in the `pidns` shim while a cgroup leaf can
//! still be made.

use rstest::rstest;
use teardown::{Method, SpawnError};

use crate::helpers::{IGNORING_SIGCHLD, expect_passed, test_host};
use crate::support::{opts, spawn_counting};

#[test]
fn auto_runs_its_first_choice_here_and_says_so() {
    let p = teardown::probe_with(&opts());
    let dir = tempfile::tempdir().unwrap();
    let (tree_method, passed_over, report, runs) = spawn_counting(&dir.path().join("ran"));
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
        .spawn_with(&mut crate::support::counting_command(&marker), &o)
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
    let setpriv = which("setpriv").expect("setpriv (util-linux) drops the capability: install it");
    let setpriv = setpriv.to_str().expect("a UTF-8 path");
    let drop_sys_admin = [
        setpriv,
        "--bounding-set",
        "-sys_admin",
        "--inh-caps",
        "-sys_admin",
        "--",
    ];
    let wrapper: Vec<&str> = if ignore_sigchld {
        IGNORING_SIGCHLD
            .iter()
            .chain(&drop_sys_admin)
            .copied()
            .collect()
    } else {
        drop_sys_admin.to_vec()
    };
    let host = test_host(&wrapper, "auto-falls-back", expected.name());
    expect_passed(expected.name(), host);
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
