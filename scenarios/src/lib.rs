//! Named regression scenarios for process-tree teardown.
//!
//! Each [`Scenario`] is an adversarial tree (spec text in the grammar of
//! `teardown_harness::spec`), the story of where it bit someone, its sources, how
//! teardown is triggered, and the verdict every teardown [`Method`](teardown::Method)
//! is expected to get on it. [`peers`] holds the same for real supervisors (tini,
//! dumb-init, coreutils `timeout`, bubblewrap).
//!
//! This crate is data only: it does not run anything and does not depend on the
//! harness. `teardown matrix` (in `teardown-harness`) runs every method × every
//! scenario and checks each cell against these expectations; `teardown check` and
//! `teardown_harness::check` run the scenarios against a downstream supervisor.
//!
//! ```
//! let s = teardown_scenarios::by_name("setsid-escape").unwrap();
//! assert_eq!(s.spec, "pause [fork: setsid pause]");
//! assert_eq!(s.expected(teardown::Method::Killpg).to_string(), "leak");
//! assert_eq!(s.expected(teardown::Method::Cgroup).to_string(), "clean");
//! ```
//!
//! # Expectations are checked both ways
//!
//! A weak method that stops failing where it is expected to fail is as much a test
//! failure as a strong one that leaks: the weak methods are the negative controls
//! that prove the oracle sees leaks. See [`Expect`] for the few timing-dependent
//! cells, and the `catalog` module docs for how the scenarios keep the weak verdicts
//! deterministic. Expectations assume the [`timing`] defaults.
#![deny(unsafe_code)]

mod catalog;
mod errors;
mod expect;
pub mod peers;
mod scenario;
pub mod timing;

use std::sync::LazyLock;

pub use catalog::{DEEP_CHAIN_DEPTH, WIDE_FANOUT};
pub use errors::{ParseTriggerError, UnknownPeer, UnknownScenario};
pub use expect::{Expect, Expected};
pub use peers::Peer;
pub use scenario::{Scenario, Source, Trigger};

/// Every scenario, in the order the matrix prints them.
pub fn all() -> &'static [Scenario] {
    static CATALOG: LazyLock<Vec<Scenario>> = LazyLock::new(catalog::build);
    &CATALOG
}

/// The scenario called `name`, or an error listing every valid name.
pub fn by_name(name: &str) -> Result<&'static Scenario, UnknownScenario> {
    all()
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| UnknownScenario {
            name: name.to_owned(),
            valid: names().collect(),
        })
}

/// Every scenario name, in catalog order.
pub fn names() -> impl Iterator<Item = &'static str> {
    all().iter().map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use teardown::{Method, Verdict};

    use super::*;

    #[rstest]
    #[case("aurae-534-sh-wrapper")]
    #[case("jmmv-grandchild")]
    #[case("double-fork")]
    #[case("setsid-escape")]
    #[case("setpgid-escape")]
    #[case("sigterm-ignored")]
    #[case("stopped")]
    #[case("sigchld-ignored")]
    #[case("zombie-maker")]
    #[case("respawn-on-term")]
    #[case("blocked-signals")]
    #[case("fork-storm")]
    #[case("deep-chain")]
    #[case("wide-fanout")]
    #[case("exec-chain")]
    fn the_catalog_has_every_required_scenario(#[case] name: &str) {
        assert_eq!(by_name(name).unwrap().name, name);
    }

    #[test]
    fn the_catalog_has_every_hostile_tree() {
        for name in catalog::hostile_scenario_names() {
            assert_eq!(by_name(name).unwrap().name, name);
        }
    }

    #[test]
    fn names_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for name in names() {
            assert!(seen.insert(name), "duplicate {name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !name.starts_with('-')
                    && !name.ends_with('-')
                    && !name.starts_with("random-"),
                "{name}"
            );
        }
    }

    #[test]
    fn every_scenario_has_a_story_a_source_and_a_spec() {
        for s in all() {
            assert!(s.story.len() > 40, "{}", s.name);
            assert!(!s.sources.is_empty(), "{}", s.name);
            assert!(
                s.sources.iter().all(|src| src.url.starts_with("https://")),
                "{}",
                s.name
            );
            assert!(!s.spec.trim().is_empty(), "{}", s.name);
        }
    }

    #[test]
    fn escape_proof_methods_are_expected_clean_everywhere_but_where_the_tree_stops_them() {
        for s in all() {
            for m in Method::ALL.into_iter().filter(|m| m.is_escape_proof()) {
                let e = s.expected(m);
                if m.hides_supervisor() {
                    assert!(e.is_clean(), "{} × {m}", s.name);
                } else {
                    // A tree that stops its supervisor hangs every method whose
                    // supervisor side it can name; nothing else may fail them.
                    assert!(
                        e.is_clean() || (e.accepts(Verdict::Hang) && s.spec.contains("=stop")),
                        "{} × {m}: {e}",
                        s.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_non_clean_expectation_says_why() {
        for s in all() {
            for m in Method::ALL {
                let e = s.expected(m);
                assert!(e.is_clean() || e.note().is_some(), "{} × {m}", s.name);
            }
        }
    }

    #[test]
    fn every_weak_method_is_expected_to_fail_somewhere_deterministically() {
        for m in Method::ALL.into_iter().filter(|m| !m.is_escape_proof()) {
            let failing: Vec<_> = all()
                .iter()
                .filter(|s| {
                    let e = s.expected(m);
                    !e.is_timing_dependent() && !e.accepts(Verdict::Clean)
                })
                .map(|s| s.name)
                .collect();
            assert!(!failing.is_empty(), "{m} has no scenario it must fail");
        }
    }

    #[test]
    fn leader_exit_scenarios_end_their_leader_with_exit() {
        for s in all().iter().filter(|s| s.trigger == Trigger::LeaderExit) {
            let root_end = s
                .spec
                .split(" [")
                .next()
                .unwrap()
                .split(' ')
                .next_back()
                .unwrap();
            assert!(
                root_end == "exit" || root_end.starts_with("exit-after="),
                "{}: {}",
                s.name,
                s.spec
            );
        }
    }

    #[test]
    fn an_unknown_name_lists_every_valid_one() {
        let err = by_name("setsid-escap").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("unknown scenario \"setsid-escap\""),
            "{text}"
        );
        for name in names() {
            assert!(text.contains(name), "{text}");
        }
    }
}
