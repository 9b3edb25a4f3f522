//! One look at the process table: every descendant of the warden sorted into what
//! the contract says of it.

use super::scan::scan_until_settled;
use super::{Identity, Observation, ProcSource, ProcStat, Scene, Seen};

/// Whether a live process is the tree's (it runs the node interpreter, or is a
/// recorded node) rather than a helper of the supervisor. A process whose command
/// line cannot be read counts as the tree's: the oracle never excuses a process it
/// cannot place.
fn is_tree(src: &dyn ProcSource, scene: &Scene, s: &ProcStat) -> bool {
    let recorded = scene
        .records
        .iter()
        .any(|r| r.pid == s.pid && r.start_time == s.start_time);
    recorded
        || src
            .cmdline(s.pid)
            .is_none_or(|argv| argv.is_empty() || argv.get(1).is_some_and(|a| a == "node"))
}

/// Looks at the process table once (at done, and again after the straggler grace).
pub fn observe(src: &dyn ProcSource, scene: &Scene) -> Observation {
    let node_of = |id: Identity| {
        scene
            .records
            .iter()
            .find(|r| r.pid == id.pid && r.start_time == id.start_time)
            .map(|r| r.node)
    };
    let seen = |s: &ProcStat| Seen {
        id: s.identity(),
        node: node_of(s.identity()),
        note: s.note(),
    };
    let (procs, forking) = scan_until_settled(src, scene);
    let mut obs = Observation {
        forking,
        ..Observation::default()
    };
    let supervisor_alive =
        !scene.supervisor_exiting && src.stat(scene.supervisor).is_some_and(|s| s.alive);
    // Who may hold a zombie: the supervisor while alive, and its live helpers.
    let mut holders: Vec<i32> = Vec::new();
    if supervisor_alive {
        holders.push(scene.supervisor);
    }
    for s in procs.iter().filter(|s| s.alive) {
        if !is_tree(src, scene, s) {
            holders.push(s.pid);
            obs.helpers.push(seen(s));
        } else if s.dying {
            obs.dying.push(seen(s));
        } else {
            obs.alive.push(seen(s));
        }
    }
    for s in procs.iter().filter(|s| !s.alive) {
        if s.ppid == scene.warden || (scene.supervisor_exiting && s.ppid == scene.supervisor) {
            obs.orphaned_zombies.push(seen(s));
        } else if holders.contains(&s.ppid) {
            obs.zombies.push(seen(s));
            if s.ppid != scene.supervisor {
                obs.held_by_helpers.push(s.identity());
            }
        }
    }
    for b in &scene.bystanders {
        match src.stat(b.pid).filter(|s| s.start_time == b.start_time) {
            Some(s) if s.alive => {}
            Some(s) => obs.bystanders_dead.push(Seen {
                id: *b,
                node: None,
                note: s.note(),
            }),
            None => obs.bystanders_dead.push(Seen {
                id: *b,
                node: None,
                note: "gone".into(),
            }),
        }
    }
    obs
}
