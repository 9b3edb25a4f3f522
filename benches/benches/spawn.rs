//! Spawn cost per method (group `spawn`): spawn + `wait_leader` + teardown of
//! `/bin/true`, against `std::process::Command::spawn` + wait of the same, back
//! to back; and `spawn-lone`: the same for the cgroup methods after a quiet spell
//! (no cgroup migration for 30 ms), timing the spawn alone, where a leader that
//! writes itself into `cgroup.procs` waits for an RCU grace period (`moved`) and
//! one born there by `clone3(CLONE_INTO_CGROUP)` does not (`born`; and
//! `born-no-watchdog`, without the watchdog's fork and exec of the shim program).
//!
//! ```sh
//! cargo bench -p teardown-benches --bench spawn
//! ```

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use teardown::{Availability, CgroupEntry, Method, SpawnOptions};

/// The methods timed, in the README table's order (`auto` runs one of them).
const METHODS: [Method; 8] = [
    Method::Leader,
    Method::Killpg,
    Method::KillpgWaitpgid,
    Method::Subreaper,
    Method::ProcWalk,
    Method::CgroupKill,
    Method::Cgroup,
    Method::Pidns,
];

/// How long no migration happens before a `spawn-lone` spawn.
const QUIET: Duration = Duration::from_millis(30);

/// The shim for `subreaper`, `proc-walk` and `pidns`, and `cgroup`'s watchdog:
/// this package's `bench-shim`, unless `TEARDOWN_SHIM` names another.
fn shim() -> PathBuf {
    std::env::var_os("TEARDOWN_SHIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_bench-shim")))
}

fn true_cmd() -> Command {
    Command::new("/bin/true")
}

/// One contained run of `/bin/true`: spawn, wait for the leader, tear down.
fn contained(method: Method, cmd: &mut Command, opts: &SpawnOptions) -> Option<CgroupEntry> {
    let mut tree = method
        .spawn_with(cmd, opts)
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    let entry = tree.cgroup_entry();
    assert!(tree.wait_leader().expect("wait").success());
    tree.teardown(Duration::ZERO)
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    entry
}

fn main() {
    let mut criterion = Criterion::default()
        .nresamples(10_000)
        .configure_from_args();
    let opts = SpawnOptions::default().with_shim(shim(), Vec::new());
    let probe = teardown::probe_with(&opts);

    let mut group = criterion.benchmark_group("spawn");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("command", |b| {
        b.iter(|| assert!(true_cmd().status().expect("spawn").success()))
    });
    for method in METHODS {
        if let Availability::Unsupported { reason } = probe.availability(method) {
            eprintln!("spawn/{method}: skipped, unsupported here: {reason}");
            continue;
        }
        group.bench_function(BenchmarkId::from_parameter(method), |b| {
            b.iter(|| contained(method, &mut true_cmd(), &opts))
        });
    }
    group.finish();

    // After a quiet spell, the spawn alone: born in the leaf (root's `/bin/true`)
    // or moved in (the same as uid 65534, which cannot write the leaf, so
    // `clone3` is refused and the leader writes `cgroup.procs` itself).
    let mut lone = criterion.benchmark_group("spawn-lone");
    lone.sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(500));
    let root = rustix::process::geteuid().is_root();
    for method in [Method::Cgroup, Method::CgroupKill] {
        if let Availability::Unsupported { reason } = probe.availability(method) {
            eprintln!("spawn-lone/{method}: skipped, unsupported here: {reason}");
            continue;
        }
        let mut paths = vec![
            ("born", CgroupEntry::Born),
            ("born-no-watchdog", CgroupEntry::Born),
        ];
        if root {
            paths.push((
                "moved",
                CgroupEntry::Moved {
                    clone3_errno: libc_eacces(),
                },
            ));
        }
        let no_watchdog = opts.clone().with_cgroup_watchdog(false);
        for (name, want) in paths {
            let opts = if name == "born-no-watchdog" {
                &no_watchdog
            } else {
                &opts
            };
            lone.bench_function(BenchmarkId::new(method.to_string(), name), |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        std::thread::sleep(QUIET);
                        let mut cmd = true_cmd();
                        if name == "moved" {
                            cmd.uid(65534).gid(65534);
                        }
                        let t = Instant::now();
                        let mut tree = method
                            .spawn_with(&mut cmd, opts)
                            .unwrap_or_else(|e| panic!("{method}: {e}"));
                        spent += t.elapsed();
                        assert_eq!(tree.cgroup_entry(), Some(want), "{method} {name}");
                        tree.teardown(Duration::ZERO).expect("teardown");
                    }
                    spent
                })
            });
        }
    }
    lone.finish();
    criterion.final_summary();
}

/// `EACCES`, what `clone3` answers a uid that cannot write the leaf.
fn libc_eacces() -> i32 {
    rustix::io::Errno::ACCESS.raw_os_error()
}
