//! Helpers shared by the matrix tests.

use std::process::Output;

use teardown::{Availability, Method};

/// `teardown` with a clean environment for colour and seeds.
pub fn teardown() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("teardown").expect("the teardown binary is built");
    cmd.env_remove("NO_COLOR")
        .env_remove("TEARDOWN_SEED")
        .env_remove("COLUMNS");
    cmd
}

/// `teardown COMMAND --random 0 ARGS...`: the named scenarios only, no random
/// tree.
pub fn scenarios_only(command: &str, args: &[&str]) -> Output {
    teardown()
        .args([command, "--random", "0"])
        .args(args)
        .output()
        .unwrap()
}

/// [`scenarios_only`] with `--format json`: the exit status and the document.
pub fn scenarios_only_json(command: &str, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = scenarios_only(command, &[&["--format", "json"], args].concat());
    (out.status.code(), json(&out))
}

/// `Err(reason)` if `method` cannot run on this host.
pub fn method_available(method: Method) -> Result<(), String> {
    let probe = teardown_harness::matrix::host_probe();
    match probe.methods.iter().find(|(m, _)| *m == method) {
        Some((_, Availability::Available)) => Ok(()),
        Some((_, Availability::Unsupported { reason })) => Err(reason.clone()),
        None => Err("not in the probe".into()),
    }
}

/// The programs `.ci/run` installs: under `CI=true` a missing one fails the test
/// instead of skipping it (a green run must not hide a missing install step).
pub const CI_INSTALLS: [&str; 5] = ["tini", "dumb-init", "bwrap", "catatonit", "supervisord"];

/// True if `program` is on PATH; prints a skip message if not (and panics under
/// `CI=true` if `.ci/run` installs it: see [`CI_INSTALLS`]).
pub fn installed(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            !(std::env::var("CI").is_ok_and(|v| v == "true") && CI_INSTALLS.contains(&program)),
            "CI=true: {program} is not installed, but .ci/run installs it"
        );
        eprintln!("skipped: {program} is not installed");
    }
    found
}

/// The JSON document a `--format json` run printed.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A supervisor that starts its command and, on SIGTERM, exits at once without
/// killing anything: the negative control every check must catch.
pub const BROKEN_SUPERVISOR: &[&str] = &["sh", "-c", "trap 'exit 0' TERM; \"$@\" & wait", "sh"];
