//! The `teardown` command line: one file per command.
//!
//! Exit codes, for every command but `run` (which passes the leader's status on,
//! see `teardown run --help`): 0 success (all verdicts as expected), 1 an
//! unexpected verdict, 2 bad usage or bad input, with a one-line reason on stderr.

mod check;
pub mod duration;
mod matrix;
mod merge;
mod node;
mod peer_wrap;
mod probe;
mod replay;
mod run;
mod terminal;
mod warden;

use std::error::Error;
use std::fmt::Display;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use teardown_harness::spec::TreeSpec;

const ABOUT: &str = "Tear down whole process trees, and prove that nothing survives";

const EXAMPLES: &str = "\
Examples:
  teardown run -- sh -c 'sleep 100 & sleep 100'          supervise a command; Ctrl-C tears down the whole tree
  teardown replay --method killpg 'pause [fork: setsid pause]'   one trial, verbose: a setsid escape leaks
  teardown matrix                                        every method x every scenario: the verdict table
  teardown check -- tini -g --                           the scenarios against your own supervisor
  teardown matrix --seed 7 --shard 2/3 --format json     one machine's part; `teardown merge` joins the parts
  teardown probe                                         which methods work on this host";

#[derive(Debug, Parser)]
#[command(name = "teardown", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every command. To add one: a file in `cli/`, a variant here, an arm in [`main`].
#[derive(Debug, Subcommand)]
enum Command {
    #[command(about = run::ABOUT)]
    Run(run::RunArgs),
    /// Every method (and chosen supervisors) × every scenario: the verdict table.
    Matrix(matrix::MatrixArgs),
    /// The scenarios against one external supervisor; every verdict must be clean.
    Check(check::CheckArgs),
    /// Merge the JSON outputs of sharded matrix or check runs into one report.
    Merge(merge::MergeArgs),
    /// Run one trial verbosely: the tree, the supervisor's report, the oracle's findings, the verdict.
    Replay(replay::ReplayArgs),
    /// Show which teardown methods this host supports, and why not.
    Probe(probe::ProbeArgs),
    /// Run a command under a real supervisor that needs a driver (supervisord, process-wrap): the matrix's peers.
    PeerWrap(peer_wrap::PeerWrapArgs),
    /// The node interpreter (internal).
    #[command(hide = true)]
    Node(node::NodeArgs),
    /// One trial's warden (internal).
    #[command(hide = true, name = "__warden")]
    Warden(warden::WardenArgs),
}

/// A command's failure: a one-line reason and the exit code.
#[derive(Debug)]
pub struct Fail {
    code: u8,
    reason: String,
}

impl Fail {
    /// Bad usage or bad input: exit 2.
    pub fn usage(e: impl Display) -> Fail {
        Fail {
            code: 2,
            reason: e.to_string(),
        }
    }

    /// An error with its causes on one line, exit 2.
    pub fn usage_chain(e: &dyn Error) -> Fail {
        Fail::usage(chain(e))
    }
}

/// `error: cause: cause`, on one line.
pub use teardown_harness::errors::chain;

/// Parses spec text, or fails with exit 2 naming what is wrong.
pub fn parse_spec(text: &str) -> Result<TreeSpec, Fail> {
    TreeSpec::parse(text).map_err(Fail::usage)
}

pub fn main() -> ExitCode {
    // `teardown run` is started once per supervised command, like tini: it parses
    // its own arguments only, since building every command's parser first costs
    // more (~0.4 ms of CPU here) than the rest of its startup.
    // So does the node interpreter, exec'd for a trial's leader and each of its
    // `exec:` nodes.
    match std::env::args_os().nth(1) {
        Some(a) if a == "run" => return finish(run::main(run::parse_args())),
        Some(a) if a == "node" => return finish(node::main(node::parse_args())),
        _ => {}
    }
    let cli = Cli::parse();
    // Every command but the node interpreter waits for children of its own (its
    // wardens, its supervisor, its tree), and SIGCHLD = SIG_IGN inherited from
    // whoever started it would have the kernel reap them first (ECHILD). `run`
    // hands the caller's disposition on to its leader; `node` plays the tree's
    // environment as it was given.
    if !matches!(cli.command, Command::Node(_) | Command::Run(_))
        && let Err(e) = teardown_harness::sys::default_signal(nix::sys::signal::Signal::SIGCHLD)
    {
        eprintln!("teardown: cannot reset SIGCHLD: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Run(a) => run::main(a),
        Command::Matrix(a) => matrix::main(a),
        Command::Check(a) => check::main(a),
        Command::PeerWrap(a) => peer_wrap::main(a),
        Command::Merge(a) => merge::main(a),
        Command::Replay(a) => replay::main(a),
        Command::Probe(a) => probe::main(a),
        Command::Node(a) => node::main(a),
        Command::Warden(a) => warden::main(a),
    };
    // Nothing of this command's trials outlives it: its idle warden servers
    // remove their cgroups and exit before it does.
    teardown_harness::warden::shutdown_wardens();
    finish(result)
}

/// The exit code of a command's result, with its reason on stderr.
fn finish(result: Result<ExitCode, Fail>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("teardown: {}", f.reason);
            ExitCode::from(f.code)
        }
    }
}
