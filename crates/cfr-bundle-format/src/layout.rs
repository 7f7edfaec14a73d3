//! Member names of a bundle and their canonical order (listed in
//! `schemas/FORMATS.md`, section "Bundle").

/// The format id in every manifest.
pub const FORMAT: &str = "cfr-bundle/1";
/// The format id of an excerpt's manifest.
pub const EXCERPT_FORMAT: &str = "cfr-excerpt/1";

/// `README.txt`: what the file is, in plain text.
pub const README: &str = "README.txt";
/// `manifest.cbor`.
pub const MANIFEST: &str = "manifest.cbor";
/// `manifest.sig`: COSE_Sign1 by the recorder.
pub const MANIFEST_SIG: &str = "manifest.sig";
/// `manifest.tsr`: an RFC 3161 `TimeStampResp` whose token is over
/// SHA-256 of `manifest.cbor` (optional; like the signatures, it covers
/// the manifest and so is not listed in it).
pub const MANIFEST_TSR: &str = "manifest.tsr";
/// `contract/contract.toml`.
pub const CONTRACT_TOML: &str = "contract/contract.toml";
/// `contract/contract.cbor`.
pub const CONTRACT_CBOR: &str = "contract/contract.cbor";
/// `log/checkpoint`.
pub const CHECKPOINT: &str = "log/checkpoint";
/// `analyzer/analyzer.wasm`.
pub const ANALYZER: &str = "analyzer/analyzer.wasm";
/// `analyzer/certificate.sig`.
pub const ANALYZER_CERT: &str = "analyzer/certificate.sig";
/// `verdict/verdict.cbor`.
pub const VERDICT: &str = "verdict/verdict.cbor";

/// An excerpt's copy of the original bundle's manifest.
pub const ORIGINAL_MANIFEST: &str = "original/manifest.cbor";
/// An excerpt's copy of the original manifest's recorder signature.
pub const ORIGINAL_MANIFEST_SIG: &str = "original/manifest.sig";
/// An excerpt's Merkle range proofs against the original checkpoint.
pub const PROOF: &str = "log/proof.cbor";
/// An excerpt's verdict: the analyzer over the excerpt's events alone.
pub const EXCERPT_VERDICT: &str = "verdict/excerpt.cbor";
/// The schema of an excerpt's own structures.
pub const EXCERPT_SCHEMA: &str = "schemas/excerpt.cddl";

/// `original/manifest.<role>.sig`: an excerpt's copy of a co-signature.
pub fn original_cosig(role: &str) -> String {
    format!("original/manifest.{role}.sig")
}

/// True for members only an excerpt may hold.
pub fn excerpt_only(name: &str) -> bool {
    name.starts_with("original/")
        || name == PROOF
        || name == EXCERPT_VERDICT
        || name == EXCERPT_SCHEMA
}

/// The parties that may co-sign a manifest or sign a contract.
pub const COSIGNER_ROLES: [&str; 2] = ["provider", "user"];

/// `manifest.<role>.sig`.
pub fn manifest_cosig(role: &str) -> String {
    format!("manifest.{role}.sig")
}

/// `contract/<role>.sig`.
pub fn contract_sig(role: &str) -> String {
    format!("contract/{role}.sig")
}

/// `log/events-NNNNNN.cbor.zst`.
pub fn chunk_name(index: u32) -> String {
    format!("log/events-{index:06}.cbor.zst")
}

/// The chunk index of a chunk member name.
pub fn chunk_index(name: &str) -> Option<u32> {
    let n = name
        .strip_prefix("log/events-")?
        .strip_suffix(".cbor.zst")?;
    if n.len() != 6 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// `log/submissions-NNNNNN.cbor.zst`: signed submissions, after the
/// event chunks (see [`crate::submission`]).
pub fn submissions_name(index: u32) -> String {
    format!("log/submissions-{index:06}.cbor.zst")
}

/// The index of a submissions member name.
pub fn submissions_index(name: &str) -> Option<u32> {
    let n = name
        .strip_prefix("log/submissions-")?
        .strip_suffix(".cbor.zst")?;
    if n.len() != 6 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// The sort key of a member name in canonical order, or `None` for a name
/// that has no place in a bundle.
pub fn rank(name: &str) -> Option<(u8, u32, &str)> {
    Some(match name {
        README => (0, 0, ""),
        MANIFEST => (1, 0, ""),
        MANIFEST_SIG => (2, 0, ""),
        MANIFEST_TSR => (2, 1, ""),
        "manifest.provider.sig" => (3, 0, ""),
        "manifest.user.sig" => (3, 1, ""),
        ORIGINAL_MANIFEST => (3, 2, ""),
        ORIGINAL_MANIFEST_SIG => (3, 3, ""),
        "original/manifest.provider.sig" => (3, 4, ""),
        "original/manifest.user.sig" => (3, 5, ""),
        CONTRACT_TOML => (5, 0, ""),
        CONTRACT_CBOR => (6, 0, ""),
        "contract/provider.sig" => (7, 0, ""),
        "contract/user.sig" => (7, 1, ""),
        CHECKPOINT => (8, 0, ""),
        PROOF => (8, 1, ""),
        ANALYZER => (11, 0, ""),
        ANALYZER_CERT => (12, 0, ""),
        VERDICT => (13, 0, ""),
        EXCERPT_VERDICT => (13, 1, ""),
        _ => {
            if let Some(s) = name.strip_prefix("schemas/") {
                let ok = s.ends_with(".cddl")
                    && s.len() > 5
                    && s.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    });
                if !ok {
                    return None;
                }
                (4, 0, s)
            } else if let Some(i) = chunk_index(name) {
                (9, i, "")
            } else if let Some(i) = submissions_index(name) {
                (10, i, "")
            } else {
                return None;
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order() {
        let names = [
            README,
            MANIFEST,
            MANIFEST_SIG,
            MANIFEST_TSR,
            "manifest.provider.sig",
            "manifest.user.sig",
            ORIGINAL_MANIFEST,
            ORIGINAL_MANIFEST_SIG,
            "original/manifest.provider.sig",
            "original/manifest.user.sig",
            "schemas/contract.cddl",
            "schemas/event.cddl",
            CONTRACT_TOML,
            CONTRACT_CBOR,
            "contract/provider.sig",
            "contract/user.sig",
            CHECKPOINT,
            PROOF,
            "log/events-000000.cbor.zst",
            "log/events-000001.cbor.zst",
            ANALYZER,
            ANALYZER_CERT,
            VERDICT,
            EXCERPT_VERDICT,
        ];
        for w in names.windows(2) {
            assert!(
                rank(w[0]).unwrap() < rank(w[1]).unwrap(),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(rank("log/events-1.cbor.zst"), None);
        assert_eq!(rank("schemas/../x.cddl"), None);
        assert_eq!(rank("extra.txt"), None);
    }
}
