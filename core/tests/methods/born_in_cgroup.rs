//! `cgroup` and `cgroup-kill` spawn the leader born in its leaf
//! (`clone3(CLONE_INTO_CGROUP)` from std's child), keeping what the caller set on
//! the `Command`; when the kernel refuses the clone, the leader moves itself in and
//! the tree says so.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use teardown::{CgroupEntry, Method, ProcessIdentity, SpawnError};

use crate::support::{Cleanup, cgroup_dir_of, for_each_method, opts};

const LEAF_METHODS: [Method; 2] = [Method::Cgroup, Method::CgroupKill];

/// Fields 4 and 5 of `/proc/<pid>/stat`: parent PID and process group.
fn ppid_and_pgid(pid: u32) -> (u32, u32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    (f[1].parse().unwrap(), f[2].parse().unwrap())
}

#[test]
fn the_leader_is_born_in_its_leaf_with_the_commands_stdio_cwd_env_and_group() {
    for_each_method(LEAF_METHODS, |method| {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        // Reads a line from stdin, prints it, where it runs and what its
        // environment holds, then waits for its stdin to close.
        cmd.args([
            "-c",
            r#"read -r line; printf '%s|%s|%s|%s\n' "$line" "$PWD" "$FOO" "${HOME-unset}"; cat >/dev/null"#,
        ])
        .env_clear()
        .env("FOO", "bar")
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
        let mut tree = method.spawn_with(&mut cmd, &opts()).unwrap();
        let leader = tree.leader_pid();
        let _guard = Cleanup(vec![ProcessIdentity::of(leader).unwrap()]);
        assert_eq!(tree.cgroup_entry(), Some(CgroupEntry::Born), "{method}");

        // A child of this process, the leader of its own group, in a fresh leaf.
        assert_eq!(
            ppid_and_pgid(leader),
            (std::process::id(), leader),
            "{method}"
        );
        let leaf = cgroup_dir_of(leader).unwrap();
        let name = leaf.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("teardown-"), "{method}: in {leaf:?}");
        assert_ne!(Some(leaf.clone()), cgroup_dir_of(std::process::id()));

        let mut stdin = tree.take_stdin().expect("stdin is piped");
        stdin.write_all(b"hello\n").unwrap();
        drop(stdin);
        let mut out = String::new();
        tree.take_stdout()
            .expect("stdout is piped")
            .read_to_string(&mut out)
            .unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(
            out,
            format!("hello|{}|bar|unset\n", cwd.display()),
            "{method}"
        );
        assert_eq!(tree.wait_leader().unwrap().code(), Some(0));
        let report = tree.teardown(Duration::ZERO).unwrap();
        assert_eq!(report.leader_status, Some(0), "{method}");
        assert!(!leaf.exists(), "{method}: the leaf is removed");
    });
}

#[test]
fn a_uid_that_cannot_write_the_leaf_moves_the_leader_in_and_says_so() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("skipped: needs root to set the command's uid");
        return;
    }
    for_each_method(LEAF_METHODS, |method| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exec sleep 60"]).uid(65534).gid(65534);
        let mut tree = method.spawn_with(&mut cmd, &opts()).unwrap();
        let leader = tree.leader_pid();
        let _guard = Cleanup(vec![ProcessIdentity::of(leader).unwrap()]);
        // clone3 checks the leaf's cgroup.procs with the new uid's rights;
        // the descriptor the host opened writes with the host's.
        assert_eq!(
            tree.cgroup_entry(),
            Some(CgroupEntry::Moved {
                clone3_errno: libc::EACCES
            }),
            "{method}"
        );
        let status = std::fs::read_to_string(format!("/proc/{leader}/status")).unwrap();
        assert!(status.contains("\nUid:\t65534\t"), "{method}: {status}");
        let leaf = cgroup_dir_of(leader).unwrap();
        assert!(
            leaf.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("teardown-"),
            "{method}: in {leaf:?}"
        );
        assert_eq!(ppid_and_pgid(leader), (std::process::id(), leader));
        let report = tree.teardown(Duration::ZERO).unwrap();
        assert_eq!(report.leader_status, Some(128 + 9), "{method}");
        assert!(!leaf.exists(), "{method}: the leaf is removed");
    });
}

#[test]
fn a_program_that_cannot_be_executed_fails_the_spawn_with_its_errno() {
    for_each_method(LEAF_METHODS, |method| {
        let mut cmd = Command::new("/nonexistent/teardown-no-such-program");
        match method.spawn_with(&mut cmd, &opts()) {
            Err(SpawnError::Spawn { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{method}")
            }
            other => panic!("{method}: {other:?}"),
        }
        // The leader born for it was reaped, and std reaped the intermediate:
        // no child of this process is left a zombie. Both are copies of this
        // test's thread, so they bear its name (at most 15 bytes).
        let name = std::thread::current().name().unwrap_or("main").to_owned();
        let comm = &name[..name.len().min(15)];
        let me = std::process::id();
        for t in std::fs::read_dir(format!("/proc/{me}/task")).unwrap() {
            let t = t.unwrap().file_name();
            let kids = std::fs::read_to_string(format!(
                "/proc/{me}/task/{}/children",
                t.to_string_lossy()
            ))
            .unwrap_or_default();
            for pid in kids.split_whitespace() {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                assert!(
                    !stat.contains(&format!("({comm}) Z ")),
                    "{method}: a zombie is left: {stat}"
                );
            }
        }
    });
}
