//! `prctl(2)`: subreaper and parent-death signal.
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/PR_SET_CHILD_SUBREAPER.2const.html>

use std::io;

use super::cvt;

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`—Orphaned descendants of this process are
/// re-parented to it instead of to init.
pub(crate) fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: plain prctl with integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) }).map(drop)
}

/// `prctl(PR_GET_CHILD_SUBREAPER)`—Whether the kernel knows subreapers (it answers
/// the query).
pub(crate) fn subreaper_supported() -> bool {
    let mut v: libc::c_int = 0;
    // SAFETY: the kernel writes one int to `v`.
    unsafe {
        libc::prctl(
            libc::PR_GET_CHILD_SUBREAPER,
            &mut v as *mut libc::c_int,
            0,
            0,
            0,
        ) == 0
    }
}

/// `prctl(PR_SET_PDEATHSIG, sig)`—This process gets `sig` when its parent (thread)
/// exits. Only meaningful in a single-threaded parent.
pub(crate) fn set_parent_death_signal(sig: i32) -> io::Result<()> {
    // SAFETY: plain prctl with integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) }).map(drop)
}

/// `geteuid()`—The effective user id.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// `getegid()`—The effective group id.
pub(crate) fn effective_gid() -> u32 {
    // SAFETY: getegid cannot fail.
    unsafe { libc::getegid() }
}

/// `setpgid(0, 0)`—Makes this process the leader of a new process group, so
/// signals a terminal sends to the caller's foreground group (Ctrl-C, Ctrl-Z) do
/// not reach it.
pub(crate) fn new_process_group() -> io::Result<()> {
    // SAFETY: plain syscall with integer arguments on this process.
    cvt(unsafe { libc::setpgid(0, 0) }).map(drop)
}
