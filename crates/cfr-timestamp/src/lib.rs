//! RFC 3161 trusted time for cfr bundles.
//!
//! A sealed bundle may carry `manifest.tsr`: a time-stamping authority's
//! (TSA's) reply, a `TimeStampResp` as `openssl ts -reply` writes it,
//! whose token is over SHA-256 of the exact `manifest.cbor` bytes. It
//! proves the manifest (and so every member it lists) existed at the
//! token's time: a bundle stamped before a key was compromised stays
//! evidence after.
//!
//! ```
//! use cfr_timestamp::{Token, TsaCertificate};
//! let manifest = include_bytes!("../tests/data/manifest.cbor");
//! let reply = include_bytes!("../tests/data/rsa.tsr");
//! // Pin the CA that issued the TSA's certificate (or the TSA's own).
//! let pin = TsaCertificate::from_bytes(include_bytes!("../tests/data/ca.pem"))?;
//! let token = Token::from_reply(reply)?; // parsed, not verified
//! let stamp = token.verify(manifest, &pin)?;
//! assert_eq!(stamp.time, "2026-12-02T02:08:53Z");
//! assert!(stamp.tsa.contains("CN=cfr test TSA (rsa)"));
//! // Another manifest: the imprint does not match.
//! let err = token.verify(b"another manifest", &pin).unwrap_err();
//! assert_eq!(err.code(), "timestamp-imprint-mismatch");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`Token`] reads a reply ([`Token::from_reply`]) or a bare token; it
//!   is **unverified**. [`Token::verify`] checks it offline against a
//!   [`TsaCertificate`] and yields [`Verified`], the only way to one.
//! - [`Request`] builds a `TimeStampReq` and checks the TSA's reply
//!   before it is stored; `http::timestamp` (feature `http`) posts it.
//!
//! **What is verified** (RFC 3161, RFC 5652, RFC 5035): the token is a
//! CMS SignedData with one SignerInfo over an `id-ct-TSTInfo`; its signed
//! attributes hold that content type and the digest of the TSTInfo; the
//! signature over them verifies with the signer's certificate; the ESS
//! `signingCertificateV2` (or `signingCertificate`) attribute names that
//! certificate; the certificate has the critical extended key usage
//! `id-kp-timeStamping` alone; it **is** the pinned certificate or was
//! **issued by it** (one level: the pinned certificate's key verifies its
//! signature), and both were valid at the token's time (not "now": a
//! token outlives its TSA's certificate); the imprint is SHA-256 of the
//! manifest. Revocation is not checked (it needs the network, and
//! verification is offline).
//!
//! **Algorithms**: RSA PKCS#1 v1.5 and RSASSA-PSS (2048 to 4096 bits),
//! ECDSA over P-256 and P-384, each with SHA-256, SHA-384 or SHA-512;
//! SHA-1 only where RFC 2634's `ESSCertID` names a certificate by it.
//! Structures must be DER (the signed attributes and certificates are
//! checked as re-encoded, which equals the original only for DER).
//!
//! The ASN.1 is RustCrypto's (`cms`, `x509-cert`, `x509-tsp`, `der`),
//! with [`asn1`] declaring, with `der`'s derive macros, the few types
//! those crates lack.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod asn1;
pub mod cert;
#[cfg(feature = "http")]
pub mod http;
pub mod request;
mod sig;
pub mod token;

pub use cert::{CertificateError, PinnedBy, TsaCertificate};
pub use request::Request;
pub use token::{Token, Verified, MAX_TOKEN_BYTES};

/// Why a time-stamp token is refused. [`TimestampError::code`] gives the
/// stable failure code `cfr-bundle verify` reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The bytes do not decode as the structure named.
    #[error("{structure} does not decode: {detail}")]
    Decode {
        /// `TimeStampResp`, `SignedData`, `TSTInfo`, ...
        structure: &'static str,
        /// The decoder's error.
        detail: String,
    },
    /// The TSA did not grant the request.
    #[error("the TSA did not grant the time-stamp: status {status}")]
    NotGranted {
        /// The PKIStatus and its text.
        status: String,
    },
    /// Decodes, but is not shaped as RFC 3161 requires.
    #[error("{0}")]
    Structure(String),
    /// An algorithm this crate does not verify.
    #[error("{what}: unsupported algorithm {oid}")]
    UnsupportedAlgorithm {
        /// Where it is used.
        what: &'static str,
        /// Its OID.
        oid: String,
    },
    /// The signed message-digest attribute is not the digest of the TSTInfo.
    #[error("the signed message-digest attribute is not the {hash} of the token's TSTInfo (the TSTInfo was altered)")]
    ContentDigest {
        /// The digest algorithm.
        hash: &'static str,
    },
    /// A signature does not verify.
    #[error("{what} does not verify: {detail}")]
    Signature {
        /// Which signature.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The ESS signing-certificate attribute is absent or names another
    /// certificate.
    #[error("signing-certificate attribute: {0}")]
    SigningCertificate(String),
    /// The signer's certificate is not a TSA's (extended key usage).
    #[error("the signer certificate is not a TSA's: {0}")]
    CertificateUsage(String),
    /// The token is over another manifest.
    #[error("the token is over SHA-256 {found}, not over this manifest.cbor (SHA-256 {expected})")]
    ImprintMismatch {
        /// SHA-256 of the manifest (hex).
        expected: String,
        /// The token's imprint (hex).
        found: String,
    },
    /// The reply does not echo the request's nonce (sealing only).
    #[error("the token does not echo the request's nonce")]
    NonceMismatch,
    /// The signer is not the pinned TSA certificate, nor issued by it, or
    /// was not valid at the stamped time.
    #[error("{0}")]
    Untrusted(String),
}

impl TimestampError {
    /// The stable failure code: `timestamp-imprint-mismatch`,
    /// `timestamp-untrusted`, or `timestamp-invalid` for everything else
    /// (the message names what).
    pub fn code(&self) -> &'static str {
        match self {
            TimestampError::ImprintMismatch { .. } => "timestamp-imprint-mismatch",
            TimestampError::Untrusted(_) => "timestamp-untrusted",
            _ => "timestamp-invalid",
        }
    }
}
