//! `bench-tree`: the single-threaded helper that builds the benched trees.
//!
//! The bench process is multithreaded (criterion), so it never forks without exec
//! itself: it spawns this helper with `Command`, and the helper — which never starts
//! a thread — forks.
//!
//! ```text
//! bench-tree [--join CGROUP_PROCS] --ready FIFO flat N
//! bench-tree [--join CGROUP_PROCS] --ready FIFO chain N
//! bench-tree [--join CGROUP_PROCS] floor N
//! bench-tree [--join CGROUP_PROCS] --ready FIFO node TEARDOWN_BIN SPEC
//! ```
//!
//! * `--join`: first move this process into the cgroup whose `cgroup.procs` file is
//!   given (the bench's observer cgroup), so the whole tree starts inside it.
//! * `flat N`: fork `N - 1` children; every process of the tree (children first,
//!   the leader last) writes its PID as a native-endian `i32` to `FIFO`, then
//!   `pause()`s until killed.
//! * `chain N`: write the PID record, then fork and exec `bench-tree chain N-1`
//!   (down to 1), then `pause()`.
//! * `floor N`: the kernel's own cost, as a server. For every native-endian `u64`
//!   `iters` read from stdin: `iters` times fork `N` pausing children into one new
//!   process group, wait until all are running, then time `killpg(SIGKILL)` and a
//!   `waitpid` of each; write the summed nanoseconds as a native-endian `u64` to
//!   stdout. Exits at end of input.
//! * `node TEARDOWN_BIN SPEC`: exec `TEARDOWN_BIN node SPEC` (the harness's node
//!   interpreter) with the FIFO as its report pipe (`TEARDOWN_REPORT_FD`): the
//!   `mixed` trees. Their lifetime is the interpreter's business (its storms and
//!   delays are bounded); the bench's observer kills whatever is left.
//!
//! Every `flat`/`chain`/`floor` tree process arms `alarm(LIFETIME_SECS)`: if the bench dies and nobody
//! tears a tree down, it still dies within that bound.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, alarm, pause, setpgid};

use teardown_harness::node::record::REPORT_FD_ENV;
use teardown_harness::sys::{self, Forked};

use crate::shape::{Shape, TreeShape};

/// Seconds a tree process lives at most if nobody kills it.
pub const LIFETIME_SECS: u32 = 120;

/// What the helper was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Job {
    /// Build a tree and report readiness to a FIFO.
    Tree { shape: TreeShape, ready: PathBuf },
    /// Serve floor measurements of `n` processes.
    Floor { n: u32 },
    /// Become the node interpreter's leader for `spec`, reporting to the FIFO.
    Node {
        teardown: PathBuf,
        spec: String,
        ready: PathBuf,
    },
}

/// Parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Args {
    join: Option<PathBuf>,
    job: Job,
}

const USAGE: &str = "usage: bench-tree [--join CGROUP_PROCS] [--ready FIFO] ((flat|chain|floor) N | node TEARDOWN_BIN SPEC)";

fn parse(args: &[String]) -> Result<Args, String> {
    let mut join = None;
    let mut ready = None;
    let mut rest = args;
    loop {
        match rest {
            [flag, value, tail @ ..] if flag == "--join" => {
                join = Some(PathBuf::from(value));
                rest = tail;
            }
            [flag, value, tail @ ..] if flag == "--ready" => {
                ready = Some(PathBuf::from(value));
                rest = tail;
            }
            _ => break,
        }
    }
    if let [what, teardown, spec] = rest {
        if what != "node" {
            return Err(USAGE.into());
        }
        let ready = ready.ok_or("node needs --ready FIFO")?;
        let job = Job::Node {
            teardown: PathBuf::from(teardown),
            spec: spec.clone(),
            ready,
        };
        return Ok(Args { join, job });
    }
    let [what, n] = rest else {
        return Err(USAGE.into());
    };
    let n: u32 = n.parse().map_err(|_| format!("bad size \"{n}\""))?;
    if n == 0 || n > TreeShape::MAX_N {
        return Err(format!("size {n} out of range 1..={}", TreeShape::MAX_N));
    }
    let job = if what == "floor" {
        Job::Floor { n }
    } else {
        let shape: Shape = what.parse()?;
        let ready = ready.ok_or("flat and chain need --ready FIFO")?;
        Job::Tree {
            shape: TreeShape { shape, n },
            ready,
        }
    };
    Ok(Args { join, job })
}

/// The helper's `main`.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("bench-tree: {message}");
            return ExitCode::from(2);
        }
    };
    let result = run(&args);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-tree: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    // The helper forks without exec: it must be, and stay, single-threaded.
    sys::enter_single_threaded()?;
    if let Some(procs) = &args.join {
        // Writing 0 to `cgroup.procs` moves the writing process.
        std::fs::write(procs, b"0")
            .map_err(|e| io::Error::new(e.kind(), format!("joining {}: {e}", procs.display())))?;
    }
    match &args.job {
        Job::Tree { shape, ready } => {
            let ready = open_ready(ready)?;
            match shape.shape {
                Shape::Flat => flat(shape.n, ready.as_fd()),
                Shape::Chain => chain(shape.n, ready.as_fd(), args),
            }
        }
        Job::Floor { n } => floor_server(*n),
        Job::Node {
            teardown,
            spec,
            ready,
        } => exec_node(teardown, spec, ready),
    }
}

/// Execs `TEARDOWN_BIN node SPEC` with the FIFO as its report pipe: the node
/// interpreter writes its fixed-size readiness records there, the leader's last.
fn exec_node(teardown: &Path, spec: &str, ready: &PathBuf) -> io::Result<()> {
    let ready = open_ready(ready)?;
    // Inherited across the exec: the report fd of every node.
    fcntl(ready.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).map_err(io::Error::from)?;
    let error = Command::new(teardown)
        .arg("node")
        .arg(spec)
        .env(REPORT_FD_ENV, ready.as_raw_fd().to_string())
        .exec();
    Err(io::Error::new(
        error.kind(),
        format!("exec {} node: {error}", teardown.display()),
    ))
}

/// Opens the readiness FIFO for writing; fails at once if the bench is not reading.
fn open_ready(path: &PathBuf) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    // Blocking writes from now on: a record must never be dropped.
    fcntl(file.as_fd(), FcntlArg::F_SETFL(OFlag::empty())).map_err(io::Error::from)?;
    Ok(file)
}

/// How long `fork` may keep failing with `EAGAIN` (no free PID or task for a
/// moment on a machine shared with other fork-heavy work) before the helper gives
/// up: longer than the harness's default, for the thousand-process trees.
const FORK_PATIENCE: Duration = Duration::from_secs(10);

/// `fork`, retried while it fails with `EAGAIN` (see [`sys::fork_patiently`]).
fn fork_retrying() -> io::Result<Forked> {
    sys::fork_patiently(FORK_PATIENCE)
}

/// Writes this process's PID record (4 bytes: atomic on a pipe).
fn report_ready(ready: BorrowedFd<'_>) -> io::Result<()> {
    let pid = std::process::id() as i32;
    let written = nix::unistd::write(ready, &pid.to_ne_bytes()).map_err(io::Error::from)?;
    if written != 4 {
        return Err(io::Error::other("short write of a readiness record"));
    }
    Ok(())
}

/// Sleeps until a signal kills this process (or the lifetime alarm does).
fn pause_forever() -> ! {
    alarm::set(LIFETIME_SECS);
    loop {
        pause();
    }
}

/// A forked tree process: report, then pause. Never returns.
fn become_paused_node(ready: BorrowedFd<'_>) -> ! {
    if let Err(error) = report_ready(ready) {
        eprintln!("bench-tree: {error}");
        std::process::exit(1);
    }
    pause_forever()
}

fn flat(n: u32, ready: BorrowedFd<'_>) -> io::Result<()> {
    alarm::set(LIFETIME_SECS);
    for _ in 1..n {
        if fork_retrying()? == Forked::Child {
            become_paused_node(ready);
        }
    }
    report_ready(ready)?;
    pause_forever()
}

fn chain(n: u32, ready: BorrowedFd<'_>, args: &Args) -> io::Result<()> {
    alarm::set(LIFETIME_SECS);
    report_ready(ready)?;
    if n > 1 {
        let Job::Tree {
            ready: ready_path, ..
        } = &args.job
        else {
            unreachable!("chain is a tree job")
        };
        let exe = cstring(std::env::current_exe()?.into_os_string())?;
        let argv = [
            exe.clone(),
            cstring("--ready".into())?,
            cstring(ready_path.clone().into_os_string())?,
            cstring("chain".into())?,
            cstring((n - 1).to_string().into())?,
        ];
        if fork_retrying()? == Forked::Child {
            let error = nix::unistd::execv(&exe, &argv).unwrap_err();
            eprintln!("bench-tree: exec {exe:?}: {error}");
            std::process::exit(1);
        }
    }
    pause_forever()
}

fn cstring(s: std::ffi::OsString) -> io::Result<CString> {
    use std::os::unix::ffi::OsStringExt;
    CString::new(s.into_vec()).map_err(io::Error::other)
}

/// Serves floor measurements until stdin ends.
fn floor_server(n: u32) -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut request = [0u8; 8];
    loop {
        match stdin.read_exact(&mut request) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let iters = u64::from_ne_bytes(request);
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += floor_once(n)?;
        }
        stdout.write_all(&(total.as_nanos() as u64).to_ne_bytes())?;
        stdout.flush()?;
    }
}

/// Forks `n` pausing children into one new group, waits until all run, and times
/// `killpg(SIGKILL)` plus a `waitpid` of each.
fn floor_once(n: u32) -> io::Result<Duration> {
    let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let mut pids = Vec::with_capacity(n as usize);
    let mut pgid = Pid::from_raw(0);
    for _ in 0..n {
        match fork_retrying()? {
            Forked::Child => {
                drop(read_end);
                // Join (or, for the first child, create) the group; the parent does
                // the same so neither order of the two calls races.
                let _ = setpgid(Pid::from_raw(0), pgid);
                if nix::unistd::write(&write_end, &[1]).is_err() {
                    std::process::exit(1);
                }
                drop(write_end);
                pause_forever();
            }
            Forked::Parent(child) => {
                let child = Pid::from_raw(child);
                if pgid.as_raw() == 0 {
                    pgid = child;
                }
                setpgid(child, pgid).map_err(io::Error::from)?;
                pids.push(child);
            }
        }
    }
    drop(write_end);
    let mut ready = File::from(read_end);
    let mut bytes = vec![0u8; n as usize];
    ready.read_exact(&mut bytes)?;

    let start = Instant::now();
    killpg(pgid, Signal::SIGKILL).map_err(io::Error::from)?;
    for pid in &pids {
        waitpid(*pid, None).map_err(io::Error::from)?;
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn a_flat_tree_with_join_and_ready_parses() {
        let parsed = parse(&args("--join /cg/cgroup.procs --ready /tmp/f flat 10")).unwrap();
        assert_eq!(parsed.join, Some(PathBuf::from("/cg/cgroup.procs")));
        assert_eq!(
            parsed.job,
            Job::Tree {
                shape: TreeShape {
                    shape: Shape::Flat,
                    n: 10
                },
                ready: PathBuf::from("/tmp/f")
            }
        );
    }

    #[test]
    fn a_node_tree_parses_with_its_spec_in_one_argument() {
        let line = [
            "--ready",
            "/f",
            "node",
            "/bin/teardown",
            "pause [fork: setsid pause]",
        ];
        let parsed = parse(&line.map(str::to_owned)).unwrap();
        assert_eq!(
            parsed.job,
            Job::Node {
                teardown: PathBuf::from("/bin/teardown"),
                spec: "pause [fork: setsid pause]".into(),
                ready: PathBuf::from("/f"),
            }
        );
    }

    #[test]
    fn a_tree_without_a_ready_fifo_is_refused() {
        assert!(parse(&args("chain 3")).unwrap_err().contains("--ready"));
    }

    #[test]
    fn sizes_outside_the_limit_are_refused() {
        assert!(parse(&args("floor 0")).is_err());
        assert!(parse(&args("floor 1001")).is_err());
        assert_eq!(
            parse(&args("floor 1000")).unwrap().job,
            Job::Floor { n: 1000 }
        );
    }
}
