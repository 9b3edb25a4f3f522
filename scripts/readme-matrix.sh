#!/usr/bin/env bash
# Regenerates the matrix in README.md (between the matrix:begin and matrix:end
# markers) with the command the README names, from a release build:
#
#   teardown matrix --peers --random 4 --seed 1 --format markdown
#
# Refuses (and leaves README.md as it is) if any cell is not the expected verdict.
# `cargo test` checks the result against the catalog (harness/tests/matrix/readme.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --release -p teardown-harness
out=$(mktemp)
trap 'rm -f "$out" "$out.readme"' EXIT
status=0
target/release/teardown matrix --peers --random 4 --seed 1 --format markdown >"$out" || status=$?
if [[ $status -ne 0 ]]; then
    echo "readme-matrix: the matrix exited $status (unexpected verdicts); README.md unchanged:" >&2
    grep -E "\*\*[a-z-]+!|unexpected|^  [a-z]+:" "$out" >&2 || true
    exit "$status"
fi
awk -v gen="$out" '
    /<!-- matrix:begin/ { print; while ((getline line < gen) > 0) print line; skip = 1; next }
    /<!-- matrix:end -->/ { skip = 0 }
    !skip
' README.md >"$out.readme"
mv "$out.readme" README.md
echo "readme-matrix: README.md updated ($(grep -c '^| `' "$out") trees); review with git diff README.md"
