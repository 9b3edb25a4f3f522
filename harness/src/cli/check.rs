//! `teardown check -- SUPERVISOR...`: the scenarios against one external supervisor.

use std::process::ExitCode;
use std::time::Duration;

use teardown_harness::check::{Check, CheckReport};
use teardown_harness::matrix::{self, Plan, Shard};
use teardown_harness::trial::Trigger;

use super::matrix::{Format, print_report, run_with_progress};
use super::{Fail, duration};

const EXAMPLES: &str = "\
Examples:
  teardown check -- tini --                          is tini leak-free? (it is not)
  teardown check --scenarios setsid-escape -- dumb-init
  teardown check --random 20 --seed 7 -- my-sup --config x.toml --
  teardown check --trigger timeout -- timeout 1       a supervisor that times out by itself

Across machines: each runs its part with the same --seed, then one merges:
  teardown check --random 100 --seed 7 --shard 1/4 --format json -- my-sup -- > shard-1.json
  teardown merge shard-*.json                       exit 0 only if every part was clean

The tree's command is appended to the supervisor's argv. Every verdict must be
clean. Exit status: 0 all clean, 1 a verdict that is not clean, 2 bad usage.";

/// Runs every scenario (and random trees) against an external supervisor; every
/// verdict must be clean.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct CheckArgs {
    /// Trigger every trial this way: sigterm, sigint, timeout (the supervisor's
    /// own) or leader-exit (the tree's leader exits by itself; a spec whose leader
    /// pauses then ends as a hang at the deadline) [default: each scenario's own,
    /// mostly sigterm].
    #[arg(long, value_name = "HOW", value_parser = parse_trigger)]
    pub trigger: Option<Trigger>,
    /// Scenarios to run, comma-separated [default: all].
    #[arg(long, value_name = "NAME,..")]
    pub scenarios: Option<String>,
    /// Add this many random trees.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub random: u32,
    /// Seed of the random trees [default: TEARDOWN_SEED, else from the clock].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Trials run at once [default: 8 per core, fewer if memory or process room is short]. Trials mostly wait, so more than the cores run well
    #[arg(long, value_name = "J")]
    pub jobs: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Run only part K of N of the trials, for N machines that run the same
    /// command with the same --seed; `teardown merge` joins their JSON.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// How long a process may outlive the supervisor and still be `early` (not a survivor).
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "1s")]
    pub straggler_grace: Duration,
    /// How long the supervisor may take after the trigger before the verdict is hang.
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "3s")]
    pub deadline: Duration,
    /// The supervisor and its arguments.
    #[arg(last = true, required = true, num_args = 1.., value_name = "SUPERVISOR")]
    pub supervisor: Vec<String>,
}

/// `teardown check`.
pub fn main(args: CheckArgs) -> Result<ExitCode, Fail> {
    let options = check(&args)
        .map_err(Fail::usage)?
        .options()
        .map_err(Fail::usage)?;
    let plan = Plan::new(options, matrix::host_probe()).map_err(Fail::usage)?;
    let report = CheckReport::from_report(run_with_progress(plan));
    print_report(report.report(), args.format);
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The [`Check`] the arguments describe; the error is a one-line reason.
pub fn check(args: &CheckArgs) -> Result<Check, String> {
    let mut check = Check::new(args.supervisor.iter().cloned())
        .random(args.random)
        .straggler_grace(args.straggler_grace)
        .deadline(args.deadline);
    if let Some(names) = &args.scenarios {
        let names: Vec<&str> = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        for n in &names {
            teardown_scenarios::by_name(n).map_err(|e| e.to_string())?;
        }
        check = check.scenarios(names);
    }
    if let Some(seed) = args.seed {
        check = check.seed(seed);
    }
    if let Some(t) = args.trigger {
        check = check.trigger(t);
    }
    if let Some(j) = args.jobs {
        check = check.jobs(j.max(1));
    }
    if let Some(s) = args.shard {
        check = check.shard(s);
    }
    Ok(check)
}

/// `sigterm`, `sigint`, `timeout`, `leader-exit`.
pub fn parse_trigger(s: &str) -> Result<Trigger, String> {
    let t: teardown_scenarios::Trigger = s
        .parse()
        .map_err(|e: teardown_scenarios::ParseTriggerError| e.to_string())?;
    Ok(teardown_harness::matrix::trigger_of(t))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CheckArgs,
    }

    fn parse(argv: &[&str]) -> Result<CheckArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("check").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn everything_after_the_double_dash_is_the_supervisor() {
        let args = parse(&["--random", "2", "--", "tini", "--", "--random"]).unwrap();
        assert_eq!(args.supervisor, ["tini", "--", "--random"]);
        assert_eq!(args.random, 2);
    }

    #[test]
    fn a_supervisor_is_required() {
        assert!(parse(&["--random", "2"]).is_err());
    }

    #[test]
    fn triggers_parse_by_name_and_bad_ones_list_the_valid_ones() {
        assert_eq!(
            parse(&["--trigger", "leader-exit", "--", "x"])
                .unwrap()
                .trigger,
            Some(Trigger::LeaderExit)
        );
        let err = parse(&["--trigger", "sigkill", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sigterm, sigint, timeout, leader-exit"),
            "{err}"
        );
    }

    #[test]
    fn bad_scenario_names_are_refused() {
        let args = parse(&["--scenarios", "double-fork,nope", "--", "x"]).unwrap();
        let err = check(&args).unwrap_err();
        assert!(err.contains("unknown scenario \"nope\""), "{err}");
    }

    #[test]
    fn the_check_gets_one_row_expected_clean() {
        let args = parse(&[
            "--scenarios",
            "double-fork",
            "--seed",
            "3",
            "--",
            "tini",
            "--",
        ])
        .unwrap();
        let o = check(&args).unwrap().options().unwrap();
        assert_eq!(o.scenarios.len(), 1);
        assert_eq!(o.seed, 3);
    }
}
