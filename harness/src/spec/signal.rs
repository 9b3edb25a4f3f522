//! The signals a node may send up its ancestry (`kill-parent=SIG` and the like).
//!
//! Every standard Linux signal from 1 to 31 but `SIGKILL` (uncatchable by the
//! parent's side too, and out of scope: a tree that SIGKILLs its supervisor is a
//! different bug class), named in lower case without `SIG`, in signal-number
//! order: `hup int quit ill trap abrt bus fpe usr1 segv usr2 pipe alrm term stkflt
//! chld cont stop tstp ttin ttou urg xcpu xfsz vtalrm prof winch io pwr sys`.
//! Exactly these words; aliases (`iot`, `poll`, `cld`) are not accepted.

use std::fmt;
use std::str::FromStr;

use super::names::UnknownName;

/// A signal a node sends (one variant per signal, named as in signal(7));
/// [`Sig::ALL`] lists them.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Sig {
    Hup,
    Int,
    Quit,
    Ill,
    Trap,
    Abrt,
    Bus,
    Fpe,
    Usr1,
    Segv,
    Usr2,
    Pipe,
    Alrm,
    Term,
    Stkflt,
    Chld,
    Cont,
    Stop,
    Tstp,
    Ttin,
    Ttou,
    Urg,
    Xcpu,
    Xfsz,
    Vtalrm,
    Prof,
    Winch,
    Io,
    Pwr,
    Sys,
}

impl Sig {
    /// Every signal a spec may name, in signal-number order.
    pub const ALL: [Sig; 30] = [
        Sig::Hup,
        Sig::Int,
        Sig::Quit,
        Sig::Ill,
        Sig::Trap,
        Sig::Abrt,
        Sig::Bus,
        Sig::Fpe,
        Sig::Usr1,
        Sig::Segv,
        Sig::Usr2,
        Sig::Pipe,
        Sig::Alrm,
        Sig::Term,
        Sig::Stkflt,
        Sig::Chld,
        Sig::Cont,
        Sig::Stop,
        Sig::Tstp,
        Sig::Ttin,
        Sig::Ttou,
        Sig::Urg,
        Sig::Xcpu,
        Sig::Xfsz,
        Sig::Vtalrm,
        Sig::Prof,
        Sig::Winch,
        Sig::Io,
        Sig::Pwr,
        Sig::Sys,
    ];

    /// The word in the text form: `term`, `usr1`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Sig::Hup => "hup",
            Sig::Int => "int",
            Sig::Quit => "quit",
            Sig::Ill => "ill",
            Sig::Trap => "trap",
            Sig::Abrt => "abrt",
            Sig::Bus => "bus",
            Sig::Fpe => "fpe",
            Sig::Usr1 => "usr1",
            Sig::Segv => "segv",
            Sig::Usr2 => "usr2",
            Sig::Pipe => "pipe",
            Sig::Alrm => "alrm",
            Sig::Term => "term",
            Sig::Stkflt => "stkflt",
            Sig::Chld => "chld",
            Sig::Cont => "cont",
            Sig::Stop => "stop",
            Sig::Tstp => "tstp",
            Sig::Ttin => "ttin",
            Sig::Ttou => "ttou",
            Sig::Urg => "urg",
            Sig::Xcpu => "xcpu",
            Sig::Xfsz => "xfsz",
            Sig::Vtalrm => "vtalrm",
            Sig::Prof => "prof",
            Sig::Winch => "winch",
            Sig::Io => "io",
            Sig::Pwr => "pwr",
            Sig::Sys => "sys",
        }
    }

    /// Whether the signal stops a process that has not changed its disposition
    /// (`stop`, and `tstp`, `ttin`, `ttou`, whose default action is to stop).
    pub fn stops(self) -> bool {
        matches!(self, Sig::Stop | Sig::Tstp | Sig::Ttin | Sig::Ttou)
    }

    /// The Linux signal number (x86-64 and aarch64 numbering: 1 to 31, never 9).
    pub fn number(self) -> i32 {
        let index = Sig::ALL.iter().position(|s| *s == self).unwrap_or(0) as i32;
        // The list is 1..=31 in order, with 9 (SIGKILL) left out.
        if index < 8 { index + 1 } else { index + 2 }
    }

    /// The signal named `word`, if any (exact, lower case).
    pub fn from_name(word: &str) -> Option<Sig> {
        Sig::ALL.into_iter().find(|s| s.name() == word)
    }
}

/// The unknown-signal error lists these.
pub(crate) const SIGNAL_NAMES: &str = "hup, int, quit, ill, trap, abrt, bus, fpe, usr1, segv, \
     usr2, pipe, alrm, term, stkflt, chld, cont, stop, tstp, ttin, ttou, urg, xcpu, xfsz, \
     vtalrm, prof, winch, io, pwr, sys";

impl FromStr for Sig {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sig::from_name(s).ok_or_else(|| UnknownName {
            what: "signal",
            word: s.to_owned(),
            expected: SIGNAL_NAMES,
        })
    }
}

impl fmt::Display for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_are_the_kernels() {
        let libc_numbers = [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGABRT,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGUSR1,
            libc::SIGSEGV,
            libc::SIGUSR2,
            libc::SIGPIPE,
            libc::SIGALRM,
            libc::SIGTERM,
            libc::SIGSTKFLT,
            libc::SIGCHLD,
            libc::SIGCONT,
            libc::SIGSTOP,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
            libc::SIGURG,
            libc::SIGXCPU,
            libc::SIGXFSZ,
            libc::SIGVTALRM,
            libc::SIGPROF,
            libc::SIGWINCH,
            libc::SIGIO,
            libc::SIGPWR,
            libc::SIGSYS,
        ];
        for (sig, n) in Sig::ALL.into_iter().zip(libc_numbers) {
            assert_eq!(sig.number(), n, "{sig}");
        }
        assert!(Sig::ALL.iter().all(|s| s.number() != libc::SIGKILL));
    }

    #[test]
    fn the_list_names_every_signal_once_in_order() {
        let listed: Vec<&str> = SIGNAL_NAMES.split(", ").collect();
        let names: Vec<&str> = Sig::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(listed, names);
        for s in Sig::ALL {
            assert_eq!(s.name().parse::<Sig>(), Ok(s));
        }
    }

    #[test]
    fn kill_and_spellings_with_sig_are_unknown() {
        for word in ["kill", "SIGTERM", "sigterm", "TERM", "15", "iot"] {
            let err = word.parse::<Sig>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("unknown signal {word:?} (expected one of: {SIGNAL_NAMES})")
            );
        }
    }
}
