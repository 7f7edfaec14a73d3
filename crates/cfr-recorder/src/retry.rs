//! The recorder's retry index on disk: for every event appended with a
//! client id and every signed submission, what a retry of it must be
//! answered with, so that memory does not grow with the log.
//!
//! Like the tree's nodes ([`crate::nodes`]), it is derived data in
//! unlinked temporary files in the log directory, rebuilt from the log
//! whenever a recorder opens it: no fsync, no recovery of its own. Each
//! kind of entry is a [`Buffered`] map keyed by SHA-256 digests: the
//! newest few in memory, the others in a hash table on disk.

use cfr_bundle_format::disk_map::Buffered;
use std::io;
use std::path::Path;

use crate::recorder::{Span, SubKey};

/// What a retry is answered with: by client id, the seq and content
/// digest of the event appended with it; by signed submission
/// ([`SubKey`]), where its events are and what was signed.
pub(crate) struct Retries {
    ids: Buffered<24>,
    subs: Buffered<48>,
}

/// An event's client id as [`Retries`] keys it: its SHA-256, 32 bytes
/// whatever the id's length.
fn id_key(id: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(id.as_bytes()).into()
}

/// How many entries a recorder opening its log adds to [`Retries`] at
/// once (what it holds of them meanwhile: about 1 MiB).
pub(crate) const BULK: usize = 16_384;

/// How many entries [`Retries`] holds in memory before it moves them to
/// disk in one batch. Events appended with client ids can come a hundred
/// to a commit, and the batch then reads and writes fewer pages than they
/// would one by one: 16,384 of them (about 1.8 MiB at most). A signed
/// submission is one entry for all its events, so 1,024 of those (about
/// 80 KiB) are plenty.
const IDS_IN_MEMORY: usize = 16_384;
const SUBS_IN_MEMORY: usize = 1_024;

impl Retries {
    /// An empty index, its files (unlinked) in `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        Retries {
            ids: Buffered::new(dir, IDS_IN_MEMORY),
            subs: Buffered::new(dir, SUBS_IN_MEMORY),
        }
    }

    /// The seq and content digest of the event appended with client id
    /// `id`.
    pub(crate) fn id(&self, id: &str) -> io::Result<Option<(u64, [u8; 16])>> {
        Ok(self.ids.get(&id_key(id))?.map(|v| {
            let (seq, digest) = v.split_at(8);
            (
                u64::from_le_bytes(seq.try_into().expect("8 bytes")),
                digest.try_into().expect("16 bytes"),
            )
        }))
    }

    /// Adds events by client id: (id, seq, content digest).
    pub(crate) fn add_ids<'a>(
        &mut self,
        items: impl IntoIterator<Item = (&'a str, u64, [u8; 16])>,
    ) -> io::Result<()> {
        let batch: Vec<_> = items
            .into_iter()
            .map(|(id, seq, digest)| {
                let mut v = [0u8; 24];
                v[..8].copy_from_slice(&seq.to_le_bytes());
                v[8..].copy_from_slice(&digest);
                (id_key(id), v)
            })
            .collect();
        self.ids.insert_many(&batch)
    }

    /// Where the signed submission `key` is.
    pub(crate) fn sub(&self, key: &SubKey) -> io::Result<Option<Span>> {
        Ok(self.subs.get(key)?.map(|v| Span {
            first: u64::from_le_bytes(v[..8].try_into().expect("8 bytes")),
            count: u64::from_le_bytes(v[8..16].try_into().expect("8 bytes")),
            digest: v[16..].try_into().expect("32 bytes"),
        }))
    }

    /// Adds signed submissions.
    pub(crate) fn add_subs<'a>(
        &mut self,
        items: impl IntoIterator<Item = (&'a SubKey, Span)>,
    ) -> io::Result<()> {
        let batch: Vec<_> = items
            .into_iter()
            .map(|(key, span)| {
                let mut v = [0u8; 48];
                v[..8].copy_from_slice(&span.first.to_le_bytes());
                v[8..16].copy_from_slice(&span.count.to_le_bytes());
                v[16..].copy_from_slice(&span.digest);
                (*key, v)
            })
            .collect();
        self.subs.insert_many(&batch)
    }
}
