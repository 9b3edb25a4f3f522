//! Measures drain latency per method for a flat tree: `sh -c` starts N
//! `sleep 60 &` and reports when all are running; then `teardown(0)` is timed.
//!
//! ```text
//! cargo run --release -p teardown --example drain -- [N] [RUNS] [METHOD...]
//! ```
//! Prints the median, min and max drain latency (the report's `drain`) and the
//! wall time of the `teardown` call, per method.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use teardown::{Method, ProcessIdentity};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let methods: Vec<Method> = {
        let named: Vec<Method> = args.map(|a| a.parse().expect("a method name")).collect();
        if named.is_empty() {
            Method::ALL.to_vec()
        } else {
            named
        }
    };
    println!("flat tree of {n} sleeps, {runs} runs, teardown(grace 0)");
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>12}",
        "method", "median", "min", "max", "call median"
    );
    for m in methods {
        let mut drains = Vec::new();
        let mut calls = Vec::new();
        for _ in 0..runs {
            let script = format!(
                "i=0; while [ $i -lt {n} ]; do sleep 60 & i=$((i+1)); done; echo ready; wait"
            );
            let mut cmd = Command::new("sh");
            cmd.args(["-c", &script]).stdout(Stdio::piped());
            let mut tree = match m.spawn(&mut cmd) {
                Ok(t) => t,
                Err(e) => {
                    println!("{:<16} {e}", m.name());
                    break;
                }
            };
            let mut line = String::new();
            BufReader::new(tree.take_stdout().expect("piped"))
                .read_line(&mut line)
                .expect("ready line");
            let tree_ids = wait_running(tree.leader_pid(), n);
            let t = Instant::now();
            let r = tree.teardown(Duration::ZERO).expect("teardown");
            calls.push(t.elapsed());
            // The weak methods leave the sleeps running: end them (ours, by identity).
            for id in tree_ids {
                let _ = id.kill();
            }
            drains.push(r.drain);
        }
        if drains.is_empty() {
            continue;
        }
        drains.sort();
        calls.sort();
        println!(
            "{:<16} {:>10.2?} {:>10.2?} {:>10.2?} {:>12.2?}",
            m.name(),
            drains[drains.len() / 2],
            drains[0],
            drains[drains.len() - 1],
            calls[calls.len() / 2]
        );
    }
}

/// Waits until the leader has `n` children that exec'd `sleep`; returns them.
fn wait_running(leader: u32, n: usize) -> Vec<ProcessIdentity> {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let kids = std::fs::read_to_string(format!("/proc/{leader}/task/{leader}/children"))
            .unwrap_or_default();
        let sleeping: Vec<ProcessIdentity> = kids
            .split_ascii_whitespace()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            })
            .filter_map(|p| ProcessIdentity::of(p.parse().ok()?).ok())
            .collect();
        if sleeping.len() >= n || Instant::now() > end {
            return sleeping;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
