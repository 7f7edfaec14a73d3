//! Offline proofs of a split view: two checkpoints of one log, both signed
//! by its key, that no honest append-only log can have signed.
//!
//! Two ways to prove it:
//!
//! * **same size, different roots**: a tree of `n` leaves has one root;
//! * **a leaf shown different in each**: inclusion proofs of one index
//!   under each checkpoint with different leaf hashes (the sizes may
//!   differ: an append-only log never changes a leaf).
//!
//! The proof file for the second ([`LeafProofs::from_json`]), hashes in
//! standard base64 like the checkpoints':
//!
//! ```json
//! { "format": "cfr-equivocation-proof/1", "index": 3,
//!   "a": { "leaf": "<base64>", "path": ["<base64>", "..."] },
//!   "b": { "leaf": "<base64>", "path": ["<base64>", "..."] } }
//! ```
//!
//! `a` is the inclusion proof of leaf `index` under the first checkpoint,
//! `b` under the second (RFC 9162 section 2.1.3, audit paths leaf to root).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use cfr_merkle::ed25519_dalek::VerifyingKey;
use cfr_merkle::{
    verify_inclusion, Checkpoint, CheckpointError, Hash, ProofError, SignedCheckpoint,
};

/// The `format` of an equivocation proof file.
pub const PROOF_FORMAT: &str = "cfr-equivocation-proof/1";

/// One inclusion proof: a leaf hash and its audit path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafProof {
    /// The leaf hash (RFC 9162 `SHA-256(0x00 || leaf)`).
    pub leaf: Hash,
    /// The audit path, leaf to root.
    pub path: Vec<Hash>,
}

/// Inclusion proofs of one index under two checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafProofs {
    /// The leaf index.
    pub index: u64,
    /// The proof under the first checkpoint.
    pub a: LeafProof,
    /// The proof under the second.
    pub b: LeafProof,
}

/// A proof file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("equivocation proof: {0}")]
pub struct ProofFileError(String);

impl LeafProofs {
    /// Parses the JSON proof file described in the [module docs](self).
    ///
    /// # Errors
    ///
    /// [`ProofFileError`] naming what is missing or malformed.
    pub fn from_json(bytes: &[u8]) -> Result<LeafProofs, ProofFileError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            format: String,
            index: u64,
            a: RawLeaf,
            b: RawLeaf,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawLeaf {
            leaf: String,
            path: Vec<String>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| ProofFileError(e.to_string()))?;
        if raw.format != PROOF_FORMAT {
            return Err(ProofFileError(format!(
                "format {:?}, expected {PROOF_FORMAT:?}",
                raw.format
            )));
        }
        let hash = |what: &str, s: &str| {
            crate::request::parse_hash(s)
                .ok_or_else(|| ProofFileError(format!("{what}: not the base64 of 32 bytes")))
        };
        let leaf = |side: &str, r: RawLeaf| -> Result<LeafProof, ProofFileError> {
            if r.path.len() > 64 {
                return Err(ProofFileError(format!("{side}.path: more than 64 hashes")));
            }
            Ok(LeafProof {
                leaf: hash(&format!("{side}.leaf"), &r.leaf)?,
                path: r
                    .path
                    .iter()
                    .enumerate()
                    .map(|(i, h)| hash(&format!("{side}.path[{i}]"), h))
                    .collect::<Result<_, _>>()?,
            })
        };
        Ok(LeafProofs {
            index: raw.index,
            a: leaf("a", raw.a)?,
            b: leaf("b", raw.b)?,
        })
    }

    /// The JSON proof file.
    #[must_use]
    pub fn to_json(&self) -> String {
        let side = |p: &LeafProof| {
            serde_json::json!({
                "leaf": BASE64.encode(p.leaf),
                "path": p.path.iter().map(|h| BASE64.encode(h)).collect::<Vec<_>>(),
            })
        };
        serde_json::json!({
            "format": PROOF_FORMAT,
            "index": self.index,
            "a": side(&self.a),
            "b": side(&self.b),
        })
        .to_string()
    }
}

/// A proven split view.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Equivocation {
    /// Both checkpoints have `size` leaves and different roots.
    SameSizeDifferentRoots {
        /// The size.
        size: u64,
        /// The first checkpoint's root.
        a: Hash,
        /// The second's.
        b: Hash,
    },
    /// Leaf `index` is `a` under the first checkpoint and `b` under the
    /// second.
    DifferentLeaves {
        /// The index.
        index: u64,
        /// Its hash under the first.
        a: Hash,
        /// Its hash under the second.
        b: Hash,
    },
}

impl core::fmt::Display for Equivocation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Equivocation::SameSizeDifferentRoots { size, a, b } => write!(
                f,
                "both checkpoints have size {size} and different roots ({} and {})",
                BASE64.encode(a),
                BASE64.encode(b)
            ),
            Equivocation::DifferentLeaves { index, a, b } => write!(
                f,
                "leaf {index} is {} under the first checkpoint and {} under the second",
                BASE64.encode(a),
                BASE64.encode(b)
            ),
        }
    }
}

/// Why two checkpoints do not prove a split view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotProven {
    /// A checkpoint is not of the log asked about.
    #[error("the {which} checkpoint is of origin {found:?}, not {expected:?}")]
    Origin {
        /// `first` or `second`.
        which: &'static str,
        /// Its origin.
        found: String,
        /// The log's.
        expected: String,
    },
    /// A checkpoint's signature by the log's key does not verify.
    #[error("the {which} checkpoint is not signed by the log's key: {source}")]
    Unsigned {
        /// `first` or `second`.
        which: &'static str,
        /// What the check found.
        source: CheckpointError,
    },
    /// The same tree head twice.
    #[error("both checkpoints are the same tree head (size {size})")]
    Same {
        /// The size.
        size: u64,
    },
    /// Different sizes, and no inclusion proofs to compare a leaf.
    #[error("the checkpoints have different sizes ({a} and {b}), which an honest log signs too; give inclusion proofs of one index under each (--proof) to show a leaf that differs")]
    DifferentSizes {
        /// The first's size.
        a: u64,
        /// The second's.
        b: u64,
    },
    /// An inclusion proof does not verify.
    #[error("the inclusion proof of leaf {index} under the {which} checkpoint does not verify: {source}")]
    BadProof {
        /// `first` or `second`.
        which: &'static str,
        /// The index.
        index: u64,
        /// Why.
        source: ProofError,
    },
    /// Both proofs verify and show the same leaf.
    #[error("leaf {index} is the same under both checkpoints")]
    SameLeaf {
        /// The index.
        index: u64,
    },
}

/// Checks whether `a` and `b`, both of the log `origin` signed with `key`
/// under the key name `origin`, prove a split view, optionally with
/// inclusion proofs of one leaf under each.
///
/// # Errors
///
/// [`NotProven`] saying why not: a checkpoint of another origin or not
/// signed by `key`, the same tree head twice, different sizes without
/// proofs, a proof that does not verify, or the same leaf under both.
pub fn check(
    a: &SignedCheckpoint,
    b: &SignedCheckpoint,
    origin: &str,
    key: &VerifyingKey,
    proofs: Option<&LeafProofs>,
) -> Result<Equivocation, NotProven> {
    let verified = |which: &'static str, s: &SignedCheckpoint| -> Result<Checkpoint, NotProven> {
        let cp = s.checkpoint();
        if cp.origin != origin {
            return Err(NotProven::Origin {
                which,
                found: cp.origin.clone(),
                expected: origin.to_owned(),
            });
        }
        s.verify(origin, key)
            .cloned()
            .map_err(|source| NotProven::Unsigned { which, source })
    };
    let ca = verified("first", a)?;
    let cb = verified("second", b)?;
    if ca.size == cb.size && ca.root != cb.root {
        return Ok(Equivocation::SameSizeDifferentRoots {
            size: ca.size,
            a: ca.root,
            b: cb.root,
        });
    }
    let Some(p) = proofs else {
        return Err(if ca.size == cb.size {
            NotProven::Same { size: ca.size }
        } else {
            NotProven::DifferentSizes {
                a: ca.size,
                b: cb.size,
            }
        });
    };
    for (which, cp, leaf) in [("first", &ca, &p.a), ("second", &cb, &p.b)] {
        verify_inclusion(p.index, cp.size, &leaf.leaf, &leaf.path, &cp.root).map_err(|source| {
            NotProven::BadProof {
                which,
                index: p.index,
                source,
            }
        })?;
    }
    if p.a.leaf == p.b.leaf {
        return Err(NotProven::SameLeaf { index: p.index });
    }
    Ok(Equivocation::DifferentLeaves {
        index: p.index,
        a: p.a.leaf,
        b: p.b.leaf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_merkle::ed25519_dalek::SigningKey;
    use cfr_merkle::{leaf_hash, Tree};

    fn tree(leaves: &[&[u8]]) -> Tree {
        Tree::from_leaves(leaves.iter().map(|l| leaf_hash(l)))
    }

    fn signed(t: &Tree, key: &SigningKey) -> Result<SignedCheckpoint, CheckpointError> {
        Checkpoint {
            origin: "cfr/c".into(),
            size: t.size(),
            root: t.root(),
        }
        .sign(key, "cfr/c")
    }

    #[test]
    fn proves_and_refuses() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::from_bytes(&[4; 32]);
        let vk = key.verifying_key();
        let honest = tree(&[b"a", b"b", b"c"]);
        let liar = tree(&[b"a", b"X", b"c"]);
        let longer = tree(&[b"a", b"X", b"c", b"d"]);
        let (h, l, g) = (
            signed(&honest, &key)?,
            signed(&liar, &key)?,
            signed(&longer, &key)?,
        );

        assert!(matches!(
            check(&h, &l, "cfr/c", &vk, None),
            Ok(Equivocation::SameSizeDifferentRoots { size: 3, .. })
        ));
        assert_eq!(
            check(&h, &h, "cfr/c", &vk, None),
            Err(NotProven::Same { size: 3 })
        );
        assert!(matches!(
            check(&h, &g, "cfr/c", &vk, None),
            Err(NotProven::DifferentSizes { a: 3, b: 4 })
        ));
        let proofs = LeafProofs {
            index: 1,
            a: LeafProof {
                leaf: leaf_hash(b"b"),
                path: honest.inclusion_proof(1, 3)?,
            },
            b: LeafProof {
                leaf: leaf_hash(b"X"),
                path: longer.inclusion_proof(1, 4)?,
            },
        };
        let parsed = LeafProofs::from_json(proofs.to_json().as_bytes())?;
        assert_eq!(parsed, proofs);
        assert!(matches!(
            check(&h, &g, "cfr/c", &vk, Some(&parsed)),
            Ok(Equivocation::DifferentLeaves { index: 1, .. })
        ));
        // A proof of the same leaf, or one that does not verify.
        let same = LeafProofs {
            index: 0,
            a: LeafProof {
                leaf: leaf_hash(b"a"),
                path: honest.inclusion_proof(0, 3)?,
            },
            b: LeafProof {
                leaf: leaf_hash(b"a"),
                path: longer.inclusion_proof(0, 4)?,
            },
        };
        assert_eq!(
            check(&h, &g, "cfr/c", &vk, Some(&same)),
            Err(NotProven::SameLeaf { index: 0 })
        );
        let mut forged = proofs.clone();
        forged.a.leaf = leaf_hash(b"Y");
        assert!(matches!(
            check(&h, &g, "cfr/c", &vk, Some(&forged)),
            Err(NotProven::BadProof { which: "first", .. })
        ));
        // Another key, another origin.
        let other = SigningKey::from_bytes(&[5; 32]);
        let o = signed(&liar, &other)?;
        assert!(matches!(
            check(&h, &o, "cfr/c", &vk, None),
            Err(NotProven::Unsigned {
                which: "second",
                ..
            })
        ));
        assert!(matches!(
            check(&h, &l, "cfr/d", &vk, None),
            Err(NotProven::Origin { which: "first", .. })
        ));
        Ok(())
    }

    #[test]
    fn proof_file_errors() {
        for bad in [
            "{}",
            r#"{"format":"x","index":0,"a":{"leaf":"","path":[]},"b":{"leaf":"","path":[]}}"#,
            r#"{"format":"cfr-equivocation-proof/1","index":0,"a":{"leaf":"AA==","path":[]},"b":{"leaf":"AA==","path":[]}}"#,
        ] {
            assert!(LeafProofs::from_json(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
