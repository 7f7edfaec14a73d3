//! Proving one event: an [`EventProof`] shows that one event is in the log
//! a recorder signed, to someone who holds only the proof and the
//! recorder's key, not the bundle.
//!
//! [`Prove::inclusion_proof`] computes one in a single pass over the
//! events, one chunk in memory at a time; [`EventProof::verify`] (or
//! [`EventProof::verify_against`], with a checkpoint obtained elsewhere)
//! checks it and yields the [`VerifiedEvent`]. [`EventProof::to_cbor`]
//! and [`EventProof::from_cbor`] give it a canonical file form,
//! `cfr-event-proof/1`:
//!
//! ```cddl
//! event-proof = {
//!   "seq": uint,                   ; the event's seq = its leaf index
//!   "leaf": bstr .size 32,         ; SHA-256(0x00 || event)
//!   "path": [* bstr .size 32],     ; RFC 9162 inclusion proof, leaf up
//!   "event": bstr,                 ; the event's canonical CBOR (schemas/event.cddl)
//!   "format": "cfr-event-proof/1",
//!   "checkpoint": tstr,            ; the signed note of log/checkpoint
//! }
//! ```
//!
//! deterministically encoded like all cfr CBOR (keys in that order), also
//! in `schemas/event-proof.cddl`. Any RFC 9162 implementation can check the
//! path against the checkpoint's root, and any C2SP signed-note
//! implementation the checkpoint's signature.

use crate::hex;
use cfr_bundle_format::bundle::{Bundle, EventsError, MemberError};
use cfr_merkle::{
    leaf_hash, root_from_inclusion_proof, verify_inclusion, Checkpoint, CheckpointError, Hash,
    InclusionProofBuilder, ProofError, SignedCheckpoint,
};
use cfr_model::cbor::{CborError, Decoder, Encoder};
use cfr_model::keys::PublicKey;
use cfr_model::Event;

/// The `format` of an event proof's CBOR form.
pub const EVENT_PROOF_FORMAT: &str = "cfr-event-proof/1";

/// The most hashes an inclusion proof has (a tree of up to 2^64 leaves).
const MAX_PATH: u64 = 64;

/// One event and the proof that it is in a log a recorder signed:
/// **unverified** until [`verify`](Self::verify) says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventProof {
    /// The event's seq, which is its leaf index in the Merkle tree.
    pub seq: u64,
    /// The event's canonical CBOR, exactly as sealed (what `leaf` hashes).
    pub event: Vec<u8>,
    /// The RFC 9162 leaf hash, `SHA-256(0x00 || event)`.
    pub leaf: Hash,
    /// The RFC 9162 inclusion proof of `leaf` at `seq` in the tree of the
    /// checkpoint's size, ordered from the leaf up.
    pub path: Vec<Hash>,
    /// The signed checkpoint the proof leads to (the bundle's
    /// `log/checkpoint`).
    pub checkpoint: SignedCheckpoint,
}

/// An event proven to be in a log: what [`EventProof::verify`] yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEvent {
    /// The event, decoded.
    pub event: Event,
    /// Its leaf hash.
    pub leaf: Hash,
    /// The checkpoint, whose signature by the recorder's key was verified.
    pub checkpoint: Checkpoint,
}

impl VerifiedEvent {
    /// The id of the contract whose log holds the event, from the
    /// checkpoint's origin `cfr/<contract id>` (signed by the recorder);
    /// `None` when the origin is not of that form. Check it is the
    /// contract you expect.
    pub fn contract_id(&self) -> Option<&str> {
        self.checkpoint.origin.strip_prefix("cfr/")
    }
}

/// Why a bundle could not give an inclusion proof.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// The checkpoint could not be read or parsed.
    #[error("{0}")]
    Checkpoint(#[from] MemberError),
    /// No event has this seq in the log the checkpoint covers.
    #[error("seq {seq} is not in the log: the checkpoint covers {size} events, seqs below {size}")]
    SeqOutOfRange {
        /// The seq asked for.
        seq: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The events could not be read.
    #[error("{0}")]
    Events(#[from] EventsError),
    /// The event at some position of the log does not carry that seq.
    #[error("the event at position {position} of the log carries seq {seq}")]
    SeqMismatch {
        /// Its position (leaf index).
        position: u64,
        /// The seq it carries.
        seq: u64,
    },
    /// The log holds another number of events than the checkpoint covers.
    #[error("the log holds {events} events; the checkpoint covers {size}")]
    SizeMismatch {
        /// Events in the log.
        events: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The events do not lead to the checkpoint's root: the bundle is
    /// damaged or forged (verifying it names the fault).
    #[error("the events' Merkle root {} is not the checkpoint's {}", hex(.computed), hex(.checkpoint))]
    RootMismatch {
        /// The root the events lead to.
        computed: Hash,
        /// The checkpoint's root.
        checkpoint: Hash,
    },
}

impl ProveError {
    /// Stable failure code (the codes `verify` uses where they apply).
    pub fn code(&self) -> &'static str {
        match self {
            ProveError::Checkpoint(e) => e.code(),
            ProveError::SeqOutOfRange { .. } => "seq-out-of-range",
            ProveError::Events(e) => e.code(),
            ProveError::SeqMismatch { .. } => "event-seq-gap",
            ProveError::SizeMismatch { .. } => "checkpoint-size-mismatch",
            ProveError::RootMismatch { .. } => "checkpoint-root-mismatch",
        }
    }
}

/// Why an event proof does not prove its event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventProofError {
    /// The event bytes are not one canonical cfr event.
    #[error("the proven event does not decode: {0}")]
    Event(CborError),
    /// The event carries another seq than the proof's leaf index.
    #[error("the proof is for seq {proof}, but the event carries seq {event}")]
    SeqMismatch {
        /// The proof's seq.
        proof: u64,
        /// The event's seq.
        event: u64,
    },
    /// The leaf hash is not the hash of the event bytes.
    #[error("the leaf hash {} is not the event's ({})", hex(.given), hex(.computed))]
    LeafMismatch {
        /// The proof's leaf hash.
        given: Hash,
        /// `SHA-256(0x00 || event)`.
        computed: Hash,
    },
    /// The checkpoint is not signed by the recorder's key.
    #[error("the checkpoint is not signed by the recorder's key {key}: {source}")]
    Checkpoint {
        /// Fingerprint of the key tried.
        key: String,
        /// What failed.
        source: CheckpointError,
    },
    /// The path does not lead from the leaf to the checkpoint's root.
    #[error(
        "the inclusion proof of seq {seq} fails against the checkpoint of size {size}: {source}"
    )]
    Inclusion {
        /// The proof's seq.
        seq: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        source: ProofError,
    },
}

impl EventProofError {
    /// Stable failure code.
    pub fn code(&self) -> &'static str {
        match self {
            EventProofError::Event(_) => "event-noncanonical",
            EventProofError::SeqMismatch { .. } => "proof-seq-mismatch",
            EventProofError::LeafMismatch { .. } => "proof-leaf-mismatch",
            EventProofError::Checkpoint { .. } => "checkpoint-signature-invalid",
            EventProofError::Inclusion { .. } => "inclusion-proof-invalid",
        }
    }
}

/// Why bytes are not a `cfr-event-proof/1`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofDecodeError {
    /// Not canonical CBOR, or not of the documented shape.
    #[error("event proof: {0}")]
    Cbor(#[from] CborError),
    /// A field has the wrong value.
    #[error("event proof, {field}: {detail}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint is not a signed note.
    #[error("event proof, checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

/// Proofs of inclusion computed from a bundle (`use cfr_verify::proof::Prove`).
pub trait Prove {
    /// The inclusion proof of the event `seq` against the bundle's signed
    /// checkpoint, computed in one pass over the events with one chunk in
    /// memory (O(log n) hashes for the proof itself).
    ///
    /// Nothing is verified here beyond what the computation needs: the
    /// events must frame, carry their positions as seqs, and lead to the
    /// checkpoint's root. Whoever receives the proof checks it with
    /// [`EventProof::verify`] and the recorder's pinned key.
    ///
    /// # Errors
    ///
    /// [`ProveError`]: a seq outside the log, or a bundle whose events or
    /// checkpoint cannot be read or do not agree.
    fn inclusion_proof(&self, seq: u64) -> Result<EventProof, ProveError>;
}

impl Prove for Bundle {
    fn inclusion_proof(&self, seq: u64) -> Result<EventProof, ProveError> {
        let checkpoint = self.checkpoint()?;
        let size = checkpoint.checkpoint().size;
        let mut builder = InclusionProofBuilder::new(seq, size)
            .map_err(|_| ProveError::SeqOutOfRange { seq, size })?;
        let mut event = None;
        let mut position = 0u64;
        for entry in &self.manifest.log.chunks {
            let chunk = self.chunk(entry)?;
            for item in chunk.events() {
                let (e, bytes) = item?;
                if e.seq != position {
                    return Err(ProveError::SeqMismatch {
                        position,
                        seq: e.seq,
                    });
                }
                builder.push(leaf_hash(bytes));
                if position == seq {
                    event = Some(bytes.to_vec());
                }
                position += 1;
            }
        }
        let (Some(event), true) = (event, position == size) else {
            return Err(ProveError::SizeMismatch {
                events: position,
                size,
            });
        };
        let (leaf, path) = builder.finish().map_err(|_| ProveError::SizeMismatch {
            events: position,
            size,
        })?;
        let expected = checkpoint.checkpoint().root;
        let computed = root_from_inclusion_proof(seq, size, &leaf, &path).map_err(|_| {
            ProveError::SizeMismatch {
                events: position,
                size,
            }
        })?;
        if computed != expected {
            return Err(ProveError::RootMismatch {
                computed,
                checkpoint: expected,
            });
        }
        Ok(EventProof {
            seq,
            event,
            leaf,
            path,
            checkpoint,
        })
    }
}

impl EventProof {
    /// Verifies the proof against the checkpoint it carries, signed by the
    /// recorder's `recorder_key` (pinned: obtained from the recorder or the
    /// contract you agreed, never from the bundle itself).
    ///
    /// The verified checkpoint's origin names the contract
    /// ([`VerifiedEvent::contract_id`]): check it is the one you expect.
    ///
    /// # Errors
    ///
    /// [`EventProofError`] naming what does not hold.
    pub fn verify(&self, recorder_key: &PublicKey) -> Result<VerifiedEvent, EventProofError> {
        self.verify_against(&self.checkpoint, recorder_key)
    }

    /// Verifies the proof against `checkpoint` (for instance one the
    /// recorder published, or the one in a filing) signed by
    /// `recorder_key`, ignoring the checkpoint the proof carries.
    ///
    /// Checks, in order: the event decodes canonically and carries the
    /// proof's seq; the leaf hash is the event's; the checkpoint is signed
    /// by `recorder_key` under its origin; the path leads from the leaf at
    /// `seq` to the checkpoint's root (RFC 9162 section 2.1.3.2).
    ///
    /// # Errors
    ///
    /// [`EventProofError`] naming the first check that fails.
    pub fn verify_against(
        &self,
        checkpoint: &SignedCheckpoint,
        recorder_key: &PublicKey,
    ) -> Result<VerifiedEvent, EventProofError> {
        let event = Event::from_cbor(&self.event).map_err(EventProofError::Event)?;
        if event.seq != self.seq {
            return Err(EventProofError::SeqMismatch {
                proof: self.seq,
                event: event.seq,
            });
        }
        let computed = leaf_hash(&self.event);
        if computed != self.leaf {
            return Err(EventProofError::LeafMismatch {
                given: self.leaf,
                computed,
            });
        }
        let origin = &checkpoint.checkpoint().origin;
        let cp = checkpoint
            .verify(origin, &recorder_key.0)
            .map_err(|source| EventProofError::Checkpoint {
                key: recorder_key.fingerprint(),
                source,
            })?;
        verify_inclusion(self.seq, cp.size, &self.leaf, &self.path, &cp.root).map_err(
            |source| EventProofError::Inclusion {
                seq: self.seq,
                size: cp.size,
                source,
            },
        )?;
        Ok(VerifiedEvent {
            event,
            leaf: self.leaf,
            checkpoint: cp.clone(),
        })
    }

    /// The canonical CBOR form, `cfr-event-proof/1` (see the
    /// [module docs](crate::proof)).
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.head(5, 6);
        e.text("seq");
        e.head(0, self.seq);
        e.text("leaf");
        e.bytes(&self.leaf);
        e.text("path");
        e.head(4, self.path.len() as u64);
        for h in &self.path {
            e.bytes(h);
        }
        e.text("event");
        e.bytes(&self.event);
        e.text("format");
        e.text(EVENT_PROOF_FORMAT);
        e.text("checkpoint");
        e.text(&self.checkpoint.to_note());
        e.buf
    }

    /// Decodes the canonical CBOR form strictly: exactly the documented
    /// keys, deterministically encoded, nothing after. Proves nothing: call
    /// [`verify`](Self::verify).
    ///
    /// # Errors
    ///
    /// [`ProofDecodeError`] naming the offending byte or field.
    pub fn from_cbor(bytes: &[u8]) -> Result<EventProof, ProofDecodeError> {
        let mut d = Decoder::new(bytes);
        let at = d.position();
        let n = d.map_len()?;
        if n != 6 {
            return Err(d
                .unexpected(at, format!("a map of {n} entries; an event proof has 6"))
                .into());
        }
        let key = |d: &mut Decoder<'_>, want: &str| -> Result<(), CborError> {
            let at = d.position();
            let k = d.text()?;
            if k == want {
                Ok(())
            } else {
                Err(d.unexpected(at, format!("key {k:?} where {want:?} was expected")))
            }
        };
        let hash = |d: &mut Decoder<'_>, field: &'static str| -> Result<Hash, ProofDecodeError> {
            let b = d.bytes()?;
            b.try_into().map_err(|_| ProofDecodeError::Field {
                field,
                detail: format!("{} bytes; a SHA-256 hash has 32", b.len()),
            })
        };
        key(&mut d, "seq")?;
        let seq = d.uint()?;
        key(&mut d, "leaf")?;
        let leaf = hash(&mut d, "leaf")?;
        key(&mut d, "path")?;
        let len = d.array_len()?;
        if len > MAX_PATH {
            return Err(ProofDecodeError::Field {
                field: "path",
                detail: format!("{len} hashes; an inclusion proof has at most {MAX_PATH}"),
            });
        }
        let mut path = Vec::with_capacity(len as usize);
        for _ in 0..len {
            path.push(hash(&mut d, "path")?);
        }
        key(&mut d, "event")?;
        let event = d.bytes()?.to_vec();
        key(&mut d, "format")?;
        let format = d.text()?;
        if format != EVENT_PROOF_FORMAT {
            return Err(ProofDecodeError::Field {
                field: "format",
                detail: format!("{format:?}; expected {EVENT_PROOF_FORMAT:?}"),
            });
        }
        key(&mut d, "checkpoint")?;
        let checkpoint = SignedCheckpoint::parse(d.text()?.as_bytes())?;
        d.finish()?;
        Ok(EventProof {
            seq,
            event,
            leaf,
            path,
            checkpoint,
        })
    }

    /// A JSON rendering for people and scripts (hashes and the event's
    /// CBOR in lowercase hex; `size` and `root` are the carried
    /// checkpoint's, unverified), in the shape `cfr-bundle log prove`
    /// prints: `{"format", "seq", "size", "leaf", "root", "path": [...],
    /// "event", "checkpoint"}`. The CBOR form is the one to keep.
    pub fn to_json(&self) -> serde_json::Value {
        let cp = self.checkpoint.checkpoint();
        serde_json::json!({
            "format": EVENT_PROOF_FORMAT,
            "seq": self.seq,
            "size": cp.size,
            "leaf": hex(&self.leaf),
            "root": hex(&cp.root),
            "path": self.path.iter().map(|h| hex(h)).collect::<Vec<_>>(),
            "event": hex(&self.event),
            "checkpoint": self.checkpoint.to_note(),
        })
    }
}
