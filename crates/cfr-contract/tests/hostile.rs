//! Hostile input to the contract readers never panics.

use cfr_contract::Contract;
use proptest::prelude::*;

const FULL: &str = include_str!("full.toml");

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn toml_ish_text_never_panics(s in "[a-z\\[\\]{}=\"., \n0-9%'<>_-]{0,200}") {
        let _ = Contract::from_toml(&s);
        let _ = Contract::from_toml(&format!("format = \"cfr-contract/1\"\n{s}"));
    }

    #[test]
    fn edited_contracts_never_panic(pos in 0usize..4000, len in 0usize..40, insert in "[a-z\\[\\]{}=\"., \n0-9%'_-]{0,20}") {
        let mut text = FULL.to_owned();
        let start = pos % text.len();
        let end = (start + len).min(text.len());
        if text.is_char_boundary(start) && text.is_char_boundary(end) {
            text.replace_range(start..end, &insert);
        }
        if let Ok(c) = Contract::from_toml(&text) {
            let bytes = c.to_cbor();
            prop_assert_eq!(Contract::from_cbor(&bytes).ok(), Some(c));
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Contract::from_cbor(&bytes);
    }

    #[test]
    fn flipped_compiled_bytes_never_panic(pos in 0usize..10_000, bit in 0u8..8, cut in 0usize..10_000) {
        let c = Contract::from_toml(FULL).expect("full.toml");
        let mut bytes = c.to_cbor();
        let pos = pos % bytes.len();
        bytes[pos] ^= 1 << bit;
        if let Ok(d) = Contract::from_cbor(&bytes) {
            prop_assert_ne!(d, c.clone());
        }
        let cut = cut % bytes.len();
        let _ = Contract::from_cbor(&bytes[..cut]);
    }
}
