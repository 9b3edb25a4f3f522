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
