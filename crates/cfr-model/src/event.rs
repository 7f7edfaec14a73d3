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

    /// Decodes a canonical attribute map into `self`, reusing the
    /// strings of its entries and of `spare` (entries kept for later
    /// events) instead of allocating. The map is valid at every step:
    /// only fully decoded entries are in it, so after an error it holds
    /// the entries decoded before the bad one.
    fn decode_into(
        &mut self,
        d: &mut Decoder<'_>,
        spare: &mut Vec<(String, Value)>,
    ) -> Result<(), CborError> {
        // Reversed, so that `pop` hands entry i the strings entry i had
        // in the previous event (its key is usually the same name).
        spare.extend(self.0.drain(..).rev());
        let n = d.map_len()?;
        for _ in 0..n {
            let at = d.position();
            let (mut key, mut value) = spare.pop().unwrap_or((String::new(), Value::Int(0)));
            d.text_into(&mut key)?;
            if let Some((prev, _)) = self.0.last() {
                if text_key_cmp(prev, &key) != std::cmp::Ordering::Less {
                    return Err(d.error_at(at, crate::cbor::CborErrorKind::MapKeyOrder));
                }
            }
            let vat = d.position();
            match d.clone().head()? {
                Head::Uint(_) | Head::Nint(_) => value = Value::Int(d.int()?),
                Head::Text(_) => match &mut value {
                    Value::Text(s) => d.text_into(s)?,
                    other => *other = Value::Text(d.text()?.to_owned()),
                },
                Head::Bytes(_) => {
                    let b = d.bytes()?;
                    match &mut value {
                        Value::Bytes(v) => b.clone_into(v),
                        other => *other = Value::Bytes(b.to_vec()),
                    }
                }
                Head::Bool(_) => value = Value::Bool(d.bool()?),
                _ => {
                    return Err(d.unexpected(
                        vat,
                        format!("attribute {key:?}: value must be int, text, bool or bytes"),
                    ))
                }
            }
            self.0.push((key, value));
        }
        Ok(())
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

// The event map's keys in canonical CBOR (a text head and the name).
const KEY_SEQ: &[u8; 4] = b"\x63seq";
const KEY_SIG: &[u8; 4] = b"\x63sig";
const KEY_KIND: &[u8; 5] = b"\x64kind";
const KEY_TIME: &[u8; 5] = b"\x64time";
const KEY_ACTOR: &[u8; 6] = b"\x65actor";
const KEY_ATTRS: &[u8; 6] = b"\x65attrs";

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
        buf.extend_from_slice(KEY_SEQ);
        write_head(buf, 0, self.seq);
        if let Some(sig) = &self.sig {
            buf.extend_from_slice(KEY_SIG);
            write_head(buf, 2, SIGNATURE_LEN as u64);
            buf.extend_from_slice(sig);
        }
        buf.extend_from_slice(KEY_KIND);
        write_head(buf, 3, self.kind.len() as u64);
        buf.extend_from_slice(self.kind.as_bytes());
        buf.extend_from_slice(KEY_TIME);
        write_int(buf, self.time);
        buf.extend_from_slice(KEY_ACTOR);
        write_head(buf, 3, self.actor.len() as u64);
        buf.extend_from_slice(self.actor.as_bytes());
        buf.extend_from_slice(KEY_ATTRS);
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
        let mut event = Event {
            seq: 0,
            time: 0,
            kind: String::new(),
            actor: String::new(),
            attrs: Attrs::new(),
            sig: None,
        };
        event.decode_into(d, &mut Vec::new())?;
        Ok(event)
    }

    /// [`Event::decode`] into `self`, reusing its strings (and those of
    /// `spare`) rather than allocating: see [`EventReader`]. After an
    /// error, `self` holds a mix of the old event and the new one.
    fn decode_into(
        &mut self,
        d: &mut Decoder<'_>,
        spare: &mut Vec<(String, Value)>,
    ) -> Result<(), CborError> {
        let start = d.position();
        let n = d.map_len()?;
        if n != 5 && n != 6 {
            return Err(d.unexpected(start, format!("event map has {n} entries, expected 5 or 6")));
        }
        // Each key is first matched as its canonical bytes (a text head
        // and the name): the usual case, and exactly what reading the
        // text and comparing it would accept. Anything else is read as
        // text, to name what is wrong.
        fn key<const N: usize>(
            d: &mut Decoder<'_>,
            canonical: &[u8; N],
            want: &str,
        ) -> Result<(), CborError> {
            if d.skip_exact(canonical) {
                return Ok(());
            }
            let at = d.position();
            let k = d.text()?;
            if k == want {
                Ok(())
            } else {
                Err(d.unexpected(at, format!("event key {k:?} where {want:?} was expected")))
            }
        }
        key(d, KEY_SEQ, "seq")?;
        self.seq = d.uint()?;
        self.sig = if n == 6 {
            key(d, KEY_SIG, "sig")?;
            let at = d.position();
            let b = d.bytes()?;
            let arr: [u8; SIGNATURE_LEN] = b.try_into().map_err(|_| {
                d.unexpected(at, format!("signature is {} bytes, expected 64", b.len()))
            })?;
            Some(arr)
        } else {
            None
        };
        key(d, KEY_KIND, "kind")?;
        d.text_into(&mut self.kind)?;
        key(d, KEY_TIME, "time")?;
        self.time = d.int()?;
        key(d, KEY_ACTOR, "actor")?;
        d.text_into(&mut self.actor)?;
        key(d, KEY_ATTRS, "attrs")?;
        self.attrs.decode_into(d, spare)
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

impl EventSeq<'_> {
    /// Runs `decode` on the next event and frames its result with the
    /// event's byte range; after an error the sequence ends, since the
    /// rest cannot be framed.
    fn step<T>(
        &mut self,
        decode: impl FnOnce(&mut Decoder<'_>) -> Result<T, CborError>,
    ) -> Option<Result<(T, std::ops::Range<usize>), CborError>> {
        if self.d.is_empty() {
            return None;
        }
        let start = self.d.position();
        let r = decode(&mut self.d).map(|t| (t, start..self.d.position()));
        if r.is_err() {
            self.d = Decoder::new(&[]);
        }
        Some(r)
    }
}

impl Iterator for EventSeq<'_> {
    type Item = Result<(Event, std::ops::Range<usize>), CborError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(Event::decode)
    }
}

/// Reads events into one [`Event`] that it reuses, so that a long log is
/// decoded without an allocation per event: each event's kind, actor,
/// attribute names and text or byte values are copied into the strings
/// the previous events left, which grow to the longest seen and stay.
/// The result is exactly what [`Event::decode`] gives, with the same
/// errors.
///
/// ```
/// use cfr_model::{Attrs, Event, EventReader, EventSeq, Value};
///
/// let mut log = Vec::new();
/// for seq in 0..3 {
///     let mut attrs = Attrs::new();
///     attrs.insert("id", Value::Text(format!("r-{seq}")));
///     let e = Event { seq, time: 0, kind: "request".into(), actor: "user".into(), attrs, sig: None };
///     e.encode_into(&mut log);
/// }
/// let mut reader = EventReader::new();
/// let mut events = EventSeq::new(&log);
/// let mut ids = Vec::new();
/// while let Some(next) = reader.next(&mut events) {
///     let (event, _bytes) = next?;
///     ids.push(event.attrs.get("id").cloned());
/// }
/// assert_eq!(ids[2], Some(Value::Text("r-2".into())));
/// # Ok::<(), cfr_model::cbor::CborError>(())
/// ```
#[derive(Debug)]
pub struct EventReader {
    event: Event,
    spare: Vec<(String, Value)>,
}

impl Default for EventReader {
    fn default() -> Self {
        EventReader::new()
    }
}

impl EventReader {
    /// A reader with nothing allocated yet.
    pub fn new() -> Self {
        EventReader {
            event: Event {
                seq: 0,
                time: 0,
                kind: String::new(),
                actor: String::new(),
                attrs: Attrs::new(),
                sig: None,
            },
            spare: Vec::new(),
        }
    }

    /// Decodes one event from `d` into the reused event, as
    /// [`Event::decode`] would. After an error the reused event holds a
    /// mix of two events; read it only after a success.
    pub fn read<'r>(&'r mut self, d: &mut Decoder<'_>) -> Result<&'r Event, CborError> {
        let EventReader { event, spare } = self;
        event.decode_into(d, spare)?;
        Ok(event)
    }

    /// Decodes the next event of `events` into the reused event, with its
    /// byte range in the sequence; `None` at the end. After an error the
    /// sequence ends, as [`EventSeq`]'s iterator does.
    pub fn next<'r>(
        &'r mut self,
        events: &mut EventSeq<'_>,
    ) -> Option<Result<(&'r Event, std::ops::Range<usize>), CborError>> {
        let EventReader { event, spare } = self;
        let r = events.step(|d| event.decode_into(d, spare))?;
        Some(r.map(|((), range)| (&*event, range)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cbor;
    use crate::cbor::CborError;

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
    fn event_keys_off_their_canonical_bytes_are_named() {
        let good = sample().encode();
        // "seq" with a two-byte head: the same text, not canonical.
        let mut bad = good.clone();
        bad.splice(1..2, [0x78, 3]);
        let e = Event::from_cbor(&bad).unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(matches!(e.kind, cbor::CborErrorKind::NonMinimalHead), "{e}");
        // Another key of the same length where "kind" belongs.
        let mut bad = good.clone();
        let at = bad.windows(5).position(|w| w == KEY_KIND).unwrap();
        bad[at + 1] = b'k' ^ 0x20;
        let e = Event::from_cbor(&bad).unwrap_err().to_string();
        assert!(
            e.contains(r#"event key "Kind" where "kind" was expected"#),
            "{e}"
        );
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

    /// What a reused reader and [`Event::decode`] each make of `bytes`:
    /// the events with their byte ranges, then the error text if any.
    fn both_ways(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
        let show = |r: Result<(&Event, std::ops::Range<usize>), CborError>| match r {
            Ok((e, range)) => format!("{e:?} at {range:?}"),
            Err(e) => format!("error: {e}"),
        };
        let fresh = EventSeq::new(bytes)
            .map(|r| {
                show(
                    r.as_ref()
                        .map(|(e, range)| (e, range.clone()))
                        .map_err(Clone::clone),
                )
            })
            .collect();
        let mut reader = EventReader::new();
        let mut events = EventSeq::new(bytes);
        let mut reused = Vec::new();
        while let Some(r) = reader.next(&mut events) {
            reused.push(show(r));
        }
        (fresh, reused)
    }

    /// Events whose attributes change in number, names and types from one
    /// to the next, so that every reuse path is taken.
    fn varied(n: u64) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut attrs = Attrs::new();
                for j in 0..(i * 7 % 5) {
                    let value = match (i + j) % 4 {
                        0 => Value::Int(i as i64 - 3),
                        1 => Value::Text("x".repeat((i * 3 + j) as usize % 9)),
                        2 => Value::Bool(i % 2 == 0),
                        _ => Value::Bytes(vec![j as u8; (i % 6) as usize]),
                    };
                    attrs.insert(
                        ["id", "ok", "op", "size", "object"][((i + j) % 5) as usize],
                        value,
                    );
                }
                Event {
                    seq: i,
                    time: i as i64 * 1_000,
                    kind: ["request", "response", "hb"][(i % 3) as usize].into(),
                    actor: ["user", "provider"][(i % 2) as usize].into(),
                    attrs,
                    sig: (i % 3 == 1).then_some([i as u8; 64]),
                }
            })
            .collect()
    }

    #[test]
    fn a_reused_reader_decodes_exactly_what_decode_does() {
        let events = varied(60);
        let mut buf = Vec::new();
        for e in &events {
            e.encode_into(&mut buf);
        }
        let (fresh, reused) = both_ways(&buf);
        assert_eq!(fresh.len(), 60);
        assert_eq!(fresh, reused);
        let mut reader = EventReader::new();
        let mut seq = EventSeq::new(&buf);
        for want in &events {
            let (got, _) = reader.next(&mut seq).unwrap().unwrap();
            assert_eq!(got, want);
        }
        assert!(reader.next(&mut seq).is_none());
    }

    #[test]
    fn a_reused_reader_keeps_its_strings_instead_of_allocating() {
        let mut buf = Vec::new();
        let mut e = sample();
        for i in 0..4 {
            e.seq = i;
            e.attrs
                .insert("object", Value::Text(format!("invoices/{i}.pdf")));
            e.encode_into(&mut buf);
        }
        let mut reader = EventReader::new();
        let mut seq = EventSeq::new(&buf);
        let address = |e: &Event| {
            let object = match e.attrs.get("object") {
                Some(Value::Text(t)) => t.as_ptr(),
                other => panic!("object is {other:?}"),
            };
            (e.kind.as_ptr(), e.actor.as_ptr(), object)
        };
        let first = address(reader.next(&mut seq).unwrap().unwrap().0);
        for _ in 1..4 {
            let (e, _) = reader.next(&mut seq).unwrap().unwrap();
            assert_eq!(address(e), first, "event {} got new strings", e.seq);
        }
    }

    #[test]
    fn a_reused_reader_fails_where_decode_fails_and_then_stops() {
        let mut buf = Vec::new();
        for e in varied(12) {
            e.encode_into(&mut buf);
        }
        // A bad byte in every position in turn: the same events before
        // it, the same error, nothing after it.
        for pos in 0..buf.len() {
            let mut bad = buf.clone();
            bad[pos] ^= 0x20;
            let (fresh, reused) = both_ways(&bad);
            assert_eq!(fresh, reused, "byte {pos} changed");
        }
    }

    #[test]
    fn a_reused_reader_checks_utf8_of_text_it_already_holds_another_of() {
        // The reader skips the UTF-8 check only for bytes equal to the
        // string it holds. An invalid name, kind or value after valid
        // ones of the same length must still fail, as decode does.
        let mut buf = Vec::new();
        for e in varied(12) {
            e.encode_into(&mut buf);
        }
        for (text, what) in [
            ("request", "kind"),
            ("provider", "actor"),
            ("object", "name"),
        ] {
            let at = buf
                .windows(text.len())
                .rposition(|w| w == text.as_bytes())
                .unwrap_or_else(|| panic!("no {what} {text:?}"));
            let mut bad = buf.clone();
            bad[at + 1] = 0xff;
            let (fresh, reused) = both_ways(&bad);
            assert_eq!(fresh, reused, "{what}");
            let last = reused.last().unwrap();
            assert!(last.contains("UTF-8"), "{what}: {last}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_reused_reader_agrees_with_decode_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let (fresh, reused) = both_ways(&bytes);
            proptest::prop_assert_eq!(fresh, reused);
        }

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
