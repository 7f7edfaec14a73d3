//! Signed submissions as a verifier or a recorder reads them: the
//! COSE_Sign1 parser (any bytes), the bundle's submission entries (a CBOR
//! sequence), and submission lines in JSON Lines. None may panic; what
//! parses must re-encode to the same bytes; a parsed signature never
//! verifies over another digest.
#![no_main]

use cfr_bundle_format::submission;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn contract() -> &'static cfr_contract::Contract {
    static C: OnceLock<cfr_contract::Contract> = OnceLock::new();
    C.get_or_init(|| {
        cfr_contract::Contract::from_toml(include_str!("../../samples/storage-month/contract.toml"))
            .expect("sample contract")
    })
}

fuzz_target!(|data: &[u8]| {
    let key = contract().parties.user.key.0;
    if let Ok(s) = submission::parse(data) {
        let d = [0u8; 32];
        let mut other = d;
        other[0] = 1;
        assert!(!(s.verifies(&d, &key) && s.verifies(&other, &key)));
    }
    if let Ok(entries) = submission::decode_seq(data) {
        let mut again = Vec::new();
        for e in &entries {
            e.encode_into(&mut again);
        }
        assert_eq!(again, data, "entries re-encode to other bytes");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut imp = cfr_bundle_format::import::Importer::new(contract());
        for line in text.lines().take(64) {
            let _ = imp.line(line);
        }
        for e in imp.submissions() {
            assert!(submission::check_id(&e.id).is_ok());
            assert!(e.count >= 1 && e.count <= submission::MAX_EVENTS);
        }
    }
});
