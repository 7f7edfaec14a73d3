//! Receipts (`cfr-receipt/1`): what the recorder hands a party for every
//! submission it acknowledges, so that the party can later prove what the
//! recorder promised.
//!
//! A receipt names the submission (contract, party, id), the seq, time and
//! RFC 9162 leaf hash the recorder gave each of its events, a checkpoint
//! the recorder signed right after the group commit that made them durable
//! (a C2SP signed note, with any witness cosignatures), and a range proof
//! that the events' leaves stand at `[first, first + count)` in the tree
//! that checkpoint signs. The proof has O(log n) hashes whatever the
//! submission's size (see [`cfr_merkle::verify_range`] for its layout).
//!
//! ```text
//! { "id": tstr, "count": uint, "first": uint, "party": tstr,
//!   "proof": [* bstr .size 32], "events": [+ { "seq": uint, "leaf": bstr .size 32, "time": int }],
//!   "format": "cfr-receipt/1", "contract": tstr, "checkpoint": tstr }
//! ```
//!
//! encoded as canonical CBOR (keys in that order: RFC 8949 section 4.2.1),
//! `schemas/receipt.cddl`. Nothing in a receipt is trusted until
//! [`Receipt::verify`] has checked the checkpoint's signature under the
//! recorder's key and the range proof against its root: a verified receipt
//! is the recorder's own signed statement, which a party can hold against
//! it.

use cfr_merkle::{Checkpoint, Hash, SignedCheckpoint};
use cfr_model::cbor::{write_head, CborError, Decoder};
use cfr_model::Event;
use ed25519_dalek::VerifyingKey;

/// The format string of a receipt.
pub const FORMAT: &str = "cfr-receipt/1";
/// Largest receipt accepted, in bytes.
pub const MAX_RECEIPT_BYTES: usize = 8 << 20;
/// Longest checkpoint note in a receipt (a note with many cosignatures).
pub const MAX_CHECKPOINT_BYTES: usize = 64 << 10;
/// Most hashes in a range proof (two per level of a 2^64-leaf tree).
pub const MAX_PROOF_HASHES: usize = 130;

/// What the recorder assigned one event of the submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventReceipt {
    /// The event's position in the log.
    pub seq: u64,
    /// Recorder time, ns since the epoch.
    pub time: i64,
    /// RFC 9162 leaf hash of the event's canonical CBOR.
    pub leaf: Hash,
}

/// A receipt for one acknowledged submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The contract id.
    pub contract: String,
    /// The submitting party (a role or an attestor id).
    pub party: String,
    /// The submission id.
    pub id: String,
    /// Seq of its first event.
    pub first: u64,
    /// Its events, in order, from `first`.
    pub events: Vec<EventReceipt>,
    /// The signed checkpoint (C2SP signed note) of a tree holding them.
    pub checkpoint: String,
    /// The range proof of `events` in that tree.
    pub proof: Vec<Hash>,
}

/// Why a receipt is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Not a canonical `cfr-receipt/1` map.
    #[error("not a cfr-receipt/1: {0}")]
    Malformed(String),
    /// The checkpoint is not a signed note by the recorder of this contract.
    #[error("its checkpoint is not signed by this contract's recorder: {0}")]
    Checkpoint(String),
    /// The range proof does not place the events in the signed tree.
    #[error("its range proof does not place seqs {first}-{last} in the signed tree of {size} events: {reason}")]
    Proof {
        /// First seq.
        first: u64,
        /// Last seq.
        last: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        reason: String,
    },
    /// The events do not match the ones the party submitted.
    #[error("event {index} of the submission: {reason}")]
    Event {
        /// Index in the submission, from 0.
        index: usize,
        /// What differs.
        reason: String,
    },
}

fn text(buf: &mut Vec<u8>, s: &str) {
    write_head(buf, 3, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

fn bytes(buf: &mut Vec<u8>, b: &[u8]) {
    write_head(buf, 2, b.len() as u64);
    buf.extend_from_slice(b);
}

fn int(buf: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_head(buf, 0, v as u64);
    } else {
        write_head(buf, 1, (-1 - v) as u64);
    }
}

impl Receipt {
    /// Seq one past the last event.
    pub fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    /// The canonical CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(256 + self.events.len() * 56 + self.proof.len() * 34);
        write_head(&mut buf, 5, 9);
        text(&mut buf, "id");
        text(&mut buf, &self.id);
        text(&mut buf, "count");
        write_head(&mut buf, 0, self.events.len() as u64);
        text(&mut buf, "first");
        write_head(&mut buf, 0, self.first);
        text(&mut buf, "party");
        text(&mut buf, &self.party);
        text(&mut buf, "proof");
        write_head(&mut buf, 4, self.proof.len() as u64);
        for h in &self.proof {
            bytes(&mut buf, h);
        }
        text(&mut buf, "events");
        write_head(&mut buf, 4, self.events.len() as u64);
        for e in &self.events {
            write_head(&mut buf, 5, 3);
            text(&mut buf, "seq");
            write_head(&mut buf, 0, e.seq);
            text(&mut buf, "leaf");
            bytes(&mut buf, &e.leaf);
            text(&mut buf, "time");
            int(&mut buf, e.time);
        }
        text(&mut buf, "format");
        text(&mut buf, FORMAT);
        text(&mut buf, "contract");
        text(&mut buf, &self.contract);
        text(&mut buf, "checkpoint");
        text(&mut buf, &self.checkpoint);
        buf
    }

    /// Decodes a receipt strictly: canonical CBOR, exactly these keys, the
    /// format string, events numbered from `first` without gaps, sizes
    /// within bounds. Says nothing of its truth: see [`Receipt::verify`].
    pub fn decode(buf: &[u8]) -> Result<Receipt, ReceiptError> {
        if buf.len() > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::Malformed(format!(
                "{} bytes, more than the {MAX_RECEIPT_BYTES} allowed",
                buf.len()
            )));
        }
        let mut d = Decoder::new(buf);
        let r = decode_map(&mut d).map_err(|e| ReceiptError::Malformed(e.to_string()))?;
        d.finish()
            .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
        Ok(r)
    }

    /// The checkpoint, parsed (not verified).
    pub fn signed_checkpoint(&self) -> Result<SignedCheckpoint, ReceiptError> {
        SignedCheckpoint::parse(self.checkpoint.as_bytes())
            .map_err(|e| ReceiptError::Checkpoint(e.to_string()))
    }

    /// Checks that the recorder with `recorder_key` signed the checkpoint
    /// for this receipt's contract (origin `cfr/<contract>`), that the
    /// tree it signs holds every event, and that the range proof places
    /// the events' leaves at their seqs in it. Returns the checkpoint.
    pub fn verify(&self, recorder_key: &VerifyingKey) -> Result<Checkpoint, ReceiptError> {
        let origin = crate::seal::origin(&self.contract);
        let signed = self.signed_checkpoint()?;
        let cp = signed
            .verify(&origin, recorder_key)
            .map_err(|e| ReceiptError::Checkpoint(e.to_string()))?
            .clone();
        if cp.origin != origin {
            return Err(ReceiptError::Checkpoint(format!(
                "origin {:?}, not {origin:?}",
                cp.origin
            )));
        }
        let leaves: Vec<Hash> = self.events.iter().map(|e| e.leaf).collect();
        cfr_merkle::verify_range(
            self.first,
            self.end(),
            cp.size,
            &leaves,
            &self.proof,
            &cp.root,
        )
        .map_err(|e| ReceiptError::Proof {
            first: self.first,
            last: self.end().saturating_sub(1),
            size: cp.size,
            reason: e.to_string(),
        })?;
        Ok(cp)
    }

    /// Checks that this receipt is for the events the party submitted:
    /// each event, with the seq and time the receipt gives it, has the
    /// receipt's leaf hash. What a client does before it trusts a receipt
    /// (with [`Receipt::verify`]).
    pub fn matches(&self, events: &[Event]) -> Result<(), ReceiptError> {
        if events.len() != self.events.len() {
            return Err(ReceiptError::Event {
                index: events.len().min(self.events.len()),
                reason: format!(
                    "the receipt holds {} events; the submission {}",
                    self.events.len(),
                    events.len()
                ),
            });
        }
        for (index, (e, r)) in events.iter().zip(&self.events).enumerate() {
            let mut e = e.clone();
            e.seq = r.seq;
            e.time = r.time;
            let leaf = cfr_merkle::leaf_hash(&e.encode());
            if leaf != r.leaf {
                return Err(ReceiptError::Event {
                    index,
                    reason: format!(
                        "the event with seq {} and time {} has leaf hash {}, the receipt says {}",
                        r.seq,
                        r.time,
                        crate::hex(&leaf),
                        crate::hex(&r.leaf)
                    ),
                });
            }
        }
        Ok(())
    }
}

fn key(d: &mut Decoder<'_>, want: &str) -> Result<(), CborError> {
    let at = d.position();
    let k = d.text()?;
    if k == want {
        Ok(())
    } else {
        Err(d.unexpected(at, format!("key {k:?} where {want:?} was expected")))
    }
}

fn hash(d: &mut Decoder<'_>) -> Result<Hash, CborError> {
    let at = d.position();
    let b = d.bytes()?;
    <Hash>::try_from(b)
        .map_err(|_| d.unexpected(at, format!("a hash of {} bytes, not 32", b.len())))
}

fn decode_map(d: &mut Decoder<'_>) -> Result<Receipt, CborError> {
    let start = d.position();
    let n = d.map_len()?;
    if n != 9 {
        return Err(d.unexpected(start, format!("a map of {n} entries, not 9")));
    }
    key(d, "id")?;
    let at = d.position();
    let id = d.text()?.to_owned();
    crate::submission::check_id(&id).map_err(|why| d.unexpected(at, why))?;
    key(d, "count")?;
    let at = d.position();
    let count = d.uint()?;
    if count == 0 || count > crate::submission::MAX_EVENTS {
        return Err(d.unexpected(
            at,
            format!(
                "count {count}: a submission holds 1 to {} events",
                crate::submission::MAX_EVENTS
            ),
        ));
    }
    key(d, "first")?;
    let first = d.uint()?;
    if first.checked_add(count).is_none() {
        return Err(d.unexpected(at, "first + count overflows"));
    }
    key(d, "party")?;
    let party = d.text()?.to_owned();
    key(d, "proof")?;
    let at = d.position();
    let n = d.array_len()?;
    if n as usize > MAX_PROOF_HASHES {
        return Err(d.unexpected(
            at,
            format!("a proof of {n} hashes, more than {MAX_PROOF_HASHES}"),
        ));
    }
    let mut proof = Vec::with_capacity(n as usize);
    for _ in 0..n {
        proof.push(hash(d)?);
    }
    key(d, "events")?;
    let at = d.position();
    let n = d.array_len()?;
    if n != count {
        return Err(d.unexpected(at, format!("{n} events where count says {count}")));
    }
    let mut events = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = d.position();
        if d.map_len()? != 3 {
            return Err(d.unexpected(at, "an event receipt is a map of seq, leaf and time"));
        }
        key(d, "seq")?;
        let seq_at = d.position();
        let seq = d.uint()?;
        if seq != first + i {
            return Err(d.unexpected(
                seq_at,
                format!("seq {seq} where {} was expected", first + i),
            ));
        }
        key(d, "leaf")?;
        let leaf = hash(d)?;
        key(d, "time")?;
        let time = d.int()?;
        events.push(EventReceipt { seq, time, leaf });
    }
    key(d, "format")?;
    let at = d.position();
    let format = d.text()?;
    if format != FORMAT {
        return Err(d.unexpected(at, format!("format {format:?}, not {FORMAT:?}")));
    }
    key(d, "contract")?;
    let contract = d.text()?.to_owned();
    key(d, "checkpoint")?;
    let at = d.position();
    let checkpoint = d.text()?;
    if checkpoint.len() > MAX_CHECKPOINT_BYTES {
        return Err(d.unexpected(at, "a checkpoint note longer than 64 KiB"));
    }
    Ok(Receipt {
        contract,
        party,
        id,
        first,
        events,
        checkpoint: checkpoint.to_owned(),
        proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_merkle::Tree;
    use ed25519_dalek::SigningKey;

    fn event(i: u64) -> Event {
        Event {
            seq: i,
            time: 1_000 + i as i64,
            kind: "request".into(),
            actor: "user".into(),
            attrs: Default::default(),
            sig: None,
        }
    }

    fn receipt(first: u64, count: u64, size: u64) -> (Receipt, SigningKey, Vec<Event>) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let events: Vec<Event> = (0..size).map(event).collect();
        let tree: Tree = events
            .iter()
            .map(|e| cfr_merkle::leaf_hash(&e.encode()))
            .collect();
        let origin = crate::seal::origin("c-1");
        let cp = Checkpoint {
            origin: origin.clone(),
            size,
            root: tree.root(),
        }
        .sign(&key, &origin)
        .expect("sign");
        let r = Receipt {
            contract: "c-1".into(),
            party: "user".into(),
            id: "s-1".into(),
            first,
            events: (first..first + count)
                .map(|s| EventReceipt {
                    seq: s,
                    time: events[s as usize].time,
                    leaf: tree.leaf(s).expect("leaf"),
                })
                .collect(),
            checkpoint: cp.to_note(),
            proof: tree.range_proof(first, first + count, size).expect("proof"),
        };
        let mine = events[first as usize..(first + count) as usize]
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.seq = 0;
                e.time = 0;
                e
            })
            .collect();
        (r, key, mine)
    }

    #[test]
    fn a_receipt_round_trips_and_verifies() {
        let (r, key, mine) = receipt(5, 3, 20);
        let bytes = r.encode();
        let back = Receipt::decode(&bytes).expect("decode");
        assert_eq!(back, r);
        let cp = back.verify(&key.verifying_key()).expect("verify");
        assert_eq!(cp.size, 20);
        back.matches(&mine).expect("matches");
        // Canonical: ciborium reads the same map, keys in canonical order.
        let v: ciborium::Value = ciborium::from_reader(&bytes[..]).expect("ciborium");
        let keys: Vec<String> = v
            .as_map()
            .expect("map")
            .iter()
            .map(|(k, _)| k.as_text().expect("text").to_owned())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "count",
                "first",
                "party",
                "proof",
                "events",
                "format",
                "contract",
                "checkpoint"
            ]
        );
    }

    #[test]
    fn a_receipt_with_a_wrong_leaf_or_key_or_proof_does_not_verify() {
        let (r, key, mine) = receipt(0, 4, 9);
        let mut bad = r.clone();
        bad.events[2].leaf[0] ^= 1;
        assert!(matches!(
            bad.verify(&key.verifying_key()),
            Err(ReceiptError::Proof { .. })
        ));
        assert!(matches!(
            bad.matches(&mine),
            Err(ReceiptError::Event { index: 2, .. })
        ));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            r.verify(&other.verifying_key()),
            Err(ReceiptError::Checkpoint(_))
        ));
        let mut bad = r.clone();
        bad.contract = "c-2".into();
        assert!(matches!(
            bad.verify(&key.verifying_key()),
            Err(ReceiptError::Checkpoint(_))
        ));
        let mut bad = r.clone();
        bad.proof.pop();
        assert!(matches!(
            bad.verify(&key.verifying_key()),
            Err(ReceiptError::Proof { .. })
        ));
        let mut other_events = mine.clone();
        other_events[1].actor = "provider".into();
        assert!(r.matches(&other_events).is_err());
    }

    #[test]
    fn hostile_bytes_are_refused_with_a_reason() {
        let (r, _, _) = receipt(1, 2, 3);
        let bytes = r.encode();
        for cut in 0..bytes.len() {
            assert!(Receipt::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut gap = r.clone();
        gap.events[1].seq = 9;
        let e = Receipt::decode(&gap.encode()).expect_err("gap");
        assert!(e.to_string().contains("seq 9 where 2 was expected"), "{e}");
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Receipt::decode(&trailing).is_err());
    }
}
