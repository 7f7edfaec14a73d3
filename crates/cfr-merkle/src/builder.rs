//! Streaming root computation over a compact range.

use crate::hash::{empty_root, node_hash, Hash};

/// The most perfect subtrees a tree of at most `u64::MAX` leaves splits into.
const MAX_PEAKS: usize = 64;

/// Computes the root of a tree from its leaves as they stream past, in
/// O(log n) memory and without allocating.
///
/// The builder keeps the *compact range* `[0, size)`: the hashes of the
/// perfect subtrees that tree splits into, one per set bit of `size`, largest
/// (leftmost) first. Pushing a leaf merges equal-sized subtrees the way a
/// binary counter carries; [`root`](Self::root) folds them right to left,
/// which is exactly RFC 9162's `MTH`. The state is a fixed array of 64
/// hashes, so a builder never allocates however many leaves it sees.
///
/// ```
/// use cfr_merkle::{leaf_hash, RootBuilder};
///
/// let mut builder = RootBuilder::new();
/// for event in [b"a", b"b", b"c"] {
///     builder.push(leaf_hash(event));
/// }
/// assert_eq!(builder.size(), 3);
/// let root = builder.root();
/// # let _ = root;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RootBuilder {
    /// Number of leaves pushed so far.
    size: u64,
    /// Hashes of the perfect subtrees of `[0, size)`, largest first; only
    /// the first `size.count_ones()` entries are meaningful.
    peaks: [Hash; MAX_PEAKS],
}

impl RootBuilder {
    /// An empty builder (size 0, root `SHA-256("")`).
    #[must_use]
    pub fn new() -> Self {
        RootBuilder {
            size: 0,
            peaks: [[0; 32]; MAX_PEAKS],
        }
    }

    /// Resumes from a compact range: `peaks` are the hashes of the perfect
    /// subtrees of `[0, size)`, largest first. Returns `None` when the
    /// number of peaks is not `size.count_ones()`.
    #[must_use]
    pub fn from_peaks(size: u64, peaks: &[Hash]) -> Option<Self> {
        if peaks.len() != size.count_ones() as usize {
            return None;
        }
        let mut builder = RootBuilder::new();
        builder.peaks[..peaks.len()].copy_from_slice(peaks);
        builder.size = size;
        Some(builder)
    }

    /// Appends the next leaf hash.
    ///
    /// # Panics
    ///
    /// Only after `u64::MAX` leaves, which no log reaches.
    pub fn push(&mut self, leaf: Hash) {
        self.push_subtree(0, leaf);
    }

    /// Appends a perfect subtree of `2^level` leaves whose root is `hash`.
    /// The current size must be a multiple of `2^level` (callers check).
    pub(crate) fn push_subtree(&mut self, level: u32, hash: Hash) {
        debug_assert!(level < 64 && self.size.trailing_zeros() >= level);
        let mut count = self.size.count_ones() as usize;
        let mut carry = self.size >> level;
        let mut hash = hash;
        // Merge with every same-sized subtree on the right edge, as a binary
        // counter carries.
        while carry & 1 == 1 && count > 0 {
            count -= 1;
            hash = node_hash(&self.peaks[count], &hash);
            carry >>= 1;
        }
        // `count` < 64 here: a size below 2^64 has at most 64 set bits, and
        // the carry loop above popped at least one when all 64 were set.
        self.peaks[count] = hash;
        self.size += 1 << level;
    }

    /// Number of leaves pushed so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The compact range `[0, size)`: hashes of the perfect subtrees, largest
    /// (leftmost) first.
    #[must_use]
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks[..self.size.count_ones() as usize]
    }

    /// The RFC 9162 root of the leaves pushed so far.
    #[must_use]
    pub fn root(&self) -> Hash {
        match self.peaks().split_last() {
            None => empty_root(),
            Some((last, rest)) => fold_right(rest, *last),
        }
    }

    /// The root of this compact range followed by a subtree whose root is
    /// `tail` (used by range proofs).
    pub(crate) fn root_with_tail(&self, tail: Hash) -> Hash {
        fold_right(self.peaks(), tail)
    }
}

impl Default for RootBuilder {
    fn default() -> Self {
        RootBuilder::new()
    }
}

impl core::fmt::Debug for RootBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RootBuilder")
            .field("size", &self.size)
            .field("peaks", &self.peaks().len())
            .finish()
    }
}

/// `node(p[0], node(p[1], ... node(p[k-1], tail)))`.
pub(crate) fn fold_right(peaks: &[Hash], tail: Hash) -> Hash {
    peaks
        .iter()
        .rev()
        .fold(tail, |acc, peak| node_hash(peak, &acc))
}
