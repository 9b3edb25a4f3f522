//! Canonical printing of the text form (`Display`); the rules are in
//! [`super::text`]'s docs, and the parser reads back exactly what this prints.

use std::fmt;

use super::{ChildSpec, End, NodeSpec, Trait, TreeSpec};

/// A duration in milliseconds, canonically: whole seconds when it is a non-zero
/// multiple of 1000 ms, else milliseconds.
struct Millis(u32);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ms if ms != 0 && ms % 1000 == 0 => write!(f, "{}s", ms / 1000),
            ms => write!(f, "{ms}ms"),
        }
    }
}

impl fmt::Display for Trait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match *self {
            Trait::GracefulMs(ms) => write!(f, "={}", Millis(ms)),
            Trait::SlowExit(super::SLOW_EXIT_MIB) => Ok(()),
            Trait::SlowExit(mib) => write!(f, "={mib}MiB"),
            t => match t.signal() {
                Some(sig) => write!(f, "={sig}"),
                None => Ok(()),
            },
        }
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            End::Pause => f.write_str("pause"),
            End::Exit => f.write_str("exit"),
            End::ExitAfterMs(ms) => write!(f, "exit-after={}", Millis(ms)),
            End::Spin => f.write_str("spin"),
            End::Zombies(n) => write!(f, "zombies={n}"),
            End::Storm { total, rate } => write!(f, "storm={total}@{rate}"),
            End::MainExit => f.write_str("main-exit"),
            End::ThreadFork => f.write_str("thread-fork"),
            End::Vfork(n) => write!(f, "vfork={n}"),
            End::Hop { total, rate } => write!(f, "hop={total}@{rate}"),
            End::Trace => f.write_str("trace"),
        }
    }
}

impl fmt::Display for NodeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.traits {
            write!(f, "{t} ")?;
        }
        write!(f, "{}", self.end)?;
        if !self.children.is_empty() {
            f.write_str(" [")?;
            for (i, c) in self.children.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl fmt::Display for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count != 1 {
            write!(f, "{}*", self.count)?;
        }
        write!(f, "{}: {}", self.spawn, self.node)
    }
}

impl fmt::Display for TreeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Sig;

    #[test]
    fn exit_after_prints_whole_seconds_and_milliseconds_otherwise() {
        assert_eq!(End::ExitAfterMs(2000).to_string(), "exit-after=2s");
        assert_eq!(End::ExitAfterMs(1500).to_string(), "exit-after=1500ms");
        assert_eq!(End::ExitAfterMs(0).to_string(), "exit-after=0ms");
    }

    #[test]
    fn graceful_prints_its_duration_like_exit_after() {
        assert_eq!(Trait::GracefulMs(2000).to_string(), "graceful=2s");
        assert_eq!(Trait::GracefulMs(1500).to_string(), "graceful=1500ms");
        assert_eq!(Trait::GracefulMs(0).to_string(), "graceful=0ms");
        assert_eq!(Trait::SlowExit(256).to_string(), "slow-exit");
        assert_eq!(Trait::SlowExit(64).to_string(), "slow-exit=64MiB");
        assert_eq!(Trait::KillParent(Sig::Usr1).to_string(), "kill-parent=usr1");
    }
}
