#!/usr/bin/env bash
# Regenerates the storage-month sample from the deterministic workload
# generator (3000 events, seed 2026, sample keys): the contract, both
# parties' signatures of it, and the events, every party's in signed
# submissions of at most 100 consecutive events.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet -p cfr-workload -p cfr-bundle
gen=${CARGO_TARGET_DIR:-target}/debug/cfr-workload
bin=${CARGO_TARGET_DIR:-target}/debug/cfr-bundle
s=samples/storage-month
"$gen" contract "$s/keys" > "$s/contract.toml"
"$gen" events 3000 2026 "$s/keys" --submissions 100 > "$s/events.jsonl"
for role in provider user; do
	"$bin" contract sign "$s/contract.toml" --key "$s/keys/$role.key" --role "$role" \
		-o "$s/contract.$role.sig"
done
echo "regenerated $s/contract.toml, contract.{provider,user}.sig and events.jsonl; run scripts/sample.sh to seal"
