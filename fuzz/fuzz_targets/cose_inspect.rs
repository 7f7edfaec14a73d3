//! COSE_Sign1 signature files (manifest, contract, analyzer certificate).
#![no_main]

use cfr_bundle_format::cose;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn key() -> &'static cfr_model::keys::VerifyingKey {
    static KEY: OnceLock<cfr_model::keys::VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| cfr_model::keys::SigningKey::from_bytes(&[7; 32]).verifying_key())
}

fuzz_target!(|data: &[u8]| {
    let inspected = cose::inspect(data);
    // Verification parses the same structure and must agree on what is malformed;
    // it may additionally fail on the signature itself.
    let verified = cose::verify_detached(data, b"payload", key());
    if inspected.is_err() {
        assert!(verified.is_err(), "verify accepted what inspect rejects");
    }
});
