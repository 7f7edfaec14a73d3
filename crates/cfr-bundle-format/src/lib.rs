//! cfr evidence bundles as files: reading, writing and sealing them.
//!
//! A bundle (`evidence.cfr`, format `cfr-bundle/1`) is a strict POSIX
//! ustar archive holding a log of events (CBOR, zstd), the contract, the
//! schemas, the signatures and, optionally, the analyzer and its verdict.
//!
//! - [`seal::seal`] writes one from events and a contract, judging them
//!   with the native rule engine (an analyzer is embedded, not run: this
//!   crate links no sandbox; [`seal::seal_judged`] takes a verdict from a
//!   [`feed::Worker`], which `cfr_verify::seal::seal` starts in the
//!   sandbox);
//! - [`bundle::Bundle`] opens one (unverified) for inspection and lazy
//!   iteration over its events;
//! - [`tar`] is the strict ustar codec, [`manifest`] the signed member
//!   list, [`cose`] the COSE_Sign1 signatures and [`layout`] the member
//!   names and order;
//! - [`import`] reads and writes the JSON Lines event format (for the
//!   seal path and the recorder's ingest alike);
//! - [`submission`] signs, verifies and walks the signed submissions;
//!   its duplicate-id check, and the recorder's retry index, keep their
//!   keys in [`disk_map::DiskMap`], a hash table in a temporary file.
//!
//! What a bundle proves is decided by `cfr-verify` (verification, the
//! eight checks, excerpts and event proofs, with a guide for forensic
//! tools); `cfr-report` renders the result as text, JSON and HTML.
//! Nothing this crate returns is verified.
#![deny(missing_docs)]

pub mod bundle;
pub mod cose;
pub mod disk_map;
pub mod feed;
pub mod import;
pub mod layout;
pub mod manifest;
pub mod readme;
pub mod receipt;
pub mod schemas;
pub mod seal;
pub mod submission;
pub mod tar;
pub mod words;

pub use cfr_contract;
pub use cfr_merkle;
pub use cfr_model;
pub use cfr_rules;

/// Lowercase hex of bytes (digests and keys in reports and messages).
pub(crate) fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// This tool's name and version, as recorded in manifests.
pub const TOOL: &str = concat!("cfr-bundle/", env!("CARGO_PKG_VERSION"));
