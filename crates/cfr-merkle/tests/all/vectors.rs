//! Known-answer tests: the RFC 6962 / RFC 9162 vectors published in
//! transparency-dev/merkle, and the mutations its tests apply (each must be
//! rejected).

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use cfr_merkle::{
    empty_root, leaf_hash, root_from_inclusion_proof, verify_consistency, verify_inclusion, Hash,
    ProofError, RootBuilder, Tree,
};
use serde_json::Value;

struct Vectors {
    leaves: Vec<Vec<u8>>,
    roots: Vec<Hash>,
    some_hash: Hash,
    /// `(index, size, proof)`, index 0-based.
    inclusion: Vec<(u64, u64, Vec<Hash>)>,
    /// `(old size, new size, proof)`.
    consistency: Vec<(u64, u64, Vec<Hash>)>,
}

fn hash(value: &Value) -> Hash {
    let text = value.as_str().expect("vector hash is a string");
    hex::decode(text)
        .expect("vector hash is hex")
        .try_into()
        .expect("vector hash is 32 bytes")
}

fn hashes(value: &Value) -> Vec<Hash> {
    value
        .as_array()
        .expect("vector proof is an array")
        .iter()
        .map(hash)
        .collect()
}

fn number(value: &Value) -> u64 {
    value.as_u64().expect("vector number")
}

fn vectors() -> Vectors {
    let json: Value =
        serde_json::from_str(include_str!("../testdata/rfc6962-vectors.json")).expect("json");
    assert_eq!(hash(&json["empty_root"]), empty_root());
    Vectors {
        leaves: json["leaves"]
            .as_array()
            .expect("leaves")
            .iter()
            .map(|l| hex::decode(l.as_str().expect("leaf")).expect("leaf hex"))
            .collect(),
        roots: hashes(&json["roots"]),
        some_hash: hash(&json["some_hash"]),
        inclusion: json["inclusion"]
            .as_array()
            .expect("inclusion")
            .iter()
            // The Go vectors number leaves from 1.
            .map(|v| {
                (
                    number(&v["leaf"]) - 1,
                    number(&v["size"]),
                    hashes(&v["proof"]),
                )
            })
            .collect(),
        consistency: json["consistency"]
            .as_array()
            .expect("consistency")
            .iter()
            .map(|v| {
                (
                    number(&v["size1"]),
                    number(&v["size2"]),
                    hashes(&v["proof"]),
                )
            })
            .collect(),
    }
}

fn tree(v: &Vectors) -> Tree {
    Tree::from_leaves(v.leaves.iter().map(|l| leaf_hash(l)))
}

#[test]
fn empty_tree_root_is_sha256_of_nothing() {
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(RootBuilder::new().root(), empty_root());
    assert_eq!(Tree::new().root(), empty_root());
}

#[test]
fn roots_of_every_size_match_published_vectors() {
    let v = vectors();
    assert_eq!(
        hex::encode(v.roots[7]),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    let tree = tree(&v);
    let mut builder = RootBuilder::new();
    for (i, leaf) in v.leaves.iter().enumerate() {
        builder.push(leaf_hash(leaf));
        let size = i as u64 + 1;
        assert_eq!(builder.root(), v.roots[i], "RootBuilder, size {size}");
        assert_eq!(tree.root_at(size), Ok(v.roots[i]), "Tree::root_at({size})");
        let prefix = Tree::from_leaves(v.leaves[..=i].iter().map(|l| leaf_hash(l)));
        assert_eq!(prefix.root(), v.roots[i], "Tree::root, size {size}");
    }
}

#[test]
fn inclusion_proofs_match_published_vectors() {
    let v = vectors();
    let tree = tree(&v);
    for (index, size, proof) in &v.inclusion {
        assert_eq!(
            tree.inclusion_proof(*index, *size).as_ref(),
            Ok(proof),
            "inclusion proof of {index} in {size}"
        );
        let leaf = leaf_hash(&v.leaves[*index as usize]);
        let root = v.roots[*size as usize - 1];
        assert_eq!(
            root_from_inclusion_proof(*index, *size, &leaf, proof),
            Ok(root)
        );
        assert_eq!(verify_inclusion(*index, *size, &leaf, proof, &root), Ok(()));
    }
}

#[test]
fn consistency_proofs_match_published_vectors() {
    let v = vectors();
    let tree = tree(&v);
    for (old, new, proof) in &v.consistency {
        assert_eq!(
            tree.consistency_proof(*old, *new).as_ref(),
            Ok(proof),
            "consistency proof {old} -> {new}"
        );
        let old_root = v.roots[*old as usize - 1];
        let new_root = v.roots[*new as usize - 1];
        assert_eq!(
            verify_consistency(*old, *new, &old_root, &new_root, proof),
            Ok(())
        );
    }
}

/// A `(description, index, size, leaf, proof, root)` probe.
type InclusionProbe = (String, u64, u64, Hash, Vec<Hash>, Hash);

/// The mutations transparency-dev's `corruptInclusionProof` applies. Its
/// "garbage" entries are empty byte strings, which a `[u8; 32]` cannot
/// hold; an all-zero hash stands in for them.
fn corrupt_inclusion(
    v: &Vectors,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: Hash,
    leaf: Hash,
) -> Vec<InclusionProbe> {
    let garbage = [0u8; 32];
    let with = |mut p: Vec<Hash>, at_front: bool, h: Hash| {
        if at_front {
            p.insert(0, h);
        } else {
            p.push(h);
        }
        p
    };
    let p = proof.to_vec();
    let mut probes: Vec<InclusionProbe> = vec![
        (
            "index - 1".into(),
            index.wrapping_sub(1),
            size,
            leaf,
            p.clone(),
            root,
        ),
        ("index + 1".into(), index + 1, size, leaf, p.clone(), root),
        ("index ^ 2".into(), index ^ 2, size, leaf, p.clone(), root),
        ("size * 2".into(), index, size * 2, leaf, p.clone(), root),
        ("size / 2".into(), index, size / 2, leaf, p.clone(), root),
        (
            "wrong leaf".into(),
            index,
            size,
            leaf_hash(b"WrongLeaf"),
            p.clone(),
            root,
        ),
        (
            "empty root".into(),
            index,
            size,
            leaf,
            p.clone(),
            empty_root(),
        ),
        (
            "random root".into(),
            index,
            size,
            leaf,
            p.clone(),
            v.some_hash,
        ),
        (
            "trailing garbage".into(),
            index,
            size,
            leaf,
            with(p.clone(), false, garbage),
            root,
        ),
        (
            "trailing root".into(),
            index,
            size,
            leaf,
            with(p.clone(), false, root),
            root,
        ),
        (
            "preceding garbage".into(),
            index,
            size,
            leaf,
            with(p.clone(), true, garbage),
            root,
        ),
        (
            "preceding root".into(),
            index,
            size,
            leaf,
            with(p.clone(), true, root),
            root,
        ),
    ];
    for i in 0..p.len() {
        let mut wrong = p.clone();
        wrong[i][0] ^= 8;
        probes.push((
            format!("modified proof[{i}] bit 3"),
            index,
            size,
            leaf,
            wrong,
            root,
        ));
    }
    if let Some((_, shorter)) = p.split_last() {
        probes.push((
            "removed component".into(),
            index,
            size,
            leaf,
            shorter.to_vec(),
            root,
        ));
    }
    if p.len() > 1 {
        let mut inserted = p.clone();
        inserted.insert(1, v.some_hash);
        probes.push((
            "inserted component".into(),
            index,
            size,
            leaf,
            inserted,
            root,
        ));
    }
    probes
}

#[test]
fn mutated_inclusion_proofs_are_rejected() {
    let v = vectors();
    for (index, size, proof) in &v.inclusion {
        let leaf = leaf_hash(&v.leaves[*index as usize]);
        let root = v.roots[*size as usize - 1];
        for (desc, i, s, l, p, r) in corrupt_inclusion(&v, *index, *size, proof, root, leaf) {
            assert!(
                verify_inclusion(i, s, &l, &p, &r).is_err(),
                "inclusion of {index} in {size}: {desc} was accepted"
            );
        }
    }
}

#[test]
fn degenerate_inclusion_claims_are_rejected() {
    let v = vectors();
    let some = v.some_hash;
    for (index, size) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(index, size, &some, &[], &empty_root()).is_err());
        assert!(verify_inclusion(index, size, &empty_root(), &[], &some).is_err());
    }
    assert_eq!(
        verify_inclusion(5, 5, &some, &[], &some),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    // A one-leaf tree: the root is the leaf hash, the proof is empty.
    let leaf = leaf_hash(b"data");
    assert_eq!(verify_inclusion(0, 1, &leaf, &[], &leaf), Ok(()));
    assert!(verify_inclusion(0, 1, &leaf, &[], &some).is_err());
}

/// A `(description, old size, new size, old root, new root, proof)` probe.
type ConsistencyProbe = (String, u64, u64, Hash, Hash, Vec<Hash>);

/// The mutations of transparency-dev's `corruptConsistencyProof`.
fn corrupt_consistency(
    old: u64,
    new: u64,
    old_root: Hash,
    new_root: Hash,
    proof: &[Hash],
) -> Vec<ConsistencyProbe> {
    let garbage = [0u8; 32];
    let wrong_root = leaf_hash(b"WrongRoot");
    let p = proof.to_vec();
    let front = |h: Hash| {
        let mut q = p.clone();
        q.insert(0, h);
        q
    };
    let back = |h: Hash| {
        let mut q = p.clone();
        q.push(h);
        q
    };
    let mut probes: Vec<ConsistencyProbe> = vec![
        (
            "old - 1".into(),
            old - 1,
            new,
            old_root,
            new_root,
            p.clone(),
        ),
        (
            "old + 1".into(),
            old + 1,
            new,
            old_root,
            new_root,
            p.clone(),
        ),
        (
            "old ^ 2".into(),
            old ^ 2,
            new,
            old_root,
            new_root,
            p.clone(),
        ),
        (
            "new * 2".into(),
            old,
            new * 2,
            old_root,
            new_root,
            p.clone(),
        ),
        (
            "new / 2".into(),
            old,
            new / 2,
            old_root,
            new_root,
            p.clone(),
        ),
        (
            "wrong old root".into(),
            old,
            new,
            wrong_root,
            new_root,
            p.clone(),
        ),
        (
            "wrong new root".into(),
            old,
            new,
            old_root,
            wrong_root,
            p.clone(),
        ),
        (
            "swapped roots".into(),
            old,
            new,
            new_root,
            old_root,
            p.clone(),
        ),
        (
            "empty proof".into(),
            old,
            new,
            old_root,
            new_root,
            Vec::new(),
        ),
        (
            "trailing garbage".into(),
            old,
            new,
            old_root,
            new_root,
            back(garbage),
        ),
        (
            "trailing old root".into(),
            old,
            new,
            old_root,
            new_root,
            back(old_root),
        ),
        (
            "trailing new root".into(),
            old,
            new,
            old_root,
            new_root,
            back(new_root),
        ),
        (
            "preceding garbage".into(),
            old,
            new,
            old_root,
            new_root,
            front(garbage),
        ),
        (
            "preceding old root".into(),
            old,
            new,
            old_root,
            new_root,
            front(old_root),
        ),
        (
            "preceding new root".into(),
            old,
            new,
            old_root,
            new_root,
            front(new_root),
        ),
        (
            "preceding proof[0]".into(),
            old,
            new,
            old_root,
            new_root,
            front(p[0]),
        ),
    ];
    if let Some((_, shorter)) = p.split_last() {
        probes.push((
            "truncated proof".into(),
            old,
            new,
            old_root,
            new_root,
            shorter.to_vec(),
        ));
    }
    for i in 0..p.len() {
        let mut wrong = p.clone();
        wrong[i][0] ^= 16;
        probes.push((
            format!("modified proof[{i}] bit 4"),
            old,
            new,
            old_root,
            new_root,
            wrong,
        ));
    }
    probes
}

#[test]
fn mutated_consistency_proofs_are_rejected() {
    let v = vectors();
    for (old, new, proof) in &v.consistency {
        if proof.is_empty() {
            continue; // As upstream: only non-trivial proofs are mutated.
        }
        let old_root = v.roots[*old as usize - 1];
        let new_root = v.roots[*new as usize - 1];
        for (desc, o, n, or, nr, p) in corrupt_consistency(*old, *new, old_root, new_root, proof) {
            assert!(
                verify_consistency(o, n, &or, &nr, &p).is_err(),
                "consistency {old} -> {new}: {desc} was accepted"
            );
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let v = vectors();
    let (root1, root2) = (leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2"));
    let empty = empty_root();
    // Equal sizes: the proof is empty and the roots must be equal.
    assert!(verify_consistency(0, 0, &root1, &root2, &[]).is_err());
    assert!(verify_consistency(1, 1, &root1, &root2, &[]).is_err());
    assert_eq!(verify_consistency(1, 1, &root2, &root2, &[]), Ok(()));
    assert_eq!(verify_consistency(0, 0, &empty, &empty, &[]), Ok(()));
    // Everything extends the empty tree, whose root must be SHA-256("").
    assert_eq!(verify_consistency(0, 1, &empty, &root2, &[]), Ok(()));
    assert!(matches!(
        verify_consistency(0, 1, &root1, &root2, &[]),
        Err(ProofError::OldRootMismatch { .. })
    ));
    // Time travel to the past.
    assert_eq!(
        verify_consistency(1, 0, &root1, &root2, &[]),
        Err(ProofError::SizesOutOfOrder {
            old_size: 1,
            new_size: 0
        })
    );
    assert!(verify_consistency(2, 1, &root1, &root2, &[]).is_err());
    // Growth needs a proof.
    assert_eq!(
        verify_consistency(1, 2, &root1, &root2, &[]),
        Err(ProofError::WrongProofLength {
            expected: 1,
            found: 0
        })
    );
    // Trivial cases with a non-empty proof.
    for (old, new) in [(0, 0), (0, 1), (1, 1)] {
        assert!(verify_consistency(old, new, &empty, &empty, &[empty]).is_err());
    }
    // A real proof, with the roots of other sizes.
    let tree = tree(&v);
    let proof = tree.consistency_proof(3, 7).expect("sizes within tree");
    assert_eq!(
        verify_consistency(3, 7, &v.roots[2], &v.roots[6], &proof),
        Ok(())
    );
    assert!(matches!(
        verify_consistency(3, 7, &v.roots[2], &v.roots[7], &proof),
        Err(ProofError::RootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(3, 7, &v.roots[3], &v.roots[6], &proof),
        Err(ProofError::OldRootMismatch { .. })
    ));
}

fn b64_hash(value: &Value) -> Option<Hash> {
    BASE64.decode(value.as_str()?).ok()?.try_into().ok()
}

/// Decodes one transparency-dev JSON probe and verifies it; `None` when a
/// hash is not 32 bytes (which a typed verifier rejects at decoding).
fn run_probe(json: &Value) -> Option<Result<(), ProofError>> {
    let proof = json["proof"]
        .as_array()?
        .iter()
        .map(b64_hash)
        .collect::<Option<Vec<Hash>>>()?;
    if json.get("leafIdx").is_some() {
        Some(verify_inclusion(
            json["leafIdx"].as_u64()?,
            json["treeSize"].as_u64()?,
            &b64_hash(&json["leafHash"])?,
            &proof,
            &b64_hash(&json["root"])?,
        ))
    } else {
        Some(verify_consistency(
            json["size1"].as_u64()?,
            json["size2"].as_u64()?,
            &b64_hash(&json["root1"])?,
            &b64_hash(&json["root2"])?,
            &proof,
        ))
    }
}

#[test]
fn transparency_dev_testdata_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/transparency-dev");
    let mut count = 0;
    for kind in ["inclusion", "consistency"] {
        let mut entries: Vec<_> = std::fs::read_dir(dir.join(kind))
            .expect("testdata directory")
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            let want_err = json["wantErr"].as_bool().expect("wantErr");
            let accepted = matches!(run_probe(&json), Some(Ok(())));
            assert_eq!(accepted, !want_err, "{}", path.display());
            count += 1;
        }
    }
    assert!(count >= 7);
}
