#!/usr/bin/env bash
# Rebuilds the cfr analyzer (crates/cfr-analyzer) for wasm32-unknown-unknown
# and installs it as crates/cfr-analyzer/analyzer.wasm, the module `seal`
# embeds by default.
#
#   scripts/build-analyzer.sh           build and replace analyzer.wasm
#   scripts/build-analyzer.sh --check   build in a fresh temporary directory and
#                                       exit 1 unless the committed analyzer.wasm
#                                       is byte-identical (CI runs this)
#
# The toolchain is Debian's, so that it needs no rustup target and is the
# same on every machine: rustc-web + cargo-web (Rust 1.96), rust-web-src
# (std's sources, for -Zbuild-std) and lld-22 (the linker behind Debian's
# /usr/bin/rust-lld). They are installed with apt-get when missing. The
# build is reproducible: the same bytes from any checkout directory, because
# it runs in a fixed staging directory (/tmp/cfr-analyzer-build) and every
# absolute path is remapped (checked at the end).
#
# Exit status: 0 ok (or current), 1 committed file differs, 2 cannot build.
set -euo pipefail

mode=build
case "${1-}" in
"") ;;
--check) mode=check ;;
-h | --help)
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

die() {
	echo "build-analyzer: $*" >&2
	exit 2
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
crate="$root/crates/cfr-analyzer"
committed="$crate/analyzer.wasm"

# --- the Debian toolchain -----------------------------------------------------
packages=(rustc-web cargo-web rust-web-src lld-22)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "build-analyzer: installing ${missing[*]}" >&2
	sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	"${sudo[@]}" apt-get update -q >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}" >&2 ||
		die "cannot install ${missing[*]}"
fi

rustc=/usr/bin/rustc
cargo=/usr/bin/cargo
linker=/usr/bin/rust-lld # rust-web-llvm's link to lld-22
sysroot=$("$rustc" --print sysroot)
std_src="$sysroot/lib/rustlib/src/rust"
[[ -x $linker ]] || die "$linker missing (package lld-22)"
[[ -f $std_src/library/Cargo.lock ]] || die "std sources missing in $std_src (package rust-web-src)"

# --- build -----------------------------------------------------------------
if [[ $mode == check ]]; then
	target=$(mktemp -d "${TMPDIR:-/tmp}/cfr-analyzer.XXXXXX")
	trap 'rm -rf "$target"' EXIT
	locked=(--locked)
else
	target="$root/target/cfr-analyzer-wasm"
	locked=()
fi
cargo_home=${CARGO_HOME:-$HOME/.cargo}

# Cargo hashes the absolute path of a path dependency that lies outside the
# building workspace (cfr-model, cfr-contract, cfr-rules lie outside
# crates/cfr-analyzer) into its crate metadata, which changes symbol hashes
# and hence code layout: building in place would give different bytes in
# every checkout directory. So the sources are copied to a fixed directory
# and built there (one build at a time: the directory is locked).
stage=/tmp/cfr-analyzer-build
exec 9>"$stage.lock"
flock 9 || die "cannot lock $stage.lock"
rm -rf "$stage"
mkdir -p "$stage/crates"
cp "$root/Cargo.toml" "$stage/"
for dir in "$root"/crates/*/; do
	name=$(basename "$dir")
	mkdir -p "$stage/crates/$name"
	tar -C "$dir" --exclude=./target --exclude=./analyzer.wasm -cf - . | tar -C "$stage/crates/$name" -xf -
done

# rustc applies the last matching remap, so the more specific paths
# (the target directory may lie inside the checkout) come last.
sep=$'\x1f'
flags=(
	"--remap-path-prefix=$cargo_home=/cargo"
	"--remap-path-prefix=$std_src=/rustc/src"
	"--remap-path-prefix=$stage=/cfr"
	"--remap-path-prefix=$target=/target"
)
encoded=$(
	IFS=$sep
	echo "${flags[*]}"
)

echo "build-analyzer: $("$rustc" --version), $("$linker" -flavor wasm --version)" >&2
(
	cd "$stage/crates/cfr-analyzer"
	env -u RUSTFLAGS -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER \
		-u CARGO_BUILD_RUSTFLAGS -u CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS \
		RUSTC="$rustc" RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
		CARGO_TARGET_DIR="$target" CARGO_INCREMENTAL=0 \
		CARGO_ENCODED_RUSTFLAGS="$encoded" \
		CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$linker" \
		"$cargo" build "${locked[@]}" --release --target wasm32-unknown-unknown \
		-Zbuild-std=std,panic_abort
) || die "cargo build failed"

built="$target/wasm32-unknown-unknown/release/cfr_analyzer.wasm"
[[ -f $built ]] || die "no module at $built"

# No absolute path of this machine may leak into the module.
for leak in "$root" "$stage" "$cargo_home" "$std_src" "$target" "$HOME"; do
	if grep -qaF -- "$leak" "$built"; then
		die "the module contains the local path $leak: not reproducible"
	fi
done

size=$(wc -c <"$built")
digest=$(sha256sum "$built" | cut -d' ' -f1)
if [[ $mode == check ]]; then
	if cmp -s "$built" "$committed"; then
		echo "build-analyzer: $committed is current ($size bytes, sha256 $digest)"
		exit 0
	fi
	echo "build-analyzer: $committed is NOT current: a fresh build gives $size bytes, sha256 $digest;" >&2
	echo "build-analyzer: run scripts/build-analyzer.sh and commit the result" >&2
	exit 1
fi
# The build may have updated the guest's lock file (new dependencies).
cmp -s "$stage/crates/cfr-analyzer/Cargo.lock" "$crate/Cargo.lock" ||
	cp "$stage/crates/cfr-analyzer/Cargo.lock" "$crate/Cargo.lock"
cp "$built" "$committed.tmp"
mv "$committed.tmp" "$committed"
echo "build-analyzer: wrote $committed ($size bytes, sha256 $digest)"
