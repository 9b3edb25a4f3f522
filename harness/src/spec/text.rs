//! The one-line text form: `Display` prints it canonically, the parser reads it back.
//!
//! Canonical printing: traits separated by one space, then the end, then (when
//! there are children) ` [` children separated by `, ` `]`; a child is
//! `N*kind: node`, with `N*` left out when the count is 1. A trait or end with an
//! argument prints as `word=VALUE` (`kill-parent=usr1`, `vfork=3`, `hop=5@20`).
//! Durations (`exit-after`, `graceful`) print as whole seconds (`2s`) when the
//! delay is a non-zero multiple of 1000 ms, and in milliseconds (`1500ms`, `0ms`)
//! otherwise.
//!
//! The parser accepts any ASCII whitespace (or none) around the punctuation
//! `[ ] , : * = @`, and leading or trailing whitespace; words must be separated by
//! whitespace. Numbers are decimal `u32` (leading zeros allowed); durations are
//! `u32` milliseconds. For every spec `s` that passes [`Limits::check`],
//! `s.to_string().parse() == Ok(s)`.
//!
//! Recursion in the parser is bounded by [`Limits::max_depth`] (and never deeper
//! than [`MAX_NESTING`]), so no input can exhaust its stack; input longer than
//! [`Limits::max_text_len`] is refused before parsing.

use std::str::FromStr;

use super::SLOW_EXIT_MIB;
use super::names::{END_NAMES, SPAWN_NAMES, TRAIT_NAMES};
use super::number::{to_u32, unit_ms};
use super::signal::SIGNAL_NAMES;
use super::trait_kind::TraitArg;
use super::{
    ChildSpec, End, EndKind, Limits, MAX_NESTING, NodeSpec, Sig, SpawnKind, Trait, TraitKind,
    TreeSpec,
};
use crate::errors::SpecError;

impl FromStr for TreeSpec {
    type Err = SpecError;

    /// Parses with [`Limits::default`]; see [`TreeSpec::parse_with`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TreeSpec::parse_with(text, &Limits::default())
    }
}

impl TreeSpec {
    /// Parses the text form and checks the result against [`Limits::default`].
    pub fn parse(text: &str) -> Result<TreeSpec, SpecError> {
        TreeSpec::parse_with(text, &Limits::default())
    }

    /// Parses the text form and checks the result against `limits`: first the
    /// length of `text` against `max_text_len`, then the syntax (with nesting
    /// bounded by `max_depth`), then [`Limits::check`].
    pub fn parse_with(text: &str, limits: &Limits) -> Result<TreeSpec, SpecError> {
        if text.len() > limits.max_text_len {
            return Err(SpecError::TooLong {
                len: text.len(),
                max: limits.max_text_len,
            });
        }
        let spec = Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            max_depth: limits.max_depth.min(MAX_NESTING),
        }
        .tree()?;
        limits.check(&spec)?;
        Ok(spec)
    }
}

/// How many characters of a word or number an error message quotes.
const QUOTE_MAX: usize = 32;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    max_depth: u32,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn quote(s: &str) -> String {
    let cut: String = s.chars().take(QUOTE_MAX).collect();
    format!("{cut:?}")
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Describes the token at `at` for an error message. `at` is always on a char
    /// boundary: the parser only ever steps over ASCII bytes.
    fn found(&self, at: usize) -> String {
        let rest = &self.text[at..];
        match rest.bytes().next() {
            None => "end of input".to_owned(),
            Some(b) if is_word_byte(b) => {
                let len = rest.bytes().take_while(|&b| is_word_byte(b)).count();
                quote(&rest[..len])
            }
            Some(_) => quote(&rest[..rest.chars().next().map_or(0, char::len_utf8)]),
        }
    }

    fn expected(&self, at: usize, expected: &'static str) -> SpecError {
        SpecError::Expected {
            at,
            expected,
            found: self.found(at),
        }
    }

    /// A word (`[A-Za-z][A-Za-z0-9_-]*`) at the current position, if one starts here.
    fn word(&mut self) -> Option<&'a str> {
        if !self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        let start = self.pos;
        while self.peek().is_some_and(is_word_byte) {
            self.pos += 1;
        }
        Some(&self.text[start..self.pos])
    }

    /// Skips whitespace, then consumes `c` or fails with `expected`.
    fn punct(&mut self, c: u8, expected: &'static str) -> Result<(), SpecError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.expected(self.pos, expected))
        }
    }

    /// A run of decimal digits; `None` if there is none here.
    fn digits(&mut self) -> Option<(usize, &'a str)> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        (self.pos > start).then(|| (start, &self.text[start..self.pos]))
    }

    /// Skips whitespace, then reads a `u32`; `nonzero` names what may not be 0.
    fn number(&mut self, expected: &'static str, nonzero: &'static str) -> Result<u32, SpecError> {
        self.skip_ws();
        let Some((at, digits)) = self.digits() else {
            return Err(self.expected(self.pos, expected));
        };
        let value = to_u32(digits).ok_or_else(|| SpecError::TooLarge {
            at,
            what: "number",
            text: digits.chars().take(QUOTE_MAX).collect(),
            max: u32::MAX.to_string(),
        })?;
        if value == 0 && !nonzero.is_empty() {
            return Err(SpecError::Zero { at, what: nonzero });
        }
        Ok(value)
    }

    /// Skips whitespace, then reads `digits ("ms" | "s")` as milliseconds.
    fn duration(&mut self) -> Result<u32, SpecError> {
        const EXPECTED: &str = "a duration such as 500ms or 2s";
        self.skip_ws();
        let Some((at, digits)) = self.digits() else {
            return Err(self.expected(self.pos, EXPECTED));
        };
        let unit_at = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let Some(factor) = unit_ms(&self.text[unit_at..self.pos]) else {
            return Err(self.expected(unit_at, "a duration unit \"ms\" or \"s\""));
        };
        let ms = to_u32(digits).and_then(|v| v.checked_mul(factor));
        ms.ok_or_else(|| SpecError::TooLarge {
            at,
            what: "duration",
            text: self.text[at..self.pos].chars().take(QUOTE_MAX).collect(),
            max: format!("{}ms", u32::MAX),
        })
    }

    /// Skips whitespace, then reads `digits "MiB"`, 1 to [`SLOW_EXIT_MIB`].
    fn size_mib(&mut self) -> Result<u32, SpecError> {
        self.skip_ws();
        let Some((at, digits)) = self.digits() else {
            return Err(self.expected(self.pos, "a size such as 32MiB"));
        };
        let unit_at = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        if &self.text[unit_at..self.pos] != "MiB" {
            return Err(self.expected(unit_at, "a size unit \"MiB\""));
        }
        match to_u32(digits) {
            Some(0) => Err(SpecError::Zero {
                at,
                what: "slow-exit size",
            }),
            Some(mib) if mib <= SLOW_EXIT_MIB => Ok(mib),
            _ => Err(SpecError::TooLarge {
                at,
                what: "slow-exit size",
                text: self.text[at..self.pos].chars().take(QUOTE_MAX).collect(),
                max: format!("{SLOW_EXIT_MIB}MiB"),
            }),
        }
    }

    fn tree(mut self) -> Result<TreeSpec, SpecError> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            return Err(SpecError::Empty);
        }
        let root = self.node(0)?;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            let expected = if root.children.is_empty() {
                "\"[\" or end of input"
            } else {
                "end of input"
            };
            return Err(self.expected(self.pos, expected));
        }
        Ok(TreeSpec { root })
    }

    fn node(&mut self, depth: u32) -> Result<NodeSpec, SpecError> {
        let mut traits = Vec::new();
        let end = loop {
            self.skip_ws();
            let at = self.pos;
            let Some(word) = self.word() else {
                return Err(self.expected(at, "a trait or an end such as \"pause\""));
            };
            if let Some(kind) = TraitKind::from_name(word) {
                traits.push(self.trait_arg(kind)?);
                continue;
            }
            if let Some(kind) = EndKind::from_name(word) {
                break self.end(kind)?;
            }
            let word = word.to_owned();
            // An end is never followed by a word, so a word after this one means it
            // stands where a trait must be.
            self.skip_ws();
            let (what, expected) = match self.peek() {
                Some(b) if b.is_ascii_alphabetic() => ("trait", TRAIT_NAMES),
                _ => ("end", END_NAMES),
            };
            return Err(SpecError::Unknown {
                at,
                what,
                word: word.chars().take(QUOTE_MAX).collect(),
                expected,
            });
        };
        self.skip_ws();
        let mut children = Vec::new();
        if self.peek() == Some(b'[') {
            self.pos += 1;
            loop {
                let child = self.child(depth + 1)?;
                let leaf = child.node.children.is_empty();
                children.push(child);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        let expected = if leaf {
                            "\"[\", \"]\" or \",\""
                        } else {
                            "\"]\" or \",\""
                        };
                        return Err(self.expected(self.pos, expected));
                    }
                }
            }
        }
        Ok(NodeSpec {
            traits,
            children,
            end,
        })
    }

    fn end(&mut self, kind: EndKind) -> Result<End, SpecError> {
        Ok(match kind {
            EndKind::Pause => End::Pause,
            EndKind::Exit => End::Exit,
            EndKind::Spin => End::Spin,
            EndKind::ExitAfter => {
                self.punct(b'=', "\"=\" (exit-after=DUR)")?;
                End::ExitAfterMs(self.duration()?)
            }
            EndKind::Zombies => {
                self.punct(b'=', "\"=\" (zombies=N)")?;
                End::Zombies(self.number("a number of zombies", "zombies")?)
            }
            EndKind::Storm => {
                self.punct(b'=', "\"=\" (storm=N@RATE)")?;
                let total = self.number("a number of storm children", "storm total")?;
                self.punct(b'@', "\"@\" (storm=N@RATE)")?;
                let rate = self.number("a storm rate (forks per second)", "storm rate")?;
                End::Storm { total, rate }
            }
            EndKind::MainExit => End::MainExit,
            EndKind::ThreadFork => End::ThreadFork,
            EndKind::Trace => End::Trace,
            EndKind::Vfork => {
                self.punct(b'=', "\"=\" (vfork=N)")?;
                End::Vfork(self.number("a vfork chain length", "vfork depth")?)
            }
            EndKind::Hop => {
                self.punct(b'=', "\"=\" (hop=N@RATE)")?;
                let total = self.number("a number of hops", "hop total")?;
                self.punct(b'@', "\"@\" (hop=N@RATE)")?;
                let rate = self.number("a hop rate (hops per second)", "hop rate")?;
                End::Hop { total, rate }
            }
        })
    }

    /// The rest of a trait word whose kind was just read: nothing, or `=SIG`, or
    /// `=DUR`, or (`slow-exit`) nothing or `=SIZE`.
    fn trait_arg(&mut self, kind: TraitKind) -> Result<Trait, SpecError> {
        let equals = match kind {
            TraitKind::KillParent => "\"=\" (kill-parent=SIG)",
            TraitKind::KillAncestors => "\"=\" (kill-ancestors=SIG)",
            TraitKind::TermKillParent => "\"=\" (term-kill-parent=SIG)",
            TraitKind::TermKillAncestors => "\"=\" (term-kill-ancestors=SIG)",
            TraitKind::Graceful => "\"=\" (graceful=DUR)",
            _ => "",
        };
        match kind.arg() {
            TraitArg::None => Ok(kind.plain().expect("a trait without an argument")),
            TraitArg::OptionalSize => {
                // Whitespace around `=` is optional, as around all punctuation.
                self.skip_ws();
                if self.peek() == Some(b'=') {
                    self.pos += 1;
                    Ok(Trait::SlowExit(self.size_mib()?))
                } else {
                    Ok(kind.plain().expect("slow-exit has a default"))
                }
            }
            TraitArg::Duration => {
                self.punct(b'=', equals)?;
                Ok(Trait::GracefulMs(self.duration()?))
            }
            TraitArg::Signal => {
                self.punct(b'=', equals)?;
                self.skip_ws();
                let at = self.pos;
                let Some(word) = self.word() else {
                    return Err(self.expected(at, "a signal name such as term"));
                };
                let Some(sig) = Sig::from_name(word) else {
                    return Err(SpecError::Unknown {
                        at,
                        what: "signal",
                        word: word.chars().take(QUOTE_MAX).collect(),
                        expected: SIGNAL_NAMES,
                    });
                };
                if kind == TraitKind::Ignore && sig == Sig::Stop {
                    return Err(SpecError::Unknown {
                        at,
                        what: "signal to ignore (SIGSTOP cannot be ignored)",
                        word: word.to_owned(),
                        expected: SIGNAL_NAMES,
                    });
                }
                Ok(kind.with_signal(sig).expect("a trait with a signal"))
            }
        }
    }

    fn child(&mut self, depth: u32) -> Result<ChildSpec, SpecError> {
        self.skip_ws();
        let at = self.pos;
        let count = if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            let count = self.number("a count", "count")?;
            self.punct(b'*', "\"*\" (N*kind: node)")?;
            self.skip_ws();
            count
        } else {
            1
        };
        let kind_at = self.pos;
        let Some(word) = self.word() else {
            let expected = if count == 1 && kind_at == at {
                "a child such as \"fork: pause\""
            } else {
                "a spawn kind (fork, dfork, exec, cparent)"
            };
            return Err(self.expected(kind_at, expected));
        };
        let Some(spawn) = SpawnKind::from_name(word) else {
            return Err(SpecError::Unknown {
                at: kind_at,
                what: "spawn kind",
                word: word.chars().take(QUOTE_MAX).collect(),
                expected: SPAWN_NAMES,
            });
        };
        self.punct(b':', "\":\" (kind: node)")?;
        if depth > self.max_depth {
            return Err(SpecError::TooDeep {
                at,
                depth,
                max: self.max_depth,
            });
        }
        let node = self.node(depth)?;
        Ok(ChildSpec { spawn, count, node })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_cuts_long_words() {
        let long = "x".repeat(100);
        assert_eq!(quote(&long).len(), QUOTE_MAX + 2);
    }
}
