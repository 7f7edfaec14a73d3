#!/usr/bin/env bash
# What signed submissions cost verification: generates a month of N events
# (default 1,000,000), once without submissions and once with every party's
# events in signed submissions of at most B (default 100) consecutive
# events by one party, seals both with the shipped analyzer, and verifies
# each R times (default 3), printing the median events/s of each, the
# floor measured in the same run (decompressing the event chunks and
# hashing them: `zstd -dc | sha256sum`), and the ratios. A benchmark, not
# a test: nothing here asserts a time.
# Usage: scripts/bench-submissions.sh [N] [B] [R]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
B=${2:-100}
R=${3:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --quiet -p cfr-bundle -p cfr-workload
bin=$CARGO_TARGET_DIR/release/cfr-bundle
gen=$CARGO_TARGET_DIR/release/cfr-workload
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/keys"
"$gen" contract 7 >"$w/contract.toml"
"$gen" keys 7 "$w/keys"
"$gen" events "$N" 7 >"$w/plain.jsonl"
"$gen" events "$N" 7 --submissions "$B" >"$w/signed.jsonl"
subs=$(grep -c '^{"submission"' "$w/signed.jsonl")
for v in plain signed; do
	"$bin" seal "$w/$v.jsonl" --contract "$w/contract.toml" \
		--key "$w/keys/recorder.key" -o "$w/$v.cfr" >/dev/null
	mkdir -p "$w/x-$v"
	tar -xf "$w/$v.cfr" -C "$w/x-$v"
done
secs() { # command... -> wall seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floor() { cat "$1"/log/events-*.cbor.zst | zstd -dc | sha256sum >/dev/null; }
declare -A med
for v in plain signed; do
	med[$v]=$(for _ in $(seq "$R"); do secs "$bin" verify "$w/$v.cfr" --json; done | median)
	med[floor-$v]=$(for _ in $(seq "$R"); do secs floor "$w/x-$v"; done | median)
done
echo "N = $N events; $subs signed submissions of at most $B events (mean $(echo "scale=1; ($N - 0) / $subs" | bc -l) events each; request/response alternate parties)"
echo "machine: $(nproc) cores, $(uname -m); medians of $R runs"
for v in plain signed; do
	printf '%-7s verify %6.2f s = %9.0f events/s   floor %5.2f s   verify/floor %5.2fx\n' "$v" \
		"${med[$v]}" "$(echo "$N / ${med[$v]}" | bc -l)" "${med[floor-$v]}" \
		"$(echo "${med[$v]} / ${med[floor-$v]}" | bc -l)"
done
printf 'signed / plain verify time: %.2fx; bundle sizes %d and %d bytes\n' \
	"$(echo "${med[signed]} / ${med[plain]}" | bc -l)" "$(wc -c <"$w/plain.cfr")" "$(wc -c <"$w/signed.cfr")"
