#!/bin/bash -eu
# Builds teardown's in-process fuzz targets into $OUT, for ClusterFuzzLite and
# OSS-Fuzz, which run it in gcr.io/oss-fuzz-base/base-builder-rust (nightly Rust,
# cargo-fuzz on PATH, SANITIZER and RUSTFLAGS set by the image), and on any
# machine with stable Rust, as CI does (.ci/run):
#
#   mkdir -p /tmp/src /tmp/out && ln -sfn "$PWD" /tmp/src/teardown
#   SRC=/tmp/src OUT=/tmp/out bash .clusterfuzzlite/build.sh
#
# Only targets that never fork go to $OUT: libFuzzer runs them in its own
# process, thousands of inputs a second. `trial` forks real process trees and
# is run here instead (fuzz/smoke.sh, fuzz/README.md).
#
#   SRC            a folder that holds the checkout as teardown/ (required)
#   OUT            where the fuzzers go (required)
#   SANITIZER      address (the default), none, or what the image sets
#   FUZZ_TARGET_DIR  cargo's target folder (default: fuzz/target of the checkout;
#                  CI keeps this build apart from fuzz/smoke.sh's)
set -euo pipefail

: "${SRC:?set SRC to a folder that holds the checkout as teardown/}"
: "${OUT:?set OUT to the folder the fuzzers are written to}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
project=$(cd "$SRC/teardown" 2>/dev/null && pwd) || project="$SRC/teardown"
if [[ ! -f "$project/fuzz/Cargo.toml" ]]; then
    echo "build.sh: $project/fuzz/Cargo.toml not found: SRC must hold the checkout as teardown/" >&2
    exit 2
fi
targets=(spec_text spec_limits oracle)

# cargo-fuzz's --sanitizer. The image's coverage build goes through its cargo
# wrapper, which builds the fuzz targets itself; Rust has no UBSan or MSan
# without rebuilding std, so those build uninstrumented.
case "${SANITIZER:-address}" in
    address) sanitizer=address ;;
    none | coverage | undefined | memory | introspector) sanitizer=none ;;
    *)
        echo "build.sh: unknown SANITIZER=$SANITIZER (expected address or none)" >&2
        exit 2
        ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "build.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
# A sanitizer is a nightly flag; stable Rust takes it with RUSTC_BOOTSTRAP.
if [[ $sanitizer != none ]] && ! rustc -V | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

cd "$project/fuzz"
dir_args=()
if [[ -n "${FUZZ_TARGET_DIR:-}" ]]; then
    dir_args=(--target-dir "$FUZZ_TARGET_DIR")
fi
# The triple cargo-fuzz builds for by default, and the one the image's cargo
# wrapper copies coverage builds to.
triple=x86_64-unknown-linux-gnu
for target in "${targets[@]}"; do
    cargo fuzz build -O --debug-assertions --sanitizer "$sanitizer" "${dir_args[@]}" "$target"
done
bin_dir="${FUZZ_TARGET_DIR:-$project/fuzz/target}/$triple/release"

zip_dir() { # zip_dir ZIP DIR: every file of DIR, flat
    local zip=$1 dir=$2
    rm -f "$zip"
    if command -v zip >/dev/null 2>&1; then
        (cd "$dir" && zip -qj "$zip" ./*)
    else
        python3 -c 'import sys, zipfile, pathlib
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for p in sorted(pathlib.Path(sys.argv[2]).iterdir()):
        if p.is_file(): z.write(p, p.name)' "$zip" "$dir"
    fi
}

for target in "${targets[@]}"; do
    cp "$bin_dir/$target" "$OUT/"
    # A seed corpus: the committed seeds for the parser; any corpus a local
    # run left (fuzz/corpus/TARGET, git-ignored) for the others.
    seeds="$project/fuzz/corpus/$target"
    [[ $target == spec_text ]] && seeds="$project/fuzz/corpus/seed"
    if [[ -d $seeds ]] && [[ -n "$(ls -A "$seeds")" ]]; then
        zip_dir "$OUT/${target}_seed_corpus.zip" "$seeds"
    fi
done
cp "$project/fuzz/spec_text.dict" "$OUT/spec_text.dict"

echo "build.sh: fuzzers in $OUT (sanitizer $sanitizer):"
for target in "${targets[@]}"; do
    echo "  $target"
done
