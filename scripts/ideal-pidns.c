/*
 * The least a pidns supervisor can do for `run -- CMD`, as a yardstick for
 * `teardown run` (scripts/run-vs-tini.sh prints it as "floor"): a fresh cgroup
 * leaf under $IDEAL_CGROUP_PARENT (none if unset or not writable), an init born
 * in it in a new PID namespace (one clone3), the leader forked and exec'd by the
 * init, the leader's status passed back over a pipe, the init SIGKILLed (the
 * kernel kills the rest of the namespace) and reaped, the leaf removed. No
 * signal forwarding, no terminal, no report, no graceful round, no error
 * messages: only the system calls the containment cannot do without.
 *
 *   cc -O2 -o ideal-pidns scripts/ideal-pidns.c && ./ideal-pidns /bin/true
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    char leaf[4096] = "";
    int leaf_fd = -1;
    const char *parent = getenv("IDEAL_CGROUP_PARENT");
    if (parent && *parent) {
        snprintf(leaf, sizeof leaf, "%s/ideal-pidns-%d", parent, (int)getpid());
        if (mkdir(leaf, 0755) == 0)
            leaf_fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else
            leaf[0] = 0;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return 125;
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_NEWPID | (leaf_fd >= 0 ? CLONE_INTO_CGROUP : 0);
    ca.exit_signal = SIGCHLD;
    ca.cgroup = leaf_fd >= 0 ? (uint64_t)leaf_fd : 0;
    long init = syscall(SYS_clone3, &ca, sizeof ca);
    if (init < 0)
        return 125;
    if (init == 0) {
        pid_t leader = fork();
        if (leader == 0) {
            setpgid(0, 0);
            execvp(argv[1], argv + 1);
            _exit(127);
        }
        int st = 0;
        waitpid(leader, &st, 0);
        (void)!write(p[1], &st, sizeof st);
        for (;;)
            pause();
    }
    close(p[1]);
    int st = 0;
    (void)!read(p[0], &st, sizeof st);
    kill((pid_t)init, SIGKILL);
    waitpid((pid_t)init, NULL, 0);
    if (leaf[0])
        rmdir(leaf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
