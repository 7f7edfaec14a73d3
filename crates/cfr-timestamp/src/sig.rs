//! The signatures a TSA may make, verified with RustCrypto's `rsa`,
//! `p256` and `p384`: RSA PKCS#1 v1.5 and RSASSA-PSS with SHA-256/384/512
//! (keys of 2048 to 4096 bits), ECDSA over P-256 and P-384 with
//! SHA-256/384/512. Anything else is [`TimestampError::UnsupportedAlgorithm`].

use crate::asn1::oid;
use crate::TimestampError;
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, Tagged as _};
use sha2::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// The smallest RSA modulus accepted.
pub const MIN_RSA_BITS: usize = 2048;

/// A digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// SHA-1: only to name certificates (ESSCertID), never in signatures.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The digest algorithm with this OID.
    pub fn of(o: &ObjectIdentifier) -> Option<Hash> {
        Some(match *o {
            oid::SHA1 => Hash::Sha1,
            oid::SHA256 => Hash::Sha256,
            oid::SHA384 => Hash::Sha384,
            oid::SHA512 => Hash::Sha512,
            _ => return None,
        })
    }

    /// The digest algorithm an `AlgorithmIdentifier` names, its parameters
    /// absent or NULL.
    pub fn of_alg(
        a: &AlgorithmIdentifierOwned,
        what: &'static str,
    ) -> Result<Hash, TimestampError> {
        let h = Hash::of(&a.oid).ok_or_else(|| unsupported(what, &a.oid))?;
        match &a.parameters {
            None => Ok(h),
            Some(p) if p.tag() == der::Tag::Null && p.value().is_empty() => Ok(h),
            Some(_) => Err(TimestampError::Structure(format!(
                "{what}: the digest algorithm has parameters"
            ))),
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Hash::Sha1 => "SHA-1",
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
        }
    }
}

fn unsupported(what: &'static str, o: &ObjectIdentifier) -> TimestampError {
    TimestampError::UnsupportedAlgorithm {
        what,
        oid: o.to_string(),
    }
}

/// Verifies `sig` over `msg` by the key `spki` with the signature
/// algorithm `alg`. `digest` is the CMS SignerInfo's digest algorithm
/// (needed for `rsaEncryption`, and must agree with the hash any other
/// algorithm names); `None` for certificates. `what` names the signature
/// in errors.
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    digest: Option<Hash>,
    msg: &[u8],
    sig: &[u8],
    what: &'static str,
) -> Result<(), TimestampError> {
    let agree = |named: Hash| -> Result<Hash, TimestampError> {
        match digest {
            Some(d) if d != named => Err(TimestampError::Structure(format!(
                "{what}: the signature algorithm hashes with {} but the digest algorithm is {}",
                named.name(),
                d.name()
            ))),
            _ => Ok(named),
        }
    };
    let bad = |detail: String| TimestampError::Signature { what, detail };
    match alg.oid {
        oid::RSA_ENCRYPTION
        | oid::SHA256_WITH_RSA
        | oid::SHA384_WITH_RSA
        | oid::SHA512_WITH_RSA => {
            let h = match alg.oid {
                oid::SHA256_WITH_RSA => agree(Hash::Sha256)?,
                oid::SHA384_WITH_RSA => agree(Hash::Sha384)?,
                oid::SHA512_WITH_RSA => agree(Hash::Sha512)?,
                _ => digest.ok_or_else(|| unsupported(what, &alg.oid))?,
            };
            let key = rsa_key(spki, what)?;
            let hashed = h.digest(msg);
            let scheme = match h {
                Hash::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                Hash::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                Hash::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                Hash::Sha1 => return Err(unsupported(what, &oid::SHA1)),
            };
            key.verify(scheme, &hashed, sig)
                .map_err(|e| bad(format!("RSA PKCS#1 v1.5 with {}: {e}", h.name())))
        }
        oid::RSASSA_PSS => {
            let params = alg.parameters.as_ref().ok_or_else(|| {
                TimestampError::Structure(format!("{what}: RSASSA-PSS without parameters"))
            })?;
            let der = params
                .to_der()
                .map_err(|e| decode("RSASSA-PSS parameters", e))?;
            let p = rsa::pkcs1::RsaPssParams::from_der(&der)
                .map_err(|e| decode("RSASSA-PSS parameters", e))?;
            let h = Hash::of(&p.hash.oid).ok_or_else(|| unsupported(what, &p.hash.oid))?;
            let h = agree(h)?;
            let mgf_hash = p.mask_gen.parameters.as_ref().map(|a| a.oid);
            if p.mask_gen.oid != oid::MGF1 || mgf_hash.and_then(|o| Hash::of(&o)) != Some(h) {
                return Err(TimestampError::Structure(format!(
                    "{what}: RSASSA-PSS must use MGF1 with its own hash ({})",
                    h.name()
                )));
            }
            if p.trailer_field != rsa::pkcs1::TrailerField::BC {
                return Err(TimestampError::Structure(format!(
                    "{what}: RSASSA-PSS trailer field is not 1"
                )));
            }
            let key = rsa_key(spki, what)?;
            let hashed = h.digest(msg);
            let salt = usize::from(p.salt_len);
            let scheme = match h {
                Hash::Sha256 => rsa::Pss::new_with_salt::<sha2::Sha256>(salt),
                Hash::Sha384 => rsa::Pss::new_with_salt::<sha2::Sha384>(salt),
                Hash::Sha512 => rsa::Pss::new_with_salt::<sha2::Sha512>(salt),
                Hash::Sha1 => return Err(unsupported(what, &oid::SHA1)),
            };
            key.verify(scheme, &hashed, sig)
                .map_err(|e| bad(format!("RSASSA-PSS with {}: {e}", h.name())))
        }
        oid::ECDSA_SHA256 | oid::ECDSA_SHA384 | oid::ECDSA_SHA512 => {
            if alg.parameters.is_some() {
                return Err(TimestampError::Structure(format!(
                    "{what}: ECDSA with parameters"
                )));
            }
            let h = agree(match alg.oid {
                oid::ECDSA_SHA256 => Hash::Sha256,
                oid::ECDSA_SHA384 => Hash::Sha384,
                _ => Hash::Sha512,
            })?;
            let hashed = h.digest(msg);
            ecdsa_verify(spki, &hashed, sig, what)
        }
        other => Err(unsupported(what, &other)),
    }
}

fn decode(structure: &'static str, e: der::Error) -> TimestampError {
    TimestampError::Decode {
        structure,
        detail: e.to_string(),
    }
}

/// The RSA key of an `rsaEncryption` or `id-RSASSA-PSS` SubjectPublicKeyInfo.
fn rsa_key(
    spki: &SubjectPublicKeyInfoOwned,
    what: &'static str,
) -> Result<rsa::RsaPublicKey, TimestampError> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    if spki.algorithm.oid != oid::RSA_ENCRYPTION && spki.algorithm.oid != oid::RSASSA_PSS {
        return Err(TimestampError::Signature {
            what,
            detail: format!(
                "an RSA signature, but the certificate's key is {}",
                spki.algorithm.oid
            ),
        });
    }
    let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        TimestampError::Structure(format!(
            "{what}: the RSA key's bit string is not whole bytes"
        ))
    })?;
    // `RsaPublicKey` refuses moduli above 4096 bits and bad exponents.
    let key = rsa::RsaPublicKey::from_pkcs1_der(bits).map_err(|e| TimestampError::Decode {
        structure: "RSA public key",
        detail: e.to_string(),
    })?;
    if key.n().bits() < MIN_RSA_BITS {
        return Err(TimestampError::Signature {
            what,
            detail: format!(
                "the RSA key has {} bits; at least {MIN_RSA_BITS} are required",
                key.n().bits()
            ),
        });
    }
    Ok(key)
}

/// Verifies an ECDSA signature (DER `Ecdsa-Sig-Value`) over a digest with
/// a P-256 or P-384 key.
fn ecdsa_verify(
    spki: &SubjectPublicKeyInfoOwned,
    hashed: &[u8],
    sig: &[u8],
    what: &'static str,
) -> Result<(), TimestampError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
    if spki.algorithm.oid != oid::EC_PUBLIC_KEY {
        return Err(TimestampError::Signature {
            what,
            detail: format!(
                "an ECDSA signature, but the certificate's key is {}",
                spki.algorithm.oid
            ),
        });
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| TimestampError::Structure(format!("{what}: the EC key names no curve")))?;
    let point = spki.subject_public_key.as_bytes().ok_or_else(|| {
        TimestampError::Structure(format!(
            "{what}: the EC key's bit string is not whole bytes"
        ))
    })?;
    let bad = |detail: String| TimestampError::Signature { what, detail };
    match curve {
        oid::P256 => {
            let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|e| bad(format!("P-256 key: {e}")))?;
            let s = p256::ecdsa::Signature::from_der(sig)
                .map_err(|e| bad(format!("ECDSA P-256 signature: {e}")))?;
            k.verify_prehash(hashed, &s)
                .map_err(|e| bad(format!("ECDSA P-256: {e}")))
        }
        oid::P384 => {
            let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|e| bad(format!("P-384 key: {e}")))?;
            let s = p384::ecdsa::Signature::from_der(sig)
                .map_err(|e| bad(format!("ECDSA P-384 signature: {e}")))?;
            k.verify_prehash(hashed, &s)
                .map_err(|e| bad(format!("ECDSA P-384: {e}")))
        }
        other => Err(unsupported(what, &other)),
    }
}
