//! RFC 3161 replies as `manifest.tsr` holds them: arbitrary bytes are
//! parsed and verified against a fixed manifest and pinned CA (the
//! known-answer data of `cfr-timestamp`). Nothing panics; whatever
//! verifies must be over that manifest, by a certificate the pin vouches for.
#![no_main]

use cfr_timestamp::{Token, TsaCertificate};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const MANIFEST: &[u8] = include_bytes!("../../crates/cfr-timestamp/tests/data/manifest.cbor");

fn pins() -> &'static [TsaCertificate; 2] {
    static PINS: OnceLock<[TsaCertificate; 2]> = OnceLock::new();
    PINS.get_or_init(|| {
        let pin = |b: &[u8]| TsaCertificate::from_bytes(b).expect("the test CA parses");
        [
            pin(include_bytes!("../../crates/cfr-timestamp/tests/data/ca.pem")),
            pin(include_bytes!("../../crates/cfr-timestamp/tests/data/rsa.pem")),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = Token::from_token(data);
    let _ = TsaCertificate::from_bytes(data);
    let Ok(token) = Token::from_reply(data) else {
        return;
    };
    let unpinned = token.verify_unpinned(MANIFEST);
    for pin in pins() {
        if let Ok(v) = token.verify(MANIFEST, pin) {
            // A token verified with a pin verifies without it too (unless
            // it carries no certificate, the pin being the signer's), and
            // says the same time.
            match &unpinned {
                Ok(u) => assert_eq!(u.time, v.time),
                Err(e) => assert_eq!(e.code(), "timestamp-untrusted", "{e}"),
            }
            assert_eq!(token.imprint(), sha256(MANIFEST).as_slice());
        }
    }
    for e in [token.verify(b"another manifest", &pins()[0]).err()].into_iter().flatten() {
        assert!(!e.to_string().is_empty());
    }
});

fn sha256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(b).to_vec()
}
