//! JSON Lines import against a fixed contract; every accepted event writes
//! back (event_to_jsonl) to a line that imports to the same event.
#![no_main]

use cfr_bundle_format::import::{event_to_jsonl, Importer};
use cfr_contract::Contract;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CONTRACT: &str = include_str!("../../samples/storage-month/contract.toml");

fn contract() -> &'static Contract {
    static C: OnceLock<Contract> = OnceLock::new();
    C.get_or_init(|| Contract::from_toml(CONTRACT).expect("the sample contract parses"))
}

fuzz_target!(|data: &[u8]| {
    let contract = contract();
    let text = String::from_utf8_lossy(data);
    let mut importer = Importer::new(contract);
    let mut accepted = 0u64;
    for line in text.split('\n') {
        let event = match importer.line(line) {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => continue,
        };
        assert_eq!(event.seq, accepted, "seq is not the event's position");
        accepted += 1;
        assert_eq!(importer.events(), accepted);
        // Round trip through the export format, in a fresh importer (seq 0).
        let mut first = event.clone();
        first.seq = 0;
        let mut out = String::new();
        event_to_jsonl(contract, &first, &mut out);
        assert!(out.ends_with('\n') && out.matches('\n').count() == 1, "export is not one line: {out:?}");
        let back = Importer::new(contract)
            .line(out.trim_end_matches('\n'))
            .unwrap_or_else(|e| panic!("exported line {out:?} does not import: {e}"));
        assert_eq!(back.as_ref(), Some(&first), "exported line {out:?} imports to another event");
        // The canonical CBOR of an accepted event decodes back to it.
        let bytes = event.encode();
        assert_eq!(cfr_model::Event::from_cbor(&bytes).as_ref(), Ok(&event));
    }
});
