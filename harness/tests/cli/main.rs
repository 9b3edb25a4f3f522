//! The `teardown` command line, end to end (assert_cmd).

mod bad_input;
mod forward;
mod init_death;
mod layout;
mod names;
mod probe;
mod replay;
mod run;
mod terminal;

use assert_cmd::Command;

/// The `teardown` binary under test.
pub fn teardown() -> Command {
    Command::cargo_bin("teardown").expect("the teardown binary is built for integration tests")
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The children of `pid`'s main thread, from `/proc` (none if it is gone).
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
