#!/usr/bin/env bash
# A user's quota flood must not make its log unsealable: generates a month
# of N events (default 1,000,000) of which F (default 100,000) are a flood
# of never-answered requests, seals it with the shipped analyzer, verifies
# it, and prints the verdict's size (bytes per event and per incident) and
# the peak RSS of each step. A check, not a timing benchmark.
# Usage: scripts/flood.sh [N] [F]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
F=${2:-100000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --quiet -p cfr-bundle -p cfr-workload
bin=$CARGO_TARGET_DIR/release/cfr-bundle
gen=$CARGO_TARGET_DIR/release/cfr-workload
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/keys"
"$gen" contract 7 >"$w/contract.toml"
"$gen" events "$N" 7 --flood "$F" >"$w/events.jsonl"
"$gen" keys 7 "$w/keys"

step() { # label, command...
	local label=$1
	shift
	local t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -v "$@" >"$w/out.txt" 2>"$w/time.txt" || {
		cat "$w/out.txt" "$w/time.txt"
		echo "flood: $label failed" >&2
		exit 1
	}
	t1=$(date +%s.%N)
	printf '%-22s %8.1f s  peak RSS %6d MiB\n' "$label" "$(echo "$t1 - $t0" | bc -l)" \
		$(($(awk '/Maximum resident set size/ {print $6}' "$w/time.txt") / 1024))
}

echo "N = $N events with a flood of $F never-answered requests"
step "seal (analyzer)" "$bin" seal "$w/events.jsonl" --contract "$w/contract.toml" \
	--key "$w/keys/recorder.key" -o "$w/e.cfr"
step "verify (replay)" "$bin" verify "$w/e.cfr" --json
mkdir -p "$w/x"
tar -xf "$w/e.cfr" -C "$w/x" verdict/verdict.cbor
python3 - "$w/out.txt" "$N" "$(wc -c <"$w/x/verdict/verdict.cbor")" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
n, size = int(sys.argv[2]), int(sys.argv[3])
incidents = report["verdict"]["incidents"]
excused = sum(1 for i in incidents if "excused_by" in i)
print(f"verdict: {len(incidents)} incidents, {excused} excused by another rule's incident")
print(f"verdict/verdict.cbor: {size} bytes; {size / n:.3f} bytes per event, {size / len(incidents):.2f} bytes per incident")
EOF
echo "bundle: $(wc -c <"$w/e.cfr") bytes"
