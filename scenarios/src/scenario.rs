//! What a scenario is: a named spec with its story, sources, trigger and expectations.

use std::fmt;
use std::str::FromStr;

use teardown::Method;

use crate::errors::ParseTriggerError;
use crate::expect::{Expect, Expected};

/// A named adversarial tree: the spec, the story behind it, and what every method
/// is expected to make of it.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Kebab-case name, unique in the catalog: `aurae-534-sh-wrapper`.
    pub name: &'static str,
    /// The tree, in the spec text grammar (`teardown_harness::spec`), canonical form.
    pub spec: &'static str,
    /// What the tree does and what goes wrong, in a few sentences.
    pub story: &'static str,
    /// Where the bug was seen.
    pub sources: &'static [Source],
    /// How teardown is triggered.
    pub trigger: Trigger,
    /// The expected verdict of every method.
    pub expected: Expected,
}

impl Scenario {
    /// The expected verdict of `method` on this scenario.
    pub fn expected(&self, method: Method) -> Expect {
        self.expected.get(method)
    }
}

/// Where a bug was seen: an issue, a pull request, a post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// Short label: `aurae issue 534`.
    pub label: &'static str,
    /// Where to read it.
    pub url: &'static str,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.label, self.url)
    }
}

/// How a scenario's teardown is triggered. The harness maps it to its own
/// `teardown_harness::trial::Trigger` (same words), since this crate does not depend
/// on the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// SIGTERM to the supervisor, once the tree is ready (the default).
    Sigterm,
    /// SIGINT to the supervisor.
    Sigint,
    /// The supervisor's own timeout.
    Timeout,
    /// The leader exits on its own (the spec's root ends with `exit`).
    LeaderExit,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 4] = [
        Trigger::Sigterm,
        Trigger::Sigint,
        Trigger::Timeout,
        Trigger::LeaderExit,
    ];

    /// The trigger's word, as parsed and printed: `sigterm`, `leader-exit`.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Sigterm => "sigterm",
            Trigger::Sigint => "sigint",
            Trigger::Timeout => "timeout",
            Trigger::LeaderExit => "leader-exit",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Trigger {
    type Err = ParseTriggerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Trigger::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| ParseTriggerError { word: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_names_round_trip() {
        for t in Trigger::ALL {
            assert_eq!(t.name().parse::<Trigger>().unwrap(), t);
        }
    }

    #[test]
    fn an_unknown_trigger_lists_the_valid_ones() {
        let err = "sigkill".parse::<Trigger>().unwrap_err().to_string();
        assert!(err.contains("\"sigkill\""), "{err}");
        for t in Trigger::ALL {
            assert!(err.contains(t.name()), "{err}");
        }
    }
}
