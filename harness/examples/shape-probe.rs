//! A supervisor wrapper that shows what a tree really looks like: the helper of
//! the node interpreter's real-process tests (`harness/tests/node/`), run by
//! the warden as an external supervisor.
//!
//! ```text
//! shape-probe OUT [--wait MS] [--again MS] -- SUPERVISOR ARGS... NODE-COMMAND...
//! ```
//!
//! It starts `SUPERVISOR ARGS...` (the warden appends the node command), giving
//! it a report pipe of its own whose records it copies to the warden's
//! (`TEARDOWN_REPORT_FD`) and notes, "finished gracefully" records included.
//! When the warden's trigger (SIGTERM) comes, it waits `--wait` milliseconds,
//! writes every descendant of its own (pid, ppid, group, session, state, name
//! bytes, threads with their states and children, `NSpid`, cgroup, tracer) to
//! `OUT` as JSON, forwards the SIGTERM to the supervisor, and with `--again`
//! looks once more that long after. When the supervisor has exited it adds the
//! records it saw and exits with the supervisor's status.
//!
//! It only reads `/proc` and signals its own child. Build it with `cargo build
//! -p teardown-harness --example shape-probe` (`cargo test -p teardown-harness`
//! builds it).

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use serde_json::{Value, json};
use teardown_harness::node::record::{self, RECORD_LEN, REPORT_FD_ENV, Report};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dash = args
        .iter()
        .position(|a| a == "--")
        .expect("usage: shape-probe OUT [--wait MS] [--again MS] -- SUPERVISOR...");
    let (opts, sup) = (&args[..dash], &args[dash + 1..]);
    let out = opts.first().expect("OUT").clone();
    let flag = |name: &str| {
        opts.iter()
            .position(|a| a == name)
            .map(|i| Duration::from_millis(opts[i + 1].parse().expect("milliseconds")))
    };
    let (wait, again) = (flag("--wait"), flag("--again"));

    // SIGTERM is waited for, not handled: block it before anything else.
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&term), None).unwrap();

    let warden_fd: i32 = std::env::var(REPORT_FD_ENV).unwrap().parse().unwrap();
    let warden = teardown_harness::sys::adopt_inherited_fd(warden_fd).expect("the report pipe");
    // Only this process writes to the warden's pipe; the tree gets ours.
    rustix::io::fcntl_setfd(&warden, rustix::io::FdFlags::CLOEXEC).unwrap();
    let (ours_r, ours_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    rustix::io::fcntl_setfd(&ours_w, rustix::io::FdFlags::empty()).unwrap();
    let mut cmd = Command::new(&sup[0]);
    cmd.args(&sup[1..])
        .env(REPORT_FD_ENV, ours_w.as_raw_fd().to_string());
    teardown_harness::sys::unblock_signals_in_child(&mut cmd);
    let mut child = cmd.spawn().expect("start the supervisor");
    drop(ours_w);
    let start = Instant::now();
    let records: Arc<Mutex<Vec<Value>>> = Arc::default();
    let copier = {
        let records = Arc::clone(&records);
        std::thread::spawn(move || copy_records(ours_r, warden, start, &records))
    };

    let _ = term.wait();
    if let Some(w) = wait {
        std::thread::sleep(w);
    }
    let first = snapshot();
    let term_at = start.elapsed();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    );
    let second = again.map(|a| {
        std::thread::sleep(a);
        snapshot()
    });
    let status = child.wait().expect("wait for the supervisor");
    // Records written by the tree's last processes: give the copier a moment.
    std::thread::sleep(Duration::from_millis(50));
    let _ = copier.is_finished();
    let report = json!({
        "first": first,
        "second": second,
        "term_at_ms": term_at.as_secs_f64() * 1000.0,
        "records": *records.lock().unwrap(),
        "status": status.code(),
    });
    fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).expect("write OUT");
    std::process::exit(status.code().unwrap_or(1));
}

/// Copies records from the tree to the warden, noting each.
fn copy_records(from: OwnedFd, to: OwnedFd, start: Instant, seen: &Mutex<Vec<Value>>) {
    let mut from = fs::File::from(from);
    let mut to = fs::File::from(to);
    let mut buf = [0u8; RECORD_LEN];
    while from.read_exact(&mut buf).is_ok() {
        let _ = to.write_all(&buf);
        let (kind, r) = match record::decode_report(&buf) {
            Report::Ready(r) => ("ready", r),
            Report::Graceful(r) => ("graceful", r),
            Report::Upward(r) => ("upward", r),
        };
        seen.lock().unwrap().push(json!({
            "kind": kind,
            "node": r.node,
            "pid": r.pid,
            "at_ms": start.elapsed().as_secs_f64() * 1000.0,
        }));
    }
}

/// Every descendant of this process, breadth first.
fn snapshot() -> Vec<Value> {
    let mut out = Vec::new();
    let mut queue = vec![std::process::id() as i32];
    let mut i = 0;
    while i < queue.len() {
        let pid = queue[i];
        i += 1;
        let threads = threads(pid);
        for t in &threads {
            for c in t["children"].as_array().into_iter().flatten() {
                let c = c.as_i64().unwrap() as i32;
                if !queue.contains(&c) {
                    queue.push(c);
                }
            }
        }
        if pid as u32 == std::process::id() {
            continue;
        }
        if let Some(p) = process(pid, threads) {
            out.push(p);
        }
    }
    out
}

fn threads(pid: i32) -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let tid: i32 = match e.file_name().to_str().and_then(|s| s.parse().ok()) {
            Some(t) => t,
            None => continue,
        };
        let state = fs::read(format!("/proc/{pid}/task/{tid}/stat"))
            .ok()
            .and_then(|s| stat_fields(&s).map(|(_, f)| f[0].clone()));
        let children: Vec<i32> = fs::read_to_string(format!("/proc/{pid}/task/{tid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect();
        out.push(json!({"tid": tid, "state": state, "children": children}));
    }
    out
}

/// `1234 kB` → 1234 (-1 if absent).
fn kb(value: &str) -> i64 {
    value
        .strip_suffix(" kB")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(-1)
}

/// The name (bytes between the first `(` and the last `)`) and the fields after it.
fn stat_fields(stat: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let name = stat[open + 1..close].to_vec();
    let rest = String::from_utf8_lossy(&stat[close + 1..]);
    Some((name, rest.split_whitespace().map(str::to_owned).collect()))
}

fn process(pid: i32, threads: Vec<Value>) -> Option<Value> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let (name, f) = stat_fields(&stat)?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let nspid: Vec<i64> = line("NSpid:")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
        .unwrap_or_default();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1);
    Some(json!({
        "pid": pid,
        "name": name,
        "state": f.first(),
        "ppid": num(1),
        "pgid": num(2),
        "sid": num(3),
        "tty_nr": num(4),
        "start_time": num(19),
        "threads": threads,
        "nspid": nspid,
        "cgroup": cgroup,
        "tracer": line("TracerPid:").parse::<i64>().unwrap_or(-1),
        "rss_anon_kb": kb(&line("RssAnon:")),
    }))
}
