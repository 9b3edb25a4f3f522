#!/usr/bin/env bash
# The workspace's shape, checked (issue 16): no module cycle, `unsafe` allowed
# only in core's sys/ and the harness's sys/, no source file over 500 lines.
# Run from anywhere; .ci/run runs it. Exits 1 and says what broke.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

python3 scripts/modgraph.py --check || status=1

# Every crate root denies unsafe code; only these modules may allow it back.
allowed='^(core/src/sys/|harness/src/sys(\.rs$|/))'
while IFS= read -r file; do
    if ! [[ $file =~ $allowed ]]; then
        echo "unsafe allowed outside core/src/sys and harness/src/sys: $file"
        status=1
    fi
done < <(git ls-files '*.rs' | grep -v '^fuzz/' | xargs grep -l 'allow(unsafe_code)' || true)
for root in core/src/lib.rs harness/src/lib.rs harness/src/main.rs scenarios/src/lib.rs benches/src/lib.rs; do
    grep -Eq '#!\[(deny|forbid)\(unsafe_code\)\]' "$root" ||
        { echo "$root does not deny unsafe code"; status=1; }
done

# No source file over 500 lines.
while read -r lines file; do
    if [[ $file != total && $lines -gt 500 ]]; then
        echo "$file has $lines lines (at most 500)"
        status=1
    fi
done < <(git ls-files '*.rs' | xargs wc -l)

[[ $status -eq 0 ]] && echo "arch-check: no module cycle, unsafe only in sys/, no file over 500 lines"
exit $status
