//! A C2SP `tlog-witness` for cfr logs, and the client a recorder uses to
//! gather a quorum of witness cosignatures.
//!
//! ```
//! use cfr_merkle::ed25519_dalek::SigningKey;
//! use cfr_merkle::{leaf_hash, Checkpoint, Tree};
//! use cfr_witness::{AddCheckpoint, Log, Witness};
//!
//! let recorder = SigningKey::from_bytes(&[7; 32]);
//! let witness_key = SigningKey::from_bytes(&[9; 32]);
//! let origin = "cfr/contract-42";
//! let state = tempfile::tempdir()?;
//! let witness = Witness::open(
//!     state.path(),
//!     "acme-witness",
//!     witness_key.clone(),
//!     [Log { origin: origin.into(), key: recorder.verifying_key() }],
//! )?;
//!
//! // The recorder's log grows from 2 to 3 events.
//! let mut tree = Tree::from_leaves([leaf_hash(b"e0"), leaf_hash(b"e1")]);
//! let first = Checkpoint { origin: origin.into(), size: 2, root: tree.root() }.sign(&recorder, origin)?;
//! witness.add_checkpoint(&AddCheckpoint::body(0, &[], &first.to_note()))?;
//! tree.push(leaf_hash(b"e2"));
//! let mut next = Checkpoint { origin: origin.into(), size: 3, root: tree.root() }.sign(&recorder, origin)?;
//! let proof = tree.consistency_proof(2, 3)?;
//! let line = witness.add_checkpoint(&AddCheckpoint::body(2, &proof, &next.to_note()))?;
//!
//! // The answer is a cosignature/v1 line over the checkpoint.
//! next.add_signature_line(&line)?;
//! let cosigned = next.verify_cosignature("acme-witness", &witness_key.verifying_key())?;
//! assert!(cosigned.timestamp > 0);
//!
//! // A stale old size is a conflict naming the size the witness holds.
//! let stale = witness.add_checkpoint(&AddCheckpoint::body(0, &[], &next.to_note()));
//! assert_eq!(stale.map_err(|r| r.status()), Err(409));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concepts
//!
//! * **[`Witness`]** knows a set of logs ([`Log`]: an origin and the key
//!   its checkpoints are signed with under the origin's name) and, per
//!   origin, the latest checkpoint it cosigned. It cosigns a checkpoint
//!   (returning a C2SP `tlog-cosignature` `cosignature/v1` line) only when
//!   the request's old size is that checkpoint's size and the consistency
//!   proof from it verifies. Checking, signing and persisting happen under
//!   one lock, and the new checkpoint is on disk before the answer is
//!   returned, so a witness never cosigns two inconsistent checkpoints of
//!   one origin, across restarts and crashes included. Every refusal is a
//!   [`Refusal`] with the HTTP status `tlog-witness` prescribes.
//! * **The state directory** (layout in [`state`]) holds the latest
//!   cosigned checkpoint per origin and a lock. Offered a checkpoint of
//!   the size it cosigned with another root, a witness refuses and keeps
//!   both signed notes as **evidence** of a split view ([`Evidence`]).
//! * **[`server`]** is the HTTP interface: `POST /add-checkpoint`, and
//!   `GET /<sha256(origin)>/checkpoint` for monitors.
//! * **[`WitnessSet`]** is the blocking client: it asks each witness in
//!   parallel, verifies every cosignature against the witness's name and
//!   key, retries once from the size a `409` names, and returns the
//!   checkpoint with the cosignatures when a quorum verified
//!   ([`QuorumError`] names each witness that did not, and why).
//! * **[`equivocation::check`]** proves a split view offline from two
//!   signed checkpoints: one size with two roots, or one leaf shown
//!   different by inclusion proofs ([`LeafProofs`]).
//!
//! [`AddCheckpoint`] parses request bodies strictly (bounded, no panics on
//! any input).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod client;
pub mod equivocation;
mod request;
pub mod server;
pub mod state;
mod witness;

pub use client::{ConfigError, ProofFor, QuorumError, WitnessEndpoint, WitnessFailure, WitnessSet};
pub use equivocation::{Equivocation, LeafProof, LeafProofs, NotProven};
pub use request::{AddCheckpoint, RequestError, MAX_PROOF_LINES, MAX_REQUEST_LEN};
pub use state::{origin_hash, Evidence, StateError};
pub use witness::{AfterPersist, Inconsistency, Log, OpenError, Refusal, Witness};
