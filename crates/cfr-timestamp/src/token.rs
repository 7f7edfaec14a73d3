//! A time-stamp token: parsed ([`Token`], unverified) and verified
//! ([`Verified`], reachable only through [`Token::verify`]).

use crate::asn1::{
    oid, EssCertIdV2, GenTime, IssuerSerial, SigningCertificate, SigningCertificateV2, TstInfo,
};
use crate::cert::{check_time_stamping_usage, PinnedBy, TsaCertificate};
use crate::sig::{self, Hash};
use crate::TimestampError;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::{Decode, Encode, Tagged as _};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;

/// Largest `manifest.tsr` read (a token with a few certificates is a few KiB).
pub const MAX_TOKEN_BYTES: usize = 256 << 10;

fn decode(structure: &'static str) -> impl Fn(der::Error) -> TimestampError {
    move |e| TimestampError::Decode {
        structure,
        detail: e.to_string(),
    }
}

fn structure(detail: impl Into<String>) -> TimestampError {
    TimestampError::Structure(detail.into())
}

/// A time-stamp token as read, **unverified**: its structure is that of
/// RFC 3161 (a CMS SignedData with one signer over a TSTInfo), nothing
/// more. Call [`Token::verify`].
#[derive(Clone, Debug)]
pub struct Token {
    signer: SignerInfo,
    digest: Hash,
    /// The eContent octets: the DER of the TSTInfo, as signed.
    tst_der: Vec<u8>,
    tst: TstInfo,
    certs: Vec<Certificate>,
}

/// The status a TSA answered with, when it did not grant the request.
fn status_text(info: &cmpv2::status::PkiStatusInfo<'_>) -> String {
    let mut s = format!("{:?}", info.status);
    if let Some(text) = &info.status_string {
        let t: Vec<&str> = text.iter().map(|u| u.as_str()).collect();
        if !t.is_empty() {
            s.push_str(&format!(" ({})", t.join("; ")));
        }
    }
    s
}

impl Token {
    /// Reads a `TimeStampResp` (RFC 3161 section 2.4.2; what a TSA answers
    /// and what `manifest.tsr` holds): its status must be `granted` or
    /// `grantedWithMods` and it must carry a token.
    pub fn from_reply(bytes: &[u8]) -> Result<Token, TimestampError> {
        if bytes.len() > MAX_TOKEN_BYTES {
            return Err(structure(format!(
                "{} bytes, more than the {MAX_TOKEN_BYTES} a time-stamp reply may have",
                bytes.len()
            )));
        }
        let resp = x509_tsp::TimeStampResp::from_der(bytes).map_err(decode("TimeStampResp"))?;
        use cmpv2::status::PkiStatus;
        if !matches!(
            resp.status.status,
            PkiStatus::Accepted | PkiStatus::GrantedWithMods
        ) {
            return Err(TimestampError::NotGranted {
                status: status_text(&resp.status),
            });
        }
        let token = resp
            .time_stamp_token
            .ok_or_else(|| structure("the TimeStampResp is granted but carries no token"))?;
        Token::from_content_info(&token)
    }

    /// Reads a bare `TimeStampToken` (a CMS `ContentInfo`).
    pub fn from_token(bytes: &[u8]) -> Result<Token, TimestampError> {
        let ci = ContentInfo::from_der(bytes).map_err(decode("TimeStampToken"))?;
        Token::from_content_info(&ci)
    }

    fn from_content_info(ci: &ContentInfo) -> Result<Token, TimestampError> {
        if ci.content_type != oid::SIGNED_DATA {
            return Err(structure(format!(
                "the token's content type is {}, not id-signedData",
                ci.content_type
            )));
        }
        let sd: SignedData = ci.content.decode_as().map_err(decode("SignedData"))?;
        let eci = &sd.encap_content_info;
        if eci.econtent_type != oid::TST_INFO {
            return Err(structure(format!(
                "the signed content type is {}, not id-ct-TSTInfo",
                eci.econtent_type
            )));
        }
        let econtent = eci
            .econtent
            .as_ref()
            .ok_or_else(|| structure("the SignedData carries no TSTInfo (detached content)"))?;
        if econtent.tag() != der::Tag::OctetString {
            return Err(structure("the eContent is not an OCTET STRING"));
        }
        let tst_der = econtent.value().to_vec();
        let tst = TstInfo::from_der(&tst_der).map_err(decode("TSTInfo"))?;
        let mut signers = sd.signer_infos.0.iter();
        let signer = match (signers.next(), signers.next()) {
            (Some(s), None) => s.clone(),
            (None, _) => return Err(structure("the SignedData has no SignerInfo")),
            (Some(_), Some(_)) => {
                return Err(structure(
                    "the SignedData has more than one SignerInfo; a TSA token has exactly one",
                ))
            }
        };
        let digest = Hash::of_alg(&signer.digest_alg, "the SignerInfo's digest algorithm")?;
        if digest == Hash::Sha1 {
            return Err(TimestampError::UnsupportedAlgorithm {
                what: "the SignerInfo's digest algorithm (SHA-1 is not accepted)",
                oid: signer.digest_alg.oid.to_string(),
            });
        }
        let certs = sd
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|c| match c {
                CertificateChoices::Certificate(c) => Some(c.clone()),
                CertificateChoices::Other(_) => None,
            })
            .collect();
        Ok(Token {
            signer,
            digest,
            tst_der,
            tst,
            certs,
        })
    }

    /// The stamped digest (`messageImprint.hashedMessage`), as the token
    /// states it (unverified).
    pub fn imprint(&self) -> &[u8] {
        self.tst.message_imprint.hashed_message.as_bytes()
    }

    /// The request's nonce as the token echoes it (big-endian, unverified).
    pub fn nonce(&self) -> Option<&[u8]> {
        self.tst.nonce.as_ref().map(|n| n.as_bytes())
    }

    /// The time the token states (unverified).
    pub fn gen_time(&self) -> &GenTime {
        &self.tst.gen_time
    }

    /// The certificates the token carries.
    pub fn certificates(&self) -> &[Certificate] {
        &self.certs
    }

    /// Verifies the token over `manifest` against the pinned TSA
    /// certificate, offline. In order, each failure its own error:
    ///
    /// 1. the signer's certificate is found (among the token's, or it is
    ///    the pinned one) by the SignerInfo's identifier;
    /// 2. the signed attributes hold the content type `id-ct-TSTInfo` and
    ///    a message digest equal to the digest of the TSTInfo as carried;
    /// 3. the signature over the signed attributes verifies with that
    ///    certificate's key;
    /// 4. the ESS signing-certificate attribute (v2 or v1) names that
    ///    certificate (hash, and issuer and serial when given);
    /// 5. the certificate has the critical extended key usage
    ///    `id-kp-timeStamping` and nothing else;
    /// 6. the certificate **is** the pinned one, or was issued by it (its
    ///    signature verified with the pinned certificate's key), and it
    ///    (and the pinned issuer) were valid at the stamped time;
    /// 7. the message imprint is SHA-256 of `manifest`.
    pub fn verify(
        &self,
        manifest: &[u8],
        pin: &TsaCertificate,
    ) -> Result<Verified, TimestampError> {
        let signer = self.signer_certificate(Some(pin))?;
        self.verify_signed(signer)?;
        let by = pin.vouches_for(signer, &self.tst.gen_time)?;
        self.check_imprint(manifest)?;
        Ok(self.verified(signer, Some(by)))
    }

    /// Steps 1 to 5 and 7 of [`Token::verify`], without a pin: what a
    /// sealer checks of the token a TSA returned. The result says who
    /// signed, not that anyone trusts them.
    pub fn verify_unpinned(&self, manifest: &[u8]) -> Result<Verified, TimestampError> {
        let signer = self.signer_certificate(None)?;
        self.verify_signed(signer)?;
        self.check_imprint(manifest)?;
        Ok(self.verified(signer, None))
    }

    fn verified(&self, signer: &Certificate, pinned: Option<PinnedBy>) -> Verified {
        let t = &self.tst;
        Verified {
            time: t.gen_time.rfc3339(),
            unix_secs: t.gen_time.unix_secs,
            nanos: t.gen_time.nanos,
            tsa: signer.tbs_certificate.subject.to_string(),
            serial: hex::encode(t.serial_number.as_bytes()),
            policy: t.policy.to_string(),
            accuracy: t.accuracy.as_ref().map(|a| {
                let ms = u64::from(a.millis.unwrap_or(0).max(0) as u16);
                let us = u64::from(a.micros.unwrap_or(0).max(0) as u16);
                a.seconds
                    .unwrap_or(0)
                    .saturating_mul(1_000_000)
                    .saturating_add(ms * 1000)
                    .saturating_add(us)
            }),
            pinned,
        }
    }

    fn check_imprint(&self, manifest: &[u8]) -> Result<(), TimestampError> {
        let mi = &self.tst.message_imprint;
        let alg = &mi.hash_algorithm;
        let params_ok = match &alg.parameters {
            None => true,
            Some(p) => p.tag() == der::Tag::Null && p.value().is_empty(),
        };
        if alg.oid != oid::SHA256 || !params_ok {
            return Err(structure(format!(
                "the message imprint's algorithm is {}; cfr stamps SHA-256 of manifest.cbor",
                alg.oid
            )));
        }
        let want = Hash::Sha256.digest(manifest);
        if mi.hashed_message.as_bytes() != want.as_slice() {
            return Err(TimestampError::ImprintMismatch {
                expected: hex::encode(&want),
                found: hex::encode(mi.hashed_message.as_bytes()),
            });
        }
        Ok(())
    }

    /// Step 1: the certificate the SignerInfo identifies.
    fn signer_certificate<'a>(
        &'a self,
        pin: Option<&'a TsaCertificate>,
    ) -> Result<&'a Certificate, TimestampError> {
        let matches = |c: &Certificate| match &self.signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                c.tbs_certificate.issuer == ias.issuer
                    && c.tbs_certificate.serial_number == ias.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                crate::cert::subject_key_id(c).is_some_and(|k| k == ski.0.as_bytes())
            }
        };
        self.certs
            .iter()
            .chain(pin.map(|p| p.certificate()))
            .find(|c| matches(c))
            .ok_or_else(|| {
                TimestampError::Untrusted(
                    "the token names a signer whose certificate it does not carry and that is not the pinned certificate"
                        .into(),
                )
            })
    }

    /// Steps 2 to 5.
    fn verify_signed(&self, signer: &Certificate) -> Result<(), TimestampError> {
        let attrs = self.signer.signed_attrs.as_ref().ok_or_else(|| {
            structure("the SignerInfo has no signed attributes (RFC 3161 requires the ESS signing-certificate attribute)")
        })?;
        let single = |id: der::oid::ObjectIdentifier,
                      name: &str|
         -> Result<Option<der::Any>, TimestampError> {
            let mut found = attrs.iter().filter(|a| a.oid == id);
            match (found.next(), found.next()) {
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(structure(format!("the {name} attribute appears twice"))),
                (Some(a), None) => {
                    let mut v = a.values.iter();
                    match (v.next(), v.next()) {
                        (Some(v), None) => Ok(Some(v.clone())),
                        _ => Err(structure(format!(
                            "the {name} attribute must have exactly one value"
                        ))),
                    }
                }
            }
        };
        // 2. Content type and message digest.
        let ct = single(oid::CONTENT_TYPE, "content-type")?
            .ok_or_else(|| structure("the signed attributes lack the content-type attribute"))?;
        let ct: der::oid::ObjectIdentifier =
            ct.decode_as().map_err(decode("content-type attribute"))?;
        if ct != oid::TST_INFO {
            return Err(structure(format!(
                "the signed content-type attribute is {ct}, not id-ct-TSTInfo"
            )));
        }
        let md = single(oid::MESSAGE_DIGEST, "message-digest")?
            .ok_or_else(|| structure("the signed attributes lack the message-digest attribute"))?;
        let md: der::asn1::OctetString =
            md.decode_as().map_err(decode("message-digest attribute"))?;
        if md.as_bytes() != self.digest.digest(&self.tst_der).as_slice() {
            return Err(TimestampError::ContentDigest {
                hash: self.digest.name(),
            });
        }
        // 3. The signature over the DER of the signed attributes (as a SET OF).
        let signed = attrs.to_der().map_err(decode("signed attributes"))?;
        sig::verify(
            &signer.tbs_certificate.subject_public_key_info,
            &self.signer.signature_algorithm,
            Some(self.digest),
            &signed,
            self.signer.signature.as_bytes(),
            "the TSA's signature",
        )?;
        // 4. The signing-certificate attribute names this certificate.
        let cert_der = signer.to_der().map_err(decode("signer certificate"))?;
        let v2 = single(oid::SIGNING_CERTIFICATE_V2, "signingCertificateV2")?;
        let v1 = single(oid::SIGNING_CERTIFICATE, "signingCertificate")?;
        if v1.is_none() && v2.is_none() {
            return Err(TimestampError::SigningCertificate(
                "the signed attributes name no signing certificate (ESS signingCertificate or signingCertificateV2)".into(),
            ));
        }
        if let Some(v2) = v2 {
            let sc: SigningCertificateV2 = v2
                .decode_as()
                .map_err(decode("signingCertificateV2 attribute"))?;
            let first: &EssCertIdV2 = sc.certs.first().ok_or_else(|| {
                TimestampError::SigningCertificate(
                    "signingCertificateV2 lists no certificate".into(),
                )
            })?;
            let h = match &first.hash_algorithm {
                None => Hash::Sha256,
                Some(a) => Hash::of_alg(a, "ESSCertIDv2 hash algorithm")?,
            };
            check_ess(
                h,
                first.cert_hash.as_bytes(),
                first.issuer_serial.as_ref(),
                &cert_der,
                signer,
                "signingCertificateV2",
            )?;
        }
        if let Some(v1) = v1 {
            let sc: SigningCertificate = v1
                .decode_as()
                .map_err(decode("signingCertificate attribute"))?;
            let first = sc.certs.first().ok_or_else(|| {
                TimestampError::SigningCertificate("signingCertificate lists no certificate".into())
            })?;
            check_ess(
                Hash::Sha1,
                first.cert_hash.as_bytes(),
                first.issuer_serial.as_ref(),
                &cert_der,
                signer,
                "signingCertificate",
            )?;
        }
        // 5. A TSA's certificate.
        check_time_stamping_usage(signer)
    }
}

/// Checks an ESSCertID(v2) against the signer's certificate.
fn check_ess(
    h: Hash,
    hash: &[u8],
    issuer_serial: Option<&IssuerSerial>,
    cert_der: &[u8],
    cert: &Certificate,
    name: &str,
) -> Result<(), TimestampError> {
    if h.digest(cert_der) != hash {
        return Err(TimestampError::SigningCertificate(format!(
            "{name} names another certificate than the one that signed (its {} differs)",
            h.name()
        )));
    }
    if let Some(is) = issuer_serial {
        let issuer_named = is.issuer.iter().any(
            |g| matches!(g, GeneralName::DirectoryName(n) if *n == cert.tbs_certificate.issuer),
        );
        if !issuer_named || is.serial_number != cert.tbs_certificate.serial_number {
            return Err(TimestampError::SigningCertificate(format!(
                "{name}'s issuer and serial number are not the signer certificate's"
            )));
        }
    }
    Ok(())
}

/// A verified time-stamp: what a token establishes once [`Token::verify`]
/// checked it (no other code can make one).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// `genTime` in RFC 3339 (`2026-04-20T12:00:00Z`; a fraction when the
    /// TSA gave one).
    pub time: String,
    /// `genTime`, seconds since the Unix epoch.
    pub unix_secs: u64,
    /// `genTime`'s nanoseconds within the second.
    pub nanos: u32,
    /// The signer certificate's subject (RFC 4514).
    pub tsa: String,
    /// The token's serial number (lowercase hex).
    pub serial: String,
    /// The TSA's policy OID.
    pub policy: String,
    /// The stated accuracy, in microseconds.
    pub accuracy: Option<u64>,
    /// How the pinned certificate vouches for the signer; `None` from
    /// [`Token::verify_unpinned`].
    pub pinned: Option<PinnedBy>,
}
