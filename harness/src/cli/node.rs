//! `teardown node 'SPEC'` (hidden): the node interpreter. See
//! [`teardown_harness::node`].

use std::process::ExitCode;

use teardown_harness::node::{self, NodeOptions};

use super::{Fail, parse_spec};

/// Play one spec as real processes (internal: run by the warden's supervisors).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example (by hand, nothing reported):\n  teardown node --standalone 'pause [fork: pause, dfork: setsid pause]'"
)]
pub struct NodeArgs {
    /// Node id of the spec's root in the whole tree.
    #[arg(long, default_value_t = 0)]
    id: u32,
    /// Pipe to tell the parent node this subtree is ready.
    #[arg(long, value_name = "FD")]
    ready_fd: Option<i32>,
    /// Play without a report pipe (outside a warden).
    #[arg(long)]
    standalone: bool,
    /// The spec, e.g. 'pause [fork: pause]'.
    spec: String,
}

/// Parses `teardown node`'s arguments (`argv[1]` is `node`) with its own parser
/// alone: a trial execs the node interpreter for its leader and for every
/// `exec:` node, and building every command's parser costs ~0.3 ms of CPU more.
pub fn parse_args() -> NodeArgs {
    use clap::{Args, FromArgMatches};
    let cmd = NodeArgs::augment_args(
        clap::Command::new("teardown-node")
            .bin_name("teardown node")
            .version(env!("CARGO_PKG_VERSION")),
    );
    let matches = cmd.get_matches_from(std::env::args_os().skip(1));
    NodeArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

pub fn main(args: NodeArgs) -> Result<ExitCode, Fail> {
    let spec = parse_spec(&args.spec)?;
    let opts = NodeOptions {
        id: args.id,
        ready_fd: args.ready_fd,
        standalone: args.standalone,
    };
    match node::run(&spec, &opts) {
        Ok(never) => match never {},
        Err(e) => Err(Fail::usage_chain(&e)),
    }
}
