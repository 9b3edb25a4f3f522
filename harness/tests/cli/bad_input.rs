//! Bad usage and bad input: exit 2 with a one-line reason, nothing started.

use super::{teardown, texts};

fn rejects(args: &[&str], reason_contains: &str) {
    let out = teardown().args(args).output().unwrap();
    let (_, err) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "teardown {args:?}: {err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains(reason_contains),
        "teardown {args:?}: first stderr line {first:?} lacks {reason_contains:?}"
    );
}

#[test]
fn an_unknown_method_is_rejected_with_the_list_of_valid_names() {
    for cmd in [
        &["run", "--method", "nope", "--", "true"][..],
        &["replay", "--method", "nope", "pause"],
    ] {
        let out = teardown().args(cmd).output().unwrap();
        let (_, err) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        for name in teardown::Method::ALL {
            assert!(
                err.contains(name.name()),
                "{cmd:?}: {name} missing from {err}"
            );
        }
    }
}

#[test]
fn a_malformed_spec_is_rejected_naming_the_byte_offset() {
    rejects(&["replay", "pause [fork: paus]"], "byte 13");
    rejects(&["node", "--standalone", "pause [fork"], "byte");
}

#[test]
fn run_without_a_command_is_rejected() {
    rejects(&["run"], "required");
    rejects(&["run", "--"], "required");
}

#[test]
fn negative_unitless_and_absurd_durations_are_rejected() {
    rejects(&["run", "--grace", "2h", "--", "true"], "1h limit");
    rejects(&["run", "--timeout", "5", "--", "true"], "no unit");
    rejects(&["run", "--grace=-1s", "--", "true"], "no sign");
    rejects(&["replay", "--deadline", "soon", "pause"], "no unit");
}

#[test]
fn an_unwritable_report_file_is_rejected_before_anything_runs() {
    rejects(
        &["run", "--report", "/nonexistent/dir/r.json", "--", "true"],
        "cannot write the report",
    );
}

#[test]
fn a_node_run_by_hand_outside_a_warden_refuses() {
    rejects(&["node", "pause"], "--standalone");
}

#[test]
fn a_node_that_signals_up_refuses_to_start_outside_a_warden_even_standalone() {
    for spec in [
        "kill-parent=term pause",
        "pause [fork: term-kill-ancestors=stop pause]",
    ] {
        rejects(
            &["node", "--standalone", spec],
            "refusing to signal up the ancestry without a warden: TEARDOWN_WARDEN_PID is not set",
        );
    }
}

#[test]
fn a_node_that_signals_up_refuses_a_warden_pid_that_is_not_its_ancestor() {
    // Nothing is signalled: the climb only reads /proc, and reaches PID 1.
    for (value, reason) in [
        ("999999999", "the warden (pid 999999999) is not an ancestor"),
        ("0", "TEARDOWN_WARDEN_PID=\"0\" is not a PID"),
        ("me", "TEARDOWN_WARDEN_PID=\"me\" is not a PID"),
    ] {
        let out = teardown()
            .args(["node", "--standalone", "kill-ancestors=stop pause"])
            .env("TEARDOWN_WARDEN_PID", value)
            .output()
            .unwrap();
        let (_, err) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(err.contains(reason), "{value}: {err}");
    }
}

#[test]
fn an_unknown_expected_verdict_is_rejected_with_the_list_of_verdicts() {
    let out = teardown()
        .args(["replay", "--expect", "fine", "pause"])
        .output()
        .unwrap();
    let (_, err) = texts(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("bystander-killed"), "{err}");
}

#[test]
fn internal_commands_are_hidden_from_help() {
    let out = teardown().arg("--help").output().unwrap();
    let (help, _) = texts(&out);
    assert!(out.status.success());
    for shown in ["run", "replay", "probe", "Examples"] {
        assert!(help.contains(shown), "{shown} missing from --help: {help}");
    }
    for hidden in ["node", "__warden", "__shim"] {
        assert!(
            !help.lines().any(|l| l.trim_start().starts_with(hidden)),
            "{hidden} shown in --help: {help}"
        );
    }
}

#[test]
fn every_command_help_teaches_with_an_example() {
    for cmd in ["run", "replay", "probe"] {
        let out = teardown().args([cmd, "--help"]).output().unwrap();
        let (help, _) = texts(&out);
        assert!(out.status.success());
        assert!(
            help.contains("Example"),
            "teardown {cmd} --help has no example: {help}"
        );
        assert!(
            help.contains(&format!("teardown {cmd}")),
            "teardown {cmd} --help: {help}"
        );
    }
}

#[test]
fn too_many_bystanders_are_rejected() {
    rejects(&["replay", "--bystanders", "65", "pause"], "65");
}

#[test]
fn a_warden_server_of_another_protocol_refuses_with_exit_2_and_says_why() {
    let out = teardown()
        .args(["__warden", "--serve", "--protocol", "999"])
        .output()
        .unwrap();
    let (_, err) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("warden protocol") && err.contains("TEARDOWN_BIN"),
        "{err}"
    );
}
