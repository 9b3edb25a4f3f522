//! Node ids, walks and subtrees on parsed specs.

use std::collections::BTreeSet;

use rstest::rstest;
use teardown_harness::spec::{EndKind, SpawnKind, Trait, TraitKind, TreeSpec};

#[rstest]
#[case("pause", 1)]
#[case(
    "pause [fork: pause, dfork: setsid ignore-term pause, 3*exec: spin]",
    6
)]
#[case("pause [2*fork: pause [3*fork: pause]]", 9)]
#[case("storm=50@100 [fork: zombies=5]", 2)]
fn node_count_counts_every_copy_but_not_zombies_or_storm_children(
    #[case] text: &str,
    #[case] nodes: u32,
) {
    let spec: TreeSpec = text.parse().unwrap();
    assert_eq!(spec.node_count(), nodes);
    assert_eq!(spec.walk().count(), nodes as usize);
}

#[test]
fn ids_are_preorder_with_copies_in_order() {
    let spec: TreeSpec = "pause [2*fork: exit [exec: spin], dfork: stop pause]"
        .parse()
        .unwrap();
    let got: Vec<(u32, String, u32)> = spec
        .walk()
        .map(|(id, node, depth)| {
            let mut node = node.clone();
            node.children.clear();
            (id, node.to_string(), depth)
        })
        .collect();
    let want = [
        (0, "pause", 0),
        (1, "exit", 1),
        (2, "spin", 2),
        (3, "exit", 1),
        (4, "spin", 2),
        (5, "stop pause", 1),
    ];
    let want: Vec<(u32, String, u32)> =
        want.iter().map(|&(i, s, d)| (i, s.to_owned(), d)).collect();
    assert_eq!(got, want);
}

#[test]
fn a_subtree_reparsed_numbers_its_nodes_from_its_own_id() {
    // The node interpreter runs an exec child on its subtree's text and id offset:
    // the ids it derives must be the ones the whole tree gives.
    let spec: TreeSpec =
        "pause [fork: pause [2*exec: pause [fork: spin]], 2*exec: setsid pause [dfork: exit]]"
            .parse()
            .unwrap();
    for (id, node, _) in spec.walk() {
        let sub: TreeSpec = node.to_string().parse().unwrap();
        let ids_in_sub: Vec<u32> = sub.walk().map(|(i, ..)| id + i).collect();
        let size = node.node_count();
        let ids_in_whole: Vec<u32> = (id..id + size).collect();
        assert_eq!(ids_in_sub, ids_in_whole, "subtree of node {id}");
        assert_eq!(spec.subtree(id), Some(node));
    }
    assert_eq!(spec.subtree(spec.node_count()), None);
}

#[test]
fn expanded_children_give_each_copy_its_id() {
    let spec: TreeSpec = "pause [2*fork: pause [fork: pause], exec: spin]"
        .parse()
        .unwrap();
    let kids: Vec<(u32, SpawnKind)> = spec
        .root
        .expanded_children(0)
        .map(|(id, edge)| (id, edge.spawn))
        .collect();
    assert_eq!(
        kids,
        vec![
            (1, SpawnKind::Fork),
            (3, SpawnKind::Fork),
            (5, SpawnKind::Exec)
        ]
    );
}

#[test]
fn visits_name_each_parent_and_spawn_kind() {
    let spec: TreeSpec = "pause [dfork: pause [exec: pause]]".parse().unwrap();
    let got: Vec<(Option<u32>, Option<SpawnKind>)> =
        spec.visits().map(|v| (v.parent, v.spawn)).collect();
    assert_eq!(
        got,
        vec![
            (None, None),
            (Some(0), Some(SpawnKind::DoubleFork)),
            (Some(1), Some(SpawnKind::Exec)),
        ]
    );
}

#[test]
fn traits_ends_and_spawn_kinds_used_are_collected_from_every_node() {
    let spec: TreeSpec =
        "setsid pause [3*dfork: ignore-term exit-after=5ms [exec: stop storm=2@10]]"
            .parse()
            .unwrap();
    assert_eq!(
        spec.traits_used(),
        BTreeSet::from([Trait::Setsid, Trait::IgnoreTerm, Trait::Stop])
    );
    assert_eq!(
        spec.ends_used(),
        BTreeSet::from([EndKind::Pause, EndKind::ExitAfter, EndKind::Storm])
    );
    assert_eq!(
        spec.spawns_used(),
        BTreeSet::from([SpawnKind::DoubleFork, SpawnKind::Exec])
    );
    assert!(spec.root.has_trait(Trait::Setsid));
    assert!(!spec.root.has_trait(Trait::Stop));
}

#[test]
fn trait_kinds_and_upward_traits_are_found_whatever_their_argument() {
    let spec: TreeSpec = "graceful=1s pause [cparent: userns pause [fork: kill-parent=usr1 trace]]"
        .parse()
        .unwrap();
    assert_eq!(
        spec.trait_kinds_used(),
        BTreeSet::from([
            TraitKind::Graceful,
            TraitKind::Userns,
            TraitKind::KillParent
        ])
    );
    assert_eq!(
        spec.spawns_used(),
        BTreeSet::from([SpawnKind::Cparent, SpawnKind::Fork])
    );
    assert!(spec.root.has_trait_kind(TraitKind::Graceful));
    assert!(!spec.root.has_trait(Trait::GracefulMs(2000)));
    assert!(spec.root.has_upward(), "a node below signals up");
    let quiet: TreeSpec = "term-kill-parent=winch pause".parse().unwrap();
    assert!(quiet.root.has_upward(), "a SIGTERM handler that signals up");
    let none: TreeSpec = "graceful=1s pause [fork: ignore-term trace]"
        .parse()
        .unwrap();
    assert!(!none.root.has_upward());
    // Node ids are unchanged by the new words: a vfork chain or a hop is no node.
    assert_eq!(
        "pause [fork: vfork=5, cparent: hop=3@3]"
            .parse::<TreeSpec>()
            .unwrap()
            .node_count(),
        3
    );
}
