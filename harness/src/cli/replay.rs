//! `teardown replay`: one trial, verbose.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use teardown::{Method, Verdict};
use teardown_harness::trial::{Supervisor, Trial, TrialOutcome, Trigger};

use super::{Fail, duration, parse_spec};

const EXAMPLES: &str = "\
Examples:
  teardown replay --method leader 'pause [fork: pause]'                 leak: only the leader is killed
  teardown replay --method killpg 'pause [fork: setsid pause]'          leak: setsid escapes the group
  teardown replay --method cgroup --expect clean 'pause [3*fork: pause]'
  teardown replay 'pause [fork: pause]' -- tini -g --                   an external supervisor

Exit status: 0 if the verdict is the expected one (--expect, default clean), 1 if not,
2 on bad usage or input.";

/// How the warden triggers teardown.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum TriggerArg {
    /// SIGTERM to the supervisor.
    Sigterm,
    /// SIGINT to the supervisor.
    Sigint,
    /// The supervisor's own timeout (`teardown run --timeout`).
    Timeout,
    /// The leader exits on its own (give the spec's root an `exit` end).
    LeaderExit,
}

impl From<TriggerArg> for Trigger {
    fn from(t: TriggerArg) -> Trigger {
        match t {
            TriggerArg::Sigterm => Trigger::Sigterm,
            TriggerArg::Sigint => Trigger::Sigint,
            TriggerArg::Timeout => Trigger::Timeout,
            TriggerArg::LeaderExit => Trigger::LeaderExit,
        }
    }
}

/// Output format.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// The TrialOutcome as JSON.
    Json,
}

/// Run one trial and show everything: the tree as spawned, the supervisor's drain
/// report, the oracle's findings, the verdict, and the line to run it again.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ReplayArgs {
    /// The spec, e.g. 'pause [fork: pause, dfork: setsid ignore-term pause]'.
    spec: String,
    /// The method `teardown run` tears down with (default auto). Not with `-- SUPERVISOR`.
    #[arg(long, conflicts_with = "supervisor")]
    method: Option<Method>,
    /// How teardown is triggered.
    #[arg(long, value_enum, default_value = "sigterm")]
    trigger: TriggerArg,
    /// The supervisor's grace between SIGTERM and SIGKILL: `teardown run --grace`
    /// for a method; for an external supervisor, the grace it promises (a node
    /// that needs less and is SIGKILLed sooner is `grace-cut`; 0s: no promise).
    #[arg(long, value_parser = duration::parse, default_value = "2s")]
    grace: Duration,
    /// How long a process may outlive "done" before it is a leak.
    #[arg(long, value_parser = duration::parse, default_value = "1s")]
    straggler_grace: Duration,
    /// How long the supervisor may take after the trigger before the verdict is hang.
    #[arg(long, value_parser = duration::parse_nonzero, default_value = "10s")]
    deadline: Duration,
    /// Processes outside the tree that must survive (at most 64).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=64))]
    bystanders: u32,
    /// The verdict that makes the exit status 0.
    #[arg(long, default_value = "clean")]
    expect: Verdict,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// An external supervisor (after `--`); the node command is appended to its argv.
    #[arg(last = true, value_name = "SUPERVISOR")]
    supervisor: Vec<String>,
}

pub fn main(args: ReplayArgs) -> Result<ExitCode, Fail> {
    let spec = parse_spec(&args.spec)?;
    let supervisor = if args.supervisor.is_empty() {
        Supervisor::Method(args.method.unwrap_or(Method::Auto))
    } else {
        // A leading `teardown` is this binary (as the matrix runs it, and as its
        // replay lines print it). Checked here so bad input is exit 2 before any
        // warden or bystander starts.
        let argv = teardown_harness::matrix::resolve_teardown(&args.supervisor);
        teardown_harness::locate::executable(&argv[0]).map_err(Fail::usage)?;
        Supervisor::External(argv)
    };
    let mut t = Trial::new(supervisor, spec);
    t.trigger = args.trigger.into();
    t.grace = args.grace;
    t.straggler_grace = args.straggler_grace;
    t.deadline = args.deadline;
    t.bystanders = args.bystanders;
    let outcome = teardown_harness::warden::run_trial(&t);
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&outcome).expect("outcome serializes")
        ),
        Format::Text => print!("{}", render(&t, &args, &outcome)),
    }
    Ok(if outcome.verdict == args.expect {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

fn render(t: &Trial, args: &ReplayArgs, o: &TrialOutcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "trial: {} · trigger {} · grace {} · spec {}",
        t.supervisor.label(),
        teardown_harness::matrix::trigger_name(t.trigger),
        duration::show(t.grace),
        args.spec
    );
    let _ = writeln!(s, "tree as spawned ({} node(s) ready):", o.nodes.len());
    let _ = writeln!(s, "  {:>5} {:>8} {:>8} {:>8}", "node", "pid", "pgid", "sid");
    for n in &o.nodes {
        let _ = writeln!(s, "  {:>5} {:>8} {:>8} {:>8}", n.node, n.pid, n.pgid, n.sid);
    }
    match &o.report {
        Some(r) => {
            let _ = writeln!(
                s,
                "supervisor report: method {} (asked {}), signalled {}, reaped {}, rounds {}, escalated {}, drain {}, leader status {}",
                r.method,
                r.requested,
                r.signalled,
                r.reaped,
                r.rounds,
                if r.escalated { "yes" } else { "no" },
                ms(r.drain),
                r.leader_status.map_or("-".into(), |x| x.to_string())
            );
        }
        None => {
            let _ = writeln!(
                s,
                "supervisor report: none{}",
                o.drain
                    .map(|d| format!(" (trigger to exit {})", ms(d)))
                    .unwrap_or_default()
            );
        }
    }
    if o.findings.is_empty() {
        let _ = writeln!(s, "oracle: nothing left");
    } else {
        let _ = writeln!(s, "oracle:");
        for f in &o.findings {
            let node = f.node.map_or("-".into(), |n| n.to_string());
            let _ = writeln!(
                s,
                "  {:<16} pid {:>7} node {:>4}  {}",
                f.kind, f.pid, node, f.note
            );
        }
    }
    let _ = writeln!(
        s,
        "verdict: {} ({})",
        o.verdict,
        o.detail.as_deref().unwrap_or("")
    );
    let _ = writeln!(s, "elapsed: {}", ms(o.elapsed));
    let _ = writeln!(s, "replay: {}", teardown_harness::replay::line(t));
    s
}
