//! Where a recorder keeps its log: what the writer thread commits
//! through. The group commit, the planning (seq, time, dedup), the
//! checkpoints and the receipts are the recorder's, whatever the store;
//! a store only makes a batch durable, stores checkpoints with
//! compare-and-swap, and says whether this process may sequence.

use crate::error::{AppendError, CheckpointError};
use crate::recorder::Index;
use cfr_bundle_format::submission::Entry;
use cfr_contract::Contract;
use cfr_merkle::{Hash, SignedCheckpoint};

/// A checkpoint's size and root: what a compare-and-swap expects the
/// stored latest checkpoint to be (the empty tree's when none is stored).
pub(crate) type Prev = (u64, Hash);

/// One event of a batch, for stores that keep rows.
pub(crate) struct Row {
    pub(crate) seq: u64,
    pub(crate) time: i64,
    pub(crate) leaf: Hash,
    /// The event's canonical CBOR (with its seq and time).
    pub(crate) cbor: Vec<u8>,
    /// A client-chosen id of the trusted path, with its content digest.
    pub(crate) id: Option<(String, [u8; 16])>,
}

/// What one group commit adds: events `[first, end)`.
pub(crate) struct Batch<'a> {
    pub(crate) first: u64,
    pub(crate) end: u64,
    /// The records in the segment encoding ([`crate::segment`]).
    pub(crate) bytes: &'a [u8],
    /// The events one by one, when [`Store::wants_rows`].
    pub(crate) rows: &'a [Row],
    /// The signed submissions of the batch with their digests, when
    /// [`Store::wants_rows`].
    pub(crate) entries: &'a [(Entry, [u8; 32])],
}

/// The log as a store holds it, loaded when a process (again) sequences.
pub(crate) struct Loaded {
    pub(crate) index: Index,
    pub(crate) checkpoint: Option<SignedCheckpoint>,
}

/// Whether this process may sequence the log now.
pub(crate) enum Role {
    /// It may; with the log as stored when it just became the sequencer
    /// (or reconnected), which replaces what it held.
    Active(Option<Box<Loaded>>),
    /// Another process sequences it.
    Standby(String),
    /// The store cannot be reached.
    Unreachable(String),
}

/// A recorder's storage.
pub(crate) trait Store: Send {
    /// Whether [`Batch::rows`] and [`Batch::entries`] are filled.
    fn wants_rows(&self) -> bool;
    /// Whether a checkpoint over a batch may be committed with it, in one
    /// transaction (it is then signed before and published after).
    fn checkpoint_in_commit(&self) -> bool;
    /// Whether this process may sequence; asked before every batch.
    fn activate(&mut self, contract: &Contract) -> Role;
    /// How often a process that may not sequence asks again.
    fn poll_interval(&self) -> std::time::Duration;
    /// Makes the batch durable, with `checkpoint` stored in the same
    /// commit (compare-and-swap from `Prev`) when given; returns only
    /// once it is, and on an error nothing of it may be acknowledged.
    fn commit(
        &mut self,
        batch: &Batch<'_>,
        checkpoint: Option<(Prev, &SignedCheckpoint)>,
    ) -> Result<(), AppendError>;
    /// Stores `checkpoint` as the latest, if the stored latest is `prev`.
    fn store_checkpoint(
        &mut self,
        prev: Prev,
        checkpoint: &SignedCheckpoint,
    ) -> Result<(), CheckpointError>;
}
