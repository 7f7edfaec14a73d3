//! Every `samples/scenarios/*`: the engine's verdict equals
//! `expected-verdict.json` in every field, explanations excepted where the
//! file says `"*"`.

use cfr_contract::Contract;
use cfr_rules::{analyze, Verdict};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

pub const VERDICT_CDDL: &str = include_str!("../../../../schemas/verdict.cddl");

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
        // The CBOR form reads back to the same verdict and the same bytes,
        // and matches verdict.cddl.
        let bytes = verdict.to_cbor();
        if let Err(e) = cddl::validate_cbor_from_slice(VERDICT_CDDL, &bytes, None) {
            panic!(
                "{}: verdict does not match verdict.cddl: {e}",
                dir.display()
            );
        }
        let back = Verdict::from_cbor(&bytes).unwrap();
        assert_eq!(back, verdict);
        assert_eq!(back.to_cbor(), bytes);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn verdict_cddl_rejects_what_the_format_forbids() {
    use cfr_model::cbor::{self, Cbor};
    let dir = scenarios().into_iter().next().expect("a scenario");
    let (verdict, _, _) = run(&dir);
    let good = verdict.to_cbor_tree();
    assert!(cddl::validate_cbor_from_slice(VERDICT_CDDL, &cbor::encode(&good), None).is_ok());
    let with = |key: &str, value: Cbor| {
        let mut tree = good.clone();
        if let Cbor::Map(top) = &mut tree {
            for (k, v) in top.iter_mut() {
                if k.as_text() == Some("incidents") {
                    if let Cbor::Array(items) = v {
                        if let Cbor::Map(fields) = &mut items[0] {
                            for (fk, fv) in fields.iter_mut() {
                                if fk.as_text() == Some(key) {
                                    *fv = value.clone();
                                }
                            }
                        }
                    }
                }
            }
        }
        cbor::encode(&tree)
    };
    for (key, bad) in [
        ("party", Cbor::text("nobody")),
        ("debtor", Cbor::text("external")),
        ("from", Cbor::text("2026-03-02 10:00:00")),
        ("evidence", Cbor::text("4, 5")),
        ("excuse", Cbor::Int(3)),
    ] {
        assert!(
            cddl::validate_cbor_from_slice(VERDICT_CDDL, &with(key, bad.clone()), None).is_err(),
            "{key} = {bad:?} accepted"
        );
    }
}
