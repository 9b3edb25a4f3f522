//! `teardown run`'s arguments: its help, and its parser.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use teardown::Method;

use super::super::duration;

const HELP: &str = "\
Exit status:
  the leader's exit code, or 128+N if it was killed by signal N (after the whole tree
  is drained, whatever ended it: the leader's own exit, SIGTERM/SIGINT/SIGHUP, or
  --timeout);
  124  --timeout expired (as coreutils timeout);
  125  teardown run itself failed (teardown error; the reason is on stderr);
  126  CMD could not be executed;  127  CMD was not found;
  2    bad usage, or the method is unsupported on this host (the reason is on stderr,
       and --report gets {\"unsupported\": \"reason\"}).

Signals: SIGTERM, SIGINT and SIGHUP start the teardown; SIGUSR1, SIGUSR2,
SIGWINCH, SIGQUIT and SIGALRM sent to run are forwarded to the command's leader
alone (not its group, like tini without -g; unless the leader sent them);
every other catchable signal is ignored, so the tree cannot kill its supervisor
with one. SIGSTOP cannot be ignored: only --method pidns (what auto picks when it
can) hides the supervisor from the tree. The command starts with an empty signal
mask. Started with SIGCHLD ignored (SIG_IGN survives exec), run
takes SIGCHLD back for itself and gives the command the ignored SIGCHLD it would
have had.

At a terminal (stdin is the terminal and run is in its foreground group), the
command's process group gets the terminal's foreground (tcsetpgrp), as a shell
gives it to a job: the command can read it, and Ctrl-C, Ctrl-\\, Ctrl-Z and window
resizes (SIGINT, SIGQUIT, SIGTSTP, SIGWINCH) go from the terminal to the command's
group, not to run (run tears the tree down once the leader exits). Ctrl-Z stops
the command, then run takes the terminal back and stops its own job, so that the
shell shows it stopped; `fg` gives the terminal back to the command and continues
it, `bg` only continues it (`run ... &` then `fg` works too). When run ends, however it ends (but SIGKILL), the
terminal's foreground group and mode (termios) are as they were at the start.

Report (--report FILE): one JSON line, the drain report
  {\"method\":\"cgroup\",\"requested\":\"auto\",\"signalled\":3,\"reaped\":3,\"rounds\":1,
   \"escalated\":false,\"drain_us\":812,\"leader_status\":143}
or {\"unsupported\": \"...\"} or {\"error\": \"...\"}.

Examples:
  teardown run -- sh -c 'sleep 100 & sleep 100'       Ctrl-C (or SIGTERM) tears down both sleeps
  teardown run --timeout 5s --grace 1s -- make test   SIGTERM at 5 s, SIGKILL 1 s later, exit 124
  teardown run --method cgroup --report r.json -- ./server";

/// `teardown run` in `teardown --help`, and its own help's first line.
pub const ABOUT: &str = "Run a command as a contained tree; tear the whole tree down on SIGTERM/SIGINT/SIGHUP, timeout, or its exit";

/// Run CMD as a contained process tree; on SIGTERM/SIGINT/SIGHUP, on --timeout, or
/// when CMD exits, tear the whole tree down (SIGTERM, then SIGKILL after the grace),
/// and exit only when every process is gone and reaped.
#[derive(Debug, PartialEq, clap::Args)]
#[command(after_help = HELP)]
pub struct RunArgs {
    /// The teardown method (see `teardown probe`).
    #[arg(long, default_value = DEFAULT_METHOD)]
    pub(super) method: Method,
    /// Time between SIGTERM and SIGKILL (0s: SIGKILL at once).
    #[arg(long, value_parser = duration::parse, default_value = DEFAULT_GRACE)]
    pub(super) grace: Duration,
    /// Tear down after this long (e.g. 500ms, 30s, 5m).
    #[arg(long, value_parser = duration::parse)]
    pub(super) timeout: Option<Duration>,
    /// Write the drain report here as JSON.
    #[arg(long, value_name = "FILE")]
    pub(super) report: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub(super) command: Vec<String>,
}

/// `--method`'s default.
const DEFAULT_METHOD: &str = "auto";
/// `--grace`'s default.
const DEFAULT_GRACE: &str = "2s";

/// Parses `teardown run`'s arguments (`argv[1]` is `run`) with its own parser
/// alone: help, version and usage errors as `teardown run` shows them.
pub fn parse_args() -> RunArgs {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    plain(&args).unwrap_or_else(|| with_clap(args))
}

fn with_clap(args: Vec<OsString>) -> RunArgs {
    use clap::{Args, FromArgMatches};
    let cmd = RunArgs::augment_args(
        clap::Command::new("teardown-run")
            .bin_name("teardown run")
            .version(env!("CARGO_PKG_VERSION")),
    )
    .about(ABOUT)
    .long_about(None);
    let matches = cmd.get_matches_from(args);
    RunArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// `run [--method M] [--grace D] [--timeout D] [--report FILE] -- CMD [ARG]...`,
/// each option at most once and its value the next argument: the form a
/// supervisor (and the harness, for every trial) writes, parsed without
/// building clap's parser, which is ~90 µs of a `teardown run`'s ~2.5 ms here
/// (its code's first page faults, mostly). Anything else — `--opt=value`, a
/// value that is empty or starts with `-`, a repeated or unknown option, a bad value,
/// arguments that are not UTF-8 — goes to clap, for its result or its error; a
/// test holds the two to the same result.
fn plain(args: &[OsString]) -> Option<RunArgs> {
    let (run, rest) = args.split_first()?;
    if run != "run" {
        return None;
    }
    let mut parsed = RunArgs {
        method: DEFAULT_METHOD.parse().ok()?,
        grace: duration::parse(DEFAULT_GRACE).ok()?,
        timeout: None,
        report: None,
        command: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut rest = rest.iter();
    loop {
        let option = rest.next()?.to_str()?;
        if option == "--" {
            break;
        }
        let value = rest.next()?.to_str()?;
        if value.is_empty() || value.starts_with('-') || seen.contains(&option) {
            return None;
        }
        seen.push(option);
        match option {
            "--method" => parsed.method = value.parse().ok()?,
            "--grace" => parsed.grace = duration::parse(value).ok()?,
            "--timeout" => parsed.timeout = Some(duration::parse(value).ok()?),
            "--report" => parsed.report = Some(PathBuf::from(value)),
            _ => return None,
        }
    }
    parsed.command = rest
        .map(|a| a.to_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    (!parsed.command.is_empty()).then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_plain_form_parses_as_clap_parses_it() {
        for args in [
            &["run", "--", "true"][..],
            &["run", "--", "sh", "-c", "sleep 1 & wait"],
            &["run", "--", "--help"],
            &["run", "--", "run", "--", "x"],
            &["run", "--method", "pidns", "--", "true"],
            &[
                "run",
                "--method",
                "proc-walk",
                "--grace",
                "250ms",
                "--",
                "x",
                "--y",
            ],
            &[
                "run",
                "--report",
                "/dev/fd/5",
                "--timeout",
                "1s",
                "--method",
                "cgroup",
                "--grace",
                "0s",
                "--",
                "/proc/self/exe",
                "node",
                "pause [fork: pause]",
            ],
        ] {
            let args = os(args);
            assert_eq!(plain(&args), Some(with_clap(args.clone())), "{args:?}");
        }
    }

    #[test]
    fn anything_but_the_plain_form_is_left_to_clap() {
        for args in [
            &["run", "true"][..],
            &["run", "--"],
            &["run", "--grace=1s", "--", "true"],
            &["run", "--method", "no-such", "--", "true"],
            &[
                "run", "--method", "pidns", "--method", "cgroup", "--", "true",
            ],
            &["run", "--grace", "-1s", "--", "true"],
            &["run", "--report", "--", "true"],
            &["run", "--report", "", "--", "true"],
            &["run", "--method", "pidns", "true"],
            &["run", "--bogus", "x", "--", "true"],
            &["run", "--method", "pidns", "--"],
            &["matrix", "--", "true"],
        ] {
            assert_eq!(plain(&os(args)), None, "{args:?}");
        }
        use std::os::unix::ffi::OsStringExt;
        let not_utf8 = vec![
            OsString::from("run"),
            OsString::from("--"),
            OsString::from_vec(vec![0xff]),
        ];
        assert_eq!(plain(&not_utf8), None);
    }
}
