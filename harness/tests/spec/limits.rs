//! Limits checked at parse time and on specs built in code.

use std::time::Duration;

use rstest::rstest;
use teardown_harness::errors::{LimitError, SpecError};
use teardown_harness::spec::{
    ChildSpec, End, Limits, NodeSpec, SpawnKind, SpecStats, Trait, TreeSpec,
};

fn chain(depth: usize) -> String {
    let mut text = "pause".to_owned();
    for _ in 0..depth {
        text = format!("pause [fork: {text}]");
    }
    text
}

#[test]
fn a_chain_of_one_hundred_nodes_is_within_the_default_limits() {
    let spec: TreeSpec = chain(99).parse().unwrap();
    assert_eq!(spec.node_count(), 100);
    assert_eq!(SpecStats::of(&spec).depth, 99);
}

#[test]
fn the_default_depth_limit_is_inclusive() {
    assert!(chain(128).parse::<TreeSpec>().is_ok());
    let err = chain(129).parse::<TreeSpec>().unwrap_err();
    assert_eq!(
        err,
        SpecError::TooDeep {
            at: 129 * "pause [".len() + 128 * "fork: pause [".len() - 128 * "pause [".len(),
            depth: 129,
            max: 128
        },
        "{err}"
    );
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let text = "pause [fork: ".repeat(100_000);
    let err = TreeSpec::parse_with(&text, &Limits::unlimited()).unwrap_err();
    assert!(
        matches!(
            err,
            SpecError::TooDeep {
                depth: 257,
                max: 256,
                ..
            }
        ),
        "{err}"
    );
}

#[rstest]
#[case::nodes(
    "pause [1000*fork: pause]",
    "spec: the expanded node count is 1001, over the limit max_nodes = 1000"
)]
#[case::nodes_multiply_along_a_path(
    "pause [10*fork: pause [10*fork: pause [10*fork: pause]]]",
    "spec: the expanded node count is 1111, over the limit max_nodes = 1000"
)]
#[case::live_counts_zombies_and_storms(
    "pause [fork: zombies=1000, fork: storm=999@10]",
    "spec: the live process count is 2002, over the limit max_live = 2000"
)]
#[case::live_counts_double_fork_intermediates_and_respawns(
    "pause [400*dfork: respawn-on-term pause [fork: zombies=1]]",
    "spec: the live process count is 2001, over the limit max_live = 2000"
)]
#[case::zombies(
    "zombies=1001",
    "spec: the zombie count is 1001, over the limit max_zombies = 1000"
)]
#[case::zombies_across_copies(
    "pause [3*fork: zombies=400]",
    "spec: the zombie count is 1200, over the limit max_zombies = 1000"
)]
#[case::storm_total(
    "storm=1001@10",
    "spec: the storm children total is 1001, over the limit max_storm_total = 1000"
)]
#[case::storm_rate(
    "storm=10@2001",
    "spec: the summed storm rate (forks/s) is 2001, over the limit max_storm_rate = 2000"
)]
#[case::storm_rates_add_up(
    "pause [3*fork: storm=10@1000]",
    "spec: the summed storm rate (forks/s) is 3000, over the limit max_storm_rate = 2000"
)]
#[case::exit_after(
    "exit-after=61s",
    "spec: the longest exit-after (ms) is 61000, over the limit max_exit_after = 60000"
)]
#[case::vfork_depth(
    "vfork=65",
    "spec: the longest vfork chain is 65, over the limit max_vfork_depth = 64"
)]
#[case::vfork_chains_count_as_live(
    "pause [31*fork: vfork=64]",
    "spec: the live process count is 2016, over the limit max_live = 2000"
)]
#[case::hop_total(
    "hop=1001@10",
    "spec: the hop total is 1001, over the limit max_hop_total = 1000"
)]
#[case::hop_totals_add_up(
    "pause [3*fork: hop=400@1]",
    "spec: the hop total is 1200, over the limit max_hop_total = 1000"
)]
#[case::hop_rate(
    "hop=10@1001",
    "spec: the summed hop rate (hops/s) is 1001, over the limit max_hop_rate = 1000"
)]
#[case::hop_rates_add_up(
    "pause [2*fork: hop=10@600]",
    "spec: the summed hop rate (hops/s) is 1200, over the limit max_hop_rate = 1000"
)]
#[case::graceful(
    "graceful=61s pause",
    "spec: the longest graceful delay (ms) is 61000, over the limit max_graceful = 60000"
)]
#[case::live_counts_userns_parents_thread_forks_and_hoppers(
    "pause [250*fork: userns thread-fork, 250*fork: userns hop=1@1, 250*fork: zombies=1]",
    "spec: the live process count is 2001, over the limit max_live = 2000"
)]
fn a_spec_over_a_default_limit_is_refused_naming_the_limit_and_the_value(
    #[case] text: &str,
    #[case] message: &str,
) {
    let err = text.parse::<TreeSpec>().unwrap_err();
    assert!(matches!(err, SpecError::Limit(_)), "{err:?}");
    assert_eq!(err.to_string(), message);
    // The same spec without limits is well-formed, and the checker alone agrees.
    let spec = TreeSpec::parse_with(text, &Limits::unlimited()).unwrap();
    assert_eq!(
        Limits::default().check(&spec).unwrap_err().to_string(),
        message
    );
}

#[rstest]
#[case::nodes("pause [999*fork: pause]")]
#[case::live("pause [fork: zombies=1000, fork: storm=997@10]")]
#[case::storm_rate("pause [2*fork: storm=10@1000]")]
#[case::exit_after("exit-after=60s")]
#[case::vfork_depth("vfork=64")]
#[case::hop_total("pause [fork: hop=999@1]")]
#[case::hop_rate("pause [2*fork: hop=1@500]")]
#[case::graceful("graceful=60s pause")]
#[case::live_with_new_words("pause [30*fork: vfork=64, 3*fork: userns thread-fork]")]
fn a_spec_exactly_at_a_default_limit_is_accepted(#[case] text: &str) {
    text.parse::<TreeSpec>().unwrap();
}

#[test]
fn overlong_input_is_refused_before_parsing() {
    let limits = Limits {
        max_text_len: 10,
        ..Limits::default()
    };
    let err = TreeSpec::parse_with("pause      [x", &limits).unwrap_err();
    assert_eq!(err, SpecError::TooLong { len: 13, max: 10 });
    assert_eq!(
        err.to_string(),
        "spec: input is 13 bytes, over the limit max_text_len = 10"
    );
}

#[test]
fn canonical_text_longer_than_the_input_is_checked_too() {
    // 17 bytes written, 19 printed: "pause [fork: pause]".
    let limits = Limits {
        max_text_len: 18,
        ..Limits::default()
    };
    let err = TreeSpec::parse_with("pause[fork:pause]", &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec: the text length (bytes) is 19, over the limit max_text_len = 18"
    );
}

#[test]
fn custom_limits_apply_to_parse_with() {
    let limits = Limits {
        max_nodes: 3,
        max_depth: 1,
        max_exit_after: Duration::from_millis(10),
        ..Limits::default()
    };
    TreeSpec::parse_with("pause [2*fork: exit-after=10ms]", &limits).unwrap();
    let err = TreeSpec::parse_with("pause [3*fork: pause]", &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec: the expanded node count is 4, over the limit max_nodes = 3"
    );
    let err = TreeSpec::parse_with("pause [fork: pause [fork: pause]]", &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec: node at byte 20 is at depth 2, over the limit max_depth = 1"
    );
}

fn leaf(end: End) -> NodeSpec {
    NodeSpec {
        traits: vec![],
        children: vec![],
        end,
    }
}

#[rstest]
#[case::count(ChildSpec { spawn: SpawnKind::Fork, count: 0, node: leaf(End::Pause) }, "count")]
#[case::zombies(ChildSpec { spawn: SpawnKind::Fork, count: 1, node: leaf(End::Zombies(0)) }, "zombies")]
#[case::storm_total(
    ChildSpec { spawn: SpawnKind::Exec, count: 1, node: leaf(End::Storm { total: 0, rate: 5 }) },
    "storm total"
)]
#[case::storm_rate(
    ChildSpec { spawn: SpawnKind::Exec, count: 1, node: leaf(End::Storm { total: 5, rate: 0 }) },
    "storm rate"
)]
#[case::vfork(ChildSpec { spawn: SpawnKind::Cparent, count: 1, node: leaf(End::Vfork(0)) }, "vfork depth")]
#[case::hop_total(
    ChildSpec { spawn: SpawnKind::Fork, count: 1, node: leaf(End::Hop { total: 0, rate: 5 }) },
    "hop total"
)]
#[case::hop_rate(
    ChildSpec { spawn: SpawnKind::Fork, count: 1, node: leaf(End::Hop { total: 5, rate: 0 }) },
    "hop rate"
)]
fn a_zero_in_a_spec_built_in_code_is_refused(#[case] child: ChildSpec, #[case] what: &'static str) {
    let spec = TreeSpec {
        root: NodeSpec {
            traits: vec![],
            children: vec![child],
            end: End::Pause,
        },
    };
    let err = Limits::default().check(&spec).unwrap_err();
    assert_eq!(err, LimitError::Zero { what });
    assert_eq!(
        err.to_string(),
        format!("spec: {what} is 0 (must be at least 1)")
    );
}

#[test]
fn the_new_totals_are_counted_over_the_expanded_tree() {
    let spec: TreeSpec = "userns graceful=2s pause [2*fork: hop=5@20 [3*cparent: vfork=4], \
                          fork: graceful=5s thread-fork]"
        .parse()
        .unwrap();
    let s = SpecStats::of(&spec);
    assert_eq!(s.nodes, 1 + 2 * (1 + 3) + 1);
    assert_eq!(s.hop_total, 10);
    assert_eq!(s.hop_rate, 40);
    assert_eq!(s.max_vfork_depth, 4);
    assert_eq!(s.max_graceful_ms, 5000);
    // nodes 10, the userns parent 1, two hoppers' next processes 2, six vfork
    // chains of 4, one thread-fork child.
    assert_eq!(s.live, 10 + 1 + 2 + 6 * 4 + 1);
}

#[test]
fn custom_limits_bound_the_new_words() {
    let limits = Limits {
        max_vfork_depth: 2,
        max_hop_total: 4,
        max_hop_rate: 10,
        max_graceful: Duration::from_millis(100),
        ..Limits::default()
    };
    TreeSpec::parse_with(
        "graceful=100ms pause [fork: vfork=2, 2*fork: hop=2@5]",
        &limits,
    )
    .unwrap();
    for (text, limit) in [
        ("vfork=3", "max_vfork_depth"),
        ("pause [fork: hop=5@1]", "max_hop_total"),
        ("pause [2*fork: hop=1@6]", "max_hop_rate"),
        ("graceful=101ms pause", "max_graceful"),
    ] {
        let err = TreeSpec::parse_with(text, &limits).unwrap_err();
        assert!(
            matches!(err, SpecError::Limit(LimitError::Exceeded { limit: l, .. }) if l == limit),
            "{text}: {err}"
        );
    }
}

#[test]
fn a_very_deep_spec_built_in_code_is_refused_without_recursion() {
    let mut node = leaf(End::Pause);
    for _ in 0..200_000 {
        node = NodeSpec {
            traits: vec![],
            children: vec![ChildSpec {
                spawn: SpawnKind::Fork,
                count: 1,
                node,
            }],
            end: End::Pause,
        };
    }
    let spec = TreeSpec { root: node };
    let err = Limits::unlimited().check(&spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec: the depth is 200000, over the limit max_depth = 256"
    );
    // Dropping recurses; take the tree apart by hand.
    let mut next = Some(spec.root);
    while let Some(mut node) = next {
        next = node.children.pop().map(|c| c.node);
    }
}

#[test]
fn huge_counts_saturate_and_are_refused() {
    let spec: TreeSpec = TreeSpec::parse_with(
        "pause [4294967295*fork: pause [4294967295*fork: pause [4294967295*fork: zombies=4294967295]]]",
        &Limits::unlimited(),
    )
    .unwrap();
    let stats = SpecStats::of(&spec);
    assert_eq!(stats.nodes, u64::MAX);
    assert_eq!(stats.zombies, u64::MAX);
    assert!(Limits::default().check(&spec).is_err());
}

/// Found by the `spec_limits` fuzz target: `Ignore(Stop)` built in code passed
/// the limits while its text (`ignore=stop`) does not parse. No process can
/// ignore SIGSTOP: both refuse it now.
#[test]
fn ignore_stop_built_in_code_is_refused_as_the_parser_refuses_its_text() {
    let spec = TreeSpec {
        root: NodeSpec {
            traits: vec![Trait::Ignore(teardown_harness::spec::Sig::Stop)],
            children: vec![],
            end: End::Pause,
        },
    };
    let err = Limits::default().check(&spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec: ignore=stop: SIGSTOP cannot be ignored"
    );
    assert!(spec.to_string().parse::<TreeSpec>().is_err());
}

/// A `slow-exit` size built in code that its text cannot say (0, or over
/// 256 MiB) is refused as the parser refuses the text (found reviewing the
/// `slow-exit=SIZE` change: both passed the limits).
#[rstest]
#[case(0, "spec: slow-exit size is 0 (must be at least 1)")]
#[case(
    257,
    "spec: a slow-exit of over 256MiB: slow-exit=SIZE is 1 to 256 MiB"
)]
fn a_slow_exit_size_built_in_code_is_refused_as_its_text_is(
    #[case] mib: u32,
    #[case] message: &str,
) {
    let spec = TreeSpec {
        root: NodeSpec {
            traits: vec![],
            children: vec![ChildSpec {
                spawn: SpawnKind::Fork,
                count: 1,
                node: NodeSpec {
                    traits: vec![Trait::SlowExit(mib)],
                    children: vec![],
                    end: End::Pause,
                },
            }],
            end: End::Pause,
        },
    };
    let err = Limits::default().check(&spec).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert!(spec.to_string().parse::<TreeSpec>().is_err());
    let fine = TreeSpec::parse("pause [fork: slow-exit=256MiB pause, fork: slow-exit=1MiB pause]");
    assert_eq!(fine.map(|s| SpecStats::of(&s).max_slow_exit_mib), Ok(256));
}
