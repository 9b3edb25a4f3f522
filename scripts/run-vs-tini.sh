#!/usr/bin/env bash
# `teardown run [--method M] -- /bin/true` against `tini -- /bin/true`: N paired
# runs (alternating which goes first), the median wall time of each and their
# ratio, per method. Release build first:
#
#   cargo build --release -p teardown-harness
#   bash scripts/run-vs-tini.sh [-n PAIRS] [METHOD...]   # default: 200 pairs; default auto
#
# METHOD is a `--method` value, or `default` for no `--method` flag. Each run is a
# posix_spawn + waitpid timed with CLOCK_MONOTONIC (python3), so the two commands
# pay the same measuring cost.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=200
if [[ "${1:-}" == "-n" ]]; then pairs=$2; shift 2; fi
methods=("$@")
[[ ${#methods[@]} -eq 0 ]] && methods=(default)
bin=${TEARDOWN_BIN:-target/release/teardown}
tini=$(command -v tini) || { echo "run-vs-tini: tini is not installed" >&2; exit 2; }
[[ -x "$bin" ]] || { echo "run-vs-tini: $bin missing: cargo build --release -p teardown-harness" >&2; exit 2; }
exec python3 - "$pairs" "$bin" "$tini" "${methods[@]}" <<'PY'
import os, statistics, sys, time

pairs, td, tini, methods = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
true = "/bin/true"

def once(argv):
    t = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, st = os.waitpid(pid, 0)
    dt = time.perf_counter_ns() - t
    if os.waitstatus_to_exitcode(st) != 0:
        sys.exit(f"run-vs-tini: {' '.join(argv)} exited {os.waitstatus_to_exitcode(st)}")
    return dt / 1e3

print(f"{pairs} pairs each, median wall time (posix_spawn to waitpid), {os.uname().release}")
for m in methods:
    ours = [td, "run"] + ([] if m == "default" else ["--method", m]) + ["--", true]
    theirs = [tini, "--", true]
    for _ in range(5):  # warm the page cache
        once(ours), once(theirs)
    a, b = [], []
    for i in range(pairs):
        if i % 2:
            b.append(once(theirs)); a.append(once(ours))
        else:
            a.append(once(ours)); b.append(once(theirs))
    ma, mb = statistics.median(a), statistics.median(b)
    ratios = sorted(x / y for x, y in zip(a, b))
    print(f"{m:>16}: teardown run {ma:8.0f} µs  tini {mb:6.0f} µs  ratio {ma / mb:5.2f}×"
          f"  (median of pair ratios {statistics.median(ratios):.2f}×)")
PY
