//! The upward climb, async-signal-safe: the ppid chain from this process up, and
//! the signals an upward trait sends along it (`kill-parent`, `kill-ancestors`,
//! and from a SIGTERM handler their twins `term-kill-parent`,
//! `term-kill-ancestors`), under the safety rule documented in
//! `crate::node::upward`: never PID 1 or below, never the warden or above it.
//!
//! It lives here, beside the handlers, because it runs in one: it allocates
//! nothing, takes no lock and makes only raw system calls (rustix), reading
//! `/proc` into stack buffers.
//!
//! # PID namespaces
//!
//! `/proc` need not be of the node's own PID namespace: the climb reads each
//! ancestor's `NSpid` line: the first entry is its PID in `/proc`'s namespace
//! (which `/proc/<pid>` takes), the entry at this node's depth its PID here
//! (which `pidfd_open` takes). An ancestor with fewer entries lives outside this
//! node's namespace: the climb stops.
//!
//! Each signal goes by pidfd after an identity check: the pidfd is opened on the
//! PID the climb found, then `/proc/<pid>/stat` is read again and must show the
//! same start time, so a PID reused meanwhile is never signalled.

use std::ffi::CStr;

use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, PidfdFlags, Signal};

/// Whom an upward trait signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The parent (`getppid()`).
    Parent,
    /// Every ancestor, parent first.
    Ancestors,
}

/// One ancestor as the climb found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ancestor {
    /// Its PID in this node's namespace.
    own: i32,
    /// Its PID in `/proc`'s namespace.
    proc_pid: i32,
    /// Its start time (clock ticks since boot).
    start: u64,
}

/// Why a climb stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Top {
    /// At the warden.
    Warden,
    /// At a parent outside this node's PID namespace (parent PID 0, or fewer
    /// `NSpid` entries).
    Boundary,
    /// At PID 1 of a nested PID namespace (the namespace's init).
    NestedInit,
    /// At PID 1 of `/proc`'s own namespace, the warden not met.
    Init,
    /// `/proc` could not show the next step.
    Unreadable,
}

/// The most ancestors a climb visits (a spec is at most 256 deep; what is above
/// its leader is a handful of processes).
const MAX_CLIMB: usize = 4096;

/// Sends signal `sig` up the ancestry as `scope` says, under the safety rule;
/// returns how many processes were signalled. Async-signal-safe.
pub fn signal_up(scope: Scope, sig: i32, warden: i32) -> usize {
    let Some(sig) = Signal::from_named_raw(sig) else {
        return 0;
    };
    match scope {
        Scope::Parent => usize::from(signal_parent(sig, warden)),
        Scope::Ancestors => {
            let mut sent = 0;
            climb(warden, &mut |a| {
                if send_checked(a, sig) {
                    sent += 1;
                }
            });
            sent
        }
    }
}

/// `getppid()`, then the signal by pidfd if the parent is still the parent after
/// the pidfd was opened.
fn signal_parent(sig: Signal, warden: i32) -> bool {
    let Some(ppid) = rustix::process::getppid() else {
        return false; // parent outside this PID namespace
    };
    let raw = ppid.as_raw_nonzero().get();
    if raw <= 1 || raw == warden {
        return false;
    }
    let Ok(fd) = rustix::process::pidfd_open(ppid, PidfdFlags::empty()) else {
        return false;
    };
    // Reparented since (the parent died and the PID may be anyone's now)?
    if rustix::process::getppid() != Some(ppid) {
        return false;
    }
    rustix::process::pidfd_send_signal(&fd, sig).is_ok()
}

/// Signals `a` if `/proc` still shows the same process after its pidfd is open.
fn send_checked(a: &Ancestor, sig: Signal) -> bool {
    let Some(pid) = Pid::from_raw(a.own) else {
        return false;
    };
    let Ok(fd) = rustix::process::pidfd_open(pid, PidfdFlags::empty()) else {
        return false;
    };
    let mut buf = [0u8; 1024];
    match read_stat(a.proc_pid, &mut buf) {
        Some(stat) if stat.start == a.start => rustix::process::pidfd_send_signal(&fd, sig).is_ok(),
        _ => false,
    }
}

/// Whether a node under `warden` may signal upward: its climb must stop at the
/// warden or at the edge of a nested PID namespace, never at PID 1 of `/proc`'s
/// namespace (there the warden is not above this process: the ancestors are the
/// user's session).
///
/// An ancestor that exits while the climb reads it (a `dfork` intermediate, a
/// parent killed by a sibling's upward signal) makes one climb unreadable; its
/// children are reparented at once, so the check climbs again, a bounded number
/// of times ([`CHECK_CLIMBS`], 2 ms apart), before it refuses.
pub fn check_warden_above(warden: i32) -> Result<(), Top> {
    let mut last = Top::Unreadable;
    for attempt in 0..CHECK_CLIMBS {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        match climb(warden, &mut |_| {}) {
            Top::Warden | Top::Boundary | Top::NestedInit => return Ok(()),
            Top::Init => return Err(Top::Init),
            top @ Top::Unreadable => last = top,
        }
    }
    Err(last)
}

/// Climbs [`check_warden_above`] tries while the ancestry is unreadable.
pub const CHECK_CLIMBS: u32 = 25;

/// Walks the ppid chain from this process's parent up, calling `visit` for each
/// ancestor the safety rule allows (parent first), until the rule stops it.
/// Async-signal-safe.
fn climb(warden: i32, visit: &mut dyn FnMut(&Ancestor)) -> Top {
    let mut buf = [0u8; 4096];
    // This process's PIDs: in /proc's namespace (first NSpid entry) and its own
    // (last); the number of entries says how deep its namespace is below /proc's.
    let Some(me) = read_nspid(b"/proc/self/status\0", &mut buf) else {
        return Top::Unreadable;
    };
    if me.last != rustix::process::getpid().as_raw_nonzero().get() {
        return Top::Unreadable;
    }
    let mut stat_buf = [0u8; 1024];
    let Some(mut stat) = read_stat(me.first, &mut stat_buf) else {
        return Top::Unreadable;
    };
    let own_ppid = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    for step in 0..MAX_CLIMB {
        let proc_pid = stat.ppid;
        if proc_pid <= 0 {
            return Top::Boundary;
        }
        let mut path = PathBuf::new();
        let Some(ns) = read_nspid(path.proc(proc_pid, b"status"), &mut buf) else {
            return Top::Unreadable;
        };
        if ns.count != me.count {
            return Top::Boundary;
        }
        let own = ns.last;
        if own == warden || proc_pid == warden {
            return Top::Warden;
        }
        if own <= 1 {
            return if proc_pid == own {
                Top::Init
            } else {
                Top::NestedInit
            };
        }
        // The first step must agree with the kernel's own answer.
        if step == 0 && own != own_ppid {
            return Top::Unreadable;
        }
        let Some(next) = read_stat(proc_pid, &mut stat_buf) else {
            return Top::Unreadable;
        };
        let ancestor = Ancestor {
            own,
            proc_pid,
            start: next.start,
        };
        visit(&ancestor);
        stat = next;
    }
    Top::Unreadable
}

/// What the climb reads from `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stat {
    ppid: i32,
    start: u64,
}

/// `/proc/<pid>/stat`: the parent (field 4) and the start time (field 22),
/// counted after the last `)` so that no name can shift them.
fn read_stat(pid: i32, buf: &mut [u8]) -> Option<Stat> {
    let mut path = PathBuf::new();
    let n = read_file(path.proc(pid, b"stat"), buf)?;
    parse_stat(&buf[..n])
}

/// This process's start time (`/proc/self/stat`, field 22, in clock ticks since
/// boot): what a node reports as its identity. One open and read into a stack
/// buffer, nothing allocated (the `procfs` crate's `Process::myself().stat()`
/// took a fifth of a forked node's CPU: a `stat` of the directory, a readlink,
/// a growing buffer).
pub fn own_start_time() -> Option<u64> {
    let mut buf = [0u8; 1024];
    let n = read_file(b"/proc/self/stat\0", &mut buf)?;
    parse_stat(&buf[..n]).map(|s| s.start)
}

fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    // state(3) ppid(4) ... starttime(22): 0-based after the name, 0 and 19.
    let ppid = parse_int(fields.nth(1)?)?;
    let start = parse_int(fields.nth(17)?)?;
    Some(Stat {
        ppid: i32::try_from(ppid).ok()?,
        start,
    })
}

/// The `NSpid` line of a status file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NsPid {
    first: i32,
    last: i32,
    count: usize,
}

fn read_nspid(path: &[u8], buf: &mut [u8]) -> Option<NsPid> {
    let n = read_file(path, buf)?;
    parse_nspid(&buf[..n])
}

fn parse_nspid(text: &[u8]) -> Option<NsPid> {
    const KEY: &[u8] = b"\nNSpid:";
    let at = text.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let line = text[at..].split(|&b| b == b'\n').next()?;
    let mut out: Option<NsPid> = None;
    for field in line
        .split(|&b| b == b'\t' || b == b' ')
        .filter(|f| !f.is_empty())
    {
        let pid = i32::try_from(parse_int(field)?).ok()?;
        out = Some(match out {
            None => NsPid {
                first: pid,
                last: pid,
                count: 1,
            },
            Some(o) => NsPid {
                last: pid,
                count: o.count + 1,
                ..o
            },
        });
    }
    out
}

fn parse_int(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        d.is_ascii_digit()
            .then(|| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))?
    })
}

/// Reads a whole small file (NUL-terminated `path`) into `buf`; how many bytes.
fn read_file(path: &[u8], buf: &mut [u8]) -> Option<usize> {
    let path = CStr::from_bytes_until_nul(path).ok()?;
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::read(&fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    Some(n)
}

/// `/proc/<pid>/<file>\0` built on the stack.
struct PathBuf {
    buf: [u8; 48],
}

impl PathBuf {
    fn new() -> PathBuf {
        PathBuf { buf: [0; 48] }
    }

    fn proc(&mut self, pid: i32, file: &[u8]) -> &[u8] {
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            for &b in bytes {
                if len < self.buf.len() - 1 {
                    self.buf[len] = b;
                    len += 1;
                }
            }
        };
        put(b"/proc/");
        // `itoa` formats into a buffer on the stack: no allocation.
        put(itoa::Buffer::new().format(pid.unsigned_abs()).as_bytes());
        put(b"/");
        put(file);
        self.buf[len] = 0;
        &self.buf[..=len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_the_one_procfs_reads() {
        let procfs = procfs::process::Process::myself()
            .and_then(|p| p.stat())
            .expect("/proc/self/stat")
            .starttime;
        assert_eq!(own_start_time(), Some(procfs));
    }

    #[test]
    fn own_pidns_is_this_process_namespace_before_and_after_forgetting() {
        use std::os::unix::fs::MetadataExt;
        let real = std::fs::metadata("/proc/self/ns/pid").expect("ns").ino();
        assert_eq!(crate::sys::own_pidns().ok(), Some(real));
        crate::sys::forget_own_pidns();
        assert_eq!(crate::sys::own_pidns().ok(), Some(real));
    }

    #[test]
    fn a_hostile_name_does_not_shift_the_stat_fields() {
        let stat =
            b"42 () Z 1 1 (\n x x)) S 7 42 42 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 123456 \
                     1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                ppid: 7,
                start: 123456
            })
        );
    }

    #[test]
    fn nspid_gives_the_outer_and_inner_pids_and_the_depth() {
        let status = b"Name:\tteardown\nPid:\t900\nNSpid:\t900\t17\t1\nNSpgid:\t900\n";
        assert_eq!(
            parse_nspid(status),
            Some(NsPid {
                first: 900,
                last: 1,
                count: 3
            })
        );
        assert_eq!(parse_nspid(b"Name:\tx\nPid:\t5\n"), None);
        assert_eq!(
            parse_nspid(b"Name:\tx\nNSpid:\t5\n"),
            Some(NsPid {
                first: 5,
                last: 5,
                count: 1
            })
        );
    }

    #[test]
    fn proc_paths_are_built_on_the_stack() {
        let mut p = PathBuf::new();
        assert_eq!(p.proc(1234, b"stat"), b"/proc/1234/stat\0");
        assert_eq!(p.proc(i32::MAX, b"status"), b"/proc/2147483647/status\0");
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_int(b"18446744073709551616"), None);
        assert_eq!(parse_int(b"-1"), None);
        assert_eq!(parse_int(b""), None);
    }

    #[test]
    fn a_climb_from_a_test_process_without_a_warden_reaches_init_or_a_boundary() {
        // Read only: nothing is signalled. PID 0 is never a warden.
        let top = climb(0, &mut |a| assert!(a.own > 1, "{a:?}"));
        assert!(
            matches!(top, Top::Init | Top::Boundary | Top::NestedInit),
            "{top:?}"
        );
    }
}
