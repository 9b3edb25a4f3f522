#!/usr/bin/env bash
# `teardown run [--method M] -- /bin/true` against `tini -- /bin/true`: N paired
# runs (alternating which goes first), the median wall time of each and their
# ratio, per method. Release build first:
#
#   cargo build --release -p teardown-harness
#   bash scripts/run-vs-tini.sh [-n PAIRS] [METHOD...]   # default: 200 pairs; default auto
#
# METHOD is a `--method` value, or `default` for no `--method` flag. Each run is a
# posix_spawn + waitpid timed with CLOCK_MONOTONIC (python3), so the commands pay
# the same measuring cost. TEARDOWN_BEFORE=path/to/another/teardown adds it to
# every round (before and after a change, in the same rounds). With a C compiler,
# every round also times scripts/ideal-pidns.c ("floor"): the least a pidns
# supervisor with a cgroup leaf can do, written in C, against the same tini.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=200
if [[ "${1:-}" == "-n" ]]; then pairs=$2; shift 2; fi
methods=("$@")
[[ ${#methods[@]} -eq 0 ]] && methods=(default)
bin=${TEARDOWN_BIN:-target/release/teardown}
tini=$(command -v tini) || { echo "run-vs-tini: tini is not installed" >&2; exit 2; }
[[ -x "$bin" ]] || { echo "run-vs-tini: $bin missing: cargo build --release -p teardown-harness" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Timed as installed: a copy, written the way `install` and `cargo install`
# write it. The linker's own output starts slower for as long as its pages stay
# cached (~10 more page faults a start, 5-7 % of a `run` here): on a file
# system with large folios (ext4 on Linux 6.18), the page cache of a file
# written in small pieces is in small folios, and each fault maps less of it.
install -m 0755 "$bin" "$tmp/teardown" || exit 2
bin=$tmp/teardown
before=${TEARDOWN_BEFORE:-}
if [[ -n "$before" ]]; then
    mkdir "$tmp/before" && install -m 0755 "$before" "$tmp/before/teardown" || exit 2
    before=$tmp/before/teardown
fi
floor=
if command -v "${CC:-cc}" >/dev/null 2>&1; then
    if "${CC:-cc}" -O2 -o "$tmp/ideal-pidns" scripts/ideal-pidns.c; then
        floor=$tmp/ideal-pidns
        # Its leaves go where `teardown run` puts them: under this process's own
        # cgroup2 cgroup (the mount from mountinfo, the path from /proc/self/cgroup).
        mnt=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
        own=$(sed -n 's/^0:://p' /proc/self/cgroup)
        [[ -n "$mnt" && -w "$mnt$own" ]] && export IDEAL_CGROUP_PARENT="$mnt$own"
    fi
fi
python3 - "$pairs" "$bin" "$tini" "$before" "$floor" "${methods[@]}" <<'PY'
import os, random, statistics, sys, time

shuffle = random.Random(15)

pairs, td, tini, before, floor, methods = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
true = "/bin/true"
# tini warns on stderr that it is not PID 1 nor a subreaper: both run with stderr at /dev/null.
QUIET = [(os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]

cpu = {}

def once(argv):
    t = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=QUIET)
    _, st, ru = os.wait4(pid, 0)
    dt = time.perf_counter_ns() - t
    if os.waitstatus_to_exitcode(st) != 0:
        sys.exit(f"run-vs-tini: {' '.join(argv)} exited {os.waitstatus_to_exitcode(st)}")
    # CPU of the process and of every descendant it (or they) reaped: the whole tree.
    cpu.setdefault(argv[0] + " ".join(argv[1:4]), []).append((ru.ru_utime + ru.ru_stime) * 1e6)
    return dt / 1e3

print(f"{pairs} rounds each, median wall time (posix_spawn to waitpid), {os.uname().release}")
for m in methods:
    flag = [] if m == "default" else ["--method", m]
    cmds = {"teardown run": [td, "run"] + flag + ["--", true], "tini": [tini, "--", true]}
    if before:
        cmds["before"] = [before, "run"] + flag + ["--", true]
    if floor:
        cmds["floor"] = [floor, true]
    names = list(cmds)
    for _ in range(5):  # warm the page cache
        for n in names:
            once(cmds[n])
    t = {n: [] for n in names}
    order = list(names)
    for i in range(pairs):
        # A fresh order every round: a fixed rotation keeps who-follows-whom, and
        # what ran just before (its cache, its CPU) biased the one after it.
        shuffle.shuffle(order)
        for n in order:
            t[n].append(once(cmds[n]))
    med = {n: statistics.median(v) for n, v in t.items()}
    c = {n: statistics.median(cpu.pop(cmds[n][0] + " ".join(cmds[n][1:4]))) for n in names}
    ratios = [a / b for a, b in zip(t["teardown run"], t["tini"])]
    line = (f"{m:>12}: teardown run {med['teardown run']:6.0f} µs  tini {med['tini']:6.0f} µs"
            f"  ratio {med['teardown run'] / med['tini']:4.2f}×"
            f" (median of round ratios {statistics.median(ratios):.2f}×)")
    if before:
        line += f"  |  before {med['before']:6.0f} µs  ratio {med['before'] / med['tini']:4.2f}×"
    if floor:
        line += f"  |  floor {med['floor']:6.0f} µs  ratio {med['floor'] / med['tini']:4.2f}×"
    line += "\n" + " " * 14 + "CPU (user+sys, whole tree): " + "  ".join(
        f"{n} {c[n]:5.0f} µs" for n in names) + f"  ratio {c['teardown run'] / c['tini']:4.2f}×"
    print(line)
PY
