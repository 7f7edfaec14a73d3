//! Renderings of cfr verification reports and verdicts for people and
//! programs: [`render`] gives the JSON document of `verify --json`, the
//! text summary of `verify` and the text of a verdict; [`html`] the
//! self-contained HTML page of `report`; [`format`](mod@format) the wording of service
//! levels and durations that both share.
//!
//! Every function here is pure: the same report gives the same bytes.
#![deny(missing_docs)]

pub mod format;
pub mod html;
pub mod render;

/// Lowercase hex of bytes (digests and keys in reports and messages).
pub(crate) fn hex(b: &[u8]) -> String {
    hex::encode(b)
}
