//! The pinned TSA certificate, and what a signer's certificate must be.

use crate::asn1::{oid, GenTime};
use crate::sig;
use crate::TimestampError;
use der::{Decode, DecodePem, Encode};
use sha2::Digest as _;
use x509_cert::Certificate;

/// A certificate the verifier trusts for time-stamps (`verify --tsa-cert`,
/// `[keys] tsa` in `trust.toml`): either the TSA's own certificate, or
/// the certificate of the CA that issued it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsaCertificate {
    cert: Certificate,
    der: Vec<u8>,
}

/// Why a certificate file could not be pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Neither one PEM `CERTIFICATE` nor one DER certificate.
    #[error("not an X.509 certificate (PEM or DER): {0}")]
    Decode(String),
    /// A PEM file holding more than one certificate.
    #[error("holds {0} certificates; pin one (the TSA's, or the CA's that issued it)")]
    Several(usize),
}

/// How the pinned certificate vouches for a token's signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinnedBy {
    /// The signer's certificate is the pinned certificate.
    Itself,
    /// The pinned certificate issued the signer's (its signature checked).
    Issuer,
}

impl TsaCertificate {
    /// Reads one certificate, PEM (`-----BEGIN CERTIFICATE-----`) or DER.
    pub fn from_bytes(bytes: &[u8]) -> Result<TsaCertificate, CertificateError> {
        let cert = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            let n = bytes
                .windows(b"-----BEGIN CERTIFICATE-----".len())
                .filter(|w| *w == b"-----BEGIN CERTIFICATE-----")
                .count();
            if n > 1 {
                return Err(CertificateError::Several(n));
            }
            Certificate::from_pem(bytes).map_err(|e| CertificateError::Decode(e.to_string()))?
        } else {
            Certificate::from_der(bytes).map_err(|e| CertificateError::Decode(e.to_string()))?
        };
        let der = cert
            .to_der()
            .map_err(|e| CertificateError::Decode(e.to_string()))?;
        Ok(TsaCertificate { cert, der })
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// Its subject (RFC 4514).
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// `SHA256:` and the lowercase hex SHA-256 of its DER (as
    /// `openssl x509 -fingerprint -sha256` shows it, without colons).
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", hex::encode(sha2::Sha256::digest(&self.der)))
    }

    /// Step 6 of [`crate::Token::verify`]: `signer` is this certificate,
    /// or was issued by it; and was valid (with this one) at `at`.
    pub(crate) fn vouches_for(
        &self,
        signer: &Certificate,
        at: &GenTime,
    ) -> Result<PinnedBy, TimestampError> {
        let signer_der = signer.to_der().map_err(|e| TimestampError::Decode {
            structure: "signer certificate",
            detail: e.to_string(),
        })?;
        let who = |c: &Certificate| c.tbs_certificate.subject.to_string();
        let by = if signer_der == self.der {
            PinnedBy::Itself
        } else if signer.tbs_certificate.issuer == self.cert.tbs_certificate.subject {
            let tbs = signer
                .tbs_certificate
                .to_der()
                .map_err(|e| TimestampError::Decode {
                    structure: "signer certificate",
                    detail: e.to_string(),
                })?;
            if signer.signature_algorithm != signer.tbs_certificate.signature {
                return Err(TimestampError::Untrusted(format!(
                    "the certificate of {} names two different signature algorithms",
                    who(signer)
                )));
            }
            let sig_bytes = signer.signature.as_bytes().ok_or_else(|| {
                TimestampError::Untrusted(format!(
                    "the certificate of {}: signature is not whole bytes",
                    who(signer)
                ))
            })?;
            sig::verify(
                &self.cert.tbs_certificate.subject_public_key_info,
                &signer.signature_algorithm,
                None,
                &tbs,
                sig_bytes,
                "the signer certificate's issuer signature",
            )
            .map_err(|e| {
                TimestampError::Untrusted(format!(
                    "the certificate of {} names the pinned certificate ({}) as its issuer, but its signature does not verify with the pinned key: {e}",
                    who(signer),
                    self.subject()
                ))
            })?;
            PinnedBy::Issuer
        } else {
            return Err(TimestampError::Untrusted(format!(
                "signed by {} (issued by {}), which is neither the pinned TSA certificate nor issued by it ({}, {})",
                who(signer),
                signer.tbs_certificate.issuer,
                self.subject(),
                self.fingerprint()
            )));
        };
        valid_at(signer, at, "the TSA's certificate")?;
        if by == PinnedBy::Issuer {
            valid_at(&self.cert, at, "the pinned issuer certificate")?;
        }
        Ok(by)
    }
}

/// The certificate was valid (notBefore <= t <= notAfter) at `at`.
fn valid_at(c: &Certificate, at: &GenTime, what: &str) -> Result<(), TimestampError> {
    let v = &c.tbs_certificate.validity;
    let from = v.not_before.to_unix_duration().as_secs();
    let until = v.not_after.to_unix_duration().as_secs();
    if at.unix_secs < from || at.unix_secs > until {
        return Err(TimestampError::Untrusted(format!(
            "{what} ({}) is valid from {} to {}, not at the stamped time {}",
            c.tbs_certificate.subject,
            v.not_before,
            v.not_after,
            at.rfc3339()
        )));
    }
    Ok(())
}

/// The subject key identifier extension's value, if any.
pub(crate) fn subject_key_id(c: &Certificate) -> Option<Vec<u8>> {
    let ext = c
        .tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid::SUBJECT_KEY_ID)?;
    der::asn1::OctetString::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(|o| o.as_bytes().to_vec())
}

/// Step 5 of [`crate::Token::verify`]: RFC 3161 section 2.3: the
/// extended key usage extension is present, critical, and its only
/// purpose is `id-kp-timeStamping`; a key usage extension, when present,
/// allows digital signatures.
pub(crate) fn check_time_stamping_usage(c: &Certificate) -> Result<(), TimestampError> {
    let who = c.tbs_certificate.subject.to_string();
    let exts = c.tbs_certificate.extensions.as_deref().unwrap_or_default();
    let mut ekus = exts.iter().filter(|e| e.extn_id == oid::EXT_KEY_USAGE);
    let eku = match (ekus.next(), ekus.next()) {
        (Some(e), None) => e,
        (None, _) => {
            return Err(TimestampError::CertificateUsage(format!(
                "{who} has no extended key usage extension; a TSA's must be critical and only timeStamping"
            )))
        }
        (Some(_), Some(_)) => {
            return Err(TimestampError::CertificateUsage(format!(
                "{who} has two extended key usage extensions"
            )))
        }
    };
    if !eku.critical {
        return Err(TimestampError::CertificateUsage(format!(
            "{who}: the extended key usage extension is not critical (RFC 3161 section 2.3)"
        )));
    }
    let purposes = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| TimestampError::Decode {
            structure: "extended key usage",
            detail: e.to_string(),
        })?;
    if purposes.0.as_slice() != [oid::KP_TIME_STAMPING] {
        return Err(TimestampError::CertificateUsage(format!(
            "{who}: the extended key usage is {}, not only timeStamping",
            purposes
                .0
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(ku) = exts.iter().find(|e| e.extn_id == oid::KEY_USAGE) {
        let ku =
            x509_cert::ext::pkix::KeyUsage::from_der(ku.extn_value.as_bytes()).map_err(|e| {
                TimestampError::Decode {
                    structure: "key usage",
                    detail: e.to_string(),
                }
            })?;
        if !ku.digital_signature() && !ku.non_repudiation() {
            return Err(TimestampError::CertificateUsage(format!(
                "{who}: the key usage allows neither digitalSignature nor nonRepudiation"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cert(name: &str) -> Certificate {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        TsaCertificate::from_bytes(&std::fs::read(p).unwrap())
            .unwrap()
            .cert
    }

    #[test]
    fn only_a_critical_time_stamping_usage_makes_a_tsa_certificate() {
        for ok in ["rsa.pem", "p256.pem", "p384.pem", "rogue.pem"] {
            check_time_stamping_usage(&cert(ok)).unwrap();
        }
        // The CA's certificate has no extended key usage.
        let e = check_time_stamping_usage(&cert("ca.pem")).unwrap_err();
        assert!(matches!(e, TimestampError::CertificateUsage(_)), "{e}");
        assert_eq!(e.code(), "timestamp-invalid");
        // Not critical: the same certificate with the flag cleared.
        let mut c = cert("rsa.pem");
        for ext in c.tbs_certificate.extensions.iter_mut().flatten() {
            if ext.extn_id == oid::EXT_KEY_USAGE {
                ext.critical = false;
            }
        }
        let e = check_time_stamping_usage(&c).unwrap_err();
        assert!(e.to_string().contains("not critical"), "{e}");
    }
}
