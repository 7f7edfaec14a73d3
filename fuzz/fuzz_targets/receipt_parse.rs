//! Receipts as a verifier or a client reads them (`verify --receipts`,
//! the client after `POST /v1/submissions`): any bytes. Decoding never
//! panics; what decodes re-encodes to the same bytes (the codec is
//! canonical); verification under a key never panics, and a receipt that
//! verifies keeps verifying only while its events and proof are intact.
#![no_main]

use cfr_bundle_format::receipt::Receipt;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The sample's recorder key: the seeds are receipts it signed.
fn key() -> &'static cfr_merkle::ed25519_dalek::VerifyingKey {
    static K: OnceLock<cfr_merkle::ed25519_dalek::VerifyingKey> = OnceLock::new();
    K.get_or_init(|| {
        cfr_contract::Contract::from_toml(include_str!("../../samples/storage-month/contract.toml"))
            .expect("sample contract")
            .parties
            .recorder
            .key
            .0
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(r) = Receipt::decode(data) else {
        return;
    };
    assert_eq!(r.encode(), data, "decode then encode is the identity");
    let key = key();
    if r.verify(key).is_ok() {
        let mut bad = r.clone();
        bad.events[0].leaf[0] ^= 1;
        assert!(bad.verify(key).is_err(), "a changed leaf still verifies");
    }
    let _ = r.matches(&[]);
});
