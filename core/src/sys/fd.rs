//! A descriptor inherited by number: taking ownership of a raw fd is what no
//! safe call can do. Pipes and polls are [`crate::fds`].

use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

use rustix::io::FdFlags;

/// Takes ownership of a descriptor this process inherited by number (the shim's
/// protocol pipes), after checking it is open, and marks it close-on-exec.
pub(crate) fn adopt_inherited(raw: RawFd) -> io::Result<OwnedFd> {
    if raw < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "protocol fd must be 3 or above",
        ));
    }
    // SAFETY: borrowed only for the two fcntl calls; F_GETFD fails with EBADF if
    // `raw` is not open.
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    rustix::io::fcntl_getfd(borrowed)?;
    rustix::io::fcntl_setfd(borrowed, FdFlags::CLOEXEC)?;
    // SAFETY: the parent passed this descriptor to us to own; nothing else in this
    // process refers to it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
