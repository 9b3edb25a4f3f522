//! Runs teardowns of one shape over and over, for a profiler or a quick
//! comparison; with several methods, interleaved (so that they share the
//! machine's load), and prints each one's median and mean:
//!
//! ```text
//! cargo build --release -p teardown-benches --bins --examples
//! perf record -g -- target/release/examples/profile-drain proc-walk flat 1000 20
//! target/release/examples/profile-drain floor,cgroup,proc-walk flat 1000 30
//! ```
//!
//! METHOD is a core method name, or `floor`. Uses `bench-tree` and `bench-shim`
//! from the directory above this example (`target/<profile>/`).

use std::path::PathBuf;
use std::process::{Child, ExitCode};
use std::time::Duration;

use teardown::Method;
use teardown_benches::rig::{Placement, Rig, floor_request};
use teardown_benches::stats::DrainStats;
use teardown_benches::{Shape, TreeShape};

enum Who {
    Floor(Child),
    Method(Method),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [methods, shape, n, iters] = args.as_slice() else {
        eprintln!("usage: profile-drain METHOD[,METHOD..] (flat|chain) N ITERS");
        return ExitCode::from(2);
    };
    let (Ok(shape), Ok(n), Ok(iters)) = (
        shape.parse::<Shape>(),
        n.parse::<u32>(),
        iters.parse::<u32>(),
    ) else {
        eprintln!("profile-drain: bad arguments");
        return ExitCode::from(2);
    };
    let exe = std::env::current_exe().expect("own path");
    let bin_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .map(PathBuf::from)
        .expect("target/<profile>");
    let mut rig = Rig::new(bin_dir.join("bench-tree")).expect("rig");
    let shape = TreeShape { shape, n };
    let opts = rig.spawn_options(bin_dir.join("bench-shim"));
    let mut rows: Vec<(String, Who, Vec<Duration>, DrainStats)> = Vec::new();
    for name in methods.split(',') {
        let who = if name == "floor" {
            // Not in the observer cgroup: the server outlives every tree.
            let server = std::process::Command::new(bin_dir.join("bench-tree"))
                .args(["floor", &n.to_string()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn();
            Who::Floor(server.expect("floor helper"))
        } else {
            match name.parse::<Method>() {
                Ok(m) => Who::Method(m),
                Err(e) => {
                    eprintln!("profile-drain: {e}");
                    return ExitCode::from(2);
                }
            }
        };
        rows.push((name.to_owned(), who, Vec::new(), DrainStats::default()));
    }
    for _ in 0..iters {
        for (_, who, times, stats) in &mut rows {
            let drained = match who {
                Who::Floor(server) => floor_request(server, 1).expect("floor round"),
                Who::Method(method) => {
                    let method = *method;
                    let (placement, view) = Placement::of_method(method);
                    let mut cmd = rig.tree_command(shape, placement);
                    let mut tree = method.spawn_with(&mut cmd, &opts).expect("spawn");
                    drop(cmd);
                    rig.await_ready(shape, view).expect("ready");
                    let (timed, report) = rig
                        .time_teardown(stats, || tree.teardown(Duration::ZERO))
                        .expect("observe");
                    stats.rounds += report.expect("teardown").rounds;
                    timed.drained
                }
            };
            times.push(drained);
        }
    }
    for (name, who, mut times, stats) in rows {
        times.sort_unstable();
        let median = times[times.len() / 2];
        let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
        println!(
            "{name}/{shape}: median {median:.2?}, mean {mean:.2?}; {}",
            stats.summary()
        );
        if let Who::Floor(mut server) = who {
            drop(server.stdin.take());
            let _ = server.wait();
        }
    }
    ExitCode::SUCCESS
}
