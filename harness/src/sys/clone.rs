//! Process shapes beyond `fork`: the warden's `clone3` into a cgroup and new
//! namespaces ([`clone3_fork`]), and the node interpreter's unusual process and
//! thread shapes: `clone(CLONE_PARENT)` (`cparent`), a `vfork` chain (`vfork=N`),
//! the main thread exiting alone (`main-exit`) and a fork from a secondary thread
//! (`thread-fork`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{Forked, check_single_threaded};

/// `clone(CLONE_PARENT | SIGCHLD)`—Creates a child process that is a copy of this
/// one (fork semantics: no `CLONE_VM`) but whose parent is this process's parent.
///
/// Fails unless [`super::enter_single_threaded`] succeeded in this process. From
/// the init of a PID namespace the kernel refuses (`EINVAL`).
///
/// The child's C library thread descriptor keeps this process's TID (glibc's fork
/// rewrites it, a raw clone cannot): the child must not use `raise`,
/// `pthread_kill` or `abort`, which would signal that TID. The node interpreter
/// signals itself with `kill(getpid(), ..)`.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/clone.2.html>
pub fn clone_parent() -> io::Result<Forked> {
    check_single_threaded("clone")?;
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: without CLONE_VM the child gets its own copy of memory, as with
    // fork; the process is single-threaded (checked above), so that copy is
    // consistent. A NULL stack means the child runs on its copy of ours.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// `CLONE_INTO_CGROUP` (Linux 5.7): the child starts in the cgroup given by an fd.
/// (libc's constant is a `c_int` too narrow for it.)
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The namespaces a [`clone3_fork`] child is born in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewNamespaces {
    /// A new PID namespace: the child is its PID 1.
    pub pid: bool,
    /// A new user namespace too (what lets a non-root process make the PID one).
    pub user: bool,
}

/// `clone3(2)` with fork semantics—Creates a child process that is a copy of this
/// one, born in the cgroup `cgroup` (an open cgroup2 directory; `None`: this
/// process's cgroup) and in the namespaces `ns`. The parent gets the child's PID
/// and a pidfd on it. What the fork-server warden makes each trial's inner
/// warden with: no exec, no migration, no second fork to enter the PID namespace.
///
/// Fails unless [`super::enter_single_threaded`] succeeded in this process. The
/// child's C library thread descriptor keeps this process's TID (as with
/// [`clone_parent`]): the child must not use `raise`, `pthread_kill` or `abort`.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/clone3.2.html>
pub fn clone3_fork(
    cgroup: Option<BorrowedFd<'_>>,
    ns: NewNamespaces,
) -> io::Result<(Forked, Option<OwnedFd>)> {
    check_single_threaded("clone3")?;
    let mut pidfd: libc::c_int = -1;
    let mut flags = libc::CLONE_PIDFD as u64;
    if cgroup.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }
    if ns.pid {
        flags |= libc::CLONE_NEWPID as u64;
    }
    if ns.user {
        flags |= libc::CLONE_NEWUSER as u64;
    }
    // SAFETY: `struct clone_args` is plain integers: all zeroes is a valid value
    // (and what clone3 takes for every field not set below).
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags;
    args.pidfd = &mut pidfd as *mut libc::c_int as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    args.cgroup = cgroup.map_or(0, |fd| fd.as_raw_fd() as u64);
    // SAFETY: clone3 without CLONE_VM gives the child its own copy of memory, like
    // fork; the process is single-threaded (checked above), so that copy is
    // consistent. No stack is given: the child runs on its copy of ours. `pidfd`
    // lives across the call, where the kernel writes the parent's pidfd.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const libc::clone_args,
            size_of::<libc::clone_args>(),
        )
    };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            if ns.pid {
                super::forget_own_pidns();
            }
            Ok((Forked::Child, None))
        }
        pid => {
            // SAFETY: the kernel just opened this descriptor for us (CLONE_PIDFD).
            let fd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
            Ok((Forked::Parent(pid as i32), fd))
        }
    }
}

/// Stack of each process of a [`vfork_chain`].
const VFORK_STACK: usize = 64 * 1024;

/// What each level of a [`vfork_chain`] reads: built before the first clone, in
/// memory the whole chain shares.
#[repr(C)]
struct Level {
    /// The next level's context (null for the last).
    next: *mut Level,
    /// The top of the next level's stack.
    next_stack: *mut libc::c_void,
    /// Reset SIGTERM to its default action (the node had a handler).
    reset_term: bool,
}

/// `clone(CLONE_VM | CLONE_VFORK | SIGCHLD)`, `n` deep—Makes a chain of `n`
/// processes without exec: this process vforks the first, each vforks the next,
/// the last pauses. Every parent stays blocked in the clone (state `D`) until its child
/// exits or execs, which none does. Returns only if the first clone fails.
///
/// The stacks (64 KiB each) and the levels' contexts are made with one `mmap`
/// before the first clone. The children share this process's memory: they
/// allocate nothing, take no lock and never return, making only raw calls
/// (`sigaction`, `clone`, `pause`). With `reset_term`, each child sets SIGTERM
/// back to its default action first (a child does not have its parent node's
/// handler; without `CLONE_SIGHAND` its handler table is its own).
///
/// # References
/// <https://man7.org/linux/man-pages/man2/clone.2.html>,
/// <https://man7.org/linux/man-pages/man2/vfork.2.html>
pub fn vfork_chain(n: u32, reset_term: bool) -> io::Error {
    let n = n.max(1) as usize;
    let levels_len = n * size_of::<Level>();
    let len = n * VFORK_STACK + levels_len.next_multiple_of(4096);
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return io::Error::last_os_error();
    }
    let base = base.cast::<u8>();
    // Stack i is [base + i*S, base + (i+1)*S), its top the start of stack i+1;
    // the contexts follow the stacks.
    let stack_top = |i: usize| {
        // SAFETY: i <= n: at most one past the last stack, inside the mapping.
        unsafe { base.add((i + 1) * VFORK_STACK) }.cast::<libc::c_void>()
    };
    // SAFETY: the contexts start right after the n stacks, inside the mapping,
    // page-aligned (a `Level` needs 8).
    let levels = unsafe { base.add(n * VFORK_STACK) }.cast::<Level>();
    for i in 0..n {
        let last = i + 1 == n;
        let level = Level {
            // SAFETY: i + 1 < n: inside the contexts.
            next: if last {
                std::ptr::null_mut()
            } else {
                unsafe { levels.add(i + 1) }
            },
            next_stack: if last {
                std::ptr::null_mut()
            } else {
                stack_top(i + 1)
            },
            reset_term,
        };
        // SAFETY: context i is inside the mapping and nothing reads it yet.
        unsafe { levels.add(i).write(level) };
    }
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // SAFETY: `vfork_level` runs on stack 0 with context 0 as its argument; it and
    // every level below only make async-signal-safe raw calls on memory prepared
    // above, never return, and never touch this process's stack. CLONE_VFORK
    // keeps this thread blocked until the child exits or execs.
    let pid = unsafe { libc::clone(vfork_level, stack_top(0), flags, levels.cast()) };
    if pid == -1 {
        let e = io::Error::last_os_error();
        // SAFETY: the mapping is ours and no child uses it (the clone failed).
        unsafe { libc::munmap(base.cast(), len) };
        return e;
    }
    // The first child exited (it was killed): the chain is broken.
    io::Error::other("the vfork chain ended")
}

extern "C" fn vfork_level(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is a `Level` inside the chain's mapping, written before the
    // first clone and never changed since.
    let level = unsafe { &*arg.cast::<Level>() };
    if level.reset_term {
        // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask; sigaction(2)
        // is async-signal-safe and, without CLONE_SIGHAND, changes only this
        // process's handler table.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGTERM, &dfl, std::ptr::null_mut());
        }
    }
    if !level.next.is_null() {
        let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
        // SAFETY: as for the first level: the next level runs on its own stack
        // with its own context, both prepared before the first clone.
        unsafe { libc::clone(vfork_level, level.next_stack, flags, level.next.cast()) };
    }
    // The last level, or a level whose child is gone: pause, never return.
    loop {
        // SAFETY: pause(2) is async-signal-safe.
        unsafe { libc::pause() };
    }
}

/// `syscall(SYS_exit, 0)`—Ends the calling thread only (not `exit_group`): when
/// the main thread calls it while another thread lives, the process goes on with
/// its thread-group leader a zombie.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/exit.2.html>
pub fn exit_thread() -> ! {
    // SAFETY: SYS_exit ends this thread at once without running destructors; no
    // lock is held by this thread when the node interpreter calls it.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("SYS_exit returned")
}

/// `fork()` from a multithreaded process (the node's `thread-fork` end, called on
/// a secondary thread): the child only pauses, with raw async-signal-safe calls
/// (with `reset_term`, it first sets SIGTERM back to its default action). Returns
/// the child's PID.
///
/// # References
/// <https://man7.org/linux/man-pages/man2/fork.2.html>
pub fn fork_pausing_child(reset_term: bool) -> io::Result<i32> {
    // SAFETY: the child of a multithreaded process only makes async-signal-safe
    // calls (sigaction, pause) and never returns.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => unsafe {
            if reset_term {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGTERM, &dfl, std::ptr::null_mut());
            }
            loop {
                libc::pause();
            }
        },
        pid => Ok(pid),
    }
}
