//! The shapes: sizes and forms that stress a method's mechanism rather than its
//! logic (fork rate, depth, width, exec).

use super::*;

pub(super) fn fork_storm() -> Scenario {
    Scenario {
        name: "fork-storm",
        spec: "storm=200@2000 [fork: pause]",
        story: "The leader forks 200 children at 2000 a second while it is being torn \
                down (the storm starts when the tree is ready). On Linux a fork cannot \
                outrun a group signal, but a walk of /proc can lose to the fork rate.",
        sources: &[LINUX_FORK],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

pub(super) fn deep_chain() -> Scenario {
    Scenario {
        name: "deep-chain",
        spec: leak(chain(DEEP_CHAIN_DEPTH)),
        story: "A chain of 100 forks, each the child of the one before: recursion depth \
                for walkers, and a long reparenting cascade when the top dies first.",
        sources: &[PROC_CHILDREN],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

pub(super) fn wide_fanout() -> Scenario {
    Scenario {
        name: "wide-fanout",
        spec: "pause [500*fork: pause]",
        story: "The leader has 500 children: a group kill takes a while to land on all of \
                them, and the leader is not necessarily the last to die.",
        sources: &[BAZEL_10245],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}

pub(super) fn exec_chain() -> Scenario {
    Scenario {
        name: "exec-chain",
        spec: "pause [exec: pause [exec: pause [2*exec: pause]]]",
        story: "Every node is started by fork and exec, as real programs start helpers: \
                start times and command lines change, identities must be taken after \
                the exec.",
        sources: &[PROC_CHILDREN],
        trigger: Trigger::Sigterm,
        expected: in_group_tree(),
    }
}
