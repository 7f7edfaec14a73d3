//! Typed errors, one per operation.

use crate::segment::{HeaderFault, RecordFault};
use std::path::PathBuf;

/// Why a log directory could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The directory exists and is not empty.
    #[error("{path} exists and is not empty; refusing to initialise a log there")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// The contract does not parse or check.
    #[error("contract: {0}")]
    Contract(#[from] cfr_contract::ContractError),
    /// Creating or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store URL is not one this recorder can use.
    #[error("store {url}: {reason}")]
    StoreUrl {
        /// The URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The database could not be set up for the log (unreachable, no
    /// rights, or it holds this contract id with other terms).
    #[error("store {url}: {reason}")]
    Store {
        /// The URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Why a log could not be opened. A recorder refuses to start on any of
/// these rather than guess.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The directory is not a log (no `contract.toml` or `segments/`).
    #[error("{path} is not a cfr log directory (run `cfr-bundle log init` first)")]
    NotALog {
        /// The directory.
        path: PathBuf,
    },
    /// Another process holds the log's lock.
    #[error("{path} is locked by another recorder; only one may write a log")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The log's contract does not parse or check.
    #[error("{path}: {source}")]
    Contract {
        /// The contract file.
        path: PathBuf,
        /// Why.
        source: Box<cfr_contract::ContractError>,
    },
    /// A segment header is wrong.
    #[error(transparent)]
    SegmentHeader(#[from] HeaderFault),
    /// Segments are missing: a segment does not start where the previous ended.
    #[error("{path}: segment starts at seq {found} but the log so far ends at seq {expected}; a segment is missing")]
    SegmentGap {
        /// The segment.
        path: PathBuf,
        /// The seq the log continues at.
        expected: u64,
        /// The segment's first seq.
        found: u64,
    },
    /// A bad record that a torn write cannot explain. Nothing was changed
    /// on disk.
    #[error("{path}: corrupt record at byte {offset} (seq {seq}): {fault}; {bytes_after} bytes from it to the end of the log. This is not a torn write: {reason}. The log was not opened and nothing was changed. {advice}", advice = reason.advice())]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the bad record.
        offset: u64,
        /// The seq it would have.
        seq: u64,
        /// What is wrong.
        fault: RecordFault,
        /// Bytes from the bad record to the end of the log.
        bytes_after: u64,
        /// Why it is not a torn tail.
        reason: NotTorn,
    },
    /// The log holds fewer events than the recorder acknowledged.
    #[error("the recorder acknowledged {acknowledged} events but the log holds {log_size}: acknowledged events are missing; the log was not opened (so none of their seqs is handed out again); restore the log from a copy")]
    AcknowledgedMissing {
        /// Events acknowledged.
        acknowledged: u64,
        /// Events in the log.
        log_size: u64,
    },
    /// The acknowledgement mark file exists but neither of its slots is
    /// valid.
    #[error("{path}: the acknowledgement mark is damaged (neither slot is valid); the log was not opened; restore the file from a copy")]
    AcknowledgedMark {
        /// The mark file.
        path: PathBuf,
    },
    /// The stored checkpoint does not parse or verify.
    #[error("{path}: the stored checkpoint is invalid: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The stored checkpoint covers more events than the log holds:
    /// signed (so acknowledged) events are missing.
    #[error("the last signed checkpoint covers {checkpoint_size} events but the log holds {log_size}: acknowledged events are missing; restore the log from a copy")]
    CheckpointAhead {
        /// Size in the checkpoint.
        checkpoint_size: u64,
        /// Events in the log.
        log_size: u64,
    },
    /// The log's root at the checkpoint's size differs from the signed root:
    /// the log was rewritten.
    #[error("the log's Merkle root at size {size} is not the root of the last signed checkpoint: the log was altered")]
    CheckpointMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// The signing key is not the contract's recorder key.
    #[error("the key given ({given}) is not the recorder key in the contract ({contract})")]
    WrongKey {
        /// Fingerprint of the key given.
        given: String,
        /// Fingerprint of the contract's recorder key.
        contract: String,
    },
    /// The store configuration (`store.toml`) does not parse.
    #[error("{path}: {reason}")]
    StoreConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The log's database could not be reached or read, or what it holds
    /// is not a valid log (named); nothing was changed.
    #[error("store {url}: {reason}")]
    Store {
        /// The URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Why a bad record found on open is not a torn tail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotTorn {
    /// It lies under the last signed checkpoint.
    #[error("the last signed checkpoint covers {checkpoint_size} events")]
    Signed {
        /// The checkpoint's size.
        checkpoint_size: u64,
    },
    /// It lies below the acknowledgement mark.
    #[error("the recorder acknowledged {acknowledged} events")]
    Acknowledged {
        /// Events acknowledged.
        acknowledged: u64,
    },
    /// The record's checksum holds, so its bytes are as written.
    #[error("the record is whole and its checksum holds, so it was written this way")]
    Intact,
    /// Later segment files follow the damaged one.
    #[error("{count} later segment file(s) follow it")]
    LaterSegments {
        /// How many.
        count: usize,
    },
    /// A valid record follows it.
    #[error("a valid record follows it at byte {offset}")]
    ValidAfter {
        /// That record's offset in the same segment.
        offset: u64,
    },
    /// Too many record-shaped byte runs follow it to check them all.
    #[error("record-shaped bytes follow it")]
    Undecided,
}

impl NotTorn {
    /// What the operator can do.
    pub fn advice(&self) -> &'static str {
        match self {
            NotTorn::Signed { .. } | NotTorn::Acknowledged { .. } => {
                "Those events were acknowledged: restore the log from a copy (`log repair` refuses to move them)"
            }
            _ => {
                "No event from this record on was acknowledged: `cfr-bundle log repair --move-bad-tail` moves them aside into quarantine/ (never deleting them)"
            }
        }
    }
}

/// Why an append failed. On any of these, none of the request's events
/// was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// An event was rejected (bad input).
    #[error(transparent)]
    Rejected(#[from] crate::submission::Rejection),
    /// An id was already used for a different event.
    #[error("item {item}: id {id:?} was already used for a different event (seq {seq})")]
    IdConflict {
        /// 1-based position in the request.
        item: u64,
        /// The id.
        id: String,
        /// The seq the id was first given to.
        seq: u64,
    },
    /// A signed submission id the party used before for different events.
    #[error("submission id {id:?} of the {party} was already used for different events (from seq {first})")]
    SubmissionConflict {
        /// The party.
        party: String,
        /// The submission id.
        id: String,
        /// The first seq of the submission first appended under it.
        first: u64,
    },
    /// The request's events do not fit one write batch.
    #[error("the request's events take {bytes} bytes, more than the {max} one request may")]
    TooLarge {
        /// Encoded size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// Writing or syncing failed (for example a full disk). Nothing of the
    /// request is in the log.
    #[error("{path}: write failed ({kind}): {message}")]
    Storage {
        /// The segment file.
        path: PathBuf,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error message.
        message: String,
    },
    /// The recorder stopped accepting appends after an unrecoverable
    /// storage error; restart it (recovery runs on open).
    #[error("the recorder stopped after a storage error ({reason}); restart it")]
    Stopped {
        /// The original error.
        reason: String,
    },
    /// The recorder is shutting down.
    #[error("the recorder is closed")]
    Closed,
    /// This recorder is a standby: another one sequences the log (send to
    /// another of the log's recorders, or retry: a standby takes over when
    /// the active one stops). Nothing was stored.
    #[error("standby: {reason}")]
    Standby {
        /// Why (who holds the sequencer lock, as far as known).
        reason: String,
    },
    /// The log's database cannot be reached, or a commit's outcome is
    /// unknown: nothing of the request is acknowledged (a retry with the
    /// same submission id gets the original receipt if it was committed).
    #[error("the log's database is unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The events are durable, but no checkpoint over them could be
    /// published (a witness quorum was not met): nothing is acknowledged;
    /// retrying the same submission gets its receipt once it can be.
    #[error("no checkpoint could be published: {reason}")]
    Checkpoint {
        /// Why.
        reason: String,
    },
}

/// Why a checkpoint could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The recorder was opened without its key.
    #[error("no recorder key: checkpoints cannot be signed")]
    NoKey,
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] cfr_merkle::CheckpointError),
    /// The witnesses did not cosign it.
    #[error("witnesses: {reason}")]
    Witnesses {
        /// Why (each witness that did not cosign, and its answer).
        reason: String,
    },
    /// Writing the checkpoint failed.
    #[error("{path}: {source}")]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store did not take the checkpoint: the database is unreachable,
    /// another recorder advanced the log (the compare-and-swap found
    /// another latest checkpoint), or this recorder is a standby.
    #[error("store: {reason}")]
    Store {
        /// Why.
        reason: String,
    },
    /// The recorder is shutting down.
    #[error("the recorder is closed")]
    Closed,
}

/// Why a proof could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The sizes or seq are out of range.
    #[error(transparent)]
    Range(#[from] cfr_merkle::TreeError),
}

/// Why `repair` did not repair.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    /// The log could not be read (lock held, not a log, missing segment...).
    #[error(transparent)]
    Open(OpenError),
    /// Moving the bad tail aside would drop events covered by the last
    /// signed checkpoint.
    #[error("the bad record is at seq {seq} but the last signed checkpoint covers {checkpoint_size} events: those were acknowledged and signed; restore the log from a copy instead")]
    WouldDropSigned {
        /// The first seq that would be moved aside.
        seq: u64,
        /// The checkpoint's size.
        checkpoint_size: u64,
    },
    /// Moving the bad tail aside would drop acknowledged events.
    #[error("the bad record is at seq {seq} but the recorder acknowledged {acknowledged} events: clients hold receipts for them; restore the log from a copy instead")]
    WouldDropAcknowledged {
        /// The first seq that would be moved aside.
        seq: u64,
        /// Events acknowledged.
        acknowledged: u64,
    },
    /// Moving a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Why reading a log's events failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The log could not be read.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The log holds fewer valid events than asked for.
    #[error("the log holds {available} readable events, fewer than the {wanted} asked for")]
    Short {
        /// Events asked for.
        wanted: u64,
        /// Events readable.
        available: u64,
    },
}
