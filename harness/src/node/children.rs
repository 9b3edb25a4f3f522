//! Step 2 of a node: its children, each by its spawn kind (see the module docs of
//! [`crate::node`]).

use std::os::fd::OwnedFd;

use nix::sys::signal::Signal;

use super::{Node, TermHandler, die, exec_node, wait_ready};
use crate::spec::{NodeSpec, SpawnKind, Trait};
use crate::sys::{self, Forked};

impl Node {
    pub(super) fn start_children(&mut self, spec: &NodeSpec) {
        if spec.children.is_empty() {
            return;
        }
        let id = self.id;
        let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .unwrap_or_else(|e| die(id, "ready pipe", e));
        let mut next = id + 1;
        let mut expected = 0usize;
        let mut said_no_cparent = false;
        for child in &spec.children {
            let size = child.node.node_count();
            for _ in 0..child.count {
                let forked = match child.spawn {
                    SpawnKind::Cparent => match sys::clone_parent() {
                        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                            if !said_no_cparent {
                                eprintln!(
                                    "teardown node {id}: cparent: clone(CLONE_PARENT): {e} \
                                     (a PID namespace's init cannot; forking instead)"
                                );
                                said_no_cparent = true;
                            }
                            sys::fork()
                        }
                        other => other,
                    },
                    _ => sys::fork(),
                };
                match forked.unwrap_or_else(|e| die(id, "fork", e)) {
                    Forked::Child => {
                        // The child is a node of its own now: it keeps only the write
                        // end of this pipe, as its way to tell its parent it is ready.
                        drop(ready_r);
                        self.become_child(child.spawn, &child.node, next, ready_w)
                    }
                    Forked::Parent(pid) => {
                        if child.spawn == SpawnKind::DoubleFork {
                            // Reap the intermediate (ECHILD if SIGCHLD is ignored).
                            let _ = rustix::process::waitpid(
                                rustix::process::Pid::from_raw(pid),
                                rustix::process::WaitOptions::empty(),
                            );
                        } else {
                            self.children.push((pid, child.node.has_trait(Trait::Stop)));
                        }
                    }
                }
                next += size;
                expected += 1;
            }
        }
        drop(ready_w);
        wait_ready(&ready_r, expected);
        // Closed once this node has reported ready (`report_ready`).
        self.children_ready = Some(ready_r);
    }

    fn become_child(
        &mut self,
        kind: SpawnKind,
        spec: &NodeSpec,
        child_id: u32,
        ready: OwnedFd,
    ) -> ! {
        self.id = child_id;
        self.parent_ready = Some(ready); // drops the grandparent's end
        self.live = 0;
        self.children.clear();
        let keeps = self.term == TermHandler::Respawn && spec.has_trait(Trait::RespawnOnTerm);
        if self.term != TermHandler::None && !keeps {
            // The parent's handler is not the child's trait: back to the default (an
            // inherited SIG_IGN would have stayed; kernel semantics).
            if let Err(e) = sys::default_signal(Signal::SIGTERM) {
                die(child_id, "reset SIGTERM", e)
            }
            self.term = TermHandler::None;
        }
        match kind {
            SpawnKind::Fork | SpawnKind::Cparent => self.play(spec),
            SpawnKind::DoubleFork => match sys::fork() {
                Ok(Forked::Child) => self.play(spec),
                Ok(Forked::Parent(_)) => sys::exit_now(0),
                Err(e) => die(child_id, "double fork", e),
            },
            SpawnKind::Exec => {
                let ready = self.parent_ready.take();
                let e = exec_node(spec, child_id, ready.as_ref(), self.standalone);
                die(child_id, "exec /proc/self/exe", e)
            }
        }
    }
}
