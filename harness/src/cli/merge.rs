//! `teardown merge FILE...`: the JSON outputs of sharded runs, back into one report.

use std::io::Read;
use std::process::ExitCode;

use teardown_harness::matrix::merge;

use super::Fail;
use super::matrix::{Format, exit_status, print_report};

const EXAMPLES: &str = "\
Examples:
  teardown merge shard-1.json shard-2.json shard-3.json     the table one run would print
  cat shard-*.json | teardown merge - --format markdown     outputs one after another on stdin
  teardown merge --format json shard-*.json > matrix.json   one JSON document, as one run writes it

The recipe: N machines (a CI matrix, a Kubernetes Indexed Job) run the same
command with the same --seed and their own --shard K/N, writing --format json:
  teardown matrix --random 200 --seed 7 --shard $K/$N --format json > shard-$K.json
then one machine merges every shard-*.json. Shards of other options, seeds or
builds, a missing shard, or a cell given twice are refused (exit 2).

Exit status: 0 every verdict as expected (for `check` shards: every trial
clean), 1 otherwise, as the single run would exit; 2 bad input.";

/// Merges the JSON outputs of `teardown matrix --shard K/N --format json` (or
/// `teardown check`) into one report: the same cells, summary and exit status as
/// one run on one machine.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct MergeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The shards' JSON outputs, in any order; `-` reads standard input. A file may
    /// hold several outputs one after another.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
}

/// `teardown merge`.
pub fn main(args: MergeArgs) -> Result<ExitCode, Fail> {
    let mut inputs = Vec::new();
    for file in &args.files {
        let mut text = String::new();
        let read = if file == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
        };
        read.map_err(|e| Fail::usage(format!("cannot read {file}: {e}")))?;
        inputs.extend(merge::read(file, &text).map_err(Fail::usage)?);
    }
    let report = merge::merge(inputs).map_err(Fail::usage)?;
    print_report(&report, args.format);
    Ok(exit_status(&report))
}
