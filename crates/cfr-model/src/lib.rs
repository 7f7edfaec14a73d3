//! The cfr data model: events and values, strict canonical CBOR, exact
//! time and percentages, digests, keys and signatures.
//!
//! ```
//! use cfr_model::{Attrs, Event, Value};
//!
//! let mut attrs = Attrs::new();
//! attrs.insert("id", Value::Text("r-17".into()));
//! let event = Event {
//!     seq: 0,
//!     time: cfr_model::time::parse_rfc3339("2026-03-02T10:00:00.25Z")?,
//!     kind: "request".into(),
//!     actor: "user".into(),
//!     attrs,
//!     sig: None,
//! };
//! let bytes = event.encode();
//! assert_eq!(Event::from_cbor(&bytes)?, event);
//! println!("leaf hash {}", cfr_model::Digest::leaf(&bytes));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every structure cfr hashes or signs is canonical CBOR (RFC 8949 section
//! 4.2.1); [`cbor`] writes it and rejects anything else. Times are integer
//! nanoseconds since the Unix epoch and percentages integer parts per
//! million ([`time`]): there is no floating point in cfr's judgements.
#![deny(missing_docs)]

pub mod cbor;
pub mod event;
pub mod keys;
pub mod party;
pub mod time;

pub use event::{Attrs, Event, EventReader, EventSeq, Value, ValueType};
pub use party::Party;

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest(Sha256::digest(data).into())
    }

    /// The RFC 9162 leaf hash `SHA-256(0x00 || data)`.
    pub fn leaf(data: &[u8]) -> Digest {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(data);
        Digest(h.finalize().into())
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Digest> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}
