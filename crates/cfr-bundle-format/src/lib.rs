//! Reading, writing, sealing and verifying cfr evidence bundles.
//!
//! A bundle (`evidence.cfr`, format `cfr-bundle/1`) is a strict POSIX
//! ustar archive holding a log of events (CBOR, zstd), the contract, the
//! schemas, the signatures and, optionally, the analyzer and its verdict.
//!
//! - [`seal::seal`] writes one from events and a contract;
//! - [`verify::verify`] runs every check of DESIGN.md section 8;
//! - [`bundle::Bundle`] opens one (unverified) for inspection and lazy
//!   iteration over its events;
//! - [`import`] reads and writes the JSON Lines event format;
//! - [`render`] prints verification reports as text and JSON, and
//!   [`html`] as a self-contained HTML page.
#![deny(missing_docs)]

pub mod bundle;
pub mod cose;
pub mod html;
pub mod import;
pub mod layout;
pub mod manifest;
pub mod readme;
pub mod render;
pub mod sandbox;
pub mod schemas;
pub mod seal;
pub mod tar;
pub mod verify;

/// This tool's name and version, as recorded in manifests.
pub const TOOL: &str = concat!("cfr-bundle/", env!("CARGO_PKG_VERSION"));
