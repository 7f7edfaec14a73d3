//! Auditing a published log from the store alone: the checkpoint's
//! signature, every tile and entry bundle, and the root recomputed.

use crate::objects::{Objects, ObjectsError};
use crate::path::{TileId, TileKind, HASH_LEN, TILE_WIDTH};
use crate::publish::CHECKPOINT;
use crate::tile::{
    max_bundle_len, parse_entry_bundle, parse_hash_tile, root_from_levels, subtree_hash,
};
use cfr_merkle::ed25519_dalek::VerifyingKey;
use cfr_merkle::{leaf_hash, Checkpoint, Hash, RootBuilder, SignedCheckpoint, MAX_NOTE_LEN};
use cfr_model::Event;
use futures_util::stream::{self, StreamExt as _};

/// Level-0 tiles (with their entry bundles) fetched at once.
const CONCURRENT_GETS: usize = 8;

/// A published log that passed the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// Hash tiles read (every level).
    pub tiles: u64,
    /// Entry bundles read.
    pub bundles: u64,
    /// Entries checked: each hashes to its level-0 tile hash and is an
    /// event with its own index as seq, canonically encoded.
    pub entries: u64,
    /// Bytes read from the store.
    pub bytes: u64,
}

/// Why an audit failed: the store's log is not what its checkpoint
/// signs ([`AuditError::is_failure`]), or the store could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// An object the checkpoint's tree needs is not in the store.
    #[error("{url} is missing")]
    Missing {
        /// The object.
        url: String,
    },
    /// An object is not of its kind's form (a tile not 32 bytes per
    /// hash, a bundle not its width of entries, a checkpoint not a note).
    #[error("{url}: {reason}")]
    Malformed {
        /// The object.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint is not signed by the recorder key under the origin.
    #[error("{url}: not signed by the recorder key under origin {origin:?}: {reason}")]
    Signature {
        /// The checkpoint object.
        url: String,
        /// The origin expected.
        origin: String,
        /// Why.
        reason: String,
    },
    /// An entry does not hash to its hash in the level-0 tile.
    #[error("{bundle}: entry {seq} does not hash to its leaf hash in {tile}")]
    EntryHash {
        /// The entry bundle.
        bundle: String,
        /// The level-0 tile.
        tile: String,
        /// The entry's index in the log.
        seq: u64,
    },
    /// An entry is not a cfr event, canonically encoded, with its index
    /// as its seq.
    #[error("{bundle}: entry {seq} is not the event at seq {seq}: {reason}")]
    Event {
        /// The entry bundle.
        bundle: String,
        /// The entry's index in the log.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// A hash in a tile above level 0 is not the hash of the full tile
    /// below it.
    #[error("{url}: hash {position} is {found}, but the tile below gives {expected}")]
    TileHash {
        /// The tile.
        url: String,
        /// The hash's position in the tile.
        position: usize,
        /// The hash computed from the tile below (hex).
        expected: String,
        /// The hash in the tile (hex).
        found: String,
    },
    /// The tiles give another root than the checkpoint's.
    #[error(
        "{url}: the tiles give root {found} for size {size}, but the checkpoint signs {expected}"
    )]
    Root {
        /// The checkpoint object.
        url: String,
        /// Its size.
        size: u64,
        /// The checkpoint's root (hex).
        expected: String,
        /// The root recomputed from the tiles (hex).
        found: String,
    },
    /// The store could not be read (network, permissions, ...).
    #[error(transparent)]
    Objects(ObjectsError),
}

impl AuditError {
    /// Whether this is a finding against the published log (exit 1), as
    /// opposed to a store that could not be read (exit 2).
    pub fn is_failure(&self) -> bool {
        !matches!(self, AuditError::Objects(_))
    }
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `name` (at most `max` bytes), a missing or oversized object
/// being a finding.
async fn fetch(objects: &Objects, name: &str, max: u64) -> Result<bytes::Bytes, AuditError> {
    match objects.get(name, max).await {
        Ok(Some(f)) => Ok(f.bytes),
        Ok(None) => Err(AuditError::Missing {
            url: objects.url_of(name),
        }),
        Err(ObjectsError::TooLarge { url, max }) => Err(AuditError::Malformed {
            url,
            reason: format!("larger than the {max} bytes its name allows"),
        }),
        Err(e) => Err(AuditError::Objects(e)),
    }
}

async fn fetch_tile(objects: &Objects, id: TileId) -> Result<Vec<Hash>, AuditError> {
    let name = id.path();
    let bytes = fetch(objects, &name, u64::from(id.width) * HASH_LEN as u64).await?;
    parse_hash_tile(&bytes, id.width).map_err(|e| AuditError::Malformed {
        url: objects.url_of(&name),
        reason: e.to_string(),
    })
}

/// Audits the log published under `objects`: verifies its checkpoint under
/// `key` and `origin` (the checkpoint's own origin line when `None`),
/// reads every level-0 tile and entry bundle the checkpoint's tree has
/// (each entry must hash to its leaf hash, and be the cfr event of its
/// index), checks every tile above level 0 against the hashes of the
/// tiles below, and recomputes the RFC 9162 root, both from all the leaf
/// hashes and from the tiles of every level, which must equal the
/// checkpoint's. Reads are bounded by the sizes the checkpoint implies.
pub async fn audit(
    objects: &Objects,
    origin: Option<&str>,
    key: &VerifyingKey,
) -> Result<Audited, AuditError> {
    let cp_url = objects.url_of(CHECKPOINT);
    let note = fetch(objects, CHECKPOINT, MAX_NOTE_LEN as u64).await?;
    let signed = SignedCheckpoint::parse(&note).map_err(|e| AuditError::Malformed {
        url: cp_url.clone(),
        reason: format!("not a signed checkpoint: {e}"),
    })?;
    let origin = origin
        .map(str::to_owned)
        .unwrap_or_else(|| signed.checkpoint().origin.clone());
    let cp = signed
        .verify(&origin, key)
        .map_err(|e| AuditError::Signature {
            url: cp_url.clone(),
            origin: origin.clone(),
            reason: e.to_string(),
        })?
        .clone();
    let size = cp.size;
    let mut out = Audited {
        checkpoint: cp.clone(),
        tiles: 0,
        bundles: 0,
        entries: 0,
        bytes: note.len() as u64,
    };

    // Level 0 and the entry bundles, fetched a few at a time, in order.
    let level0 = crate::path::tiles_at(TileKind::Hash(0), size);
    let mut fetched = stream::iter(level0)
        .map(|id| async move {
            let bundle_id = TileId {
                kind: TileKind::Entries,
                ..id
            };
            let bundle_name = bundle_id.path();
            let (hashes, bundle) = futures_util::future::join(
                fetch_tile(objects, id),
                fetch(objects, &bundle_name, max_bundle_len(id.width)),
            )
            .await;
            Ok::<_, AuditError>((id, hashes?, bundle_name, bundle?))
        })
        .buffered(CONCURRENT_GETS);
    let mut leaves = RootBuilder::new();
    // levels[l]: hashes at level l computed from the level below, not yet
    // making a full tile (levels[0]: the last partial tile's leaf hashes).
    let mut levels: Vec<Vec<Hash>> = vec![Vec::new()];
    while let Some(item) = fetched.next().await {
        let (id, hashes, bundle_name, bundle) = item?;
        out.tiles += 1;
        out.bundles += 1;
        out.bytes += (hashes.len() * HASH_LEN + bundle.len()) as u64;
        let entries = parse_entry_bundle(&bundle, id.width).map_err(|e| AuditError::Malformed {
            url: objects.url_of(&bundle_name),
            reason: e.to_string(),
        })?;
        for (i, (entry, hash)) in entries.iter().zip(&hashes).enumerate() {
            let seq = id.index * TILE_WIDTH + i as u64;
            if leaf_hash(entry) != *hash {
                return Err(AuditError::EntryHash {
                    bundle: objects.url_of(&bundle_name),
                    tile: objects.url_of(&id.path()),
                    seq,
                });
            }
            let bad = |reason: String| AuditError::Event {
                bundle: objects.url_of(&bundle_name),
                seq,
                reason,
            };
            let event = Event::from_cbor(entry).map_err(|e| bad(e.to_string()))?;
            if event.seq != seq {
                return Err(bad(format!("its seq is {}", event.seq)));
            }
            if event.encode() != *entry {
                return Err(bad("not canonically encoded".into()));
            }
            leaves.push(*hash);
            out.entries += 1;
        }
        if id.is_full() {
            // Up the levels: a full tile's hash is one hash above.
            let mut up = subtree_hash(&hashes);
            let mut level = 1usize;
            loop {
                if levels.len() == level {
                    levels.push(Vec::new());
                }
                levels[level].push(up);
                if levels[level].len() as u64 != TILE_WIDTH {
                    break;
                }
                let computed = std::mem::take(&mut levels[level]);
                let index = id.index >> (8 * level);
                let tile = TileId::full(TileKind::Hash(level as u8), index);
                compare(objects, tile, &computed, &mut out).await?;
                up = subtree_hash(&computed);
                level += 1;
            }
        } else {
            levels[0] = hashes;
        }
    }
    // The partial tiles above level 0, against what the levels below give.
    for (level, computed) in levels.iter().enumerate().skip(1) {
        if computed.is_empty() {
            continue;
        }
        let tile = TileId {
            kind: TileKind::Hash(level as u8),
            index: size >> (8 * (level + 1)),
            // Below 256: a full level was compared and folded up.
            width: computed.len() as u16,
        };
        compare(objects, tile, computed, &mut out).await?;
    }
    // Two recomputations of the root: from every leaf hash (RFC 9162
    // over the level-0 tiles), and from the tiles of every level.
    let roots = [leaves.root(), root_from_levels(&levels)];
    for found in roots {
        if found != cp.root || leaves.size() != size {
            return Err(AuditError::Root {
                url: cp_url,
                size,
                expected: hex(&cp.root),
                found: hex(&found),
            });
        }
    }
    Ok(out)
}

/// Fetches a tile above level 0 and compares it with the hashes the level
/// below gives.
async fn compare(
    objects: &Objects,
    tile: TileId,
    computed: &[Hash],
    out: &mut Audited,
) -> Result<(), AuditError> {
    let there = fetch_tile(objects, tile).await?;
    out.tiles += 1;
    out.bytes += (there.len() * HASH_LEN) as u64;
    if let Some(position) = (0..computed.len()).find(|&i| there[i] != computed[i]) {
        return Err(AuditError::TileHash {
            url: objects.url_of(&tile.path()),
            position,
            expected: hex(&computed[position]),
            found: hex(&there[position]),
        });
    }
    Ok(())
}
