//! The teardown methods. One file per method; this file names them and picks
//! the one that spawns a tree (the host side) or runs in a shim (the shim side).

pub(crate) mod auto;
mod cgroup;
mod killpg;
mod killpg_waitpgid;
mod leader;
mod pidns;
mod proc_walk;
mod subreaper;

use std::process::Command;

pub use crate::method_name::Method;

use crate::SpawnError;
use crate::driver::Driver;
use crate::options::SpawnOptions;
use crate::shim::host::ShimTree;
use crate::shim::server::ShimSides;

/// Spawns `cmd` with `method` (not `auto`, which calls this for each method it
/// tries).
pub(crate) fn spawn_driver(
    method: Method,
    cmd: &mut Command,
    opts: &SpawnOptions,
) -> Result<Box<dyn Driver>, SpawnError> {
    let in_process = !matches!(
        method,
        Method::Subreaper | Method::ProcWalk | Method::Pidns | Method::Auto
    );
    if opts.unblock_signals && in_process {
        // Runs after the caller's hooks, in the leader. The shim methods' leader
        // always starts unblocked (`shim::setup::spawn_leader`). A hook left by
        // a method `auto` gave up on does the same again: harmless.
        crate::sys::exec::restore_before_exec(cmd, Vec::new());
    }
    Ok(match method {
        Method::Leader => leader::spawn(cmd)?,
        Method::Killpg => killpg::spawn(cmd)?,
        Method::KillpgWaitpgid => killpg_waitpgid::spawn(cmd)?,
        Method::Cgroup | Method::CgroupKill => cgroup::spawn(method, cmd, opts)?,
        Method::Pidns => match pidns::spawn_direct(cmd, opts)? {
            Some(direct) => direct,
            None => Box::new(ShimTree::spawn(method, cmd, opts, &SHIM_SIDES)?),
        },
        Method::Subreaper | Method::ProcWalk => {
            Box::new(ShimTree::spawn(method, cmd, opts, &SHIM_SIDES)?)
        }
        Method::Auto => unreachable!("auto spawns with the methods it tries"),
    })
}

/// The shim's entry point: `args` are the arguments after the program name (and
/// after the hosting binary's own subcommand, if any). Never returns. See
/// [`crate::shim`] for what the shim is.
///
/// A binary that hosts it as a hidden subcommand (`my-tool __shim ...`), then
/// passes `SpawnOptions::default().with_shim(current_exe, vec!["__shim".into()])`:
///
/// ```no_run
/// let mut args = std::env::args_os().skip(1);
/// if args.next().as_deref() == Some("__shim".as_ref()) {
///     teardown::run_shim(args);
/// }
/// ```
pub fn run_shim(args: impl Iterator<Item = std::ffi::OsString>) -> ! {
    let code = match crate::shim::server::main(args.collect(), &SHIM_SIDES) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("teardown-shim: {e}");
            2
        }
    };
    std::process::exit(code)
}

/// What the shim program runs for each method that needs one (the shim's own
/// parts, in `shim/`, sit below the methods: they are handed these).
const SHIM_SIDES: ShimSides = ShimSides {
    subreaper: subreaper::teardown,
    proc_walk: proc_walk::teardown,
    pidns: pidns::run_outer,
};
