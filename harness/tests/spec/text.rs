//! Printing and parsing the one-line text form.

use rstest::rstest;
use teardown_harness::errors::SpecError;
use teardown_harness::spec::{ChildSpec, End, NodeSpec, Sig, SpawnKind, Trait, TreeSpec};

/// The trait list every unknown-trait error gives.
const TRAITS: &str = "setsid, setpgid, ignore-term, ignore-int, ignore-hup, block-all, \
    sigchld-ign, respawn-on-term, exec-fresh, stop, subreaper, evil-name, kill-parent=SIG, \
    kill-ancestors=SIG, term-kill-parent=SIG, term-kill-ancestors=SIG, graceful=DUR, userns, \
    cgroup-nest, ignore=SIG, slow-exit[=SIZE]";

/// The end list every unknown-end error gives.
const ENDS: &str = "pause, exit, exit-after=DUR, spin, zombies=N, storm=N@RATE, main-exit, \
    thread-fork, vfork=N, hop=N@RATE, trace";

/// The signal list every unknown-signal error gives.
const SIGNALS: &str = "hup, int, quit, ill, trap, abrt, bus, fpe, usr1, segv, usr2, pipe, \
    alrm, term, stkflt, chld, cont, stop, tstp, ttin, ttou, urg, xcpu, xfsz, vtalrm, prof, \
    winch, io, pwr, sys";

/// The spawn kind list every unknown-spawn-kind error gives.
const SPAWNS: &str = "fork, dfork, exec, cparent";

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
#[case::every_new_trait(
    "subreaper evil-name kill-parent=usr1 kill-ancestors=stop term-kill-parent=term \
     term-kill-ancestors=hup graceful=500ms userns cgroup-nest pause"
)]
#[case::slow_exit_sized("slow-exit=64MiB pause [fork: slow-exit=1MiB slow-exit exit]")]
#[case::graceful_in_seconds("graceful=2s pause")]
#[case::graceful_zero("graceful=0ms exit")]
#[case::every_signal(
    "kill-parent=hup kill-parent=int kill-parent=quit kill-parent=ill kill-parent=trap \
     kill-parent=abrt kill-parent=bus kill-parent=fpe kill-parent=usr1 kill-parent=segv \
     kill-parent=usr2 kill-parent=pipe kill-parent=alrm kill-parent=term kill-parent=stkflt \
     kill-parent=chld kill-parent=cont kill-parent=stop kill-parent=tstp kill-parent=ttin \
     kill-parent=ttou kill-parent=urg kill-parent=xcpu kill-parent=xfsz kill-parent=vtalrm \
     kill-parent=prof kill-parent=winch kill-parent=io kill-parent=pwr kill-parent=sys pause"
)]
#[case::main_exit("main-exit")]
#[case::thread_fork("thread-fork")]
#[case::vfork("vfork=3")]
#[case::hop("hop=5@20")]
#[case::trace("trace [fork: pause, exec: stop pause]")]
#[case::cparent("pause [cparent: pause, 3*cparent: userns pause [cparent: exit]]")]
#[case::the_new_words_together(
    "userns subreaper trace [cparent: evil-name main-exit, 2*fork: graceful=1500ms thread-fork, \
     dfork: cgroup-nest hop=10@100 [exec: vfork=64]]"
)]
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
#[case::spaces_around_a_signal("kill-parent = usr1 pause", "kill-parent=usr1 pause")]
#[case::graceful_in_whole_seconds("graceful=3000ms pause", "graceful=3s pause")]
#[case::slow_exit_at_its_default_size("slow-exit=256MiB pause", "slow-exit pause")]
#[case::slow_exit_spacing("slow-exit = 032MiB pause", "slow-exit=32MiB pause")]
#[case::hop_spacing("hop = 5 @ 020", "hop=5@20")]
#[case::vfork_leading_zeros("vfork=007", "vfork=7")]
#[case::no_spaces_with_new_words(
    "userns cgroup-nest trace[cparent:term-kill-ancestors=stop pause]",
    "userns cgroup-nest trace [cparent: term-kill-ancestors=stop pause]"
)]
fn other_spellings_print_canonically(#[case] text: &str, #[case] canonical: &str) {
    let spec: TreeSpec = text.parse().unwrap();
    assert_eq!(spec.to_string(), canonical);
    assert_eq!(canonical.parse::<TreeSpec>(), Ok(spec));
}

/// A node with its traits, its end and its children.
fn node(traits: Vec<Trait>, end: End, children: Vec<ChildSpec>) -> NodeSpec {
    NodeSpec {
        traits,
        children,
        end,
    }
}

/// `count` copies of `node`, each started by `spawn`.
fn child(spawn: SpawnKind, count: u32, node: NodeSpec) -> ChildSpec {
    ChildSpec { spawn, count, node }
}

/// The text parses to exactly this tree.
#[rstest]
#[case::the_grammar_example(
    "pause [fork: pause, dfork: setsid ignore-term pause, 3*exec: spin]",
    node(vec![], End::Pause, vec![
        child(SpawnKind::Fork, 1, node(vec![], End::Pause, vec![])),
        child(
            SpawnKind::DoubleFork,
            1,
            node(vec![Trait::Setsid, Trait::IgnoreTerm], End::Pause, vec![]),
        ),
        child(SpawnKind::Exec, 3, node(vec![], End::Spin, vec![])),
    ])
)]
#[case::the_new_words(
    "userns graceful=250ms trace [cparent: kill-ancestors=tstp hop=3@7, fork: vfork=2]",
    node(vec![Trait::Userns, Trait::GracefulMs(250)], End::Trace, vec![
        child(
            SpawnKind::Cparent,
            1,
            node(vec![Trait::KillAncestors(Sig::Tstp)], End::Hop { total: 3, rate: 7 }, vec![]),
        ),
        child(SpawnKind::Fork, 1, node(vec![], End::Vfork(2), vec![])),
    ])
)]
fn the_text_parses_to_the_expected_tree(#[case] text: &str, #[case] root: NodeSpec) {
    assert_eq!(text.parse::<TreeSpec>(), Ok(TreeSpec { root }));
}

#[rstest]
#[case::empty("", "spec: empty input (expected a node, e.g. \"pause\")")]
#[case::only_whitespace(" \t\n", "spec: empty input (expected a node, e.g. \"pause\")")]
#[case::a_signal_number_is_not_a_name(
    "kill-parent=15 pause",
    "spec: expected a signal name such as term at byte 12, found \"15\""
)]
#[case::a_signal_trait_without_equals(
    "kill-parent pause",
    "spec: expected \"=\" (kill-parent=SIG) at byte 12, found \"pause\""
)]
#[case::a_signal_trait_without_a_signal(
    "term-kill-ancestors= ",
    "spec: expected a signal name such as term at byte 21, found end of input"
)]
#[case::graceful_without_equals(
    "graceful 2s pause",
    "spec: expected \"=\" (graceful=DUR) at byte 9, found \"2s\""
)]
#[case::graceful_without_a_unit(
    "graceful=2 pause",
    "spec: expected a duration unit \"ms\" or \"s\" at byte 10, found \" \""
)]
#[case::graceful_too_large(
    "graceful=4294968s pause",
    "spec: duration \"4294968s\" at byte 9 is too large (at most 4294967295ms)"
)]
#[case::slow_exit_without_a_unit(
    "slow-exit=32 pause",
    "spec: expected a size unit \"MiB\" at byte 12, found \" \""
)]
#[case::slow_exit_in_other_units(
    "slow-exit=32MB pause",
    "spec: expected a size unit \"MiB\" at byte 12, found \"MB\""
)]
#[case::slow_exit_zero(
    "slow-exit=0MiB pause",
    "spec: slow-exit size 0 at byte 10 (must be at least 1)"
)]
#[case::slow_exit_too_large(
    "slow-exit=257MiB pause",
    "spec: slow-exit size \"257MiB\" at byte 10 is too large (at most 256MiB)"
)]
#[case::slow_exit_without_a_size(
    "slow-exit= pause",
    "spec: expected a size such as 32MiB at byte 11, found \"pause\""
)]
#[case::vfork_zero("vfork=0", "spec: vfork depth 0 at byte 6 (must be at least 1)")]
#[case::vfork_without_equals(
    "vfork",
    "spec: expected \"=\" (vfork=N) at byte 5, found end of input"
)]
#[case::hop_total_zero("hop=0@10", "spec: hop total 0 at byte 4 (must be at least 1)")]
#[case::hop_rate_zero("hop=10@0", "spec: hop rate 0 at byte 7 (must be at least 1)")]
#[case::hop_without_rate(
    "hop=5 pause",
    "spec: expected \"@\" (hop=N@RATE) at byte 6, found \"pause\""
)]
#[case::an_end_without_an_argument_takes_none(
    "main-exit=1",
    "spec: expected \"[\" or end of input at byte 9, found \"=\""
)]
#[case::cparent_needs_a_colon(
    "pause [cparent pause]",
    "spec: expected \":\" (kind: node) at byte 15, found \"pause\""
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
    "spec: expected a spawn kind (fork, dfork, exec, cparent) at byte 9, found \":\""
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
#[case::a_non_ascii_token(
    "pause é",
    "spec: expected \"[\" or end of input at byte 6, found \"é\""
)]
fn bad_text_is_an_error_naming_the_byte_and_what_was_expected(
    #[case] text: &str,
    #[case] message: &str,
) {
    let err = text.parse::<TreeSpec>().unwrap_err();
    assert_eq!(err.to_string(), message, "{err:?}");
}

/// An unknown word is an error that names what it should have been, quotes it,
/// gives its byte and lists every word that would do.
#[rstest]
#[case::unknown_trait("pause [fork: setsd pause]", "trait", "setsd", 13, TRAITS)]
#[case::upper_case_is_not_a_trait("SETSID pause", "trait", "SETSID", 0, TRAITS)]
#[case::unknown_end("setsid pase", "end", "pase", 7, ENDS)]
#[case::unknown_end_with_a_value("zombie=3", "end", "zombie", 0, ENDS)]
#[case::non_ascii_is_quoted("pause [fork: pausé]", "end", "paus", 13, ENDS)]
#[case::unknown_spawn_kind("pause [frok: pause]", "spawn kind", "frok", 7, SPAWNS)]
#[case::unknown_signal("pause [fork: kill-parent=kil pause]", "signal", "kil", 25, SIGNALS)]
#[case::kill_is_not_a_signal_a_node_sends(
    "kill-ancestors=kill pause",
    "signal",
    "kill",
    15,
    SIGNALS
)]
#[case::signals_are_lower_case_without_sig(
    "term-kill-parent=SIGTERM pause",
    "signal",
    "SIGTERM",
    17,
    SIGNALS
)]
#[case::sigstop_cannot_be_ignored(
    "ignore=stop pause",
    "signal to ignore (SIGSTOP cannot be ignored)",
    "stop",
    7,
    SIGNALS
)]
fn an_unknown_word_is_an_error_listing_every_choice(
    #[case] text: &str,
    #[case] what: &str,
    #[case] word: &str,
    #[case] at: usize,
    #[case] choices: &str,
) {
    let err = text.parse::<TreeSpec>().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("spec: unknown {what} \"{word}\" at byte {at} (expected one of: {choices})"),
        "{err:?}"
    );
}

#[test]
fn an_unknown_signal_offset_points_at_the_signal() {
    let text = "pause [fork: setsid term-kill-ancestors = sigstop pause]";
    let Err(SpecError::Unknown { at, word, what, .. }) = text.parse::<TreeSpec>() else {
        panic!("expected an unknown-word error");
    };
    assert_eq!(what, "signal");
    assert_eq!(&text[at..at + word.len()], "sigstop");
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
