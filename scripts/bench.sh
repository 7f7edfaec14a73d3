#!/usr/bin/env bash
# The benchmark of design section 11 in one run (a benchmark, not a test:
# nothing here asserts a time, and CI does not run it). Builds in release,
# generates the N-event workload once (default 1,000,000 events), then
# measures, R times each (default 3),
# and prints medians as a Markdown table:
#
# - seal (JSON Lines -> bundle, embedding and running the analyzer) and
#   verify (all checks, analyzer replay in the sandbox), events/s and
#   peak RSS (/usr/bin/time -v; Debian: `apt-get install time`);
# - the floors of the same run: `zstd -dc | sha256sum` over the bundle's
#   event members, strict Ed25519 verifications/s on every core (the
#   verification of the submissions' signatures cannot go below
#   submissions / that rate), SHA-256 on one core (`sha2` as cfr links it,
#   `openssl speed -evp sha256`, `sha256sum`), fsync/s of the disk;
# - WASM / native replay on the same chunks (examples/replay_bench.rs);
# - the recorder: appends/s and p50/p99 at 1, 8 and 64 clients with
#   signed submissions of 100 and of 1 event(s)
#   (crates/cfr-recorder/examples/bench.rs).
#
# The workload (CFR_BENCH_WORKLOAD): `batched` (the default, the design's
# condition "submissions of 100 events": every party's client sends its
# events 100 at a time, `cfr-workload events N 7 --submissions 100
# --batched`) or `runs` (each maximal run of one party's consecutive
# events is a submission, cut at 100: about 1.5 events each, since
# requests and answers alternate; `--submissions 100`).
#
# Usage: scripts/bench.sh [N] [R] [RECORDER_SECONDS]
# Env: CFR_BENCH_DIR (work dir, default /tmp/cfr-bench; the workload is
# kept there and reused when N and the workload match), CFR_BENCH_BASELINE (an older
# cfr-bundle binary: its seal and verify are timed too, in the same run),
# CFR_BENCH_BASELINE_RECORDER (an older recorder benchmark binary, run
# after this one), CFR_BENCH_KEEP=1 keeps the work dir, CFR_BENCH_RECORDER=0 skips the
# recorder.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
R=${2:-3}
SECS=${3:-3}
W=${CFR_BENCH_DIR:-/tmp/cfr-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
command -v zstd >/dev/null || { echo "needs zstd (apt-get install zstd)" >&2; exit 2; }

cargo build --release --locked --quiet -p cfr-bundle -p cfr-workload --bins \
	--example replay_bench --example hash_bench
cargo build --release --locked --quiet -p cfr-recorder --example bench
rel=$CARGO_TARGET_DIR/release
bin=$rel/cfr-bundle
gen=$rel/cfr-workload
mkdir -p "$W/keys"
[ "${CFR_BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT

# The workload, generated once per N and kind.
mode=${CFR_BENCH_WORKLOAD:-batched}
case $mode in
batched) genargs=(--submissions 100 --batched) ;;
runs) genargs=(--submissions 100) ;;
*) echo "CFR_BENCH_WORKLOAD is batched or runs, not $mode" >&2; exit 2 ;;
esac
if [ "$(cat "$W/n" 2>/dev/null)" != "$N $mode" ]; then
	"$gen" contract 7 >"$W/contract.toml"
	"$gen" keys 7 "$W/keys"
	"$gen" events "$N" 7 "${genargs[@]}" >"$W/events.jsonl"
	echo "$N $mode" >"$W/n"
fi
subs=$(grep -c '^{"submission"' "$W/events.jsonl" || true)

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timed LABEL CMD...: R runs; sets T[LABEL] (median s) and M[LABEL] (median peak RSS, KiB).
declare -A T M
timed() {
	local label=$1 ts=() ms=() i t0 t1
	shift
	for i in $(seq "$R"); do
		t0=$(date +%s.%N)
		/usr/bin/time -v "$@" >/dev/null 2>"$W/time.txt" || { cat "$W/time.txt" >&2; exit 1; }
		t1=$(date +%s.%N)
		ts+=("$(echo "$t1 - $t0" | bc -l)")
		ms+=("$(awk '/Maximum resident set size/ {print $6}' "$W/time.txt")")
	done
	T[$label]=$(printf '%s\n' "${ts[@]}" | median)
	M[$label]=$(printf '%s\n' "${ms[@]}" | median)
}
sealargs=("$W/events.jsonl" --contract "$W/contract.toml" --key "$W/keys/recorder.key")
timed seal "$bin" seal "${sealargs[@]}" -o "$W/e.cfr"
timed verify "$bin" verify "$W/e.cfr"
timed verify-native "$bin" verify "$W/e.cfr" --native
if [ -n "${CFR_BENCH_BASELINE:-}" ]; then
	timed seal-baseline "$CFR_BENCH_BASELINE" seal "${sealargs[@]}" -o "$W/b.cfr"
	timed verify-baseline "$CFR_BENCH_BASELINE" verify "$W/e.cfr"
	rm -f "$W/b.cfr"
fi
rm -rf "$W/x" && mkdir -p "$W/x" && tar -xf "$W/e.cfr" -C "$W/x"
floor() { cat "$W"/x/log/events-*.cbor.zst | zstd -dc | sha256sum >/dev/null; }
export -f floor
export W
timed floor bash -c floor
raw=$(cat "$W"/x/log/events-*.cbor.zst | zstd -dc | wc -c)

# WASM / native replay, same chunks, same process.
rb=$("$rel/examples/replay_bench" "$W/e.cfr" "$R")
wasm=$(echo "$rb" | awk '/^wasm replay/ {print $4}')
native=$(echo "$rb" | awk '/^native engine/ {print $4}')
bare_fuel=$(echo "$rb" | sed -n 's/^bare driver with fuel \([0-9.]*\) s.*/\1/p')
unmetered=$(echo "$rb" | sed -n 's/.*no fuel metering \([0-9.]*\) s.*/\1/p')
fuel=$(echo "$rb" | sed -n 's/^fuel consumed by the feeds [0-9]* (\([0-9]*\) per event)/\1/p')

# SHA-256 on one core: sha2 as linked, OpenSSL, coreutils.
sha2=$("$rel/examples/hash_bench" 256 "$R" | awk '{print $3}')
sha_ni=$(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)
ossl=$(openssl speed -seconds 2 -bytes 16384 -evp sha256 2>/dev/null | awk '/^sha256|^SHA256/ {v=$NF} END {sub("k","",v); printf "%.2f", v * 1000 / 1e9}')
head -c $((256 << 20)) "$W/events.jsonl" >"$W/sha.bin"
cat "$W/sha.bin" >/dev/null
s0=$(date +%s.%N)
sha256sum "$W/sha.bin" >/dev/null
s1=$(date +%s.%N)
coreutils=$(echo "$(stat -c %s "$W/sha.bin") / ($s1 - $s0) / 1000000000" | bc -l)
rm -f "$W/sha.bin"

# The recorder (its own floors: Ed25519 verifications/s on every core, fsync/s).
rec=""
if [ "${CFR_BENCH_RECORDER:-1}" != 0 ]; then
	rec=$(CFR_BENCH_DIR="$W" "$rel/examples/bench" "$SECS" 1 8 64)
	if [ -n "${CFR_BENCH_BASELINE_RECORDER:-}" ]; then
		rec_base=$(CFR_BENCH_DIR="$W" "$CFR_BENCH_BASELINE_RECORDER" "$SECS" 1 8 64)
	fi
fi
verifies=$(echo "$rec" | sed -n 's/.*floors (same run): \([0-9]*\) strict Ed25519.*/\1/p')
fsyncs=$(echo "$rec" | sed -n 's/.* \([0-9]*\) fsync\/s .*/\1/p')

rate() { echo "$N / ${T[$1]}" | bc -l | xargs printf '%.0f'; }
ratio() { echo "${T[$1]} / ${T[$2]}" | bc -l | xargs printf '%.2f'; }
mib() { echo "${M[$1]} / 1024" | bc | xargs printf '%d MiB'; }
echo "# cfr benchmark (scripts/bench.sh $N $R $SECS)"
echo
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty)'); $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load at the end:$(uptime | sed 's/.*load average://'); medians of $R runs"
echo "workload ($mode, cfr-workload events $N 7 ${genargs[*]}): $N events, $subs signed submissions of at most 100 events (mean $(echo "scale=2; $N / ($subs + (${subs} == 0))" | bc) events each); $(stat -c %s "$W/events.jsonl") B of JSON Lines; bundle $(stat -c %s "$W/e.cfr") B; $raw B of event CBOR"
echo
echo "| measure | median | events/s | peak RSS | floor (same run) | ratio |"
echo "|---|---|---|---|---|---|"
echo "| seal (analyzer embedded and run) | ${T[seal]} s | $(rate seal) | $(mib seal) | | |"
echo "| verify (all checks, WASM replay) | ${T[verify]} s | $(rate verify) | $(mib verify) | zstd -dc \| sha256sum ${T[floor]} s | $(ratio verify floor)x |"
echo "| verify --native | ${T[verify-native]} s | $(rate verify-native) | $(mib verify-native) | zstd -dc \| sha256sum ${T[floor]} s | $(ratio verify-native floor)x |"
if [ -n "${CFR_BENCH_BASELINE:-}" ]; then
	echo "| seal, baseline binary | ${T[seal-baseline]} s | $(rate seal-baseline) | $(mib seal-baseline) | this build's seal | $(ratio seal-baseline seal)x |"
	echo "| verify, baseline binary | ${T[verify-baseline]} s | $(rate verify-baseline) | $(mib verify-baseline) | this build's verify | $(ratio verify-baseline verify)x |"
fi
if [ -n "$verifies" ] && [ "$subs" -gt 0 ]; then
	sigfloor=$(echo "$subs / $verifies" | bc -l | xargs printf '%.2f')
	echo "| submission signatures alone | $sigfloor s | $(echo "$N / $sigfloor" | bc -l | xargs printf '%.0f') | | $verifies strict Ed25519 verifications/s on $(nproc) cores | verify / this: $(echo "${T[verify]} / $sigfloor" | bc -l | xargs printf '%.2f')x |"
fi
echo "| replay: WASM analyzer | $wasm s | $(echo "$N / $wasm" | bc -l | xargs printf '%.0f') | | native engine $native s | $(echo "$wasm / $native" | bc -l | xargs printf '%.2f')x |"
[ -z "$fuel" ] || echo "| replay: fuel per event (the guest's metered wasm instructions; the machine's load does not move it) | $fuel | | | | |"
if [ -n "$unmetered" ]; then
	echo "| replay: WASM without fuel metering (bare driver) | $unmetered s | | | same driver with fuel $bare_fuel s | metering costs $(echo "($bare_fuel / $unmetered - 1) * 100" | bc -l | xargs printf '%.0f')% |"
fi
echo "| SHA-256, one core (GB/s) | sha2 $sha2 | | | openssl $ossl; sha256sum $(printf '%.2f' "$coreutils"); CPU SHA extensions: $sha_ni | sha2 / openssl $(echo "$sha2 / $ossl" | bc -l | xargs printf '%.2f') |"
if [ -n "$rec" ]; then
	echo "| disk fsync floor | $fsyncs fsync/s | | | | |"
	echo
	echo "$rec" | sed -n '/^| events\/submission/,$p'
	if [ -n "${rec_base:-}" ]; then
		echo
		echo "Baseline recorder ($CFR_BENCH_BASELINE_RECORDER), same run:"
		echo
		echo "$rec_base" | sed -n '/^floors/p; /^| events\/submission/,$p'
	fi
fi
