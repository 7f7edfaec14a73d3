//! `samples/contracts/*`: the published SLAs of real services, each with a
//! scenario whose credits were worked out by hand in its README. The
//! engine's verdict equals `expected.json` in every field (explanations
//! excepted, written `"*"`), and its CBOR form matches `verdict.cddl`.

use cfr_contract::Contract;
use cfr_rules::analyze;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

pub fn samples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/contracts");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("expected.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

#[test]
fn every_published_sla_sample_gives_its_hand_worked_verdict() {
    let dirs = samples();
    assert!(dirs.len() >= 3, "at least three published SLAs");
    for dir in dirs {
        let contract =
            Contract::from_toml(&std::fs::read_to_string(dir.join("contract.toml")).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // A contract's compiled form reads back to itself.
        assert_eq!(Contract::from_cbor(&contract.to_cbor()).unwrap(), contract);
        let events = crate::jsonl::load(
            &contract,
            &std::fs::read_to_string(dir.join("events.jsonl")).unwrap(),
        );
        let verdict = analyze(&contract, events).unwrap();
        let mut actual: Json = serde_json::from_str(&verdict.to_json()).unwrap();
        for i in actual["incidents"].as_array_mut().unwrap() {
            i["explanation"] = Json::String("*".into());
        }
        let expected: Json =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        assert_eq!(
            expected,
            actual,
            "{}:\n{}",
            dir.display(),
            verdict.to_json()
        );
        let bytes = verdict.to_cbor();
        if let Err(e) = cddl::validate_cbor_from_slice(crate::golden::VERDICT_CDDL, &bytes, None) {
            panic!(
                "{}: verdict does not match verdict.cddl: {e}",
                dir.display()
            );
        }
        assert_eq!(cfr_rules::Verdict::from_cbor(&bytes).unwrap(), verdict);
    }
}
