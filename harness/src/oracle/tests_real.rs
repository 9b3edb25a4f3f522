//! [`LiveProc`] on the real `/proc`, compared with the `procfs`-based reader it
//! replaced (kept here, as it was, as the reference): this test process (made
//! multithreaded: its threads are walked) and a `sleep` child (single-threaded:
//! the fast path) running, stopped with SIGTERM pending, and a zombie.

use std::fmt::Debug;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::procread;
use super::source::{NOT_FATAL_BY_DEFAULT, SIGKILL_BIT, settle};
use super::*;

const PF_EXITING: u32 = 0x4;

fn is_dead_state(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

fn process(root: &Path, pid: i32) -> Option<procfs::process::Process> {
    procfs::process::Process::new_with_root(root.join(pid.to_string())).ok()
}

/// The reference: one look, as `LiveProc::read` was with `procfs`.
fn reference_read(root: &Path, pid: i32) -> Option<ProcStat> {
    let p = process(root, pid)?;
    let procfs::process::Stat {
        pid,
        ppid,
        pgrp,
        session,
        starttime,
        state,
        comm,
        ..
    } = p.stat().ok()?;
    let alive = !is_dead_state(state)
        || p.tasks().is_ok_and(|mut tasks| {
            tasks.any(|t| {
                t.and_then(|t| t.stat())
                    .is_ok_and(|ts| !is_dead_state(ts.state))
            })
        });
    let dying = alive && reference_dying(&p);
    Some(ProcStat {
        pid,
        ppid,
        pgid: pgrp,
        sid: session,
        start_time: starttime,
        state,
        alive,
        dying,
        comm,
    })
}

fn reference_dying(p: &procfs::process::Process) -> bool {
    let Ok(tasks) = p.tasks() else {
        return false;
    };
    let mut live = 0;
    let mut exiting = 0;
    for t in tasks.filter_map(Result::ok) {
        let Ok(stat) = t.stat() else { continue };
        if is_dead_state(stat.state) {
            continue;
        }
        live += 1;
        if let Ok(st) = t.status() {
            let pending = st.sigpnd | st.shdpnd;
            let stopped = matches!(stat.state, 'T' | 't');
            let fatal = pending & !(st.sigblk | st.sigign | st.sigcgt) & !NOT_FATAL_BY_DEFAULT;
            if pending & SIGKILL_BIT != 0 || (fatal != 0 && !stopped) {
                return true;
            }
        }
        if stat.flags & PF_EXITING != 0 {
            exiting += 1;
        }
    }
    live > 0 && exiting == live
}

fn reference_stat(root: &Path, pid: i32) -> Option<ProcStat> {
    settle(reference_read(root, pid)?, || reference_read(root, pid))
}

fn reference_children(root: &Path, pid: i32) -> Vec<i32> {
    let Some(tasks) = process(root, pid).and_then(|p| p.tasks().ok()) else {
        return Vec::new();
    };
    let mut out: Vec<i32> = tasks
        .filter_map(Result::ok)
        .filter_map(|t| t.children().ok())
        .flatten()
        .map(|c| c as i32)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn reference_pids(root: &Path) -> Vec<i32> {
    let mut out: Vec<i32> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

/// Both readers' answers once they agree: a live process may change between two
/// looks (a thread runs, another test forks), so a disagreement is read again,
/// for up to 2 s.
fn agree<T: PartialEq + Debug>(what: &str, mut both: impl FnMut() -> (T, T)) -> T {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let (lean, reference) = both();
        if lean == reference {
            return lean;
        }
        assert!(
            Instant::now() < until,
            "{what}: lean {lean:?} != procfs {reference:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A `sleep` child, killed and reaped however the test ends.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to 10 s) until `pid` as read by `src` satisfies `ok`.
fn until(src: &LiveProc, pid: i32, ok: impl Fn(&ProcStat) -> bool) -> ProcStat {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = src.stat(pid).expect("the child is ours until reaped");
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "never: {s:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn threads_of(pid: i32) -> i64 {
    let line = std::fs::read(format!("/proc/{pid}/stat")).unwrap();
    procread::parse_stat(&line).unwrap().0.num_threads
}

#[test]
fn the_lean_reader_reads_the_real_proc_as_procfs_did() {
    let root = PathBuf::from("/proc");
    let lean = LiveProc::default();
    let (park, parked) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = parked.recv();
    });
    let me = std::process::id() as i32;
    assert!(threads_of(me) > 1);

    let mut kid = Sleeper(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = kid.0.id() as i32;
    let kid_pid = Pid::from_raw(pid).unwrap();
    assert_eq!(threads_of(pid), 1);

    let s = agree("me", || (lean.stat(me), reference_stat(&root, me))).unwrap();
    assert!(s.alive && !s.dying && s.pid == me, "{s:?}");
    let s = agree("sleep", || (lean.stat(pid), reference_stat(&root, pid))).unwrap();
    assert!(
        s.alive && !s.dying && s.ppid == me && s.comm == "sleep",
        "{s:?}"
    );
    let children = agree("children", || {
        (lean.children(me), reference_children(&root, me))
    });
    assert!(children.contains(&pid), "{children:?}");
    let pids = agree("pids", || {
        let mut l = lean.pids();
        l.sort_unstable();
        (l, reference_pids(&root))
    });
    assert!(pids.contains(&me) && pids.contains(&pid));
    for p in [me, pid] {
        let reference = process(&root, p).and_then(|p| p.status().ok()?.nspid);
        assert_eq!(lean.nspid(p), reference);
    }
    // The exec sets the command name before the new arguments are in place:
    // wait for them (a race seen under `cargo test`: `comm` sleep, `cmdline` empty).
    let deadline = Instant::now() + Duration::from_secs(10);
    while lean.cmdline(pid).is_some_and(|c| c.is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(lean.cmdline(pid).unwrap(), ["sleep", "60"]);
    let ns = std::fs::metadata("/proc/self/ns/pid").unwrap().ino();
    assert_eq!((lean.own_pidns(), lean.pidns_of(pid)), (Some(ns), Some(ns)));

    // Stopped with SIGTERM pending: it does not run, so it is not dying.
    rustix::process::kill_process(kid_pid, Signal::STOP).unwrap();
    until(&lean, pid, |s| s.state == 'T');
    rustix::process::kill_process(kid_pid, Signal::TERM).unwrap();
    let s = agree("stopped", || (lean.stat(pid), reference_stat(&root, pid))).unwrap();
    assert!(s.state == 'T' && s.alive && !s.dying, "{s:?}");

    // Continued, it dies of the SIGTERM: a zombie until we reap it.
    rustix::process::kill_process(kid_pid, Signal::CONT).unwrap();
    until(&lean, pid, |s| !s.alive);
    let s = agree("zombie", || (lean.stat(pid), reference_stat(&root, pid))).unwrap();
    assert!(s.is_zombie() && s.state == 'Z', "{s:?}");
    assert_eq!(lean.cmdline(pid).unwrap(), Vec::<String>::new());
    let status = kid.0.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM)
    );
    assert_eq!(lean.stat(pid), None, "reaped");

    drop(park);
    thread.join().unwrap();
}
