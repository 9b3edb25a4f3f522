//! What the tests run besides trees: the test host (`teardown-test-host`, see
//! `tests/host/test_host.rs`), and binaries staged where another user can run
//! them.

use std::process::{Command, Output};

use crate::support::shim;

/// Run before the test host, a wrapper that ignores SIGCHLD (inherited across
/// exec) and execs the rest of its arguments.
pub const IGNORING_SIGCHLD: [&str; 3] =
    ["perl", "-e", r#"$SIG{CHLD} = "IGNORE"; exec @ARGV or die"#];

/// `teardown-test-host ROLE ARG`, run through `wrapper` (a program and its
/// arguments, which exec the host) if not empty.
pub fn test_host(wrapper: &[&str], role: &str, arg: &str) -> Command {
    let host = env!("CARGO_BIN_EXE_teardown-test-host");
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(host);
            c
        }
        None => Command::new(host),
    };
    cmd.args([role, arg]).env("TEARDOWN_SHIM", shim());
    cmd
}

/// Runs a test host role that checks something: it must exit 0 having said
/// `helper-passed`. Returns its output.
pub fn expect_passed(what: &str, mut host: Command) -> Output {
    let out = host.output().expect("run teardown-test-host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("helper-passed"),
        "{what}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A copy of `binary` in a fresh world-readable directory, for a child that runs
/// as another uid: the checkout (and so `target/`) may sit in a private directory
/// (a `mktemp -d` clone is mode 0700). Keep the `TempDir` alive while it runs.
pub fn stage_for_any_user(binary: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("teardown-stage-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir
        .path()
        .join(std::path::Path::new(binary).file_name().unwrap());
    // Copied by a child process, not `fs::copy`: a write descriptor open in this
    // multithreaded process leaks into whatever another test thread forks at that
    // moment, and exec'ing the copy then fails with ETXTBSY until that child execs.
    let st = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(binary)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success(), "install {binary}: {st}");
    (dir, copy)
}
