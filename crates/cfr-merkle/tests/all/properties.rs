//! Property tests: what a tree proves verifies, and nothing tampered does.

use cfr_merkle::{
    leaf_hash, verify_consistency, verify_inclusion, verify_range, Hash, ProofError, RootBuilder,
    Tree, TreeError,
};
use proptest::prelude::*;

use crate::reference;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// Flips one bit of one proof hash.
fn flip(proof: &[Hash], which: usize, bit: usize) -> Vec<Hash> {
    let mut tampered = proof.to_vec();
    let i = which % tampered.len();
    tampered[i][(bit / 8) % 32] ^= 1 << (bit % 8);
    tampered
}

/// A size in `1..=max` and an index, a second size or a range within it.
fn size_and(max: u64) -> impl Strategy<Value = (u64, u64, u64)> {
    (1..=max).prop_flat_map(|n| (Just(n), 0..n, 0..=n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn builder_tree_and_reference_agree_at_every_size(n in 0u64..200) {
        let leaves = leaves(n);
        let tree = Tree::from_leaves(leaves.iter().copied());
        let mut builder = RootBuilder::new();
        prop_assert_eq!(builder.root(), reference::mth(&[]));
        for (i, leaf) in leaves.iter().enumerate() {
            builder.push(*leaf);
            let expected = reference::mth(&leaves[..=i]);
            prop_assert_eq!(builder.root(), expected);
            prop_assert_eq!(tree.root_at(i as u64 + 1), Ok(expected));
            // A builder resumed from the peaks continues identically.
            let resumed = RootBuilder::from_peaks(builder.size(), builder.peaks());
            prop_assert_eq!(resumed.map(|b| b.root()), Some(expected));
        }
        prop_assert_eq!(tree.root(), builder.root());
        prop_assert_eq!(tree.size(), n);
    }

    #[test]
    fn inclusion_proofs_verify_and_match_reference((n, index, _) in size_and(700), extra in 0u64..50) {
        let leaves = leaves(n + extra);
        // The tree is larger than `n`: proofs are for a past size.
        let tree = Tree::from_leaves(leaves.iter().copied());
        let root = tree.root_at(n).expect("size within tree");
        let proof = tree.inclusion_proof(index, n).expect("index within size");
        let prefix = &leaves[..n as usize];
        prop_assert_eq!(&proof, &reference::path(index as usize, prefix));
        prop_assert_eq!(verify_inclusion(index, n, &leaves[index as usize], &proof, &root), Ok(()));
    }

    #[test]
    fn tampered_inclusion_proofs_fail(
        (n, index, other) in size_and(700), which in any::<usize>(), bit in any::<usize>()
    ) {
        let leaves = leaves(n);
        let tree = Tree::from_leaves(leaves.iter().copied());
        let root = tree.root();
        let leaf = leaves[index as usize];
        let proof = tree.inclusion_proof(index, n).expect("index within size");
        if !proof.is_empty() {
            let tampered = flip(&proof, which, bit);
            prop_assert!(verify_inclusion(index, n, &leaf, &tampered, &root).is_err());
        }
        let other = other.min(n - 1);
        if other != index {
            prop_assert!(verify_inclusion(other, n, &leaf, &proof, &root).is_err());
            prop_assert!(verify_inclusion(index, n, &leaves[other as usize], &proof, &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(index, n, &leaf, &longer, &root).is_err());
        if n > 1 {
            // The root of a smaller tree.
            let smaller = tree.root_at(n - 1).expect("size within tree");
            prop_assert!(verify_inclusion(index, n, &leaf, &proof, &smaller).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_match_reference((n, _, old) in size_and(700)) {
        let leaves = leaves(n);
        let tree = Tree::from_leaves(leaves.iter().copied());
        let proof = tree.consistency_proof(old, n).expect("sizes within tree");
        prop_assert_eq!(&proof, &reference::proof(old as usize, &leaves));
        let old_root = tree.root_at(old).expect("size within tree");
        prop_assert_eq!(verify_consistency(old, n, &old_root, &tree.root(), &proof), Ok(()));
    }

    #[test]
    fn tampered_consistency_proofs_fail(
        (n, _, old) in size_and(700), which in any::<usize>(), bit in any::<usize>()
    ) {
        let leaves = leaves(n);
        let tree = Tree::from_leaves(leaves.iter().copied());
        let proof = tree.consistency_proof(old, n).expect("sizes within tree");
        let old_root = tree.root_at(old).expect("size within tree");
        let new_root = tree.root();
        if !proof.is_empty() {
            let tampered = flip(&proof, which, bit);
            prop_assert!(verify_consistency(old, n, &old_root, &new_root, &tampered).is_err());
            prop_assert!(verify_consistency(old, n, &new_root, &old_root, &proof).is_err());
            let mut forked = leaves.clone();
            let victim = which % old as usize;
            forked[victim][0] ^= 1;
            let forked_root = Tree::from_leaves(forked).root_at(old).expect("size within tree");
            prop_assert!(verify_consistency(old, n, &forked_root, &new_root, &proof).is_err());
        }
    }

    #[test]
    fn range_proofs_verify((n, a, b) in size_and(700), extra in 0u64..50) {
        let (begin, end) = (a.min(b), a.max(b).max(a.min(b) + 1).min(n));
        prop_assume!(begin < end);
        let leaves = leaves(n + extra);
        let tree = Tree::from_leaves(leaves.iter().copied());
        let root = tree.root_at(n).expect("size within tree");
        let proof = tree.range_proof(begin, end, n).expect("range within size");
        let range = &leaves[begin as usize..end as usize];
        prop_assert_eq!(verify_range(begin, end, n, range, &proof, &root), Ok(()));
        // Compact: at most two hashes per level, plus one.
        prop_assert!(proof.len() <= 2 * (64 - n.leading_zeros() as usize) + 1);
        if end == begin + 1 {
            let inclusion = tree.inclusion_proof(begin, n).expect("index within size");
            prop_assert_eq!(proof.len(), inclusion.len());
        }
    }

    #[test]
    fn tampered_range_proofs_fail(
        (n, a, b) in size_and(700), which in any::<usize>(), bit in any::<usize>()
    ) {
        let (begin, end) = (a.min(b), a.max(b).max(a.min(b) + 1).min(n));
        prop_assume!(begin < end);
        let leaves = leaves(n);
        let tree = Tree::from_leaves(leaves.iter().copied());
        let root = tree.root();
        let proof = tree.range_proof(begin, end, n).expect("range within size");
        let range = &leaves[begin as usize..end as usize];
        if !proof.is_empty() {
            let tampered = flip(&proof, which, bit);
            prop_assert!(verify_range(begin, end, n, range, &tampered, &root).is_err());
        }
        // A changed leaf.
        let mut changed = range.to_vec();
        let i = which % changed.len();
        changed[i][bit % 32] ^= 1;
        prop_assert!(verify_range(begin, end, n, &changed, &proof, &root).is_err());
        // A shifted range over the same proof, where the length allows.
        if end < n {
            let shifted = &leaves[begin as usize + 1..end as usize + 1];
            prop_assert!(verify_range(begin + 1, end + 1, n, shifted, &proof, &root).is_err());
        }
        // A leaf dropped or added.
        prop_assert!(verify_range(begin, end, n, &range[1..], &proof, &root).is_err());
    }
}

#[test]
fn tree_rejects_questions_beyond_its_size() {
    let tree = Tree::from_leaves(leaves(5));
    assert_eq!(
        tree.root_at(6),
        Err(TreeError::SizeBeyondTree {
            size: 6,
            tree_size: 5
        })
    );
    assert_eq!(
        tree.inclusion_proof(5, 5),
        Err(TreeError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert!(tree.inclusion_proof(0, 6).is_err());
    assert_eq!(
        tree.consistency_proof(4, 3),
        Err(TreeError::SizesOutOfOrder {
            old_size: 4,
            new_size: 3
        })
    );
    assert!(tree.consistency_proof(4, 6).is_err());
    assert!(tree.range_proof(2, 2, 5).is_err());
    assert!(tree.range_proof(2, 6, 5).is_err());
    assert!(tree.range_proof(0, 1, 6).is_err());
    assert_eq!(tree.consistency_proof(0, 5), Ok(Vec::new()));
    assert_eq!(tree.consistency_proof(5, 5), Ok(Vec::new()));
    assert_eq!(tree.leaf(4), Some(leaf_hash(&4u64.to_be_bytes())));
    assert_eq!(tree.leaf(5), None);
}

#[test]
fn range_verification_rejects_malformed_claims() {
    let leaves = leaves(10);
    let tree = Tree::from_leaves(leaves.iter().copied());
    let root = tree.root();
    let proof = tree.range_proof(3, 7, 10).expect("range within size");
    assert_eq!(verify_range(3, 7, 10, &leaves[3..7], &proof, &root), Ok(()));
    assert_eq!(
        verify_range(7, 3, 10, &leaves[3..7], &proof, &root),
        Err(ProofError::InvalidRange {
            begin: 7,
            end: 3,
            size: 10
        })
    );
    assert!(matches!(
        verify_range(3, 11, 10, &leaves[3..7], &proof, &root),
        Err(ProofError::InvalidRange { .. })
    ));
    assert_eq!(
        verify_range(3, 7, 10, &leaves[3..6], &proof, &root),
        Err(ProofError::LeafCountMismatch {
            expected: 4,
            found: 3
        })
    );
    assert!(matches!(
        verify_range(3, 7, 10, &leaves[3..7], &proof[1..], &root),
        Err(ProofError::WrongProofLength { .. })
    ));
    // The whole tree needs no proof at all.
    assert_eq!(tree.range_proof(0, 10, 10), Ok(Vec::new()));
    assert_eq!(verify_range(0, 10, 10, &leaves, &[], &root), Ok(()));
    // Huge claimed sizes do not allocate or panic.
    assert!(verify_range(
        u64::MAX - 1,
        u64::MAX,
        u64::MAX,
        &leaves[..1],
        &proof,
        &root
    )
    .is_err());
    assert!(verify_inclusion(u64::MAX - 1, u64::MAX, &leaves[0], &proof, &root).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &root, &root, &proof).is_err());
}
