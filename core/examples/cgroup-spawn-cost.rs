//! What `cgroup`'s watchdog adds to a spawn: `Method::Cgroup.spawn` of `true`,
//! and the whole spawn + teardown, with the watchdog on and off, interleaved run by
//! run (so both see the same load), N runs each (default 100):
//! `cargo run --release -p teardown --example cgroup-spawn-cost [N]`. Needs a
//! writable cgroup2 (root) and the `teardown-shim` binary beside the example's
//! directory (`cargo build --release -p teardown` builds it).
use std::process::Command;
use std::time::{Duration, Instant};

use teardown::{Method, SpawnOptions};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100, |a| a.parse().expect("usage: cgroup-spawn-cost [N]"));
    let mut rows = [
        (true, Vec::new(), Vec::new()),
        (false, Vec::new(), Vec::new()),
    ];
    for _ in 0..n {
        for (watchdog, spawn, total) in rows.iter_mut() {
            let opts = SpawnOptions::default().with_cgroup_watchdog(*watchdog);
            let t = Instant::now();
            let mut tree = Method::Cgroup
                .spawn_with(&mut Command::new("true"), &opts)
                .expect("spawn");
            spawn.push(t.elapsed());
            tree.teardown(Duration::ZERO).expect("teardown");
            total.push(t.elapsed());
        }
    }
    for (watchdog, spawn, total) in rows.iter_mut() {
        println!(
            "cgroup, watchdog {:3}: {n} runs: spawn {}; spawn+teardown {}",
            if *watchdog { "on" } else { "off" },
            stats(spawn),
            stats(total)
        );
    }
}

fn stats(v: &mut [Duration]) -> String {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = v.iter().map(|d| us(*d)).sum::<f64>() / v.len() as f64;
    format!(
        "median {:.0} us, mean {:.0} us, p90 {:.0} us",
        us(v[v.len() / 2]),
        mean,
        us(v[v.len() * 9 / 10])
    )
}
