//! The cfr recorder: a durable, append-only, tamper-evident log of one
//! contract's events, with signed checkpoints, proofs, an HTTP ingest
//! server and a client.
//!
//! ```
//! use cfr_model::{Attrs, Value};
//! use cfr_recorder::{init, Recorder, RecorderOptions, Submission};
//!
//! let recorder_key = cfr_model::keys::SigningKey::from_bytes(&[7; 32]);
//! let party = cfr_model::keys::PublicKey(cfr_model::keys::SigningKey::from_bytes(&[1; 32]).verifying_key());
//! let contract = format!(r#"
//! format = "cfr-contract/1"
//! id = "demo"
//! title = "Demo"
//! [parties]
//! provider = {{ name = "P", key = "{party}" }}
//! user = {{ name = "U", key = "{party}" }}
//! recorder = {{ name = "R", key = "{}" }}
//! [events.request]
//! by = "user"
//! attrs = {{ id = "text" }}
//! "#, cfr_model::keys::PublicKey(recorder_key.verifying_key()));
//!
//! let dir = tempfile::tempdir()?;
//! init(dir.path(), &contract)?;
//! let log = Recorder::open(dir.path(), RecorderOptions { key: Some(recorder_key), ..Default::default() })?;
//!
//! // Appends are acknowledged once they are on disk.
//! let mut attrs = Attrs::new();
//! attrs.insert("id", Value::Text("r-1".into()));
//! let sub = Submission::new("request", "user", attrs).with_id("req-1");
//! let receipts = log.append(vec![sub.clone()])?;
//! assert_eq!(receipts[0].seq, 0);
//! // The same id again gives the original receipt, not a second event.
//! assert!(log.append(vec![sub])?[0].duplicate);
//!
//! // A signed checkpoint, and a proof that event 0 is under it.
//! let checkpoint = log.sign_checkpoint()?;
//! let proof = log.inclusion_proof(0, checkpoint.checkpoint().size)?;
//! cfr_merkle::verify_inclusion(0, proof.size, &receipts[0].leaf, &proof.path, &checkpoint.checkpoint().root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concepts
//!
//! * A **log directory** ([`init`]) holds `contract.toml` (the contract
//!   the log is bound to), `segments/` (the records, see [`segment`]),
//!   `checkpoint` (the last signed checkpoint, a C2SP signed note),
//!   `acked` (the acknowledgement mark, see [`ACKED_FILE`]), `LOCK`, and, after recoveries, `torn/` and `quarantine/`.
//! * The **[`Recorder`]** owns an open log. [`Recorder::append`] checks
//!   submissions against the contract (kind, actor, attributes, and the
//!   actor's signature where the contract requires one), then hands them
//!   to a writer thread that **group-commits**: it takes every request
//!   waiting, assigns seq and a non-decreasing recorder time, writes all
//!   their records in one `write` and one `fdatasync`, and only then
//!   acknowledges each with a [`Receipt`] (seq, time, leaf hash). A
//!   request is all or nothing.
//! * **Crash safety**: the writer syncs a batch, then raises the
//!   **acknowledgement mark** (`acked`, the number of events ever
//!   acknowledged) and syncs it, and only then acknowledges. On open the
//!   signed checkpoint and the mark are read first, then every record's
//!   length, check, decoding, seq and time. A torn tail is only what a torn
//!   write can leave: an incomplete or checksum-failing last record, with
//!   no valid record after it, in the last segment, above the mark. Its
//!   bytes are kept in `torn/` and it is cut. Anything else (a bad record
//!   below the mark or the checkpoint, a checksum-valid record that does not
//!   decode or is out of order, a valid record after a bad one, a log
//!   shorter than the mark) makes open refuse ([`OpenError::Corrupt`],
//!   [`OpenError::AcknowledgedMissing`]), naming the segment, byte offset
//!   and seq, and change nothing on disk. [`repair`] moves a bad tail into
//!   `quarantine/` only when no checkpoint covers it and it lies above the
//!   mark, and says exactly what it moved ([`Moved`]). So no seq a client
//!   was ever given is handed out again, whatever the damage.
//! * **Checkpoints** ([`Recorder::sign_checkpoint`]) are signed over the
//!   durable tree only and persisted before they are returned; on open the
//!   tree's root at the stored checkpoint's size must equal it, so the
//!   recorder never signs two inconsistent checkpoints.
//! * **Idempotency**: a submission may carry a client-chosen `id`; the
//!   recorder stores it in the record (not in the event) and answers a
//!   repeated id with the original receipt ([`submission`]).
//! * [`server`] serves the log over HTTP; [`client`] is a blocking client;
//!   [`seal`] seals a prefix of the log into a bundle and proves two seals
//!   consistent.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod acked;
pub mod client;
pub mod error;
mod recorder;
pub mod seal;
pub mod segment;
pub mod server;
pub mod submission;

pub use acked::{parse_acked, ACKED_FILE};
pub use error::{
    AppendError, CheckpointError, InitError, NotTorn, OpenError, ProofError, ReadError, RepairError,
};
pub use recorder::{
    count_events, for_each_event, init, inspect, repair, submissions, ConsistencyProof,
    InclusionProof, Moved, Receipt, Recorder, RecorderOptions, Recovery, CHECKPOINT_FILE,
    CONTRACT_FILE, LOCK_FILE, MAX_BATCH_BYTES, MAX_REQUEST_BYTES, QUARANTINE_DIR, SEGMENTS_DIR,
    TORN_DIR,
};
pub use submission::{Refusal, Rejection, SignedSubmission, Submission, Verified};
