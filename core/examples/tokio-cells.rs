//! `tokio-cells`: a small cells service in the shape of aurae's (its
//! `Executables` and `CellService::stop`, aurae PR 599), on `teardown::tokio`.
//!
//! Aurae's cells stop an executable with `killpg(SIGKILL)` and reap the leader:
//! a `setsid` child survives, and stop returns before the group's other members
//! have exited. Here an executable is an [`AsyncTree`], and stopping it is an
//! async teardown that returns when the whole tree is gone — with no thread
//! blocked per executable. Start, stop, stop twice, stop after it exited on its
//! own: each returns `Ok` and leaves nothing.
//!
//! From the command line it supervises one executable, like `teardown run`:
//!
//! ```text
//! tokio-cells [--method M] [--grace D] -- CMD ARGS...
//! ```
//!
//! starts CMD as a cell (method `auto` by default, grace 2s); on SIGTERM,
//! SIGINT or SIGHUP, or when CMD exits, stops it; exits with the leader's exit
//! code, or 128+N if it was killed by signal N (125: the stop failed; 126/127:
//! CMD could not be run / was not found; 2: bad usage or an unsupported
//! method). Every other catchable signal is ignored, so a tree that signals its
//! supervisor cannot kill it (tokio cannot catch SIGILL, SIGFPE and SIGSEGV:
//! those still would). SIGSTOP cannot be caught at all: as with `teardown run`,
//! only `pidns` (what `auto` picks where it can, as root) hides the supervisor
//! from a tree that stops its parent. Check it with
//! `teardown check -- target/release/examples/tokio-cells --`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Duration;

use teardown::tokio::AsyncTree;
use teardown::{DrainReport, Method, SpawnError, SpawnOptions, TeardownError, WaitError};
use tokio::signal::unix::{SignalKind, signal};

/// Why a cell operation failed.
#[derive(Debug, thiserror::Error)]
enum CellsError {
    /// `start` with a name already running.
    #[error("an executable named {0:?} is already running")]
    Duplicate(String),
    /// No executable of that name (never started, or stopped already).
    #[error("no executable named {0:?}")]
    NotFound(String),
    /// The spawn failed.
    #[error("cannot start {name:?}")]
    Start {
        name: String,
        #[source]
        source: SpawnError,
    },
    /// The teardown failed; the executable stays, for another stop to finish.
    #[error("cannot stop {name:?}")]
    Stop {
        name: String,
        #[source]
        source: TeardownError,
    },
    /// Waiting for the leader failed.
    #[error("cannot wait for {name:?}")]
    Wait {
        name: String,
        #[source]
        source: WaitError,
    },
}

/// The running executables of a cell, by name (aurae's `Executables`).
struct Executables {
    method: Method,
    opts: SpawnOptions,
    grace: Duration,
    running: HashMap<String, AsyncTree>,
}

impl Executables {
    fn new(method: Method, opts: SpawnOptions, grace: Duration) -> Executables {
        Executables {
            method,
            opts,
            grace,
            running: HashMap::new(),
        }
    }

    /// Starts `cmd` as the executable `name`; its leader's PID.
    fn start(&mut self, name: &str, cmd: &mut Command) -> Result<u32, CellsError> {
        if self.running.contains_key(name) {
            return Err(CellsError::Duplicate(name.to_owned()));
        }
        let tree = teardown::tokio::spawn(self.method, cmd, &self.opts).map_err(|source| {
            CellsError::Start {
                name: name.to_owned(),
                source,
            }
        })?;
        let pid = tree.leader_pid();
        self.running.insert(name.to_owned(), tree);
        Ok(pid)
    }

    /// The leader's PID, kept from the spawn (valid after the leader exited).
    #[cfg_attr(not(test), allow(dead_code))]
    fn pid(&self, name: &str) -> Option<u32> {
        self.running.get(name).map(AsyncTree::leader_pid)
    }

    fn get(&mut self, name: &str) -> Result<&mut AsyncTree, CellsError> {
        self.running
            .get_mut(name)
            .ok_or_else(|| CellsError::NotFound(name.to_owned()))
    }

    /// Waits for the leader of `name` to exit (cancellation-safe).
    async fn wait(&mut self, name: &str) -> Result<ExitStatus, CellsError> {
        let tree = self.get(name)?;
        tree.wait_leader().await.map_err(|source| CellsError::Wait {
            name: name.to_owned(),
            source,
        })
    }

    /// Stops `name`: tears its whole tree down (SIGTERM, the grace, SIGKILL) and
    /// forgets it. `NotFound` if no such executable runs; after an exit of its
    /// own it is a teardown like any other (the rest of the tree may live on).
    async fn stop(&mut self, name: &str) -> Result<DrainReport, CellsError> {
        let grace = self.grace;
        let report = self
            .get(name)?
            .teardown(grace)
            .await
            .map_err(|source| CellsError::Stop {
                name: name.to_owned(),
                source,
            })?;
        self.running.remove(name);
        Ok(report)
    }
}

/// The service's face (aurae's `CellService`): stopping what is not running
/// is not an error.
struct CellService {
    executables: Executables,
}

impl CellService {
    fn start(&mut self, name: &str, cmd: &mut Command) -> Result<u32, CellsError> {
        self.executables.start(name, cmd)
    }

    /// Stops `name`; `Ok(None)` if nothing ran under that name (stopped
    /// already, or never started): stop is idempotent.
    async fn stop(&mut self, name: &str) -> Result<Option<DrainReport>, CellsError> {
        match self.executables.stop(name).await {
            Ok(r) => Ok(Some(r)),
            Err(CellsError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

const USAGE: &str = "usage: tokio-cells [--method M] [--grace D] -- CMD ARGS...";

/// The command line.
#[derive(Debug, PartialEq)]
struct Cli {
    method: Method,
    grace: Duration,
    command: Vec<OsString>,
}

impl Cli {
    fn parse(args: Vec<OsString>) -> Result<Cli, String> {
        let mut cli = Cli {
            method: Method::Auto,
            grace: Duration::from_secs(2),
            command: Vec::new(),
        };
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            let mut value = |flag: &str| {
                args.next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match a.to_str() {
                Some("--method") => {
                    cli.method = value("--method")?.parse().map_err(|e| format!("{e}"))?;
                }
                Some("--grace") => cli.grace = parse_duration(&value("--grace")?)?,
                Some("--") => {
                    cli.command = args.collect();
                    break;
                }
                _ => return Err(format!("unexpected argument {a:?}")),
            }
        }
        if cli.command.is_empty() {
            return Err("no command given".into());
        }
        Ok(cli)
    }
}

/// `250ms`, `2s`, `1m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?} (e.g. 250ms, 2s, 1m)");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u64 = s[..split].parse().map_err(|_| bad())?;
    match &s[split..] {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(bad()),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // This binary is its own shim program (see `teardown::run_shim`).
    if args.first().is_some_and(|a| a == "__shim") {
        teardown::run_shim(args.into_iter().skip(1));
    }
    let cli = match Cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tokio-cells: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match rt {
        Ok(rt) => rt.block_on(supervise(cli)),
        Err(e) => fail(125, &e),
    }
}

/// The catchable signals with a default action that kills or stops, which
/// the supervisor ignores (tokio refuses SIGILL, SIGFPE and SIGSEGV).
const IGNORED: [i32; 16] = [
    libc::SIGQUIT,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGSTKFLT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
];

/// Starts the cell, waits for a teardown signal or the leader's exit, stops it.
async fn supervise(cli: Cli) -> ExitCode {
    // Handlers before the tree exists, so no signal is missed. A handler
    // registered with tokio stays for the life of the process: for the
    // ignored ones the stream is dropped at once (the leader gets the default
    // dispositions back at exec).
    let kinds = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];
    let mut streams = Vec::new();
    for sig in kinds {
        match signal(SignalKind::from_raw(sig)) {
            Ok(s) => streams.push(s),
            Err(e) => return fail(125, &e),
        }
    }
    for sig in IGNORED.into_iter().chain([libc::SIGPWR, libc::SIGSYS]) {
        let _ = signal(SignalKind::from_raw(sig));
    }
    let mut opts = SpawnOptions::default();
    if let Ok(me) = std::env::current_exe() {
        opts = opts.with_shim(me, vec!["__shim".to_owned()]);
    }
    let mut cells = CellService {
        executables: Executables::new(cli.method, opts, cli.grace),
    };
    let mut cmd = Command::new(&cli.command[0]);
    cmd.args(&cli.command[1..]);
    const CELL: &str = "main";
    if let Err(e) = cells.start(CELL, &mut cmd) {
        let code = match &e {
            CellsError::Start {
                source: SpawnError::Unsupported { .. },
                ..
            } => 2,
            CellsError::Start {
                source: SpawnError::Spawn { source, .. },
                ..
            } if source.kind() == std::io::ErrorKind::NotFound => 127,
            CellsError::Start {
                source: SpawnError::Spawn { .. },
                ..
            } => 126,
            _ => 125,
        };
        return fail(code, &e);
    }
    let [term, int, hup] = &mut streams[..] else {
        unreachable!("three streams")
    };
    let (by_signal, own_exit) = tokio::select! {
        r = cells.executables.wait(CELL) => (None, r.ok()),
        _ = term.recv() => (Some(libc::SIGTERM), None),
        _ = int.recv() => (Some(libc::SIGINT), None),
        _ = hup.recv() => (Some(libc::SIGHUP), None),
    };
    let report = match cells.stop(CELL).await {
        Ok(Some(r)) => r,
        Ok(None) => unreachable!("the cell was started above"),
        Err(e) => return fail(125, &e),
    };
    let status = report.leader_status.or(own_exit.map(shell_status));
    match (status, by_signal) {
        (Some(s), _) => ExitCode::from(s.clamp(0, 255) as u8),
        (None, Some(sig)) => ExitCode::from((128 + sig) as u8),
        (None, None) => ExitCode::from(125),
    }
}

/// The status a shell shows: the exit code, or 128+signal.
fn shell_status(st: ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Says why on stderr (the error and its causes), and exits with `code`.
fn fail(code: u8, e: &dyn std::error::Error) -> ExitCode {
    let mut msg = format!("tokio-cells: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        msg.push_str(&format!(": {c}"));
        cause = c.source();
    }
    eprintln!("{msg}");
    ExitCode::from(code)
}

#[cfg(test)]
#[path = "tokio-cells/tests.rs"]
mod tests;
