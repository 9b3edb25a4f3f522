//! `teardown matrix` and `teardown check` as a user runs them.

use serde_json::Value;

use crate::support::{
    BROKEN_SUPERVISOR, installed, method_available, scenarios_only, scenarios_only_json, teardown,
};

#[test]
fn matrix_json_has_the_documented_schema_and_exits_0_when_all_is_as_expected() {
    let (code, doc) = scenarios_only_json(
        "matrix",
        &[
            "--methods",
            "leader,pidns",
            "--scenarios",
            "setsid-escape,double-fork",
        ],
    );
    assert_eq!(code, Some(0), "{doc:#}");
    for key in ["host", "supervisors", "trials", "summary"] {
        assert!(doc.get(key).is_some(), "no {key}");
    }
    assert!(doc["host"]["kernel"].is_string());
    assert!(doc["host"]["methods"]["pidns"]["status"].is_string());
    let trials = doc["trials"].as_array().unwrap();
    let pairs: Vec<(String, String)> = trials
        .iter()
        .map(|t| {
            (
                t["supervisor"].as_str().unwrap().to_owned(),
                t["scenario"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("method:leader".into(), "setsid-escape".into()),
            ("method:leader".into(), "double-fork".into()),
            ("method:pidns".into(), "setsid-escape".into()),
            ("method:pidns".into(), "double-fork".into()),
        ]
    );
    for t in trials {
        for key in [
            "spec",
            "verdict",
            "survivors",
            "stragglers",
            "zombies",
            "bystanders_killed",
            "elapsed_us",
            "replay",
        ] {
            assert!(!t[key].is_null(), "{key} is null in {t}");
        }
        for key in ["expected", "as_expected", "drain_us", "detail"] {
            assert!(t.get(key).is_some(), "{key} missing in {t}");
        }
    }
    let leader_escape = &trials[0];
    assert_eq!(leader_escape["spec"], "pause [fork: setsid pause]");
    if method_available(teardown::Method::Leader).is_ok() {
        assert_eq!(leader_escape["verdict"], "leak");
        assert_eq!(leader_escape["expected"], serde_json::json!(["leak"]));
        assert_eq!(leader_escape["as_expected"], true);
        assert!(leader_escape["survivors"].as_u64().unwrap() >= 1);
    }
    assert_eq!(doc["summary"]["trials"], 4);
    assert_eq!(doc["summary"]["unexpected"], 0);
}

#[test]
fn matrix_exits_1_when_a_verdict_is_not_the_expected_one() {
    // With a straggler grace shorter than the late exit, the late exit is a leak,
    // not the straggler the catalog expects: the matrix must say so and exit 1.
    let (code, doc) = scenarios_only_json(
        "matrix",
        &[
            "--methods",
            "leader",
            "--scenarios",
            "escape-exits-late",
            "--straggler-grace",
            "100ms",
        ],
    );
    assert_eq!(code, Some(1), "{doc:#}");
    let t = &doc["trials"][0];
    assert_eq!(t["verdict"], "leak");
    assert_eq!(t["as_expected"], false);
    assert!(
        t["replay"]
            .as_str()
            .unwrap()
            .contains("--method leader --grace 250ms --straggler-grace 100ms"),
        "{t}"
    );
}

#[test]
fn matrix_table_has_exactly_the_rows_and_columns_asked_for() {
    let out = scenarios_only(
        "matrix",
        &[
            "--methods",
            "killpg,proc-walk",
            "--scenarios",
            "setpgid-escape",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["scenario", "killpg", "proc-walk"],
        "{text}"
    );
    assert!(
        lines.next().unwrap().starts_with("setpgid-escape "),
        "{text}"
    );
    assert_eq!(lines.next(), Some(""), "{text}");
    assert!(text.contains("2 trials in "), "{text}");
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn matrix_refuses_bad_names_with_exit_2_and_lists_the_valid_ones() {
    for (flag, value, listed) in [
        ("--methods", "killpgg", "killpg-waitpgid"),
        ("--scenarios", "setsid-escap", "setsid-escape"),
        ("--peers", "runit", "dumb-init-single-child"),
    ] {
        let out = scenarios_only("matrix", &[flag, value]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(&format!("\"{value}\"")) && err.contains(listed),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn an_external_supervisor_row_is_shown_but_not_judged() {
    let line = crate::support::BROKEN_SUPERVISOR
        .iter()
        .map(|w| teardown_harness::matrix::shell::quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let (code, doc) = scenarios_only_json(
        "matrix",
        &[
            "--methods",
            "none",
            "--supervisor",
            &line,
            "--scenarios",
            "double-fork",
        ],
    );
    assert_eq!(code, Some(0), "{doc:#}");
    let t = &doc["trials"][0];
    assert_eq!(
        t["supervisor"],
        format!("external:{}", BROKEN_SUPERVISOR.join(" "))
    );
    assert_eq!(t["verdict"], "leak");
    assert_eq!(t["expected"], Value::Null);
    assert_eq!(t["as_expected"], Value::Null);
}

#[test]
fn check_catches_a_supervisor_that_exits_without_killing_anything() {
    let scenarios = ["--scenarios", "aurae-534-sh-wrapper,setsid-escape", "--"];
    let (code, doc) = scenarios_only_json("check", &[&scenarios[..], BROKEN_SUPERVISOR].concat());
    assert_eq!(code, Some(1), "{doc:#}");
    for t in doc["trials"].as_array().unwrap() {
        assert_eq!(t["verdict"], "leak", "{t}");
        assert_eq!(t["expected"], serde_json::json!(["clean"]));
        assert!(
            t["replay"]
                .as_str()
                .unwrap()
                .starts_with("teardown replay --grace 250ms --deadline 3s --bystanders 1 'pause ")
                && t["replay"].as_str().unwrap().contains("' -- sh -c "),
            "{t}"
        );
    }
}

#[test]
fn check_catches_tini_leaving_the_wrappers_children_behind() {
    if !installed("tini") {
        return;
    }
    let out = scenarios_only(
        "check",
        &["--scenarios", "aurae-534-sh-wrapper", "--", "tini", "--"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.lines().nth(1).unwrap().contains("leak"), "{text}");
}

#[test]
fn check_passes_this_projects_own_supervisor() {
    let out = scenarios_only(
        "check",
        &[
            "--scenarios",
            "aurae-534-sh-wrapper,daemonize,stopped",
            "--",
            "teardown",
            "run",
            "--method",
            "auto",
            "--",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_without_a_supervisor_is_a_usage_error() {
    let out = teardown()
        .args(["check", "--random", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
