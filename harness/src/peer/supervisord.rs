//! `teardown peer-wrap supervisord -- CMD...`: CMD as the one program of a
//! real supervisord (see the module above).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::node::record::REPORT_FD_ENV;

/// How long supervisord gives the group after SIGTERM before SIGKILL (its
/// `stopwaitsecs`): the peer's grace.
pub const STOPWAITSECS: u64 = 1;

/// Runs `argv` under supervisord; returns the exit code.
pub fn main(argv: &[String]) -> Result<ExitCode, String> {
    if argv.is_empty() {
        return Err("no command given".into());
    }
    let bin = which("supervisord").ok_or("supervisord is not installed (not found on PATH)")?;
    // Every signal, not only the wrapper's own (see the module above): the
    // tree's signals to its ancestors reach supervisord, which is one of them,
    // and not the wrapper, which is our scaffolding. A wrapper killed by the
    // tree's SIGUSR2 before its relay copied the records made the trial an
    // `error` ("the tree ended before it was ready") one run in two.
    nix::sys::signal::SigSet::all()
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let dir = Dir::new()?;
    // supervisord closes what it inherits: the records go through a FIFO.
    let relay = match std::env::var(REPORT_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        Some(fd) => Some(start_relay(&dir.0, fd)?),
        None => None,
    };
    let conf = dir.0.join("supervisord.conf");
    fs::write(&conf, config(&dir.0, argv, relay.is_some()))
        .map_err(|e| format!("write {}: {e}", conf.display()))?;
    let mut cmd = Command::new(bin);
    cmd.args(["-n", "-c"]).arg(&conf).stdin(Stdio::null());
    crate::sys::unblock_signals_in_child(&mut cmd);
    // A wrapper that is killed takes supervisord with it: SIGTERM, so that it
    // stops its program's group first.
    crate::sys::die_with_parent(&mut cmd, Signal::SIGTERM);
    let mut sd = cmd
        .spawn()
        .map_err(|e| format!("cannot start supervisord: {e}"))?;
    let code = supervise(&mut sd, &dir.0.join("started"));
    drop(relay);
    Ok(code)
}

/// `started`: the file the program's script makes before it execs the command
/// (a program that exits between two looks at supervisord's children still
/// counts as having run).
fn supervise(sd: &mut Child, started: &Path) -> ExitCode {
    let pid = sd.id() as i32;
    loop {
        let sig = super::next_signal(Duration::from_millis(20));
        if let Ok(Some(st)) = sd.try_wait() {
            return ExitCode::from(super::shell_status(st));
        }
        let stop = match sig {
            Some(Signal::SIGTERM | Signal::SIGINT) => true,
            _ => {
                // The program exited on its own (autorestart=false): a one-shot
                // wrapper ends there.
                started.exists() && !children(pid)
            }
        };
        if stop {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
            let st = sd.wait();
            return match sig {
                Some(s @ (Signal::SIGTERM | Signal::SIGINT)) => ExitCode::from(128 + s as u8),
                _ => st.map_or(ExitCode::from(1), |s| {
                    ExitCode::from(super::shell_status(s))
                }),
            };
        }
    }
}

/// Whether `pid` has a child process (its threads' `children` files).
fn children(pid: i32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks
        .flatten()
        .any(|t| fs::read_to_string(t.path().join("children")).is_ok_and(|c| !c.trim().is_empty()))
}

fn config(dir: &Path, argv: &[String], relay: bool) -> String {
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let cmd: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    let script = dir.join("program.sh");
    let fifo = dir.join("records");
    let mut body = format!(
        "#!/bin/sh\n: > {}\n",
        quote(&dir.join("started").display().to_string())
    );
    if relay {
        body.push_str(&format!(
            "exec 3>{}\n{REPORT_FD_ENV}=3; export {REPORT_FD_ENV}\n",
            quote(&fifo.display().to_string())
        ));
    }
    body.push_str(&format!("exec {}\n", cmd.join(" ")));
    // A failure to write it shows as supervisord's FATAL start.
    let _ = fs::write(&script, body);
    let d = dir.display();
    format!(
        "[supervisord]\nnodaemon=true\nuser=root\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nchildlogdir={d}\n\n\
         [program:tree]\ncommand=/bin/sh {script}\nautostart=true\nautorestart=false\nstartsecs=0\n\
         stopsignal=TERM\nstopasgroup=true\nkillasgroup=true\nstopwaitsecs={STOPWAITSECS}\n\
         stdout_logfile={d}/tree.log\nredirect_stderr=true\n",
        script = script.display()
    )
}

/// A private directory, removed with everything in it on drop. A wrapper that
/// is killed cannot remove it: each holds an exclusive `flock` on its `lock`
/// file for its whole life, and the next wrapper removes every directory whose
/// lock it can take (its owner is gone).
struct Dir(PathBuf, #[allow(dead_code)] fs::File);

const DIR_PREFIX: &str = "teardown-supervisord-";

impl Dir {
    fn new() -> Result<Dir, String> {
        reclaim_stale();
        // Unique across PID namespaces (wrappers of two trials may share a PID).
        let template = std::env::temp_dir().join(format!("{DIR_PREFIX}XXXXXX"));
        let dir = nix::unistd::mkdtemp(&template)
            .map_err(|e| format!("create a directory like {}: {e}", template.display()))?;
        // The lock file appears under its name already locked (made and locked
        // as `lock.new`, then renamed): a wrapper reclaiming stale directories
        // between our create and our flock would take this one for stale.
        let fresh = dir.join("lock.new");
        let lock = lock(&fresh).ok_or_else(|| format!("cannot lock {}", dir.display()))?;
        fs::rename(&fresh, dir.join("lock"))
            .map_err(|e| format!("rename {}: {e}", fresh.display()))?;
        Ok(Dir(dir, lock))
    }
}

/// Opens (creating) `path` and takes an exclusive lock on it without waiting.
fn lock(path: &Path) -> Option<fs::File> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).ok()?;
    Some(f)
}

/// Removes the directories of wrappers that are gone (their lock is free).
fn reclaim_stale() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = e.path();
        // A directory made a moment ago may not have its lock yet: its owner
        // takes it right after mkdtemp (and `lock` appears already locked), so
        // only one without a lock file that is older than a minute is taken for
        // stale.
        let lock_path = dir.join("lock");
        let stale = if lock_path.exists() {
            lock(&lock_path).is_some()
        } else {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|d| d > Duration::from_secs(60)))
        };
        if stale {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Makes the FIFO and copies what comes through it to `fd` (the warden's
/// records pipe) from a thread; the FIFO is held open for writing by the
/// wrapper too, so the copy never sees an early end.
fn start_relay(dir: &Path, fd: i32) -> Result<std::thread::JoinHandle<()>, String> {
    let fifo = dir.join("records");
    nix::unistd::mkfifo(
        &fifo,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .map_err(|e| format!("mkfifo {}: {e}", fifo.display()))?;
    // O_RDWR: opening never blocks, and reads never see end of file.
    let mut r = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&fifo)
        .map_err(|e| format!("open {}: {e}", fifo.display()))?;
    let out = crate::sys::adopt_inherited_fd(fd).map_err(|e| format!("records fd {fd}: {e}"))?;
    let _ = rustix::io::fcntl_setfd(&out, rustix::io::FdFlags::CLOEXEC);
    let mut out = fs::File::from(out);
    Ok(std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    }))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(program))
            .find(|c| c.is_file())
    })
}
