//! Tree shapes the benches tear down, and how the `bench-tree` helper is told to
//! build them.

use std::fmt;
use std::str::FromStr;

/// How the processes of a benched tree hang together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// The leader and `n - 1` forked children that `pause()`, all in the leader's
    /// process group: the common case of a shell or build tool and its jobs.
    Flat,
    /// `n` processes, each forking and exec'ing the next: a deep tree of exec'd
    /// programs. (Fork-only chains would measure memory-map copying, not teardown.)
    Chain,
}

impl Shape {
    /// The shape's name, as in benchmark ids and on the helper's command line.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::Chain => "chain",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Shape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flat" => Ok(Shape::Flat),
            "chain" => Ok(Shape::Chain),
            other => Err(format!(
                "unknown shape \"{other}\" (expected flat or chain)"
            )),
        }
    }
}

/// A shape and its size: `n` processes in all, the leader included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TreeShape {
    /// The shape.
    pub shape: Shape,
    /// Processes in the tree, the leader included (at least 1).
    pub n: u32,
}

impl TreeShape {
    /// The most processes one benched tree may have (the project's limit is 2000
    /// live processes per trial).
    pub const MAX_N: u32 = 1000;
}

impl fmt::Display for TreeShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.shape, self.n)
    }
}
