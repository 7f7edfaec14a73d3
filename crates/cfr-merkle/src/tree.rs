//! An append-only tree that answers for every past size, its nodes in
//! memory ([`Tree`]) or in any [`NodeStore`] (a recorder keeps them in
//! files, so that its memory does not grow with the log).

use crate::builder::fold_right;
use crate::hash::{empty_root, node_hash, Hash};
use crate::proof::{compact_range, peak_boundary_at_or_after, split_point};

/// Why a [`Tree`] cannot produce a root or proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The requested size is larger than the tree.
    #[error("tree size {size} requested but the tree holds only {tree_size} leaves")]
    SizeBeyondTree {
        /// The requested size.
        size: u64,
        /// The number of leaves in the tree.
        tree_size: u64,
    },
    /// The leaf index is not below the requested size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The requested tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger size to a smaller one.
    #[error("old tree size {old_size} is greater than new tree size {new_size}")]
    SizesOutOfOrder {
        /// The requested old size.
        old_size: u64,
        /// The requested new size.
        new_size: u64,
    },
    /// The node store failed (for example a read from its file).
    #[error("the tree's node store: {reason}")]
    Store {
        /// Why.
        reason: String,
    },
    /// The range is empty or extends past the requested size.
    #[error("leaf range [{begin}, {end}) is empty or not within a tree of size {size}")]
    InvalidRange {
        /// First leaf index of the range.
        begin: u64,
        /// One past the last leaf index.
        end: u64,
        /// The requested tree size.
        size: u64,
    },
}

/// An append-only Merkle tree held in memory, able to produce the root,
/// inclusion, consistency and range proofs of any past size.
///
/// It stores every level of perfect-subtree hashes: `levels[k][i]` is the
/// root of the perfect subtree over leaves `[i * 2^k, (i + 1) * 2^k)`. That
/// is at most `2n` hashes for `n` leaves; an append is amortised O(1) hash
/// computations, and any subtree root, at any past size, is a fold of at
/// most `log2(n)` stored hashes, so every query below is O(log n).
///
/// ```
/// use cfr_merkle::{leaf_hash, verify_consistency, verify_inclusion, Tree};
///
/// let mut tree = Tree::new();
/// for event in [b"a", b"b", b"c", b"d", b"e"] {
///     tree.push(leaf_hash(event));
/// }
/// let old_root = tree.root_at(3)?;
/// let proof = tree.consistency_proof(3, 5)?;
/// verify_consistency(3, 5, &old_root, &tree.root(), &proof)?;
///
/// let proof = tree.inclusion_proof(1, 3)?;
/// verify_inclusion(1, 3, &leaf_hash(b"b"), &proof, &old_root)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree<S = MemNodes> {
    /// `level k` holds the roots of the complete perfect subtrees of
    /// `2^k` leaves; level 0 the leaf hashes.
    nodes: S,
}

/// Where a [`Tree`] keeps its nodes: level `k` holds, in order, the root
/// of every complete perfect subtree of `2^k` leaves (level 0 the leaf
/// hashes). A tree only appends to a level and reads what it appended.
pub trait NodeStore {
    /// Why a read or an append failed (`Infallible` for memory).
    type Error;
    /// How many nodes level `level` holds.
    fn len(&self, level: u32) -> u64;
    /// Node `index` of level `level` (`index < len(level)`).
    ///
    /// # Errors
    ///
    /// When the store cannot read it.
    fn get(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
    /// Appends a node to level `level` (which may be the first empty one).
    ///
    /// # Errors
    ///
    /// When the store cannot write it; the tree is then unusable.
    fn push(&mut self, level: u32, hash: Hash) -> Result<(), Self::Error>;
}

/// Nodes in memory: at most `2n` hashes for `n` leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemNodes {
    levels: Vec<Vec<Hash>>,
}

impl NodeStore for MemNodes {
    type Error = std::convert::Infallible;

    fn len(&self, level: u32) -> u64 {
        self.levels
            .get(level as usize)
            .map_or(0, |l| l.len() as u64)
    }

    fn get(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        // In range by construction: a tree only names nodes it appended.
        Ok(self.levels[level as usize][index as usize])
    }

    fn push(&mut self, level: u32, hash: Hash) -> Result<(), Self::Error> {
        if self.levels.len() == level as usize {
            self.levels.push(Vec::new());
        }
        self.levels[level as usize].push(hash);
        Ok(())
    }
}

impl Tree {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Tree::default()
    }

    /// A tree of the given leaf hashes, in order.
    #[must_use]
    pub fn from_leaves<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut tree = Tree::new();
        tree.extend(leaves);
        tree
    }

    /// Appends a leaf hash; returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let Ok(index) = self.try_push(leaf);
        index
    }

    /// The leaf hash at `index`, if the tree has it.
    #[must_use]
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let Ok(leaf) = self.try_leaf(index);
        leaf
    }

    /// The current root.
    #[must_use]
    pub fn root(&self) -> Hash {
        let Ok(root) = self.try_root();
        root
    }

    /// The root the tree would have with `more` leaves appended, without
    /// appending them: what a checkpoint over a batch that is stored in
    /// the same transaction as the checkpoint signs.
    ///
    /// ```
    /// use cfr_merkle::{leaf_hash, Tree};
    ///
    /// let mut tree = Tree::from_leaves([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")]);
    /// let more = [leaf_hash(b"d"), leaf_hash(b"e")];
    /// let ahead = tree.root_with(&more);
    /// tree.extend(more);
    /// assert_eq!(ahead, tree.root());
    /// ```
    #[must_use]
    pub fn root_with(&self, more: &[Hash]) -> Hash {
        let Ok(root) = self.try_root_with(more);
        root
    }
}

impl<S: NodeStore> Tree<S> {
    /// An empty tree over `nodes`, which must be empty.
    pub fn with_store(nodes: S) -> Self {
        Tree { nodes }
    }

    /// The node store.
    pub fn store(&self) -> &S {
        &self.nodes
    }

    /// Appends a leaf hash; returns its index.
    ///
    /// # Errors
    ///
    /// When the store fails; the tree must then not be used again.
    pub fn try_push(&mut self, leaf: Hash) -> Result<u64, S::Error> {
        let index = self.size();
        let mut level = 0;
        let mut hash = leaf;
        loop {
            self.nodes.push(level, hash)?;
            let len = self.nodes.len(level);
            if len % 2 == 1 {
                break;
            }
            // This node completes a pair: its parent is now complete too.
            hash = node_hash(&self.nodes.get(level, len - 2)?, &hash);
            level += 1;
        }
        Ok(index)
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.nodes.len(0)
    }

    /// The leaf hash at `index`, if the tree has it.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn try_leaf(&self, index: u64) -> Result<Option<Hash>, S::Error> {
        if index >= self.size() {
            return Ok(None);
        }
        self.nodes.get(0, index).map(Some)
    }

    /// The current root.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn try_root(&self) -> Result<Hash, S::Error> {
        self.subtree_root(0, self.size())
    }

    /// [`Tree::root_with`] over any store.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn try_root_with(&self, more: &[Hash]) -> Result<Hash, S::Error> {
        let size = self.size();
        let mut builder = crate::builder::RootBuilder::new();
        let peaks = compact_range(0, size)
            .map(|(level, pos)| self.perfect(level, pos))
            .collect::<Result<Vec<Hash>, S::Error>>()?;
        // The compact range of [0, size) has one piece per set bit of
        // size, largest first: what `from_peaks` takes.
        if let Some(b) = crate::builder::RootBuilder::from_peaks(size, &peaks) {
            builder = b;
        }
        for leaf in more {
            builder.push(*leaf);
        }
        Ok(builder.root())
    }
}

impl<S: NodeStore> Tree<S>
where
    S::Error: std::fmt::Display,
{
    /// The root the tree had when it held `size` leaves.
    ///
    /// # Errors
    ///
    /// [`TreeError::SizeBeyondTree`] when `size > self.size()`;
    /// [`TreeError::Store`] when the store fails.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        self.check_size(size)?;
        self.subtree_root(0, size).map_err(store)
    }

    /// The RFC 9162 inclusion proof (`PATH`) of leaf `index` in the tree of
    /// `size` leaves, ordered from the leaf up.
    ///
    /// # Errors
    ///
    /// [`TreeError::SizeBeyondTree`], [`TreeError::IndexOutOfRange`] or
    /// [`TreeError::Store`].
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(size)?;
        if index >= size {
            return Err(TreeError::IndexOutOfRange { index, size });
        }
        // Walk down from the root of [0, size) towards the leaf, recording
        // the sibling subtree at each split; the proof lists them leaf-up.
        let mut path = Vec::with_capacity(64);
        let (mut start, mut len, mut m) = (0, size, index);
        while len > 1 {
            let k = split_point(len);
            if m < k {
                path.push(self.subtree_root(start + k, start + len).map_err(store)?);
                len = k;
            } else {
                path.push(self.subtree_root(start, start + k).map_err(store)?);
                start += k;
                m -= k;
                len -= k;
            }
        }
        path.reverse();
        Ok(path)
    }

    /// The RFC 9162 consistency proof (`PROOF`) between the trees of
    /// `old_size` and `new_size` leaves. Empty when `old_size` is 0 or equal
    /// to `new_size`.
    ///
    /// # Errors
    ///
    /// [`TreeError::SizeBeyondTree`], [`TreeError::SizesOutOfOrder`] or
    /// [`TreeError::Store`].
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(TreeError::SizesOutOfOrder { old_size, new_size });
        }
        let mut path = Vec::with_capacity(64);
        if old_size == 0 || old_size == new_size {
            return Ok(path);
        }
        // SUBPROOF(m, D[start:start+len], whole_old_tree) unrolled.
        let (mut start, mut len, mut m) = (0, new_size, old_size);
        let mut whole_old_tree = true;
        loop {
            if m == len {
                if !whole_old_tree {
                    path.push(self.subtree_root(start, start + len).map_err(store)?);
                }
                break;
            }
            let k = split_point(len);
            if m <= k {
                path.push(self.subtree_root(start + k, start + len).map_err(store)?);
                len = k;
            } else {
                path.push(self.subtree_root(start, start + k).map_err(store)?);
                start += k;
                m -= k;
                len -= k;
                whole_old_tree = false;
            }
        }
        path.reverse();
        Ok(path)
    }

    /// The range proof that leaves `[begin, end)` belong to the tree of
    /// `size` leaves; see [`verify_range`](crate::verify_range) for its
    /// layout.
    ///
    /// # Errors
    ///
    /// [`TreeError::SizeBeyondTree`], [`TreeError::InvalidRange`] when
    /// `begin >= end` or `end > size`, or [`TreeError::Store`].
    pub fn range_proof(&self, begin: u64, end: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(size)?;
        if begin >= end || end > size {
            return Err(TreeError::InvalidRange { begin, end, size });
        }
        let mut proof = Vec::with_capacity(128);
        for (level, pos) in compact_range(0, begin) {
            proof.push(self.perfect(level, pos).map_err(store)?);
        }
        let boundary = peak_boundary_at_or_after(end, size);
        for (level, pos) in compact_range(end, boundary) {
            proof.push(self.perfect(level, pos).map_err(store)?);
        }
        if boundary < size {
            proof.push(self.subtree_root(boundary, size).map_err(store)?);
        }
        Ok(proof)
    }
}

fn store(e: impl std::fmt::Display) -> TreeError {
    TreeError::Store {
        reason: e.to_string(),
    }
}

impl<S: NodeStore> Tree<S> {
    fn check_size(&self, size: u64) -> Result<(), TreeError> {
        let tree_size = self.size();
        if size > tree_size {
            return Err(TreeError::SizeBeyondTree { size, tree_size });
        }
        Ok(())
    }

    /// Root of the complete perfect subtree of `2^level` leaves starting at
    /// leaf `pos` (a multiple of `2^level`, within the tree).
    fn perfect(&self, level: u32, pos: u64) -> Result<Hash, S::Error> {
        debug_assert!(pos == 0 || pos.trailing_zeros() >= level);
        // In range by construction: callers only name subtrees that lie
        // within a size already checked against the tree.
        self.nodes.get(level, pos >> level)
    }

    /// RFC 9162 `MTH(D[begin:end])` for a range that starts on a multiple
    /// of the largest power of two not above its length (every subtree of a
    /// Merkle tree does), so it is its perfect pieces folded right to left.
    fn subtree_root(&self, begin: u64, end: u64) -> Result<Hash, S::Error> {
        if begin == end {
            return Ok(empty_root());
        }
        let mut pieces = [[0u8; 32]; 64];
        let mut count = 0;
        let len = end - begin;
        let mut pos = begin;
        for level in (0..64u32).rev() {
            if (len >> level) & 1 == 1 {
                pieces[count] = self.perfect(level, pos)?;
                count += 1;
                pos += 1 << level;
            }
        }
        let (last, rest) = match pieces[..count].split_last() {
            Some(split) => split,
            None => return Ok(empty_root()),
        };
        Ok(fold_right(rest, *last))
    }
}

impl Extend<Hash> for Tree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, leaves: I) {
        for leaf in leaves {
            self.push(leaf);
        }
    }
}

impl FromIterator<Hash> for Tree {
    fn from_iter<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        Tree::from_leaves(leaves)
    }
}
