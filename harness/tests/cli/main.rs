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
