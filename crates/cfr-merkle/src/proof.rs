//! Proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) and range
//! proofs, independent of any stored tree.

use crate::builder::RootBuilder;
use crate::hash::{empty_root, node_hash, Hash, Hex};

/// Why a proof was rejected.
///
/// Every variant means "this proof does not show what it claims"; none of
/// them is an I/O or internal failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is greater than new tree size {new_size}")]
    SizesOutOfOrder {
        /// The claimed old size.
        old_size: u64,
        /// The claimed new size.
        new_size: u64,
    },
    /// A range proof's range is empty or extends past the tree.
    #[error("leaf range [{begin}, {end}) is empty or not within a tree of size {size}")]
    InvalidRange {
        /// First leaf index of the range.
        begin: u64,
        /// One past the last leaf index of the range.
        end: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The number of leaf hashes given does not match the range.
    #[error("the range holds {expected} leaves but {found} leaf hashes were given")]
    LeafCountMismatch {
        /// `end - begin`.
        expected: u64,
        /// Number of leaf hashes given.
        found: usize,
    },
    /// The proof has the wrong number of hashes for the claimed sizes.
    #[error("proof has {found} hashes, expected {expected} for these sizes")]
    WrongProofLength {
        /// Length implied by the index and sizes.
        expected: usize,
        /// Length of the proof given.
        found: usize,
    },
    /// The root computed from the proof differs from the claimed root (of
    /// the new tree, for a consistency proof).
    #[error("computed root {} does not match expected root {}", Hex(.computed), Hex(.expected))]
    RootMismatch {
        /// The claimed root.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },
    /// The old root computed from a consistency proof differs from the
    /// claimed old root.
    #[error("computed old root {} does not match expected old root {}", Hex(.computed), Hex(.expected))]
    OldRootMismatch {
        /// The claimed old root.
        expected: Hash,
        /// The old root the proof leads to.
        computed: Hash,
    },
}

/// Largest power of two strictly below `n` (the RFC's `k`); `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Splits an inclusion path for `index` in a tree of `size` into the
/// `inner` part (siblings inside the perfect subtree shared with the last
/// leaf) and the `border` part (left peaks above it).
fn decompose_inclusion(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// Number of hashes in the RFC 9162 inclusion proof of `index` in `size`
/// (`index < size`).
pub(crate) fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (inner, border) = decompose_inclusion(index, size);
    (inner + border) as usize
}

/// Number of hashes in the RFC 9162 consistency proof from `old_size` to
/// `new_size` (`0 < old_size < new_size`).
pub(crate) fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    let shift = old_size.trailing_zeros();
    let (inner, border) = decompose_inclusion(old_size - 1, new_size);
    let inner = inner.saturating_sub(shift);
    // When the old tree is a perfect subtree its root is not repeated in the
    // proof; otherwise the proof starts with the hash of the old tree's
    // rightmost perfect subtree.
    let seed = usize::from(!old_size.is_power_of_two());
    seed + (inner + border) as usize
}

/// Computes the root a leaf hash and its inclusion proof lead to, following
/// RFC 9162 section 2.1.3.2.
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`] when `index >= size`,
/// [`ProofError::WrongProofLength`] when the proof is not exactly as long as
/// an inclusion proof for `index` in `size`.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        // Cannot happen after the length check; kept as the RFC states it.
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                expected,
                found: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf` is the leaf hash at `index` in the tree of `size`
/// leaves whose root is `root` (RFC 9162 section 2.1.3.2).
///
/// `proof` is ordered from the leaf up, as RFC 9162 and
/// [`Tree::inclusion_proof`](crate::Tree::inclusion_proof) produce it.
///
/// # Errors
///
/// See [`root_from_inclusion_proof`]; also [`ProofError::RootMismatch`].
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// Verifies that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`
/// (RFC 9162 section 2.1.4.2).
///
/// Edge cases, which the RFC leaves to the caller:
///
/// * `old_size == new_size`: the proof must be empty and the roots equal;
/// * `old_size == 0`: the proof must be empty and `old_root` must be the
///   empty-tree root `SHA-256("")` (every tree extends the empty tree, but a
///   checkpoint of size 0 with another root is not a valid tree head).
///
/// # Errors
///
/// [`ProofError::SizesOutOfOrder`], [`ProofError::WrongProofLength`],
/// [`ProofError::OldRootMismatch`] or [`ProofError::RootMismatch`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                found: proof.len(),
            });
        }
        if old_size == 0 {
            let empty = empty_root();
            if *old_root != empty {
                return Err(ProofError::OldRootMismatch {
                    expected: *old_root,
                    computed: empty,
                });
            }
            if new_size == 0 && *new_root != empty {
                return Err(ProofError::RootMismatch {
                    expected: *new_root,
                    computed: empty,
                });
            }
        } else if old_root != new_root {
            return Err(ProofError::RootMismatch {
                expected: *new_root,
                computed: *old_root,
            });
        }
        return Ok(());
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    // RFC 9162 2.1.4.2 step 2: when the old size is a power of two the old
    // root is implicitly the first element of the path.
    let (first, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            // Unreachable: `expected` >= 1 when `old_size` is not a power
            // of two; reported as a length error rather than panicking.
            None => {
                return Err(ProofError::WrongProofLength { expected, found: 0 });
            }
        }
    };
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = *first;
    let mut s_r = *first;
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                expected,
                found: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    if f_r != *old_root {
        return Err(ProofError::OldRootMismatch {
            expected: *old_root,
            computed: f_r,
        });
    }
    if s_r != *new_root {
        return Err(ProofError::RootMismatch {
            expected: *new_root,
            computed: s_r,
        });
    }
    Ok(())
}

/// The perfect subtrees covering `[begin, end)`, as `(level, first leaf)`,
/// left to right: the compact range of `[begin, end)`. Sizes first grow
/// (limited by alignment) then shrink (limited by what is left).
pub(crate) fn compact_range(begin: u64, end: u64) -> impl Iterator<Item = (u32, u64)> {
    let mut pos = begin;
    core::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        let by_alignment = pos.trailing_zeros().min(63);
        let by_length = 63 - (end - pos).leading_zeros();
        let level = by_alignment.min(by_length);
        let piece = (level, pos);
        pos += 1 << level;
        Some(piece)
    })
}

/// The smallest boundary between the perfect subtrees ("peaks") of a tree
/// of `size` leaves that is at or after `end` (`end <= size`). Every peak of
/// `size` right of it lies wholly right of `end`.
pub(crate) fn peak_boundary_at_or_after(end: u64, size: u64) -> u64 {
    // The peak boundaries of `size` are `size` with its low bits cleared;
    // they grow as fewer bits are cleared.
    (0..=64u32)
        .rev()
        .map(|cleared| size & !low_mask(cleared))
        .find(|&boundary| boundary >= end)
        .unwrap_or(size)
}

/// `2^bits - 1`, for `bits` in `0..=64`.
fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Number of hashes in the range proof for `[begin, end)` in `size`
/// (`begin < end <= size`).
pub(crate) fn range_proof_len(begin: u64, end: u64, size: u64) -> usize {
    let boundary = peak_boundary_at_or_after(end, size);
    begin.count_ones() as usize
        + compact_range(end, boundary).count()
        + usize::from(boundary < size)
}

/// Verifies that `leaves` are the leaf hashes at indices `[begin, end)` of
/// the tree of `size` leaves whose root is `root`.
///
/// # The range proof
///
/// A range proof is the list of hashes a verifier needs, besides the range's
/// own leaves, to rebuild the compact range of the whole tree and so its
/// root. With `boundary` the first boundary between the perfect subtrees
/// ("peaks") of the tree of `size` leaves at or after `end`, it is, in order:
///
/// 1. the compact range of `[0, begin)`: the roots of the perfect subtrees
///    left of the range, largest first (`popcount(begin)` hashes);
/// 2. the compact range of `[end, boundary)`: the roots of the maximal
///    aligned perfect subtrees right of the range, up to `boundary`, left to
///    right (at most `log2(size)` hashes);
/// 3. if `boundary < size`, one more hash: the RFC 9162 root of the leaves
///    `[boundary, size)`, which the verifier never needs to look into.
///
/// The verifier starts from (1), appends the leaves, merges in (2) like a
/// binary counter carrying, and so holds the peaks of `[0, boundary)`; they
/// are the first peaks of the whole tree, so folding them onto (3) gives the
/// root. For a single leaf the proof has as many hashes as its inclusion
/// proof; in general it has at most about `2 log2(size)`. Proof length is
/// fully determined by `(begin, end, size)`, so a proof of any other length
/// is rejected before hashing.
///
/// # Errors
///
/// [`ProofError::InvalidRange`] if `begin >= end` or `end > size`,
/// [`ProofError::LeafCountMismatch`], [`ProofError::WrongProofLength`] or
/// [`ProofError::RootMismatch`].
pub fn verify_range(
    begin: u64,
    end: u64,
    size: u64,
    leaves: &[Hash],
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if begin >= end || end > size {
        return Err(ProofError::InvalidRange { begin, end, size });
    }
    if u64::try_from(leaves.len()).ok() != Some(end - begin) {
        return Err(ProofError::LeafCountMismatch {
            expected: end - begin,
            found: leaves.len(),
        });
    }
    let expected = range_proof_len(begin, end, size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    let left_len = begin.count_ones() as usize;
    let (left, right) = proof.split_at(left_len);
    let wrong_length = ProofError::WrongProofLength {
        expected,
        found: proof.len(),
    };
    let mut builder = RootBuilder::from_peaks(begin, left).ok_or(wrong_length.clone())?;
    for leaf in leaves {
        builder.push(*leaf);
    }
    let boundary = peak_boundary_at_or_after(end, size);
    let mut right = right.iter();
    for (level, _) in compact_range(end, boundary) {
        let hash = right.next().ok_or(wrong_length.clone())?;
        builder.push_subtree(level, *hash);
    }
    let computed = if boundary < size {
        let tail = right.next().ok_or(wrong_length)?;
        builder.root_with_tail(*tail)
    } else {
        builder.root()
    };
    if computed != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}
