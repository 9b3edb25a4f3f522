//! `teardown run` at a real terminal: a tmux pane running an interactive shell,
//! on a private tmux server (its own socket, no config) that the test kills.
//!
//! The shell is dash: it leaves the terminal's mode alone, so the pane shows the
//! mode `run` left. (bash would hide a missing restore: it puts its own mode back
//! when a job stops, and after a job that was stopped once.)
//!
//! Every check polls `tmux capture-pane` (or `/proc`) until a deadline: the
//! deadline bounds a hung test, it is not a timing assertion.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long any one expected screen may take to appear.
const BOUND: Duration = Duration::from_secs(30);

/// The command under test: turns the terminal's echo off (a mode the terminal
/// must not keep after `run`), prints its PID as the host's `/proc` shows it
/// (under `pidns`, `$$` is a namespace PID), then reads two lines.
const SCRIPT: &str = "stty -echo\n\
    read pid _ < /proc/self/stat\n\
    echo \"pid:$pid\"\n\
    read a\n\
    echo \"got:$a\"\n\
    read b\n\
    echo \"got2:$b\"\n";

/// A tmux server of this test's own, with one pane running an interactive dash
/// (job control on). Dropping it kills that server, and only that one.
struct Tmux {
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Tmux {
    /// None (with a message) when tmux is missing; under CI=true that fails
    /// instead: `.ci/run` installs tmux, so a green CI run has run this test.
    fn start() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: tmux is not installed, but .ci/run installs it"
            );
            eprintln!("skipped: tmux is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock");
        let tmux = Tmux { dir, socket };
        let shell = "env PS1='$ ' HISTFILE=/dev/null dash -i";
        tmux.run(&["new-session", "-d", "-x", "200", "-y", "50", shell]);
        tmux.wait_for("the shell's prompt", |s| s.contains('$'));
        Some(tmux)
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        out
    }

    /// Types `text`, then Enter.
    fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-l", text]);
        self.run(&["send-keys", "Enter"]);
    }

    /// The pane's text, wrapped lines joined, with its scrollback.
    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-J", "-S", "-200"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the pane until `ok` holds; fails with the screen after [`BOUND`].
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + BOUND;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {BOUND:?}; the pane:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The terminal's mode as `stty -g` prints it in the pane's shell; `n` is the
    /// how-manieth such line.
    fn mode(&self, n: usize) -> String {
        self.type_line("echo mode:$(stty -g)");
        let screen = self.wait_for("mode line", |s| values(s, "mode:").len() > n);
        values(&screen, "mode:")[n].clone()
    }

    fn script(&self) -> PathBuf {
        let path = self.dir.path().join("read-two-lines.sh");
        std::fs::write(&path, SCRIPT).unwrap();
        path
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// Whether the shell waits at its prompt: the last line is a bare `$`. (Keys
/// typed right after Ctrl-C or Ctrl-Z can be lost: the terminal flushes its input
/// on those; so the test types only once the shell is back.)
fn at_prompt(screen: &str) -> bool {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::trim)
        == Some("$")
}

/// Whether the shell is back at its prompt after the last `marker`.
fn prompt_after(screen: &str, marker: &str) -> bool {
    screen
        .rsplit_once(marker)
        .is_some_and(|(_, after)| after.trim_end().ends_with('$') && at_prompt(after))
}

/// What follows `prefix` on each line of the screen that starts with it.
fn values(screen: &str, prefix: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix(prefix))
        .map(str::to_owned)
        .collect()
}

/// The fields of `/proc/PID/stat` after the command name: state, ppid, pgrp,
/// session, tty, tpgid, ...
fn stat(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

/// The process's state letter (`T` stopped), if it exists.
fn state(pid: i32) -> Option<char> {
    stat(pid)?.first()?.chars().next()
}

/// Waits until the process runs (not stopped) in the terminal's foreground group
/// (its group is its terminal's `tpgid`). Only then does the test type for it:
/// keys typed while the shell still reads would be the shell's (a shell may read ahead).
fn wait_foreground(pid: i32, tmux: &Tmux) {
    let deadline = Instant::now() + BOUND;
    loop {
        let f = stat(pid).unwrap_or_default();
        if f.len() > 5 && f[0] != "T" && f[2] == f[5] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} is not running in the foreground within {BOUND:?} (stat {f:?}); the pane:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_state(pid: i32, what: &str, ok: impl Fn(Option<char>) -> bool, tmux: &Tmux) {
    let deadline = Instant::now() + BOUND;
    while !ok(state(pid)) {
        assert!(
            Instant::now() < deadline,
            "{pid} is not {what} within {BOUND:?} (state {:?}); the pane:\n{}",
            state(pid),
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command's PID, from its `pid:` line.
fn command_pid(tmux: &Tmux) -> i32 {
    let screen = tmux.wait_for("pid line", |s| !values(s, "pid:").is_empty());
    values(&screen, "pid:")[0].parse().unwrap()
}

fn quoted(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// The shell line that runs `sh SCRIPT` under `teardown run --method METHOD`.
fn run_line(method: &str, script: &Path) -> String {
    let bin = assert_cmd::cargo::cargo_bin("teardown");
    format!(
        "{} run --method {method} -- sh {}",
        quoted(&bin),
        quoted(script)
    )
}

#[rstest::rstest]
fn an_interactive_command_reads_the_terminal_and_ctrl_z_and_fg_suspend_and_resume_it(
    #[values("killpg", "cgroup", "subreaper", "proc-walk", "pidns")] method: &str,
) {
    let Some(tmux) = Tmux::start() else { return };
    let before = tmux.mode(0);
    tmux.type_line(&run_line(method, &tmux.script()));
    let pid = command_pid(&tmux);

    // It reads the terminal: it has the foreground.
    wait_foreground(pid, &tmux);
    tmux.type_line("hello");
    tmux.wait_for("got:hello", |s| values(s, "got:") == ["hello"]);

    // Ctrl-Z: the shell shows the job stopped, the command is stopped, and the
    // terminal is back in the shell's mode (echo on).
    tmux.run(&["send-keys", "C-z"]);
    tmux.wait_for("the job stopped", |s| s.contains("Stopped") && at_prompt(s));
    wait_state(pid, "stopped", |s| s == Some('T'), &tmux);
    assert_eq!(tmux.mode(1), before, "{method}: the mode while stopped");

    // fg: it reads the terminal again, then exits, and the terminal is as before.
    tmux.type_line("fg");
    wait_foreground(pid, &tmux);
    tmux.type_line("again");
    let screen = tmux.wait_for("got2:again", |s| values(s, "got2:") == ["again"]);
    assert!(
        !screen.lines().any(|l| l.trim() == "again"),
        "{method}: after fg, the terminal echoed: the command's mode (-echo) was lost:\n{screen}"
    );
    wait_state(pid, "gone", |s| s.is_none(), &tmux);
    tmux.wait_for("the prompt", |s| prompt_after(s, "got2:again"));
    tmux.type_line("echo status:$?");
    tmux.wait_for("status:0", |s| values(s, "status:") == ["0"]);
    assert_eq!(tmux.mode(2), before, "{method}: the mode after run");
}

/// The negative control: a parent that puts its command in a group of its own,
/// as every method does, and waits, without handing it the terminal (what `run`
/// did before): the command's first read of the terminal stops it (SIGTTIN).
#[test]
fn a_command_in_its_own_group_without_the_terminal_is_stopped_by_sigttin() {
    let Some(tmux) = Tmux::start() else { return };
    // Not SCRIPT: its `stty -echo` would already be stopped (SIGTTOU).
    let script = tmux.dir.path().join("read-one-line.sh");
    let text = "read pid _ < /proc/self/stat\necho \"pid:$pid\"\nread a\necho \"got:$a\"\n";
    std::fs::write(&script, text).unwrap();
    let wrapper = "if (my $p = fork) { waitpid($p, 0); exit } setpgrp(0, 0); exec @ARGV";
    tmux.type_line(&format!("perl -e '{wrapper}' sh {}", quoted(&script)));
    let pid = command_pid(&tmux);
    tmux.type_line("hello");
    wait_state(pid, "stopped", |s| s == Some('T'), &tmux);
    assert!(values(&tmux.screen(), "got:").is_empty());
    // Our own command (its command line names our script): end it.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(String::from_utf8_lossy(&cmdline).contains(&*script.to_string_lossy()));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    wait_state(pid, "gone", |s| s.is_none(), &tmux);
}

/// The mode is restored when the command ends by itself or by Ctrl-C (SIGINT to
/// its group): its `stty -echo` does not stay.
#[rstest::rstest]
fn the_terminal_s_mode_is_restored_when_the_command_ends(
    #[values("exit", "ctrl-c")] end: &str,
    #[values("killpg", "pidns")] method: &str,
) {
    let Some(tmux) = Tmux::start() else { return };
    let before = tmux.mode(0);
    let script = tmux.dir.path().join("no-echo.sh");
    std::fs::write(&script, "stty -echo\necho ready:\nread x\n").unwrap();
    tmux.type_line(&run_line(method, &script));
    tmux.wait_for("ready", |s| !values(s, "ready:").is_empty());
    let status = match end {
        "exit" => {
            tmux.type_line("x");
            "0"
        }
        _ => {
            tmux.run(&["send-keys", "C-c"]);
            "130"
        }
    };
    tmux.wait_for("the prompt", |s| prompt_after(s, "ready:"));
    tmux.type_line("echo status:$?");
    tmux.wait_for("status", |s| !values(s, "status:").is_empty());
    assert_eq!(
        values(&tmux.screen(), "status:"),
        [status],
        "{method} {end}"
    );
    assert_eq!(tmux.mode(1), before, "{method} {end}: the mode after run");
}

/// A resize of the terminal reaches the command: the terminal sends SIGWINCH to
/// its foreground group, the command's.
#[rstest::rstest]
fn a_resize_of_the_terminal_reaches_the_command(#[values("killpg", "pidns")] method: &str) {
    let Some(tmux) = Tmux::start() else { return };
    let script = tmux.dir.path().join("winch.sh");
    let text = "trap 'echo \"winch:$(stty size)\"; exit 0' WINCH\necho ready:\n\
        while :; do sleep 0.02; done\n";
    std::fs::write(&script, text).unwrap();
    tmux.type_line(&run_line(method, &script));
    tmux.wait_for("ready", |s| !values(s, "ready:").is_empty());
    tmux.run(&["resize-window", "-x", "150", "-y", "40"]);
    tmux.wait_for("winch", |s| values(s, "winch:") == ["40 150"]);
}

/// `run ... &`, then `fg`: the command, stopped by SIGTTIN in the background,
/// gets the terminal with `fg` and reads. And `run` inside a script (not a job
/// of its own): Ctrl-Z stops the whole job, the script's shell too, so the pane's
/// shell sees it stopped, and `fg` resumes it.
#[rstest::rstest]
fn fg_after_starting_in_the_background_and_ctrl_z_inside_a_script(
    #[values("killpg", "pidns")] method: &str,
) {
    let Some(tmux) = Tmux::start() else { return };
    let dir = tmux.dir.path();
    let reader = dir.join("reader.sh");
    std::fs::write(
        &reader,
        "read a\necho \"got:$a\"\nread b\necho \"got2:$b\"\n",
    )
    .unwrap();
    let run = run_line(method, &reader);

    tmux.type_line(&format!("{run} &"));
    tmux.type_line("fg");
    // Typed only once it runs in the foreground: found by its script's name.
    let pid = wait_for_process(&reader, &tmux);
    wait_foreground(pid, &tmux);
    tmux.type_line("one");
    // One line at a time: a line typed ahead is echoed where the script's
    // answer to the one before lands ("twogot:one", seen in CI).
    tmux.wait_for("got:one", |s| values(s, "got:") == ["one"]);
    tmux.type_line("two");
    tmux.wait_for("got2:two", |s| values(s, "got2:") == ["two"]);
    wait_state(pid, "gone", |s| s.is_none(), &tmux);
    tmux.wait_for("the prompt", |s| prompt_after(s, "got2:two"));

    let wrapper = dir.join("wrapper.sh");
    std::fs::write(&wrapper, format!("{run}\necho script:done\n")).unwrap();
    tmux.type_line(&format!("sh {}", quoted(&wrapper)));
    let pid = wait_for_process(&reader, &tmux);
    wait_foreground(pid, &tmux);
    tmux.type_line("three");
    tmux.wait_for("got:three", |s| values(s, "got:").len() == 2);
    tmux.run(&["send-keys", "C-z"]);
    tmux.wait_for("the job stopped", |s| s.contains("Stopped") && at_prompt(s));
    tmux.type_line("fg");
    wait_foreground(pid, &tmux);
    tmux.type_line("four");
    tmux.wait_for("script:done", |s| {
        values(s, "got2:") == ["two", "four"] && values(s, "script:").len() == 1
    });
}

/// The PID of the one process running `script` (the test's own, in its temporary
/// directory), as soon as it exists.
fn wait_for_process(script: &Path, tmux: &Tmux) -> i32 {
    let deadline = Instant::now() + BOUND;
    let name = script.to_string_lossy().into_owned();
    loop {
        let found = std::fs::read_dir("/proc").unwrap().find_map(|e| {
            let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).into_owned();
            (cmdline.starts_with("sh\0") && cmdline.contains(&name) && state(pid) != Some('Z'))
                .then_some(pid)
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "no process runs {name} within {BOUND:?}; the pane:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The mode is restored when `run` ends while a job of the command's own held
/// the terminal (an interactive bash gives it to its `sleep`): that job's group
/// is gone with the tree, so the terminal is no one's and `run` takes it back.
#[rstest::rstest]
fn the_mode_is_restored_when_a_job_of_the_command_held_the_terminal(
    #[values("auto", "cgroup")] method: &str,
) {
    let Some(tmux) = Tmux::start() else { return };
    let before = tmux.mode(0);
    let bin = assert_cmd::cargo::cargo_bin("teardown");
    tmux.type_line(&format!(
        "{} run --method {method} --grace 0s --timeout 2s -- \
         bash --norc --noprofile -ic 'stty -echo; echo ready:; sleep 100; :'",
        quoted(&bin)
    ));
    tmux.wait_for("ready", |s| !values(s, "ready:").is_empty());
    tmux.wait_for("the prompt", |s| prompt_after(s, "ready:"));
    assert_eq!(tmux.mode(1), before, "{method}: the mode after run");
}

/// A `run` that a parent other than a job-control shell put in a group of its
/// own (a supervisor's process group) is not a job: when its command is stopped
/// reading the terminal, `run` does not stop itself (no shell would continue
/// it), and SIGTERM still tears the tree down.
#[test]
fn run_in_a_group_made_by_a_non_shell_parent_does_not_stop_itself() {
    let Some(tmux) = Tmux::start() else { return };
    let script = tmux.dir.path().join("read-one-line.sh");
    std::fs::write(&script, "read a\necho \"got:$a\"\n").unwrap();
    let bin = assert_cmd::cargo::cargo_bin("teardown");
    let wrapper = "if (my $p = fork) { waitpid($p, 0); print \"wrapper:done\\n\"; exit } \
                   setpgrp(0, 0); exec @ARGV";
    tmux.type_line(&format!(
        "perl -e '{wrapper}' {} run --method killpg --grace 100ms -- sh {}",
        quoted(&bin),
        quoted(&script)
    ));
    let command = wait_for_process(&script, &tmux);
    wait_state(command, "stopped by SIGTTIN", |s| s == Some('T'), &tmux);
    let run: i32 = stat(command).expect("the command's stat")[1]
        .parse()
        .unwrap();
    let cmdline = std::fs::read(format!("/proc/{run}/cmdline")).unwrap_or_default();
    let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    assert!(
        words.first() == Some(&bin.as_os_str().as_encoded_bytes())
            && words.get(1) == Some(&&b"run"[..]),
        "pid {run} is not our teardown run: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_state(run, "run gone after SIGTERM", |s| s.is_none(), &tmux);
    wait_state(command, "the command gone", |s| s.is_none(), &tmux);
    tmux.wait_for("wrapper:done", |s| !values(s, "wrapper:").is_empty());
}
