//! `teardown replay`: one trial, verbose; exit 0 iff the verdict is the expected one.

use super::{teardown, texts};

/// `teardown replay ARGS...`: its exit status, stdout and stderr.
fn replay(args: &[&str]) -> (Option<i32>, String, String) {
    let out = teardown().arg("replay").args(args).output().unwrap();
    let (text, err) = texts(&out);
    (out.status.code(), text, err)
}

/// `teardown replay ARGS... -- sh -c 'exec "$@"' sh`: a supervisor that becomes
/// the leader.
fn replay_under_exec_sh(args: &[&str]) -> (Option<i32>, String, String) {
    replay(&[args, &["--", "sh", "-c", "exec \"$@\"", "sh"]].concat())
}

#[test]
fn replay_shows_the_tree_the_findings_the_verdict_and_the_replay_line() {
    let (code, text, err) = replay(&["--method", "leader", "pause [fork: pause]"]);
    assert_eq!(
        code,
        Some(1),
        "a leak is not the expected clean: {text}{err}"
    );
    assert!(text.contains("tree as spawned (2 node(s) ready)"), "{text}");
    assert!(text.contains("supervisor report: method leader"), "{text}");
    assert!(text.contains("survivor"), "{text}");
    assert!(text.contains("verdict: leak"), "{text}");
    assert!(
        text.contains("replay: teardown replay --method leader 'pause [fork: pause]'"),
        "{text}"
    );
}

#[test]
fn replay_exits_0_when_the_verdict_is_the_expected_one() {
    let (code, text, err) = replay(&[
        "--method",
        "leader",
        "--expect",
        "leak",
        "pause [fork: pause]",
    ]);
    assert_eq!(code, Some(0), "{text}{err}");
}

#[test]
fn replay_of_killpg_on_a_setsid_escape_is_a_leak() {
    let (_, text, _) = replay(&[
        "--method",
        "killpg",
        "pause [fork: pause, fork: setsid pause]",
    ]);
    assert!(text.contains("verdict: leak"), "{text}");
}

#[test]
fn replay_of_the_auto_method_on_an_escaping_tree_is_clean() {
    let (code, text, err) = replay(&[
        "--method",
        "auto",
        "pause [dfork: setsid ignore-term pause, exec: setpgid pause [fork: pause]]",
    ]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(text.contains("verdict: clean"), "{text}");
    assert!(text.contains("oracle: nothing left"), "{text}");
}

#[test]
fn replay_runs_an_external_supervisor_given_after_the_double_dash() {
    let (code, text, err) = replay_under_exec_sh(&["--expect", "leak", "pause [fork: pause]"]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(text.contains("external:sh -c"), "{text}");
    assert!(
        text.contains("replay: teardown replay 'pause [fork: pause]' -- sh -c 'exec \"$@\"' sh"),
        "{text}"
    );
}

/// An external supervisor still busy with its own start-up when the tree is
/// ready (state `R`: here a counting loop, ~8 ms, before its SIGTERM trap) is
/// triggered once it sleeps in `wait`: it forwards the signal and the tree is
/// gone. Triggered at once, it died of the SIGTERM before its trap was set and
/// left the tree (GNU `timeout` 9.1's start-up race, seen under load).
#[test]
fn an_external_supervisor_is_triggered_once_its_start_up_is_over() {
    let script = r#""$@" & i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done; trap 'kill -TERM $! 2>/dev/null' TERM; wait $!; wait $!"#;
    let (code, text, err) = replay(&["pause", "--", "sh", "-c", script, "sh"]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(text.contains("verdict: clean"), "{text}");
}

#[test]
fn replay_json_is_the_trial_outcome() {
    let (code, text, err) = replay_under_exec_sh(&[
        "--format",
        "json",
        "--expect",
        "leak",
        "pause [fork: pause]",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let o: teardown_harness::trial::TrialOutcome = serde_json::from_str(&text).expect("an outcome");
    assert_eq!(o.verdict, teardown::Verdict::Leak);
    assert_eq!(o.nodes.len(), 2);
}

#[test]
fn replay_as_an_unprivileged_user_says_a_method_it_cannot_use_is_unsupported() {
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    if !nix::unistd::geteuid().is_root() || !setpriv.exists() {
        eprintln!("skipped: needs root and setpriv to drop to an unprivileged user");
        return;
    }
    // A copy of the binary that user 65534 can run.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("teardown");
    // Copied by a child process, not `fs::copy`: a write descriptor open in this
    // multithreaded test process leaks into whatever another test thread forks at
    // that moment, and exec'ing the copy then fails with ETXTBSY.
    let st = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(assert_cmd::cargo::cargo_bin("teardown"))
        .arg(&bin)
        .status()
        .unwrap();
    assert!(st.success(), "install the teardown binary: {st}");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["replay", "--format", "json", "--expect", "unsupported"])
        .args(["--method", "cgroup", "pause"])
        .env("TEARDOWN_BIN", &bin)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let (text, err) = texts(&out);
    let o: teardown_harness::trial::TrialOutcome =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{err}"));
    assert_eq!(o.verdict, teardown::Verdict::Unsupported, "{o:#?}");
    assert!(o.detail.unwrap_or_default().contains("cgroup"));
    assert_eq!(out.status.code(), Some(0));
}

/// Started with SIGCHLD ignored (inherited across exec), the harness's commands
/// used to fail at their first wait ("No child processes"): the kernel reaped
/// their wardens. They take SIGCHLD back and judge as usual.
#[test]
fn replay_and_probe_started_with_sigchld_ignored_work_as_usual() {
    let ignoring = |args: &[&str]| {
        let mut c = assert_cmd::Command::new("perl");
        c.args(["-e", r#"$SIG{CHLD} = "IGNORE"; exec @ARGV or die"#])
            .arg(assert_cmd::cargo::cargo_bin("teardown"))
            .args(args)
            .timeout(std::time::Duration::from_secs(60));
        c.output().unwrap()
    };
    let out = ignoring(&["probe"]);
    let (text, err) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{err}");
    let out = ignoring(&["replay", "--method", "killpg", "pause [fork: setsid pause]"]);
    let (text, err) = texts(&out);
    assert!(
        out.status.code() == Some(1) && text.contains("verdict: leak"),
        "{text}{err}"
    );
    let out = ignoring(&["replay", "--method", "auto", "pause [fork: setsid pause]"]);
    let (text, err) = texts(&out);
    assert!(
        out.status.code() == Some(0) && text.contains("verdict: clean"),
        "{text}{err}"
    );
}

#[test]
fn replay_runs_a_tree_that_signals_up_under_its_warden() {
    // The warden gives the tree its PID; under pidns the leader's parent is the
    // namespace's init, which the climb never signals.
    let (code, text, err) = replay(&[
        "--method",
        "pidns",
        "kill-parent=usr1 pause [fork: kill-ancestors=stop pause]",
    ]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(text.contains("verdict: clean"), "{text}");
}
