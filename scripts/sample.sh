#!/usr/bin/env bash
# Seals the storage-month sample (events in signed submissions, the contract
# signed by both parties) and verifies it under the sample's trust policy.
# Usage: scripts/sample.sh   (from anywhere; writes samples/storage-month/evidence.cfr)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet --bin cfr-bundle
bin=${CARGO_TARGET_DIR:-target}/debug/cfr-bundle
s=samples/storage-month
"$bin" seal "$s/events.jsonl" --contract "$s/contract.toml" \
  --contract-sig "$s/contract.provider.sig" --contract-sig "$s/contract.user.sig" \
  --key "$s/keys/recorder.key" -o "$s/evidence.cfr.new"
mv "$s/evidence.cfr.new" "$s/evidence.cfr"
"$bin" verify "$s/evidence.cfr" --trust "$s/trust.toml"
