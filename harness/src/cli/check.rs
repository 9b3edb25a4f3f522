//! `teardown check -- SUPERVISOR...`: the scenarios against one external supervisor.

use std::process::ExitCode;

use teardown_harness::check::{Check, CheckReport};
use teardown_harness::matrix::{self, Plan};
use teardown_harness::trial::Trigger;

use super::Fail;
use super::matrix::{PlanArgs, print_report, run_with_progress};

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
    #[command(flatten)]
    pub plan: PlanArgs,
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
    print_report(report.report(), args.plan.format);
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The [`Check`] the arguments describe; the error is a one-line reason.
pub fn check(args: &CheckArgs) -> Result<Check, String> {
    let plan = &args.plan;
    let mut check = Check::new(args.supervisor.iter().cloned())
        .random(plan.random)
        .straggler_grace(plan.straggler_grace)
        .deadline(plan.deadline);
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
    if let Some(seed) = plan.seed {
        check = check.seed(seed);
    }
    if let Some(t) = args.trigger {
        check = check.trigger(t);
    }
    if let Some(j) = plan.jobs {
        check = check.jobs(j.max(1));
    }
    if let Some(s) = plan.shard {
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
        assert_eq!(args.plan.random, 2);
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
