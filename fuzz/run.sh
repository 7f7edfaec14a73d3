#!/bin/sh
# Runs every cfr fuzz target for N seconds each (default 60), one at a time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Seeds: fuzz/seeds/<target>/ (regenerate with
# `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds`; those of
# tiles_parse, tile names and width-prefixed tiles and entry bundles, are
# written by hand) and, for
# contract_parse, samples/scenarios/*/contract.toml and the published SLAs
# of samples/contracts/*/contract.toml (witness_parse's seeds, a request
# body, a cosigned note and a witness's answer, were made with
# `cfr-bundle witness serve`, not gen_seeds; timestamp_parse's are the
# openssl ts replies of crates/cfr-timestamp/tests/data/). The working corpus is
# fuzz/corpus/<target>/ and crashes land in fuzz/artifacts/<target>/ (both
# gitignored). cargo-fuzz needs nightly features; on a stable toolchain this
# script sets RUSTC_BOOTSTRAP=1. Set SANITIZER=none if ASan does not work.
# Builds with debug assertions (-a) so integer overflow panics are caught.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-"cbor_decode jsonl_import bundle_open contract_parse checkpoint_parse cose_inspect segment_scan submission_parse submission_http receipt_parse witness_parse timestamp_parse tiles_parse verdict_parse"}

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-fuzz}
sanitizer=${SANITIZER:-address}

cd "$root"
cargo fuzz build -O -a --sanitizer "$sanitizer"

failed=""
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    cp -n "fuzz/seeds/$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
    if [ "$t" = timestamp_parse ]; then
        # Real replies of openssl ts (crates/cfr-timestamp/tests/data/make.sh).
        for f in crates/cfr-timestamp/tests/data/*.tsr; do
            cp -n "$f" "fuzz/corpus/$t/"
        done
    fi
    if [ "$t" = contract_parse ]; then
        for f in samples/scenarios/*/contract.toml samples/contracts/*/contract.toml; do
            cp -n "$f" "fuzz/corpus/$t/$(basename "$(dirname "$f")").toml"
        done
    fi
    echo "=== $t: ${secs}s"
    if ! cargo fuzz run -O -a --sanitizer "$sanitizer" "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1; then
        failed="$failed $t"
    fi
done

if [ -n "$failed" ]; then
    echo "crashes in:$failed (see fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "no crashes"
