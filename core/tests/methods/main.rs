//! Integration tests for every teardown method against the trees that break
//! naive supervisors. Liveness is judged by identity `(pid, start time)` from
//! `/proc`, never by `kill(pid, 0)`.

mod api;
mod auto;
mod born_in_cgroup;
mod cases;
mod forked_shim;
mod helpers;
mod host_death;
mod hostile;
mod shapes;
mod support;
mod unsupported;
mod watchdog;
