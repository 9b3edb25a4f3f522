//! `teardown::process_wrap` (feature `process-wrap`): a tree as process-wrap's
//! child drains the `setsid` escapee that process-wrap's own `ProcessGroup`
//! leaks (shown here too, as the negative control).

#[path = "../methods/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use process_wrap::std::{ChildWrapper, CommandWrap, ProcessGroup};
use teardown::process_wrap::Spawner;
use teardown::{Method, ProcessIdentity};

use support::{Cleanup, REPORT, alive, opts};

/// A leader with a background child and a `setsid` escapee, each reported.
const TREE: &str = r#"(eval "$R"; exec sleep 60) &
setsid sh -c 'eval "$R"; exec sleep 60' & wait"#;

/// `sh -c TREE` with `$R` set and stdout piped.
fn command() -> CommandWrap {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", TREE])
        .env("R", REPORT)
        .stdout(Stdio::piped());
    CommandWrap::from(cmd)
}

/// The identities of the leader and the two children it reports.
fn identities(child: &mut dyn ChildWrapper) -> Vec<ProcessIdentity> {
    let mut ids = vec![ProcessIdentity::of(child.id()).unwrap()];
    let mut out = BufReader::new(child.stdout().take().expect("stdout is piped"));
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        ids.push(ProcessIdentity::of(line.trim().parse().unwrap()).unwrap());
    }
    ids
}

#[test]
fn process_wraps_own_process_group_leaks_the_setsid_escapee() {
    let mut child = command().wrap(ProcessGroup::leader()).spawn().unwrap();
    let ids = identities(&mut *child);
    let _guard = Cleanup(ids.clone());
    child.kill().unwrap();
    assert_eq!(
        support::settle_dead(&ids[..2]),
        vec![],
        "the group dies of killpg"
    );
    assert!(
        ids[2].is_alive(),
        "the setsid escapee survives ProcessGroup"
    );
}

#[test]
fn the_teardown_child_drains_the_escapee_that_process_group_leaks() {
    support::for_each_method([Method::Auto, Method::Cgroup, Method::ProcWalk], |m| {
        let spawner = Spawner::new(m).with_options(opts()).std();
        let mut child = command().spawn_with_child(spawner).unwrap();
        let ids = identities(&mut *child);
        let _guard = Cleanup(ids.clone());
        child.kill().unwrap();
        assert_eq!(alive(&ids), vec![], "{m}: nothing is left after kill");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), None, "{m}: the leader was killed");
    });
}

#[test]
fn wait_returns_the_leaders_status_once_the_rest_of_its_tree_is_drained() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"setsid sh -c 'eval "$R"; exec sleep 60' & exit 3"#])
        .env("R", REPORT)
        .stdout(Stdio::piped());
    let spawner = Spawner::new(Method::Auto)
        .with_options(opts())
        .with_grace(Duration::ZERO)
        .std();
    let mut child = CommandWrap::from(cmd).spawn_with_child(spawner).unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout().take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let escapee = ProcessIdentity::of(line.trim().parse().unwrap()).unwrap();
    let _guard = Cleanup(vec![escapee]);
    assert_eq!(child.wait().unwrap().code(), Some(3));
    assert!(
        !escapee.is_alive(),
        "what the leader left is drained by wait"
    );
    assert_eq!(child.try_wait().unwrap().and_then(|s| s.code()), Some(3));
}

/// The tokio side: process-wrap's tokio `ProcessGroup` leaks the escapee (the
/// negative control), the async teardown child drains it.
#[cfg(feature = "tokio")]
#[test]
fn the_async_teardown_child_drains_the_escapee_that_tokios_process_group_leaks() {
    use process_wrap::tokio as pw;

    fn command() -> pw::CommandWrap {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", TREE])
            .env("R", REPORT)
            .stdout(Stdio::piped());
        pw::CommandWrap::from(cmd)
    }
    fn identities(child: &mut dyn pw::ChildWrapper) -> Vec<ProcessIdentity> {
        let mut ids = vec![ProcessIdentity::of(child.id().unwrap()).unwrap()];
        let out = child.stdout().take().unwrap().into_owned_fd().unwrap();
        let mut out = BufReader::new(std::fs::File::from(out));
        for _ in 0..2 {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            ids.push(ProcessIdentity::of(line.trim().parse().unwrap()).unwrap());
        }
        ids
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut group = command().wrap(pw::ProcessGroup::leader()).spawn().unwrap();
        let leaked = identities(&mut *group);
        let _guard = Cleanup(leaked.clone());
        Box::into_pin(group.kill()).await.unwrap();
        assert!(
            leaked[2].is_alive(),
            "the setsid escapee survives ProcessGroup"
        );

        let spawner = Spawner::new(Method::Auto).with_options(opts()).tokio();
        let mut child = command().spawn_with_child(spawner).unwrap();
        let ids = identities(&mut *child);
        let _guard = Cleanup(ids.clone());
        Box::into_pin(child.kill()).await.unwrap();
        assert_eq!(alive(&ids), vec![], "nothing is left after kill");
        assert_eq!(child.wait().await.unwrap().code(), None, "killed");
    });
}
