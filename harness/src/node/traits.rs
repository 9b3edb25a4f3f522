//! Step 1 of a node: its traits, in spec order (see the module docs of
//! [`crate::node`]).

use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use super::{EVIL_NAME, Node, TermHandler, die, exec_node, own_record, record};
use crate::spec::{NodeSpec, Trait};
use crate::sys::{self, Forked};

impl Node {
    pub(super) fn apply_traits(&mut self, spec: &NodeSpec) {
        let id = self.id;
        for (i, t) in spec.traits.iter().enumerate() {
            let res: io::Result<()> = match *t {
                Trait::Setsid => match rustix::process::setsid() {
                    Err(rustix::io::Errno::PERM) => Ok(()),
                    r => r.map(drop).map_err(io::Error::from),
                },
                Trait::Setpgid => match rustix::process::setpgid(None, None) {
                    Err(rustix::io::Errno::PERM) => Ok(()),
                    r => r.map_err(io::Error::from),
                },
                Trait::IgnoreTerm => {
                    sys::ignore_signal(Signal::SIGTERM).map(|()| self.term = TermHandler::None)
                }
                Trait::IgnoreInt => sys::ignore_signal(Signal::SIGINT),
                Trait::IgnoreHup => sys::ignore_signal(Signal::SIGHUP),
                Trait::Ignore(sig) => match Signal::try_from(sig.number()) {
                    Ok(s) => sys::ignore_signal(s).map(|()| {
                        if s == Signal::SIGTERM {
                            self.term = TermHandler::None;
                        }
                    }),
                    Err(e) => Err(io::Error::from(e)),
                },
                Trait::BlockAll => {
                    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None)
                        .map_err(io::Error::from)
                }
                Trait::SigchldIgn => sys::ignore_signal(Signal::SIGCHLD),
                Trait::RespawnOnTerm => {
                    sys::respawn_on_term().map(|()| self.term = TermHandler::Respawn)
                }
                Trait::ExecFresh => Err(self.exec_fresh(spec, i)),
                Trait::Stop | Trait::KillParent(_) | Trait::KillAncestors(_) => Ok(()),
                Trait::Subreaper => {
                    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
                        .map_err(io::Error::from)
                }
                Trait::EvilName => {
                    let mut name = [0u8; 16];
                    name[..EVIL_NAME.len()].copy_from_slice(EVIL_NAME);
                    let name = std::ffi::CStr::from_bytes_until_nul(&name).expect("NUL-terminated");
                    nix::sys::prctl::set_name(name).map_err(io::Error::from)
                }
                Trait::TermKillParent(sig) | Trait::TermKillAncestors(sig) => {
                    let ancestors = matches!(t, Trait::TermKillAncestors(_));
                    // `run` refused a spec with upward traits and no warden.
                    let warden = self.warden.expect("checked by run");
                    sys::upward_on_term(ancestors, sig.number(), warden)
                        .map(|()| self.term = TermHandler::Upward)
                }
                Trait::GracefulMs(ms) => self.arm_graceful(ms),
                Trait::Userns => {
                    self.userns();
                    Ok(())
                }
                Trait::SlowExit(mib) => sys::hold_touched_memory(super::slow_exit_bytes(mib)),
                Trait::CgroupNest => {
                    if let Err(why) = self.cgroup_nest() {
                        eprintln!("teardown node {id}: cgroup-nest: {why} (going on without)");
                    }
                    Ok(())
                }
            };
            if let Err(e) = res {
                die(id, &format!("trait {t}"), e);
            }
        }
    }

    /// Re-execs the interpreter on the rest of this node; returns only on failure.
    ///
    /// Carried over from the traits already applied: `stop`, `kill-parent` and
    /// `kill-ancestors` (they act after ready), `evil-name` (exec renames the
    /// process), `slow-exit` (exec drops the memory), and the last SIGTERM-disposition trait if it installs a handler
    /// (exec resets handlers; an ignored SIGTERM survives exec by itself).
    fn exec_fresh(&mut self, spec: &NodeSpec, at: usize) -> io::Error {
        let done = &spec.traits[..at];
        let last_sigterm = done.iter().rposition(|t| t.sets_sigterm());
        let carried = done.iter().enumerate().filter(|&(i, t)| match t {
            Trait::Stop
            | Trait::EvilName
            | Trait::SlowExit(_)
            | Trait::KillParent(_)
            | Trait::KillAncestors(_) => true,
            t if t.sets_sigterm() => {
                Some(i) == last_sigterm && !matches!(t, Trait::IgnoreTerm | Trait::Ignore(_))
            }
            _ => false,
        });
        let mut rest = spec.clone();
        rest.traits = carried
            .map(|(_, t)| *t)
            .chain(spec.traits[at + 1..].iter().copied())
            .collect();
        let ready = self.parent_ready.take();
        exec_node(&rest, self.id, ready.as_ref(), self.standalone)
    }

    /// Encodes the "finished gracefully" record and installs the handler.
    fn arm_graceful(&mut self, ms: u32) -> io::Result<()> {
        let rec = own_record(self.id)?;
        let bytes = record::encode_graceful(&rec);
        let report = self.report.as_ref().map(|r| r.as_fd());
        sys::graceful_on_term(Duration::from_millis(ms.into()), report, &bytes)?;
        self.term = TermHandler::Graceful(ms);
        Ok(())
    }

    /// `unshare(CLONE_NEWUSER | CLONE_NEWPID)`, the id maps, fork; returns in the
    /// child (PID 1 of the new namespace), never in the parent.
    fn userns(&mut self) {
        use nix::sched::CloneFlags;
        let id = self.id;
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        match nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID) {
            // The child forked below is in the new namespace.
            Ok(()) => sys::forget_own_pidns(),
            Err(
                e @ (nix::errno::Errno::EPERM
                | nix::errno::Errno::EINVAL
                | nix::errno::Errno::ENOSPC
                | nix::errno::Errno::EUSERS),
            ) => {
                eprintln!("teardown node {id}: userns: unshare: {e} (going on without)");
                return;
            }
            Err(e) => die(id, "userns: unshare", e),
        }
        let maps = [
            ("/proc/self/setgroups", "deny".to_owned()),
            ("/proc/self/uid_map", format!("0 {uid} 1")),
            ("/proc/self/gid_map", format!("0 {gid} 1")),
        ];
        for (path, text) in maps {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("teardown node {id}: userns: cannot write {path}: {e} (going on)");
                break;
            }
        }
        match sys::fork() {
            Ok(Forked::Child) => {
                // PID 1 now: a graceful record names the process that writes it.
                if let TermHandler::Graceful(ms) = self.term
                    && let Err(e) = self.arm_graceful(ms)
                {
                    die(id, "userns: re-arm graceful", e);
                }
            }
            Ok(Forked::Parent(pid)) => {
                // Not a node any more: only the child reports and tells the parent,
                // and only the child has the node's SIGTERM handler (a graceful
                // record from here would name the node twice).
                self.report = None;
                self.parent_ready = None;
                if self.term != TermHandler::None {
                    let _ = sys::default_signal(Signal::SIGTERM);
                }
                sys::exit_now(wait_status(pid))
            }
            Err(e) => die(id, "userns: fork", e),
        }
    }

    /// Makes `<own cgroup>/node-<id>-<pid>` and moves this process into it.
    fn cgroup_nest(&self) -> Result<(), String> {
        let own = crate::cgroup2::own_dir().map_err(|e| e.to_string())?;
        let dir: PathBuf = own.join(format!("node-{}-{}", self.id, std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::write(dir.join("cgroup.procs"), "0").map_err(|e| {
            let _ = std::fs::remove_dir(&dir);
            format!("cannot move into {}: {e}", dir.display())
        })
    }
}

/// Waits for child `pid`; its exit status, or 128 + the signal that killed it
/// (0 if it cannot be waited for: SIGCHLD ignored).
fn wait_status(pid: i32) -> i32 {
    use nix::sys::wait::{WaitStatus, waitpid};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 0,
        }
    }
}
