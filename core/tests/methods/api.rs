//! The `Tree` API: waits, idempotence, teardown after the leader's exit, stdio and
//! environment through the shim, parse errors, the probe.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use rstest::rstest;
use teardown::{Availability, Method, SpawnError, SpawnOptions};

use crate::support::{Cleanup, alive, all_but_auto, for_each_method, opts, spawn_sh};

#[test]
fn teardown_twice_returns_the_same_report() {
    for_each_method(Method::ALL, |method| {
        let s = spawn_sh(method, r#"(eval "$R"; exec sleep 60) & wait"#, 1);
        let _guard = Cleanup(s.all());
        let mut tree = s.tree;
        let first = tree.teardown(Duration::ZERO).unwrap();
        let second = tree.teardown(Duration::from_secs(1)).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            first.leader_status,
            Some(128 + 9),
            "{method}: the leader was SIGKILLed"
        );
        assert_eq!(
            tree.try_wait_leader().unwrap().and_then(|s| s.signal()),
            Some(9)
        );
    });
}

#[test]
fn teardown_after_the_leader_exited_reports_its_status() {
    for_each_method(Method::ALL, |method| {
        // The leader leaves a background child behind and exits 3.
        let s = spawn_sh(method, r#"(eval "$R"; exec sleep 60) & exit 3"#, 1);
        let _guard = Cleanup(s.all());
        let mut tree = s.tree;
        let status = tree.wait_leader().unwrap();
        assert_eq!(status.code(), Some(3), "{method}");
        // Observing the exit does not reap the leader: its PID stays reserved.
        assert!(
            std::path::Path::new(&format!("/proc/{}", s.leader.pid)).exists()
                || method == Method::Pidns
        );
        let report = tree.teardown(Duration::ZERO).unwrap();
        assert_eq!(report.leader_status, Some(3), "{method}");
        if method.is_escape_proof() {
            assert_eq!(alive(&s.reported), vec![], "{method}: the orphan is gone");
        }
        assert_eq!(tree.wait_leader().unwrap().code(), Some(3));
    });
}

#[rstest]
fn waits_time_out_while_the_leader_runs(
    #[values(
        Method::Killpg,
        Method::Subreaper,
        Method::CgroupKill,
        Method::ProcWalk,
        Method::Cgroup,
        Method::Pidns
    )]
    method: Method,
) {
    let s = spawn_sh(method, r#"eval "$R"; exec sleep 60"#, 1);
    let _guard = Cleanup(s.all());
    let mut tree = s.tree;
    assert!(tree.try_wait_leader().unwrap().is_none());
    assert!(
        tree.wait_leader_timeout(Duration::from_millis(50))
            .unwrap()
            .is_none()
    );
    let report = tree.teardown(Duration::from_secs(5)).unwrap();
    assert!(!report.escalated, "{method}: sleep dies of SIGTERM");
    assert_eq!(report.leader_status, Some(128 + 15));
}

#[rstest]
fn dropping_a_tree_kills_it(
    #[values(Method::Killpg, Method::ProcWalk, Method::Cgroup, Method::Pidns)] method: Method,
) {
    let s = spawn_sh(method, r#"(eval "$R"; exec sleep 60) & wait"#, 1);
    let _guard = Cleanup(s.all());
    let all = s.all();
    drop(s.tree);
    assert_eq!(crate::support::settle_dead(&all), vec![], "{method}");
}

#[rstest]
fn the_shim_passes_stdio_env_and_cwd_through(
    #[values(Method::Subreaper, Method::ProcWalk, Method::Pidns)] method: Method,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "echo \"$FOO-${GONE:-unset}-$(pwd)\"; read line; echo \"got $line\" >&2",
    ])
    .env("FOO", "bar")
    .env_remove("GONE")
    .current_dir(dir.path())
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // SAFETY-free way to have GONE in our own environment is not needed: env_remove
    // of an absent variable must simply leave it absent.
    let mut tree = method.spawn_with(&mut cmd, &opts()).unwrap();
    use std::io::Write;
    tree.take_stdin().unwrap().write_all(b"hello\n").unwrap();
    let mut out = String::new();
    tree.take_stdout()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    tree.take_stderr()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    assert_eq!(out.trim(), format!("bar-unset-{}", cwd.display()));
    assert_eq!(err.trim(), "got hello");
    assert_eq!(tree.wait_leader().unwrap().code(), Some(0));
    tree.teardown(Duration::ZERO).unwrap();
}

#[test]
fn clear_env_starts_the_command_with_only_what_it_set() {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "echo \"${HOME:-none} $ONLY\""])
        .env("ONLY", "this")
        .stdout(Stdio::piped());
    let mut tree = Method::ProcWalk
        .spawn_with(&mut cmd, &opts().with_clear_env(true))
        .unwrap();
    let mut out = String::new();
    tree.take_stdout()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out.trim(), "none this");
    tree.teardown(Duration::ZERO).unwrap();
}

#[test]
fn a_missing_program_fails_to_spawn() {
    for_each_method(all_but_auto(), |method| {
        let err = method
            .spawn_with(&mut Command::new("/nonexistent/program"), &opts())
            .unwrap_err();
        match err {
            SpawnError::Spawn { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{method}")
            }
            other => panic!("{method}: expected a spawn error, got {other:?}"),
        }
    });
}

#[test]
fn an_unknown_method_name_lists_the_valid_ones() {
    let err = "nope".parse::<Method>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown method \"nope\" (expected one of: leader, killpg, killpg-waitpgid, subreaper, cgroup-kill, proc-walk, cgroup, pidns, auto)"
    );
    for m in Method::ALL {
        assert_eq!(m.name().parse::<Method>(), Ok(m));
    }
}

#[test]
fn probe_reports_every_method_and_what_auto_picks() {
    let p = teardown::probe();
    let names: Vec<Method> = p.methods.iter().map(|(m, _)| *m).collect();
    assert_eq!(names, Method::ALL.to_vec());
    for m in [Method::Leader, Method::Killpg, Method::KillpgWaitpgid] {
        assert_eq!(p.availability(m), &Availability::Available);
    }
    assert!(!p.host.kernel.is_empty());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    match &p.host.cgroup2_mount {
        Some(mount) => assert!(
            mountinfo
                .lines()
                .any(|l| l.contains(&format!(" {mount} ")) && l.contains(" - cgroup2 "))
        ),
        None => assert!(!mountinfo.contains(" - cgroup2 ")),
    }
    // auto picks the first available of pidns, cgroup, proc-walk.
    let first = [Method::Pidns, Method::Cgroup, Method::ProcWalk]
        .into_iter()
        .find(|m| p.availability(*m).is_available());
    assert_eq!(p.auto, first);
    for (m, a) in &p.methods {
        if let Availability::Unsupported { reason } = a {
            assert!(!reason.is_empty(), "{m}: a reason");
        }
    }
    // The probe is cached.
    assert_eq!(teardown::probe(), p);
}

#[test]
fn the_probe_finds_the_shim_beside_the_test_binary() {
    // target/debug/deps/methods-* → target/debug/teardown-shim
    assert!(
        teardown::shim::locate(None).is_ok(),
        "{:?}",
        teardown::shim::locate(None)
    );
    let _ = SpawnOptions::default();
}

#[test]
fn pidns_runs_without_root_through_a_user_namespace() {
    use std::os::unix::process::CommandExt;
    // std applies uid/gid before our pre_exec hook, so the shim itself runs as
    // nobody: the user-namespace path of `pidns`.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"(eval "$R"; exec sleep 60) & id -u; wait"#])
        .env("R", crate::support::REPORT)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped());
    let (_stage, shim) = crate::helpers::stage_for_any_user(env!("CARGO_BIN_EXE_teardown-shim"));
    let mut tree = match Method::Pidns.spawn_with(&mut cmd, &opts().with_shim(shim, Vec::new())) {
        Ok(t) => t,
        Err(SpawnError::Unsupported { reason, .. }) => {
            // A host without unprivileged user namespaces: the reason must say so.
            eprintln!("pidns unsupported for nobody here: {reason}");
            assert!(reason.contains("user"), "{reason}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut out = std::io::BufReader::new(tree.take_stdout().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut l = String::new();
        std::io::BufRead::read_line(&mut out, &mut l).unwrap();
        lines.push(l.trim().to_owned());
    }
    lines.sort();
    let child: u32 = lines
        .iter()
        .find(|l| *l != "65534")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        lines.contains(&"65534".to_owned()),
        "the tree runs as the mapped uid: {lines:?}"
    );
    let id = teardown::ProcessIdentity::of(child).unwrap();
    let _guard = Cleanup(vec![id]);
    tree.teardown(Duration::ZERO).unwrap();
    assert!(!id.is_alive());
}

#[rstest]
fn the_shim_leaves_the_callers_process_group(
    #[values(Method::Subreaper, Method::ProcWalk)] method: Method,
) {
    let s = spawn_sh(method, r#"eval "$R"; exec sleep 60"#, 1);
    let _guard = Cleanup(s.all());
    let field = |pid: u32, n: usize| -> i64 {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        text[text.rfind(')').unwrap() + 2..]
            .split(' ')
            .nth(n)
            .unwrap()
            .parse()
            .unwrap()
    };
    let shim = field(s.leader.pid, 1) as u32;
    assert_eq!(
        field(shim, 2),
        i64::from(shim),
        "{method}: the shim leads its own group"
    );
    assert_eq!(
        field(s.leader.pid, 2),
        i64::from(s.leader.pid),
        "{method}: so does the leader"
    );
    let mut tree = s.tree;
    tree.teardown(Duration::ZERO).unwrap();
}

#[test]
fn probe_with_a_bogus_shim_says_the_shim_methods_cannot_run() {
    let p = teardown::probe_with(
        &SpawnOptions::default().with_shim("/nonexistent/shim", vec!["__shim".into()]),
    );
    for m in [Method::Subreaper, Method::ProcWalk, Method::Pidns] {
        match p.availability(m) {
            Availability::Unsupported { reason } => {
                assert!(reason.contains("/nonexistent/shim"), "{m}: {reason}")
            }
            Availability::Available => panic!("{m}: available without a shim"),
        }
    }
    assert_eq!(p.host.shim, None);
    let good = teardown::probe_with(&opts());
    assert!(
        good.availability(Method::ProcWalk).is_available(),
        "{good:?}"
    );
    assert_eq!(
        good.host.shim.as_deref(),
        Some(env!("CARGO_BIN_EXE_teardown-shim"))
    );
}

#[test]
fn the_leader_starts_with_no_signal_blocked() {
    for_each_method(Method::ALL, |method| {
        // The shim blocks SIGCHLD for its own signalfd; a leader that inherited that
        // mask would never see its children exit through a handler.
        let mut cmd = Command::new("grep");
        cmd.args(["^SigBlk:", "/proc/self/status"])
            .stdout(Stdio::piped());
        let mut tree = method.spawn_with(&mut cmd, &opts()).unwrap();
        let mut out = String::new();
        tree.take_stdout()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        tree.teardown(Duration::ZERO).unwrap();
        assert_eq!(out.trim(), "SigBlk:\t0000000000000000", "{method}");
    });
}

/// The `SigBlk` line of a leader spawned by the calling thread while it blocks
/// SIGUSR1 and SIGTERM (a supervisor that reads them from a signalfd).
fn leader_mask_while_blocking(method: Method, opts: &SpawnOptions) -> String {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set.add(Signal::SIGTERM);
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).unwrap();
    let mut cmd = Command::new("grep");
    cmd.args(["^SigBlk:", "/proc/self/status"])
        .stdout(Stdio::piped());
    let spawned = method.spawn_with(&mut cmd, opts);
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None).unwrap();
    let mut tree = spawned.unwrap();
    let mut out = String::new();
    tree.take_stdout()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    tree.teardown(Duration::ZERO).unwrap();
    out.trim().to_owned()
}

#[test]
fn unblocked_signals_gives_every_method_s_leader_an_empty_mask_whatever_the_host_blocks() {
    let unblocked = opts().with_unblocked_signals(true);
    for_each_method(Method::ALL, |method| {
        assert_eq!(
            leader_mask_while_blocking(method, &unblocked),
            "SigBlk:\t0000000000000000",
            "{method}"
        );
    });
    // Without it, an in-process method's leader inherits the mask, as with a
    // plain spawn: what the option is for (SIGUSR1 is bit 10, SIGTERM bit 15).
    for method in [Method::Leader, Method::Killpg, Method::Cgroup] {
        assert_eq!(
            leader_mask_while_blocking(method, &opts()),
            "SigBlk:\t0000000000004200",
            "{method}"
        );
    }
}
