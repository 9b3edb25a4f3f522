//! The [`Waiter`] of the async front: the method's descriptors on tokio's
//! `AsyncFd`, its deadlines on a tokio timer.

use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use ::tokio::io::Interest;

use crate::sys::async_fd::register;
use crate::waiter::{BoxFuture, Ready, Waiter};

/// Waits in the tokio runtime of the task that awaits it (which needs its IO and
/// time drivers: `Builder::enable_all`, as `#[tokio::main]` has).
///
/// Each wait registers its descriptors with the runtime's reactor for as long
/// as it lasts (an `AsyncFd` over the borrowed descriptor: deregistered, never
/// closed, when the wait ends or is dropped). A registration reports the
/// readiness the descriptor has when it is made, so nothing that happened
/// between two waits is missed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TokioWaiter;

type ReadyFuture<'a> = Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>>;

impl Waiter for TokioWaiter {
    fn wait<'a>(
        &'a self,
        fds: &'a [(BorrowedFd<'a>, Ready)],
        until: Option<Instant>,
    ) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move {
            let mut regs = Vec::with_capacity(fds.len());
            for &(fd, ready) in fds {
                let interest = match ready {
                    Ready::Read => Interest::READABLE,
                    Ready::Priority => Interest::PRIORITY,
                };
                regs.push((register(fd, interest)?, interest));
            }
            let mut readies: Vec<ReadyFuture<'_>> = regs
                .iter()
                .map(|(fd, interest)| -> ReadyFuture<'_> {
                    Box::pin(async move { fd.ready(*interest).await.map(drop) })
                })
                .collect();
            let mut timer = until.map(|u| {
                Box::pin(::tokio::time::sleep_until(
                    ::tokio::time::Instant::from_std(u),
                ))
            });
            poll_fn(|cx| {
                let mut mask = 0u64;
                for (i, f) in readies.iter_mut().enumerate() {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(Ok(())) => mask |= 1 << i,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {}
                    }
                }
                if mask != 0 {
                    return Poll::Ready(Ok(mask));
                }
                match timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Ok(0)),
                    _ => Poll::Pending,
                }
            })
            .await
        })
    }
}
