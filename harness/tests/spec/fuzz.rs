//! The fuzz targets' oracles on fixed inputs: the committed seed corpus, inputs
//! that stress the parser, and (with `arbitrary`) the corpus encoding.

use std::fs;
use std::path::Path;

use rstest::rstest;
use teardown_harness::fuzz::{assert_within, spec_limits, spec_text};
use teardown_harness::spec::{Limits, TreeSpec};

#[test]
fn every_committed_seed_passes_the_spec_text_oracle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/seed");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        spec_text(&fs::read(entry.unwrap().path()).unwrap());
        n += 1;
    }
    assert!(n >= 20, "only {n} seeds in {}", dir.display());
}

#[test]
fn the_spec_text_dictionary_names_every_word_of_the_grammar() {
    use teardown_harness::spec::{EndKind, SpawnKind, TraitKind};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/spec_text.dict");
    let dict = fs::read_to_string(&path).unwrap();
    let entries: Vec<&str> = dict
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or_else(|| panic!("not a dictionary entry: {l:?}"))
        })
        .collect();
    let has = |word: &str| {
        entries
            .iter()
            .any(|e| e.trim_end_matches(['=', ':', ' ']) == word)
    };
    let words = TraitKind::ALL
        .iter()
        .map(|t| t.name())
        .chain(EndKind::ALL.iter().map(|e| e.name()))
        .chain(SpawnKind::ALL.iter().map(|k| k.name()));
    for word in words {
        assert!(has(word), "{} lacks {word:?}", path.display());
    }
    // The dictionary's words parse where the grammar puts them.
    spec_text(entries.concat().as_bytes());
}

#[rstest]
#[case::empty(b"")]
#[case::not_utf8(b"pause [fork: \xff\xfe]")]
#[case::nul(b"pause\0")]
#[case::only_punctuation(b"[[[,,,]]]:*=@")]
#[case::a_lone_multibyte_char("é".as_bytes())]
#[case::deep_brackets(&[b'['; 5000])]
#[case::huge_counts(b"pause [4294967295*fork: pause [4294967295*dfork: zombies=4294967295]]")]
#[case::digits_forever(&[b'9'; 3000])]
#[case::exit_after_overflow_by_seconds(b"exit-after=4294967s")]
#[case::graceful_overflow(b"graceful=4294968s pause")]
#[case::a_signal_cut_short(b"pause [fork: kill-parent=")]
#[case::a_hop_cut_short(b"hop=5@")]
#[case::new_words_glued(b"userns[cparent:trace,cparent:vfork=1]")]
fn hostile_text_passes_the_spec_text_oracle(#[case] data: &[u8]) {
    spec_text(data);
}

#[test]
fn nesting_past_the_parser_bound_passes_the_spec_text_oracle() {
    spec_text("pause [fork: ".repeat(400).as_bytes());
    let mut closed = "pause [fork: ".repeat(300);
    closed.push_str("pause");
    closed.push_str(&"]".repeat(300));
    spec_text(closed.as_bytes());
}

#[rstest]
#[case("pause")]
#[case("pause [fork: pause, dfork: setsid ignore-term pause, 3*exec: spin]")]
#[case("pause [999*fork: pause]")]
#[case("pause [fork: zombies=1000, fork: storm=997@10]")]
#[case("pause [4*fork: pause [4*dfork: respawn-on-term pause [8*exec: exit-after=60s]]]")]
#[case("pause [30*fork: vfork=64, 3*cparent: userns thread-fork]")]
#[case("graceful=60s pause [2*fork: hop=500@500]")]
#[case("userns term-kill-ancestors=stop pause [cparent: kill-parent=usr1 trace [fork: main-exit]]")]
fn specs_at_or_near_the_limits_pass_the_spec_limits_oracle(#[case] text: &str) {
    let spec = TreeSpec::parse_with(text, &Limits::unlimited()).unwrap();
    spec_limits(&spec);
}

#[rstest]
#[case("pause [1000*fork: pause]")]
#[case("pause [10*fork: pause [10*fork: pause [10*fork: storm=1@1]]]")]
#[case("pause [3*fork: zombies=400]")]
#[case("pause [4294967295*fork: pause [4294967295*fork: pause]]")]
#[case("vfork=65")]
#[case("pause [3*fork: hop=400@1]")]
#[case("graceful=61s pause")]
#[case("pause [31*fork: vfork=64]")]
fn specs_over_a_limit_pass_the_spec_limits_oracle(#[case] text: &str) {
    let spec = TreeSpec::parse_with(text, &Limits::unlimited()).unwrap();
    assert!(Limits::default().check(&spec).is_err());
    spec_limits(&spec);
}

#[test]
#[should_panic(expected = "more than max_nodes nodes")]
fn the_independent_count_catches_a_spec_over_the_node_limit() {
    // The oracle must be able to fail: a spec the checker would refuse, given
    // to the recount directly, is caught.
    let spec = TreeSpec::parse_with("pause [1000*fork: pause]", &Limits::unlimited()).unwrap();
    assert_within(&spec, &Limits::default());
}

#[test]
#[should_panic(expected = "vfork depth")]
fn the_independent_count_catches_a_vfork_chain_over_the_limit() {
    let spec = TreeSpec::parse_with("vfork=65", &Limits::unlimited()).unwrap();
    assert_within(&spec, &Limits::default());
}

#[test]
#[should_panic(expected = "live")]
fn the_independent_count_catches_vfork_chains_over_the_live_limit() {
    let spec = TreeSpec::parse_with("pause [31*fork: vfork=64]", &Limits::unlimited()).unwrap();
    assert_within(&spec, &Limits::default());
}

#[test]
#[should_panic(expected = "live")]
fn the_independent_count_catches_a_spec_over_the_live_limit() {
    let spec = TreeSpec::parse_with("pause [2*dfork: zombies=1000]", &Limits::unlimited()).unwrap();
    assert_within(&spec, &Limits::default());
}

#[cfg(all(feature = "arbitrary", feature = "proptest"))]
mod corpus {
    use arbitrary::{Arbitrary, Unstructured};
    use proptest::prelude::*;
    use teardown_harness::prop::{PropParams, tree_spec};
    use teardown_harness::spec::{TreeSpec, arb};

    proptest! {
        #[test]
        fn encoded_random_trees_decode_to_themselves(
            spec in tree_spec(PropParams { max_nodes: 200, max_depth: 8, max_count: 70, ..PropParams::default() })
        ) {
            let bytes = arb::encode(&spec).expect("within the arbitrary space");
            let decoded = TreeSpec::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
            prop_assert_eq!(decoded, spec);
        }

        #[test]
        fn arbitrary_specs_pass_the_spec_limits_oracle(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let spec = TreeSpec::arbitrary(&mut Unstructured::new(&data)).unwrap();
            teardown_harness::fuzz::spec_limits(&spec);
        }
    }
}
