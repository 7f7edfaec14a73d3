//! Contracts, as TOML text and as the compiled canonical CBOR form.
#![no_main]

use cfr_contract::Contract;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(contract) = Contract::from_toml(&text) {
        let compiled = contract.to_cbor();
        let back = Contract::from_cbor(&compiled)
            .unwrap_or_else(|e| panic!("to_cbor output does not read back: {e}"));
        assert_eq!(back, contract, "from_cbor(to_cbor(c)) != c");
        // Exercise what the tools print about an accepted contract.
        let _ = contract.events_cddl();
        let _ = cfr_contract::summary(&contract);
    }
    if let Ok(contract) = Contract::from_cbor(data) {
        assert_eq!(contract.to_cbor(), data, "from_cbor accepted a non-canonical form");
        let _ = contract.events_cddl();
        let _ = cfr_contract::summary(&contract);
    }
});
