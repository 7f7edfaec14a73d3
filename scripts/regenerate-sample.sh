#!/usr/bin/env bash
# Regenerates the storage-month sample's contract and events from the
# deterministic workload generator (3000 events, seed 2026, sample keys).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet -p cfr-workload
gen=target/debug/cfr-workload
s=samples/storage-month
"$gen" contract "$s/keys" > "$s/contract.toml"
"$gen" events 3000 2026 "$s/keys" > "$s/events.jsonl"
echo "regenerated $s/contract.toml and $s/events.jsonl; run scripts/sample.sh to seal"
