//! Real supervisors that cannot run the tree as they are, driven by a small
//! wrapper (`teardown peer-wrap KIND -- CMD...`) so that the matrix can judge
//! them as peers:
//!
//! * [`supervisord`]: supervisord runs programs from a config file, as a
//!   daemon, and closes the descriptors it inherits. The wrapper writes the
//!   config (one program: `CMD`, `autorestart=false`, `stopasgroup`,
//!   `killasgroup`, `stopwaitsecs=1`), relays the tree's records through a FIFO
//!   to the warden's pipe, stops supervisord (SIGTERM: it stops its programs)
//!   when it gets SIGTERM or SIGINT, and when supervisord has no program process
//!   left (the program exited on its own, as a one-shot wrapper would).
//! * [`process_wrap`]: a Rust supervisor written the way users write one today
//!   with the `process-wrap` crate: `CommandWrap` with `ProcessGroup::leader()`;
//!   on SIGTERM/SIGINT `kill()` (SIGKILL to the group) then `wait()`; when the
//!   leader exits on its own, `wait()` and exit with its status.
//!
//! Both block SIGTERM, SIGINT and SIGCHLD and take them with `sigtimedwait`
//! (the children start with an empty mask), so the wrapper is never killed by
//! the signal it is meant to handle. The supervisord wrapper blocks every other
//! signal too: it is not the supervisor under test but scaffolding around it,
//! so a tree's signal to its ancestors (`kill-ancestors`) must reach supervisord
//! (an ancestor as well) as it would without the wrapper, and must not end the
//! wrapper before it has relayed the tree's records. The process-wrap wrapper
//! *is* the supervisor under test (a program on the crate), so it dies of what
//! such a program dies of.

pub mod process_wrap;
pub mod supervisord;

use std::io;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

/// The signals a wrapper takes synchronously.
fn wrapper_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the wrapper's signals in this (single-threaded, at this point) process.
fn block_wrapper_signals() -> io::Result<()> {
    wrapper_signals().thread_block().map_err(io::Error::from)
}

/// Waits up to `timeout` for one of the blocked wrapper signals.
fn next_signal(timeout: Duration) -> Option<Signal> {
    let set = wrapper_signals();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    crate::sys::sigtimedwait(set.as_ref(), &ts)
}

/// What a wrapper exits with: the child's shell-style status.
fn shell_status(st: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    st.code()
        .unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
        .clamp(0, 255) as u8
}
