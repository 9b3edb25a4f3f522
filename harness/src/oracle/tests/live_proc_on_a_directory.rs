//! [`LiveProc`] on a directory laid out like `/proc`: what it reads from
//! `stat`, `status`, `task/*` and `children` files.

use std::fs;
use std::path::Path;

use super::*;

fn stat_line(pid: i32, state: char, ppid: i32) -> String {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
    // cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime ...
    let mut fields = vec![
        pid.to_string(),
        "(node x)".into(),
        state.to_string(),
        ppid.to_string(),
        "7".into(),
        "8".into(),
    ];
    fields.extend(std::iter::repeat_n("0".to_string(), 15));
    fields.push("4242".into()); // field 22: starttime
    fields.extend(std::iter::repeat_n("0".to_string(), 30));
    fields.join(" ") + "\n"
}

fn process(root: &Path, pid: i32, ppid: i32, main: char, threads: &[(i32, char)]) {
    let dir = root.join(pid.to_string());
    fs::create_dir_all(dir.join("task")).unwrap();
    fs::write(dir.join("stat"), stat_line(pid, main, ppid)).unwrap();
    for &(tid, state) in threads {
        let t = dir.join("task").join(tid.to_string());
        fs::create_dir_all(&t).unwrap();
        fs::write(t.join("stat"), stat_line(tid, state, ppid)).unwrap();
        fs::write(t.join("children"), "").unwrap();
    }
}

#[test]
fn a_zombie_main_thread_with_a_sleeping_thread_is_read_as_alive() {
    let root = tempfile::tempdir().unwrap();
    process(root.path(), 40, 1, 'Z', &[(40, 'Z'), (41, 'S')]);
    let s = LiveProc::at(root.path()).stat(40).unwrap();
    assert_eq!(
        (s.state, s.alive, s.start_time, s.pgid, s.sid),
        ('Z', true, 4242, 7, 8)
    );
    assert_eq!(s.comm, "node x");
}

#[test]
fn a_process_whose_threads_are_all_zombies_is_read_as_dead() {
    let root = tempfile::tempdir().unwrap();
    process(root.path(), 40, 1, 'Z', &[(40, 'Z'), (41, 'X')]);
    assert!(!LiveProc::at(root.path()).stat(40).unwrap().alive);
}

/// Gives thread `tid` of `pid` a `status` file (this process's own, with
/// `SigPnd` replaced) and `flags` in its `stat`.
fn thread_signals(root: &Path, pid: i32, tid: i32, sigpnd: u64, flags: u32) {
    thread_status(root, pid, tid, &[("SigPnd", sigpnd)], flags)
}

/// Like [`thread_signals`], with any of the signal masks replaced.
fn thread_status(root: &Path, pid: i32, tid: i32, masks: &[(&str, u64)], flags: u32) {
    let t = root.join(format!("{pid}/task/{tid}"));
    let status: String = fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .map(|l| {
            let name = l.split(':').next().unwrap_or("");
            let default = match name {
                "SigPnd" | "ShdPnd" | "SigBlk" | "SigIgn" | "SigCgt" => Some(0),
                _ => None,
            };
            match masks
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, m)| *m)
                .or(default)
            {
                Some(mask) => format!("{name}:\t{mask:016x}\n"),
                None => format!("{l}\n"),
            }
        })
        .collect();
    fs::write(t.join("status"), status).unwrap();
    let stat = fs::read_to_string(t.join("stat")).unwrap();
    let mut fields: Vec<String> = stat.split_whitespace().map(str::to_owned).collect();
    fields[9] = flags.to_string(); // "(node x)" is two fields here: flags is the 9th
    fs::write(t.join("stat"), fields.join(" ") + "\n").unwrap();
}

const SIGKILL: u64 = 1 << 8;
const PF_EXITING: u32 = 4;

#[test]
fn sigkill_pending_on_any_thread_is_read_as_dying() {
    let root = tempfile::tempdir().unwrap();
    process(root.path(), 40, 1, 'S', &[(40, 'S'), (41, 'R')]);
    thread_signals(root.path(), 40, 40, 0, 0);
    thread_signals(root.path(), 40, 41, 0, 0);
    let src = LiveProc::at(root.path());
    assert!(!src.stat(40).unwrap().dying);
    thread_signals(root.path(), 40, 41, SIGKILL | 1 << 14, 0);
    let s = src.stat(40).unwrap();
    assert!(s.alive && s.dying, "{s:?}");
}

#[test]
fn a_pending_default_fatal_signal_is_dying_unless_blocked_caught_ignored_or_stopped() {
    const SIGTERM: u64 = 1 << 14;
    const SIGCHLD: u64 = 1 << 16;
    let root = tempfile::tempdir().unwrap();
    process(root.path(), 40, 1, 'R', &[(40, 'R')]);
    let src = LiveProc::at(root.path());
    let dying = |masks: &[(&str, u64)]| {
        thread_status(root.path(), 40, 40, masks, 0);
        src.stat(40).unwrap().dying
    };
    // On its way to do_exit: its own SIGKILL dequeued, the SIGTERM still shared.
    assert!(dying(&[("ShdPnd", SIGTERM)]));
    assert!(
        !dying(&[("ShdPnd", SIGCHLD)]),
        "SIGCHLD is ignored by default"
    );
    assert!(!dying(&[("ShdPnd", SIGTERM), ("SigBlk", SIGTERM)]));
    assert!(!dying(&[("ShdPnd", SIGTERM), ("SigCgt", SIGTERM)]));
    assert!(!dying(&[("ShdPnd", SIGTERM), ("SigIgn", SIGTERM)]));
    assert!(dying(&[("ShdPnd", SIGKILL), ("SigBlk", u64::MAX)]));
    // SIGTERM does not reach a stopped process until SIGCONT: not dying.
    process(root.path(), 40, 1, 'T', &[(40, 'T')]);
    assert!(!dying(&[("ShdPnd", SIGTERM)]));
    assert!(dying(&[("ShdPnd", SIGKILL)]));
}

#[test]
fn pf_exiting_is_dying_only_when_every_live_thread_has_it() {
    let root = tempfile::tempdir().unwrap();
    process(root.path(), 40, 1, 'S', &[(40, 'S'), (41, 'R'), (42, 'Z')]);
    thread_signals(root.path(), 40, 40, 0, 0);
    thread_signals(root.path(), 40, 41, 0, PF_EXITING); // one thread ending
    let src = LiveProc::at(root.path());
    assert!(!src.stat(40).unwrap().dying);
    thread_signals(root.path(), 40, 40, 0, PF_EXITING | 0x40);
    assert!(src.stat(40).unwrap().dying);
}

#[test]
fn children_are_the_union_of_every_threads_children_file() {
    let root = tempfile::tempdir().unwrap();
    process(root.path(), 40, 1, 'S', &[(40, 'S'), (41, 'S')]);
    fs::write(root.path().join("40/task/40/children"), "50 51 ").unwrap();
    fs::write(root.path().join("40/task/41/children"), "51 52 ").unwrap();
    assert_eq!(LiveProc::at(root.path()).children(40), vec![50, 51, 52]);
}

#[test]
fn a_glance_reads_only_the_stat_unless_it_is_not_enough() {
    let root = tempfile::tempdir().unwrap();
    process(root.path(), 40, 3, 'S', &[(40, 'S'), (41, 'R')]);
    thread_signals(root.path(), 40, 40, 0, 0);
    thread_signals(root.path(), 40, 41, SIGKILL, 0);
    let src = LiveProc::at(root.path());
    let full = src.stat(40).unwrap();
    assert!(full.dying, "{full:?}");
    let asked = std::cell::Cell::new(0);
    let first = src
        .glance(40, &|s| {
            asked.set(asked.get() + 1);
            s.ppid == 3 && s.start_time == 4242
        })
        .unwrap();
    // The first look: identity and parent, but not the threads' signals.
    assert_eq!(
        (first.ppid, first.start_time, first.dying),
        (3, 4242, false)
    );
    // Not enough: the answer is the full look's.
    assert_eq!(src.glance(40, &|_| false), Some(full));
    assert_eq!(asked.get(), 1);
    assert_eq!(src.glance(99, &|_| true), None);
}
