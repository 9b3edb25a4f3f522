//! The only module allowed `unsafe`: what rustix has no safe call for, and the
//! typed PIDs and signal numbers rustix takes.
//!
//! Here: registering a borrowed descriptor with tokio (`async_fd.rs`, feature
//! `tokio`), `pre_exec` hooks (`exec.rs`, and `born_in_cgroup.rs`: `clone3` into a
//! cgroup from std's child), `fork` and `clone3` (`fork.rs`), signal
//! dispositions, masks and `signalfd` (`signal.rs`), `waitid` with the child's
//! PID (`wait.rs`), `unshare` (`ns.rs`), `PIDFD_GET_INFO` (`pidfd.rs`), adopting an
//! inherited descriptor (`fd.rs`). Everything rustix offers safely (pipes, `poll`,
//! `kill`, `prctl`, `pidfd_open`, ...) is called through rustix, outside this
//! module ([`crate::fds`], [`crate::pidfd`]). Each wrapper's first doc line names
//! the call it makes. Every `unsafe` block carries a `// SAFETY:` line.
#![allow(unsafe_code)]

#[cfg(feature = "tokio")]
pub(crate) mod async_fd;
pub(crate) mod born_in_cgroup;
pub(crate) mod exec;
pub(crate) mod fd;
pub(crate) mod fork;
pub(crate) mod ns;
pub(crate) mod pidfd;
pub(crate) mod proc_text;
pub(crate) mod signal;
pub(crate) mod wait;

use std::io;

/// Converts a `-1`-returning libc result into `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// [`cvt`] that retries while the call fails with `EINTR`.
pub(crate) fn cvt_retry(mut f: impl FnMut() -> libc::c_int) -> io::Result<libc::c_int> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
