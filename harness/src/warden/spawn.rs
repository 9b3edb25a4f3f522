//! The harness's side: warden servers (`teardown __warden --serve`, see
//! [`super::server`]) kept idle between trials, shared by every thread; a trial
//! takes an idle one (or starts one), sends the trial and reads the reply within
//! the trial's deadline. A server that fails or is late is killed (it is ours,
//! by its PID) and never reused.

use std::io::{Read, Seek};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::frame::{self, Reply};
use super::{NET_DEADLINE, PARENT_ENV, warden_deadline};
use crate::locate;
use crate::trial::{Trial, TrialOutcome};

/// Environment variable: when set, the warden's stderr is copied to ours.
pub const TRACE_ENV: &str = "TEARDOWN_TRACE";

/// Most idle servers kept for later trials (the rest are ended).
const MAX_IDLE: usize = 256;

/// Servers waiting for a trial, shared by every thread of this process.
static IDLE: Mutex<Vec<Server>> = Mutex::new(Vec::new());

/// A `teardown __warden --serve` process of ours.
struct Server {
    child: Child,
    to: ChildStdin,
    from: ChildStdout,
    /// Its stderr (a memfd): read when it fails.
    stderr: std::fs::File,
}

impl Server {
    fn start() -> Result<Server, String> {
        let bin = locate::teardown_bin().map_err(|e| e.to_string())?;
        let log =
            rustix::fs::memfd_create("teardown-warden-stderr", rustix::fs::MemfdFlags::CLOEXEC)
                .map_err(|e| format!("memfd: {e}"))?;
        let stderr = std::fs::File::from(log.try_clone().map_err(|e| format!("memfd: {e}"))?);
        let mut child = Command::new(&bin)
            .args(["__warden", "--serve", "--protocol"])
            .arg(frame::PROTOCOL.to_string())
            .env(PARENT_ENV, std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the warden {}: {e}", bin.display()))?;
        let to = child.stdin.take().expect("piped");
        let from = child.stdout.take().expect("piped");
        Ok(Server {
            child,
            to,
            from,
            stderr,
        })
    }

    /// Sends `input`, reads the reply. `Err((sent, why))`.
    fn ask(&mut self, input: &[u8], limit: Duration) -> Result<Reply, (bool, String)> {
        frame::write_frame(self.to.as_fd(), input)
            .map_err(|e| (false, format!("cannot send the trial to the warden: {e}")))?;
        let frame = frame::read_frame(self.from.as_fd(), Some(Instant::now() + limit))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => {
                    (true, format!("the warden did not answer within {limit:?}"))
                }
                _ => (true, format!("the warden gave no outcome: {e}")),
            })?
            .ok_or((true, "the warden ended without an outcome".to_owned()))?;
        serde_json::from_slice(&frame)
            .map_err(|e| (true, format!("bad reply from the warden: {e}")))
    }

    /// Kills it (it is ours: our child, by its PID), reaps it, returns what it
    /// wrote on stderr.
    fn kill(mut self) -> String {
        let _ = self.child.kill();
        let status = self.child.wait();
        let mut err = String::new();
        let _ = self
            .stderr
            .rewind()
            .and_then(|()| self.stderr.read_to_string(&mut err));
        match status {
            Ok(st) if err.trim().is_empty() => format!("({st})"),
            Ok(st) => format!("({st}) {}", err.trim()),
            Err(_) => err.trim().to_owned(),
        }
    }

    /// Ends an idle server: it exits at the end of its input.
    fn end(self) {
        let Server { mut child, to, .. } = self;
        drop(to);
        let _ = child.wait();
    }
}

/// Runs `trial` on an idle warden server (started if none is idle); `Err` is
/// the detail of an `error` outcome.
pub fn run(trial: &Trial) -> Result<TrialOutcome, String> {
    let input = serde_json::to_vec(trial).map_err(|e| format!("cannot encode the trial: {e}"))?;
    // The server's own limit, then its clean-up of the trial's cgroup, then a margin.
    let limit = warden_deadline(trial) + NET_DEADLINE + Duration::from_secs(10);
    let pooled = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let (mut server, mut fresh) = match pooled {
        Some(s) => (s, false),
        None => (Server::start()?, true),
    };
    loop {
        match server.ask(&input, limit) {
            Ok(reply) => {
                if std::env::var_os(TRACE_ENV).is_some() {
                    eprint!("{}", reply.log);
                }
                if reply.last {
                    server.end();
                    return Ok(reply.outcome);
                }
                let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(server);
                } else {
                    drop(idle);
                    server.end();
                }
                return Ok(reply.outcome);
            }
            // An idle server that is gone never got the trial: one fresh try.
            Err((false, _)) if !fresh => {
                let _ = server.kill();
                server = Server::start()?;
                fresh = true;
            }
            Err((_, why)) => {
                let said = server.kill();
                return Err(format!("{why}; warden said: {said}"));
            }
        }
    }
}

/// Ends every idle warden server of this process and waits for each to exit (it
/// removes its cgroup first). A program that wants nothing of its trials left
/// when it returns calls this last; the `teardown` commands do. Servers still
/// running a trial are not touched (they end with this process).
pub fn shutdown() {
    let idle = std::mem::take(&mut *IDLE.lock().unwrap_or_else(|e| e.into_inner()));
    for server in idle {
        server.end();
    }
}
