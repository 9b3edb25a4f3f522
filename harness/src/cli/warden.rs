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
    /// Run as the inner warden, with this context (JSON) from the outer one.
    #[arg(long, value_name = "CONTEXT")]
    inner: Option<String>,
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
    let code = match &args.inner {
        Some(ctx) => teardown_harness::warden::main_inner(ctx),
        None => teardown_harness::warden::main(),
    };
    Ok(ExitCode::from(code as u8))
}
