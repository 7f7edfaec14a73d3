//! Publishing a log as tiles: immutable tiles first, each written only if
//! absent, then the checkpoint by compare-and-swap.

use crate::objects::{Created, Fetched, Objects, ObjectsError};
use crate::path::{TileId, TileKind};
use crate::tile::{Tile, TileError, Tiler};
use bytes::Bytes;
use cfr_merkle::ed25519_dalek::VerifyingKey;
use cfr_merkle::{Checkpoint, Hash, SignedCheckpoint, MAX_NOTE_LEN};
use futures_util::stream::{FuturesUnordered, StreamExt as _};

/// A [`publish_from`] proof source that is never called.
type NoProof = fn(u64) -> Result<Vec<Hash>, String>;

/// The name of the signed checkpoint under a log's prefix.
pub const CHECKPOINT: &str = "checkpoint";

/// Uploads under way at once.
const CONCURRENT_PUTS: usize = 16;

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The size of the checkpoint now published.
    pub size: u64,
    /// The size of the checkpoint that was there before, if any.
    pub previous: Option<u64>,
    /// The first entry read from the log: 0, or (by [`publish_from`],
    /// with a proof) the size published before.
    pub from: u64,
    /// Tiles and entry bundles written.
    pub written: u64,
    /// Tiles and entry bundles found already there with the same bytes
    /// (an earlier publication that stopped before its checkpoint).
    pub same: u64,
    /// Tiles the checkpoint already there implies, not written again.
    pub skipped: u64,
    /// Whether the checkpoint object was written (not when the one there
    /// was already this very note).
    pub checkpoint_written: bool,
}

/// Why publishing failed. Nothing already in the store is ever changed
/// except the checkpoint, and that only forward to a consistent tree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The checkpoint to publish does not verify under the log's key.
    #[error("the checkpoint to publish does not verify: {reason}")]
    Checkpoint {
        /// Why.
        reason: String,
    },
    /// The store's checkpoint is not this log's: not a note, or not
    /// signed by this log's key under its origin.
    #[error(
        "{url} is not this log's checkpoint ({reason}): another log is published at this prefix"
    )]
    Foreign {
        /// The checkpoint object.
        url: String,
        /// Why.
        reason: String,
    },
    /// The store holds a larger checkpoint than the one to publish.
    #[error("{url} is of size {published}, larger than the checkpoint to publish (size {ours}): never moving the published log back")]
    Behind {
        /// The checkpoint object.
        url: String,
        /// Its size.
        published: u64,
        /// The size to publish.
        ours: u64,
    },
    /// The store's checkpoint is signed by this log but its tree is not
    /// a prefix of this log's: the log was rewritten.
    #[error("{url} (size {size}) is not consistent with this log: the log's first {size} entries give another root; the log was rewritten, refusing to publish over it")]
    Inconsistent {
        /// The checkpoint object.
        url: String,
        /// Its size.
        size: u64,
    },
    /// A tile is already in the store with other bytes: the log was
    /// rewritten (or the store tampered with).
    #[error("{url} is already published with other bytes: the log was rewritten or the object altered; refusing to overwrite it")]
    Rewritten {
        /// The tile.
        url: String,
    },
    /// The log's entries do not give the checkpoint's root.
    #[error("the log's first {size} entries do not give the root of its checkpoint")]
    Root {
        /// The checkpoint's size.
        size: u64,
    },
    /// The log gave fewer entries than the checkpoint covers.
    #[error("the log gave {got} entries, but its checkpoint covers {size}")]
    Short {
        /// The checkpoint's size.
        size: u64,
        /// Entries given.
        got: u64,
    },
    /// An entry is too large for an entry bundle (65,535 bytes).
    #[error("entry {seq} is {len} bytes; a tlog-tiles entry bundle holds entries of at most 65535 bytes")]
    EntryTooLarge {
        /// Its index.
        seq: u64,
        /// Its length.
        len: usize,
    },
    /// Reading the log failed.
    #[error("reading the log: {reason}")]
    Source {
        /// Why.
        reason: String,
    },
    /// The checkpoint changed while this publication replaced it.
    #[error("{url} was changed by another publisher meanwhile; run again")]
    Raced {
        /// The checkpoint object.
        url: String,
    },
    /// The store failed.
    #[error(transparent)]
    Objects(ObjectsError),
}

impl From<ObjectsError> for PublishError {
    fn from(e: ObjectsError) -> Self {
        match e {
            ObjectsError::Differs { url, .. } => PublishError::Rewritten { url },
            e => PublishError::Objects(e),
        }
    }
}

enum Msg {
    Tile(Tile),
    RootAt(Hash),
    End(Hash),
    TooLarge(u64, usize),
    Short(u64),
    Source(String),
}

/// Publishes a log as C2SP tlog-tiles under `objects`, up to `checkpoint`
/// (which must verify under `origin` and `key`), then the checkpoint.
///
/// `entries(size, each)` must call `each` with the log's first `size`
/// entries in order (for a cfr log: each event's canonical CBOR, whose
/// RFC 9162 leaf hash is the tree's); it runs on a blocking thread.
///
/// Idempotent and incremental: if the store already holds a checkpoint of
/// this log, it must verify under the same key, be no larger, and the
/// log's root at its size must equal its root; the tiles it implies are
/// not written again, and every other tile is written only if absent (one
/// already there must have the very same bytes). The checkpoint is
/// written last, by compare-and-swap against the one read at the start.
pub async fn publish<F>(
    objects: &Objects,
    checkpoint: &SignedCheckpoint,
    origin: &str,
    key: &VerifyingKey,
    entries: F,
) -> Result<Published, PublishError>
where
    F: FnOnce(u64, &mut dyn FnMut(&[u8])) -> Result<(), String> + Send + 'static,
{
    let no_proof: Option<NoProof> = None;
    publish_from(
        objects,
        checkpoint,
        origin,
        key,
        no_proof,
        move |_from, size, each| entries(size, each),
    )
    .await
}

/// [`publish`], reading only the entries the store does not hold yet when
/// it can: for a log that can prove its checkpoint extends the one
/// published (a running recorder, from its tree).
///
/// `prove(old_size)` gives the RFC 9162 consistency proof from the tree of
/// `old_size` entries to the checkpoint's; it must verify against the
/// published checkpoint's root (else [`PublishError::Inconsistent`]: the
/// log was rewritten). The tiler is then resumed from the published right
/// edge (the partial tiles and entry bundle at the published size, each
/// checked against the others), and `entries(from, size, each)` is asked
/// for entries `[from, size)` only. Where the edge is not there as the
/// published size implies, `from` is 0 and the whole log is read, as by
/// [`publish`]. Either way the checkpoint is written only if the tiles
/// give its root.
pub async fn publish_from<F, P>(
    objects: &Objects,
    checkpoint: &SignedCheckpoint,
    origin: &str,
    key: &VerifyingKey,
    prove: Option<P>,
    entries: F,
) -> Result<Published, PublishError>
where
    P: FnOnce(u64) -> Result<Vec<Hash>, String>,
    F: FnOnce(u64, u64, &mut dyn FnMut(&[u8])) -> Result<(), String> + Send + 'static,
{
    let cp = checkpoint
        .verify(origin, key)
        .map_err(|e| PublishError::Checkpoint {
            reason: e.to_string(),
        })?
        .clone();
    let size = cp.size;
    let cp_url = objects.url_of(CHECKPOINT);
    // What is published now, if anything.
    let previous = published_note(objects, origin, key).await?;
    if let Some((there, _)) = &previous {
        if there.size > size {
            return Err(PublishError::Behind {
                url: cp_url,
                published: there.size,
                ours: size,
            });
        }
    }
    let previous_size = previous.as_ref().map(|(c, _)| c.size);
    // With a proof that this tree extends the published one, go on from
    // the published right edge.
    let mut resumed = None;
    if let (Some((there, _)), Some(prove)) = (&previous, prove) {
        let proof = prove(there.size).map_err(|reason| PublishError::Source { reason })?;
        if cfr_merkle::verify_consistency(there.size, size, &there.root, &cp.root, &proof).is_err()
        {
            return Err(PublishError::Inconsistent {
                url: cp_url,
                size: there.size,
            });
        }
        resumed = resume(objects, there.size).await?;
    }
    let from = resumed.as_ref().map_or(0, Tiler::size);

    // The log's tiles, computed on a blocking thread from its entries.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(64);
    let consistent_from_start = previous.is_none() || resumed.is_some();
    let reader = tokio::task::spawn_blocking(move || {
        let mut tiler = resumed.unwrap_or_default();
        let mut stopped = false;
        if previous_size == Some(0) && from == 0 {
            stopped |= tx.blocking_send(Msg::RootAt(tiler.root())).is_err();
        }
        let result = entries(from, size, &mut |entry: &[u8]| {
            if stopped || tiler.size() >= size {
                return;
            }
            match tiler.push(entry) {
                Ok(tiles) => {
                    for t in tiles {
                        stopped |= tx.blocking_send(Msg::Tile(t)).is_err();
                    }
                }
                Err(TileError::EntryTooLarge { len }) => {
                    let _ = tx.blocking_send(Msg::TooLarge(tiler.size(), len));
                    stopped = true;
                    return;
                }
                Err(_) => stopped = true,
            }
            if Some(tiler.size()) == previous_size {
                stopped |= tx.blocking_send(Msg::RootAt(tiler.root())).is_err();
            }
        });
        if stopped {
            return;
        }
        if let Err(reason) = result {
            let _ = tx.blocking_send(Msg::Source(reason));
        } else if tiler.size() < size {
            let _ = tx.blocking_send(Msg::Short(tiler.size()));
        } else {
            // The root first: partial tiles are written only for the
            // tree the checkpoint signs.
            if tx.blocking_send(Msg::End(tiler.root())).is_ok() {
                for t in tiler.partial_tiles() {
                    if tx.blocking_send(Msg::Tile(t)).is_err() {
                        return;
                    }
                }
            }
        }
    });

    let mut out = Published {
        size,
        previous: previous_size,
        from,
        written: 0,
        same: 0,
        skipped: 0,
        checkpoint_written: false,
    };
    let mut consistent = consistent_from_start;
    let mut ended = false;
    let mut puts = FuturesUnordered::new();
    // Objects this run created, removed again if the log turns out to be
    // another than the store's.
    let mut created: Vec<String> = Vec::new();
    let result: Result<(), PublishError> = async {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::RootAt(root) => {
                    if let Some((there, _)) = &previous {
                        if root != there.root {
                            return Err(PublishError::Inconsistent {
                                url: cp_url.clone(),
                                size: there.size,
                            });
                        }
                        consistent = true;
                    }
                }
                Msg::Tile(t) => {
                    if previous_size.is_some_and(|s| t.id.in_tree_of(s)) {
                        out.skipped += 1;
                        continue;
                    }
                    // Every tile not implied by the published checkpoint
                    // completes after its size, so after its root was
                    // compared (kept as a guard).
                    if !consistent {
                        return Err(PublishError::Inconsistent {
                            url: cp_url.clone(),
                            size: previous_size.unwrap_or(0),
                        });
                    }
                    let name = t.id.path();
                    puts.push(async move {
                        let r = objects.create(&name, Bytes::from(t.bytes)).await;
                        (name, r)
                    });
                    if puts.len() >= CONCURRENT_PUTS {
                        if let Some((name, r)) = puts.next().await {
                            count(&mut out, &mut created, name, r?);
                        }
                    }
                }
                Msg::End(root) => {
                    if root != cp.root {
                        return Err(PublishError::Root { size });
                    }
                    ended = true;
                }
                Msg::TooLarge(seq, len) => return Err(PublishError::EntryTooLarge { seq, len }),
                Msg::Short(got) => return Err(PublishError::Short { size, got }),
                Msg::Source(reason) => return Err(PublishError::Source { reason }),
            }
        }
        while let Some((name, r)) = puts.next().await {
            count(&mut out, &mut created, name, r?);
        }
        Ok(())
    }
    .await;
    drop(rx);
    let _ = reader.await;
    if let Err(e) = result {
        // Tiles of a log that conflicts with the store (or with its own
        // checkpoint) must not stay behind to block the real log's
        // later tiles: remove the ones this run created, and only those
        // (the uploads still under way are waited for first).
        if matches!(
            e,
            PublishError::Rewritten { .. } | PublishError::Root { .. }
        ) {
            while let Some((name, r)) = puts.next().await {
                if let Ok(Created::New) = r {
                    created.push(name);
                }
            }
            for name in &created {
                let _ = objects.delete(name).await;
            }
        }
        return Err(e);
    }
    if !ended {
        return Err(PublishError::Source {
            reason: "the log reader stopped early".into(),
        });
    }

    // Every tile of this tree is in the store: now the checkpoint.
    let note = checkpoint.to_note();
    if previous
        .as_ref()
        .is_some_and(|(_, f)| f.bytes.as_ref() == note.as_bytes())
    {
        return Ok(out);
    }
    let version = previous.as_ref().map(|(_, f)| &f.version);
    match objects
        .replace(CHECKPOINT, Bytes::from(note.clone()), version)
        .await
    {
        Ok(()) => {
            out.checkpoint_written = true;
            Ok(out)
        }
        Err(ObjectsError::Changed { .. }) => {
            // Another publisher of the same note is no conflict.
            match objects.get(CHECKPOINT, MAX_NOTE_LEN as u64).await {
                Ok(Some(f)) if f.bytes.as_ref() == note.as_bytes() => Ok(out),
                _ => Err(PublishError::Raced { url: cp_url }),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The tiler at the right edge of the log published at `size`, from its
/// partial tiles and entry bundle in the store; `None` when they are not
/// all there as `size` implies (the caller then reads the whole log).
async fn resume(objects: &Objects, size: u64) -> Result<Option<Tiler>, PublishError> {
    let mut partial = Vec::new();
    for l in 0..crate::path::levels(size) {
        let width = ((size >> (8 * u32::from(l))) % 256) as u16;
        let mut hashes = Vec::new();
        if width > 0 {
            let id = TileId {
                kind: TileKind::Hash(l),
                index: size >> (8 * (u32::from(l) + 1)),
                width,
            };
            let Some(bytes) = fetch(objects, &id, u64::from(width) * 32).await? else {
                return Ok(None);
            };
            match crate::tile::parse_hash_tile(&bytes, width) {
                Ok(h) => hashes = h,
                Err(_) => return Ok(None),
            }
        }
        partial.push(hashes);
    }
    let width = (size % 256) as u16;
    let mut bundle = Vec::new();
    if width > 0 {
        let id = TileId {
            kind: TileKind::Entries,
            index: size >> 8,
            width,
        };
        match fetch(objects, &id, crate::tile::max_bundle_len(width)).await? {
            Some(b) => bundle = b,
            None => return Ok(None),
        }
    }
    Ok(Tiler::resume(size, partial, bundle))
}

/// A tile's bytes, `None` if it is missing or larger than it may be.
async fn fetch(objects: &Objects, id: &TileId, max: u64) -> Result<Option<Vec<u8>>, PublishError> {
    match objects.get(&id.path(), max).await {
        Ok(f) => Ok(f.map(|f| f.bytes.to_vec())),
        Err(ObjectsError::TooLarge { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The checkpoint published under `objects`, if any, verified as this
/// log's: signed by `key` under `origin`. Anything else at `checkpoint`
/// (another log's note, or not a note) is [`PublishError::Foreign`].
pub async fn published(
    objects: &Objects,
    origin: &str,
    key: &VerifyingKey,
) -> Result<Option<Checkpoint>, PublishError> {
    Ok(published_note(objects, origin, key).await?.map(|(c, _)| c))
}

/// [`published`], with the object as read (for a compare-and-swap).
async fn published_note(
    objects: &Objects,
    origin: &str,
    key: &VerifyingKey,
) -> Result<Option<(Checkpoint, Fetched)>, PublishError> {
    let foreign = |reason: String| PublishError::Foreign {
        url: objects.url_of(CHECKPOINT),
        reason,
    };
    match objects.get(CHECKPOINT, MAX_NOTE_LEN as u64).await {
        Ok(None) => Ok(None),
        Ok(Some(f)) => {
            let there = SignedCheckpoint::parse(&f.bytes)
                .and_then(|s| s.verify(origin, key).cloned())
                .map_err(|e| foreign(e.to_string()))?;
            Ok(Some((there, f)))
        }
        Err(ObjectsError::TooLarge { .. }) => {
            Err(foreign("larger than any checkpoint note".into()))
        }
        Err(e) => Err(e.into()),
    }
}

fn count(out: &mut Published, created: &mut Vec<String>, name: String, c: Created) {
    match c {
        Created::New => {
            out.written += 1;
            created.push(name);
        }
        Created::Same => out.same += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{audit, AuditError};
    use cfr_merkle::ed25519_dalek::SigningKey;
    use cfr_merkle::{Checkpoint, Tree};
    use cfr_model::{Attrs, Event, Value};
    use std::path::Path;

    const ORIGIN: &str = "cfr/test";

    fn events(n: u64, tag: &str) -> Vec<Vec<u8>> {
        (0..n)
            .map(|seq| {
                let mut attrs = Attrs::new();
                attrs.insert("id", Value::Text(format!("{tag}-{seq}")));
                Event {
                    seq,
                    time: seq as i64,
                    kind: "request".into(),
                    actor: "user".into(),
                    attrs,
                    sig: None,
                }
                .encode()
            })
            .collect()
    }

    fn signed(entries: &[Vec<u8>], key: &SigningKey) -> SignedCheckpoint {
        let tree = Tree::from_leaves(entries.iter().map(|e| cfr_merkle::leaf_hash(e)));
        Checkpoint {
            origin: ORIGIN.into(),
            size: tree.size(),
            root: tree.root(),
        }
        .sign(key, ORIGIN)
        .expect("sign")
    }

    async fn put(
        objects: &Objects,
        entries: &[Vec<u8>],
        key: &SigningKey,
    ) -> Result<Published, PublishError> {
        let cp = signed(entries, key);
        let entries = entries.to_vec();
        publish(
            objects,
            &cp,
            ORIGIN,
            &key.verifying_key(),
            move |n, each| {
                entries.iter().take(n as usize).for_each(|e| each(e));
                Ok(())
            },
        )
        .await
    }

    /// Publishes `entries` with a proof from their tree, recording the
    /// first entry the publication asked for.
    async fn put_from(
        objects: &Objects,
        entries: &[Vec<u8>],
        prove_with: &[Vec<u8>],
        key: &SigningKey,
    ) -> (Result<Published, PublishError>, Option<u64>) {
        let cp = signed(entries, key);
        let tree = Tree::from_leaves(prove_with.iter().map(|e| cfr_merkle::leaf_hash(e)));
        let size = cp.checkpoint().size;
        let prove = |old: u64| tree.consistency_proof(old, size).map_err(|e| e.to_string());
        let asked = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = std::sync::Arc::clone(&asked);
        let entries = entries.to_vec();
        let r = publish_from(
            objects,
            &cp,
            ORIGIN,
            &key.verifying_key(),
            Some(prove),
            move |from, n, each| {
                *seen.lock().expect("lock") = Some(from);
                entries[from as usize..n as usize]
                    .iter()
                    .for_each(|e| each(e));
                Ok(())
            },
        )
        .await;
        let from = *asked.lock().expect("lock");
        (r, from)
    }

    /// With a proof, a publication reads only the entries after the
    /// published edge and writes what reading everything would; a proof
    /// of another log is refused; an edge that is not the log's own makes
    /// it read everything.
    #[tokio::test]
    async fn a_proven_publication_reads_only_the_new_entries() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let objects = Objects::open(&format!("file://{}", tmp.path().display())).expect("open");
        let whole = tempfile::tempdir().expect("tempdir");
        let reference = Objects::open(&format!("file://{}", whole.path().display())).expect("open");
        let key = SigningKey::from_bytes(&[9; 32]);
        let log = events(70_000, "a");
        // Nothing there: everything is read.
        let (p, from) = put_from(&objects, &log[..300], &log[..300], &key).await;
        assert_eq!((p.expect("publish").size, from), (300, Some(0)));
        for (size, at) in [
            (301usize, 300u64),
            (700, 301),
            (66_000, 700),
            (70_000, 66_000),
        ] {
            let (p, from) = put_from(&objects, &log[..size], &log[..size], &key).await;
            let p = p.expect("publish");
            assert_eq!((p.previous, from), (Some(at), Some(at)), "to {size}");
        }
        put(&reference, &log, &key).await.expect("reference");
        let listing = |dir: &Path| {
            let mut out = Vec::new();
            let mut stack = vec![dir.to_owned()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).expect("dir").flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        let name = p.strip_prefix(dir).expect("under").display().to_string();
                        out.push((name, std::fs::read(&p).expect("read")));
                    }
                }
            }
            out.sort();
            out
        };
        // Every object of one publication of it all is there, the same
        // (besides, the earlier publications' partial tiles).
        let ours: std::collections::HashMap<String, Vec<u8>> =
            listing(tmp.path()).into_iter().collect();
        for (name, bytes) in listing(whole.path()) {
            assert_eq!(ours.get(&name), Some(&bytes), "{name}");
        }
        audit(&objects, Some(ORIGIN), &key.verifying_key())
            .await
            .expect("audit");

        // Another log under the same key proves nothing about this one.
        let other = events(70_100, "b");
        let before = std::fs::read(tmp.path().join(CHECKPOINT)).expect("checkpoint");
        let (e, from) = put_from(&objects, &other, &other, &key).await;
        assert!(matches!(e, Err(PublishError::Inconsistent { .. })), "{e:?}");
        assert_eq!(from, None, "nothing was read");
        assert_eq!(
            std::fs::read(tmp.path().join(CHECKPOINT)).expect("checkpoint"),
            before
        );

        // An edge whose bundle is not its level-0 tile's: read everything.
        let edge = tmp.path().join("tile/entries/273.p/112");
        let mut bundle = std::fs::read(&edge).expect("bundle");
        let last = bundle.len() - 1;
        bundle[last] ^= 1;
        std::fs::write(&edge, &bundle).expect("write");
        let more = events(70_050, "a");
        let (p, from) = put_from(&objects, &more, &more, &key).await;
        assert_eq!((p.expect("publish").size, from), (70_050, Some(0)));
        audit(&objects, Some(ORIGIN), &key.verifying_key())
            .await
            .expect("audit");
    }

    #[tokio::test]
    async fn incremental_refuses_rewrites_and_audits() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let objects = Objects::open(&format!("file://{}", tmp.path().display())).expect("open");
        let key = SigningKey::from_bytes(&[9; 32]);
        let vk = key.verifying_key();
        let log = events(1000, "a");
        let p = put(&objects, &log[..600], &key).await.expect("publish");
        // 2 full tiles and bundles, a partial tile and bundle, level 1 partial.
        assert_eq!(
            (p.written, p.previous, p.checkpoint_written),
            (7, None, true)
        );
        // Again: nothing to do.
        let p = put(&objects, &log[..600], &key).await.expect("again");
        assert_eq!((p.written, p.same, p.skipped), (0, 0, 7));
        assert!(!p.checkpoint_written);
        // Grown to 1000: tiles 2 (full, now) and 3.p/232, bundles, level 1.
        let p = put(&objects, &log, &key).await.expect("grown");
        assert_eq!((p.written, p.previous), (5, Some(600)), "{p:?}");
        let a = audit(&objects, Some(ORIGIN), &vk).await.expect("audit");
        assert_eq!((a.entries, a.checkpoint.size), (1000, 1000));
        // Back to a smaller size: refused.
        let e = put(&objects, &log[..900], &key).await;
        assert!(matches!(e, Err(PublishError::Behind { .. })), "{e:?}");
        // Another log under the same key: inconsistent with the checkpoint there.
        let other = events(1200, "b");
        let e = put(&objects, &other, &key).await;
        assert!(matches!(e, Err(PublishError::Inconsistent { .. })), "{e:?}");
        // Another key: not this log's checkpoint.
        let e = put(&objects, &log, &SigningKey::from_bytes(&[8; 32])).await;
        assert!(matches!(e, Err(PublishError::Foreign { .. })), "{e:?}");
        // Without the checkpoint, a rewritten log still meets its tiles.
        std::fs::remove_file(tmp.path().join(CHECKPOINT)).expect("rm");
        let e = put(&objects, &other, &key).await;
        assert!(
            matches!(&e, Err(PublishError::Rewritten { url }) if url.contains("tile/")),
            "{e:?}"
        );
        // What that attempt created (tiles past the original's) was
        // removed again, so the original can still grow into them.
        assert!(!tmp.path().join("tile/0/003").exists());
        assert!(!tmp.path().join("tile/0/004.p/176").exists());
        // The original again: its tiles are all there, the same.
        let p = put(&objects, &log, &key).await.expect("republish");
        assert_eq!(p.written, 0, "{p:?}");

        // A flipped byte in a level-0 tile.
        let t = tmp.path().join("tile/0/001");
        let good = std::fs::read(&t).expect("tile");
        let mut bad = good.clone();
        bad[40] ^= 1;
        std::fs::write(&t, &bad).expect("write");
        let e = audit(&objects, Some(ORIGIN), &vk).await;
        assert!(
            matches!(&e, Err(AuditError::EntryHash { tile, .. }) if tile.ends_with("tile/0/001")),
            "{e:?}"
        );
        std::fs::write(&t, &good).expect("write");
        // The level-1 tile.
        let t = tmp.path().join("tile/1/000.p/3");
        let good = std::fs::read(&t).expect("tile");
        let mut bad = good.clone();
        bad[70] ^= 1;
        std::fs::write(&t, &bad).expect("write");
        let e = audit(&objects, Some(ORIGIN), &vk).await;
        assert!(
            matches!(&e, Err(AuditError::TileHash { url, position: 2, .. }) if url.ends_with("tile/1/000.p/3")),
            "{e:?}"
        );
        std::fs::write(&t, &good[..95]).expect("write");
        let e = audit(&objects, Some(ORIGIN), &vk).await;
        assert!(matches!(&e, Err(AuditError::Malformed { .. })), "{e:?}");
        std::fs::write(&t, &good).expect("write");
        // A missing bundle.
        std::fs::remove_file(tmp.path().join("tile/entries/003.p/232")).expect("rm");
        let e = audit(&objects, Some(ORIGIN), &vk).await;
        assert!(matches!(&e, Err(AuditError::Missing { .. })), "{e:?}");
        assert!(e.is_err_and(|e| e.is_failure()));
    }

    #[tokio::test]
    async fn entries_too_large_for_a_bundle_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let objects = Objects::open(&format!("file://{}", tmp.path().display())).expect("open");
        let key = SigningKey::from_bytes(&[9; 32]);
        let log = vec![vec![1u8; 10], vec![2u8; 70_000]];
        let e = put(&objects, &log, &key).await;
        assert!(
            matches!(
                e,
                Err(PublishError::EntryTooLarge {
                    seq: 1,
                    len: 70_000
                })
            ),
            "{e:?}"
        );
        assert!(std::fs::read_dir(tmp.path()).expect("dir").next().is_none());
    }
}
