//! The node interpreter's SIGTERM handlers beyond `respawn-on-term`:
//! `term-kill-parent`, `term-kill-ancestors` ([`upward_on_term`]) and `graceful`
//! ([`graceful_on_term`]).
//!
//! A process has one SIGTERM disposition, so the handlers share one set of
//! statics; installing one replaces the other (the last SIGTERM trait in a node's
//! order wins). Everything a handler needs is computed before it is installed and
//! kept in atomics, with SIGTERM blocked while they are written, so a handler
//! never sees half of an update. The handlers themselves allocate nothing and
//! make only raw system calls.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};

use super::climb::{self, Scope};

/// Whom `on_term_upward` signals: 0 nobody, 1 the parent, 2 every ancestor.
static UPWARD_SCOPE: AtomicU8 = AtomicU8::new(0);
static UPWARD_SIG: AtomicI32 = AtomicI32::new(0);
static WARDEN: AtomicI32 = AtomicI32::new(0);

static GRACE_MS: AtomicU32 = AtomicU32::new(0);
/// The report pipe, or -1.
static GRACE_FD: AtomicI32 = AtomicI32::new(-1);
/// The pre-encoded "finished gracefully" record, in four native-endian words.
static GRACE_RECORD: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Runs `f` with SIGTERM blocked, so that no handler runs while its statics change.
fn with_sigterm_blocked<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&term), Some(&mut old))?;
    let result = f();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    result
}

fn install(handler: extern "C" fn(libc::c_int)) -> io::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(handler),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: both handlers only load atomics, make raw system calls (rustix) and
    // use stack buffers: async-signal-safe.
    unsafe { nix::sys::signal::sigaction(Signal::SIGTERM, &action) }
        .map(drop)
        .map_err(io::Error::from)
}

/// `sigaction(SIGTERM, handler)`—On SIGTERM, sends `sig` to the parent
/// (`ancestors` false) or to every ancestor (true) under the safety rule of
/// [`super::climb`] (never PID 1 or below, never the warden `warden` or
/// above), then returns: the process carries on.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/sigaction.2.html>
pub fn upward_on_term(ancestors: bool, sig: i32, warden: i32) -> io::Result<()> {
    with_sigterm_blocked(|| {
        UPWARD_SCOPE.store(if ancestors { 2 } else { 1 }, Ordering::SeqCst);
        UPWARD_SIG.store(sig, Ordering::SeqCst);
        WARDEN.store(warden, Ordering::SeqCst);
        install(on_term_upward)
    })
}

extern "C" fn on_term_upward(_sig: libc::c_int) {
    let scope = match UPWARD_SCOPE.load(Ordering::SeqCst) {
        1 => Scope::Parent,
        2 => Scope::Ancestors,
        _ => return,
    };
    climb::signal_up(
        scope,
        UPWARD_SIG.load(Ordering::SeqCst),
        WARDEN.load(Ordering::SeqCst),
    );
}

/// `sigaction(SIGTERM, handler)`—On SIGTERM, sleeps `delay` (`clock_nanosleep`,
/// resumed after other handlers), writes `record` (pre-encoded, 32 bytes) to
/// `report` if there is one, then `_exit(0)`.
///
/// `report` must stay open as long as the handler is installed (the node keeps
/// its report pipe for its whole life).
///
/// # References
/// <https://man7.org/linux/man-pages/man2/clock_nanosleep.2.html>
pub fn graceful_on_term(
    delay: Duration,
    report: Option<BorrowedFd<'_>>,
    record: &[u8; 32],
) -> io::Result<()> {
    with_sigterm_blocked(|| {
        let ms = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        GRACE_MS.store(ms, Ordering::SeqCst);
        GRACE_FD.store(report.map_or(-1, |fd| fd.as_raw_fd()), Ordering::SeqCst);
        for (word, chunk) in GRACE_RECORD.iter().zip(record.chunks_exact(8)) {
            let bytes: [u8; 8] = chunk.try_into().expect("8 bytes");
            word.store(u64::from_ne_bytes(bytes), Ordering::SeqCst);
        }
        install(on_term_graceful)
    })
}

extern "C" fn on_term_graceful(_sig: libc::c_int) {
    use rustix::thread::{ClockId, NanosleepRelativeResult, Timespec, clock_nanosleep_relative};
    let ms = GRACE_MS.load(Ordering::SeqCst);
    let mut left = Timespec {
        tv_sec: i64::from(ms / 1000),
        tv_nsec: i64::from(ms % 1000) * 1_000_000,
    };
    while let NanosleepRelativeResult::Interrupted(rest) =
        clock_nanosleep_relative(ClockId::Monotonic, &left)
    {
        left = rest;
    }
    let fd = GRACE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let mut record = [0u8; 32];
        for (chunk, word) in record.chunks_exact_mut(8).zip(&GRACE_RECORD) {
            chunk.copy_from_slice(&word.load(Ordering::SeqCst).to_ne_bytes());
        }
        // SAFETY: the node keeps its report pipe open for its whole life (see
        // `graceful_on_term`); the borrow ends with this write.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        // A closed pipe (the warden gave up) is EPIPE: nothing to do then.
        let _ = rustix::io::write(fd, &record);
    }
    super::exit_now(0)
}
