//! Making a trial's inner warden: one `clone3` of the idle server into the
//! trial's cgroup and a new PID namespace ([`sys::clone3_fork`]), and, in the
//! clone, the inner warden's life: its standard files, its user namespace's id
//! maps, the trial ([`super::super::inner`]), the outcome written to a memfd, the
//! exit.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};

use super::super::contain::{self, Containment};
use super::super::inner;
use super::Host;
use crate::oracle::error_outcome;
use crate::sys::{self, Forked, NewNamespaces};
use crate::trial::Trial;

/// The inner warden's nice value (see [`sys::favour_self`]).
const INNER_NICE: i32 = -10;

/// The per-trial files: the lifeline pipe, and the memfds the inner warden writes
/// its outcome and its log to.
pub(super) struct TrialFiles {
    pub(super) lifeline_r: Option<OwnedFd>,
    pub(super) lifeline_w: Option<OwnedFd>,
    pub(super) outcome: OwnedFd,
    pub(super) log: OwnedFd,
}

impl TrialFiles {
    pub(super) fn new() -> io::Result<TrialFiles> {
        let (lifeline_r, lifeline_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let memfd = |name: &str| rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC);
        Ok(TrialFiles {
            lifeline_r: Some(lifeline_r),
            lifeline_w: Some(lifeline_w),
            outcome: memfd("teardown-outcome")?,
            log: memfd("teardown-log")?,
        })
    }
}

impl Host {
    /// Clones the inner warden into the cgroup and a new PID namespace (a new
    /// user namespace too if that is what it takes; none, said in the outcome,
    /// if neither works), and runs the trial there. Returns (PID, pidfd,
    /// containment) in the server.
    pub(super) fn clone_inner(
        &mut self,
        trial: &Trial,
        files: &mut TrialFiles,
    ) -> Result<(i32, OwnedFd, Containment), String> {
        let dir = match &self.cgroup {
            Ok(cg) => match rustix::fs::open(
                &cg.dir,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) {
                Ok(fd) => Some(fd),
                Err(e) => {
                    self.demote(format!("cannot open it: {e}"));
                    None
                }
            },
            Err(_) => None,
        };
        let tries: Vec<NewNamespaces> = match self.ns {
            Some(ns) => vec![ns],
            None => vec![
                NewNamespaces {
                    pid: true,
                    user: false,
                },
                NewNamespaces {
                    pid: true,
                    user: true,
                },
                NewNamespaces {
                    pid: false,
                    user: false,
                },
            ],
        };
        let mut why = Vec::new();
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        for ns in tries {
            let cgroup_fd = dir.as_ref().map(|d| d.as_fd());
            match sys::clone3_fork(cgroup_fd, ns) {
                Ok((Forked::Child, _)) => {
                    let containment = if ns.pid {
                        Containment::PidNamespace { user: ns.user }
                    } else {
                        Containment::Subreaper {
                            why: why.join("; "),
                        }
                    };
                    self.be_inner(trial, files, ns, containment, (uid, gid))
                }
                Ok((Forked::Parent(pid), Some(fd))) => {
                    self.ns = Some(ns);
                    let containment = if ns.pid {
                        Containment::PidNamespace { user: ns.user }
                    } else {
                        Containment::Subreaper {
                            why: why.join("; "),
                        }
                    };
                    return Ok((pid, fd, containment));
                }
                Ok((Forked::Parent(pid), None)) => {
                    return Err(format!("clone3 gave no pidfd for {pid}"));
                }
                Err(e) if dir.is_some() && e.raw_os_error() != Some(libc::EPERM) => {
                    // Not the namespaces: the cgroup (EBUSY, EOPNOTSUPP...).
                    self.demote(format!("clone3 into it: {e}"));
                    return self.clone_inner(trial, files);
                }
                Err(e) => why.push(format!(
                    "clone3({}CLONE_NEWPID): {e}",
                    if ns.user { "CLONE_NEWUSER|" } else { "" }
                )),
            }
        }
        Err(why.join("; "))
    }

    /// In the clone: become the trial's inner warden, write the outcome, exit.
    fn be_inner(
        &self,
        trial: &Trial,
        files: &mut TrialFiles,
        ns: NewNamespaces,
        containment: Containment,
        (uid, gid): (u32, u32),
    ) -> ! {
        let _ = rustix::thread::set_name(c"td-warden");
        // The judge looks at instants: favoured on the CPU (its children are not).
        let favoured = sys::favour_self(INNER_NICE);
        let outcome = (|| {
            let null = std::fs::File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|e| format!("warden: /dev/null: {e}"))?;
            nix::unistd::dup2_stdin(&null).map_err(|e| format!("warden: dup2: {e}"))?;
            nix::unistd::dup2_stdout(&null).map_err(|e| format!("warden: dup2: {e}"))?;
            nix::unistd::dup2_stderr(&files.log).map_err(|e| format!("warden: dup2: {e}"))?;
            // The server's end of the lifeline: only the server may hold it.
            drop(files.lifeline_w.take());
            if ns.user {
                contain::map_ids(uid, gid)
                    .map_err(|e| format!("warden: user namespace id maps: {e}"))?;
            }
            let lifeline = files.lifeline_r.take().ok_or("warden: no lifeline")?;
            let (cgroup, missing) = match &self.cgroup {
                Ok(cg) => (Some(cg), None),
                Err(e) => (None, Some(e)),
            };
            let mut outcome = inner::main(trial, &containment, cgroup, missing, lifeline);
            if let Err(e) = &favoured {
                let note = format!("warden not favoured on the CPU ({e})");
                outcome.detail = Some(match outcome.detail.take() {
                    Some(d) => format!("{d}; {note}"),
                    None => note,
                });
            }
            Ok::<_, String>(outcome)
        })()
        .unwrap_or_else(error_outcome);
        let mut out = std::fs::File::from(
            files
                .outcome
                .try_clone()
                .unwrap_or_else(|_| sys::exit_now(1)),
        );
        // One write, not one per JSON token.
        let bytes = serde_json::to_vec(&outcome).expect("outcomes serialize");
        let code = match out.write_all(&bytes) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        sys::exit_now(code)
    }
}
