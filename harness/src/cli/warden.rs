//! `teardown __warden` (hidden): one trial's warden. See
//! [`teardown_harness::warden`].

use std::process::ExitCode;

use super::Fail;

/// Run one trial: a Trial as JSON on stdin, its TrialOutcome as JSON on stdout.
#[derive(Debug, clap::Args)]
pub struct WardenArgs {
    /// Print what containment a warden gets here (JSON), instead of running a trial.
    #[arg(long)]
    probe: bool,
    /// Serve trials: framed trials on stdin, framed replies on stdout, until the
    /// end of input (what the harness runs, one per worker).
    #[arg(long)]
    serve: bool,
    /// With --serve: the frames' protocol the caller speaks; refused unless it is
    /// this binary's (a harness library and a `teardown` binary of different
    /// versions).
    #[arg(long, value_name = "N", requires = "serve")]
    protocol: Option<u32>,
}

pub fn main(args: WardenArgs) -> Result<ExitCode, Fail> {
    if args.probe {
        let facts = teardown_harness::warden::probe_containment();
        println!(
            "{}",
            serde_json::to_string(&facts).expect("facts serialize")
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(p) = args.protocol
        && p != teardown_harness::warden::server::PROTOCOL
    {
        return Err(Fail::usage(format!(
            "this teardown binary ({}) speaks warden protocol {}, the caller {p}: \
             build both from the same sources, or point TEARDOWN_BIN at a matching binary",
            env!("CARGO_PKG_VERSION"),
            teardown_harness::warden::server::PROTOCOL
        )));
    }
    let code = if args.serve {
        teardown_harness::warden::server::serve()
    } else {
        teardown_harness::warden::main()
    };
    Ok(ExitCode::from(code as u8))
}
