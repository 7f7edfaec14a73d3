//! Every contract under `samples/` parses and round-trips through CBOR.

use cfr_contract::Contract;
use std::path::Path;

fn contracts(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            contracts(&p, out);
        } else if p.file_name().is_some_and(|n| n == "contract.toml") {
            out.push(p);
        }
    }
}

#[test]
fn sample_contracts_parse_and_roundtrip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let mut found = Vec::new();
    contracts(&root, &mut found);
    if root.is_dir() {
        assert!(!found.is_empty(), "no contract.toml under samples/");
    }
    for path in &found {
        let text = std::fs::read_to_string(path).expect("readable sample");
        let c = Contract::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bytes = c.to_cbor();
        assert_eq!(
            Contract::from_cbor(&bytes).expect("compiled form reads back"),
            c
        );
        assert_eq!(Contract::from_cbor(&bytes).expect("again").to_cbor(), bytes);
    }
}
