//! Tile and entry-bundle names, as C2SP `tlog-tiles` spells them.
//!
//! `tile/<L>/<N>[.p/<W>]` for hash tiles and `tile/entries/<N>[.p/<W>]`
//! for entry bundles, where `<N>` is the tile index in zero-padded groups
//! of three digits, every group but the last prefixed with `x`
//! (1234067 is `x001/x234/067`), `<L>` a level from 0 to 63 and `<W>` the
//! width of a partial tile, 1 to 255, both without leading zeros.

use std::fmt;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Bytes of one hash in a hash tile.
pub const HASH_LEN: usize = 32;

/// The highest level a hash tile may have.
pub const MAX_LEVEL: u8 = 63;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Merkle tree hashes at this level (0: leaf hashes).
    Hash(u8),
    /// An entry bundle: the entries whose leaf hashes are a level-0 tile.
    Entries,
}

/// One tile or entry bundle: what it holds, its index in its level, and
/// its width (`TILE_WIDTH` for a full tile, 1 to 255 for a partial one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Hash tile (with its level) or entry bundle.
    pub kind: TileKind,
    /// The tile's index within its level.
    pub index: u64,
    /// How many hashes (or entries) it holds: 1 to 256.
    pub width: u16,
}

/// Why a name is not a tile's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// It does not start with `tile/`.
    #[error("{0:?} is not under tile/")]
    NotATile(String),
    /// The level is not a decimal from 0 to 63 without leading zeros.
    #[error("{0:?}: the level must be 0 to 63 without leading zeros, or `entries`")]
    Level(String),
    /// The index is not in groups of three digits, `x`-prefixed but the
    /// last, without a leading all-zero group, fitting 64 bits.
    #[error("{0:?}: the index must be groups of three digits (x001/x234/067)")]
    Index(String),
    /// The partial width is not a decimal from 1 to 255 without leading zeros.
    #[error("{0:?}: a partial width must be 1 to 255 without leading zeros")]
    Width(String),
}

impl TileId {
    /// A full tile.
    pub fn full(kind: TileKind, index: u64) -> TileId {
        TileId {
            kind,
            index,
            width: TILE_WIDTH as u16,
        }
    }

    /// Whether this is a full tile.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The level of the hashes: an entry bundle goes with level 0.
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hash(l) => l,
            TileKind::Entries => 0,
        }
    }

    /// The name of the tile under the log's prefix, as C2SP spells it.
    pub fn path(&self) -> String {
        let mut out = String::from("tile/");
        match self.kind {
            TileKind::Hash(l) => out.push_str(&l.to_string()),
            TileKind::Entries => out.push_str("entries"),
        }
        out.push('/');
        out.push_str(&index_path(self.index));
        if !self.is_full() {
            out.push_str(".p/");
            out.push_str(&self.width.to_string());
        }
        out
    }

    /// Parses a tile's name strictly: only the spelling [`TileId::path`]
    /// gives is accepted, so one tile has one name.
    pub fn parse(path: &str) -> Result<TileId, PathError> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| PathError::NotATile(path.to_owned()))?;
        let (level, rest) = rest
            .split_once('/')
            .ok_or_else(|| PathError::Index(path.to_owned()))?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let l = canonical_decimal(level)
                .filter(|l| *l <= u64::from(MAX_LEVEL))
                .ok_or_else(|| PathError::Level(path.to_owned()))?;
            // At most 63 (checked above).
            TileKind::Hash(l as u8)
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, w)) => {
                let w = canonical_decimal(w)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(|| PathError::Width(path.to_owned()))?;
                // Below 256 (checked above).
                (index, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index).ok_or_else(|| PathError::Index(path.to_owned()))?;
        Ok(TileId { kind, index, width })
    }

    /// Whether a log of `size` entries has this tile: the spec's full
    /// tiles below the size and the one partial tile per level.
    pub fn in_tree_of(&self, size: u64) -> bool {
        let size = u128::from(size);
        let span = 256u128.pow(u32::from(self.level()));
        let first = u128::from(self.index) * 256 * span;
        if self.is_full() {
            first + 256 * span <= size
        } else {
            u128::from(self.index) == size / (256 * span)
                && u128::from(self.width) == (size / span) % 256
        }
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// `n` as zero-padded groups of three digits, `x` before all but the last.
fn index_path(n: u64) -> String {
    let digits = n.to_string();
    let pad = (3 - digits.len() % 3) % 3;
    let digits = format!("{}{digits}", "0".repeat(pad));
    let groups: Vec<&str> = (0..digits.len() / 3)
        .map(|i| &digits[i * 3..i * 3 + 3])
        .collect();
    let mut out = String::new();
    for (i, g) in groups.iter().enumerate() {
        if i + 1 < groups.len() {
            out.push('x');
        }
        out.push_str(g);
        if i + 1 < groups.len() {
            out.push('/');
        }
    }
    out
}

fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    // u64::MAX has 20 digits: 7 groups.
    if groups.len() > 7 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last { *g } else { g.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // A leading all-zero group is another spelling of a shorter index.
        if i == 0 && !last && digits == "000" {
            return None;
        }
        let v: u64 = digits.parse().ok()?;
        n = n.checked_mul(1000)?.checked_add(v)?;
    }
    Some(n)
}

/// A decimal without sign or leading zeros ("0" itself is fine).
fn canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Every tile a log of `size` entries has at one level (`kind`), in
/// index order: the full tiles, then the partial one if any.
pub fn tiles_at(kind: TileKind, size: u64) -> impl Iterator<Item = TileId> {
    let span = 256u128.pow(u32::from(match kind {
        TileKind::Hash(l) => l,
        TileKind::Entries => 0,
    }));
    let hashes = u128::from(size) / span;
    let full = (hashes / 256) as u64;
    let partial = (hashes % 256) as u16;
    (0..full)
        .map(move |index| TileId::full(kind, index))
        .chain((partial > 0).then_some(TileId {
            kind,
            index: full,
            width: partial,
        }))
}

/// How many levels of hash tiles a log of `size` entries has (0 for an
/// empty log): level `l` exists while `size >= 256^l`.
pub fn levels(size: u64) -> u8 {
    let mut l = 0u8;
    let mut span: u128 = 1;
    while u128::from(size) >= span && l <= MAX_LEVEL {
        l += 1;
        span *= 256;
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples() {
        let id = TileId::full(TileKind::Hash(0), 1234067);
        assert_eq!(id.path(), "tile/0/x001/x234/067");
        assert_eq!(TileId::parse("tile/0/x001/x234/067"), Ok(id));
        let p = TileId {
            kind: TileKind::Entries,
            index: 5,
            width: 17,
        };
        assert_eq!(p.path(), "tile/entries/005.p/17");
        assert_eq!(TileId::parse(&p.path()), Ok(p));
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        assert_eq!(
            parse_index("x018/x446/x744/x073/x709/x551/615"),
            Some(u64::MAX)
        );
        assert_eq!(parse_index("x018/x446/x744/x073/x709/x551/616"), None);
    }

    #[test]
    fn tree_of_70000() {
        // "a tree of size 70,000 will be represented by 273 full level 0
        // tiles, one partial level 0 tile of width 112, one full level 1
        // tile, one partial level 1 tile of width 17, and one partial
        // level 2 tile of width 1."
        let l0: Vec<_> = tiles_at(TileKind::Hash(0), 70_000).collect();
        assert_eq!(l0.len(), 274);
        assert_eq!(l0[273].width, 112);
        let l1: Vec<_> = tiles_at(TileKind::Hash(1), 70_000).collect();
        assert_eq!((l1.len(), l1[0].width, l1[1].width), (2, 256, 17));
        let l2: Vec<_> = tiles_at(TileKind::Hash(2), 70_000).collect();
        assert_eq!((l2.len(), l2[0].width), (1, 1));
        assert_eq!(tiles_at(TileKind::Hash(3), 70_000).count(), 0);
        assert_eq!(levels(70_000), 3);
        for id in l0.iter().chain(&l1).chain(&l2) {
            assert!(id.in_tree_of(70_000), "{id}");
        }
        assert!(!TileId::full(TileKind::Hash(0), 273).in_tree_of(70_000));
        // "a tree of size 256 will be represented by a full level 0 tile
        // and a partial level 1 tile of width 1."
        assert_eq!(levels(256), 2);
        let one = TileId {
            kind: TileKind::Hash(1),
            index: 0,
            width: 1,
        };
        assert!(one.in_tree_of(256) && TileId::full(TileKind::Hash(0), 0).in_tree_of(256));
        assert_eq!(tiles_at(TileKind::Hash(0), 256).count(), 1);
        assert_eq!(levels(0), 0);
        assert_eq!(levels(1), 1);
    }

    #[test]
    fn other_spellings_are_refused() {
        for bad in [
            "tile/00/000",
            "tile/64/000",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/01",
            "tile/0/001.p/",
            "tile/entries/",
            "tile/0/x001/x002/x003/x004/x005/x006/x007/008",
            "tile/0/x999/x999/x999/x999/x999/x999/999",
            "tiles/0/000",
            "tile/-1/000",
            "tile/0/+01",
        ] {
            assert!(TileId::parse(bad).is_err(), "{bad}");
        }
    }
}
