//! `unshare(2)`: new PID and user namespaces for the `pidns` method.
//!
//! # References
//! <https://man7.org/linux/man-pages/man2/unshare.2.html>

use std::io;

use super::cvt;

/// `unshare(CLONE_NEWPID [| CLONE_NEWUSER])`—The next child this process creates is
/// PID 1 of a new PID namespace (owned by a new user namespace if `with_user`). The
/// caller must be single-threaded when `with_user`.
pub(crate) fn unshare_pid_namespace(with_user: bool) -> io::Result<()> {
    let mut flags = libc::CLONE_NEWPID;
    if with_user {
        flags |= libc::CLONE_NEWUSER;
    }
    // SAFETY: plain syscall with integer flags.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}
