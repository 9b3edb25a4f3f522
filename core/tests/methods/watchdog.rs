//! The `cgroup` method's watchdog: a child of the host, outside the leaf, reaped
//! by every way a tree ends in the host (teardown, drop, a failed spawn), and never
//! left behind. (What it does when the host dies is in `host_death.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use teardown::{Method, ProcessIdentity, SpawnError, SpawnOptions, Tree};

use crate::support::{
    Cleanup, alive, cgroup_dir_of, opts, processes_with_arg, spawn_reporting_with, wait_until,
};

/// A cgroup made for one test, to hold its trees' leaves (so that the watchdog's
/// argv — the leaf path — names this test's trees only). Removed on drop.
struct TestParent(PathBuf);

impl TestParent {
    fn new() -> TestParent {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let own = cgroup_dir_of(std::process::id()).expect("this process's cgroup2 dir");
        let dir = own.join(format!(
            "wdtest-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).expect("create a test cgroup");
        TestParent(dir)
    }

    fn opts(&self) -> SpawnOptions {
        opts().with_cgroup_parent(&self.0)
    }

    /// The `teardown-*` leaves under it.
    fn leaves(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    }

    /// Live watchdogs of this test's leaves, with their parent PIDs.
    fn watchdogs(&self) -> Vec<(ProcessIdentity, u32)> {
        processes_with_arg(&self.0.display().to_string())
    }
}

impl Drop for TestParent {
    fn drop(&mut self) {
        for leaf in self.leaves() {
            let _ = std::fs::write(leaf.join("cgroup.kill"), "1");
            for _ in 0..500 {
                if std::fs::remove_dir(&leaf).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// True once no process holds the identity any more: exited *and* reaped.
fn reaped(id: &ProcessIdentity) -> bool {
    ProcessIdentity::of(id.pid).map_or(true, |now| now.start_time != id.start_time)
}

fn spawn_tree(parent: &TestParent, options: &SpawnOptions) -> crate::support::Scripted {
    let s = spawn_reporting_with(
        Method::Cgroup,
        "sh",
        &["-c", r#"(eval "$R"; exec sleep 60) & wait"#],
        1,
        options,
    );
    assert_eq!(parent.leaves().len(), 1, "the tree has its leaf");
    s
}

/// The one watchdog of `parent`'s tree: a child of this process, not in the leaf.
fn the_watchdog(parent: &TestParent, leaf: &Path) -> ProcessIdentity {
    let dogs = parent.watchdogs();
    assert_eq!(dogs.len(), 1, "one watchdog per tree: {dogs:?}");
    let (dog, ppid) = dogs[0];
    assert_eq!(
        ppid,
        std::process::id(),
        "the host is the watchdog's parent"
    );
    assert_ne!(
        cgroup_dir_of(dog.pid).as_deref(),
        Some(leaf),
        "the watchdog is outside the leaf (it must survive cgroup.kill)"
    );
    dog
}

#[test]
fn a_torn_down_cgroup_tree_leaves_no_watchdog_and_no_leaf() {
    ends_leaving_no_watchdog_and_no_leaf("teardown", |mut tree| {
        tree.teardown(Duration::ZERO).unwrap();
    });
}

#[test]
fn a_dropped_cgroup_tree_leaves_no_watchdog_and_no_leaf() {
    ends_leaving_no_watchdog_and_no_leaf("drop", drop);
}

/// Spawns a cgroup tree with its watchdog, ends it by `end` (`how`), and checks
/// the tree is gone, the watchdog disarmed and reaped, the leaf removed.
fn ends_leaving_no_watchdog_and_no_leaf(how: &str, end: impl FnOnce(Tree)) {
    let parent = TestParent::new();
    let s = spawn_tree(&parent, &parent.opts());
    let _guard = Cleanup(s.all());
    let leaf = cgroup_dir_of(s.leader.pid).unwrap();
    let dog = the_watchdog(&parent, &leaf);
    let all = s.all();
    end(s.tree);
    assert_eq!(alive(&all), vec![]);
    assert!(reaped(&dog), "{how} disarmed and reaped the watchdog");
    assert_eq!(parent.leaves(), Vec::<PathBuf>::new());
}

#[test]
fn a_failed_leader_spawn_removes_the_leaf_and_reaps_the_watchdog() {
    let parent = TestParent::new();
    let err = Method::Cgroup
        .spawn_with(
            &mut Command::new("/nonexistent/teardown-test-program"),
            &parent.opts(),
        )
        .unwrap_err();
    assert!(matches!(err, SpawnError::Spawn { .. }), "{err:?}");
    assert_eq!(parent.leaves(), Vec::<PathBuf>::new());
    assert_eq!(parent.watchdogs(), vec![], "the watchdog was reaped");
}

#[test]
fn a_cgroup_tree_without_the_watchdog_starts_none() {
    let parent = TestParent::new();
    let s = spawn_tree(&parent, &parent.opts().with_cgroup_watchdog(false));
    let _guard = Cleanup(s.all());
    assert_eq!(parent.watchdogs(), vec![]);
    let mut tree = s.tree;
    tree.teardown(Duration::ZERO).unwrap();
    assert_eq!(parent.leaves(), Vec::<PathBuf>::new());
}

#[test]
fn a_watchdog_whose_host_dies_kills_the_leaf_and_removes_it() {
    // The shim mode driven by hand, with a leaf this test made: end of file on the
    // arm pipe without the disarm byte is what the host's death looks like.
    let parent = TestParent::new();
    let leaf = parent.0.join("teardown-by-hand");
    std::fs::create_dir(&leaf).unwrap();
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let sleeper_id = ProcessIdentity::of(sleeper.id()).unwrap();
    let _guard = Cleanup(vec![sleeper_id]);
    std::fs::write(leaf.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    let mut watchdog = watch_cgroup(&leaf);
    drop(watchdog.stdin.take()); // the host "died"
    let status = wait_exit(watchdog);
    assert!(status.success(), "{status:?}");
    let _ = sleeper.wait();
    assert!(!sleeper_id.is_alive());
    assert!(!leaf.exists(), "the watchdog removed the leaf");
}

#[test]
fn a_disarmed_watchdog_leaves_the_leaf_alone() {
    let parent = TestParent::new();
    let leaf = parent.0.join("teardown-by-hand");
    std::fs::create_dir(&leaf).unwrap();
    let mut watchdog = watch_cgroup(&leaf);
    let mut arm = watchdog.stdin.take().unwrap();
    std::io::Write::write_all(&mut arm, b"d").unwrap();
    drop(arm);
    assert!(wait_exit(watchdog).success());
    assert!(leaf.exists(), "a disarmed watchdog does not touch the leaf");
    std::fs::remove_dir(&leaf).unwrap();
}

/// Starts `teardown-shim watch-cgroup` as the library does, but by hand: `sh`
/// moves the arm pipe (the child's stdin; the test holds the write end) to fd 3
/// and opens the leaf directory as fd 4.
fn watch_cgroup(leaf: &Path) -> std::process::Child {
    Command::new("sh")
        .args([
            "-c",
            r#"exec 3<&0 4<"$1" 0</dev/null; exec "$2" watch-cgroup 3 4 "$1""#,
            "sh",
        ])
        .arg(leaf)
        .arg(env!("CARGO_BIN_EXE_teardown-shim"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_exit(mut child: std::process::Child) -> std::process::ExitStatus {
    wait_until("the watchdog exits", || child.try_wait().unwrap().is_some());
    child.wait().unwrap()
}
