//! C2SP checkpoints and signed notes: round trips, interoperability with
//! sum.golang.org, strict rejection of malformed notes, and fuzzing.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use cfr_merkle::ed25519_dalek::{SigningKey, VerifyingKey};
use cfr_merkle::{
    key_id, leaf_hash, Checkpoint, CheckpointError, SignatureLineFault, SignedCheckpoint,
    MAX_NOTE_LEN, MAX_SIGNATURES,
};
use proptest::prelude::*;

const ORIGIN: &str = "cfr/contract-0001";

fn recorder() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.into(),
        size: 1234,
        root: leaf_hash(b"root"),
    }
}

fn signed() -> SignedCheckpoint {
    checkpoint()
        .sign(&recorder(), ORIGIN)
        .expect("valid checkpoint")
}

fn note() -> String {
    signed().to_note()
}

fn parse(note: &str) -> Result<SignedCheckpoint, CheckpointError> {
    SignedCheckpoint::parse(note.as_bytes())
}

#[test]
fn body_is_the_c2sp_checkpoint_text() {
    let cp = Checkpoint {
        origin: "example.com/behind-the-sofa".into(),
        size: 20852163,
        root: BASE64
            .decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
            .expect("base64")
            .try_into()
            .expect("32 bytes"),
    };
    let body = cp.body();
    assert_eq!(
        body,
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
    assert_eq!(Checkpoint::parse_body(&body), Ok(cp));
}

#[test]
fn signed_note_round_trips_and_verifies() {
    let signed = signed();
    let note = signed.to_note();
    assert!(note.starts_with(&checkpoint().body()));
    assert!(note.contains(&format!("\n\n\u{2014} {ORIGIN} ")));
    let parsed = parse(&note).expect("our own note parses");
    assert_eq!(parsed, signed);
    assert_eq!(parsed.to_string(), note);
    assert_eq!(
        parsed.verify(ORIGIN, &recorder().verifying_key()),
        Ok(&checkpoint())
    );
    assert_eq!(note.parse::<SignedCheckpoint>(), Ok(signed));
}

#[test]
fn cosignatures_are_note_signatures_under_their_own_names() {
    let provider = SigningKey::from_bytes(&[2; 32]);
    let user = SigningKey::from_bytes(&[3; 32]);
    let mut signed = signed();
    signed
        .sign(&provider, "provider.example/cfr")
        .expect("cosign");
    signed.sign(&user, "user.example/cfr").expect("cosign");
    let parsed = parse(&signed.to_note()).expect("parses");
    let listed: Vec<(&str, u32)> = parsed
        .signatures()
        .iter()
        .map(|s| (s.key_name(), s.key_id()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (ORIGIN, key_id(ORIGIN, &recorder().verifying_key())),
            (
                "provider.example/cfr",
                key_id("provider.example/cfr", &provider.verifying_key())
            ),
            (
                "user.example/cfr",
                key_id("user.example/cfr", &user.verifying_key())
            ),
        ]
    );
    for (name, key) in [
        (ORIGIN, recorder()),
        ("provider.example/cfr", provider.clone()),
        ("user.example/cfr", user),
    ] {
        assert!(parsed.verify(name, &key.verifying_key()).is_ok(), "{name}");
    }
    assert!(parsed
        .signatures()
        .iter()
        .all(|s| s.signature().len() == 64));
    // The same key under another name, or another key under the same name,
    // is a different signer.
    let other_id = key_id(ORIGIN, &provider.verifying_key());
    assert_eq!(
        parsed.verify(ORIGIN, &provider.verifying_key()),
        Err(CheckpointError::SignatureNotFound {
            key_name: ORIGIN.into(),
            key_id: other_id
        })
    );
    assert!(matches!(
        parsed.verify("provider.example/other", &provider.verifying_key()),
        Err(CheckpointError::SignatureNotFound { .. })
    ));
    // Signing twice with the same key and name is refused.
    let mut again = parsed.clone();
    assert!(matches!(
        again.sign(&provider, "provider.example/cfr"),
        Err(CheckpointError::DuplicateSignature { .. })
    ));
}

/// sum.golang.org's published verifier key,
/// `sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8`.
fn sum_golang_org() -> VerifyingKey {
    let raw = BASE64
        .decode("Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8")
        .expect("base64");
    assert_eq!(raw[0], 0x01, "Ed25519 signature type");
    let key = VerifyingKey::from_bytes(&raw[1..].try_into().expect("32 bytes")).expect("key");
    assert_eq!(key_id("sum.golang.org", &key), 0x033de0ae);
    key
}

#[test]
fn verifies_checkpoints_signed_by_sum_golang_org() {
    // Signed tree heads published by the Go checksum database.
    let notes = [
        "go.sum database tree\n15368405\n/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=\n\n\
         \u{2014} sum.golang.org Az3grqJGUaSGukG9p8nI2vKgiFn7qGHxn0W+mrwyI6Gz3F0t1J3LzmWk/p96Ybf295EjwdSwlzgijq5WA9d1Ded7owM=\n",
        "go.sum database tree\n63512409\nF7eHRPqN/cqPtqti14NKdGGaI1Giw8coWP3KxihFZbg=\n\n\
         \u{2014} sum.golang.org Az3gri1OBHKT87Xj8UXU8zjoHGy/X+7Nl94f8TZkELVaasolmGApUsWqwVG9vE6hgqYb/ph/w2vdkLIVRH7bMB/FPQ4=\n",
    ];
    let key = sum_golang_org();
    for note in notes {
        let parsed = parse(note).expect("parses");
        let checkpoint = parsed.verify("sum.golang.org", &key).expect("verifies");
        assert_eq!(checkpoint.origin, "go.sum database tree");
        assert_eq!(parsed.to_note(), note);
        let tampered = note.replace("database", "Database");
        assert!(matches!(
            parse(&tampered)
                .expect("parses")
                .verify("sum.golang.org", &key),
            Err(CheckpointError::InvalidSignature { .. })
        ));
    }
}

#[test]
fn unknown_signatures_are_kept_and_ignored() {
    let note = note();
    let foreign = format!(
        "{note}\u{2014} witness.example/w1 {}\n\u{2014} pq.example/log {}\n",
        BASE64.encode([0xab; 68]),
        BASE64.encode([0xcd; 2424]),
    );
    let parsed = parse(&foreign).expect("parses");
    assert_eq!(parsed.signatures().len(), 3);
    assert_eq!(parsed.signatures()[2].signature().len(), 2420);
    assert!(parsed.verify(ORIGIN, &recorder().verifying_key()).is_ok());
    assert_eq!(parsed.to_note(), foreign);
}

#[test]
fn malformed_notes_are_rejected() {
    let good = note();
    let sig_line = good
        .split("\n\n")
        .nth(1)
        .expect("signature block")
        .to_owned();
    let body = checkpoint().body();
    let with_body = |body: &str| format!("{body}\n{sig_line}");
    let root_b64 = BASE64.encode(checkpoint().root);
    let signature_line_fault = |fault| move |e: &CheckpointError| matches!(e, CheckpointError::InvalidSignatureLine { fault: f, .. } if *f == fault);

    type Check = Box<dyn Fn(&CheckpointError) -> bool>;
    let cases: Vec<(&str, String, Check)> = vec![
        (
            "no blank line",
            format!("{body}{sig_line}"),
            Box::new(|e| matches!(e, CheckpointError::MissingSignatureSeparator)),
        ),
        (
            "no final newline",
            good.trim_end_matches('\n').to_owned(),
            Box::new(|e| matches!(e, CheckpointError::MissingFinalNewline)),
        ),
        (
            "no signatures",
            format!("{body}\n"),
            Box::new(|e| matches!(e, CheckpointError::NoSignatures)),
        ),
        (
            "CRLF",
            good.replace('\n', "\r\n"),
            Box::new(|e| matches!(e, CheckpointError::ControlCharacter { .. })),
        ),
        (
            "NUL",
            good.replacen("cfr", "c\0r", 1),
            Box::new(|e| matches!(e, CheckpointError::ControlCharacter { .. })),
        ),
        (
            "tab",
            good.replacen("cfr", "c\tr", 1),
            Box::new(|e| matches!(e, CheckpointError::ControlCharacter { .. })),
        ),
        (
            "empty origin",
            with_body(&format!("\n1234\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::InvalidOrigin)),
        ),
        (
            "leading zero",
            with_body(&format!("{ORIGIN}\n01234\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::NonCanonicalTreeSize)),
        ),
        (
            "plus sign",
            with_body(&format!("{ORIGIN}\n+1234\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::NonCanonicalTreeSize)),
        ),
        (
            "negative",
            with_body(&format!("{ORIGIN}\n-1\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::NonCanonicalTreeSize)),
        ),
        (
            "space",
            with_body(&format!("{ORIGIN}\n 1234\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::NonCanonicalTreeSize)),
        ),
        (
            "empty size",
            with_body(&format!("{ORIGIN}\n\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::NonCanonicalTreeSize)),
        ),
        (
            "hex size",
            with_body(&format!("{ORIGIN}\n0x10\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::NonCanonicalTreeSize)),
        ),
        (
            "overflow",
            with_body(&format!("{ORIGIN}\n18446744073709551616\n{root_b64}\n")),
            Box::new(|e| matches!(e, CheckpointError::TreeSizeOverflow)),
        ),
        (
            "missing root",
            with_body(&format!("{ORIGIN}\n1234\n")),
            Box::new(|e| matches!(e, CheckpointError::MissingBodyLine { line: 3 })),
        ),
        (
            "missing size",
            with_body(&format!("{ORIGIN}\n")),
            Box::new(|e| matches!(e, CheckpointError::MissingBodyLine { line: 2 })),
        ),
        (
            "extension line",
            with_body(&format!("{body}ext\n")),
            Box::new(|e| matches!(e, CheckpointError::ExtensionLine { line: 4 })),
        ),
        (
            "bad root base64",
            with_body(&format!("{ORIGIN}\n1234\n{}\n", root_b64.replace('=', "!"))),
            Box::new(|e| matches!(e, CheckpointError::RootEncoding)),
        ),
        (
            "unpadded root",
            with_body(&format!(
                "{ORIGIN}\n1234\n{}\n",
                root_b64.trim_end_matches('=')
            )),
            Box::new(|e| matches!(e, CheckpointError::RootEncoding)),
        ),
        (
            "short root",
            with_body(&format!("{ORIGIN}\n1234\n{}\n", BASE64.encode([0; 31]))),
            Box::new(|e| matches!(e, CheckpointError::RootLength { len: 31 })),
        ),
        (
            "ascii dash",
            good.replace('\u{2014}', "-"),
            Box::new(signature_line_fault(SignatureLineFault::MissingPrefix)),
        ),
        (
            "no space after dash",
            good.replace("\u{2014} ", "\u{2014}"),
            Box::new(signature_line_fault(SignatureLineFault::MissingPrefix)),
        ),
        (
            "no signature",
            format!("{body}\n\u{2014} {ORIGIN}\n"),
            Box::new(signature_line_fault(SignatureLineFault::MissingSignature)),
        ),
        (
            "plus in key name",
            format!("{body}\n\u{2014} a+b {}\n", BASE64.encode([1; 68])),
            Box::new(signature_line_fault(SignatureLineFault::InvalidKeyName)),
        ),
        (
            "empty key name",
            format!("{body}\n\u{2014}  {}\n", BASE64.encode([1; 68])),
            Box::new(signature_line_fault(SignatureLineFault::InvalidKeyName)),
        ),
        (
            "bad signature base64",
            format!("{body}\n\u{2014} k AAAA*AAA\n"),
            Box::new(signature_line_fault(SignatureLineFault::Base64)),
        ),
        (
            "non-canonical base64",
            format!("{body}\n\u{2014} k AAAAAAB=\n"),
            Box::new(signature_line_fault(SignatureLineFault::Base64)),
        ),
        (
            "trailing space",
            format!("{body}\n\u{2014} k {} \n", BASE64.encode([1; 68])),
            Box::new(signature_line_fault(SignatureLineFault::Base64)),
        ),
        (
            "signature too short",
            format!("{body}\n\u{2014} k {}\n", BASE64.encode([1; 4])),
            Box::new(signature_line_fault(SignatureLineFault::TooShort)),
        ),
        (
            "duplicate signature",
            format!("{good}{sig_line}"),
            Box::new(|e| matches!(e, CheckpointError::DuplicateSignature { .. })),
        ),
        (
            "too many signatures",
            format!(
                "{good}{}",
                (0..MAX_SIGNATURES)
                    .map(|i| format!("\u{2014} w{i} {}\n", BASE64.encode([1; 68])))
                    .collect::<String>()
            ),
            Box::new(|e| matches!(e, CheckpointError::TooManySignatures { .. })),
        ),
        (
            "too large",
            format!("{good}{}", "x".repeat(MAX_NOTE_LEN)),
            Box::new(|e| matches!(e, CheckpointError::TooLarge { .. })),
        ),
        (
            "long line",
            with_body(&format!("{}\n1234\n{root_b64}\n", "o".repeat(10_000))),
            Box::new(|e| matches!(e, CheckpointError::LineTooLong { line: 1, .. })),
        ),
    ];
    for (desc, note, check) in cases {
        match parse(&note) {
            Ok(_) => panic!("{desc}: accepted"),
            Err(e) => assert!(check(&e), "{desc}: unexpected error {e:?}"),
        }
    }
    assert_eq!(
        SignedCheckpoint::parse(b"cfr\n1\n\xff\n\n"),
        Err(CheckpointError::NotUtf8 { offset: 6 })
    );
}

#[test]
fn tampering_is_caught_by_verification() {
    let good = note();
    let key = recorder().verifying_key();
    let bigger = good.replacen("\n1234\n", "\n1235\n", 1);
    assert_eq!(
        parse(&bigger).expect("well-formed").verify(ORIGIN, &key),
        Err(CheckpointError::InvalidSignature {
            key_name: ORIGIN.into(),
            key_id: key_id(ORIGIN, &key)
        })
    );
    // A line with the right name and key ID but not 64 bytes of signature.
    let mut blob = key_id(ORIGIN, &key).to_be_bytes().to_vec();
    blob.extend([0u8; 65]);
    let odd = format!(
        "{}\n\u{2014} {ORIGIN} {}\n",
        checkpoint().body(),
        BASE64.encode(blob)
    );
    assert!(matches!(
        parse(&odd).expect("well-formed").verify(ORIGIN, &key),
        Err(CheckpointError::InvalidSignature { .. })
    ));
}

#[test]
fn signing_refuses_what_could_not_be_parsed_back() {
    let key = recorder();
    for name in ["", "a b", "a+b", "a\nb", "tab\t", "nb\u{a0}sp"] {
        assert!(
            matches!(
                checkpoint().sign(&key, name),
                Err(CheckpointError::InvalidKeyName { .. })
            ),
            "{name:?}"
        );
    }
    for origin in ["", "two\nlines", "nul\0"] {
        let cp = Checkpoint {
            origin: origin.into(),
            ..checkpoint()
        };
        assert_eq!(
            cp.sign(&key, ORIGIN),
            Err(CheckpointError::InvalidOrigin),
            "{origin:?}"
        );
    }
    // Origins with spaces (like the Go checksum database's) are fine.
    let spaced = Checkpoint {
        origin: "a log with spaces".into(),
        ..checkpoint()
    };
    let note = spaced.sign(&key, ORIGIN).expect("signs").to_note();
    assert_eq!(parse(&note).expect("parses").checkpoint(), &spaced);
    // The signature count is bounded on signing, too.
    let mut signed = signed();
    for i in 1..MAX_SIGNATURES {
        signed.sign(&key, &format!("w{i}")).expect("cosign");
    }
    assert!(matches!(
        signed.sign(&key, "one-too-many"),
        Err(CheckpointError::TooManySignatures { .. })
    ));
    assert!(parse(&signed.to_note()).is_ok());
}

fn interesting_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("\u{2014} ".to_owned()),
            Just(" ".to_owned()),
            Just("=".to_owned()),
            Just("+".to_owned()),
            Just("0".to_owned()),
            "[0-9]{1,21}",
            "[A-Za-z0-9+/]{0,90}={0,2}",
            "\\PC{0,8}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = SignedCheckpoint::parse(&bytes);
    }

    #[test]
    fn parser_never_panics_on_note_like_text(text in interesting_text()) {
        if let Ok(parsed) = parse(&text) {
            // Whatever parses is canonical: it prints back byte for byte.
            prop_assert_eq!(parsed.to_note(), text);
        }
    }

    #[test]
    fn mutated_notes_never_verify(position in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
        let good = note();
        let mut bytes = good.clone().into_bytes();
        let i = position % bytes.len();
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] = byte;
        }
        prop_assume!(bytes != good.as_bytes());
        let verified = SignedCheckpoint::parse(&bytes)
            .and_then(|p| p.verify(ORIGIN, &recorder().verifying_key()).cloned());
        prop_assert!(verified.is_err());
    }
}
