//! Inclusion proofs computed from a stream of leaves, without a stored tree.

use crate::builder::RootBuilder;
use crate::hash::Hash;
use crate::proof::{split_point, ProofError};

/// Computes the RFC 9162 inclusion proof of one leaf while all the leaves
/// of the tree stream past, in O(log n) memory.
///
/// A [`Tree`](crate::Tree) answers proofs but holds every leaf; a sealed
/// bundle may hold hundreds of millions of events. This builder knows from
/// `index` and `size` alone which subtrees the proof is made of: the
/// siblings met on the way down from the root to the leaf, which together
/// with the leaf cover `[0, size)` without overlap. Each leaf that streams
/// past goes into a [`RootBuilder`] for the one sibling it belongs to; when
/// a sibling's last leaf has passed, its root is one hash of the proof. So
/// every leaf is hashed into the proof once, and the state is one
/// `RootBuilder` and at most 64 hashes, whatever the size.
///
/// ```
/// use cfr_merkle::{leaf_hash, verify_inclusion, InclusionProofBuilder, Tree};
///
/// let events: Vec<Vec<u8>> = (0..10).map(|i| format!("event {i}").into_bytes()).collect();
/// let mut builder = InclusionProofBuilder::new(6, 10)?;
/// for event in &events {
///     builder.push(leaf_hash(event));
/// }
/// let (leaf, path) = builder.finish()?;
///
/// let tree = Tree::from_leaves(events.iter().map(|e| leaf_hash(e)));
/// assert_eq!(path, tree.inclusion_proof(6, 10)?);
/// verify_inclusion(6, 10, &leaf, &path, &tree.root())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct InclusionProofBuilder {
    /// The leaf being proved.
    index: u64,
    /// The tree size proved against.
    size: u64,
    /// The sibling subtrees `[begin, end)` in leaf order, each with its
    /// position in the proof (which lists them from the leaf up).
    siblings: Vec<(u64, u64, usize)>,
    /// The sibling the next leaf (other than `index`) belongs to.
    next: usize,
    /// The proof, filled in as siblings complete.
    path: Vec<Hash>,
    /// Root of the sibling being streamed.
    current: RootBuilder,
    /// Leaves pushed so far (may exceed `size`: reported by `finish`).
    pushed: u64,
    /// The leaf hash at `index`, once seen.
    leaf: Option<Hash>,
}

impl InclusionProofBuilder {
    /// A builder for the proof of leaf `index` in the tree of `size`
    /// leaves. Push all `size` leaf hashes in order, then call
    /// [`finish`](Self::finish).
    ///
    /// # Errors
    ///
    /// [`ProofError::IndexOutOfRange`] when `index >= size`.
    pub fn new(index: u64, size: u64) -> Result<Self, ProofError> {
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        // Walk down from the root of [0, size) to the leaf, as RFC 9162's
        // PATH recurses; the proof lists the siblings in the reverse order.
        let mut top_down = Vec::with_capacity(64);
        let (mut start, mut len, mut m) = (0u64, size, index);
        while len > 1 {
            let k = split_point(len);
            if m < k {
                top_down.push((start + k, start + len));
                len = k;
            } else {
                top_down.push((start, start + k));
                start += k;
                m -= k;
                len -= k;
            }
        }
        let depth = top_down.len();
        let mut siblings: Vec<(u64, u64, usize)> = top_down
            .into_iter()
            .enumerate()
            .map(|(level, (begin, end))| (begin, end, depth - 1 - level))
            .collect();
        siblings.sort_unstable_by_key(|s| s.0);
        Ok(InclusionProofBuilder {
            index,
            size,
            siblings,
            next: 0,
            path: vec![[0; 32]; depth],
            current: RootBuilder::new(),
            pushed: 0,
            leaf: None,
        })
    }

    /// The index of the leaf being proved.
    #[must_use]
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The tree size the proof is for.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of leaves pushed so far.
    #[must_use]
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Appends the next leaf hash. Leaves beyond `size` are counted (and
    /// make [`finish`](Self::finish) fail) but not hashed.
    pub fn push(&mut self, leaf: Hash) {
        let i = self.pushed;
        self.pushed = self.pushed.saturating_add(1);
        if i >= self.size {
            return;
        }
        if i == self.index {
            self.leaf = Some(leaf);
            return;
        }
        // Every leaf of [0, size) but `index` lies in exactly one sibling,
        // and they arrive in order, so it lies in `siblings[next]`.
        let Some(&(_, end, position)) = self.siblings.get(self.next) else {
            return;
        };
        self.current.push(leaf);
        if i + 1 == end {
            self.path[position] = self.current.root();
            self.current = RootBuilder::new();
            self.next += 1;
        }
    }

    /// The leaf hash at `index` and its inclusion proof, ordered from the
    /// leaf up (as [`verify_inclusion`](crate::verify_inclusion) takes it).
    ///
    /// # Errors
    ///
    /// [`ProofError::LeafCountMismatch`] when another number of leaves
    /// than `size` was pushed.
    pub fn finish(self) -> Result<(Hash, Vec<Hash>), ProofError> {
        match self.leaf {
            Some(leaf) if self.pushed == self.size => Ok((leaf, self.path)),
            _ => Err(ProofError::LeafCountMismatch {
                expected: self.size,
                found: usize::try_from(self.pushed).unwrap_or(usize::MAX),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{leaf_hash, verify_inclusion, Tree};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn equals_the_stored_tree_for_every_index_of_small_trees() {
        for size in 1..=70u64 {
            let all = leaves(size);
            let tree = Tree::from_leaves(all.iter().copied());
            for index in 0..size {
                let mut b = InclusionProofBuilder::new(index, size).unwrap();
                for l in &all {
                    b.push(*l);
                }
                let (leaf, path) = b.finish().unwrap();
                assert_eq!(leaf, all[index as usize]);
                assert_eq!(
                    path,
                    tree.inclusion_proof(index, size).unwrap(),
                    "{index}/{size}"
                );
                verify_inclusion(index, size, &leaf, &path, &tree.root()).unwrap();
            }
        }
    }

    #[test]
    fn a_larger_tree_and_its_edges() {
        let size = 1000;
        let all = leaves(size);
        let tree = Tree::from_leaves(all.iter().copied());
        for index in [0, 1, 511, 512, 513, 998, 999] {
            let mut b = InclusionProofBuilder::new(index, size).unwrap();
            all.iter().for_each(|l| b.push(*l));
            assert_eq!(b.pushed(), size);
            let (_, path) = b.finish().unwrap();
            assert_eq!(path, tree.inclusion_proof(index, size).unwrap());
        }
    }

    #[test]
    fn refuses_an_index_outside_the_tree_and_a_wrong_leaf_count() {
        assert_eq!(
            InclusionProofBuilder::new(5, 5).unwrap_err(),
            ProofError::IndexOutOfRange { index: 5, size: 5 }
        );
        let all = leaves(8);
        let mut short = InclusionProofBuilder::new(2, 8).unwrap();
        all[..7].iter().for_each(|l| short.push(*l));
        assert_eq!(
            short.finish().unwrap_err(),
            ProofError::LeafCountMismatch {
                expected: 8,
                found: 7
            }
        );
        // Fewer leaves than the index: the leaf itself never came.
        let mut none = InclusionProofBuilder::new(6, 8).unwrap();
        all[..3].iter().for_each(|l| none.push(*l));
        assert!(none.finish().is_err());
        let mut long = InclusionProofBuilder::new(2, 8).unwrap();
        all.iter().chain(&all[..1]).for_each(|l| long.push(*l));
        assert_eq!(
            long.finish().unwrap_err(),
            ProofError::LeafCountMismatch {
                expected: 8,
                found: 9
            }
        );
    }
}
