//! The async front (`teardown::tokio`, feature `tokio`): every method through
//! it, many trees at once on one thread, cancelled teardowns, drops inside the
//! runtime. Liveness is judged by identity, as in the methods tests, whose
//! helpers this binary shares.

#[path = "../methods/support.rs"]
#[allow(dead_code)]
mod support;

mod concurrent;
mod drains;
mod stopped_shim;

use std::time::{Duration, Instant};

use teardown::ProcessIdentity;
use teardown::tokio::AsyncTree;

use support::Scripted;

/// A leader with a `setsid` escapee and a SIGTERM-ignoring child, each reported.
pub const ESCAPE_AND_IGNORER: &str = r#"setsid sh -c 'eval "$R"; exec sleep 60' &
sh -c 'trap "" TERM; eval "$R"; exec sleep 60' & wait"#;

/// A current-thread runtime with its IO and time drivers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// The async face of a scripted tree, with the identities of its processes.
pub fn async_tree(s: Scripted) -> (AsyncTree, Vec<ProcessIdentity>) {
    let ids = s.all();
    (AsyncTree::from(s.tree), ids)
}

/// Waits on the runtime's timer (up to 10 s) until none of `ids` is alive;
/// returns those still alive.
pub async fn settle_dead(ids: &[ProcessIdentity]) -> Vec<ProcessIdentity> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let left = support::alive(ids);
        if left.is_empty() || Instant::now() > end {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The number of threads of this process (`Threads:` in `/proc/self/status`).
pub fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .expect("read /proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}
