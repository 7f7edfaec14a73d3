//! Strict deterministic CBOR (RFC 8949 section 4.2.1).
//!
//! cfr writes and accepts only *core deterministic* CBOR: shortest-form
//! heads, definite lengths, map keys sorted bytewise by their encoding and
//! unique, no floats, and no simple values but `false`, `true` and `null`.
//! A decoder that accepted anything else would let two different byte
//! strings stand for one event, which breaks hashing; so this codec is our
//! own (general CBOR libraries decode leniently), and `ciborium` is used in
//! tests as an independent reference.
//!
//! Two layers: [`Decoder`] / [`Encoder`] read and write single items (used
//! by hot paths such as event decoding), and [`Cbor`] is a generic value
//! tree for manifests, contracts and verdicts.

use std::fmt;

/// Nesting deeper than this is rejected (hostile input cannot blow the stack).
pub const MAX_DEPTH: usize = 64;

/// A generic CBOR data item, restricted to what cfr uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cbor {
    /// An integer (major types 0 and 1), within `i64`.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A UTF-8 text string.
    Text(String),
    /// An array.
    Array(Vec<Cbor>),
    /// A map; [`encode`] writes the entries in canonical key order.
    Map(Vec<(Cbor, Cbor)>),
    /// A tagged item.
    Tag(u64, Box<Cbor>),
    /// `false` or `true`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Cbor {
    /// A text item.
    pub fn text(s: impl Into<String>) -> Cbor {
        Cbor::Text(s.into())
    }

    /// A map from `(key, value)` pairs with text keys.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Cbor)>) -> Cbor {
        Cbor::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Cbor::Text(k.into()), v))
                .collect(),
        )
    }

    /// Looks up a text key in a map; `None` for a missing key or a non-map.
    pub fn get(&self, key: &str) -> Option<&Cbor> {
        match self {
            Cbor::Map(entries) => entries.iter().find_map(|(k, v)| match k {
                Cbor::Text(t) if t == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Cbor::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cbor::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Cbor::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&[Cbor]> {
        match self {
            Cbor::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Cbor::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A short name of the item's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Cbor::Int(_) => "int",
            Cbor::Bytes(_) => "bytes",
            Cbor::Text(_) => "text",
            Cbor::Array(_) => "array",
            Cbor::Map(_) => "map",
            Cbor::Tag(..) => "tag",
            Cbor::Bool(_) => "bool",
            Cbor::Null => "null",
        }
    }
}

/// What is wrong with a CBOR input, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CborError {
    /// Byte offset of the offending item's head within the decoded input.
    pub offset: usize,
    /// What is wrong.
    pub kind: CborErrorKind,
}

/// The ways CBOR input can be rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CborErrorKind {
    /// The input ends inside an item.
    Truncated,
    /// A head uses more bytes than needed (not shortest form).
    NonMinimalHead,
    /// Indefinite-length items are not deterministic.
    IndefiniteLength,
    /// Map keys are not in canonical order, or repeat.
    MapKeyOrder,
    /// Floats, undefined and unassigned simple values are not used by cfr.
    UnsupportedItem(u8),
    /// A reserved additional-information value (28..30).
    ReservedInfo(u8),
    /// An integer outside the signed 64-bit range.
    IntegerOutOfRange,
    /// A text string that is not UTF-8.
    InvalidUtf8,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes follow the single expected item.
    TrailingBytes,
    /// A declared length exceeds the bytes available.
    LengthTooLarge(u64),
    /// The item is well-formed but of the wrong type or shape here.
    Unexpected(String),
}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: ", self.offset)?;
        match &self.kind {
            CborErrorKind::Truncated => write!(f, "input ends inside a CBOR item"),
            CborErrorKind::NonMinimalHead => {
                write!(
                    f,
                    "non-canonical CBOR: length or integer not in shortest form"
                )
            }
            CborErrorKind::IndefiniteLength => {
                write!(f, "non-canonical CBOR: indefinite-length item")
            }
            CborErrorKind::MapKeyOrder => {
                write!(f, "non-canonical CBOR: map keys out of order or repeated")
            }
            CborErrorKind::UnsupportedItem(b) => {
                write!(f, "unsupported CBOR item (initial byte 0x{b:02x})")
            }
            CborErrorKind::ReservedInfo(b) => {
                write!(f, "malformed CBOR: reserved initial byte 0x{b:02x}")
            }
            CborErrorKind::IntegerOutOfRange => {
                write!(f, "integer outside the 64-bit signed range")
            }
            CborErrorKind::InvalidUtf8 => write!(f, "text string is not valid UTF-8"),
            CborErrorKind::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
            CborErrorKind::TrailingBytes => write!(f, "unexpected bytes after the CBOR item"),
            CborErrorKind::LengthTooLarge(n) => {
                write!(f, "declared length {n} exceeds the remaining input")
            }
            CborErrorKind::Unexpected(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for CborError {}

/// The head of a CBOR item: major type and argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Major type 0.
    Uint(u64),
    /// Major type 1: the value is `-1 - n`.
    Nint(u64),
    /// Major type 2 with its length.
    Bytes(u64),
    /// Major type 3 with its length.
    Text(u64),
    /// Major type 4 with its length.
    Array(u64),
    /// Major type 5 with its number of pairs.
    Map(u64),
    /// Major type 6 with the tag number.
    Tag(u64),
    /// `false` / `true`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A strict, zero-copy reader of deterministic CBOR.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    /// Current byte offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when all input has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// An error of `kind` at `offset`.
    pub fn error_at(&self, offset: usize, kind: CborErrorKind) -> CborError {
        CborError { offset, kind }
    }

    /// An "unexpected" error at the current position.
    pub fn unexpected(&self, offset: usize, what: impl Into<String>) -> CborError {
        CborError {
            offset,
            kind: CborErrorKind::Unexpected(what.into()),
        }
    }

    /// Skips the next `N` bytes if they are exactly `bytes`, and says
    /// whether it did. A fast path for a fixed item such as a map key's
    /// canonical encoding: the comparison is unrolled, with no call.
    pub fn skip_exact<const N: usize>(&mut self, bytes: &[u8; N]) -> bool {
        let next = self
            .pos
            .checked_add(N)
            .and_then(|end| self.buf.get(self.pos..end));
        match next {
            Some(next) if next.iter().zip(bytes).all(|(a, b)| a == b) => {
                self.pos += N;
                true
            }
            _ => false,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(CborError {
                offset: self.pos,
                kind: CborErrorKind::Truncated,
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads one head, enforcing shortest form and definite lengths.
    pub fn head(&mut self) -> Result<Head, CborError> {
        let start = self.pos;
        let ib = *self.take(1)?.first().ok_or(CborError {
            offset: start,
            kind: CborErrorKind::Truncated,
        })?;
        let major = ib >> 5;
        let info = ib & 0x1f;
        if major == 7 {
            return match info {
                20 => Ok(Head::Bool(false)),
                21 => Ok(Head::Bool(true)),
                22 => Ok(Head::Null),
                31 => Err(self.error_at(start, CborErrorKind::IndefiniteLength)),
                _ => Err(self.error_at(start, CborErrorKind::UnsupportedItem(ib))),
            };
        }
        let arg = match info {
            0..=23 => u64::from(info),
            24 => {
                let v = u64::from(self.take(1)?[0]);
                if v < 24 {
                    return Err(self.error_at(start, CborErrorKind::NonMinimalHead));
                }
                v
            }
            25 => {
                let b = self.take(2)?;
                let v = u64::from(u16::from_be_bytes([b[0], b[1]]));
                if v <= 0xff {
                    return Err(self.error_at(start, CborErrorKind::NonMinimalHead));
                }
                v
            }
            26 => {
                let b = self.take(4)?;
                let v = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                if v <= 0xffff {
                    return Err(self.error_at(start, CborErrorKind::NonMinimalHead));
                }
                v
            }
            27 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                let v = u64::from_be_bytes(a);
                if v <= 0xffff_ffff {
                    return Err(self.error_at(start, CborErrorKind::NonMinimalHead));
                }
                v
            }
            31 => return Err(self.error_at(start, CborErrorKind::IndefiniteLength)),
            _ => return Err(self.error_at(start, CborErrorKind::ReservedInfo(ib))),
        };
        Ok(match major {
            0 => Head::Uint(arg),
            1 => Head::Nint(arg),
            2 => Head::Bytes(arg),
            3 => Head::Text(arg),
            4 => Head::Array(arg),
            5 => Head::Map(arg),
            _ => Head::Tag(arg),
        })
    }

    fn payload(&mut self, start: usize, len: u64) -> Result<&'a [u8], CborError> {
        let remaining = (self.buf.len() - self.pos) as u64;
        if len > remaining {
            return Err(self.error_at(start, CborErrorKind::LengthTooLarge(len)));
        }
        // `len <= remaining`, which fits in usize.
        self.take(len as usize)
    }

    /// Reads an integer within `i64`.
    pub fn int(&mut self) -> Result<i64, CborError> {
        let start = self.pos;
        match self.head()? {
            Head::Uint(n) => {
                i64::try_from(n).map_err(|_| self.error_at(start, CborErrorKind::IntegerOutOfRange))
            }
            Head::Nint(n) => i64::try_from(n)
                .map(|n| -1 - n)
                .map_err(|_| self.error_at(start, CborErrorKind::IntegerOutOfRange)),
            _ => Err(self.unexpected(start, "expected an integer")),
        }
    }

    /// Reads an unsigned integer.
    pub fn uint(&mut self) -> Result<u64, CborError> {
        let start = self.pos;
        match self.head()? {
            Head::Uint(n) => Ok(n),
            _ => Err(self.unexpected(start, "expected an unsigned integer")),
        }
    }

    /// A text string's payload, not yet checked as UTF-8, and where its
    /// head starts (what a UTF-8 error names). Inlined, as `text` was
    /// written out before: as a call, the analyzer's replay costs 2.2 %
    /// more fuel per event.
    #[inline]
    fn text_bytes(&mut self) -> Result<(usize, &'a [u8]), CborError> {
        let start = self.pos;
        match self.head()? {
            Head::Text(len) => Ok((start, self.payload(start, len)?)),
            _ => Err(self.unexpected(start, "expected a text string")),
        }
    }

    /// `b`, the payload of the text string at `start`, as UTF-8.
    #[inline]
    fn utf8(&self, start: usize, b: &'a [u8]) -> Result<&'a str, CborError> {
        std::str::from_utf8(b).map_err(|_| self.error_at(start, CborErrorKind::InvalidUtf8))
    }

    /// Reads a text string into `into`, reusing its allocation: the same
    /// result and errors as [`Decoder::text`] followed by a copy. Bytes
    /// equal to what `into` already holds are left in place without a
    /// UTF-8 check (they are valid: `into` is a `String`); a replay reads
    /// the same kinds, actors and attribute names over and over.
    pub fn text_into(&mut self, into: &mut String) -> Result<(), CborError> {
        let (start, b) = self.text_bytes()?;
        if b != into.as_bytes() {
            self.utf8(start, b)?.clone_into(into);
        }
        Ok(())
    }

    /// Reads a text string.
    pub fn text(&mut self) -> Result<&'a str, CborError> {
        let (start, b) = self.text_bytes()?;
        self.utf8(start, b)
    }

    /// Reads a byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        let start = self.pos;
        match self.head()? {
            Head::Bytes(len) => self.payload(start, len),
            _ => Err(self.unexpected(start, "expected a byte string")),
        }
    }

    /// Reads a bool.
    pub fn bool(&mut self) -> Result<bool, CborError> {
        let start = self.pos;
        match self.head()? {
            Head::Bool(b) => Ok(b),
            _ => Err(self.unexpected(start, "expected a bool")),
        }
    }

    /// Reads a map head and returns its number of pairs.
    pub fn map_len(&mut self) -> Result<u64, CborError> {
        let start = self.pos;
        match self.head()? {
            Head::Map(n) => {
                // Each pair needs at least two bytes: a cheap bound against
                // hostile lengths before anyone allocates for them.
                if n > (self.buf.len() - self.pos) as u64 / 2 {
                    return Err(self.error_at(start, CborErrorKind::LengthTooLarge(n)));
                }
                Ok(n)
            }
            _ => Err(self.unexpected(start, "expected a map")),
        }
    }

    /// Reads an array head and returns its length.
    pub fn array_len(&mut self) -> Result<u64, CborError> {
        let start = self.pos;
        match self.head()? {
            Head::Array(n) => {
                if n > (self.buf.len() - self.pos) as u64 {
                    return Err(self.error_at(start, CborErrorKind::LengthTooLarge(n)));
                }
                Ok(n)
            }
            _ => Err(self.unexpected(start, "expected an array")),
        }
    }

    /// Reads a whole item into a [`Cbor`] tree, checking canonical form.
    pub fn value(&mut self) -> Result<Cbor, CborError> {
        self.value_at_depth(0)
    }

    fn value_at_depth(&mut self, depth: usize) -> Result<Cbor, CborError> {
        let start = self.pos;
        if depth > MAX_DEPTH {
            return Err(self.error_at(start, CborErrorKind::TooDeep));
        }
        Ok(match self.head()? {
            Head::Uint(n) => Cbor::Int(
                i64::try_from(n)
                    .map_err(|_| self.error_at(start, CborErrorKind::IntegerOutOfRange))?,
            ),
            Head::Nint(n) => Cbor::Int(
                i64::try_from(n)
                    .map(|n| -1 - n)
                    .map_err(|_| self.error_at(start, CborErrorKind::IntegerOutOfRange))?,
            ),
            Head::Bytes(len) => Cbor::Bytes(self.payload(start, len)?.to_vec()),
            Head::Text(len) => {
                let b = self.payload(start, len)?;
                Cbor::Text(
                    std::str::from_utf8(b)
                        .map_err(|_| self.error_at(start, CborErrorKind::InvalidUtf8))?
                        .to_owned(),
                )
            }
            Head::Array(n) => {
                if n > (self.buf.len() - self.pos) as u64 {
                    return Err(self.error_at(start, CborErrorKind::LengthTooLarge(n)));
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value_at_depth(depth + 1)?);
                }
                Cbor::Array(items)
            }
            Head::Map(n) => {
                if n > (self.buf.len() - self.pos) as u64 / 2 {
                    return Err(self.error_at(start, CborErrorKind::LengthTooLarge(n)));
                }
                let mut entries = Vec::with_capacity(n as usize);
                let mut prev_key: Option<&[u8]> = None;
                for _ in 0..n {
                    let key_start = self.pos;
                    let k = self.value_at_depth(depth + 1)?;
                    let key_bytes = &self.buf[key_start..self.pos];
                    if let Some(prev) = prev_key {
                        if prev >= key_bytes {
                            return Err(self.error_at(key_start, CborErrorKind::MapKeyOrder));
                        }
                    }
                    prev_key = Some(key_bytes);
                    let v = self.value_at_depth(depth + 1)?;
                    entries.push((k, v));
                }
                Cbor::Map(entries)
            }
            Head::Tag(t) => Cbor::Tag(t, Box::new(self.value_at_depth(depth + 1)?)),
            Head::Bool(b) => Cbor::Bool(b),
            Head::Null => Cbor::Null,
        })
    }

    /// Skips one whole item with the same strictness as [`Decoder::value`]
    /// (the same error at the same offset), without building it: no
    /// allocation, whatever the item's size.
    pub fn skip(&mut self) -> Result<(), CborError> {
        self.skip_at_depth(0)
    }

    fn skip_at_depth(&mut self, depth: usize) -> Result<(), CborError> {
        let start = self.pos;
        if depth > MAX_DEPTH {
            return Err(self.error_at(start, CborErrorKind::TooDeep));
        }
        match self.head()? {
            Head::Uint(n) | Head::Nint(n) => {
                if i64::try_from(n).is_err() {
                    return Err(self.error_at(start, CborErrorKind::IntegerOutOfRange));
                }
            }
            Head::Bytes(len) => {
                self.payload(start, len)?;
            }
            Head::Text(len) => {
                let b = self.payload(start, len)?;
                if std::str::from_utf8(b).is_err() {
                    return Err(self.error_at(start, CborErrorKind::InvalidUtf8));
                }
            }
            Head::Array(n) => {
                if n > (self.buf.len() - self.pos) as u64 {
                    return Err(self.error_at(start, CborErrorKind::LengthTooLarge(n)));
                }
                for _ in 0..n {
                    self.skip_at_depth(depth + 1)?;
                }
            }
            Head::Map(n) => {
                if n > (self.buf.len() - self.pos) as u64 / 2 {
                    return Err(self.error_at(start, CborErrorKind::LengthTooLarge(n)));
                }
                let mut prev_key: Option<&[u8]> = None;
                for _ in 0..n {
                    let key_start = self.pos;
                    self.skip_at_depth(depth + 1)?;
                    let key_bytes = &self.buf[key_start..self.pos];
                    if prev_key.is_some_and(|prev| prev >= key_bytes) {
                        return Err(self.error_at(key_start, CborErrorKind::MapKeyOrder));
                    }
                    prev_key = Some(key_bytes);
                    self.skip_at_depth(depth + 1)?;
                }
            }
            Head::Tag(_) => self.skip_at_depth(depth + 1)?,
            Head::Bool(_) | Head::Null => {}
        }
        Ok(())
    }

    /// Fails unless all input was consumed.
    pub fn finish(&self) -> Result<(), CborError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.error_at(self.pos, CborErrorKind::TrailingBytes))
        }
    }
}

/// Decodes exactly one canonical item occupying all of `buf`.
pub fn decode(buf: &[u8]) -> Result<Cbor, CborError> {
    let mut d = Decoder::new(buf);
    let v = d.value()?;
    d.finish()?;
    Ok(v)
}

/// Appends canonical CBOR to a buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Encoder { buf: Vec::new() }
    }

    /// Writes a head of major type `major` with argument `arg`, shortest form.
    pub fn head(&mut self, major: u8, arg: u64) {
        write_head(&mut self.buf, major, arg);
    }

    /// Writes an integer.
    pub fn int(&mut self, v: i64) {
        write_int(&mut self.buf, v);
    }

    /// Writes a text string.
    pub fn text(&mut self, s: &str) {
        write_head(&mut self.buf, 3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Writes a byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        write_head(&mut self.buf, 2, b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// Writes a bool.
    pub fn bool(&mut self, b: bool) {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
    }

    /// Writes `null`.
    pub fn null(&mut self) {
        self.buf.push(0xf6);
    }

    /// Writes a generic value canonically.
    pub fn value(&mut self, v: &Cbor) {
        encode_into(&mut self.buf, v);
    }
}

/// Writes a CBOR head in shortest form.
pub fn write_head(buf: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        buf.push(m | arg as u8);
    } else if arg <= 0xff {
        buf.push(m | 24);
        buf.push(arg as u8);
    } else if arg <= 0xffff {
        buf.push(m | 25);
        buf.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        buf.push(m | 26);
        buf.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        buf.push(m | 27);
        buf.extend_from_slice(&arg.to_be_bytes());
    }
}

/// Writes an integer in shortest form.
pub fn write_int(buf: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_head(buf, 0, v as u64);
    } else {
        write_head(buf, 1, (-1 - v) as u64);
    }
}

/// The length of a CBOR head with argument `arg`, in shortest form.
pub fn head_len(arg: u64) -> usize {
    match arg {
        0..24 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// The length of `v`'s canonical encoding: `encode(v).len()`, counted
/// without writing it (to allocate the bytes once, exactly).
pub fn encoded_len(v: &Cbor) -> usize {
    match v {
        Cbor::Int(i) => head_len(if *i >= 0 { *i as u64 } else { (-1 - *i) as u64 }),
        Cbor::Bytes(b) => head_len(b.len() as u64) + b.len(),
        Cbor::Text(t) => head_len(t.len() as u64) + t.len(),
        Cbor::Array(items) => {
            head_len(items.len() as u64) + items.iter().map(encoded_len).sum::<usize>()
        }
        Cbor::Map(entries) => {
            head_len(entries.len() as u64)
                + entries
                    .iter()
                    .map(|(k, v)| encoded_len(k) + encoded_len(v))
                    .sum::<usize>()
        }
        Cbor::Tag(t, inner) => head_len(*t) + encoded_len(inner),
        Cbor::Bool(_) | Cbor::Null => 1,
    }
}

/// Encodes a value canonically (map keys sorted bytewise by encoding).
pub fn encode(v: &Cbor) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_into(&mut buf, v);
    buf
}

/// Appends the canonical encoding of `v` to `buf`.
pub fn encode_into(buf: &mut Vec<u8>, v: &Cbor) {
    match v {
        Cbor::Int(i) => write_int(buf, *i),
        Cbor::Bytes(b) => {
            write_head(buf, 2, b.len() as u64);
            buf.extend_from_slice(b);
        }
        Cbor::Text(t) => {
            write_head(buf, 3, t.len() as u64);
            buf.extend_from_slice(t.as_bytes());
        }
        Cbor::Array(items) => {
            write_head(buf, 4, items.len() as u64);
            for i in items {
                encode_into(buf, i);
            }
        }
        Cbor::Map(entries) => {
            let mut encoded: Vec<(Vec<u8>, &Cbor)> =
                entries.iter().map(|(k, v)| (encode(k), v)).collect();
            encoded.sort_by(|a, b| a.0.cmp(&b.0));
            debug_assert!(
                encoded.windows(2).all(|w| w[0].0 != w[1].0),
                "duplicate map key"
            );
            write_head(buf, 5, encoded.len() as u64);
            for (k, v) in encoded {
                buf.extend_from_slice(&k);
                encode_into(buf, v);
            }
        }
        Cbor::Tag(t, inner) => {
            write_head(buf, 6, *t);
            encode_into(buf, inner);
        }
        Cbor::Bool(b) => buf.push(if *b { 0xf5 } else { 0xf4 }),
        Cbor::Null => buf.push(0xf6),
    }
}

/// Canonical ordering of two text map keys: shorter first, then bytewise
/// (which is what bytewise order of their encodings amounts to).
pub fn text_key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn roundtrip(v: &Cbor) {
        let bytes = encode(v);
        assert_eq!(&decode(&bytes).expect("decodes"), v);
    }

    #[test]
    fn rfc8949_appendix_a_integers() {
        let cases: &[(i64, &str)] = &[
            (0, "00"),
            (23, "17"),
            (24, "1818"),
            (100, "1864"),
            (1000, "1903e8"),
            (1000000, "1a000f4240"),
            (1000000000000, "1b000000e8d4a51000"),
            (-1, "20"),
            (-100, "3863"),
            (-1000, "3903e7"),
        ];
        for (v, hexs) in cases {
            assert_eq!(hex::encode(encode(&Cbor::Int(*v))), *hexs, "{v}");
            assert_eq!(decode(&hex::decode(hexs).unwrap()).unwrap(), Cbor::Int(*v));
        }
    }

    #[test]
    fn rejects_non_minimal_heads() {
        for hexs in [
            "1817",
            "190017",
            "1a00000017",
            "1b0000000000000017",
            "5801ff",
        ] {
            let err = decode(&hex::decode(hexs).unwrap()).unwrap_err();
            assert_eq!(err.kind, CborErrorKind::NonMinimalHead, "{hexs}");
        }
    }

    #[test]
    fn rejects_unsorted_or_duplicate_keys_and_indefinite() {
        // {"b":1,"a":2}
        let e = decode(&hex::decode("a2616201616102").unwrap()).unwrap_err();
        assert_eq!(e.kind, CborErrorKind::MapKeyOrder);
        // {"a":1,"a":2}
        let e = decode(&hex::decode("a2616101616102").unwrap()).unwrap_err();
        assert_eq!(e.kind, CborErrorKind::MapKeyOrder);
        // {"aa":1,"b":2}: longer key first is not canonical
        let e = decode(&hex::decode("a262616101616202").unwrap()).unwrap_err();
        assert_eq!(e.kind, CborErrorKind::MapKeyOrder);
        let e = decode(&hex::decode("9f01ff").unwrap()).unwrap_err();
        assert_eq!(e.kind, CborErrorKind::IndefiniteLength);
        let e = decode(&hex::decode("f97e00").unwrap()).unwrap_err();
        assert!(matches!(e.kind, CborErrorKind::UnsupportedItem(_)));
    }

    #[test]
    fn hostile_lengths_and_depth() {
        // byte string claiming 2^32 bytes
        let e = decode(&hex::decode("5b0000000100000000").unwrap()).unwrap_err();
        assert!(matches!(e.kind, CborErrorKind::LengthTooLarge(_)));
        // array claiming 2^63 items
        let e = decode(&hex::decode("9b8000000000000000").unwrap()).unwrap_err();
        assert!(matches!(e.kind, CborErrorKind::LengthTooLarge(_)));
        let deep = vec![0x81u8; 10_000];
        let e = decode(&deep).unwrap_err();
        assert!(matches!(
            e.kind,
            CborErrorKind::TooDeep | CborErrorKind::Truncated
        ));
        let e = decode(&hex::decode("0000").unwrap()).unwrap_err();
        assert_eq!(e.kind, CborErrorKind::TrailingBytes);
        let e = decode(&hex::decode("62ff").unwrap()).unwrap_err();
        assert!(matches!(e.kind, CborErrorKind::LengthTooLarge(_)));
    }

    #[test]
    fn generic_roundtrip_and_ciborium_agrees() {
        let v = Cbor::map([
            (
                "zz",
                Cbor::Array(vec![Cbor::Int(-5), Cbor::Null, Cbor::Bool(true)]),
            ),
            ("a", Cbor::Bytes(vec![1, 2, 3])),
            ("bb", Cbor::Tag(55799, Box::new(Cbor::text("x")))),
        ]);
        let bytes = encode(&v);
        // Decoding yields the canonical order; re-encoding is the identity.
        assert_eq!(encode(&decode(&bytes).expect("decodes")), bytes);
        let reference: ciborium::Value =
            ciborium::from_reader(&bytes[..]).expect("ciborium decodes");
        let mut again = Vec::new();
        ciborium::into_writer(&reference, &mut again).expect("ciborium encodes");
        assert_eq!(
            again, bytes,
            "ciborium re-encodes our canonical bytes identically"
        );
    }

    /// `skip` fails with the same error as `value`, at the same offset,
    /// or ends where `value` ends.
    fn skip_agrees(b: &[u8]) {
        let (mut v, mut s) = (Decoder::new(b), Decoder::new(b));
        let (built, skipped) = (v.value().map(|_| ()), s.skip());
        assert_eq!(built, skipped, "{}", hex::encode(b));
        if built.is_ok() {
            assert_eq!(v.position(), s.position(), "{}", hex::encode(b));
        }
    }

    #[test]
    fn skip_agrees_with_value_on_every_change_of_an_item() {
        let item = Cbor::map([
            ("a", Cbor::Int(-3)),
            (
                "bb",
                Cbor::Array(vec![
                    Cbor::text("é"),
                    Cbor::Bytes(vec![1, 2]),
                    Cbor::Tag(1, Box::new(Cbor::Int(1 << 40))),
                    Cbor::Bool(true),
                    Cbor::Null,
                ]),
            ),
            (
                "c",
                Cbor::map([("x", Cbor::Int(i64::MIN)), ("yy", Cbor::Int(24))]),
            ),
        ]);
        let bytes = encode(&item);
        for len in 0..=bytes.len() {
            skip_agrees(&bytes[..len]);
        }
        for i in 0..bytes.len() {
            for x in 0..=255u8 {
                let mut b = bytes.clone();
                b[i] = x;
                skip_agrees(&b);
            }
        }
        // Nesting at the limit, and one level past it.
        for depth in [MAX_DEPTH, MAX_DEPTH + 1] {
            let mut b = vec![0x81; depth];
            b.push(0);
            skip_agrees(&b);
        }
        assert!(Decoder::new(&[0x81; 70]).skip().is_err());
    }

    /// Counted lengths equal written ones, across every head size.
    #[test]
    fn encoded_len_is_the_length_of_the_encoding() {
        let mut items = Vec::new();
        for n in [0u64, 23, 24, 255, 256, 65_535, 65_536, 1 << 32] {
            items.push(Cbor::Int(n as i64));
            items.push(Cbor::Int(-1 - n as i64));
            items.push(Cbor::Tag(n, Box::new(Cbor::Null)));
        }
        items.push(Cbor::Int(i64::MIN));
        for n in [0usize, 23, 24, 255, 256, 65_535, 65_536] {
            items.push(Cbor::Bytes(vec![7; n]));
            items.push(Cbor::Text("é".repeat(n / 2)));
            items.push(Cbor::Array(vec![Cbor::Bool(true); n.min(300)]));
        }
        let map = Cbor::map([
            ("b", Cbor::Array(items.clone())),
            (
                "a",
                Cbor::map([("x", Cbor::Bool(false)), ("yy", Cbor::Null)]),
            ),
        ]);
        for v in items.iter().chain([&map]) {
            assert_eq!(encoded_len(v), encode(v).len(), "{v:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn encoded_len_agrees_on_decoded_values(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(v) = decode(&bytes) {
                proptest::prop_assert_eq!(encoded_len(&v), encode(&v).len());
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn skip_agrees_with_value(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            skip_agrees(&bytes);
        }

        #[test]
        fn ints_roundtrip(v in proptest::num::i64::ANY) {
            roundtrip(&Cbor::Int(v));
        }
    }
}
