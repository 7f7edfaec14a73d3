//! Known answers: tokens made by OpenSSL's `ts -reply` (see
//! `data/make.sh`), each verified or refused with the code a verifier
//! reports.
#![allow(clippy::unwrap_used)]

use cfr_timestamp::{PinnedBy, Token, TsaCertificate};
use std::path::PathBuf;

fn data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn pin(name: &str) -> TsaCertificate {
    TsaCertificate::from_bytes(&data(name)).unwrap()
}

fn manifest() -> Vec<u8> {
    data("manifest.cbor")
}

fn verify(
    tsr: &str,
    pin_name: &str,
) -> Result<cfr_timestamp::Verified, cfr_timestamp::TimestampError> {
    Token::from_reply(&data(tsr))?.verify(&manifest(), &pin(pin_name))
}

#[test]
fn every_key_type_verifies_pinned_by_its_ca_or_itself() {
    for (tsr, cert) in [
        ("rsa.tsr", "rsa.pem"),
        ("p256.tsr", "p256.pem"),
        ("p384.tsr", "p384.pem"),
        ("rsa-esscertid-v1.tsr", "rsa.pem"),
    ] {
        let by_ca = verify(tsr, "ca.pem").unwrap_or_else(|e| panic!("{tsr}: {e}"));
        assert_eq!(by_ca.pinned, Some(PinnedBy::Issuer), "{tsr}");
        assert!(
            by_ca.tsa.contains("CN=cfr test TSA ("),
            "{tsr}: {}",
            by_ca.tsa
        );
        assert!(by_ca.time.starts_with("20") && by_ca.time.ends_with('Z'));
        assert_eq!(by_ca.policy, "1.2.3.4.1");
        assert_eq!(by_ca.accuracy, Some(1_000_000));
        let itself = verify(tsr, cert).unwrap_or_else(|e| panic!("{tsr}: {e}"));
        assert_eq!(itself.pinned, Some(PinnedBy::Itself), "{tsr}");
        assert_eq!(
            Token::from_reply(&data(tsr))
                .unwrap()
                .verify_unpinned(&manifest())
                .unwrap()
                .pinned,
            None
        );
    }
}

#[test]
fn a_token_over_another_manifest_is_an_imprint_mismatch() {
    let t = Token::from_reply(&data("rsa.tsr")).unwrap();
    let e = t.verify(b"another manifest", &pin("ca.pem")).unwrap_err();
    assert_eq!(e.code(), "timestamp-imprint-mismatch", "{e}");
    assert!(e.to_string().contains("not over this manifest.cbor"), "{e}");
}

#[test]
fn a_tsa_the_pin_does_not_vouch_for_is_untrusted() {
    // A self-signed certificate with the TSA's very name: the pin is a
    // certificate, not a name.
    for p in ["ca.pem", "rsa.pem", "p256.pem"] {
        let e = verify("rogue.tsr", p).unwrap_err();
        assert_eq!(e.code(), "timestamp-untrusted", "{p}: {e}");
    }
    // A genuine token, pinned to another TSA of the same CA.
    let e = verify("rsa.tsr", "p256.pem").unwrap_err();
    assert_eq!(e.code(), "timestamp-untrusted", "{e}");
    assert!(
        e.to_string()
            .contains("neither the pinned TSA certificate nor issued by it"),
        "{e}"
    );
    // The CA pinned, the token carrying no certificate: nothing to verify
    // the signature with but the pin, which did not sign.
    let e = verify("rsa-nocert.tsr", "ca.pem").unwrap_err();
    assert_eq!(e.code(), "timestamp-untrusted", "{e}");
    // ... but with the TSA's own certificate pinned it verifies.
    assert_eq!(
        verify("rsa-nocert.tsr", "rsa.pem").unwrap().pinned,
        Some(PinnedBy::Itself)
    );
}

/// Flipping any one byte of a reply never panics, and never yields a
/// different verified time-stamp: either verification fails, or the byte
/// was one nothing relies on (the status text, an unsigned field) and the
/// result is the same.
#[test]
fn no_single_byte_flip_changes_what_is_verified() {
    let m = manifest();
    let p = pin("ca.pem");
    for tsr in ["rsa.tsr", "p256.tsr"] {
        let good = data(tsr);
        let want = Token::from_reply(&good).unwrap().verify(&m, &p).unwrap();
        let mut refused = 0;
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            match Token::from_reply(&bad).and_then(|t| t.verify(&m, &p)) {
                Ok(v) => assert_eq!(v, want, "{tsr}: flip at {i}"),
                Err(e) => {
                    refused += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        assert!(
            refused * 10 > good.len() * 9,
            "{tsr}: only {refused} of {} flips refused",
            good.len()
        );
    }
}

#[test]
fn certificates_pin_as_pem_or_der_and_one_at_a_time() {
    let pem = data("ca.pem");
    let c = TsaCertificate::from_bytes(&pem).unwrap();
    assert!(c.subject().contains("CN=cfr test CA"));
    assert!(c.fingerprint().starts_with("SHA256:"));
    use der::Encode as _;
    let der = c.certificate().to_der().unwrap();
    assert_eq!(TsaCertificate::from_bytes(&der).unwrap(), c);
    let two = [pem.clone(), data("rsa.pem")].concat();
    assert!(TsaCertificate::from_bytes(&two)
        .unwrap_err()
        .to_string()
        .contains("2 certificates"));
    assert!(TsaCertificate::from_bytes(b"not a certificate").is_err());
}

#[test]
fn garbage_is_invalid_not_a_panic() {
    for bytes in [&b""[..], b"\x30", b"\x30\x03\x02\x01\x00", &data("rsa.pem")] {
        let e = Token::from_reply(bytes).unwrap_err();
        assert_eq!(e.code(), "timestamp-invalid", "{e}");
    }
    // A bare token is not a reply (manifest.tsr holds the TimeStampResp).
    let reply = data("rsa.tsr");
    assert!(Token::from_reply(&reply[..reply.len() - 1]).is_err());
}

/// OpenSSL's `ts` cannot sign with RSASSA-PSS, so this takes an OpenSSL
/// token and has OpenSSL's `pkeyutl` re-sign its signed attributes with
/// PSS (SHA-256, MGF1-SHA-256, a 32-byte salt), the SignerInfo naming
/// `id-RSASSA-PSS` with those parameters.
#[test]
fn an_rsassa_pss_signature_verifies_and_its_parameters_are_binding() {
    use der::{Decode as _, Encode as _};
    let reply = data("rsa.tsr");
    let resp = x509_tsp::TimeStampResp::from_der(&reply).unwrap();
    let mut ci = resp.time_stamp_token.clone().unwrap();
    let mut sd: cms::signed_data::SignedData = ci.content.decode_as().unwrap();
    let mut si = sd.signer_infos.0.get(0).unwrap().clone();
    let signed = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hash = dir.path().join("hash");
    let sig = dir.path().join("sig");
    use sha2::Digest as _;
    std::fs::write(&hash, sha2::Sha256::digest(&signed)).unwrap();
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rsa.key");
    let status = std::process::Command::new("openssl")
        .args(["pkeyutl", "-sign", "-inkey"])
        .arg(&key)
        .args([
            "-pkeyopt",
            "digest:sha256",
            "-pkeyopt",
            "rsa_padding_mode:pss",
            "-pkeyopt",
            "rsa_pss_saltlen:32",
            "-in",
        ])
        .arg(&hash)
        .arg("-out")
        .arg(&sig)
        .status()
        .expect("openssl runs (the tests need OpenSSL)");
    assert!(status.success());
    let mut with = |salt: u8, sig_bytes: Vec<u8>| -> Vec<u8> {
        let params = rsa::pkcs1::RsaPssParams::new::<sha2::Sha256>(salt)
            .to_der()
            .unwrap();
        si.signature_algorithm = spki::AlgorithmIdentifierOwned {
            oid: "1.2.840.113549.1.1.10".parse().unwrap(),
            parameters: Some(der::Any::from_der(&params).unwrap()),
        };
        si.signature = der::asn1::OctetString::new(sig_bytes).unwrap();
        sd.signer_infos = vec![si.clone()].try_into().unwrap();
        ci.content = der::Any::encode_from(&sd).unwrap();
        let mut r = resp.clone();
        r.time_stamp_token = Some(ci.clone());
        r.to_der().unwrap()
    };
    let pss = std::fs::read(&sig).unwrap();
    let good = with(32, pss.clone());
    let v = Token::from_reply(&good)
        .unwrap()
        .verify(&manifest(), &pin("ca.pem"))
        .unwrap();
    assert_eq!(v.pinned, Some(PinnedBy::Issuer));
    // The same signature under parameters that say another salt length.
    let e = Token::from_reply(&with(20, pss))
        .unwrap()
        .verify(&manifest(), &pin("ca.pem"))
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-invalid", "{e}");
    assert!(e.to_string().contains("RSASSA-PSS"), "{e}");
}
