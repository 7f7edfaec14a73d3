//! The ASN.1 types this crate needs beyond those of `cms`, `x509-cert`
//! and `x509-tsp`, declared with `der`'s derive macros (no hand-written
//! DER): a `TSTInfo` whose `genTime` keeps fractional seconds (RFC 3161
//! section 2.4.2 allows them; `der`'s `GeneralizedTime` does not), and the
//! ESS signing-certificate attributes (RFC 2634 section 5.4, RFC 5035).

use der::asn1::{Int, OctetString};
use der::oid::ObjectIdentifier;
use der::{DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag, Writer};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::ext::Extensions;
use x509_cert::serial_number::SerialNumber;
use x509_tsp::{Accuracy, MessageImprint, TspVersion};

/// Object identifiers used here and not (all) in `const-oid`'s database
/// under a stable name.
pub mod oid {
    use der::oid::ObjectIdentifier;

    /// `id-ct-TSTInfo` (RFC 3161).
    pub const TST_INFO: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
    /// `id-signedData` (RFC 5652).
    pub const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
    /// `id-contentType` attribute.
    pub const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
    /// `id-messageDigest` attribute.
    pub const MESSAGE_DIGEST: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
    /// `id-aa-signingCertificate` (RFC 2634, ESSCertID with SHA-1).
    pub const SIGNING_CERTIFICATE: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
    /// `id-aa-signingCertificateV2` (RFC 5035, ESSCertIDv2).
    pub const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
    /// `id-kp-timeStamping` (RFC 5280).
    pub const KP_TIME_STAMPING: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
    /// `id-ce-extKeyUsage`.
    pub const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
    /// `id-ce-keyUsage`.
    pub const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
    /// `id-ce-subjectKeyIdentifier`.
    pub const SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

    /// SHA-1.
    pub const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
    /// SHA-256.
    pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
    /// SHA-384.
    pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
    /// SHA-512.
    pub const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

    /// `rsaEncryption` (as a key type, and as CMS's signature algorithm
    /// with the digest named by the SignerInfo).
    pub const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    /// `id-RSASSA-PSS`.
    pub const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
    /// `id-mgf1`.
    pub const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
    /// `sha256WithRSAEncryption`.
    pub const SHA256_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    /// `sha384WithRSAEncryption`.
    pub const SHA384_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
    /// `sha512WithRSAEncryption`.
    pub const SHA512_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
    /// `id-ecPublicKey`.
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    /// `secp256r1` (P-256).
    pub const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    /// `secp384r1` (P-384).
    pub const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    /// `ecdsa-with-SHA256`.
    pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    /// `ecdsa-with-SHA384`.
    pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    /// `ecdsa-with-SHA512`.
    pub const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
}

/// `TSTInfo` (RFC 3161 section 2.4.2), as `x509_tsp::TstInfo` but with a
/// [`GenTime`] that accepts the fractional seconds TSAs commonly send.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    /// `v1`.
    pub version: TspVersion,
    /// The TSA's policy.
    pub policy: ObjectIdentifier,
    /// What was stamped.
    pub message_imprint: MessageImprint,
    /// The token's serial number (up to 160 bits).
    pub serial_number: Int,
    /// When.
    pub gen_time: GenTime,
    /// How precisely.
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    /// Whether tokens of this TSA are ordered by genTime alone.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// The request's nonce, echoed.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// The TSA's name.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    /// Extensions.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// A `GeneralizedTime` as RFC 3161 section 2.4.2 constrains `genTime`:
/// `YYYYMMDDhhmmss[.s...]Z`, UTC, the fraction (at most nine digits here)
/// without trailing zeros.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GenTime {
    /// The encoded text, kept to encode it back unchanged.
    text: String,
    /// Seconds since the Unix epoch.
    pub unix_secs: u64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl GenTime {
    /// Parses the text of a `genTime`.
    pub fn parse(text: &str) -> Result<GenTime, &'static str> {
        let b = text.as_bytes();
        if b.len() < 15 || b.last() != Some(&b'Z') {
            return Err("genTime must be YYYYMMDDhhmmss[.fraction]Z");
        }
        let digits = &b[..14];
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err("genTime must be YYYYMMDDhhmmss[.fraction]Z");
        }
        let n = |r: std::ops::Range<usize>| -> u32 {
            digits[r]
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let mut nanos = 0u32;
        let rest = &b[14..b.len() - 1];
        if !rest.is_empty() {
            let frac = rest.strip_prefix(b".").ok_or("genTime: bad fraction")?;
            if frac.is_empty()
                || frac.len() > 9
                || !frac.iter().all(u8::is_ascii_digit)
                || frac.last() == Some(&b'0')
            {
                return Err("genTime: the fraction must be 1 to 9 digits without trailing zeros");
            }
            for (i, d) in frac.iter().enumerate() {
                nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
            }
        }
        let dt = der::DateTime::new(
            n(0..4) as u16,
            n(4..6) as u8,
            n(6..8) as u8,
            n(8..10) as u8,
            n(10..12) as u8,
            n(12..14) as u8,
        )
        .map_err(|_| "genTime is not a valid date and time")?;
        Ok(GenTime {
            text: text.to_owned(),
            unix_secs: dt.unix_duration().as_secs(),
            nanos,
        })
    }

    /// RFC 3339 (`2026-04-20T12:00:00.25Z`).
    pub fn rfc3339(&self) -> String {
        let t = self.text.as_bytes();
        let s = |r: std::ops::Range<usize>| String::from_utf8_lossy(&t[r]).into_owned();
        let frac = s(14..t.len() - 1);
        format!(
            "{}-{}-{}T{}:{}:{}{frac}Z",
            s(0..4),
            s(4..6),
            s(6..8),
            s(8..10),
            s(10..12),
            s(12..14)
        )
    }
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_vec(header.length)?;
        let text = String::from_utf8(bytes).map_err(|_| Self::TAG.value_error())?;
        GenTime::parse(&text).map_err(|_| Self::TAG.value_error())
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.text.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.text.as_bytes())
    }
}

/// `IssuerSerial` (RFC 5035).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    /// The certificate's issuer.
    pub issuer: GeneralNames,
    /// The certificate's serial number.
    pub serial_number: SerialNumber,
}

/// `ESSCertID` (RFC 2634): a certificate named by its SHA-1.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertId {
    /// SHA-1 of the certificate's DER.
    pub cert_hash: OctetString,
    /// Its issuer and serial number.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificate` (RFC 2634).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificate {
    /// The first names the signer's certificate.
    pub certs: Vec<EssCertId>,
    /// Policies (not used).
    #[asn1(optional = "true")]
    pub policies: Option<Vec<der::Any>>,
}

/// `ESSCertIDv2` (RFC 5035): a certificate named by a hash (SHA-256 when
/// the algorithm is absent).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// The hash algorithm; absent means SHA-256.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// The hash of the certificate's DER.
    pub cert_hash: OctetString,
    /// Its issuer and serial number.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificateV2` (RFC 5035).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The first names the signer's certificate.
    pub certs: Vec<EssCertIdV2>,
    /// Policies (not used).
    #[asn1(optional = "true")]
    pub policies: Option<Vec<der::Any>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gen_time_with_and_without_fraction() {
        let t = GenTime::parse("20260420120000Z").unwrap();
        assert_eq!(t.unix_secs, 1_776_686_400);
        assert_eq!(t.nanos, 0);
        assert_eq!(t.rfc3339(), "2026-04-20T12:00:00Z");
        let t = GenTime::parse("20260420120000.125Z").unwrap();
        assert_eq!(t.nanos, 125_000_000);
        assert_eq!(t.rfc3339(), "2026-04-20T12:00:00.125Z");
        for bad in [
            "20260420120000",
            "20260420120000.Z",
            "20260420120000.10Z",
            "20260431120000Z",
            "2026042012000Z",
            "20260420120000+0100",
            "20260420120000.1234567891Z",
            "2026042012000aZ",
        ] {
            assert!(GenTime::parse(bad).is_err(), "{bad}");
        }
    }
}
