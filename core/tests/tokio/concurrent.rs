//! Many trees torn down at once on a current-thread runtime: no thread per
//! tree, and the runtime keeps running meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use teardown::Method;

use crate::support::{Cleanup, alive, for_each_method, spawn_sh};
use crate::{async_tree, runtime, threads};

const TREES: usize = 50;

/// The two tests here count this process's threads: one at a time (the other
/// tests of this binary start no thread).
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn counting() -> std::sync::MutexGuard<'static, ()> {
    COUNTING.lock().unwrap_or_else(|e| e.into_inner())
}
/// The grace every teardown runs out (its tree ignores SIGTERM).
const GRACE: Duration = Duration::from_millis(300);

/// Counts this process's threads every millisecond until dropped; the highest
/// count seen.
struct ThreadWatch {
    max: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl ThreadWatch {
    fn start() -> ThreadWatch {
        let max = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m, s) = (max.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(threads(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        ThreadWatch {
            max,
            stop,
            handle: Some(handle),
        }
    }

    fn max(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        self.max.load(Ordering::Relaxed)
    }
}

/// `TREES` trees of `method` whose members ignore SIGTERM; their identities.
fn trees(method: Method) -> (Vec<teardown::tokio::AsyncTree>, Cleanup) {
    let mut all = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..TREES {
        let (t, i) = async_tree(spawn_sh(
            method,
            r#"trap "" TERM; (eval "$R"; exec sleep 60) & wait"#,
            1,
        ));
        all.push(t);
        ids.extend(i);
    }
    (all, Cleanup(ids))
}

#[test]
fn fifty_trees_tear_down_at_once_on_one_thread_without_a_thread_per_tree() {
    let _one_at_a_time = counting();
    for_each_method([Method::Cgroup, Method::ProcWalk, Method::Pidns], |m| {
        let (mut all, guard) = trees(m);
        let rt = runtime();
        let before = threads();
        let watch = ThreadWatch::start();
        let (reports, stalled) = rt.block_on(async {
            // A ticker on the same thread: the longest gap between its ticks
            // is how long the runtime was kept from running.
            let ticking = Arc::new(std::sync::atomic::AtomicBool::new(true));
            let t = ticking.clone();
            let ticker = tokio::spawn(async move {
                let mut longest = Duration::ZERO;
                let mut last = Instant::now();
                while t.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    longest = longest.max(last.elapsed());
                    last = Instant::now();
                }
                longest
            });
            let mut tasks = tokio::task::JoinSet::new();
            for mut tree in all.drain(..) {
                tasks.spawn(async move { tree.teardown(GRACE).await });
            }
            let mut reports = Vec::new();
            while let Some(r) = tasks.join_next().await {
                reports.push(r.unwrap());
            }
            ticking.store(false, Ordering::Relaxed);
            (reports, ticker.await.unwrap())
        });
        let max = watch.max();
        eprintln!("{m}: {before} threads before, at most {max} during; longest stall {stalled:?}");
        for r in &reports {
            let r = r.as_ref().unwrap_or_else(|e| panic!("{m}: {e}"));
            assert!(r.escalated, "{m}: each tree ran out its grace");
        }
        assert_eq!(alive(&guard.0), vec![], "{m}: every tree drained");
        // The watcher is one thread; other tests of this binary run meanwhile
        // and may add a few. A thread per tree would add fifty.
        assert!(
            max < before + TREES / 2,
            "{m}: {before} threads before, up to {max} during {TREES} teardowns"
        );
        assert!(
            stalled < GRACE,
            "{m}: the runtime stalled for {stalled:?} (a blocking teardown holds it a grace)"
        );
    });
}

/// The negative control for the count above: the same teardowns, blocking, one
/// per `spawn_blocking` thread, are seen adding a thread per tree.
#[test]
fn the_thread_count_sees_blocking_teardowns_take_a_thread_each() {
    let _one_at_a_time = counting();
    let (mut all, guard) = trees(Method::ProcWalk);
    let rt = runtime();
    let before = threads();
    let watch = ThreadWatch::start();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for tree in all.drain(..) {
            let mut tree: teardown::Tree = tree.into_tree();
            tasks.spawn_blocking(move || tree.teardown(GRACE));
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
    });
    let max = watch.max();
    eprintln!("blocking: {before} threads before, at most {max} during");
    assert_eq!(alive(&guard.0), vec![]);
    assert!(
        max >= before + TREES * 4 / 5,
        "{before} threads before, up to {max} during {TREES} blocking teardowns"
    );
}
