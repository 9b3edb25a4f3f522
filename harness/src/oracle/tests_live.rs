//! [`LiveProc`] and its reader ([`super::procread`]) on directories laid out like
//! `/proc`: the fast path for a single-threaded process (no `task/` in the
//! look-alike: it is never listed), the walk over threads otherwise, the hand
//! parsers, and files cut short, missing or longer than a stack buffer.

use std::fs;
use std::path::Path;

use super::procread::{self, RelPath};
use super::*;

const SIGKILL: u64 = 1 << 8;
const SIGTERM: u64 = 1 << 14;
const PF_EXITING: u32 = 4;

/// A `stat` line as proc(5) lays it out (52 fields), with group 7, session 8 and
/// start time 4242.
fn stat_line(pid: i32, comm: &str, state: char, flags: u32, threads: i64) -> String {
    let mut f: Vec<String> = vec![
        pid.to_string(),
        format!("({comm})"),
        state.to_string(),
        "1".into(),  // 4 ppid
        "7".into(),  // 5 pgrp
        "8".into(),  // 6 session
        "0".into(),  // 7 tty_nr
        "-1".into(), // 8 tpgid
        flags.to_string(),
    ];
    f.extend(["0"; 8].map(String::from)); // 10-17
    f.extend(["20", "0"].map(String::from)); // 18 priority, 19 nice
    f.push(threads.to_string()); // 20
    f.push("0".into()); // 21 itrealvalue
    f.push("4242".into()); // 22 starttime
    f.extend(["0"; 30].map(String::from)); // 23-52
    f.join(" ") + "\n"
}

/// A `status` text with the given signal masks (0 where not given) and `NSpid`
/// line, in the kernel's order.
fn status_text(masks: &[(&str, u64)], nspid: &str) -> String {
    let mask = |name: &str| masks.iter().find(|(n, _)| *n == name).map_or(0, |m| m.1);
    let mut s = format!(
        "Name:\tnode\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t40\nPid:\t40\nPPid:\t1\n\
         Groups:\t \nNStgid:\t{nspid}\nNSpid:\t{nspid}\nThreads:\t1\nSigQ:\t0/96367\n"
    );
    for name in ["SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"] {
        s += &format!("{name}:\t{:016x}\n", mask(name));
    }
    s + "CapInh:\t0000000000000000\nuntag_mask:\t0xffffffffffffffff\n"
}

fn put(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A single-threaded process laid out without a `task/` directory.
fn lone(root: &Path, pid: i32, state: char, flags: u32, masks: &[(&str, u64)]) {
    put(
        root,
        &format!("{pid}/stat"),
        &stat_line(pid, "node", state, flags, 1),
    );
    put(
        root,
        &format!("{pid}/status"),
        &status_text(masks, &pid.to_string()),
    );
}

/// Thread `tid` of `pid` (under `task/`).
fn thread(root: &Path, pid: i32, tid: i32, state: char, flags: u32, masks: &[(&str, u64)]) {
    let dir = format!("{pid}/task/{tid}");
    put(
        root,
        &format!("{dir}/stat"),
        &stat_line(tid, "node", state, flags, 0),
    );
    put(
        root,
        &format!("{dir}/status"),
        &status_text(masks, &tid.to_string()),
    );
}

#[test]
fn a_command_name_with_spaces_and_parentheses_is_read_whole() {
    let line = stat_line(40, "we) (ird ) na)me", 'S', 0x40, 3);
    let (s, comm) = procread::parse_stat(line.as_bytes()).unwrap();
    assert_eq!(comm, b"we) (ird ) na)me");
    let want = procread::Stat {
        pid: 40,
        state: 'S',
        ppid: 1,
        pgrp: 7,
        session: 8,
        flags: 0x40,
        num_threads: 3,
        starttime: 4242,
    };
    assert_eq!(s, want);

    let root = tempfile::tempdir().unwrap();
    lone(root.path(), 40, 'S', 0, &[]);
    put(root.path(), "40/stat", &stat_line(40, "a) b", 'R', 0, 1));
    let s = LiveProc::at(root.path()).stat(40).unwrap();
    assert_eq!(
        (s.comm.as_str(), s.state, s.ppid, s.pgid, s.sid),
        ("a) b", 'R', 1, 7, 8)
    );
    assert_eq!((s.start_time, s.alive, s.dying), (4242, true, false));
}

#[test]
fn a_single_threaded_process_is_read_from_its_own_files_without_listing_threads() {
    let root = tempfile::tempdir().unwrap();
    let src = LiveProc::at(root.path());
    let look = |state: char, flags: u32, masks: &[(&str, u64)]| {
        lone(root.path(), 40, state, flags, masks);
        assert!(!root.path().join("40/task").exists());
        let s = src.stat(40).unwrap();
        assert!(s.alive, "{s:?}");
        s.dying
    };
    assert!(!look('S', 0, &[]));
    // Dying is only visible here through the fast path: with no `task/`, a walk
    // would find no thread to show it.
    assert!(look('S', 0, &[("SigPnd", SIGKILL)]));
    assert!(look('R', 0, &[("ShdPnd", SIGTERM)]));
    assert!(!look('R', 0, &[("ShdPnd", SIGTERM), ("SigBlk", SIGTERM)]));
    assert!(!look('R', 0, &[("ShdPnd", SIGTERM), ("SigCgt", SIGTERM)]));
    assert!(!look('T', 0, &[("ShdPnd", SIGTERM)]), "stopped");
    assert!(look('T', 0, &[("ShdPnd", SIGKILL)]));
    assert!(look('D', PF_EXITING | 0x40, &[]));
    assert!(!look('D', 0x40, &[]));
}

#[test]
fn a_multithreaded_process_is_read_from_every_thread() {
    let root = tempfile::tempdir().unwrap();
    let src = LiveProc::at(root.path());
    // The process-level status says SIGKILL: the walk reads the threads' own.
    lone(root.path(), 40, 'S', 0, &[("SigPnd", SIGKILL)]);
    put(root.path(), "40/stat", &stat_line(40, "node", 'S', 0, 2));
    thread(root.path(), 40, 40, 'S', 0, &[]);
    thread(root.path(), 40, 41, 'R', PF_EXITING, &[]);
    let s = src.stat(40).unwrap();
    assert!(
        s.alive && !s.dying,
        "one thread ending is not the process: {s:?}"
    );
    thread(root.path(), 40, 40, 'S', PF_EXITING, &[]);
    assert!(src.stat(40).unwrap().dying, "every live thread exiting");
    thread(root.path(), 40, 40, 'S', 0, &[]);
    thread(root.path(), 40, 41, 'R', 0, &[("SigPnd", SIGKILL)]);
    assert!(src.stat(40).unwrap().dying, "SIGKILL on one thread");
    thread(root.path(), 40, 41, 'Z', 0, &[("SigPnd", SIGKILL)]);
    let s = src.stat(40).unwrap();
    assert!(
        s.alive && !s.dying,
        "a dead thread's signals are not read: {s:?}"
    );
}

#[test]
fn a_zombie_main_thread_with_a_live_thread_is_alive_whatever_num_threads_says() {
    let root = tempfile::tempdir().unwrap();
    let src = LiveProc::at(root.path());
    thread(root.path(), 40, 40, 'Z', 0, &[]);
    thread(root.path(), 40, 41, 'S', 0, &[]);
    for threads in [0, 1, 2] {
        put(
            root.path(),
            "40/stat",
            &stat_line(40, "node", 'Z', 0, threads),
        );
        let s = src.stat(40).unwrap();
        assert!(s.alive && !s.dying && s.state == 'Z', "{threads}: {s:?}");
    }
    thread(root.path(), 40, 41, 'X', 0, &[]);
    for threads in [0, 1, 2] {
        // 1: a single-threaded zombie, the common case.
        put(
            root.path(),
            "40/stat",
            &stat_line(40, "node", 'Z', 0, threads),
        );
        assert!(src.stat(40).unwrap().is_zombie(), "{threads}");
    }
    fs::remove_dir_all(root.path().join("40/task")).unwrap();
    assert!(src.stat(40).unwrap().is_zombie(), "no threads to show");
}

#[test]
fn status_lines_are_read_in_any_order() {
    let text = "ShdPnd:\t0000000000004000\nNSpid:\t17\t1\nName:\tx y: z\nSigCgt:  10\n\
                SigPnd:\t100\nVmRSS:\t 1 kB\nSigIgn:\t1\nSigBlk:\tffffffffffffffff";
    let m = procread::parse_masks(text.as_bytes()).unwrap();
    let want = procread::Masks {
        sigpnd: SIGKILL,
        shdpnd: SIGTERM,
        sigblk: u64::MAX,
        sigign: 1,
        sigcgt: 0x10,
    };
    assert_eq!(m, want);
    assert_eq!(procread::parse_nspid(text.as_bytes()), Some(vec![17, 1]));

    let root = tempfile::tempdir().unwrap();
    put(root.path(), "40/stat", &stat_line(40, "node", 'S', 0, 1));
    put(root.path(), "40/status", text);
    let src = LiveProc::at(root.path());
    assert!(
        src.stat(40).unwrap().dying,
        "SIGKILL pending, blocked or not"
    );
    assert_eq!(src.nspid(40), Some(vec![17, 1]));
}

#[test]
fn a_file_cut_short_or_missing_is_none_not_a_panic() {
    let full = stat_line(40, "node", 'S', 0, 1);
    for cut in 0..full.len() - 1 {
        let line = &full.as_bytes()[..cut];
        let complete = full[..cut].split_whitespace().count() >= 22;
        assert_eq!(procread::parse_stat(line).is_some(), complete, "{cut}");
    }
    assert!(procread::parse_stat(b"40 (node").is_none());
    assert!(procread::parse_stat(b"40 )node( S").is_none());
    let bad = full.replace(" 4242 ", " 42x2 ");
    assert!(procread::parse_stat(bad.as_bytes()).is_none());
    let status = status_text(&[("SigPnd", SIGKILL)], "40");
    let no_cgt: String = status
        .lines()
        .filter(|l| !l.starts_with("SigCgt"))
        .collect();
    assert!(procread::parse_masks(no_cgt.as_bytes()).is_none());
    assert!(procread::parse_masks(status.replace("SigIgn:\t0", "SigIgn:\tg").as_bytes()).is_none());
    assert!(procread::parse_nspid(b"NSpid:\t1\tx\n").is_none());
    assert!(procread::parse_nspid(b"Pid:\t1\n").is_none());

    let root = tempfile::tempdir().unwrap();
    let src = LiveProc::at(root.path());
    assert_eq!(src.stat(40), None, "no such process");
    put(root.path(), "40/stat", "40 (node) S 1 7");
    assert_eq!(src.stat(40), None, "cut short");
    put(root.path(), "40/stat", "");
    assert_eq!(src.stat(40), None, "empty");
    // Without its status a lone thread's signals are unknown: not dying by them.
    put(root.path(), "40/stat", &stat_line(40, "node", 'S', 0, 1));
    let s = src.stat(40).unwrap();
    assert!(s.alive && !s.dying);
    assert_eq!(src.nspid(40), None);
    put(root.path(), "40/status", &no_cgt);
    assert!(
        !src.stat(40).unwrap().dying,
        "a mask missing: status unknown"
    );
    assert_eq!(src.children(40), Vec::<i32>::new());
    assert_eq!(src.cmdline(40), None);
    assert_eq!((src.own_pidns(), src.pidns_of(40)), (None, None));
    // A root that does not exist has nothing in it.
    let nowhere = LiveProc::at(root.path().join("nowhere"));
    assert_eq!((nowhere.pids(), nowhere.stat(40)), (vec![], None));
}

#[test]
fn a_status_longer_than_the_stack_buffer_is_read_whole() {
    let root = tempfile::tempdir().unwrap();
    lone(root.path(), 40, 'S', 0, &[("SigPnd", SIGKILL)]);
    let groups: String = (0..procread::STATUS_BUF).map(|i| format!(" {i}")).collect();
    let status = status_text(&[("SigPnd", SIGKILL)], "40\t3");
    let long = status.replace("Groups:\t ", &format!("Groups:\t{groups}"));
    assert!(long.find("SigPnd").unwrap() > 2 * procread::STATUS_BUF);
    put(root.path(), "40/status", &long);
    let src = LiveProc::at(root.path());
    assert!(src.stat(40).unwrap().dying);
    assert_eq!(src.nspid(40), Some(vec![40, 3]));
}

#[test]
fn children_files_longer_than_one_read_are_read_to_their_end() {
    let root = tempfile::tempdir().unwrap();
    thread(root.path(), 40, 40, 'S', 0, &[]);
    thread(root.path(), 40, 41, 'S', 0, &[]);
    let list = |r: std::ops::Range<i32>| r.map(|c| format!("{c} ")).collect::<String>();
    put(root.path(), "40/task/40/children", &list(1000..3000));
    // Not a number: skipped, and its neighbours still read.
    put(
        root.path(),
        "40/task/41/children",
        &(list(2500..4000) + "x1 99999999999 7"),
    );
    let want: Vec<i32> = (7..8).chain(1000..4000).collect();
    assert_eq!(LiveProc::at(root.path()).children(40), want);
}

#[test]
fn pids_are_the_numbered_entries_of_the_root() {
    let root = tempfile::tempdir().unwrap();
    for name in ["1", "22", "self", "3x", "+4", "-5", "007x"] {
        fs::create_dir(root.path().join(name)).unwrap();
    }
    put(root.path(), "uptime", "1.0 1.0\n");
    put(
        root.path(),
        "333",
        "a numbered file counts as the kernel lists it\n",
    );
    let mut pids = LiveProc::at(root.path()).pids();
    pids.sort_unstable();
    assert_eq!(pids, vec![1, 22, 333]);
}

#[test]
fn a_command_line_is_split_at_nuls_and_may_be_long() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "40/cmdline", "teardown\0node\0a b\0\0");
    let src = LiveProc::at(root.path());
    assert_eq!(src.cmdline(40).unwrap(), ["teardown", "node", "a b"]);
    let long = "y".repeat(3 * procread::CMDLINE_BUF);
    put(root.path(), "40/cmdline", &format!("x\0{long}\0"));
    assert_eq!(src.cmdline(40).unwrap(), ["x".to_string(), long]);
    put(root.path(), "40/cmdline", "");
    assert_eq!(src.cmdline(40).unwrap(), Vec::<String>::new(), "a zombie's");
}

#[test]
fn relative_paths_are_built_on_the_stack_and_name_nothing_for_a_negative_pid() {
    let p = RelPath::pid(40)
        .join("task")
        .join_num(2147483647)
        .join("children");
    assert_eq!(p.as_cstr().unwrap(), c"40/task/2147483647/children");
    assert_eq!(RelPath::pid(0).join("stat").as_cstr().unwrap(), c"0/stat");
    assert!(RelPath::pid(-1).join("stat").as_cstr().is_none());
    assert!(RelPath::pid(1).join_num(-2).as_cstr().is_none());
    assert!(RelPath::pid(1).join(&"x".repeat(70)).as_cstr().is_none());
    assert!(RelPath::pid(1).join("a\0b").as_cstr().is_none());
}
