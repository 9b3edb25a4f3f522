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
        let spawner = teardown::process_wrap::spawner(m, opts());
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
    let spawner = teardown::process_wrap::spawner_with_grace(Method::Auto, opts(), Duration::ZERO);
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
