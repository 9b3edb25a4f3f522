//! What each new word really makes, as `/proc` shows it while the tree runs.

use std::time::Duration;

use rstest::rstest;
use serde_json::Value;
use teardown::Verdict;
use teardown_harness::node::EVIL_NAME;

use super::{Observed, observe};

const MS: fn(u64) -> Duration = Duration::from_millis;

fn state(p: &Value) -> &str {
    p["state"].as_str().unwrap_or("?")
}

fn num(p: &Value, key: &str) -> i64 {
    p[key].as_i64().unwrap_or(-1)
}

fn nspid(p: &Value) -> Vec<i64> {
    p["nspid"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Thread states by TID.
fn threads(p: &Value) -> Vec<(i64, String)> {
    p["threads"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| (num(t, "tid"), t["state"].as_str().unwrap_or("?").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Gone, or a zombie (its parent has not reaped it).
fn dead(o: &Observed, which: &str, pid: i64) -> bool {
    o.proc(which, pid).is_none_or(|p| state(p) == "Z")
}

/// The processes of a snapshot whose parent is `ppid`.
fn children_of<'a>(o: &'a Observed, which: &str, ppid: i64) -> Vec<&'a Value> {
    o.all(which)
        .into_iter()
        .filter(|p| num(p, "ppid") == ppid)
        .collect()
}

fn assert_clean(o: &Observed) {
    assert_eq!(o.outcome.verdict, Verdict::Clean, "{}", o.dump());
}

#[test]
fn main_exit_leaves_a_live_process_whose_main_thread_is_a_zombie() {
    let o = observe(
        "pause [fork: main-exit]",
        "pidns",
        MS(300),
        Some(MS(100)),
        None,
    );
    let pid = o.pid(1);
    let p = o.at_trigger(pid);
    let threads = threads(p);
    assert_eq!(
        state(p),
        "Z",
        "the process shows its leader's state: {}",
        o.dump()
    );
    assert!(
        threads.iter().any(|(tid, s)| *tid == pid && s == "Z"),
        "{threads:?}"
    );
    assert!(
        threads.iter().any(|(tid, s)| *tid != pid && s == "S"),
        "another thread lives on: {threads:?}"
    );
    assert_clean(&o);
}

#[test]
fn thread_fork_hands_the_child_to_a_sibling_thread() {
    let o = observe(
        "pause [fork: thread-fork]",
        "pidns",
        MS(300),
        Some(MS(200)),
        None,
    );
    let pid = o.pid(1);
    let p = o.at_trigger(pid);
    let kids = children_of(&o, "first", pid);
    assert_eq!(kids.len(), 1, "{}", o.dump());
    let child = num(kids[0], "pid");
    assert_eq!(state(kids[0]), "S");
    // The forking thread is gone: the child is listed by the one left, the main
    // thread, which did not fork it.
    assert_eq!(threads(p).len(), 1, "{}", o.dump());
    let listed: Vec<i64> = p["threads"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(listed, [child], "{}", o.dump());
    assert_clean(&o);
}

#[test]
fn vfork_3_makes_a_chain_of_three_processes_each_parent_in_state_d() {
    let o = observe(
        "pause [fork: vfork=3]",
        "pidns",
        MS(300),
        Some(MS(100)),
        None,
    );
    let mut pid = o.pid(1);
    let mut chain = vec![state(o.at_trigger(pid)).to_owned()];
    loop {
        let kids = children_of(&o, "first", pid);
        match kids.as_slice() {
            [] => break,
            [k] => {
                pid = num(k, "pid");
                chain.push(state(k).to_owned());
            }
            more => panic!("{} children of {pid}: {}", more.len(), o.dump()),
        }
    }
    // The node and its three vforked processes: every parent blocked in vfork.
    assert_eq!(chain, ["D", "D", "D", "S"], "{}", o.dump());
    assert_clean(&o);
}

#[test]
fn hop_leaves_one_live_process_in_a_new_session_with_a_new_pid() {
    let o = observe(
        "pause [fork: hop=5@20]",
        "pidns",
        MS(300),
        Some(MS(500)),
        None,
    );
    let (leader, node) = (o.pid(0), o.pid(1));
    let depth = nspid(o.at_trigger(leader)).len();
    assert!(
        dead(&o, "first", node),
        "the node's own process hopped away: {}",
        o.dump()
    );
    let records: Vec<i64> = o.outcome.nodes.iter().map(|r| i64::from(r.pid)).collect();
    let hoppers: Vec<&Value> = o
        .all("first")
        .into_iter()
        .filter(|p| {
            let ns = nspid(p);
            ns.len() == depth && ns.last() != Some(&1) && !records.contains(&num(p, "pid"))
        })
        .collect();
    assert_eq!(hoppers.len(), 1, "one live hopper: {}", o.dump());
    let h = hoppers[0];
    let leader_sid = num(o.at_trigger(leader), "sid");
    assert_eq!(state(h), "S");
    assert_ne!(num(h, "sid"), leader_sid, "a session of its own");
    assert_ne!(
        num(h, "pid"),
        num(h, "sid"),
        "made by a parent that is gone"
    );
    assert!(o.proc("first", num(h, "sid")).is_none(), "{}", o.dump());
    assert_clean(&o);
}

#[test]
fn evil_name_is_the_name_proc_shows() {
    let o = observe(
        "pause [fork: evil-name pause]",
        "pidns",
        MS(300),
        None,
        None,
    );
    let name: Vec<u8> = o.at_trigger(o.pid(1))["name"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(name, EVIL_NAME, "{}", String::from_utf8_lossy(&name));
    // The oracle read its stat all the same.
    assert_clean(&o);
}

#[test]
fn cgroup_nest_moves_the_node_into_a_cgroup_below_its_own() {
    let o = observe(
        "pause [fork: cgroup-nest pause]",
        "pidns",
        MS(300),
        None,
        None,
    );
    let leader = o.at_trigger(o.pid(0));
    let node = o.at_trigger(o.pid(1));
    let own_pid = nspid(node).last().copied().unwrap();
    let expected = format!(
        "{}/node-1-{own_pid}",
        leader["cgroup"].as_str().unwrap().trim_end_matches('/')
    );
    assert_eq!(
        node["cgroup"].as_str(),
        Some(expected.as_str()),
        "{}",
        o.dump()
    );
    assert_clean(&o);
}

/// `slow-exit` holds 256 MiB of private memory (`slow-exit=SIZE`: SIZE), every
/// page present (what its exit must free page by page), and so does a process
/// it forks after (a fork shares the pages copy-on-write; a `hop` or `userns`
/// continuation of the node is slow to exit too).
#[rstest]
#[case::default_size("slow-exit", 256)]
#[case::sized("slow-exit=16MiB", 16)]
fn slow_exit_node_holds_its_memory_every_page_present_and_passes_it_on(
    #[case] word: &str,
    #[case] mib: i64,
) {
    let o = observe(
        &format!("pause [fork: {word} pause [fork: pause]]"),
        "pidns",
        MS(300),
        None,
        None,
    );
    let held_kb = mib * 1024;
    let leader = o.at_trigger(o.pid(0));
    let node = o.at_trigger(o.pid(1));
    let child = o.at_trigger(o.pid(2));
    for p in [node, child] {
        let kb = num(p, "rss_anon_kb");
        // Every page, and not the default's 256 MiB for a smaller size.
        assert!((held_kb..held_kb + 16 * 1024).contains(&kb), "{}", o.dump());
    }
    let leader_kb = num(leader, "rss_anon_kb");
    assert!((0..held_kb / 2).contains(&leader_kb), "{}", o.dump());
    assert_clean(&o);
}

#[test]
fn userns_node_is_pid_1_of_a_nested_namespace_below_a_waiting_parent() {
    let o = observe(
        "pause [fork: userns pause [fork: pause]]",
        "pidns",
        MS(300),
        None,
        None,
    );
    let records = &o.outcome.nodes;
    let ns = |id: u32| records.iter().find(|r| r.node == id).unwrap().pidns;
    assert_ne!(ns(1), ns(0), "node 1 reported from another PID namespace");
    assert_eq!(ns(2), ns(1));
    // The records as the nodes wrote them (the probe copied them): PID 1, 2.
    let raw_pid = |id: u32| {
        o.seen["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "ready" && r["node"] == id)
            .map(|r| num(r, "pid"))
    };
    assert_eq!((raw_pid(1), raw_pid(2)), (Some(1), Some(2)), "{}", o.dump());
    // Found by shape, not by record: the warden's placing of a nested record
    // (innermost PID and start time) cannot tell this node from the `pidns`
    // method's own init, PID 1 of another namespace, when both started in the
    // same clock tick.
    let leader = o.at_trigger(o.pid(0));
    let waiters = children_of(&o, "first", num(leader, "pid"));
    assert_eq!(waiters.len(), 1, "{}", o.dump());
    let waiter = waiters[0];
    assert_eq!(
        nspid(waiter).len(),
        nspid(leader).len(),
        "the waiter stays outside"
    );
    let nodes = children_of(&o, "first", num(waiter, "pid"));
    assert_eq!(nodes.len(), 1, "{}", o.dump());
    let node = nodes[0];
    assert_eq!(nspid(node).len(), nspid(leader).len() + 1, "{}", o.dump());
    assert_eq!(nspid(node).last(), Some(&1));
    let children = children_of(&o, "first", num(node, "pid"));
    assert_eq!(children.len(), 1, "{}", o.dump());
    assert_eq!(nspid(children[0]).len(), nspid(node).len());
    assert_eq!(nspid(children[0]).last(), Some(&2));
    assert_clean(&o);
}

#[rstest]
#[case::under_pidns("pidns")]
#[case::under_proc_walk("proc-walk")]
fn a_cparent_child_is_a_child_of_the_spawning_nodes_parent(#[case] method: &str) {
    let o = observe(
        "pause [cparent: pause, fork: pause [cparent: pause]]",
        method,
        MS(300),
        None,
        None,
    );
    let leader = o.at_trigger(o.pid(0));
    // The leader's: a child of the supervisor side (the shim, or the namespace's
    // init), the leader's sibling.
    assert_eq!(
        num(o.at_trigger(o.pid(1)), "ppid"),
        num(leader, "ppid"),
        "{}",
        o.dump()
    );
    // Node 2's: a child of the leader, node 2's sibling.
    assert_eq!(num(o.at_trigger(o.pid(3)), "ppid"), num(leader, "pid"));
    assert_clean(&o);
}

#[test]
fn a_cparent_child_of_a_namespace_init_is_forked_instead() {
    let o = observe(
        "userns pause [cparent: pause]",
        "pidns",
        MS(300),
        None,
        None,
    );
    // By shape (see the userns test): the deepest namespace's PID 1 and 2.
    let depth = o.all("first").iter().map(|p| nspid(p).len()).max().unwrap();
    let in_deepest = |last: i64| {
        o.all("first")
            .into_iter()
            .find(|p| nspid(p).len() == depth && nspid(p).last() == Some(&last))
            .unwrap_or_else(|| panic!("no PID {last} in the deepest namespace: {}", o.dump()))
    };
    let (node, child) = (in_deepest(1), in_deepest(2));
    assert_eq!(num(child, "ppid"), num(node, "pid"), "{}", o.dump());
    assert_clean(&o);
}

#[test]
fn a_subreaper_adopts_an_orphan_of_its_descendants() {
    let o = observe(
        "pause [fork: subreaper pause [dfork: pause]]",
        "pidns",
        MS(300),
        None,
        None,
    );
    assert_eq!(
        num(o.at_trigger(o.pid(2)), "ppid"),
        o.pid(1),
        "{}",
        o.dump()
    );
    assert_clean(&o);
}

#[test]
fn trace_keeps_its_children_alive_through_sigterm_and_no_one_else() {
    // The leader survives SIGTERM too: its handler signals its parent, the
    // namespace's init, which the safety rule skips.
    let o = observe(
        "term-kill-parent=winch trace [fork: pause [fork: pause]]",
        "pidns",
        MS(2000),
        Some(MS(100)),
        Some(MS(400)),
    );
    let (leader, traced, untraced) = (o.pid(0), o.pid(1), o.pid(2));
    assert_eq!(num(o.at_trigger(traced), "tracer"), leader, "{}", o.dump());
    assert_eq!(num(o.at_trigger(untraced), "tracer"), 0);
    // 400 ms after the graceful SIGTERM reached everyone:
    assert!(!dead(&o, "second", leader), "{}", o.dump());
    assert!(
        !dead(&o, "second", traced),
        "SIGTERM swallowed: {}",
        o.dump()
    );
    assert!(dead(&o, "second", untraced), "{}", o.dump());
    assert_clean(&o);
}

#[test]
fn graceful_writes_its_record_after_its_delay_and_exits_0() {
    let o = observe("graceful=300ms pause", "pidns", MS(2000), None, None);
    let records = o.seen["records"].as_array().unwrap();
    let graceful: Vec<&Value> = records.iter().filter(|r| r["kind"] == "graceful").collect();
    assert_eq!(graceful.len(), 1, "{}", o.dump());
    assert_eq!(graceful[0]["node"], 0);
    let term_at = o.seen["term_at_ms"].as_f64().unwrap();
    let took = graceful[0]["at_ms"].as_f64().unwrap() - term_at;
    assert!(
        (250.0..1900.0).contains(&took),
        "finished {took:.0} ms after the SIGTERM: {}",
        o.dump()
    );
    // `teardown run` exits with the leader's status: the handler's _exit(0).
    assert_eq!(o.seen["status"], 0, "{}", o.dump());
    assert_clean(&o);
}

#[test]
fn kill_parent_signals_the_parent_once_it_is_ready_and_never_the_namespace_init() {
    // Node 2 kills node 1 with SIGUSR1 once node 1 has reported; the leader's own
    // kill-parent would reach the namespace's init, PID 1 there: skipped. (A dead
    // leader would end the trial: `teardown run` tears down when its leader exits.)
    let o = observe(
        "kill-parent=usr1 pause [fork: pause [fork: kill-parent=usr1 pause]]",
        "pidns",
        MS(300),
        Some(MS(100)),
        None,
    );
    let (leader, node, killer) = (o.pid(0), o.pid(1), o.pid(2));
    assert!(dead(&o, "first", node), "{}", o.dump());
    assert_eq!(state(o.at_trigger(killer)), "S");
    let leader_p = o.at_trigger(leader);
    assert_eq!(state(leader_p), "S", "{}", o.dump());
    let init = o.at_trigger(num(leader_p, "ppid"));
    assert_eq!(nspid(init).last(), Some(&1));
    assert_eq!(state(init), "S", "the init lives: {}", o.dump());
    assert_clean(&o);
}

#[test]
fn kill_ancestors_stops_every_ancestor_below_the_namespace_init() {
    let o = observe(
        "pause [fork: pause [fork: kill-ancestors=stop pause]]",
        "pidns",
        MS(300),
        Some(MS(100)),
        None,
    );
    let states: Vec<&str> = (0..3).map(|id| state(o.at_trigger(o.pid(id)))).collect();
    assert_eq!(states, ["T", "T", "S"], "{}", o.dump());
    // Nothing outside the tree is stopped: the init, the supervisor, the shim.
    let records: Vec<i64> = o.outcome.nodes.iter().map(|r| i64::from(r.pid)).collect();
    for p in o.all("first") {
        if !records.contains(&num(p, "pid")) {
            assert_ne!(state(p), "T", "{p}");
        }
    }
    assert_clean(&o);
}

#[test]
fn term_kill_parent_signals_the_parent_on_sigterm_and_carries_on() {
    let o = observe(
        "ignore-term pause [fork: term-kill-parent=usr1 pause]",
        "pidns",
        MS(2000),
        None,
        Some(MS(400)),
    );
    let (leader, node) = (o.pid(0), o.pid(1));
    assert!(!dead(&o, "first", leader));
    assert!(
        dead(&o, "second", leader),
        "SIGUSR1 from its child: {}",
        o.dump()
    );
    assert!(
        !dead(&o, "second", node),
        "the handler returned: {}",
        o.dump()
    );
    assert_clean(&o);
}

#[test]
fn term_kill_ancestors_signals_every_ancestor_on_sigterm_and_carries_on() {
    let o = observe(
        "ignore-term pause [fork: pause [fork: term-kill-ancestors=usr1 pause]]",
        "pidns",
        MS(2000),
        None,
        Some(MS(400)),
    );
    assert!(dead(&o, "second", o.pid(0)), "{}", o.dump());
    assert!(dead(&o, "second", o.pid(1)), "{}", o.dump());
    assert!(!dead(&o, "second", o.pid(2)), "{}", o.dump());
    assert_clean(&o);
}
