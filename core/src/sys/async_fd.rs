//! `epoll_ctl(EPOLL_CTL_ADD)` through tokio's reactor (feature `tokio`):
//! registering a borrowed descriptor with `AsyncFd`, which tokio marks unsafe
//! since it cannot know the descriptor stays open.

use std::io;
use std::os::fd::BorrowedFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Registers `fd` with the current runtime's reactor for `interest`, for as long
/// as the returned `AsyncFd` lives (dropping it deregisters; it never closes the
/// descriptor). Must be called in a runtime with its IO driver.
pub(crate) fn register(
    fd: BorrowedFd<'_>,
    interest: Interest,
) -> io::Result<AsyncFd<BorrowedFd<'_>>> {
    // SAFETY: the `AsyncFd` owns the `BorrowedFd`, so it cannot outlive the
    // borrow, during which the descriptor stays open and names the same file
    // description; `BorrowedFd::as_raw_fd` always returns the same number.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}
