//! The analyzer module this release ships: the committed
//! `crates/cfr-analyzer/analyzer.wasm`, built from `crates/cfr-rules` by
//! `scripts/build-analyzer.sh` (CI checks it is current).

/// The shipped analyzer module.
pub fn shipped() -> Option<&'static [u8]> {
    Some(include_bytes!("../crates/cfr-analyzer/analyzer.wasm"))
}

/// SHA-256 of the shipped analyzer.
pub fn shipped_digest() -> Option<[u8; 32]> {
    use sha2::Digest as _;
    shipped().map(|m| sha2::Sha256::digest(m).into())
}
