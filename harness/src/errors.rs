//! Errors of the harness, one enum per operation.
//!
//! Messages are lower-case, without a trailing period, and name what was wrong
//! and where: `spec: unknown trait "setsd" at byte 0 (expected one of: ...)`.
//! Byte offsets count from 0, in bytes of the UTF-8 input.

/// Parsing a spec's text form ([`crate::spec::TreeSpec::parse_with`], `str::parse`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The input is empty or only whitespace.
    #[error("spec: empty input (expected a node, e.g. \"pause\")")]
    Empty,
    /// The input is longer than [`crate::spec::Limits::max_text_len`]; it is not
    /// parsed at all.
    #[error("spec: input is {len} bytes, over the limit max_text_len = {max}")]
    TooLong {
        /// Length of the input, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Something other than what the grammar allows at this point.
    #[error("spec: expected {expected} at byte {at}, found {found}")]
    Expected {
        /// Byte offset of the offending token.
        at: usize,
        /// What the grammar allows here, e.g. `"]" or ","`.
        expected: &'static str,
        /// What is there: a quoted token or `end of input`.
        found: String,
    },
    /// A word that is not a trait, end or spawn kind.
    #[error("spec: unknown {what} {word:?} at byte {at} (expected one of: {expected})")]
    Unknown {
        /// Byte offset of the word.
        at: usize,
        /// `trait`, `end` or `spawn kind`.
        what: &'static str,
        /// The word as written (cut to 32 characters).
        word: String,
        /// The words allowed here.
        expected: &'static str,
    },
    /// A child count, zombie count, storm total or storm rate of 0.
    #[error("spec: {what} 0 at byte {at} (must be at least 1)")]
    Zero {
        /// Byte offset of the number.
        at: usize,
        /// `count`, `zombies`, `storm total`, `storm rate`.
        what: &'static str,
    },
    /// A number that does not fit (child counts and the like are `u32`, durations
    /// are `u32` milliseconds).
    #[error("spec: {what} {text:?} at byte {at} is too large (at most {max})")]
    TooLarge {
        /// Byte offset of the number.
        at: usize,
        /// `number` or `duration`.
        what: &'static str,
        /// The number as written (cut to 32 characters).
        text: String,
        /// The largest value allowed, with its unit.
        max: String,
    },
    /// Children nested deeper than [`crate::spec::Limits::max_depth`] (checked while
    /// parsing, so that no input can exhaust the parser's stack).
    #[error("spec: node at byte {at} is at depth {depth}, over the limit max_depth = {max}")]
    TooDeep {
        /// Byte offset of the child's node.
        at: usize,
        /// Its depth (the leader is at depth 0).
        depth: u32,
        /// The limit.
        max: u32,
    },
    /// The spec is well-formed but exceeds a limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// Checking a spec against [`crate::spec::Limits`] ([`crate::spec::Limits::check`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A total over the whole expanded tree is above its limit.
    #[error("spec: {what} is {value}, over the limit {limit} = {max}")]
    Exceeded {
        /// The field of [`crate::spec::Limits`], e.g. `max_nodes`.
        limit: &'static str,
        /// What was counted, e.g. `the expanded node count`.
        what: &'static str,
        /// The spec's value (saturated at `u64::MAX`).
        value: u64,
        /// The limit.
        max: u64,
    },
    /// A number that must be at least 1 is 0 (only a spec built in code can have
    /// this: the parser rejects it with [`SpecError::Zero`]).
    #[error("spec: {what} is 0 (must be at least 1)")]
    Zero {
        /// `count`, `zombies`, `storm total`, `storm rate`.
        what: &'static str,
    },
    /// A word no process can play (only a spec built in code can have this: the
    /// parser rejects it): `ignore=stop`.
    #[error("spec: {what}")]
    Impossible {
        /// What and why: `ignore=stop: SIGSTOP cannot be ignored`.
        what: &'static str,
    },
}

impl SpecError {
    /// The byte offset the error points at, for errors about a place in the text.
    pub fn offset(&self) -> Option<usize> {
        match self {
            SpecError::Expected { at, .. }
            | SpecError::Unknown { at, .. }
            | SpecError::Zero { at, .. }
            | SpecError::TooLarge { at, .. }
            | SpecError::TooDeep { at, .. } => Some(*at),
            SpecError::Empty | SpecError::TooLong { .. } | SpecError::Limit(_) => None,
        }
    }
}

/// An error and its causes on one line, `: `-separated: `error: cause: cause`
/// (what the command line and the benches print).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
