//! `SpawnOptions::forked_shim`: the shim methods fork their shim in a
//! single-threaded host (the test host), keeping everything the `Command` set;
//! a multithreaded host (this test binary) is refused.

use std::process::Command;

use teardown::{Method, SpawnError};

use crate::helpers::{expect_passed, test_host};
use crate::support::{for_each_method, opts};

const SHIM_METHODS: [Method; 3] = [Method::Subreaper, Method::ProcWalk, Method::Pidns];

#[test]
fn a_forked_shim_gives_the_leader_what_the_command_set() {
    for_each_method(SHIM_METHODS, |method| {
        expect_passed(
            &format!("forked shim, {method}"),
            test_host(&[], "forked-shim", method.name()),
        );
    });
}

#[test]
fn a_multithreaded_host_cannot_fork_its_shim() {
    // The test harness runs this on a thread of its own: this process has two.
    for_each_method(SHIM_METHODS, |method| {
        let mut cmd = Command::new("true");
        match method.spawn_with(&mut cmd, &opts().with_forked_shim(true)) {
            Err(SpawnError::Unsupported { reason, .. }) => {
                assert!(reason.contains("single-threaded"), "{method}: {reason}")
            }
            other => panic!("{method}: {other:?}"),
        }
    });
}
