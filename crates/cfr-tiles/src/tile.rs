//! Hash tiles and entry bundles: their bytes, and building them from a
//! log's entries.

use crate::path::{TileId, TileKind, HASH_LEN, TILE_WIDTH};
use cfr_merkle::{empty_root, leaf_hash, node_hash, Hash};

/// The largest entry an entry bundle can hold (a big-endian u16 length).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// The largest entry bundle of `width` entries.
pub fn max_bundle_len(width: u16) -> u64 {
    u64::from(width) * (2 + MAX_ENTRY_LEN as u64)
}

/// Why a tile's or an entry bundle's bytes are not what their name says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A hash tile of `width` hashes must be exactly 32 × `width` bytes.
    #[error("{found} bytes, but a tile of {width} hashes is {} bytes", usize::from(*width) * HASH_LEN)]
    TileLength {
        /// Hashes the name says.
        width: u16,
        /// Bytes found.
        found: usize,
    },
    /// An entry's length prefix runs past the end of the bundle.
    #[error("entry {entry} of the bundle is cut short at byte {offset}")]
    Truncated {
        /// The entry's position in the bundle.
        entry: u16,
        /// Where it starts.
        offset: usize,
    },
    /// The bundle holds another number of entries than its name says.
    #[error("the bundle holds {found} entries where its name says {width}")]
    EntryCount {
        /// Entries the name says.
        width: u16,
        /// Entries found (counting only up to one more).
        found: usize,
    },
    /// An entry longer than a bundle can hold.
    #[error("an entry of {len} bytes cannot be in an entry bundle (at most {MAX_ENTRY_LEN})")]
    EntryTooLarge {
        /// Its length.
        len: usize,
    },
}

/// The hashes of a hash tile of `width` hashes: exactly 32 × `width`
/// bytes.
pub fn parse_hash_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>, TileError> {
    if bytes.len() != usize::from(width) * HASH_LEN {
        return Err(TileError::TileLength {
            width,
            found: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; HASH_LEN];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// The entries of an entry bundle of `width` entries: each a big-endian
/// u16 length and that many bytes, exactly `width` of them, nothing after.
pub fn parse_entry_bundle(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::with_capacity(usize::from(width));
    let mut at = 0usize;
    while at < bytes.len() {
        if out.len() == usize::from(width) {
            return Err(TileError::EntryCount {
                width,
                found: out.len() + 1,
            });
        }
        // Below 256 entries here (checked above).
        let entry = out.len() as u16;
        let Some(len) = bytes.get(at..at + 2) else {
            return Err(TileError::Truncated { entry, offset: at });
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Some(e) = bytes.get(at + 2..at + 2 + len) else {
            return Err(TileError::Truncated { entry, offset: at });
        };
        out.push(e);
        at += 2 + len;
    }
    if out.len() != usize::from(width) {
        return Err(TileError::EntryCount {
            width,
            found: out.len(),
        });
    }
    Ok(out)
}

/// Appends one entry to an entry bundle's bytes.
pub fn push_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), TileError> {
    let len =
        u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge { len: entry.len() })?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// The Merkle tree hash of 1 to 256 consecutive hashes taken as leaves'
/// subtrees (RFC 9162 MTH, with `hashes` already hashed): what a full
/// tile contributes to the level above, or a partial one to the root.
pub fn subtree_hash(hashes: &[Hash]) -> Hash {
    match hashes.len() {
        0 => empty_root(),
        1 => hashes[0],
        n => {
            // The largest power of two below n (RFC 9162 section 2.1.1).
            let k = if n.is_power_of_two() {
                n / 2
            } else {
                n.next_power_of_two() / 2
            };
            node_hash(&subtree_hash(&hashes[..k]), &subtree_hash(&hashes[k..]))
        }
    }
}

/// The RFC 9162 root of a log, from the hashes of its tiles at every
/// level: `levels[l]` holds the hashes of the log's last, partial tile at
/// level `l` (0 to 255 of them, each the hash of `256^l` entries), the
/// full tiles above having been folded into the level above. The tree is
/// the concatenation of these subtrees from the top level down.
pub fn root_from_levels(levels: &[Vec<Hash>]) -> Hash {
    // Perfect subtrees, left to right: from the top level down, each
    // level's hashes split by the binary digits of their count.
    let mut peaks: Vec<Hash> = Vec::new();
    for hashes in levels.iter().rev() {
        let mut at = 0usize;
        let mut bit = 128usize;
        while bit > 0 {
            if hashes.len() - at >= bit {
                peaks.push(subtree_hash(&hashes[at..at + bit]));
                at += bit;
            }
            bit /= 2;
        }
    }
    let Some(mut root) = peaks.pop() else {
        return empty_root();
    };
    while let Some(left) = peaks.pop() {
        root = node_hash(&left, &root);
    }
    root
}

/// A tile's name and bytes, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    /// Which tile.
    pub id: TileId,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Builds a log's tiles from its entries, in order, in bounded memory:
/// the last partial tile of each level and the last partial entry bundle
/// (at most 255 entries).
#[derive(Debug, Clone, Default)]
pub struct Tiler {
    size: u64,
    levels: Vec<Vec<Hash>>,
    bundle: Vec<u8>,
}

impl Tiler {
    /// A tiler for an empty log.
    pub fn new() -> Tiler {
        Tiler::default()
    }

    /// A tiler that goes on from a log of `size` entries, given its
    /// right edge as its tiles hold it: `partial[l]`, the hashes of level
    /// `l`'s partial tile (`(size >> 8l) % 256` of them, none where that
    /// level's tiles are all full), for every level below
    /// [`levels`](crate::path::levels)`(size)`, and the partial entry
    /// bundle's bytes. `None` when the widths are not those `size` implies,
    /// or the bundle's entries do not hash to level 0's hashes.
    pub fn resume(size: u64, partial: Vec<Vec<Hash>>, bundle: Vec<u8>) -> Option<Tiler> {
        let levels = usize::from(crate::path::levels(size));
        if partial.len() != levels {
            return None;
        }
        for (l, hashes) in partial.iter().enumerate() {
            if hashes.len() as u64 != (size >> (8 * l)) % TILE_WIDTH {
                return None;
            }
        }
        let width = partial.first().map_or(0, Vec::len);
        let entries = parse_entry_bundle(&bundle, width as u16).ok()?;
        let level0 = partial.first().map(Vec::as_slice).unwrap_or_default();
        if entries
            .iter()
            .map(|e| leaf_hash(e))
            .ne(level0.iter().copied())
        {
            return None;
        }
        Some(Tiler {
            size,
            levels: partial,
            bundle,
        })
    }

    /// Entries pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next entry, returning the full tiles it completes (its
    /// entry bundle and level-0 tile, then any full tiles above). Nothing
    /// changes when the entry is too large for a bundle.
    pub fn push(&mut self, entry: &[u8]) -> Result<Vec<Tile>, TileError> {
        push_entry(&mut self.bundle, entry)?;
        let index = self.size / TILE_WIDTH;
        self.size += 1;
        let mut done = Vec::new();
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf_hash(entry));
        if self.levels[0].len() as u64 == TILE_WIDTH {
            done.push(Tile {
                id: TileId::full(TileKind::Entries, index),
                bytes: std::mem::take(&mut self.bundle),
            });
        }
        let mut level = 0usize;
        while self.levels[level].len() as u64 == TILE_WIDTH {
            let hashes = std::mem::take(&mut self.levels[level]);
            let up = subtree_hash(&hashes);
            done.push(Tile {
                id: TileId::full(TileKind::Hash(level as u8), index >> (8 * level)),
                bytes: hashes.concat(),
            });
            level += 1;
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(up);
        }
        Ok(done)
    }

    /// The partial tiles (and the partial entry bundle) of the log so far.
    pub fn partial_tiles(&self) -> Vec<Tile> {
        let mut out = Vec::new();
        for (l, hashes) in self.levels.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            // Below 256 (a full level is folded up at once).
            let width = hashes.len() as u16;
            let index = self.size >> (8 * (l + 1));
            if l == 0 {
                out.push(Tile {
                    id: TileId {
                        kind: TileKind::Entries,
                        index,
                        width,
                    },
                    bytes: self.bundle.clone(),
                });
            }
            out.push(Tile {
                id: TileId {
                    kind: TileKind::Hash(l as u8),
                    index,
                    width,
                },
                bytes: hashes.concat(),
            });
        }
        out
    }

    /// The RFC 9162 root of the log so far.
    pub fn root(&self) -> Hash {
        root_from_levels(&self.levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_merkle::Tree;

    fn entry(i: u64) -> Vec<u8> {
        format!("entry {i}")
            .repeat((i % 5) as usize + 1)
            .into_bytes()
    }

    /// A tiler resumed from the right edge of a log's tiles builds the
    /// same tiles from the later entries as one that read them all.
    #[test]
    fn a_resumed_tiler_continues_as_one_that_read_everything() {
        for (at, to) in [
            (0u64, 300u64),
            (256, 700),
            (300, 70_000),
            (65_536, 65_900),
            (69_999, 70_000),
        ] {
            let mut whole = Tiler::new();
            let mut before = Vec::new();
            for i in 0..at {
                before.extend(whole.push(&entry(i)).expect("small entry"));
            }
            let edge = whole.partial_tiles();
            let partial: Vec<Vec<Hash>> = (0..crate::path::levels(at))
                .map(|l| {
                    edge.iter()
                        .find(|t| t.id.kind == TileKind::Hash(l))
                        .map(|t| parse_hash_tile(&t.bytes, t.id.width).expect("tile"))
                        .unwrap_or_default()
                })
                .collect();
            let bundle = edge
                .iter()
                .find(|t| t.id.kind == TileKind::Entries)
                .map(|t| t.bytes.clone())
                .unwrap_or_default();
            let mut resumed = Tiler::resume(at, partial.clone(), bundle.clone()).expect("resumed");
            assert_eq!(resumed.root(), whole.root(), "at {at}");
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for i in at..to {
                a.extend(whole.push(&entry(i)).expect("small entry"));
                b.extend(resumed.push(&entry(i)).expect("small entry"));
            }
            a.extend(whole.partial_tiles());
            b.extend(resumed.partial_tiles());
            assert_eq!(a, b, "from {at} to {to}");
            // An edge of the wrong width, or a bundle of other entries, is refused.
            if at % 256 != 0 {
                let mut short = partial.clone();
                short[0].pop();
                assert!(Tiler::resume(at, short, bundle.clone()).is_none());
                let mut other = Vec::new();
                for i in 0..at % 256 {
                    push_entry(&mut other, &entry(i + 1)).expect("entry");
                }
                assert!(Tiler::resume(at, partial, other).is_none());
            }
        }
    }

    #[test]
    fn roots_match_the_merkle_tree_at_every_size() {
        let mut tiler = Tiler::new();
        let mut tree = Tree::new();
        assert_eq!(tiler.root(), tree.root());
        for i in 0..70_000u64 {
            let e = entry(i);
            tiler.push(&e).expect("small entry");
            tree.push(leaf_hash(&e));
            if i < 600 || i % 997 == 0 || (65_530..65_540).contains(&i) {
                assert_eq!(tiler.root(), tree.root(), "size {}", i + 1);
            }
        }
        assert_eq!(tiler.root(), tree.root());
        let partial: Vec<String> = tiler.partial_tiles().iter().map(|t| t.id.path()).collect();
        assert_eq!(
            partial,
            [
                "tile/entries/273.p/112",
                "tile/0/273.p/112",
                "tile/1/001.p/17",
                "tile/2/000.p/1"
            ]
        );
    }

    #[test]
    fn tiles_hold_what_the_spec_says() {
        let mut tiler = Tiler::new();
        let mut tree = Tree::new();
        let mut full = Vec::new();
        for i in 0..(256 * 256 + 3) {
            let e = entry(i);
            tree.push(leaf_hash(&e));
            full.extend(tiler.push(&e).expect("small"));
        }
        // 256 full bundles, 256 full level-0 tiles, 1 full level-1 tile.
        assert_eq!(full.len(), 513);
        let l1 = full.last().expect("tiles");
        assert_eq!(l1.id, TileId::full(TileKind::Hash(1), 0));
        // Level 1, hash i: MTH of entries [256 i, 256 (i + 1)).
        let hashes = parse_hash_tile(&l1.bytes, 256).expect("tile");
        for (i, h) in hashes.iter().enumerate().step_by(51) {
            let leaves: Vec<Hash> = (256 * i as u64..256 * (i as u64 + 1))
                .map(|j| leaf_hash(&entry(j)))
                .collect();
            assert_eq!(*h, Tree::from_leaves(leaves).root());
        }
        let bundle = &full[0];
        assert_eq!(bundle.id.path(), "tile/entries/000");
        let entries = parse_entry_bundle(&bundle.bytes, 256).expect("bundle");
        assert_eq!(entries[7], entry(7).as_slice());
        let l0 = parse_hash_tile(&full[1].bytes, 256).expect("tile");
        assert_eq!(l0[7], leaf_hash(&entry(7)));
    }

    #[test]
    fn malformed_bytes_are_refused() {
        assert!(parse_hash_tile(&[0; 64], 2).is_ok());
        assert!(parse_hash_tile(&[0; 63], 2).is_err());
        assert!(parse_hash_tile(&[0; 65], 2).is_err());
        let mut b = Vec::new();
        push_entry(&mut b, b"abc").expect("small");
        push_entry(&mut b, b"").expect("small");
        assert_eq!(parse_entry_bundle(&b, 2).expect("ok"), [&b"abc"[..], b""]);
        assert!(parse_entry_bundle(&b, 1).is_err());
        assert!(parse_entry_bundle(&b, 3).is_err());
        assert!(parse_entry_bundle(&b[..b.len() - 1], 2).is_err());
        assert!(parse_entry_bundle(&b[..4], 2).is_err());
        let mut t = Tiler::new();
        assert!(t.push(&vec![0; MAX_ENTRY_LEN + 1]).is_err());
        assert_eq!(t.size(), 0);
        assert!(t.push(&vec![0; MAX_ENTRY_LEN]).is_ok());
    }
}
