//! The cfr recorder: a durable, append-only, tamper-evident log of one
//! contract's events, with signed checkpoints, proofs, an HTTP ingest
//! server and a client.
//!
//! ```
//! use cfr_model::{Attrs, Value};
//! use cfr_recorder::{init, Recorder, RecorderOptions, SignedSubmission, Submission};
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
//! // The user signs a submission of its events with its contract key; it
//! // is appended once verified, and acknowledged once on disk.
//! let user_key = cfr_model::keys::SigningKey::from_bytes(&[1; 32]);
//! let mut attrs = Attrs::new();
//! attrs.insert("id", Value::Text("r-1".into()));
//! let event = Submission::new("request", "user", attrs).event;
//! let sub = SignedSubmission::sign("demo", "user", "req-1", vec![event], &user_key);
//! let receipts = log.append_signed(sub.clone().verify(log.contract())?)?;
//! assert_eq!(receipts[0].seq, 0);
//! // Its cfr-receipt/1: a checkpoint signed right after the commit, and a
//! // range proof of the submission's events in it.
//! let receipt = receipts.receipt.as_ref().expect("the recorder has its key");
//! receipt.verify(&log.contract().parties.recorder.key.0)?;
//! // The same submission again gives the original receipt, not a second event.
//! assert!(log.append_signed(sub.verify(log.contract())?)?[0].duplicate);
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
//! * **Signed submissions** ([`SignedSubmission`], design section 13): a
//!   batch of one party's events with a COSE_Sign1 by that party's
//!   contract key over the batch's digest. [`SignedSubmission::verify`]
//!   checks it against the contract (the signature by the claimed party's
//!   key, each event's kind, actor and attributes; an event by another
//!   actor only with a valid signature of its own) and yields the
//!   [`Verified`] submission that [`Recorder::append_signed`] takes; the
//!   HTTP server does the same ([`submission::authenticate`]). The
//!   signature is stored with the events and sealed into bundles, so each
//!   party event is attributable offline.
//! * [`Recorder::append`] is the **trusted in-process path**: events given
//!   by code running inside the recorder's process (the recorder's own
//!   events, tests, migrations), checked against the contract (a
//!   `signed = true` kind needs its actor's own signature) but under no
//!   submission signature, so a bundle reports any party event appended
//!   this way as not attributed. Nothing outside the process reaches it:
//!   the HTTP server only appends signed submissions.
//! * The **[`Recorder`]** owns an open log and hands appends
//!   to a writer thread that **group-commits**: it takes every request
//!   waiting, assigns seq and a non-decreasing recorder time, writes all
//!   their records in one `write` and one `fdatasync`, and only then
//!   acknowledges each with its events' [`Receipt`]s (seq, time, leaf
//!   hash) and, for a signed submission, its receipt (below). A request is
//!   all or nothing.
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
//! * **Receipts and checkpoints**: after each group commit that
//!   acknowledges signed submissions, once its events are synced and below
//!   the mark, the recorder signs one checkpoint over the durable tree
//!   (cosigned by a quorum of witnesses first when a [`Cosigner`] is set)
//!   and answers each submission with an [`Acknowledged`] carrying its
//!   `cfr-receipt/1`: the events' seq, time and leaf, that checkpoint, and
//!   a range proof of the events in it (O(log n) hashes). Checkpoints are
//!   only ever signed over a larger prefix of the one append-only tree,
//!   under one lock, so no two are inconsistent, across crashes too: every
//!   event under a checkpoint is below the mark, which no recovery cuts.
//!   Each is written to `checkpoint` (atomically, synced) before the
//!   answer, as [`Recorder::sign_checkpoint`] (the operator's, in process)
//!   does. On open the tree's root at the stored checkpoint's size must
//!   equal it.
//! * **Idempotency**: a signed submission's id is unique per party; the
//!   recorder keeps (party, id) → (first seq, count, digest), rebuilt on
//!   open from the records, and answers a repeated id with the same digest
//!   with the original receipts, appending nothing; another digest is
//!   [`AppendError::SubmissionConflict`]. (On the in-process path an event
//!   may carry a client-chosen `id` kept in its record, likewise.)
//! * **A submission and its signature are one write**: the signature
//!   rides in the record of the submission's first event ([`segment`]),
//!   in the same group commit and fsync as its events, before any receipt
//!   is returned. On open, a submission whose events are not all present
//!   is the torn last write: above the acknowledgement mark it is cut
//!   whole (kept in `torn/`), below it the log refuses to open.
//! * **Stores**: a log directory (the default, needing nothing) or a
//!   PostgreSQL database ([`pg`]: `log init --store postgres://...`), under
//!   the same group commit, planning, dedup, checkpoints and receipts. In
//!   PostgreSQL a group commit is one transaction that also swaps in the
//!   new checkpoint by compare-and-swap, and several recorders may serve
//!   one log: one sequences (it holds the contract's advisory lock), the
//!   others are standbys ([`RecorderOptions::standby`]) that answer
//!   [`AppendError::Standby`] and take over when it stops.
//! * [`server`] serves the log over HTTP; [`client`] is a blocking client;
//!   [`seal`] seals a prefix of the log into a bundle and proves two seals
//!   consistent.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod acked;
pub mod client;
pub mod error;
mod nodes;
pub mod pg;
mod recorder;
mod retry;
pub mod seal;
pub mod segment;
pub mod server;
mod store;
pub mod submission;

pub use acked::{parse_acked, ACKED_FILE};
pub use error::{
    AppendError, CheckpointError, InitError, NotTorn, OpenError, ProofError, ReadError, RepairError,
};
pub use recorder::{
    count_events, for_each_event, for_each_event_from, for_each_event_with_submission, init,
    inspect, repair, submissions, Acknowledged, ConsistencyProof, Cosigner, InclusionProof, Moved,
    PendingAck, Receipt, Recorder, RecorderOptions, Recovery, CHECKPOINT_FILE, CONTRACT_FILE,
    LOCK_FILE, MAX_BATCH_BYTES, MAX_REQUEST_BYTES, QUARANTINE_DIR, SEGMENTS_DIR, TORN_DIR,
};
pub use submission::{Refusal, Rejection, SignedSubmission, Submission, Verified};
