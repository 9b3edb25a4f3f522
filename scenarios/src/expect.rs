//! Expected verdicts: one [`Expect`] per (supervisor, scenario) cell.

use std::fmt;

use teardown::{Method, Verdict};

/// The verdicts a cell may come out with, and why it is not simply `clean`.
///
/// Most cells expect exactly one verdict. Where the outcome is a genuine race —
/// a group method that returns on the leader while members may still be
/// exiting (`early` when the oracle's look catches one, else `clean`), or a
/// peer's own race — [`Expect::any_of`] accepts several verdicts and its note
/// names the race; such a cell is printed as `clean|early`. The scenarios that
/// must show a weakness every run (`slow-exit-member`, `jmmv-grandchild`) are
/// built so that no race decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    verdicts: &'static [Verdict],
    note: Option<&'static str>,
}

/// One slice per verdict, in [`Verdict::ALL`] order (a `const fn` cannot build
/// a slice from a value).
const ONE: [&[Verdict]; Verdict::ALL.len()] = [
    &[Verdict::Clean],
    &[Verdict::Leftover],
    &[Verdict::FalseReport],
    &[Verdict::BadExit],
    &[Verdict::SupervisorKilled],
    &[Verdict::GraceCut],
    &[Verdict::Early],
    &[Verdict::Zombie],
    &[Verdict::Leak],
    &[Verdict::BystanderKilled],
    &[Verdict::Hang],
    &[Verdict::Unsupported],
    &[Verdict::Error],
];
const CLEAN: &[Verdict] = ONE[0];

impl Expect {
    /// `clean`: every process gone and reaped, no note needed.
    pub const fn clean() -> Expect {
        Expect {
            verdicts: CLEAN,
            note: None,
        }
    }

    /// Exactly `verdict`, with the reason (the note is required for anything but
    /// `clean`: a non-clean expectation must say why).
    pub const fn is(verdict: Verdict, note: &'static str) -> Expect {
        let verdicts = ONE[verdict as usize];
        Expect {
            verdicts,
            note: Some(note),
        }
    }

    /// Any of `verdicts` (the likeliest first), for a supervisor whose outcome is a
    /// race between more than two ends; the note must say which race.
    pub const fn any_of(verdicts: &'static [Verdict], note: &'static str) -> Expect {
        Expect {
            verdicts,
            note: Some(note),
        }
    }

    /// Whether `verdict` counts as expected.
    pub fn accepts(&self, verdict: Verdict) -> bool {
        self.verdicts.contains(&verdict)
    }

    /// Every accepted verdict, the likeliest first.
    pub fn verdicts(&self) -> &'static [Verdict] {
        self.verdicts
    }

    /// True if more than one verdict is accepted (a timing-dependent cell).
    pub fn is_timing_dependent(&self) -> bool {
        self.verdicts.len() > 1
    }

    /// True if only `clean` is accepted.
    pub fn is_clean(&self) -> bool {
        self.verdicts == CLEAN
    }

    /// Why the cell is not simply `clean`, if it is not.
    pub fn note(&self) -> Option<&'static str> {
        self.note
    }
}

/// Prints the accepted verdicts joined by `|`: `leak`, `clean|early`.
impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.verdicts.iter().map(|v| v.as_str()).collect();
        f.pad(&words.join("|"))
    }
}

/// One [`Expect`] for every [`Method`] (including `auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    cells: [Expect; Method::ALL.len()],
}

impl Expected {
    /// Every method `clean`: the escape-proof methods' row, and the start of every
    /// scenario's expectations.
    pub const fn all_clean() -> Expected {
        Expected {
            cells: [Expect::clean(); Method::ALL.len()],
        }
    }

    /// The same, with `method`'s cell replaced.
    pub const fn with(mut self, method: Method, expect: Expect) -> Expected {
        self.cells[method_index(method)] = expect;
        self
    }

    /// The expectation for `method`.
    pub fn get(&self, method: Method) -> Expect {
        self.cells[method_index(method)]
    }
}

/// `method`'s position in [`Method::ALL`].
const fn method_index(method: Method) -> usize {
    match method {
        Method::Leader => 0,
        Method::Killpg => 1,
        Method::KillpgWaitpgid => 2,
        Method::Subreaper => 3,
        Method::CgroupKill => 4,
        Method::ProcWalk => 5,
        Method::Cgroup => 6,
        Method::Pidns => 7,
        Method::Auto => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_index_follows_method_all_order() {
        for (i, m) in Method::ALL.into_iter().enumerate() {
            assert_eq!(method_index(m), i, "{m}");
        }
    }

    #[test]
    fn a_timing_dependent_cell_accepts_both_and_prints_both() {
        let e = Expect::any_of(&[Verdict::Clean, Verdict::Early], "race");
        assert!(e.accepts(Verdict::Clean) && e.accepts(Verdict::Early));
        assert!(!e.accepts(Verdict::Leak));
        assert!(e.is_timing_dependent());
        assert_eq!(e.to_string(), "clean|early");
    }

    #[test]
    fn is_accepts_exactly_its_verdict() {
        for v in Verdict::ALL {
            let e = Expect::is(v, "why");
            for w in Verdict::ALL {
                assert_eq!(e.accepts(w), v == w, "{v} vs {w}");
            }
            assert_eq!(e.to_string(), v.as_str());
        }
    }

    #[test]
    fn with_replaces_only_the_named_method() {
        let e = Expected::all_clean().with(Method::Killpg, Expect::is(Verdict::Leak, "escape"));
        for m in Method::ALL {
            assert_eq!(e.get(m).accepts(Verdict::Leak), m == Method::Killpg, "{m}");
        }
    }
}
