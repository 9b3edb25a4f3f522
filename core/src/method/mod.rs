//! The teardown methods. One file per method; this file names them.

pub(crate) mod auto;
mod cgroup;
mod killpg;
mod killpg_waitpgid;
mod leader;
mod name;
pub(crate) mod pidns;
pub(crate) mod proc_walk;
pub(crate) mod subreaper;

pub use name::Method;

pub(crate) use auto::{PREFERENCE as AUTO_PREFERENCE, spawn as spawn_auto};
pub(crate) use cgroup::spawn as spawn_cgroup;
pub(crate) use killpg::spawn as spawn_killpg;
pub(crate) use killpg_waitpgid::spawn as spawn_killpg_waitpgid;
pub(crate) use leader::spawn as spawn_leader;
