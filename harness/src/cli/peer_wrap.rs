//! `teardown peer-wrap KIND -- CMD...`: a real supervisor that cannot run a
//! tree as it is, driven so that the matrix can judge it
//! ([`teardown_harness::peer`]).

use std::process::ExitCode;

use super::Fail;

const EXAMPLES: &str = "\
Examples:
  teardown peer-wrap supervisord -- sleep 100     sleep as supervisord's one program
  teardown matrix --peers supervisord,process-wrap   the matrix rows that use it";

/// Which supervisor.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Kind {
    /// supervisord, with CMD its one program (autorestart=false, stopasgroup,
    /// killasgroup, stopwaitsecs=1); stopped on SIGTERM/SIGINT or when the
    /// program has exited.
    Supervisord,
    /// A supervisor built with the process-wrap crate: ProcessGroup::leader();
    /// kill() then wait() on SIGTERM/SIGINT.
    ProcessWrap,
}

/// Run CMD under a real supervisor the matrix cannot start directly
/// (supervisord closes the descriptors it inherits; process-wrap is a library).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct PeerWrapArgs {
    /// The supervisor.
    #[arg(value_enum)]
    kind: Kind,
    /// The command.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn main(args: PeerWrapArgs) -> Result<ExitCode, Fail> {
    let run = match args.kind {
        Kind::Supervisord => teardown_harness::peer::supervisord::main,
        Kind::ProcessWrap => teardown_harness::peer::process_wrap::main,
    };
    run(&args.command).map_err(|e| Fail {
        code: 125,
        reason: e,
    })
}
