//! RFC 9162 Merkle trees, proofs and C2SP signed checkpoints for cfr logs.
//!
//! ```
//! use cfr_merkle::ed25519_dalek::SigningKey;
//! use cfr_merkle::{leaf_hash, verify_inclusion, Checkpoint, RootBuilder, SignedCheckpoint, Tree};
//!
//! // Leaves are the canonical CBOR of events; here, any bytes.
//! let events: [&[u8]; 3] = [b"event 0", b"event 1", b"event 2"];
//! let tree = Tree::from_leaves(events.iter().map(|e| leaf_hash(e)));
//!
//! // A verifier streams the events and needs only O(log n) memory.
//! let mut builder = RootBuilder::new();
//! for event in events {
//!     builder.push(leaf_hash(event));
//! }
//! assert_eq!(builder.root(), tree.root());
//!
//! // Prove that event 1 is in the log of size 3.
//! let proof = tree.inclusion_proof(1, 3)?;
//! verify_inclusion(1, 3, &leaf_hash(b"event 1"), &proof, &tree.root())?;
//!
//! // The recorder signs a checkpoint; anyone holding its key verifies it.
//! let recorder = SigningKey::from_bytes(&[7; 32]);
//! let checkpoint = Checkpoint { origin: "cfr/contract-42".into(), size: tree.size(), root: tree.root() };
//! let note = checkpoint.sign(&recorder, "cfr/contract-42")?.to_note();
//! let parsed = SignedCheckpoint::parse(note.as_bytes())?;
//! let verified = parsed.verify("cfr/contract-42", &recorder.verifying_key())?;
//! assert_eq!(verified.size, 3);
//!
//! // A witness cosigns it (C2SP cosignature/v1, timestamped).
//! let witness = SigningKey::from_bytes(&[8; 32]);
//! let mut cosigned = parsed.clone();
//! cosigned.cosign(&witness, "acme-witness", 1_780_000_000)?;
//! let c = cosigned.verify_cosignature("acme-witness", &witness.verifying_key())?;
//! assert_eq!(c.timestamp, 1_780_000_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concepts
//!
//! * **Hashes** ([`leaf_hash`], [`node_hash`], [`empty_root`]) follow
//!   RFC 9162 section 2.1.1, so any RFC 9162 / RFC 6962 implementation
//!   recomputes the same root.
//! * **[`RootBuilder`]** computes a root from a stream of leaf hashes with
//!   a fixed 2 KiB state (the compact range of perfect subtrees): what
//!   bundle verification uses over millions of events.
//! * **[`InclusionProofBuilder`]** computes one leaf's inclusion proof
//!   from the same stream, also in O(log n) memory (what a bundle reader
//!   uses to prove one event without holding the others).
//! * **[`Tree`]** keeps every level in memory and answers, for any past
//!   size, the root, inclusion proofs, consistency proofs and range proofs
//!   (what a recorder serves).
//! * **Verification** ([`verify_inclusion`], [`verify_consistency`],
//!   [`verify_range`]) needs no tree: only the claimed sizes, roots and
//!   proof hashes. Inclusion and consistency proofs are RFC 9162's; the
//!   range proof, used for excerpts, is documented at [`verify_range`].
//! * **[`Checkpoint`]** is a signed tree head in the C2SP `tlog-checkpoint`
//!   format; [`SignedCheckpoint`] is its C2SP `signed-note` form with
//!   Ed25519 signatures: the recorder's under the origin's name
//!   (`cfr/<contract id>`), and the provider's and user's cosignatures as
//!   further plain Ed25519 note signatures over the same text under their
//!   own key names.
//! * **Witness cosignatures** are C2SP `tlog-cosignature` `cosignature/v1`
//!   lines (timestamped Ed25519, signature type `0x04`):
//!   [`SignedCheckpoint::cosign`] adds one,
//!   [`SignedCheckpoint::verify_cosignature`] verifies one by a witness
//!   name and key, [`SignedCheckpoint::add_signature_line`] carries a line
//!   a witness answered.
//!
//! Errors are typed per operation: [`ProofError`] (a proof does not prove
//! what it claims), [`TreeError`] (a question the tree cannot answer) and
//! [`CheckpointError`] (a malformed note or a failed signature). No
//! function panics on untrusted input.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod checkpoint;
mod cosignature;
mod hash;
mod proof;
mod proof_builder;
mod tree;

pub use builder::RootBuilder;
pub use checkpoint::{
    key_id, Checkpoint, CheckpointError, NoteSignature, SignatureLineFault, SignedCheckpoint,
    MAX_LINE_LEN, MAX_NOTE_LEN, MAX_SIGNATURES,
};
pub use cosignature::{
    cosignature_key_id, cosignature_message, parse_signature_lines, Cosigned, COSIGNATURE_V1_TYPE,
    MAX_COSIGNATURE_TIME,
};
pub use hash::{empty_root, leaf_hash, node_hash, Hash};
pub use proof::{
    root_from_inclusion_proof, verify_consistency, verify_inclusion, verify_range, ProofError,
};
pub use proof_builder::InclusionProofBuilder;
pub use tree::{MemNodes, NodeStore, Tree, TreeError};

/// The Ed25519 implementation used for checkpoint signatures, re-exported
/// so callers use the same version.
pub use ed25519_dalek;
