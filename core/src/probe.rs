//! What this host and this process support.
//!
//! Probed once per process and cached: kernel, effective uid, the cgroup2 mount
//! and this process's cgroup (a test leaf is created and removed to check it is
//! writable and has `cgroup.kill`), pidfd, subreapers, the shim program, and — by
//! running the shim in `probe-pidns` mode — whether PID (and, when not root, user)
//! namespaces can be created. Whether this process ignores SIGCHLD is read
//! again at every call (see [`HostFacts::sigchld_ignored`]).
//!
//! Spawning does not probe: `auto` tries its methods in order with their real
//! spawns and moves on when one is unsupported (see `method/auto.rs`), which costs
//! a process that spawns one tree (`teardown run`) no test leaf and no extra run
//! of the shim. The probe is for asking: it runs every check, and its
//! [`Probe::auto`] is the method that order ends up with.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::Method;
use crate::cgroup2::{Leaf, LeafError, find_mount, own_cgroup, own_dir};
use crate::method::auto::{self, NO_SUBREAPER, proc_walk_missing, subreaper_supported};
use crate::options::SpawnOptions;
use crate::shim::setup::PIDNS_OK;

/// Whether a method can run here.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Availability {
    /// The method can run.
    Available,
    /// The method cannot run, and why.
    Unsupported {
        /// What is missing and what to do about it.
        reason: String,
    },
}

impl Availability {
    /// True for [`Availability::Available`].
    pub fn is_available(&self) -> bool {
        matches!(self, Availability::Available)
    }
}

/// Facts about the host that decide which methods can run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct HostFacts {
    /// `uname -r`.
    pub kernel: String,
    /// Effective uid of this process.
    pub euid: u32,
    /// The cgroup2 mount point, if any.
    pub cgroup2_mount: Option<String>,
    /// This process's cgroup2 directory, if any.
    pub own_cgroup: Option<String>,
    /// Whether pidfd_open works.
    pub pidfd: bool,
    /// Whether a child can become a subreaper (PR_SET_CHILD_SUBREAPER).
    pub subreaper: bool,
    /// Whether a new user namespace can be created.
    pub user_namespaces: bool,
    /// The shim program, if found.
    pub shim: Option<String>,
    /// Whether this process's children are reaped by the kernel as they exit
    /// (`SIGCHLD` ignored or `SA_NOCLDWAIT`), which the in-process methods cannot
    /// work with. Read at every probe, never cached. (False when absent from an
    /// older probe's JSON.)
    #[serde(default)]
    pub sigchld_ignored: bool,
}

/// The probe's answer: host facts and every method's availability.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// Host facts.
    pub host: HostFacts,
    /// Every method in [`Method::ALL`] order, with its availability.
    pub methods: Vec<(Method, Availability)>,
    /// What `auto` picks here, if anything: the first of `pidns`, `cgroup`,
    /// `proc-walk` available above, which is the one a spawn with `auto` runs (it
    /// tries them in that order and moves on exactly when one is unsupported).
    pub auto: Option<Method>,
}

impl Probe {
    /// The availability of `method` (`auto`: available if it picks something).
    pub fn availability(&self, method: Method) -> &Availability {
        self.methods
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, a)| a)
            .expect("every method is probed")
    }
}

/// Probes this host and process (cached after the first call), finding the shim
/// program the default way (see [`crate::shim`]), for spawns with the default
/// options.
pub fn probe() -> Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    in_this_process(PROBE.get_or_init(|| compute(None, true)).clone())
}

/// The methods that hold the leader in this process (see [`crate::held`]).
const IN_PROCESS: [Method; 5] = [
    Method::Leader,
    Method::Killpg,
    Method::KillpgWaitpgid,
    Method::CgroupKill,
    Method::Cgroup,
];

/// The cached host probe, adjusted for what this process is doing right now: while
/// the kernel reaps its children (SIGCHLD ignored), the in-process methods are
/// unsupported and `auto` picks among the rest.
fn in_this_process(mut p: Probe) -> Probe {
    let Some(reason) = crate::held::kernel_reaps_children() else {
        return p;
    };
    p.host.sigchld_ignored = true;
    for (m, a) in &mut p.methods {
        if IN_PROCESS.contains(m) {
            *a = Availability::Unsupported {
                reason: reason.clone(),
            };
        }
    }
    p.auto = pick_auto(&p.methods);
    let auto = auto_availability(p.auto);
    if let Some((_, a)) = p.methods.iter_mut().find(|(m, _)| *m == Method::Auto) {
        *a = auto;
    }
    p
}

/// The first method of `auto`'s preference that is available in `methods`.
fn pick_auto(methods: &[(Method, Availability)]) -> Option<Method> {
    auto::PREFERENCE
        .into_iter()
        .find(|m| methods.iter().any(|(mm, a)| mm == m && a.is_available()))
}

fn auto_availability(auto: Option<Method>) -> Availability {
    match auto {
        Some(_) => Availability::Available,
        None => Availability::Unsupported {
            reason: "none of pidns, cgroup, proc-walk can run here".into(),
        },
    }
}

/// Runs the shim in `probe-pidns` mode: can it create the namespaces `pidns`
/// needs? Its answer is read from its output too, not only from its exit status,
/// which is lost when this process ignores SIGCHLD (the kernel reaps the shim and
/// the wait fails with `ECHILD`): the shim itself takes SIGCHLD back, so `pidns`
/// works in such a process, and the probe must say so.
fn probe_pidns(path: &std::path::Path, args: &[String]) -> Result<(), String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let cannot_run = |e: std::io::Error| format!("cannot run the shim {}: {e}", path.display());
    let mut child = Command::new(path)
        .args(args)
        .arg("probe-pidns")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(cannot_run)?;
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut said);
    }
    let said = said.trim();
    match child.wait() {
        Ok(st) if st.success() => Ok(()),
        Ok(st) if said.is_empty() => Err(format!("the shim's namespace probe failed ({st})")),
        Ok(_) => Err(said.to_owned()),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) && said == PIDNS_OK => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) && !said.is_empty() => {
            Err(said.to_owned())
        }
        Err(e) => Err(cannot_run(e)),
    }
}

/// A shim program and its leading arguments.
type ShimProgram = (PathBuf, Vec<String>);

/// What a probe depends on besides the host: the shim program, and whether
/// `cgroup` needs it for its watchdog.
type ProbeKey = (Option<ShimProgram>, bool);

/// [`probe`] for spawns with these options: the shim they name (if any) is the one
/// probed, and `cgroup` needs it unless [`SpawnOptions::cgroup_watchdog`] is off.
/// Cached per (shim program, watchdog).
pub fn probe_with(opts: &SpawnOptions) -> Probe {
    if opts.shim.is_none() && opts.cgroup_watchdog {
        return probe();
    }
    let key: ProbeKey = (opts.shim.clone(), opts.cgroup_watchdog);
    static CACHE: Mutex<Vec<(ProbeKey, Probe)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = cache.iter().find(|(k, _)| *k == key) {
        return in_this_process(p.clone());
    }
    let p = compute(key.0.as_ref(), key.1);
    cache.push((key, p.clone()));
    in_this_process(p)
}

fn compute(explicit_shim: Option<&(PathBuf, Vec<String>)>, watchdog: bool) -> Probe {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let euid = rustix::process::geteuid().as_raw();
    let mount = find_mount().ok().flatten();
    let own = own_cgroup().ok().flatten();
    let pidfd = crate::pidfd::supported();
    let subreaper = subreaper_supported();
    let shim = crate::shim::locate(explicit_shim);

    let pidns = match &shim {
        Err(reason) => Err(reason.clone()),
        Ok((path, args)) => probe_pidns(path, args),
    };
    let user_namespaces = if euid == 0 {
        std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .is_ok_and(|s| s.trim().parse::<u64>().is_ok_and(|n| n > 0))
    } else {
        pidns.is_ok()
    };

    let shim_needed = |extra: Option<String>| -> Availability {
        match (&shim, extra) {
            (Err(reason), _) => Availability::Unsupported {
                reason: reason.clone(),
            },
            (Ok(_), Some(reason)) => Availability::Unsupported { reason },
            (Ok(_), None) => Availability::Available,
        }
    };
    let no_subreaper = (!subreaper)
        .then(|| NO_SUBREAPER.to_owned())
        .or_else(crate::shim::kernel::foreign_proc);
    let walk_missing = proc_walk_missing();
    let cgroup = match own_dir().and_then(|dir| match Leaf::create(&dir) {
        Ok(_leaf) => Ok(()),
        Err(LeafError::Unsupported(r)) => Err(r),
        Err(LeafError::Io(what, e)) => Err(format!("failed to {what}: {e}")),
    }) {
        Ok(()) if watchdog => match &shim {
            Ok(_) => Availability::Available,
            Err(reason) => Availability::Unsupported {
                reason: format!("its watchdog needs the shim program: {reason}"),
            },
        },
        Ok(()) => Availability::Available,
        Err(reason) => Availability::Unsupported { reason },
    };
    let methods = vec![
        (Method::Leader, Availability::Available),
        (Method::Killpg, Availability::Available),
        (Method::KillpgWaitpgid, Availability::Available),
        (Method::Subreaper, shim_needed(no_subreaper)),
        (Method::CgroupKill, cgroup.clone()),
        (Method::ProcWalk, shim_needed(walk_missing)),
        (Method::Cgroup, cgroup),
        (Method::Pidns, shim_needed(pidns.err())),
    ];
    let auto = pick_auto(&methods);
    let mut methods = methods;
    methods.push((Method::Auto, auto_availability(auto)));
    Probe {
        host: HostFacts {
            kernel,
            euid,
            cgroup2_mount: mount.map(|m| m.point.display().to_string()),
            own_cgroup: own,
            pidfd,
            subreaper,
            user_namespaces,
            shim: shim.ok().map(|(p, _)| p.display().to_string()),
            sigchld_ignored: false,
        },
        methods,
        auto,
    }
}
