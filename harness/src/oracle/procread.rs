//! A lean reader of procfs files for [`super::LiveProc`]: paths relative to an
//! open directory fd, whole small files read with one `openat`/`read`/`close` into
//! a stack buffer, directory listings into a stack buffer, and hand parsers that
//! take only the fields the oracle needs (no map of every `status` line, no
//! `String` per directory entry).
//!
//! # One read is the whole file
//!
//! `stat` and `status` are seq files shown in one go: a `read` with room for the
//! whole text returns all of it, so a read that leaves room in the buffer has
//! read the file (as it has for a regular file, the look-alike trees of the
//! tests). A read that fills the buffer may have been cut short: the rest is read
//! onto the heap ([`with_file`]). A `children` file is a sequence of records
//! that one read may stop short of (a page at a time), so it is read until a
//! read returns nothing ([`for_each_number`]).

use std::ffi::CStr;
use std::io::Read;
use std::mem::MaybeUninit;
use std::ops::ControlFlow;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags, RawDir};
use rustix::io::Errno;

/// Room for a `stat` line: about 300 bytes (52 fields of at most 20 digits and a
/// command name of at most 64 bytes stay far below).
pub(super) const STAT_BUF: usize = 4096;
/// Room for a `status` file: about 1.5 KiB (a very long `Groups` line may not
/// fit: then the rest is read onto the heap).
pub(super) const STATUS_BUF: usize = 8192;
/// Room for a `cmdline` (longer ones go on the heap).
pub(super) const CMDLINE_BUF: usize = 4096;
/// Room for one `getdents64` of a directory listing.
const DIR_BUF: usize = 8192;
/// Room for one read of a `children` file.
const CHILDREN_BUF: usize = 4096;

/// Opens the directory `root` (a procfs mount, or a directory laid out like one)
/// for reading relative to it; `None` if it cannot be opened.
pub(super) fn open_root(root: &Path) -> Option<OwnedFd> {
    rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// A path under the root (`<pid>/task/<tid>/stat`), built on the stack.
#[derive(Clone, Copy)]
pub(super) struct RelPath {
    /// The path, NUL-terminated (the rest is zero).
    buf: [u8; 64],
    len: usize,
    /// False once something could not be put (a negative number, no room).
    ok: bool,
}

impl RelPath {
    /// `<pid>`; a negative PID names nothing.
    pub(super) fn pid(pid: i32) -> RelPath {
        RelPath {
            buf: [0; 64],
            len: 0,
            ok: true,
        }
        .num(pid)
    }

    /// Appends `/<name>`.
    pub(super) fn join(self, name: &str) -> RelPath {
        self.put(b"/").put(name.as_bytes())
    }

    /// Appends `/<n>`.
    pub(super) fn join_num(self, n: i32) -> RelPath {
        self.put(b"/").num(n)
    }

    /// The path, or `None` if it names nothing.
    pub(super) fn as_cstr(&self) -> Option<&CStr> {
        if !self.ok {
            return None;
        }
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).ok()
    }

    fn num(mut self, n: i32) -> RelPath {
        let Ok(v) = u32::try_from(n) else {
            self.ok = false;
            return self;
        };
        self.put(itoa::Buffer::new().format(v).as_bytes())
    }

    fn put(mut self, bytes: &[u8]) -> RelPath {
        // Keep the last byte for the NUL.
        if self.len + bytes.len() >= self.buf.len() || bytes.contains(&0) {
            self.ok = false;
            return self;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self
    }
}

/// `read`, again when a signal interrupts it.
fn read_retrying(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Some(n),
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

/// Opens `path` under `dir` for reading.
fn open_file(dir: BorrowedFd<'_>, path: &RelPath) -> Option<OwnedFd> {
    rustix::fs::openat(
        dir,
        path.as_cstr()?,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .ok()
}

/// Calls `f` with the whole text of the small file `path` under `dir`: one read
/// into `stack` (the whole file when it leaves room, see the module docs), the
/// rest onto the heap when it fills it. `None` if the file cannot be opened or
/// read.
pub(super) fn with_file<R>(
    dir: BorrowedFd<'_>,
    path: &RelPath,
    stack: &mut [u8],
    f: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    let fd = open_file(dir, path)?;
    let n = read_retrying(&fd, stack)?;
    if n < stack.len() {
        return Some(f(&stack[..n]));
    }
    let mut all = stack.to_vec();
    std::fs::File::from(fd).read_to_end(&mut all).ok()?;
    Some(f(&all))
}

/// Calls `f` with every whitespace-separated decimal number of the file `path`
/// under `dir` (a `children` file), read to its end; a token that is not a number
/// (or does not fit an `i32`) is skipped. False if the file cannot be opened or
/// a read fails (what was read by then was passed on).
pub(super) fn for_each_number(dir: BorrowedFd<'_>, path: &RelPath, mut f: impl FnMut(i32)) -> bool {
    let Some(fd) = open_file(dir, path) else {
        return false;
    };
    let mut buf = [0u8; CHILDREN_BUF];
    // The token being read: its value so far (`None`: not a number), if any.
    let mut token: Option<Option<i32>> = None;
    loop {
        let Some(n) = read_retrying(&fd, &mut buf) else {
            return false;
        };
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if b.is_ascii_whitespace() {
                if let Some(Some(v)) = token.take() {
                    f(v);
                }
            } else {
                let so_far = token.unwrap_or(Some(0));
                token = Some(so_far.and_then(|v| {
                    let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
                    v.checked_mul(10)?.checked_add(i32::from(d))
                }));
            }
        }
    }
    if let Some(Some(v)) = token {
        f(v);
    }
    true
}

/// A name made of decimal digits only (a PID or TID directory), as a number.
fn numbered(name: &[u8]) -> Option<i32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// Calls `f` with the number of every entry of the directory `path` under `dir`
/// whose name is a number (`None`: `dir` itself), until `f` breaks. `None` if the
/// directory cannot be opened; a listing that fails part way ends there (the
/// process went away while it was listed).
pub(super) fn for_each_numbered(
    dir: BorrowedFd<'_>,
    path: Option<&RelPath>,
    mut f: impl FnMut(i32) -> ControlFlow<()>,
) -> Option<()> {
    let path = match path {
        Some(p) => p.as_cstr()?,
        None => c".",
    };
    // A fresh open file description: its own offset, even for `dir` itself.
    let fd = rustix::fs::openat(
        dir,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [MaybeUninit::<u8>::uninit(); DIR_BUF];
    let mut entries = RawDir::new(fd, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        if let Some(n) = numbered(entry.file_name().to_bytes())
            && f(n).is_break()
        {
            break;
        }
    }
    Some(())
}

/// The fields of a `stat` line (`/proc/<pid>/stat`, proc(5)) the oracle uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stat {
    /// Field 1.
    pub pid: i32,
    /// Field 3: the first letter of the state.
    pub state: char,
    /// Field 4.
    pub ppid: i32,
    /// Field 5.
    pub pgrp: i32,
    /// Field 6.
    pub session: i32,
    /// Field 9: the kernel's `PF_*` flags.
    pub flags: u32,
    /// Field 20: threads in the thread group (0 when the kernel could not tell:
    /// the task is being released).
    pub num_threads: i64,
    /// Field 22: start time, clock ticks since boot.
    pub starttime: u64,
}

/// Parses a `stat` line: the fields, and the command name (between the first `(`
/// and the last `)`: the name itself may hold both, and spaces). `None` if the
/// line is cut short or a field is not a number.
pub(super) fn parse_stat(line: &[u8]) -> Option<(Stat, &[u8])> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let mut rest = line[close + 1..]
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    // Fields 3 to 22.
    let mut f: [&[u8]; 20] = [&[]; 20];
    for slot in &mut f {
        *slot = rest.next()?;
    }
    let stat = Stat {
        pid: number(line[..open].trim_ascii())?,
        state: char::from(*f[0].first()?),
        ppid: number(f[1])?,
        pgrp: number(f[2])?,
        session: number(f[3])?,
        flags: number(f[6])?,
        num_threads: number(f[17])?,
        starttime: number(f[19])?,
    };
    Some((stat, &line[open + 1..close]))
}

/// The state letter of a `/proc/<pid>/stat` text, read as bytes: the first field
/// after the last `)`. The name before it, in parentheses, may hold `)`, spaces
/// and bytes that are not UTF-8 (`evil-name`); read as a `String`, such a file is
/// an error, and a caller that took the error for "not stopped" waited for ever.
pub fn stat_state(stat: &[u8]) -> Option<u8> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat[close + 1..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// A decimal field.
fn number<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Reads and parses the `stat` file `path` under `dir`, with the command name if
/// `comm` (as `procfs` does: invalid UTF-8 replaced).
pub(super) fn read_stat(
    dir: BorrowedFd<'_>,
    path: &RelPath,
    comm: bool,
) -> Option<(Stat, Option<String>)> {
    let mut buf = [0u8; STAT_BUF];
    with_file(dir, path, &mut buf, |line| {
        let (stat, name) = parse_stat(line)?;
        Some((
            stat,
            comm.then(|| String::from_utf8_lossy(name).into_owned()),
        ))
    })?
}

/// A thread's signal masks, from its `status` file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Masks {
    /// `SigPnd`: pending for this thread.
    pub sigpnd: u64,
    /// `ShdPnd`: pending for the thread group.
    pub shdpnd: u64,
    /// `SigBlk`: blocked by this thread.
    pub sigblk: u64,
    /// `SigIgn`: ignored.
    pub sigign: u64,
    /// `SigCgt`: caught.
    pub sigcgt: u64,
}

/// The `Name:\tvalue` lines of a `status` text, as (name, value) with the value
/// trimmed.
fn status_lines(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        Some((&line[..colon], line[colon + 1..].trim_ascii()))
    })
}

/// The signal masks of a `status` text, in whatever order its lines come; `None`
/// unless all five are there and hexadecimal.
pub(super) fn parse_masks(text: &[u8]) -> Option<Masks> {
    let mut m = Masks::default();
    let mut seen = 0u8;
    for (name, value) in status_lines(text) {
        let (slot, bit) = match name {
            b"SigPnd" => (&mut m.sigpnd, 1),
            b"ShdPnd" => (&mut m.shdpnd, 2),
            b"SigBlk" => (&mut m.sigblk, 4),
            b"SigIgn" => (&mut m.sigign, 8),
            b"SigCgt" => (&mut m.sigcgt, 16),
            _ => continue,
        };
        *slot = u64::from_str_radix(std::str::from_utf8(value).ok()?, 16).ok()?;
        seen |= bit;
        if seen == 31 {
            return Some(m);
        }
    }
    None
}

/// The `NSpid` line of a `status` text (outermost first); `None` if there is none
/// or it is not a list of numbers.
pub(super) fn parse_nspid(text: &[u8]) -> Option<Vec<i32>> {
    let (_, value) = status_lines(text).find(|(name, _)| *name == b"NSpid")?;
    value
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty())
        .map(number)
        .collect()
}

/// Reads the `status` file `path` under `dir` and parses it with `parse`.
pub(super) fn read_status<R>(
    dir: BorrowedFd<'_>,
    path: &RelPath,
    parse: impl FnOnce(&[u8]) -> Option<R>,
) -> Option<R> {
    let mut buf = [0u8; STATUS_BUF];
    with_file(dir, path, &mut buf, parse)?
}

#[cfg(test)]
mod tests {
    use super::stat_state;

    #[test]
    fn the_state_is_read_after_the_last_parenthesis_of_the_name_whatever_its_bytes() {
        assert_eq!(stat_state(b"42 (cat) T 1 42 42 34816"), Some(b'T'));
        assert_eq!(stat_state(b"42 (a) b) S 1 42 42 0"), Some(b'S'));
        // `evil-name`: parentheses, spaces, a newline, a byte that is not UTF-8.
        assert_eq!(
            stat_state(b"42 () Z 1 1 (\n\xe6x x)) t 1 42 42 0"),
            Some(b't')
        );
        assert_eq!(stat_state(b"42 (x"), None);
    }
}
