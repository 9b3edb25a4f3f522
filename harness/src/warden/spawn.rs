//! The harness's side: start a warden for one trial and read its answer.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use super::{NET_DEADLINE, PARENT_ENV, readiness_deadline, run_timeout};
use crate::locate;
use crate::trial::{Trial, TrialOutcome};

/// Environment variable: when set, the warden's stderr is copied to ours.
pub const TRACE_ENV: &str = "TEARDOWN_TRACE";

/// The longest a warden may take for this trial, with a margin.
pub fn warden_deadline(trial: &Trial) -> Duration {
    let n = trial.spec.node_count();
    readiness_deadline(n)
        + run_timeout(n)
        + trial.deadline
        + trial.straggler_grace
        + NET_DEADLINE * 2
        + Duration::from_secs(10)
}

/// Runs `teardown __warden` for `trial`; `Err` is the detail of an `error` outcome.
pub fn run(trial: &Trial) -> Result<TrialOutcome, String> {
    let bin = locate::teardown_bin().map_err(|e| e.to_string())?;
    let input = serde_json::to_vec(trial).map_err(|e| format!("cannot encode the trial: {e}"))?;
    let mut child = Command::new(&bin)
        .arg("__warden")
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the warden {}: {e}", bin.display()))?;
    let wrote = child.stdin.take().expect("piped").write_all(&input);
    let (out, err, finished) = collect(&mut child, warden_deadline(trial));
    if !finished {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for the warden: {e}"))?;
    let err = String::from_utf8_lossy(&err);
    if std::env::var_os(TRACE_ENV).is_some() {
        eprint!("{err}");
    }
    if !finished {
        return Err(format!(
            "the warden did not answer within {:?}",
            warden_deadline(trial)
        ));
    }
    if let Err(e) = wrote {
        return Err(format!(
            "cannot send the trial to the warden: {e}; warden said: {}",
            err.trim()
        ));
    }
    serde_json::from_slice(&out).map_err(|e| {
        format!(
            "the warden gave no outcome ({status}, {e}); warden said: {}",
            err.trim()
        )
    })
}

/// Reads the warden's stdout and stderr to their ends, up to `limit`. Returns
/// (stdout, stderr, finished in time).
fn collect(child: &mut std::process::Child, limit: Duration) -> (Vec<u8>, Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    let mut chunk = [0u8; 16 * 1024];
    while out_open || err_open {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, err, false);
        }
        let t = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let (o_ready, e_ready) = {
            let mut fds = Vec::new();
            if out_open {
                fds.push(PollFd::new(&stdout, PollFlags::IN));
            }
            if err_open {
                fds.push(PollFd::new(&stderr, PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, Some(&t)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return (out, err, false),
            }
            let mut it = fds.iter().map(|f| !f.revents().is_empty());
            (
                out_open && it.next().unwrap_or(false),
                err_open && it.next().unwrap_or(false),
            )
        };
        if o_ready {
            out_open = read_some(&mut stdout, &mut out, &mut chunk);
        }
        if e_ready {
            err_open = read_some(&mut stderr, &mut err, &mut chunk);
        }
    }
    (out, err, true)
}

/// One read; false at end of file (or error).
fn read_some(r: &mut (impl Read + AsFd), into: &mut Vec<u8>, chunk: &mut [u8]) -> bool {
    loop {
        match r.read(chunk) {
            Ok(0) => return false,
            Ok(n) => {
                into.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}
