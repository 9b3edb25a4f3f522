//! The `teardown` program's entry point, in place of std's: part of the binary
//! (`main.rs` includes this file by path), not of the library.
//!
//! `teardown run` is started once per supervised command, like tini, so what
//! runs before `main` is paid on every command. std's start adds, before the
//! program's `main`: a stack-overflow handler (a `sigaltstack`, two
//! `sigaction`s, and the main thread's stack bounds, which glibc finds by
//! reading and parsing `/proc/self/maps`), a `poll` of fds 0-2, and SIGPIPE
//! ignored. Measured side by side on a static-pie "hello" (2 cores, a VM), that
//! is ~55 µs of ~590, ~10 % of starting a small program. Here only the last two
//! are kept, done the same way: fds 0-2 opened on `/dev/null` when closed (so
//! no file this process opens takes one of them and is mistaken for stdio), and
//! SIGPIPE ignored (writes to a closed pipe fail with EPIPE, as every part of
//! the program expects). What is lost is the "thread 'main' has overflowed its
//! stack" message: a stack overflow is a plain SIGSEGV.
//!
//! A panic out of `main` exits 101, as under std's start; its message names
//! the thread `<unnamed>` rather than `main` (std names the main thread in its
//! start).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};
use std::os::fd::BorrowedFd;
use std::process::ExitCode;

/// Called by the C runtime's start (`__libc_start_main`), with std's args
/// already captured (std reads them from glibc's `.init_array` call, not from
/// here).
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    sanitize_stdio();
    // SAFETY: setting a disposition to SIG_IGN installs no handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = match std::panic::catch_unwind(super::main) {
        Ok(code) => status(code),
        Err(_) => 101,
    };
    // Flushes stdout as std's start would after `main`.
    std::process::exit(code)
}

/// The number an `ExitCode` stands for (std has no stable way to read it).
fn status(code: ExitCode) -> c_int {
    (0..=u8::MAX)
        .find(|&n| ExitCode::from(n) == code)
        .map_or(1, c_int::from)
}

/// Opens `/dev/null` on each of fds 0, 1 and 2 that is closed, like std's start.
fn sanitize_stdio() {
    for fd in 0..=2 {
        // SAFETY: only asked about, never closed or kept.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(borrowed) == Err(rustix::io::Errno::BADF) {
            // The lowest free fd is this one: every lower one is open.
            let Ok(null) = rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR,
                rustix::fs::Mode::empty(),
            ) else {
                // std aborts here; with nothing to write to, so does this.
                std::process::abort();
            };
            std::mem::forget(null);
        }
    }
}
