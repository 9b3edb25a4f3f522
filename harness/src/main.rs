//! The `teardown` command line. See `teardown --help`, and the crate docs.
#![deny(unsafe_code)]
// The entry point is `sys/entry.rs`'s (`main` for the C runtime), lighter than
// std's: `teardown run` pays it once per supervised command. (Not in the unit
// tests' build, whose `main` is the test harness's.)
#![cfg_attr(not(test), no_main)]

mod cli;
#[cfg(not(test))]
#[path = "sys/entry.rs"]
mod entry;

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
