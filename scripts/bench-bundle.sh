#!/usr/bin/env bash
# Benchmark (not a test): seal and verify a generated log of N events
# (default 1,000,000), next to the floor "zstd -dc | sha256sum" over the
# same event members, measured in the same run. Reports medians of R runs.
# Usage: scripts/bench-bundle.sh [N] [R]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
R=${2:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --quiet -p cfr-bundle -p cfr-workload
bin=$CARGO_TARGET_DIR/release/cfr-bundle
gen=$CARGO_TARGET_DIR/release/cfr-workload
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/keys"
"$gen" contract 7 > "$w/contract.toml"
"$gen" events "$N" 7 > "$w/events.jsonl"
# The seed-derived recorder key, written as PEM for the CLI.
"$gen" keys 7 "$w/keys"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
rss() { awk '/Maximum resident set size/ {print $6}' "$1"; }

run_timed() { # label, command...
  local label=$1; shift
  local times=() rsss=()
  for _ in $(seq "$R"); do
    local t0 t1
    t0=$(now)
    /usr/bin/time -v "$@" > /dev/null 2> "$w/time.txt" || { cat "$w/time.txt"; exit 1; }
    t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
    rsss+=("$(rss "$w/time.txt")")
  done
  local tm rm
  tm=$(printf '%s\n' "${times[@]}" | median)
  rm=$(printf '%s\n' "${rsss[@]}" | median)
  printf '%-34s median %8.3f s  %12.0f events/s  peak RSS %6d MiB\n' "$label" "$tm" "$(echo "$N / $tm" | bc -l)" $((rm / 1024))
  eval "T_${label//[^a-zA-Z0-9]/_}=$tm"
}

echo "N = $N events, $(wc -c < "$w/events.jsonl") bytes of JSON Lines; $(nproc) cores; medians of $R runs"
run_timed "seal (no analyzer)" "$bin" seal "$w/events.jsonl" --contract "$w/contract.toml" --key "$w/keys/recorder.key" --no-analyzer -o "$w/plain.cfr"
run_timed "seal (analyzer)" "$bin" seal "$w/events.jsonl" --contract "$w/contract.toml" --key "$w/keys/recorder.key" -o "$w/e.cfr"
run_timed "verify (analyzer replay)" "$bin" verify "$w/e.cfr"
run_timed "verify --native" "$bin" verify "$w/e.cfr" --native
mkdir -p "$w/x" && tar -xf "$w/e.cfr" -C "$w/x"
floor() { cat "$w"/x/log/events-*.cbor.zst | zstd -dc | sha256sum > /dev/null; }
export -f floor; export w
run_timed "floor: zstd -dc | sha256sum" bash -c floor
echo "bundle: $(wc -c < "$w/e.cfr") bytes, event members $(cat "$w"/x/log/events-*.cbor.zst | wc -c) bytes compressed"
echo "ratio verify/floor: $(echo "$T_verify__analyzer_replay_ / $T_floor__zstd__dc___sha256sum" | bc -l | cut -c1-5)x;" \
  "verify --native/floor: $(echo "$T_verify___native / $T_floor__zstd__dc___sha256sum" | bc -l | cut -c1-5)x"
# Excerpt: one incident (the first late or missing answer) of the same
# bundle. The excerpt verifies the bundle first, so its floor is verify.
n=$("$bin" verify "$w/e.cfr" --json | python3 -c '
import json, sys
v = json.load(sys.stdin)["verdict"]["incidents"]
print(next(k + 1 for k, i in enumerate(v) if i["kind"] in ("late_result", "no_result")))')
run_timed "excerpt (1 incident)" "$bin" excerpt "$w/e.cfr" --incident "$n" -o "$w/x.cfr"
run_timed "verify the excerpt" "$bin" verify "$w/x.cfr"
echo "excerpt: $(wc -c < "$w/x.cfr") bytes; ratio excerpt/verify: $(echo "$T_excerpt__1_incident_ / $T_verify__analyzer_replay_" | bc -l | cut -c1-5)x"
