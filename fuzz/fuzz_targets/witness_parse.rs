//! The witness's untrusted inputs: `add-checkpoint` request bodies, a
//! witness's answer (cosignature lines), and cosignature verification on
//! any note. Parsing is strict, so whatever parses must re-encode to the
//! very bytes given.
#![no_main]

use cfr_merkle::ed25519_dalek::SigningKey;
use cfr_merkle::{parse_signature_lines, SignedCheckpoint};
use cfr_witness::AddCheckpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = AddCheckpoint::parse(data) {
        assert!(r.proof.len() <= cfr_witness::MAX_PROOF_LINES);
        let again = AddCheckpoint::body(r.old_size, &r.proof, &r.checkpoint.to_note());
        assert_eq!(again, data, "a request accepted in a non-canonical form");
        // Cosignature checks on the parsed note never panic.
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        for s in r.checkpoint.signatures() {
            let _ = s.cosignature_time();
            let _ = r.checkpoint.verify_cosignature(s.key_name(), &key);
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(lines) = parse_signature_lines(text) {
            let again: String = lines.iter().map(|l| l.line()).collect();
            assert_eq!(again, text, "an answer accepted in a non-canonical form");
        }
    }
    if let Ok(note) = SignedCheckpoint::parse(data) {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        for s in note.signatures() {
            let _ = note.verify_cosignature(s.key_name(), &key);
        }
        let mut cosigned = note.clone();
        if cosigned.cosign(&SigningKey::from_bytes(&[3; 32]), "fuzz-witness", 1).is_ok() {
            assert!(cosigned.verify_cosignature("fuzz-witness", &key).is_ok());
        }
    }
});
