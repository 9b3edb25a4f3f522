//! Printing and parsing the one-line text form.

use rstest::rstest;
use teardown_harness::errors::SpecError;
use teardown_harness::spec::{ChildSpec, End, NodeSpec, SpawnKind, Trait, TreeSpec};

/// Canonical texts print back exactly, and the AST survives print → parse.
#[rstest]
#[case::a_single_pause("pause")]
#[case::every_end_alone("exit")]
#[case::exit_after_ms("exit-after=250ms")]
#[case::exit_after_zero("exit-after=0ms")]
#[case::exit_after_seconds("exit-after=2s")]
#[case::spin("spin")]
#[case::zombies("zombies=5")]
#[case::storm("storm=50@200")]
#[case::the_grammar_example("pause [fork: pause, dfork: setsid ignore-term pause, 3*exec: spin]")]
#[case::every_trait(
    "setsid setpgid ignore-term ignore-int ignore-hup block-all sigchld-ign respawn-on-term exec-fresh stop pause"
)]
#[case::repeated_traits_keep_their_order("setpgid setsid setpgid pause")]
#[case::nested_children("pause [fork: exit [dfork: setsid pause [exec: spin]], 2*fork: zombies=3]")]
#[case::children_under_an_exit("exit [dfork: setsid ignore-term ignore-hup pause]")]
#[case::storm_under_a_copy("pause [10*exec: storm=5@1000]")]
#[case::large_numbers("pause [4294967295*fork: exit-after=4294967295ms]")]
#[case::stop_and_respawn("stop respawn-on-term pause [fork: block-all sigchld-ign zombies=2]")]
fn canonical_text_round_trips_exactly(#[case] text: &str) {
    let limits = teardown_harness::spec::Limits::unlimited();
    let spec = TreeSpec::parse_with(text, &limits).unwrap();
    assert_eq!(spec.to_string(), text);
    assert_eq!(TreeSpec::parse_with(&spec.to_string(), &limits), Ok(spec));
}

/// Other spellings of the same spec parse to it and print canonically.
#[rstest]
#[case::no_spaces_around_punctuation(
    "pause[fork:pause,2*exec:spin]",
    "pause [fork: pause, 2*exec: spin]"
)]
#[case::lots_of_spaces(
    "  pause  [ fork :  pause ,  2 * exec : spin ]  ",
    "pause [fork: pause, 2*exec: spin]"
)]
#[case::tabs_and_newlines("\tsetsid\npause\t[\nfork:\tpause\n]\n", "setsid pause [fork: pause]")]
#[case::a_count_of_one_is_left_out("pause [1*fork: pause]", "pause [fork: pause]")]
#[case::leading_zeros("zombies=007", "zombies=7")]
#[case::whole_seconds_in_ms("exit-after=3000ms", "exit-after=3s")]
#[case::seconds_with_leading_zeros("exit-after=01s", "exit-after=1s")]
#[case::spaces_around_equals_and_at("storm = 5 @ 100", "storm=5@100")]
fn other_spellings_print_canonically(#[case] text: &str, #[case] canonical: &str) {
    let spec: TreeSpec = text.parse().unwrap();
    assert_eq!(spec.to_string(), canonical);
    assert_eq!(canonical.parse::<TreeSpec>(), Ok(spec));
}

#[test]
fn the_grammar_example_parses_to_the_expected_tree() {
    let spec: TreeSpec = "pause [fork: pause, dfork: setsid ignore-term pause, 3*exec: spin]"
        .parse()
        .unwrap();
    let leaf = |traits: Vec<Trait>, end| NodeSpec {
        traits,
        children: vec![],
        end,
    };
    let expected = TreeSpec {
        root: NodeSpec {
            traits: vec![],
            end: End::Pause,
            children: vec![
                ChildSpec {
                    spawn: SpawnKind::Fork,
                    count: 1,
                    node: leaf(vec![], End::Pause),
                },
                ChildSpec {
                    spawn: SpawnKind::DoubleFork,
                    count: 1,
                    node: leaf(vec![Trait::Setsid, Trait::IgnoreTerm], End::Pause),
                },
                ChildSpec {
                    spawn: SpawnKind::Exec,
                    count: 3,
                    node: leaf(vec![], End::Spin),
                },
            ],
        },
    };
    assert_eq!(spec, expected);
}

#[rstest]
#[case::empty("", "spec: empty input (expected a node, e.g. \"pause\")")]
#[case::only_whitespace(" \t\n", "spec: empty input (expected a node, e.g. \"pause\")")]
#[case::unknown_trait(
    "pause [fork: setsd pause]",
    "spec: unknown trait \"setsd\" at byte 13 (expected one of: setsid, setpgid, ignore-term, \
     ignore-int, ignore-hup, block-all, sigchld-ign, respawn-on-term, exec-fresh, stop)"
)]
#[case::unknown_end(
    "setsid pase",
    "spec: unknown end \"pase\" at byte 7 (expected one of: pause, exit, exit-after=DUR, spin, \
     zombies=N, storm=N@RATE)"
)]
#[case::unknown_end_with_a_value(
    "zombie=3",
    "spec: unknown end \"zombie\" at byte 0 (expected one of: pause, exit, exit-after=DUR, spin, \
     zombies=N, storm=N@RATE)"
)]
#[case::unknown_spawn_kind(
    "pause [frok: pause]",
    "spec: unknown spawn kind \"frok\" at byte 7 (expected one of: fork, dfork, exec)"
)]
#[case::traits_without_an_end(
    "setsid ignore-term",
    "spec: expected a trait or an end such as \"pause\" at byte 18, found end of input"
)]
#[case::missing_close_bracket(
    "pause [fork: pause [exec: spin]",
    "spec: expected \"]\" or \",\" at byte 31, found end of input"
)]
#[case::a_leaf_child_may_also_open_children(
    "pause [fork: pause exit]",
    "spec: expected \"[\", \"]\" or \",\" at byte 19, found \"exit\""
)]
#[case::empty_children(
    "pause []",
    "spec: expected a child such as \"fork: pause\" at byte 7, found \"]\""
)]
#[case::trailing_comma(
    "pause [fork: pause,]",
    "spec: expected a child such as \"fork: pause\" at byte 19, found \"]\""
)]
#[case::missing_colon(
    "pause [fork pause]",
    "spec: expected \":\" (kind: node) at byte 12, found \"pause\""
)]
#[case::missing_star(
    "pause [3 fork: pause]",
    "spec: expected \"*\" (N*kind: node) at byte 9, found \"fork\""
)]
#[case::count_without_kind(
    "pause [3*: pause]",
    "spec: expected a spawn kind (fork, dfork, exec) at byte 9, found \":\""
)]
#[case::count_zero(
    "pause [0*fork: pause]",
    "spec: count 0 at byte 7 (must be at least 1)"
)]
#[case::zombies_zero("zombies=0", "spec: zombies 0 at byte 8 (must be at least 1)")]
#[case::storm_total_zero("storm=0@10", "spec: storm total 0 at byte 6 (must be at least 1)")]
#[case::storm_rate_zero("storm=10@0", "spec: storm rate 0 at byte 9 (must be at least 1)")]
#[case::count_too_large(
    "pause [4294967296*fork: pause]",
    "spec: number \"4294967296\" at byte 7 is too large (at most 4294967295)"
)]
#[case::duration_too_large(
    "exit-after=4294968s",
    "spec: duration \"4294968s\" at byte 11 is too large (at most 4294967295ms)"
)]
#[case::duration_without_unit(
    "exit-after=5",
    "spec: expected a duration unit \"ms\" or \"s\" at byte 12, found end of input"
)]
#[case::duration_with_a_bad_unit(
    "exit-after=5min",
    "spec: expected a duration unit \"ms\" or \"s\" at byte 12, found \"min\""
)]
#[case::duration_without_digits(
    "exit-after=ms",
    "spec: expected a duration such as 500ms or 2s at byte 11, found \"ms\""
)]
#[case::end_without_equals("zombies 3", "spec: expected \"=\" (zombies=N) at byte 8, found \"3\"")]
#[case::storm_without_rate(
    "storm=5",
    "spec: expected \"@\" (storm=N@RATE) at byte 7, found end of input"
)]
#[case::trailing_garbage(
    "pause pause",
    "spec: expected \"[\" or end of input at byte 6, found \"pause\""
)]
#[case::trailing_garbage_after_children(
    "pause [fork: pause] x",
    "spec: expected end of input at byte 20, found \"x\""
)]
#[case::stray_close_bracket(
    "pause]",
    "spec: expected \"[\" or end of input at byte 5, found \"]\""
)]
#[case::a_number_where_a_node_goes(
    "3*fork: pause",
    "spec: expected a trait or an end such as \"pause\" at byte 0, found \"3\""
)]
#[case::a_word_glued_to_a_number(
    "zombies=5x",
    "spec: expected \"[\" or end of input at byte 9, found \"x\""
)]
#[case::non_ascii_is_quoted(
    "pause [fork: pausé]",
    "spec: unknown end \"paus\" at byte 13 (expected one of: pause, exit, exit-after=DUR, spin, \
     zombies=N, storm=N@RATE)"
)]
#[case::a_non_ascii_token(
    "pause é",
    "spec: expected \"[\" or end of input at byte 6, found \"é\""
)]
#[case::upper_case_is_not_a_trait(
    "SETSID pause",
    "spec: unknown trait \"SETSID\" at byte 0 (expected one of: setsid, setpgid, ignore-term, \
     ignore-int, ignore-hup, block-all, sigchld-ign, respawn-on-term, exec-fresh, stop)"
)]
fn bad_text_is_an_error_naming_the_byte_and_what_was_expected(
    #[case] text: &str,
    #[case] message: &str,
) {
    let err = text.parse::<TreeSpec>().unwrap_err();
    assert_eq!(err.to_string(), message, "{err:?}");
}

#[test]
fn an_error_offset_points_at_the_offending_text() {
    let text = "pause [fork: pause, dfork: setsid igore-term pause]";
    let Err(SpecError::Unknown { at, word, .. }) = text.parse::<TreeSpec>() else {
        panic!("expected an unknown-word error");
    };
    assert_eq!(&text[at..at + word.len()], word);
    assert_eq!(word, "igore-term");
}

#[test]
fn a_long_unknown_word_is_quoted_cut_short() {
    let text = format!("{} pause", "x".repeat(500));
    let message = text.parse::<TreeSpec>().unwrap_err().to_string();
    assert!(
        message.contains(&format!("\"{}\"", "x".repeat(32))),
        "{message}"
    );
    assert!(!message.contains(&"x".repeat(33)), "{message}");
}
