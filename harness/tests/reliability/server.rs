//! The warden servers serve one trial after another: nothing a trial does to its
//! cgroup reaches the next one (found by a red-team pass: the first servers
//! reused one cgroup, and a supervisor that wrote `cgroup.kill` or
//! `cgroup.max.descendants` there broke every later trial of that server).

use teardown::{Method, Verdict};
use teardown_harness::trial::{Supervisor, Trial};
use teardown_harness::warden::run_trial;

/// A supervisor that, as root, spoils its own cgroup's files, then runs the tree.
const SPOILER: &str = r#"cg=$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup)
m=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
echo 0 > "$m$cg/cgroup.max.descendants" 2>/dev/null
echo 1 > "$m$cg/cgroup.kill" 2>/dev/null &
exec "$@""#;

#[test]
fn a_trial_that_spoils_its_cgroup_does_not_spoil_the_next_ones() {
    let spoiler = Supervisor::External(vec!["sh".into(), "-c".into(), SPOILER.into(), "sh".into()]);
    // One thread, one after another: the same idle server serves every trial.
    let _ = run_trial(&Trial::new(spoiler, "pause".parse().unwrap()));
    for method in [Method::Cgroup, Method::Auto, Method::ProcWalk] {
        let o = run_trial(&Trial::new(
            Supervisor::Method(method),
            "pause [fork: pause]".parse().unwrap(),
        ));
        assert_eq!(o.verdict, Verdict::Clean, "{method}: {o:#?}");
    }
}
