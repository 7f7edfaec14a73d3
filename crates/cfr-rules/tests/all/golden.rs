//! Every `samples/scenarios/*`: the engine's verdict equals
//! `expected-verdict.json` in every field, explanations excepted where the
//! file says `"*"`.

use cfr_contract::Contract;
use cfr_rules::{analyze, Verdict};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/scenarios");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("expected-verdict.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Replaces, in `actual`, every string that `expected` has as `"*"`.
fn mask(expected: &Json, actual: &mut Json) {
    match (expected, actual) {
        (Json::String(s), a) if s == "*" => *a = Json::String("*".into()),
        (Json::Object(e), Json::Object(a)) => {
            for (k, ev) in e {
                if let Some(av) = a.get_mut(k) {
                    mask(ev, av);
                }
            }
        }
        (Json::Array(e), Json::Array(a)) => {
            for (ev, av) in e.iter().zip(a.iter_mut()) {
                mask(ev, av);
            }
        }
        _ => {}
    }
}

pub fn run(dir: &Path) -> (Verdict, Json, Json) {
    let contract =
        Contract::from_toml(&std::fs::read_to_string(dir.join("contract.toml")).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let events = crate::jsonl::load(
        &contract,
        &std::fs::read_to_string(dir.join("events.jsonl")).unwrap(),
    );
    let verdict = analyze(&contract, events).unwrap();
    let expected: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected-verdict.json")).unwrap())
            .unwrap();
    let mut actual: Json = serde_json::from_str(&verdict.to_json()).unwrap();
    mask(&expected, &mut actual);
    (verdict, expected, actual)
}

#[test]
fn every_scenario_gives_its_expected_verdict() {
    let dirs = scenarios();
    assert!(!dirs.is_empty(), "no scenarios found");
    let mut failures = Vec::new();
    for dir in &dirs {
        let (verdict, expected, actual) = run(dir);
        if std::env::var_os("CFR_PRINT_VERDICTS").is_some() {
            println!("{}\n{}", dir.display(), verdict.to_json());
        }
        if expected != actual {
            failures.push(format!(
                "{}:\nexpected {}\nactual   {}\nfull verdict:\n{}",
                dir.display(),
                serde_json::to_string_pretty(&expected).unwrap(),
                serde_json::to_string_pretty(&actual).unwrap(),
                verdict.to_json()
            ));
        }
        // The CBOR form reads back to the same verdict and the same bytes.
        let bytes = verdict.to_cbor();
        let back = Verdict::from_cbor(&bytes).unwrap();
        assert_eq!(back, verdict);
        assert_eq!(back.to_cbor(), bytes);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
