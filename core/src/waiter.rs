//! One implementation, two fronts: every wait of a method goes through a
//! [`Waiter`].
//!
//! A method's teardown (and its wait for the leader) is written once, as an
//! `async` function that never blocks by itself: it signals, reads
//! `cgroup.events`, reaps with `WNOHANG`, and whenever it has to wait it asks its
//! [`Waiter`] to wait until one of some descriptors is ready (a pidfd, the leaf's
//! `cgroup.events`, the shim's event pipe) or an instant passes. Two waiters run
//! the same code:
//!
//! * [`Blocking`], here: `ppoll(2)` on those descriptors. Its futures are ready
//!   when first polled, so [`block`] runs a whole teardown in the calling thread
//!   ([`crate::Tree`]);
//! * `TokioWaiter`, in `crate::tokio` (feature `tokio`): the same descriptors on
//!   tokio's `AsyncFd` and a tokio timer — no thread blocked per tree.
//!
//! A wait is only a reason to look again: the caller re-checks what it waits for
//! after every return, so an early or spurious return costs a look, never
//! correctness.

use std::future::Future;
use std::io;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::fds::{PollFd, PollFlags, poll};

/// A boxed future a [`Waiter`] or a driver returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a descriptor must show for a wait on it to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// Readable (`POLLIN`): a pidfd whose process exited, a pipe with data or
    /// closed.
    Read,
    /// An exceptional condition (`POLLPRI`): `cgroup.events` changed.
    Priority,
}

/// Waits on descriptors and timers for a method (see the module docs).
pub(crate) trait Waiter: Sync {
    /// Waits until one of `fds` is ready or `until` passes (`None`: no timer).
    /// Returns which were ready, bit `i` for `fds[i]` (0: the timer, or a
    /// spurious return).
    fn wait<'a>(
        &'a self,
        fds: &'a [(BorrowedFd<'a>, Ready)],
        until: Option<Instant>,
    ) -> BoxFuture<'a, io::Result<u64>>;
}

/// `ppoll(2)` in the calling thread.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Blocking;

impl Waiter for Blocking {
    fn wait<'a>(
        &'a self,
        fds: &'a [(BorrowedFd<'a>, Ready)],
        until: Option<Instant>,
    ) -> BoxFuture<'a, io::Result<u64>> {
        let mut polled: Vec<PollFd<'_>> = fds
            .iter()
            .map(|&(fd, r)| {
                let flags = match r {
                    Ready::Read => PollFlags::IN,
                    Ready::Priority => PollFlags::PRI,
                };
                PollFd::from_borrowed_fd(fd, flags)
            })
            .collect();
        let timeout = until.map(|u| u.saturating_duration_since(Instant::now()));
        let r = poll(&mut polled, timeout).map(|_| {
            polled.iter().enumerate().fold(0u64, |m, (i, p)| {
                if p.revents().is_empty() {
                    m
                } else {
                    m | 1 << i
                }
            })
        });
        Box::pin(std::future::ready(r))
    }
}

/// [`Waiter::wait`] with a timeout (`None`: none) instead of an instant.
pub(crate) async fn wait_for(
    w: &dyn Waiter,
    fds: &[(BorrowedFd<'_>, Ready)],
    timeout: Option<Duration>,
) -> io::Result<u64> {
    w.wait(fds, timeout.map(|t| Instant::now() + t)).await
}

/// Sleeps until `until` on the waiter's timer.
pub(crate) async fn sleep_until(w: &dyn Waiter, until: Instant) -> io::Result<()> {
    w.wait(&[], Some(until)).await.map(drop)
}

/// Runs `f` to completion in this thread. With [`Blocking`] every wait is done
/// when first polled, so this never parks; it parks (never spins) for a future
/// that is not.
pub(crate) fn block<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn blocking_says_which_descriptor_is_ready_and_zero_on_the_timer() {
        let (r, w) = crate::fds::pipe_cloexec().unwrap();
        let (r2, _w2) = crate::fds::pipe_cloexec().unwrap();
        let fds = [(r2.as_fd(), Ready::Read), (r.as_fd(), Ready::Read)];
        let soon = Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(block(Blocking.wait(&fds, soon)).unwrap(), 0);
        drop(w);
        assert_eq!(block(Blocking.wait(&fds, None)).unwrap(), 0b10);
    }

    #[test]
    fn block_runs_a_future_that_is_pending_once() {
        let mut first = true;
        let f = std::future::poll_fn(|cx| {
            if std::mem::take(&mut first) {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(7)
            }
        });
        assert_eq!(block(f), 7);
    }
}
