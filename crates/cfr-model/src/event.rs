//! Events and attribute values, and their canonical CBOR form.
//!
//! An event is encoded as a canonical CBOR map (see `schemas/event.cddl`):
//!
//! ```text
//! { "seq": uint, ? "sig": bstr .size 64, "kind": tstr, "time": int,
//!   "actor": tstr, "attrs": { * tstr => int / tstr / bool / bstr } }
//! ```
//!
//! (keys in canonical order: shorter first, then bytewise). Attribute values
//! carry no type tag: `time` and `duration` attributes are integer
//! nanoseconds, and the contract's event specification says which is which.

use crate::cbor::{text_key_cmp, write_head, write_int, CborError, Decoder, Head};
use std::fmt;

/// The type of an attribute, as a contract declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    /// A signed 64-bit integer.
    Int,
    /// UTF-8 text.
    Text,
    /// `true` or `false`.
    Bool,
    /// Bytes (lowercase hex in JSON).
    Bytes,
    /// A point in time: ns since the epoch (RFC 3339 in JSON).
    Time,
    /// A duration in ns (`"250ms"` in JSON).
    Duration,
}

impl ValueType {
    /// The name used in contracts: `int`, `text`, `bool`, `bytes`, `time`, `duration`.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Int => "int",
            ValueType::Text => "text",
            ValueType::Bool => "bool",
            ValueType::Bytes => "bytes",
            ValueType::Time => "time",
            ValueType::Duration => "duration",
        }
    }

    /// Parses a contract type name.
    pub fn from_name(s: &str) -> Option<ValueType> {
        Some(match s {
            "int" => ValueType::Int,
            "text" => ValueType::Text,
            "bool" => ValueType::Bool,
            "bytes" => ValueType::Bytes,
            "time" => ValueType::Time,
            "duration" => ValueType::Duration,
            _ => return None,
        })
    }

    /// True when a value of this type is stored as a CBOR integer.
    pub fn is_integer(self) -> bool {
        matches!(self, ValueType::Int | ValueType::Time | ValueType::Duration)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An attribute value. Times and durations are [`Value::Int`] nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// An integer (also times and durations, in ns).
    Int(i64),
    /// Text.
    Text(String),
    /// A bool.
    Bool(bool),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Value {
    /// True when the value can be stored in an attribute of type `ty`.
    pub fn fits(&self, ty: ValueType) -> bool {
        matches!(
            (self, ty),
            (
                Value::Int(_),
                ValueType::Int | ValueType::Time | ValueType::Duration
            ) | (Value::Text(_), ValueType::Text)
                | (Value::Bool(_), ValueType::Bool)
                | (Value::Bytes(_), ValueType::Bytes)
        )
    }

    /// A short name of the value's CBOR type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Text(_) => "text",
            Value::Bool(_) => "bool",
            Value::Bytes(_) => "bytes",
        }
    }

    fn encode_into(&self, buf: &mut Vec<u8>) {
        match self {
            Value::Int(i) => write_int(buf, *i),
            Value::Text(t) => {
                write_head(buf, 3, t.len() as u64);
                buf.extend_from_slice(t.as_bytes());
            }
            Value::Bool(b) => buf.push(if *b { 0xf5 } else { 0xf4 }),
            Value::Bytes(b) => {
                write_head(buf, 2, b.len() as u64);
                buf.extend_from_slice(b);
            }
        }
    }
}

/// An event's attributes, kept in canonical key order (shorter names
/// first, then bytewise), names unique.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attrs(Vec<(String, Value)>);

impl Attrs {
    /// No attributes.
    pub fn new() -> Self {
        Attrs(Vec::new())
    }

    /// The value of attribute `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|(k, _)| text_key_cmp(k, name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Sets attribute `name`, replacing any earlier value.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.0.binary_search_by(|(k, _)| text_key_cmp(k, &name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Iterates `(name, value)` in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the canonical CBOR map of the attributes to `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        write_head(buf, 5, self.0.len() as u64);
        for (k, v) in &self.0 {
            write_head(buf, 3, k.len() as u64);
            buf.extend_from_slice(k.as_bytes());
            v.encode_into(buf);
        }
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Attrs, CborError> {
        let n = d.map_len()?;
        let mut out: Vec<(String, Value)> = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            let at = d.position();
            let k = d.text()?;
            if let Some((prev, _)) = out.last() {
                if text_key_cmp(prev, k) != std::cmp::Ordering::Less {
                    return Err(d.error_at(at, crate::cbor::CborErrorKind::MapKeyOrder));
                }
            }
            let vat = d.position();
            let v = match d.clone().head()? {
                Head::Uint(_) | Head::Nint(_) => Value::Int(d.int()?),
                Head::Text(_) => Value::Text(d.text()?.to_owned()),
                Head::Bytes(_) => Value::Bytes(d.bytes()?.to_vec()),
                Head::Bool(_) => Value::Bool(d.bool()?),
                _ => {
                    return Err(d.unexpected(
                        vat,
                        format!("attribute {k:?}: value must be int, text, bool or bytes"),
                    ))
                }
            };
            out.push((k.to_owned(), v));
        }
        Ok(Attrs(out))
    }
}

impl FromIterator<(String, Value)> for Attrs {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut a = Attrs::new();
        for (k, v) in iter {
            a.insert(k, v);
        }
        a
    }
}

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// The domain-separation string inside every event signing payload.
pub const EVENT_SIG_CONTEXT: &str = "cfr-event-sig/1";

/// A recorded event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Position in the log: 0, 1, 2, ... without gaps.
    pub seq: u64,
    /// Recorder time, ns since the Unix epoch, UTC.
    pub time: i64,
    /// The event kind (one of the contract's `[events.*]`).
    pub kind: String,
    /// Who emitted it: `provider`, `user`, `recorder` or an attestor id.
    pub actor: String,
    /// The attributes.
    pub attrs: Attrs,
    /// Ed25519 signature by `actor` over [`Event::signing_payload`].
    pub sig: Option<[u8; SIGNATURE_LEN]>,
}

impl Event {
    /// Appends the canonical CBOR encoding to `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        let n = if self.sig.is_some() { 6 } else { 5 };
        write_head(buf, 5, n);
        buf.extend_from_slice(b"\x63seq");
        write_head(buf, 0, self.seq);
        if let Some(sig) = &self.sig {
            buf.extend_from_slice(b"\x63sig");
            write_head(buf, 2, SIGNATURE_LEN as u64);
            buf.extend_from_slice(sig);
        }
        buf.extend_from_slice(b"\x64kind");
        write_head(buf, 3, self.kind.len() as u64);
        buf.extend_from_slice(self.kind.as_bytes());
        buf.extend_from_slice(b"\x64time");
        write_int(buf, self.time);
        buf.extend_from_slice(b"\x65actor");
        write_head(buf, 3, self.actor.len() as u64);
        buf.extend_from_slice(self.actor.as_bytes());
        buf.extend_from_slice(b"\x65attrs");
        self.attrs.encode_into(buf);
    }

    /// The canonical CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(128);
        self.encode_into(&mut buf);
        buf
    }

    /// Decodes one event from `d`, strictly: exactly the keys of the
    /// event schema, in canonical order, canonically encoded.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Event, CborError> {
        let start = d.position();
        let n = d.map_len()?;
        if n != 5 && n != 6 {
            return Err(d.unexpected(start, format!("event map has {n} entries, expected 5 or 6")));
        }
        let key = |d: &mut Decoder<'_>, want: &str| -> Result<(), CborError> {
            let at = d.position();
            let k = d.text()?;
            if k == want {
                Ok(())
            } else {
                Err(d.unexpected(at, format!("event key {k:?} where {want:?} was expected")))
            }
        };
        key(d, "seq")?;
        let seq = d.uint()?;
        let sig = if n == 6 {
            key(d, "sig")?;
            let at = d.position();
            let b = d.bytes()?;
            let arr: [u8; SIGNATURE_LEN] = b.try_into().map_err(|_| {
                d.unexpected(at, format!("signature is {} bytes, expected 64", b.len()))
            })?;
            Some(arr)
        } else {
            None
        };
        key(d, "kind")?;
        let kind = d.text()?.to_owned();
        key(d, "time")?;
        let time = d.int()?;
        key(d, "actor")?;
        let actor = d.text()?.to_owned();
        key(d, "attrs")?;
        let attrs = Attrs::decode(d)?;
        Ok(Event {
            seq,
            time,
            kind,
            actor,
            attrs,
            sig,
        })
    }

    /// Decodes a single event occupying all of `buf`.
    pub fn from_cbor(buf: &[u8]) -> Result<Event, CborError> {
        let mut d = Decoder::new(buf);
        let e = Event::decode(&mut d)?;
        d.finish()?;
        Ok(e)
    }

    /// The bytes an event signature covers: the canonical CBOR of
    ///
    /// ```text
    /// { "ctx": "cfr-event-sig/1", "kind": tstr, "actor": tstr,
    ///   "attrs": {...}, "contract": tstr }
    /// ```
    ///
    /// The recorder's time and seq are not signed: an emitting party does
    /// not know them when it signs; the recorder's signed checkpoint binds
    /// them. The contract id prevents replaying a signed event under
    /// another contract.
    pub fn signing_payload(&self, contract_id: &str) -> Vec<u8> {
        let mut buf = Vec::with_capacity(128);
        write_head(&mut buf, 5, 5);
        buf.extend_from_slice(b"\x63ctx");
        write_head(&mut buf, 3, EVENT_SIG_CONTEXT.len() as u64);
        buf.extend_from_slice(EVENT_SIG_CONTEXT.as_bytes());
        buf.extend_from_slice(b"\x64kind");
        write_head(&mut buf, 3, self.kind.len() as u64);
        buf.extend_from_slice(self.kind.as_bytes());
        buf.extend_from_slice(b"\x65actor");
        write_head(&mut buf, 3, self.actor.len() as u64);
        buf.extend_from_slice(self.actor.as_bytes());
        buf.extend_from_slice(b"\x65attrs");
        self.attrs.encode_into(&mut buf);
        buf.extend_from_slice(b"\x68contract");
        write_head(&mut buf, 3, contract_id.len() as u64);
        buf.extend_from_slice(contract_id.as_bytes());
        buf
    }
}

/// Iterates the events of an RFC 8742 CBOR sequence.
pub struct EventSeq<'a> {
    d: Decoder<'a>,
}

impl<'a> EventSeq<'a> {
    /// A reader over a CBOR sequence of events.
    pub fn new(buf: &'a [u8]) -> Self {
        EventSeq {
            d: Decoder::new(buf),
        }
    }

    /// Byte offset of the next event.
    pub fn position(&self) -> usize {
        self.d.position()
    }
}

impl Iterator for EventSeq<'_> {
    type Item = Result<(Event, std::ops::Range<usize>), CborError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.d.is_empty() {
            return None;
        }
        let start = self.d.position();
        let r = Event::decode(&mut self.d).map(|e| (e, start..self.d.position()));
        if r.is_err() {
            // Stop after the first error: the rest cannot be framed.
            self.d = Decoder::new(&[]);
        }
        Some(r)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cbor;

    fn sample() -> Event {
        let mut attrs = Attrs::new();
        attrs.insert("object", Value::Text("invoices/7.pdf".into()));
        attrs.insert("id", Value::Text("r-17".into()));
        attrs.insert("op", Value::Text("get".into()));
        attrs.insert("size", Value::Int(-3));
        attrs.insert("ok", Value::Bool(true));
        attrs.insert("digest", Value::Bytes(vec![0, 255]));
        Event {
            seq: 17,
            time: 1_772_445_600_250_000_000,
            kind: "request".into(),
            actor: "user".into(),
            attrs,
            sig: Some([7; 64]),
        }
    }

    #[test]
    fn roundtrip_is_canonical() {
        let e = sample();
        let bytes = e.encode();
        assert_eq!(Event::from_cbor(&bytes).unwrap(), e);
        // The generic strict decoder accepts it, so it is canonical, and
        // re-encoding the generic tree gives the same bytes.
        let generic = cbor::decode(&bytes).unwrap();
        assert_eq!(cbor::encode(&generic), bytes);
        let mut e2 = e.clone();
        e2.sig = None;
        let b2 = e2.encode();
        assert_eq!(cbor::encode(&cbor::decode(&b2).unwrap()), b2);
        assert_eq!(Event::from_cbor(&b2).unwrap(), e2);
        let p = e.signing_payload("c1");
        assert_eq!(cbor::encode(&cbor::decode(&p).unwrap()), p);
    }

    #[test]
    fn attrs_stay_in_canonical_order() {
        let e = sample();
        let names: Vec<_> = e.attrs.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["id", "ok", "op", "size", "digest", "object"]);
        assert_eq!(e.attrs.get("op"), Some(&Value::Text("get".into())));
        assert_eq!(e.attrs.get("nope"), None);
    }

    #[test]
    fn rejects_non_canonical_events() {
        let e = sample();
        let good = e.encode();
        // Re-encode seq 17 as a two-byte head (0x18 0x11): non-minimal.
        let mut bad = good.clone();
        let pos = bad.windows(4).position(|w| w == b"\x63seq").unwrap() + 4;
        assert_eq!(bad[pos], 17);
        bad.splice(pos..pos + 1, [0x18, 17]);
        assert!(Event::from_cbor(&bad).is_err());
        // Trailing bytes.
        let mut bad = good.clone();
        bad.push(0);
        assert!(Event::from_cbor(&bad).is_err());
        // Any truncation.
        for n in 0..good.len() {
            assert!(Event::from_cbor(&good[..n]).is_err());
        }
    }

    #[test]
    fn sequence_reader() {
        let mut buf = Vec::new();
        let mut e = sample();
        for i in 0..3 {
            e.seq = i;
            e.encode_into(&mut buf);
        }
        let seqs: Vec<u64> = EventSeq::new(&buf).map(|r| r.unwrap().0.seq).collect();
        assert_eq!(seqs, [0, 1, 2]);
        buf.push(0xff);
        assert!(EventSeq::new(&buf).last().unwrap().is_err());
    }

    proptest::proptest! {
        #[test]
        fn decode_garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            for r in EventSeq::new(&bytes) { let _ = r; }
        }

        #[test]
        fn flipped_bytes_never_decode_to_the_same_event(pos in 0usize..80, bit in 0u8..8) {
            let e = sample();
            let mut bytes = e.encode();
            let pos = pos % bytes.len();
            bytes[pos] ^= 1 << bit;
            if let Ok(d) = Event::from_cbor(&bytes) {
                proptest::prop_assert_ne!(d, e);
            }
        }
    }
}
