#!/usr/bin/env bash
# Seals the storage-month sample and verifies it, pinning the sample keys.
# Usage: scripts/sample.sh   (from anywhere; writes samples/storage-month/evidence.cfr)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet --bin cfr-bundle
bin=${CARGO_TARGET_DIR:-target}/debug/cfr-bundle
s=samples/storage-month
"$bin" seal "$s/events.jsonl" --contract "$s/contract.toml" \
  --key "$s/keys/recorder.key" -o "$s/evidence.cfr.new"
mv "$s/evidence.cfr.new" "$s/evidence.cfr"
"$bin" verify "$s/evidence.cfr" \
  --recorder-key "$s/keys/recorder.pub" \
  --provider-key "$s/keys/provider.pub" \
  --user-key "$s/keys/user.pub"
