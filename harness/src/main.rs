//! The `teardown` command line. See `teardown --help`, and the crate docs.
#![deny(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    // `teardown __shim ...`: the core's shim (for the subreaper, proc-walk and pidns
    // methods of `teardown run`), before anything else: it must stay single-threaded
    // and owns the process from here on.
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == "__shim") {
        teardown::run_shim(args);
    }
    cli::main()
}
