//! `teardown peer-wrap process-wrap -- CMD...`: the supervisor users write with
//! the `process-wrap` crate (see the module above).

use std::process::{Command, ExitCode};
use std::time::Duration;

use nix::sys::signal::Signal;
use process_wrap::std::{CommandWrap, ProcessGroup};

/// Runs `argv` as users do with process-wrap; returns the exit code.
pub fn main(argv: &[String]) -> Result<ExitCode, String> {
    let (program, args) = argv.split_first().ok_or("no command given")?;
    super::block_wrapper_signals().map_err(|e| format!("cannot block signals: {e}"))?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    crate::sys::unblock_signals_in_child(&mut cmd);
    let mut child = CommandWrap::from(cmd)
        .wrap(ProcessGroup::leader())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    loop {
        match super::next_signal(Duration::from_secs(1)) {
            Some(sig @ (Signal::SIGTERM | Signal::SIGINT)) => {
                // What process-wrap offers: SIGKILL to the group, then wait.
                let _ = child.kill();
                let _ = child.wait();
                return Ok(ExitCode::from(128 + sig as u8));
            }
            _ => {
                if let Ok(Some(_)) = child.try_wait() {
                    let status = child
                        .wait()
                        .map_err(|e| format!("wait for {program}: {e}"))?;
                    return Ok(ExitCode::from(super::shell_status(status)));
                }
            }
        }
    }
}
