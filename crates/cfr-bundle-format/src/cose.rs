//! COSE_Sign1 signatures (RFC 9052) with EdDSA over detached payloads.
//!
//! Every signature file in a bundle (`manifest.sig`, `contract/<role>.sig`,
//! `analyzer/certificate.sig`) is one of these: a tagged `COSE_Sign1` whose
//! payload is `nil` because the signed bytes are another member.
//!
//! ```
//! use cfr_bundle_format::cose::{inspect, key_id, sign_detached, verify_detached};
//! use ed25519_dalek::SigningKey;
//!
//! let key = SigningKey::from_bytes(&[7; 32]);
//! let manifest = b"the manifest bytes";
//! let signature = sign_detached(&key, manifest, "application/cbor")?;
//!
//! // Who claims to have signed, before verifying anything:
//! let claimed = inspect(&signature)?;
//! assert_eq!(claimed.key_id, key_id(&key.verifying_key()));
//!
//! let verified = verify_detached(&signature, manifest, &key.verifying_key())?;
//! assert_eq!(verified.content_type, "application/cbor");
//! assert!(verify_detached(&signature, b"other bytes", &key.verifying_key()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The profile
//!
//! `sign_detached` writes, and `inspect` and `verify_detached` accept,
//! exactly this structure, deterministically encoded (RFC 8949 section 4.2.1):
//!
//! ```text
//! 18([                                  ; COSE_Sign1 tag
//!   << { 1: -8, 3: content-type } >>,   ; protected: alg EdDSA, content type (text)
//!   { 4: key-id },                      ; unprotected: kid, 32 bytes
//!   nil,                                ; detached payload
//!   signature                           ; 64-byte Ed25519 signature
//! ])
//! ```
//!
//! The key id is the SHA-256 digest of the 32-byte Ed25519 public key (the
//! full 32 bytes; see [`key_id`]), so a verifier can say which key claims to
//! have signed before it checks the signature. The signed data is the RFC 9052
//! `Sig_structure` ("Signature1", protected header, external AAD, payload);
//! the external AAD is empty unless the `_with_aad` functions are used.
//!
//! Anything else is rejected: other algorithms, an attached payload, a
//! missing tag, any other header parameter (including `crit`), bytes after
//! the structure, inputs over [`MAX_SIGNATURE_FILE_SIZE`] bytes, and any
//! non-canonical encoding (the input must equal the re-encoding of what was
//! parsed). Ed25519 signatures are checked with `verify_strict`, which
//! rejects malleable signatures and weak keys.

use coset::cbor::Value;
use coset::iana;
use coset::{
    AsCborValue, CoseSign1, CoseSign1Builder, HeaderBuilder, Label, RegisteredLabel,
    RegisteredLabelWithPrivate, TaggedCborSerializable,
};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// The largest signature file accepted, in bytes.
pub const MAX_SIGNATURE_FILE_SIZE: usize = 64 * 1024;

/// The length of a key id: a SHA-256 digest.
pub const KEY_ID_LEN: usize = 32;

/// The longest content type accepted, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;

const COSE_SIGN1_TAG: u64 = 18;
const SIGNATURE_LEN: usize = 64;

/// The key id of an Ed25519 public key: SHA-256 of its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> [u8; KEY_ID_LEN] {
    Sha256::digest(key.as_bytes()).into()
}

/// A signature algorithm this profile accepts.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoseAlgorithm {
    /// EdDSA with Ed25519 (COSE algorithm -8).
    EdDsa,
}

impl CoseAlgorithm {
    /// The algorithm's COSE identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            CoseAlgorithm::EdDsa => iana::Algorithm::EdDSA as i64,
        }
    }
}

impl fmt::Display for CoseAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoseAlgorithm::EdDsa => f.write_str("EdDSA"),
        }
    }
}

/// What a signature file says about itself. From [`inspect`] this is
/// unverified: only [`verify_detached`] checks that `key_id`'s key signed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseInfo {
    /// The signature algorithm.
    pub algorithm: CoseAlgorithm,
    /// The content type of the detached payload.
    pub content_type: String,
    /// The id of the key that claims to have signed (see [`key_id`]).
    pub key_id: [u8; KEY_ID_LEN],
}

/// Why signing failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CoseSignError {
    /// The content type is empty, too long, or not printable ASCII without
    /// leading or trailing spaces.
    #[error("content type {content_type:?} is not 1 to {MAX_CONTENT_TYPE_LEN} printable ASCII characters without leading or trailing spaces")]
    BadContentType {
        /// The rejected content type.
        content_type: String,
    },
    /// The COSE structure could not be encoded.
    #[error("encoding the COSE_Sign1 structure failed: {detail}")]
    Encode {
        /// The encoder's message.
        detail: String,
    },
}

impl CoseSignError {
    /// A stable kebab-case identifier for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            CoseSignError::BadContentType { .. } => "cose-bad-content-type",
            CoseSignError::Encode { .. } => "cose-encode",
        }
    }
}

/// Why a signature file was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoseError {
    /// The input is larger than [`MAX_SIGNATURE_FILE_SIZE`].
    #[error("signature file is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// The input's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The input is not one well-formed CBOR item, or not a COSE_Sign1.
    #[error("not a well-formed COSE_Sign1 structure: {detail}")]
    Malformed {
        /// What the decoder found wrong.
        detail: String,
    },
    /// The CBOR item is not tagged 18 (COSE_Sign1).
    #[error("{}", match .found_tag { Some(tag) => format!("COSE_Sign1 must be tagged 18, found tag {tag}"), None => "COSE_Sign1 must be tagged 18, found no tag".to_owned() })]
    NotTagged {
        /// The tag found instead, if any.
        found_tag: Option<u64>,
    },
    /// Bytes follow the COSE_Sign1 structure.
    #[error("{count} bytes follow the COSE_Sign1 structure at offset {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// The algorithm is missing or not EdDSA.
    #[error("{}", match .found { Some(found) => format!("algorithm {found} is not supported; only EdDSA (-8) is"), None => "the protected header names no algorithm; EdDSA (-8) is required".to_owned() })]
    UnsupportedAlgorithm {
        /// The algorithm found, as its number or text label, if any.
        found: Option<String>,
    },
    /// The content type is missing, numeric, or not printable ASCII.
    #[error("{}", match .found { Some(found) => format!("content type {found} is not allowed; a printable text content type is required"), None => "the protected header has no content type".to_owned() })]
    BadContentType {
        /// The content type found, if any.
        found: Option<String>,
    },
    /// The key id is missing or not 32 bytes.
    #[error("the key id is {len} bytes; a {KEY_ID_LEN}-byte SHA-256 key id is required")]
    BadKeyId {
        /// The key id's length (0 if missing).
        len: usize,
    },
    /// A header parameter other than alg and content type (protected) or
    /// kid (unprotected) is present.
    #[error("unexpected {} header parameter {label}", if *.protected { "protected" } else { "unprotected" })]
    UnexpectedHeader {
        /// Whether it is in the protected header.
        protected: bool,
        /// The parameter's label.
        label: String,
    },
    /// The payload is attached; it must be detached (`nil`).
    #[error("the payload is attached ({len} bytes); it must be detached")]
    AttachedPayload {
        /// The attached payload's length.
        len: usize,
    },
    /// The signature is not 64 bytes.
    #[error("the signature is {len} bytes; an Ed25519 signature is {SIGNATURE_LEN}")]
    BadSignatureLength {
        /// The signature's length.
        len: usize,
    },
    /// The encoding is not the deterministic one.
    #[error("the COSE_Sign1 structure is not deterministically encoded")]
    NonCanonical,
    /// The signature claims a different key than the one given.
    #[error("signed by key {} but key {} was expected", Hex(.claimed), Hex(.expected))]
    KeyMismatch {
        /// The key id in the signature.
        claimed: [u8; KEY_ID_LEN],
        /// The key id of the expected key.
        expected: [u8; KEY_ID_LEN],
    },
    /// The signature does not verify over the payload.
    #[error("the signature by key {} does not match the payload", Hex(.key_id))]
    BadSignature {
        /// The key id of the key it was checked against.
        key_id: [u8; KEY_ID_LEN],
    },
}

impl CoseError {
    /// A stable kebab-case identifier for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            CoseError::TooLarge { .. } => "cose-too-large",
            CoseError::Malformed { .. } => "cose-malformed",
            CoseError::NotTagged { .. } => "cose-not-tagged",
            CoseError::TrailingBytes { .. } => "cose-trailing-bytes",
            CoseError::UnsupportedAlgorithm { .. } => "cose-unsupported-algorithm",
            CoseError::BadContentType { .. } => "cose-bad-content-type",
            CoseError::BadKeyId { .. } => "cose-bad-key-id",
            CoseError::UnexpectedHeader { .. } => "cose-unexpected-header",
            CoseError::AttachedPayload { .. } => "cose-attached-payload",
            CoseError::BadSignatureLength { .. } => "cose-bad-signature-length",
            CoseError::NonCanonical => "cose-non-canonical",
            CoseError::KeyMismatch { .. } => "cose-key-mismatch",
            CoseError::BadSignature { .. } => "cose-bad-signature",
        }
    }
}

/// Lower-case hex for key ids in messages.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

fn content_type_allowed(content_type: &str) -> bool {
    !content_type.is_empty()
        && content_type.len() <= MAX_CONTENT_TYPE_LEN
        && content_type.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !content_type.starts_with(' ')
        && !content_type.ends_with(' ')
}

/// The unsigned structure with everything but the signature.
fn unsigned(content_type: &str, key_id: &[u8; KEY_ID_LEN]) -> CoseSign1Builder {
    CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .content_type(content_type.to_owned())
                .build(),
        )
        .unprotected(HeaderBuilder::new().key_id(key_id.to_vec()).build())
}

/// Signs `payload` with `key`, returning a tagged COSE_Sign1 with a detached
/// payload and an empty external AAD.
pub fn sign_detached(
    key: &SigningKey,
    payload: &[u8],
    content_type: &str,
) -> Result<Vec<u8>, CoseSignError> {
    sign_detached_with_aad(key, payload, content_type, &[])
}

/// Signs `payload` with `key`, binding `external_aad` into the signature
/// (RFC 9052 section 4.3); the verifier must pass the same bytes.
pub fn sign_detached_with_aad(
    key: &SigningKey,
    payload: &[u8],
    content_type: &str,
    external_aad: &[u8],
) -> Result<Vec<u8>, CoseSignError> {
    if !content_type_allowed(content_type) {
        return Err(CoseSignError::BadContentType {
            content_type: content_type.to_owned(),
        });
    }
    unsigned(content_type, &key_id(&key.verifying_key()))
        .create_detached_signature(payload, external_aad, |data| {
            key.sign(data).to_bytes().to_vec()
        })
        .build()
        .to_tagged_vec()
        .map_err(|error| CoseSignError::Encode {
            detail: error.to_string(),
        })
}

/// Parses a signature file and reports what it claims, without verifying.
pub fn inspect(cose: &[u8]) -> Result<CoseInfo, CoseError> {
    decode(cose).map(|(_, info)| info)
}

/// Verifies a signature file over a detached `payload` with `key`, with an
/// empty external AAD. Returns what the now-verified signature says.
pub fn verify_detached(
    cose: &[u8],
    payload: &[u8],
    key: &VerifyingKey,
) -> Result<CoseInfo, CoseError> {
    verify_detached_with_aad(cose, payload, &[], key)
}

/// Verifies a signature file over a detached `payload` and `external_aad`
/// with `key`. Fails with [`CoseError::KeyMismatch`] if the signature names
/// another key, before checking the signature itself.
pub fn verify_detached_with_aad(
    cose: &[u8],
    payload: &[u8],
    external_aad: &[u8],
    key: &VerifyingKey,
) -> Result<CoseInfo, CoseError> {
    let (sign1, info) = decode(cose)?;
    let expected = key_id(key);
    if info.key_id != expected {
        return Err(CoseError::KeyMismatch {
            claimed: info.key_id,
            expected,
        });
    }
    let signature =
        Signature::from_slice(&sign1.signature).map_err(|_| CoseError::BadSignatureLength {
            len: sign1.signature.len(),
        })?;
    // `decode` rejected attached payloads, so `tbs_detached_data` (which
    // asserts the payload is absent) cannot panic.
    let signed = sign1.tbs_detached_data(payload, external_aad);
    key.verify_strict(&signed, &signature)
        .map_err(|_| CoseError::BadSignature { key_id: expected })?;
    Ok(info)
}

fn label_text(label: &Label) -> String {
    match label {
        Label::Int(value) => value.to_string(),
        Label::Text(text) => format!("{text:?}"),
    }
}

fn check_no_other_headers(header: &coset::Header, protected: bool) -> Result<(), CoseError> {
    let unexpected = |label: &str| {
        Err(CoseError::UnexpectedHeader {
            protected,
            label: label.to_owned(),
        })
    };
    if !header.crit.is_empty() {
        return unexpected("2 (crit)");
    }
    if !header.iv.is_empty() {
        return unexpected("5 (IV)");
    }
    if !header.partial_iv.is_empty() {
        return unexpected("6 (Partial IV)");
    }
    if !header.counter_signatures.is_empty() {
        return unexpected("7 (counter signature)");
    }
    if let Some((label, _)) = header.rest.first() {
        return unexpected(&label_text(label));
    }
    if protected {
        if !header.key_id.is_empty() {
            return unexpected("4 (kid)");
        }
    } else {
        if header.alg.is_some() {
            return unexpected("1 (alg)");
        }
        if header.content_type.is_some() {
            return unexpected("3 (content type)");
        }
    }
    Ok(())
}

fn decode(cose: &[u8]) -> Result<(CoseSign1, CoseInfo), CoseError> {
    if cose.len() > MAX_SIGNATURE_FILE_SIZE {
        return Err(CoseError::TooLarge {
            size: cose.len(),
            max: MAX_SIGNATURE_FILE_SIZE,
        });
    }
    let mut rest = cose;
    let value: Value =
        coset::cbor::de::from_reader(&mut rest).map_err(|error| CoseError::Malformed {
            detail: error.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(CoseError::TrailingBytes {
            offset: cose.len() - rest.len(),
            count: rest.len(),
        });
    }
    let inner = match value {
        Value::Tag(COSE_SIGN1_TAG, inner) => *inner,
        Value::Tag(tag, _) => {
            return Err(CoseError::NotTagged {
                found_tag: Some(tag),
            })
        }
        _ => return Err(CoseError::NotTagged { found_tag: None }),
    };
    let sign1 = CoseSign1::from_cbor_value(inner).map_err(|error| CoseError::Malformed {
        detail: error.to_string(),
    })?;

    let protected = &sign1.protected.header;
    match &protected.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) => {}
        Some(RegisteredLabelWithPrivate::Assigned(other)) => {
            return Err(CoseError::UnsupportedAlgorithm {
                found: Some((*other as i64).to_string()),
            })
        }
        Some(RegisteredLabelWithPrivate::PrivateUse(other)) => {
            return Err(CoseError::UnsupportedAlgorithm {
                found: Some(other.to_string()),
            })
        }
        Some(RegisteredLabelWithPrivate::Text(other)) => {
            return Err(CoseError::UnsupportedAlgorithm {
                found: Some(format!("{other:?}")),
            })
        }
        None => return Err(CoseError::UnsupportedAlgorithm { found: None }),
    }
    let content_type = match &protected.content_type {
        Some(RegisteredLabel::Text(text)) if content_type_allowed(text) => text.clone(),
        Some(RegisteredLabel::Text(text)) => {
            return Err(CoseError::BadContentType {
                found: Some(format!("{text:?}")),
            })
        }
        Some(RegisteredLabel::Assigned(format)) => {
            return Err(CoseError::BadContentType {
                found: Some((*format as i64).to_string()),
            })
        }
        None => return Err(CoseError::BadContentType { found: None }),
    };
    check_no_other_headers(protected, true)?;
    check_no_other_headers(&sign1.unprotected, false)?;
    let key_id: [u8; KEY_ID_LEN] =
        sign1
            .unprotected
            .key_id
            .as_slice()
            .try_into()
            .map_err(|_| CoseError::BadKeyId {
                len: sign1.unprotected.key_id.len(),
            })?;
    if let Some(payload) = &sign1.payload {
        return Err(CoseError::AttachedPayload { len: payload.len() });
    }
    if sign1.signature.len() != SIGNATURE_LEN {
        return Err(CoseError::BadSignatureLength {
            len: sign1.signature.len(),
        });
    }

    // The input must be exactly what `sign_detached` writes for these values;
    // this rejects every non-deterministic encoding, in the outer structure
    // and inside the protected header's byte string.
    let canonical = unsigned(&content_type, &key_id)
        .signature(sign1.signature.clone())
        .build()
        .to_tagged_vec()
        .map_err(|error| CoseError::Malformed {
            detail: error.to_string(),
        })?;
    if canonical != cose {
        return Err(CoseError::NonCanonical);
    }
    Ok((
        sign1,
        CoseInfo {
            algorithm: CoseAlgorithm::EdDsa,
            content_type,
            key_id,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::CborSerializable;
    use proptest::prelude::*;

    const CONTENT_TYPE: &str = "application/cbor";
    const PAYLOAD: &[u8] = b"\xd9\xd9\xf7\xa1\x66format\x6acfr-bundle/1";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn signed() -> Vec<u8> {
        sign_detached(&key(1), PAYLOAD, CONTENT_TYPE).expect("valid content type")
    }

    fn parse(cose: &[u8]) -> CoseSign1 {
        CoseSign1::from_tagged_slice(cose).expect("valid COSE_Sign1")
    }

    /// Re-encodes a (possibly edited) structure the way coset does.
    fn reencode(mut sign1: CoseSign1) -> Vec<u8> {
        sign1.protected.original_data = None;
        sign1.to_tagged_vec().expect("encodable")
    }

    #[test]
    fn signs_and_verifies() {
        let cose = signed();
        let verifying = key(1).verifying_key();
        let info = verify_detached(&cose, PAYLOAD, &verifying).expect("verifies");
        assert_eq!(
            info,
            CoseInfo {
                algorithm: CoseAlgorithm::EdDsa,
                content_type: CONTENT_TYPE.to_owned(),
                key_id: key_id(&verifying),
            }
        );
        assert_eq!(inspect(&cose).expect("parses"), info);
        assert_eq!(info.algorithm.cose_id(), -8);
        let expected: [u8; 32] = Sha256::digest(verifying.as_bytes()).into();
        assert_eq!(info.key_id, expected);
        // Ed25519 is deterministic, and so is the encoding.
        assert_eq!(signed(), cose);
        // The empty payload is a payload like any other.
        let empty = sign_detached(&key(1), b"", CONTENT_TYPE).expect("signs");
        verify_detached(&empty, b"", &verifying).expect("verifies");
    }

    #[test]
    fn encoding_is_the_documented_deterministic_structure() {
        let cose = signed();
        let mut expected = vec![0xd2, 0x84]; // tag 18, array(4)
        let protected = {
            let mut map = vec![0xa2, 0x01, 0x27, 0x03, 0x70]; // {1: -8, 3: tstr(16)
            map.extend_from_slice(CONTENT_TYPE.as_bytes());
            map
        };
        expected.push(0x40 + protected.len() as u8); // bstr
        expected.extend_from_slice(&protected);
        expected.extend_from_slice(&[0xa1, 0x04, 0x58, 0x20]); // {4: bstr(32)
        expected.extend_from_slice(&key_id(&key(1).verifying_key()));
        expected.push(0xf6); // nil payload
        expected.extend_from_slice(&[0x58, 0x40]); // bstr(64)
        assert_eq!(&cose[..expected.len()], expected.as_slice());
        assert_eq!(cose.len(), expected.len() + 64);

        // ciborium, the reference implementation, re-encodes it identically.
        let value: ciborium::Value = ciborium::from_reader(cose.as_slice()).expect("CBOR");
        let mut again = Vec::new();
        ciborium::into_writer(&value, &mut again).expect("encodable");
        assert_eq!(again, cose);
    }

    #[test]
    fn tampering_fails() {
        let cose = signed();
        let verifying = key(1).verifying_key();

        let mut payload = PAYLOAD.to_vec();
        payload[3] ^= 1;
        let error = verify_detached(&cose, &payload, &verifying).expect_err("tampered payload");
        assert_eq!(error.code(), "cose-bad-signature");

        let mut bad = cose.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        let error = verify_detached(&bad, PAYLOAD, &verifying).expect_err("tampered signature");
        assert_eq!(error.code(), "cose-bad-signature");

        // Another content type, properly encoded, with the old signature.
        let mut sign1 = parse(&cose);
        sign1.protected.header.content_type =
            Some(RegisteredLabel::Text("application/json".to_owned()));
        let error = verify_detached(&reencode(sign1), PAYLOAD, &verifying)
            .expect_err("tampered protected header");
        assert_eq!(error.code(), "cose-bad-signature");

        let error = verify_detached_with_aad(&cose, PAYLOAD, b"context", &verifying)
            .expect_err("other AAD");
        assert_eq!(error.code(), "cose-bad-signature");
        let with_aad =
            sign_detached_with_aad(&key(1), PAYLOAD, CONTENT_TYPE, b"context").expect("signs");
        verify_detached_with_aad(&with_aad, PAYLOAD, b"context", &verifying).expect("verifies");
        assert!(verify_detached(&with_aad, PAYLOAD, &verifying).is_err());
    }

    #[test]
    fn another_key_fails() {
        let cose = signed();
        let other = key(2).verifying_key();
        let error = verify_detached(&cose, PAYLOAD, &other).expect_err("other key");
        assert_eq!(
            error,
            CoseError::KeyMismatch {
                claimed: key_id(&key(1).verifying_key()),
                expected: key_id(&other),
            }
        );
        assert!(error
            .to_string()
            .contains(&Hex(&key_id(&other)).to_string()));

        // Claiming the other key's id does not help a forger.
        let mut sign1 = parse(&cose);
        sign1.unprotected.key_id = key_id(&other).to_vec();
        let error = verify_detached(&reencode(sign1), PAYLOAD, &other).expect_err("forged kid");
        assert_eq!(
            error,
            CoseError::BadSignature {
                key_id: key_id(&other)
            }
        );
    }

    #[test]
    fn every_single_byte_change_fails() {
        let cose = signed();
        let verifying = key(1).verifying_key();
        for position in 0..cose.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut bad = cose.clone();
                bad[position] ^= flip;
                assert!(
                    verify_detached(&bad, PAYLOAD, &verifying).is_err(),
                    "byte {position} ^ {flip:#x} verified"
                );
            }
        }
    }

    #[test]
    fn rejects_structures_outside_the_profile() {
        let cose = signed();
        let code = |bytes: &[u8]| inspect(bytes).expect_err("rejected").code();

        let mut sign1 = parse(&cose);
        sign1.payload = Some(PAYLOAD.to_vec());
        assert_eq!(code(&reencode(sign1)), "cose-attached-payload");

        assert_eq!(
            code(&parse(&cose).to_vec().expect("encodable")),
            "cose-not-tagged"
        );
        let mut other_tag = cose.clone();
        other_tag[0] = 0xd1; // tag 17, COSE_Mac0
        assert_eq!(
            inspect(&other_tag),
            Err(CoseError::NotTagged {
                found_tag: Some(17)
            })
        );

        let mut trailing = cose.clone();
        trailing.push(0);
        assert_eq!(
            inspect(&trailing),
            Err(CoseError::TrailingBytes {
                offset: cose.len(),
                count: 1
            })
        );

        let mut huge = cose.clone();
        huge.resize(MAX_SIGNATURE_FILE_SIZE + 1, 0);
        assert_eq!(code(&huge), "cose-too-large");

        let mut sign1 = parse(&cose);
        sign1.signature.truncate(63);
        assert_eq!(
            inspect(&reencode(sign1)),
            Err(CoseError::BadSignatureLength { len: 63 })
        );

        let mut sign1 = parse(&cose);
        sign1.protected.header.alg =
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256));
        assert_eq!(
            inspect(&reencode(sign1)),
            Err(CoseError::UnsupportedAlgorithm {
                found: Some("-7".to_owned())
            })
        );
        let mut sign1 = parse(&cose);
        sign1.protected.header.alg = None;
        assert_eq!(code(&reencode(sign1)), "cose-unsupported-algorithm");

        let mut sign1 = parse(&cose);
        sign1.protected.header.content_type = None;
        assert_eq!(code(&reencode(sign1)), "cose-bad-content-type");
        let mut sign1 = parse(&cose);
        sign1.protected.header.content_type =
            Some(RegisteredLabel::Assigned(iana::CoapContentFormat::Cbor));
        assert_eq!(code(&reencode(sign1)), "cose-bad-content-type");

        let mut sign1 = parse(&cose);
        sign1.unprotected.key_id.pop();
        assert_eq!(
            inspect(&reencode(sign1)),
            Err(CoseError::BadKeyId { len: 31 })
        );

        let mut sign1 = parse(&cose);
        sign1.protected.header.crit = vec![RegisteredLabel::Assigned(iana::HeaderParameter::Alg)];
        assert_eq!(code(&reencode(sign1)), "cose-unexpected-header");
        let mut sign1 = parse(&cose);
        sign1
            .unprotected
            .rest
            .push((Label::Int(99), Value::Bool(true)));
        assert_eq!(
            inspect(&reencode(sign1)),
            Err(CoseError::UnexpectedHeader {
                protected: false,
                label: "99".to_owned()
            })
        );
        let mut sign1 = parse(&cose);
        sign1.protected.header.key_id = vec![1];
        assert_eq!(code(&reencode(sign1)), "cose-unexpected-header");

        assert_eq!(code(&[]), "cose-malformed");
        assert_eq!(code(&[0xd2, 0x83, 0x40, 0xa0, 0xf6]), "cose-malformed");
    }

    #[test]
    fn rejects_non_canonical_encodings() {
        let cose = signed();
        // The array head written in a two-byte form: 0x98 0x04.
        let mut long_array = vec![0xd2, 0x98, 0x04];
        long_array.extend_from_slice(&cose[2..]);
        assert_eq!(inspect(&long_array), Err(CoseError::NonCanonical));
        // An indefinite-length array.
        let mut indefinite = vec![0xd2, 0x9f];
        indefinite.extend_from_slice(&cose[2..]);
        indefinite.push(0xff);
        assert_eq!(inspect(&indefinite), Err(CoseError::NonCanonical));
        // The protected map with its keys in the wrong order: {3: ..., 1: -8}.
        let mut sign1 = parse(&cose);
        let mut protected = vec![0xa2, 0x03, 0x70];
        protected.extend_from_slice(CONTENT_TYPE.as_bytes());
        protected.extend_from_slice(&[0x01, 0x27]);
        sign1.protected.original_data = Some(protected);
        let reordered = sign1.to_tagged_vec().expect("encodable");
        assert_eq!(inspect(&reordered), Err(CoseError::NonCanonical));
        // The tag in a two-byte form.
        let mut long_tag = vec![0xd8, 0x12];
        long_tag.extend_from_slice(&cose[1..]);
        assert_eq!(inspect(&long_tag), Err(CoseError::NonCanonical));
    }

    #[test]
    fn refuses_bad_content_types() {
        for content_type in [
            "",
            " application/cbor",
            "text/plain\n",
            "caf\u{e9}",
            &"a".repeat(256),
        ] {
            let error =
                sign_detached(&key(1), PAYLOAD, content_type).expect_err("bad content type");
            assert_eq!(error.code(), "cose-bad-content-type");
        }
        let cose = sign_detached(&key(1), PAYLOAD, "text/plain; charset=utf-8").expect("signs");
        assert_eq!(
            inspect(&cose).expect("parses").content_type,
            "text/plain; charset=utf-8"
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = inspect(&bytes);
            let _ = verify_detached(&bytes, PAYLOAD, &key(1).verifying_key());
        }

        #[test]
        fn tagged_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut cose = vec![0xd2, 0x84];
            cose.extend_from_slice(&bytes);
            let _ = verify_detached(&cose, PAYLOAD, &key(1).verifying_key());
        }

        #[test]
        fn edits_never_panic_and_never_verify(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
        ) {
            let cose = signed();
            let mut bad = cose.clone();
            for (position, value) in edits {
                let position = position % bad.len();
                bad[position] = value;
            }
            bad.truncate(cut % (cose.len() + 1));
            if bad != cose {
                prop_assert!(verify_detached(&bad, PAYLOAD, &key(1).verifying_key()).is_err());
            }
        }
    }
}
