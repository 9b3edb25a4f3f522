//! `teardown matrix`: every method (and chosen supervisors) × every scenario.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use super::{Fail, duration};
use teardown::Method;
use teardown_harness::matrix::{
    self, Options, Plan, Progress, Report, RowSpec, Shard, Timing, table,
};
use teardown_harness::shell;
use teardown_scenarios::Scenario;

const EXAMPLES: &str = "\
Examples:
  teardown matrix                                   every method × every scenario
  teardown matrix --methods killpg,cgroup --scenarios setsid-escape,double-fork
  teardown matrix --peers --format markdown         add tini, dumb-init, timeout, bwrap rows
  teardown matrix --supervisor 'my-sup --' --random 20 --seed 7
  teardown matrix --format json | jq '.trials[] | select(.as_expected == false)'

Across machines (a CI matrix, a Kubernetes Indexed Job): every machine runs the
same command with its own --shard K/N and the same --seed, then one merges:
  teardown matrix --peers --random 200 --seed 7 --shard 2/3 --format json > shard-2.json
  teardown merge shard-*.json                       the whole matrix, as one machine prints it

Exit status: 0 every verdict as expected, 1 an unexpected verdict, 2 bad usage.";

/// Runs methods and supervisors against the scenarios (and random trees) and prints
/// the verdict of every cell.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct MatrixArgs {
    /// Methods to run, comma-separated [default: all]; `none` for no method rows.
    #[arg(long, value_name = "M,..")]
    pub methods: Option<String>,
    /// Scenarios to run, comma-separated [default: all]; `none` for random trees
    /// only.
    #[arg(long, value_name = "NAME,..")]
    pub scenarios: Option<String>,
    /// Add real supervisors as rows, judged by their documented expectations: all
    /// of them, or the named ones (tini, tini-g, dumb-init, dumb-init-single-child,
    /// timeout, bwrap, catatonit, catatonit-g, supervisord, process-wrap,
    /// teardown-auto).
    #[arg(long, value_name = "NAME,..", num_args = 0..=1, default_missing_value = "all")]
    pub peers: Option<String>,
    /// Add an external supervisor row (repeatable): its command line, split like a
    /// shell would; the tree's command is appended. Not judged unless it is a peer.
    #[arg(long = "supervisor", value_name = "'CMD ARGS'")]
    pub supervisors: Vec<String>,
    /// The methods' grace between SIGTERM and SIGKILL (and the grace a
    /// `--supervisor` promises; a known peer's own is used for its row).
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "250ms")]
    pub grace: Duration,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// The options `matrix` and `check` share: the random trees, how many trials at
/// once, the output, the shard, and the timings every supervisor gets.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Add this many random trees as columns.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub random: u32,
    /// Seed of the random trees [default: TEARDOWN_SEED, else from the clock,
    /// printed].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Trials run at once [default: 32 per core, fewer if memory or process room is short; a weak method's or a peer's trial runs among at most 8 per core]. Trials mostly wait, so more than the cores run well
    #[arg(long, value_name = "J")]
    pub jobs: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Run only part K of N of the trials (1 ≤ K ≤ N), for N machines that run the
    /// same command with the same --seed; `teardown merge` joins their JSON. The
    /// parts are disjoint, cover the whole run, and do not depend on --jobs.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// How long a process may outlive the supervisor and still be `early` (not a survivor).
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "1s")]
    pub straggler_grace: Duration,
    /// How long a supervisor may take after the trigger before the verdict is hang.
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "3s")]
    pub deadline: Duration,
}

/// How to print a matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for a terminal (one line per tree).
    Table,
    /// One JSON object (schema: README.md, "JSON").
    Json,
    /// A markdown table with notes, for READMEs.
    Markdown,
}

/// `teardown matrix`.
pub fn main(args: MatrixArgs) -> Result<ExitCode, Fail> {
    let options = options(&args).map_err(Fail::usage)?;
    let plan = Plan::new(options, matrix::host_probe()).map_err(Fail::usage)?;
    let report = run_with_progress(plan);
    print_report(&report, args.plan.format);
    Ok(exit_status(&report))
}

/// 0 when the report passed ([`Report::passed`]), else 1.
pub fn exit_status(report: &Report) -> ExitCode {
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Resolves the arguments into matrix options; the error is a one-line reason.
pub fn options(args: &MatrixArgs) -> Result<Options, String> {
    let mut rows: Vec<RowSpec> = methods(args.methods.as_deref())?
        .into_iter()
        .map(RowSpec::Method)
        .collect();
    if let Some(peers) = &args.peers {
        if peers == "all" {
            rows.extend(teardown_scenarios::peers::all().iter().map(RowSpec::Peer));
        } else {
            for name in list(peers) {
                rows.push(RowSpec::Peer(
                    teardown_scenarios::peers::by_name(name).map_err(|e| e.to_string())?,
                ));
            }
        }
    }
    for line in &args.supervisors {
        let argv = shell::split(line).map_err(|e| format!("--supervisor {line:?}: {e}"))?;
        rows.push(RowSpec::supervisor(argv));
    }
    let plan = &args.plan;
    let seed = plan.seed.or_else(teardown_harness::check::env_seed);
    if plan.shard.is_some() && plan.random > 0 && seed.is_none() {
        return Err(matrix::shard::SEED_REQUIRED.to_owned());
    }
    Ok(Options {
        rows,
        scenarios: scenarios(args.scenarios.as_deref())?,
        random: plan.random,
        seed: seed.unwrap_or_else(teardown_harness::check::default_seed),
        timing: Timing {
            grace: args.grace,
            straggler_grace: plan.straggler_grace,
            deadline: plan.deadline,
        },
        jobs: plan.jobs.unwrap_or_else(matrix::default_jobs).max(1),
        trigger: None,
        bystanders: 1,
        shard: plan.shard,
    })
}

/// `--methods`: comma-separated names, `none`, or every method.
pub fn methods(arg: Option<&str>) -> Result<Vec<Method>, String> {
    match arg {
        None => Ok(Method::ALL.to_vec()),
        Some("none") => Ok(Vec::new()),
        Some(s) => list(s)
            .map(|n| n.parse::<Method>().map_err(|e| e.to_string()))
            .collect(),
    }
}

/// `--scenarios`: comma-separated names, `none`, or every scenario.
pub fn scenarios(arg: Option<&str>) -> Result<Vec<&'static Scenario>, String> {
    match arg {
        None => Ok(teardown_scenarios::all().iter().collect()),
        Some("none") => Ok(Vec::new()),
        Some(s) => list(s)
            .map(|n| teardown_scenarios::by_name(n).map_err(|e| e.to_string()))
            .collect(),
    }
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|n| !n.is_empty())
}

/// Runs the plan with a live progress line on stderr when it is a terminal.
pub fn run_with_progress(plan: Plan) -> Report {
    let live = std::io::stderr().is_terminal();
    let mut stderr = std::io::stderr();
    let report = matrix::run(plan, &mut |p: &Progress| {
        if live {
            let _ = write!(stderr, "\r\x1b[2K{}", progress_line(p));
            let _ = stderr.flush();
        }
    });
    if live {
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
    }
    report
}

/// `[ 37/152] 12.3s, 2 running, 1 unexpected; last: method:killpg × wide-fanout: clean`.
pub fn progress_line(p: &Progress) -> String {
    let width = p.total.to_string().len();
    let mut line = format!(
        "[{:>width$}/{}] {:.1}s, {} running",
        p.done,
        p.total,
        p.elapsed.as_secs_f64(),
        p.running
    );
    if p.unexpected > 0 {
        line.push_str(&format!(", {} unexpected", p.unexpected));
    }
    if let Some((row, col, verdict)) = &p.last {
        line.push_str(&format!("; last: {row} × {col}: {verdict}"));
    }
    line.chars()
        .take(terminal_width(2).unwrap_or(120).saturating_sub(1))
        .collect()
}

/// Prints the report to stdout in `format`.
pub fn print_report(report: &Report, format: Format) {
    let text = match format {
        Format::Table => {
            let tty = std::io::stdout().is_terminal();
            let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let width = if tty { terminal_width(1) } else { None };
            table::render(report, table::TableStyle { color, width })
        }
        Format::Markdown => matrix::markdown::render(report),
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&matrix::json::render(report)).unwrap_or_default();
            s.push('\n');
            s
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The width of the terminal on `fd` (1 stdout, 2 stderr): `COLUMNS`, else the
/// window size.
fn terminal_width(fd: i32) -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(c);
    }
    let ws = if fd == 1 {
        rustix::termios::tcgetwinsize(std::io::stdout())
    } else {
        rustix::termios::tcgetwinsize(std::io::stderr())
    };
    ws.ok().map(|w| usize::from(w.ws_col)).filter(|&c| c > 0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: MatrixArgs,
    }

    fn parse(argv: &[&str]) -> MatrixArgs {
        Cli::try_parse_from(std::iter::once("matrix").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn no_arguments_means_every_method_and_every_scenario() {
        let o = options(&parse(&[])).unwrap();
        assert_eq!(o.rows.len(), Method::ALL.len());
        assert_eq!(o.scenarios.len(), teardown_scenarios::all().len());
        assert_eq!(o.random, 4);
        assert_eq!(o.timing, Timing::default());
    }

    #[test]
    fn methods_and_scenarios_filter_in_the_order_given() {
        let o = options(&parse(&[
            "--methods",
            "cgroup,killpg",
            "--scenarios",
            "stopped, double-fork",
        ]))
        .unwrap();
        let names: Vec<_> = o.rows.iter().map(|r| format!("{r:?}")).collect();
        assert_eq!(names, ["Method(Cgroup)", "Method(Killpg)"]);
        let s: Vec<_> = o.scenarios.iter().map(|s| s.name).collect();
        assert_eq!(s, ["stopped", "double-fork"]);
    }

    #[test]
    fn bad_names_list_the_valid_ones() {
        let err = options(&parse(&["--methods", "killpgg"])).unwrap_err();
        assert!(
            err.contains("unknown method \"killpgg\"") && err.contains("proc-walk"),
            "{err}"
        );
        let o = options(&parse(&["--scenarios", "none", "--random", "2"])).unwrap();
        assert!(o.scenarios.is_empty());
        let err = options(&parse(&["--scenarios", "nope"])).unwrap_err();
        assert!(
            err.contains("unknown scenario \"nope\"") && err.contains("wide-fanout"),
            "{err}"
        );
        let err = options(&parse(&["--peers", "runit"])).unwrap_err();
        assert!(
            err.contains("unknown peer \"runit\"") && err.contains("dumb-init"),
            "{err}"
        );
    }

    #[test]
    fn supervisors_are_split_like_a_shell_and_peers_recognised() {
        let o = options(&parse(&[
            "--methods",
            "none",
            "--supervisor",
            "tini --",
            "--supervisor",
            "sh -c 'exec \"$@\"' sh",
        ]))
        .unwrap();
        assert!(matches!(&o.rows[0], RowSpec::Peer(p) if p.name == "tini"));
        assert!(
            matches!(&o.rows[1], RowSpec::External { argv, expect_clean: false } if argv == &["sh", "-c", "exec \"$@\"", "sh"])
        );
        assert!(
            options(&parse(&["--supervisor", "sh 'oops"]))
                .unwrap_err()
                .contains("unterminated")
        );
    }

    #[test]
    fn peers_without_a_value_means_all_of_them() {
        let o = options(&parse(&["--methods", "none", "--peers"])).unwrap();
        assert_eq!(o.rows.len(), teardown_scenarios::peers::all().len());
        let o = options(&parse(&["--methods", "none", "--peers", "tini,bwrap"])).unwrap();
        assert_eq!(o.rows.len(), 2);
    }

    #[test]
    fn timings_parse_with_units() {
        let args = parse(&["--grace", "0ms", "--deadline", "10s", "--jobs", "3"]);
        assert_eq!(
            (args.grace, args.plan.deadline, args.plan.jobs),
            (Duration::ZERO, Duration::from_secs(10), Some(3))
        );
        let bad = Cli::try_parse_from(["matrix", "--grace", "5"])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(bad.contains("no unit"), "{bad}");
    }

    #[test]
    fn the_progress_line_counts_and_names_the_last_cell() {
        let p = Progress {
            done: 37,
            total: 152,
            running: 2,
            unexpected: 1,
            elapsed: Duration::from_millis(12_345),
            last: Some((
                "method:killpg".into(),
                "wide-fanout".into(),
                teardown::Verdict::Clean,
            )),
        };
        assert_eq!(
            progress_line(&p),
            "[ 37/152] 12.3s, 2 running, 1 unexpected; last: method:killpg × wide-fanout: clean"
        );
    }
}
