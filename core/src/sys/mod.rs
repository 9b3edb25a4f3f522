//! The only module allowed `unsafe`: thin wrappers over system calls.
//!
//! Each file is one syscall family; each wrapper's first doc line names the call it
//! makes. Every `unsafe` block carries a `// SAFETY:` line.
#![allow(unsafe_code)]

pub(crate) mod exec;
pub(crate) mod fd;
pub(crate) mod fork;
pub(crate) mod ns;
pub(crate) mod pidfd;
pub(crate) mod prctl;
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
