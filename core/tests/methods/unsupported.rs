//! Forcing the conditions a method cannot run under gives the typed error.

use std::process::Command;

use teardown::{Method, SpawnError, SpawnOptions};

#[test]
fn cgroup_with_a_nonexistent_parent_is_unsupported() {
    let opts = SpawnOptions::default().with_cgroup_parent("/sys/fs/cgroup/does-not-exist-teardown");
    let err = Method::Cgroup
        .spawn_with(Command::new("true").arg("x"), &opts)
        .unwrap_err();
    match err {
        SpawnError::Unsupported { method, reason } => {
            assert_eq!(method, Method::Cgroup);
            assert!(reason.contains("does not exist"), "{reason}");
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
}

#[test]
fn cgroup_with_a_parent_outside_cgroup2_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SpawnOptions::default().with_cgroup_parent(dir.path());
    let err = Method::Cgroup
        .spawn_with(&mut Command::new("true"), &opts)
        .unwrap_err();
    assert!(
        matches!(&err, SpawnError::Unsupported { reason, .. } if reason.contains("not on a cgroup2")),
        "{err:?}"
    );
}

#[test]
fn auto_with_a_nonexistent_cgroup_parent_reports_the_cgroup_problem() {
    let opts = SpawnOptions::default().with_cgroup_parent("/nonexistent/teardown");
    let err = Method::Auto
        .spawn_with(&mut Command::new("true"), &opts)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SpawnError::Unsupported {
                method: Method::Cgroup,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn every_shim_method_with_a_bogus_shim_path_is_unsupported() {
    for m in [Method::Subreaper, Method::ProcWalk, Method::Pidns] {
        let opts = SpawnOptions::default().with_shim("/nonexistent/teardown-shim", Vec::new());
        let err = m.spawn_with(&mut Command::new("true"), &opts).unwrap_err();
        match err {
            SpawnError::Unsupported { method, reason } => {
                assert_eq!(method, m);
                assert!(reason.contains("/nonexistent/teardown-shim"), "{reason}");
            }
            other => panic!("{m}: expected unsupported, got {other:?}"),
        }
    }
}

#[test]
fn cgroup_with_a_bogus_shim_is_unsupported_and_says_how_to_opt_out_of_the_watchdog() {
    let opts = SpawnOptions::default().with_shim("/nonexistent/teardown-shim", Vec::new());
    let err = Method::Cgroup
        .spawn_with(&mut Command::new("true"), &opts)
        .unwrap_err();
    match err {
        SpawnError::Unsupported { method, reason } => {
            assert_eq!(method, Method::Cgroup);
            assert!(reason.contains("watchdog"), "{reason}");
            assert!(reason.contains("/nonexistent/teardown-shim"), "{reason}");
            assert!(reason.contains("with_cgroup_watchdog(false)"), "{reason}");
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
    let p = teardown::probe_with(&opts);
    assert!(
        !p.availability(Method::Cgroup).is_available(),
        "the probe agrees: {p:?}"
    );
}

#[test]
fn cgroup_without_the_watchdog_needs_no_shim() {
    let opts = SpawnOptions::default()
        .with_shim("/nonexistent/teardown-shim", Vec::new())
        .with_cgroup_watchdog(false);
    let mut tree = Method::Cgroup
        .spawn_with(&mut Command::new("true"), &opts)
        .unwrap();
    tree.teardown(std::time::Duration::ZERO).unwrap();
    assert!(
        teardown::probe_with(&opts)
            .availability(Method::Cgroup)
            .is_available()
    );
}
