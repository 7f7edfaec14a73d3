//! Asking a TSA: the `TimeStampReq` (RFC 3161 section 2.4.1) and the
//! checks of its reply before it is stored.

use crate::asn1::oid;
use crate::sig::Hash;
use crate::token::{Token, Verified};
use crate::TimestampError;
use der::asn1::{Int, OctetString};
use der::{Any, Encode};
use spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

/// A request for a token over SHA-256 of a manifest, with a random nonce,
/// asking for the TSA's certificate in the token (`certReq`).
#[derive(Clone, Debug)]
pub struct Request {
    der: Vec<u8>,
    nonce: Vec<u8>,
    manifest_sha256: Vec<u8>,
}

impl Request {
    /// A request over `manifest` with a fresh 64-bit random nonce.
    pub fn new(manifest: &[u8]) -> Result<Request, TimestampError> {
        use rand_core::RngCore as _;
        let mut nonce = [0u8; 8];
        rand_core::OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| TimestampError::Structure(format!("no randomness for the nonce: {e}")))?;
        Request::with_nonce(manifest, nonce)
    }

    /// A request over `manifest` with this nonce (tests; use [`Request::new`]).
    pub fn with_nonce(manifest: &[u8], nonce: [u8; 8]) -> Result<Request, TimestampError> {
        // The nonce is a positive INTEGER: DER gives it a leading zero
        // byte when its top bit is set, and no leading zero bytes else.
        let int = Int::new(&minimal_positive(&nonce)).map_err(enc)?;
        let manifest_sha256 = Hash::Sha256.digest(manifest);
        let req = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifier {
                    oid: oid::SHA256,
                    parameters: Some(Any::null()),
                },
                hashed_message: OctetString::new(manifest_sha256.clone()).map_err(enc)?,
            },
            req_policy: None,
            nonce: Some(int.clone()),
            cert_req: true,
            extensions: None,
        };
        Ok(Request {
            der: req.to_der().map_err(enc)?,
            nonce: int.as_bytes().to_vec(),
            manifest_sha256,
        })
    }

    /// The DER of the `TimeStampReq` (the body of the HTTP POST,
    /// `application/timestamp-query`).
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// Checks a TSA's reply to this request before it is stored: granted,
    /// a token that echoes this request's imprint and nonce, signed as
    /// [`Token::verify_unpinned`] checks (whether the TSA is trusted is
    /// the verifier's to say, with its pin). Returns what the token says.
    pub fn check_reply(&self, reply: &[u8], manifest: &[u8]) -> Result<Verified, TimestampError> {
        if Hash::Sha256.digest(manifest) != self.manifest_sha256 {
            return Err(TimestampError::Structure(
                "the reply is checked against another manifest than the request's".into(),
            ));
        }
        let token = Token::from_reply(reply)?;
        if token.nonce() != Some(self.nonce.as_slice()) {
            return Err(TimestampError::NonceMismatch);
        }
        token.verify_unpinned(manifest)
    }
}

fn enc(e: der::Error) -> TimestampError {
    TimestampError::Structure(format!("encoding the request: {e}"))
}

/// The minimal two's-complement encoding of a non-negative big-endian number.
fn minimal_positive(n: &[u8]) -> Vec<u8> {
    let first = n
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(n.len().saturating_sub(1));
    let mut out = Vec::with_capacity(n.len() + 1);
    if n.get(first).is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(n.get(first..).unwrap_or_default());
    if out.is_empty() {
        out.push(0);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_minimal_positive_integers() {
        assert_eq!(minimal_positive(&[0, 0, 1]), vec![1]);
        assert_eq!(minimal_positive(&[0x80, 0]), vec![0, 0x80, 0]);
        assert_eq!(minimal_positive(&[0, 0]), vec![0]);
        for nonce in [[0u8; 8], [0xff; 8], [0, 0x80, 0, 0, 0, 0, 0, 1]] {
            let r = Request::with_nonce(b"m", nonce).unwrap();
            assert!(!r.to_der().is_empty());
        }
    }
}
