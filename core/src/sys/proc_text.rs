//! Reading `/proc` files whose text a tree controls, as bytes.
//!
//! A process names itself (`prctl(PR_SET_NAME)`, `/proc/self/comm`) with any 15
//! bytes, and a root tree names the cgroups it makes: `/proc/<pid>/status`
//! (its `Name:` line) and `/proc/<pid>/cgroup` are then not UTF-8. A program
//! cutting a UTF-8 name at 15 bytes does it without meaning harm. Read as a
//! `String`, such a file is an error, and a caller that took the error for "gone"
//! or "unreadable, try again" was fooled: `pidns`'s init spun forever on a
//! leader named so (`teardown run` never returned). So these files are read as
//! bytes, and only the fields wanted are decoded (they are ASCII numbers).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

/// The whole file, as bytes. A `/proc` file has no size to go by: `std`'s
/// `read_to_end` on a `File` asks for one anyway (a `statx` and an `lseek`,
/// ~2 % of a `teardown run` for its three reads), and `std::fs::read` then
/// reads 32, 32, 64, ... bytes at a time (seven reads for a `status`). Here a
/// page-sized buffer takes the file in one read, and a second sees the end.
pub(crate) fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    read_into(path, &mut text)?;
    Ok(text)
}

/// [`read`] into `text` (cleared first), reusing its allocation: what a scan
/// that reads one file a process calls.
pub(crate) fn read_into(path: impl AsRef<Path>, text: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    text.clear();
    let mut file = std::fs::File::open(path)?;
    text.resize(text.capacity().max(4096), 0);
    let mut len = 0;
    loop {
        if len == text.len() {
            text.resize(len * 2, 0);
        }
        match file.read(&mut text[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                text.clear();
                return Err(e);
            }
        }
    }
    text.truncate(len);
    Ok(())
}

/// The value of field `key` (with its colon, e.g. `"NSpid:"`) of a
/// `/proc/<pid>/status` text, trimmed; `None` if absent or not UTF-8 (the
/// numeric fields always are). The kernel escapes a newline in `Name:`, so lines
/// are fields.
pub(crate) fn status_field<'a>(status: &'a [u8], key: &str) -> Option<&'a str> {
    status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(key.as_bytes()))
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
}

/// The cgroup2 path (`0::<path>`) in a `/proc/<pid>/cgroup` text, as bytes.
pub(crate) fn unified_cgroup(text: &[u8]) -> Option<&[u8]> {
    text.split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"0::"))
}

/// The index of this process's PID in its own `NSpid:` line: how many PID
/// namespaces it is below the one `/proc` shows (the init of a namespace made by
/// a host process: 1).
pub(crate) fn own_ns_level() -> io::Result<usize> {
    // Bytes: whoever started us may have named us with bytes that are not UTF-8.
    let status = read("/proc/self/status")?;
    let line = status_field(&status, "NSpid:")
        .ok_or_else(|| io::Error::other("no NSpid line in /proc/self/status"))?;
    Ok(line.split_ascii_whitespace().count().saturating_sub(1))
}

/// Whether `/proc` shows this process's own PID namespace ([`own_ns_level`]
/// is 0): not under a `/proc` mounted for an outer one (`unshare -p` without
/// `--mount-proc`, or inside `teardown run` under `pidns`). Read once per
/// process: a forked copy in a new namespace has another PID and reads again.
pub(crate) fn proc_is_ours() -> io::Result<bool> {
    use std::sync::Mutex;
    static OURS: Mutex<Option<(u32, bool)>> = Mutex::new(None);
    let me = std::process::id();
    let mut cached = OURS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((pid, ours)) = *cached
        && pid == me
    {
        return Ok(ours);
    }
    let ours = own_ns_level()? == 0;
    *cached = Some((me, ours));
    Ok(ours)
}

/// The PID `/proc` gives the process of pidfd `fd` (`pid` in this process's
/// PID namespace): `pid` itself when `/proc` is this namespace's, else the
/// `Pid:` of the pidfd's `fdinfo`, which is in `/proc`'s terms. `None`: not
/// visible there, or gone.
pub(crate) fn pid_in_proc(pid: i32, fd: BorrowedFd<'_>) -> Option<i32> {
    if proc_is_ours().unwrap_or(false) {
        return Some(pid);
    }
    let info = read(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    status_field(&info, "Pid:")?
        .parse()
        .ok()
        .filter(|&p: &i32| p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_is_not_utf8_does_not_hide_the_other_fields() {
        let status =
            b"Name:\ta\xe6\x97\xa5\xe3\x83\nState:\tZ (zombie)\nTgid:\t77\nNSpid:\t5077\t7\n";
        assert_eq!(status_field(status, "NSpid:"), Some("5077\t7"));
        assert_eq!(status_field(status, "Tgid:"), Some("77"));
        assert_eq!(status_field(status, "Name:"), None);
        assert_eq!(status_field(status, "PPid:"), None);
    }

    #[test]
    fn the_unified_line_is_found_whatever_bytes_a_path_has() {
        assert_eq!(
            unified_cgroup(b"4:memory:/x\n0::/a/\xff\xfe/b\n"),
            Some(&b"/a/\xff\xfe/b"[..])
        );
        assert_eq!(unified_cgroup(b"4:memory:/x\n"), None);
    }

    #[test]
    fn read_into_takes_a_file_whole_whatever_the_buffer_held_before() {
        let dir = tempfile::tempdir().unwrap();
        let (big, small) = (dir.path().join("big"), dir.path().join("small"));
        let text: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(&big, &text).unwrap();
        std::fs::write(&small, b"1 (x) S 0\n").unwrap();
        let mut buf = Vec::new();
        read_into(&big, &mut buf).unwrap();
        assert_eq!(buf, text);
        read_into(&small, &mut buf).unwrap();
        assert_eq!(buf, b"1 (x) S 0\n");
        assert!(read_into(dir.path().join("gone"), &mut buf).is_err());
        assert_eq!(read(&big).unwrap(), text);
    }
}
