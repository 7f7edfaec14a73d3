//! Segment files and their records.
//!
//! A log directory holds segment files `segments/<first seq, 20 digits>.seg`.
//! Each starts with a 16-byte header, `CFRSEG01` and the first seq (u64,
//! little-endian), and continues with records:
//!
//! ```text
//! len u32 LE | check [u8; 8] | id_len u8 | id (UTF-8) | canonical event CBOR | [submission]
//! \_ body length            \_ SHA-256(body)[..8]     \____ body ______________________________/
//! ```
//!
//! `submission`, present only in the record of a signed submission's
//! first event, is the canonical CBOR of its
//! [`Entry`] `{party, id, first,
//! count, sig}` (`first` is that event's seq): the signature travels in
//! the same record, so the one write and fsync that make the events
//! durable make their signature durable too. The events of a submission
//! are consecutive records of one group commit, so of one segment; a
//! submission whose events are not all present can only be the last
//! write, torn, and is cut on open like a torn tail (see the crate docs).
//!
//! The check is a truncated SHA-256 of the body rather than a CRC-32C: it
//! needs no further dependency, SHA-256 is hardware-accelerated here and is
//! computed next to the leaf hash anyway, and 64 bits of a cryptographic
//! hash make an undetected torn or flipped record (including a flipped
//! length, which moves the body window) vanishingly unlikely. `id` is the
//! client-chosen idempotency id (empty when none was given); it is part of
//! the recorder's own index, not of the event, so it is not signed, sealed
//! or hashed into the Merkle tree.

use cfr_bundle_format::submission::Entry;
use cfr_model::cbor::Decoder;
use cfr_model::Event;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// Magic at the start of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"CFRSEG01";
/// Size of a segment header.
pub const HEADER_LEN: usize = 16;
/// Size of a record's framing (length and check).
pub const FRAME_LEN: usize = 12;
/// Largest event CBOR a record may hold.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Longest client-chosen event id, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Largest submission entry a record may carry.
pub const MAX_ENTRY_BYTES: usize = 8 << 10;
/// Largest record body.
pub const MAX_BODY_BYTES: usize = 1 + MAX_ID_BYTES + MAX_EVENT_BYTES + MAX_ENTRY_BYTES;

/// The file name of the segment whose first event has seq `first`.
pub fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}

/// Parses a segment file name back into its first seq.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of the segment starting at `first`.
pub fn header(first: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&first.to_le_bytes());
    h
}

/// Appends one framed record to `buf`.
pub fn encode_record(buf: &mut Vec<u8>, id: &str, event_cbor: &[u8]) {
    encode_record_with(buf, id, event_cbor, None);
}

/// Appends one framed record to `buf`, carrying `entry` (the record of a
/// signed submission's first event).
pub fn encode_record_with(buf: &mut Vec<u8>, id: &str, event_cbor: &[u8], entry: Option<&Entry>) {
    debug_assert!(id.len() <= MAX_ID_BYTES);
    let len_at = buf.len();
    buf.extend_from_slice(&[0u8; 4]);
    let check_at = buf.len();
    buf.extend_from_slice(&[0u8; 8]);
    let body_at = buf.len();
    buf.push(id.len() as u8);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(event_cbor);
    if let Some(e) = entry {
        e.encode_into(buf);
    }
    let body_len = (buf.len() - body_at) as u32;
    buf[len_at..len_at + 4].copy_from_slice(&body_len.to_le_bytes());
    let digest = Sha256::digest(&buf[body_at..]);
    buf[check_at..check_at + 8].copy_from_slice(&digest[..8]);
}

/// Decodes what follows a record's id: the event, its canonical CBOR's
/// length, and the submission entry after it, if any (whose `first`
/// must be the event's seq).
pub fn decode_body(rest: &[u8]) -> Result<(Event, usize, Option<Entry>), String> {
    let mut d = Decoder::new(rest);
    let event = Event::decode(&mut d).map_err(|e| e.to_string())?;
    let len = d.position();
    if d.is_empty() {
        return Ok((event, len, None));
    }
    if rest.len() - len > MAX_ENTRY_BYTES {
        return Err(format!(
            "{} bytes after the event, more than a submission entry may take",
            rest.len() - len
        ));
    }
    let entry = Entry::decode(&mut d).map_err(|e| format!("submission entry: {e}"))?;
    d.finish()
        .map_err(|e| format!("after the submission entry: {e}"))?;
    if entry.first != event.seq {
        return Err(format!(
            "submission {:?} says it starts at seq {} but its record holds seq {}",
            entry.id, entry.first, event.seq
        ));
    }
    Ok((event, len, Some(entry)))
}

/// One record read back from a segment.
#[derive(Debug, Clone)]
pub struct Record {
    /// Byte offset of the record in its segment file.
    pub offset: u64,
    /// The client-chosen id ("" when none).
    pub id: String,
    /// The event.
    pub event: Event,
    /// Its canonical CBOR (exactly the stored bytes).
    pub cbor: Vec<u8>,
    /// The signed submission this event opens, if it is a submission's
    /// first event.
    pub entry: Option<Entry>,
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordFault {
    /// The file ends inside the record's framing or body.
    #[error("the file ends inside the record")]
    Truncated,
    /// The declared body length is impossible.
    #[error("record length {len} is out of range")]
    BadLength {
        /// The declared length.
        len: u64,
    },
    /// The body does not match its check value.
    #[error("record checksum mismatch")]
    Checksum,
    /// The body is framed and checked but does not decode.
    #[error("record body does not decode: {reason}")]
    Body {
        /// Why.
        reason: String,
    },
    /// The event's seq is not the next one.
    #[error("event seq {found} where {expected} was expected")]
    Seq {
        /// The expected seq.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// The event's time is before the previous event's.
    #[error("event time goes backwards")]
    TimeBackwards,
    /// The record is whole but breaks the submission structure: a
    /// submission starts inside another one's events.
    #[error("{reason}")]
    Submission {
        /// What is wrong.
        reason: String,
    },
}

/// The result of scanning one segment.
#[derive(Debug)]
pub struct Scan {
    /// The records read, in order, up to the first fault.
    pub records: Vec<Record>,
    /// Byte offset just past the last good record.
    pub good_len: u64,
    /// The first fault, if the file does not end cleanly after `good_len`.
    pub fault: Option<RecordFault>,
}

/// A segment whose header is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: bad segment header ({reason})")]
pub struct HeaderFault {
    /// The segment.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Checks a segment's header against the seq its name promises.
pub fn check_header(path: &Path, bytes: &[u8], first: u64) -> Result<(), HeaderFault> {
    let fault = |reason: String| HeaderFault {
        path: path.to_owned(),
        reason,
    };
    if bytes.len() < HEADER_LEN {
        return Err(fault(format!(
            "{} bytes, shorter than a header",
            bytes.len()
        )));
    }
    if &bytes[..8] != SEGMENT_MAGIC {
        return Err(fault("magic is not CFRSEG01".into()));
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[8..16]);
    let found = u64::from_le_bytes(seq);
    if found != first {
        return Err(fault(format!(
            "header says first seq {found}, file name says {first}"
        )));
    }
    Ok(())
}

/// Scans the records of a segment (after its header), checking framing,
/// checks, decoding, seq continuity from `first` and time order after
/// `last_time`.
pub fn scan(bytes: &[u8], first: u64, last_time: Option<i64>) -> Scan {
    let mut records = Vec::new();
    let (good_len, fault) = scan_each(bytes, first, last_time, |r| records.push(r));
    Scan {
        records,
        good_len,
        fault,
    }
}

/// [`scan`], giving each good record to `each` as it is read instead of
/// collecting them, so a reader of the log holds one record at a time,
/// not a whole segment's. Returns [`Scan::good_len`] and [`Scan::fault`].
pub fn scan_each(
    bytes: &[u8],
    first: u64,
    mut last_time: Option<i64>,
    mut each: impl FnMut(Record),
) -> (u64, Option<RecordFault>) {
    let mut pos = HEADER_LEN.min(bytes.len());
    let mut expected = first;
    let fault = loop {
        if pos == bytes.len() {
            break None;
        }
        match read_record(bytes, pos) {
            Err(f) => break Some(f),
            Ok((id, rest, next)) => {
                let (event, len, entry) = match decode_body(rest) {
                    Ok(x) => x,
                    Err(reason) => break Some(RecordFault::Body { reason }),
                };
                let cbor = &rest[..len];
                if event.seq != expected {
                    break Some(RecordFault::Seq {
                        expected,
                        found: event.seq,
                    });
                }
                if last_time.is_some_and(|t| event.time < t) {
                    break Some(RecordFault::TimeBackwards);
                }
                last_time = Some(event.time);
                each(Record {
                    offset: pos as u64,
                    id: id.to_owned(),
                    event,
                    cbor: cbor.to_vec(),
                    entry,
                });
                expected += 1;
                pos = next;
            }
        }
    };
    (pos as u64, fault)
}

/// What lies after a bad record: whether any valid record follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// No valid record starts anywhere after it (what a torn write leaves).
    Nothing,
    /// A record that frames, checks and decodes starts at this offset.
    Record(u64),
    /// Too many record-shaped byte runs to check them all; treated as
    /// valid records following (never as a torn tail).
    Undecided,
}

/// How many record-shaped candidates [`after_bad_record`] checksums
/// before it gives up (bounds the work on crafted bytes).
const MAX_CANDIDATES: usize = 64;

/// Looks for a valid record at any byte offset after `start` (the offset
/// of a bad record), to tell a torn tail (nothing valid after it) from a
/// damaged record in the middle of the log. A candidate must be framed
/// (plausible length that fits), have a plausible id length, and begin its
/// event with the canonical CBOR of an event (a map whose first key is
/// `"seq"`); only those are checksummed and decoded.
pub fn after_bad_record(bytes: &[u8], start: usize) -> After {
    let mut tried = 0;
    let mut pos = start + 1;
    while pos + FRAME_LEN < bytes.len() {
        let p = pos;
        pos += 1;
        let mut len4 = [0u8; 4];
        len4.copy_from_slice(&bytes[p..p + 4]);
        let len = u32::from_le_bytes(len4) as usize;
        if !(2..=MAX_BODY_BYTES).contains(&len) || bytes.len() - p - FRAME_LEN < len {
            continue;
        }
        let body = &bytes[p + FRAME_LEN..p + FRAME_LEN + len];
        let id_len = body[0] as usize;
        let Some(cbor) = body.get(1 + id_len..) else {
            continue;
        };
        if id_len > MAX_ID_BYTES || !looks_like_event(cbor) {
            continue;
        }
        if tried == MAX_CANDIDATES {
            return After::Undecided;
        }
        tried += 1;
        if let Ok((_, rest, _)) = read_record(bytes, p) {
            if decode_body(rest).is_ok() {
                return After::Record(p as u64);
            }
        }
    }
    After::Nothing
}

/// Whether `cbor` starts like an event's canonical CBOR: a map of 5 or 6
/// entries whose first key is the text `"seq"`.
fn looks_like_event(cbor: &[u8]) -> bool {
    cbor.len() > 5 && matches!(cbor[0], 0xa5 | 0xa6) && cbor[1..5] == *b"\x63seq"
}

/// Reads the framing at `pos`: `(id, event cbor and any entry, next position)`.
fn read_record(bytes: &[u8], pos: usize) -> Result<(&str, &[u8], usize), RecordFault> {
    let rest = &bytes[pos..];
    if rest.len() < FRAME_LEN {
        return Err(RecordFault::Truncated);
    }
    let mut len4 = [0u8; 4];
    len4.copy_from_slice(&rest[..4]);
    let len = u32::from_le_bytes(len4) as usize;
    if !(2..=MAX_BODY_BYTES).contains(&len) {
        return Err(RecordFault::BadLength { len: len as u64 });
    }
    if rest.len() - FRAME_LEN < len {
        return Err(RecordFault::Truncated);
    }
    let body = &rest[FRAME_LEN..FRAME_LEN + len];
    if Sha256::digest(body)[..8] != rest[4..12] {
        return Err(RecordFault::Checksum);
    }
    let id_len = body[0] as usize;
    if id_len > MAX_ID_BYTES || 1 + id_len >= body.len() {
        return Err(RecordFault::Body {
            reason: format!("id length {id_len} does not fit the record"),
        });
    }
    let id = std::str::from_utf8(&body[1..1 + id_len]).map_err(|_| RecordFault::Body {
        reason: "id is not UTF-8".into(),
    })?;
    Ok((id, &body[1 + id_len..], pos + FRAME_LEN + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_model::Attrs;

    fn event(seq: u64, time: i64) -> Event {
        Event {
            seq,
            time,
            kind: "k".into(),
            actor: "user".into(),
            attrs: Attrs::new(),
            sig: None,
        }
    }

    fn segment(n: u64) -> Vec<u8> {
        let mut buf = header(5).to_vec();
        for i in 0..n {
            encode_record(
                &mut buf,
                &format!("id-{i}"),
                &event(5 + i, 100 + i as i64).encode(),
            );
        }
        buf
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(42), "00000000000000000042.seg");
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
    }

    #[test]
    fn scans_clean_segment() {
        let buf = segment(3);
        check_header(Path::new("x"), &buf, 5).expect("good header");
        let s = scan(&buf, 5, None);
        assert!(s.fault.is_none());
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.records[2].id, "id-2");
        assert_eq!(s.good_len, buf.len() as u64);
    }

    #[test]
    fn every_truncation_stops_at_a_record_boundary() {
        let buf = segment(3);
        let s = scan(&buf, 5, None);
        let ends: Vec<u64> = s
            .records
            .iter()
            .skip(1)
            .map(|r| r.offset)
            .chain([buf.len() as u64])
            .collect();
        for cut in HEADER_LEN..buf.len() {
            let s = scan(&buf[..cut], 5, None);
            assert!(s.good_len as usize <= cut);
            assert!(s.good_len == HEADER_LEN as u64 || ends.contains(&s.good_len));
            assert_eq!(s.fault.is_none(), s.good_len as usize == cut);
        }
    }

    #[test]
    fn every_event_record_is_recognised_after_a_bad_one() {
        // The prefilter must accept every record the recorder writes,
        // signed or not, with or without an id.
        let mut signed = event(6, 101);
        signed.sig = Some([7; 64]);
        for (id, e) in [("", event(6, 101)), ("some-id", signed)] {
            let mut buf = segment(1);
            let bad_at = buf.len();
            encode_record(&mut buf, "x", &event(6, 100).encode());
            buf[bad_at + 20] ^= 1;
            let good_at = buf.len();
            let mut e = e;
            e.seq = 7;
            encode_record(&mut buf, id, &e.encode());
            assert_eq!(
                after_bad_record(&buf, bad_at),
                After::Record(good_at as u64)
            );
            // Without the good record, nothing follows: a torn tail.
            assert_eq!(after_bad_record(&buf[..good_at], bad_at), After::Nothing);
        }
        // Zeros (a torn page) and truncation hold no record.
        let mut buf = segment(1);
        let at = buf.len();
        buf.extend_from_slice(&[0u8; 5000]);
        assert_eq!(after_bad_record(&buf, at), After::Nothing);
    }

    #[test]
    fn crafted_candidates_are_bounded() {
        // Many record-shaped runs with bad checksums: the search stops.
        let mut buf = segment(0);
        let at = buf.len();
        for _ in 0..200 {
            let mut r = Vec::new();
            encode_record(&mut r, "", &event(0, 1).encode());
            r[5] ^= 1;
            buf.extend_from_slice(&r);
        }
        assert_eq!(after_bad_record(&buf, at), After::Undecided);
    }

    #[test]
    fn a_submission_entry_rides_in_its_first_record() {
        let entry = Entry {
            party: "user".into(),
            id: "s-1".into(),
            first: 5,
            count: 2,
            sig: vec![9; 80],
        };
        let mut buf = header(5).to_vec();
        encode_record_with(&mut buf, "", &event(5, 100).encode(), Some(&entry));
        encode_record(&mut buf, "", &event(6, 101).encode());
        let s = scan(&buf, 5, None);
        assert!(s.fault.is_none(), "{:?}", s.fault);
        assert_eq!(s.records[0].entry.as_ref(), Some(&entry));
        assert_eq!(s.records[0].cbor, event(5, 100).encode());
        assert!(s.records[1].entry.is_none());
        // The entry must name its own record's seq.
        let mut bad = header(5).to_vec();
        let wrong = Entry { first: 4, ..entry };
        encode_record_with(&mut bad, "", &event(5, 100).encode(), Some(&wrong));
        assert!(matches!(
            scan(&bad, 5, None).fault,
            Some(RecordFault::Body { .. })
        ));
        // A record with an entry is found after a bad one.
        let at = buf.len();
        encode_record(&mut buf, "", &event(7, 102).encode());
        buf[at + 20] ^= 1;
        let good_at = buf.len();
        let e8 = Entry {
            first: 8,
            ..wrong.clone()
        };
        encode_record_with(&mut buf, "", &event(8, 103).encode(), Some(&e8));
        assert_eq!(after_bad_record(&buf, at), After::Record(good_at as u64));
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let buf = segment(2);
        for pos in HEADER_LEN..buf.len() {
            let mut bad = buf.clone();
            bad[pos] ^= 0x10;
            let s = scan(&bad, 5, None);
            assert!(s.fault.is_some(), "flip at {pos} undetected");
        }
    }
}
