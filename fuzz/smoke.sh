#!/usr/bin/env bash
# Fuzz smoke for CI: build every target, run each for a short bounded time, fail
# on a crash. Called by .ci/run; runs from anywhere. About 2–3 minutes here,
# most of it the release build of the fuzz targets.
#
#   SMOKE_SECONDS   seconds per target (default 10)
#   TEARDOWN_BIN    the teardown binary the `trial` target runs (default: built
#                   here, target/debug/teardown of the workspace)
set -euo pipefail

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$fuzz_dir")
seconds=${SMOKE_SECONDS:-10}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [[ -z "${TEARDOWN_BIN:-}" ]]; then
    (cd "$root" && cargo build -q -p teardown-harness --bin teardown)
    export TEARDOWN_BIN="$root/target/debug/teardown"
fi

cd "$fuzz_dir"
cargo fuzz build --sanitizer none

status=0
for target in spec_text spec_limits oracle trial; do
    corpus="corpus/$target"
    mkdir -p "$corpus"
    extra=()
    [[ $target == spec_text ]] && extra+=(corpus/seed)
    echo "fuzz smoke: $target for ${seconds}s"
    if ! cargo fuzz run --sanitizer none "$target" "$corpus" "${extra[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>"$fuzz_dir/smoke-$target.log"; then
        echo "fuzz smoke: $target FAILED (crash artifact in fuzz/artifacts/$target/):"
        tail -n 40 "$fuzz_dir/smoke-$target.log"
        status=1
    else
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
            "$fuzz_dir/smoke-$target.log" | sed "s/^/  $target /" || true
    fi
done
exit "$status"
