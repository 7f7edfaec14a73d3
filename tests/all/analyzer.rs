//! The WASM analyzer against the native engine, the sealed verdict's
//! replay, certification, and the scenarios through the command line.

use crate::util::*;
use cfr_bundle_format::import::Importer;
use cfr_bundle_format::layout;
use cfr_contract::Contract;
use cfr_model::Event;
use std::path::PathBuf;
use std::sync::OnceLock;

fn shipped() -> &'static cfr_replay::Analyzer {
    static A: OnceLock<cfr_replay::Analyzer> = OnceLock::new();
    A.get_or_init(|| {
        let m = std::fs::read(root().join("crates/cfr-analyzer/analyzer.wasm"))
            .expect("committed analyzer");
        cfr_replay::Analyzer::compile(&m).expect("compiles")
    })
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("samples/scenarios"))
        .expect("scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("contract.toml").exists())
        .collect();
    v.sort();
    assert!(v.len() >= 10, "scenario samples present");
    v
}

fn load(dir: &std::path::Path) -> (Contract, Vec<Event>) {
    let c = Contract::from_toml(&std::fs::read_to_string(dir.join("contract.toml")).expect("read"))
        .expect("scenario contract checks");
    let text = std::fs::read_to_string(dir.join("events.jsonl")).expect("read");
    let mut imp = Importer::new(&c);
    let events = text
        .lines()
        .filter_map(|l| imp.line(l).expect("scenario line imports"))
        .collect();
    (c, events)
}

fn wasm_verdict(c: &Contract, events: &[Event], chunk: usize) -> Vec<u8> {
    let mut run = shipped()
        .start(&c.to_cbor(), &cfr_replay::Limits::default())
        .expect("starts");
    for part in events.chunks(chunk.max(1)) {
        let mut raw = Vec::new();
        for e in part {
            e.encode_into(&mut raw);
        }
        run.feed(&raw, part.len() as u64).expect("feeds");
    }
    run.finish().expect("finishes")
}

#[test]
fn wasm_and_native_verdicts_are_byte_identical_on_every_scenario_and_chunking() {
    for dir in scenarios() {
        let (c, events) = load(&dir);
        let native = cfr_rules::analyze(&c, events.clone())
            .expect("scenario log is ordered")
            .to_cbor();
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(
                wasm_verdict(&c, &events, chunk),
                native,
                "{}: chunks of {chunk}",
                dir.display()
            );
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]
    /// Random sub-logs of the scenarios (a random subset of events,
    /// re-numbered, times kept in order) and random chunk boundaries.
    #[test]
    fn wasm_equals_native_on_random_logs(pick in proptest::collection::vec(proptest::bool::ANY, 64), which in 0usize..11, chunk in 1usize..9) {
        let dirs = scenarios();
        let (c, events) = load(&dirs[which % dirs.len()]);
        let mut sub: Vec<Event> = events.into_iter().enumerate().filter(|(i, _)| pick[i % pick.len()]).map(|(_, e)| e).collect();
        for (i, e) in sub.iter_mut().enumerate() {
            e.seq = i as u64;
        }
        let native = cfr_rules::analyze(&c, sub.clone()).expect("ordered").to_cbor();
        proptest::prop_assert_eq!(wasm_verdict(&c, &sub, chunk), native);
    }
}

/// The CLI's `analyze --json` gives each scenario's hand-reasoned verdict
/// (every field but the explanation's wording).
#[test]
fn analyze_json_matches_every_expected_verdict() {
    fn strip(v: &mut serde_json::Value) {
        if let Some(incidents) = v["incidents"].as_array_mut() {
            for i in incidents {
                let e = i["explanation"].as_str().unwrap_or("");
                assert!(!e.is_empty(), "explanations are never empty");
                i["explanation"] = serde_json::Value::String("*".into());
            }
        }
    }
    for dir in scenarios() {
        let (code, out, err) = run(cfr()
            .arg("analyze")
            .arg("--contract")
            .arg(dir.join("contract.toml"))
            .arg(dir.join("events.jsonl"))
            .arg("--json"));
        assert_eq!(code, 0, "{}: {err}", dir.display());
        let mut got: serde_json::Value = serde_json::from_str(&out).expect("json");
        strip(&mut got);
        let want: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected-verdict.json")).expect("read"),
        )
        .expect("json");
        assert_eq!(got, want, "{}", dir.display());
        // And the readable table names the parties.
        let (code, text, _) = run(cfr()
            .arg("analyze")
            .arg("--contract")
            .arg(dir.join("contract.toml"))
            .arg(dir.join("events.jsonl")));
        assert_eq!(code, 0);
        assert!(text.contains("Who is at fault, per rule"), "{text}");
    }
}

fn seal_with_analyzer(dir: &std::path::Path, extra: &[&str]) -> PathBuf {
    let events = dir.join("events.jsonl");
    std::fs::write(&events, sample_events(400)).expect("write");
    let out = dir.join("evidence.cfr");
    let (code, o, e) = seal_sample_into(&out, &events, extra);
    assert_eq!(code, 0, "{o}{e}");
    out
}

#[test]
fn the_bundled_analyzer_is_replayed_and_an_altered_resigned_verdict_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = seal_with_analyzer(dir.path(), &[]);
    let (code, out, _) = run(cfr().arg("verify").arg(&b).arg("--json"));
    assert_eq!(code, 0, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(j["checks"][6]["status"], "pass", "{}", j["checks"][6]);
    assert_eq!(j["checks"][7]["status"], "pass", "{}", j["checks"][7]);
    assert!(j["checks"][7]["notes"][0]
        .as_str()
        .expect("note")
        .contains("bundled analyzer"));
    assert!(j["checks"][6]["notes"]
        .to_string()
        .contains("this release of cfr ships"));
    assert!(j["verdict"]["incidents"].is_array());

    // --native and --analyzer cross-checks agree.
    let (code, out, _) = run(cfr().arg("verify").arg(&b).arg("--native"));
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--analyzer")
        .arg(root().join("crates/cfr-analyzer/analyzer.wasm")));
    assert_eq!(code, 0, "{out}");

    // Alter the verdict (drop its last incident), re-sign everything with
    // the recorder key: only the replay can tell.
    let bytes = std::fs::read(&b).expect("read");
    let mut ms = members(&bytes);
    for (n, d) in ms.iter_mut() {
        if n == layout::VERDICT {
            let mut v = cfr_rules::Verdict::from_cbor(d).expect("verdict");
            let gone = v.incidents.pop().expect("the sample has incidents");
            match gone.party {
                cfr_rules::Party::Provider => v.totals.provider -= 1,
                cfr_rules::Party::User => v.totals.user -= 1,
                cfr_rules::Party::External => v.totals.external -= 1,
                cfr_rules::Party::None => v.totals.none -= 1,
                cfr_rules::Party::Inconclusive => v.totals.inconclusive -= 1,
            }
            *d = v.to_cbor();
        }
    }
    let manifest = ms
        .iter()
        .find(|(n, _)| n == layout::MANIFEST)
        .expect("m")
        .1
        .clone();
    let m = cfr_bundle_format::manifest::Manifest::from_cbor(&manifest).expect("decodes");
    let forged = resign(&mut ms, m, &recorder_key());
    let p = dir.path().join("forged.cfr");
    std::fs::write(&p, forged).expect("write");
    let (code, out, _) = run(cfr().arg("verify").arg(&p).arg("--json"));
    assert_eq!(code, 1, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        j["checks"][1]["status"], "pass",
        "the forger's signature is valid"
    );
    assert_eq!(j["checks"][7]["status"], "fail");
    assert_eq!(j["checks"][7]["failures"][0]["code"], "verdict-mismatch");
}

#[test]
fn analyzer_certificates_by_a_pinned_regulator_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = dir.path().join("regulator");
    assert_eq!(run(cfr().arg("keygen").arg(&reg)).0, 0);
    let other = dir.path().join("other");
    assert_eq!(run(cfr().arg("keygen").arg(&other)).0, 0);
    let cert = dir.path().join("certificate.sig");
    let (code, out, err) = run(cfr()
        .args(["analyzer", "certify"])
        .arg(root().join("crates/cfr-analyzer/analyzer.wasm"))
        .arg("--key")
        .arg(dir.path().join("regulator.key"))
        .arg("-o")
        .arg(&cert));
    assert_eq!(code, 0, "{out}{err}");
    let b = seal_with_analyzer(
        dir.path(),
        &["--analyzer-cert", cert.to_str().expect("utf8")],
    );
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--json")
        .arg("--regulator-key")
        .arg(dir.path().join("regulator.pub")));
    assert_eq!(code, 0, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        j["checks"][6]["notes"]
            .to_string()
            .contains("certified by the pinned regulator key"),
        "{}",
        j["checks"][6]
    );
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--json")
        .arg("--regulator-key")
        .arg(dir.path().join("other.pub")));
    assert_eq!(code, 1, "{out}");
    // A certificate by another key than the pinned regulator's is a pin
    // mismatch, named as such.
    assert!(out.contains("key-pin-mismatch"), "{out}");
    assert!(out.contains("pinned regulator key"), "{out}");
}

#[test]
fn a_hostile_bundled_analyzer_fails_verification_quickly_and_by_name() {
    // A module that loops forever in cfr_feed, sealed with the forger's
    // recorder key: verify must end with a named failure.
    let looping = wat::parse_str(
        r#"(module
          (memory (export "memory") 2)
          (func (export "cfr_abi_version") (result i32) i32.const 1)
          (func (export "cfr_alloc") (param i32) (result i32) i32.const 1024)
          (func (export "cfr_begin") (param i32 i32) (result i32) i32.const 0)
          (func (export "cfr_feed") (param i32 i32) (result i32) (loop br 0) i32.const 0)
          (func (export "cfr_finish") (result i32) i32.const 0)
          (func (export "cfr_output_ptr") (result i32) i32.const 0)
          (func (export "cfr_output_len") (result i32) i32.const 0))"#,
    )
    .expect("wat");
    let dir = tempfile::tempdir().expect("tempdir");
    let b = seal_with_analyzer(dir.path(), &["--no-analyzer"]);
    let p = dir.path().join("loop.wasm");
    std::fs::write(&p, &looping).expect("write");
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--json")
        .arg("--analyzer")
        .arg(&p));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("analyzer-out-of-fuel"), "{out}");
}

/// A generated month of `n` events with a quota flood of `flood`
/// never-answered requests, against the generator's contract.
fn flood_log(n: u64, flood: u64) -> (Contract, Vec<Event>) {
    let keys = cfr_workload::Keys::from_seed(7);
    let c = Contract::from_toml(&cfr_workload::contract_toml(&keys)).expect("contract");
    let mut jsonl = Vec::new();
    cfr_workload::Workload::march_2026(n, 7)
        .with_flood(flood)
        .write_jsonl(&keys, &mut jsonl)
        .expect("generate");
    let mut imp = Importer::new(&c);
    let events = String::from_utf8(jsonl)
        .expect("utf-8")
        .lines()
        .filter_map(|l| imp.line(l).expect("generated line imports"))
        .collect();
    (c, events)
}

/// Bytes per event that a verdict of the generator's contract never
/// exceeds, whatever the flood (stated in the note and in VERDICT.md).
const VERDICT_BYTES_PER_EVENT_BOUND: usize = 1024;

#[test]
fn a_quota_flood_gives_a_verdict_linear_in_the_log() {
    let n = 20_000;
    let size = |flood| {
        let (c, events) = flood_log(n, flood);
        let v = cfr_rules::analyze(&c, events).expect("ordered");
        let excused = v
            .incidents
            .iter()
            .filter(|i| i.excused_by.is_some())
            .count();
        (v.to_cbor().len(), excused)
    };
    let (base, _) = size(0);
    let (small, excused_small) = size(2_000);
    let (large, excused_large) = size(8_000);
    // The flood's missing answers are excused by reference.
    assert!(excused_small >= 2_000, "{excused_small}");
    assert!(excused_large >= 8_000, "{excused_large}");
    for s in [base, small, large] {
        assert!(
            s <= VERDICT_BYTES_PER_EVENT_BOUND * n as usize,
            "a verdict of {s} bytes for {n} events"
        );
    }
    // Four times the flood adds about four times the bytes (copying the
    // excusing evidence made it sixteen).
    let ratio = (large - base) as f64 / (small - base) as f64;
    assert!((3.0..5.0).contains(&ratio), "growth ratio {ratio}");
}

#[test]
fn the_shipped_analyzer_replays_a_flood_that_once_ran_out_of_fuel() {
    // The reported case: 2,000 requests at once, then the log goes on.
    let (c, events) = flood_log(3_000, 2_000);
    let native = cfr_rules::analyze(&c, events.clone())
        .expect("ordered")
        .to_cbor();
    let limits = cfr_verify::sandbox::limits();
    let mut run = shipped().start(&c.to_cbor(), &limits).expect("starts");
    for part in events.chunks(1_000) {
        let mut raw = Vec::new();
        for e in part {
            e.encode_into(&mut raw);
        }
        run.feed(&raw, part.len() as u64).expect("feeds");
    }
    assert_eq!(run.finish().expect("finishes within its budget"), native);
}

#[test]
fn a_bundle_sealed_by_the_previous_analyzer_still_verifies_with_the_analyzer_it_carries() {
    // The analyzer of the release before `excused_by` (sha256 e557c779...):
    // it copied the excusing incident's evidence. A bundle it sealed keeps
    // verifying (check 8 replays the analyzer the bundle carries), and its
    // verdict, without `excused_by`, still decodes.
    let old = root().join("tests/fixtures/analyzer-e557c779.wasm");
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, sample_events(usize::MAX)).expect("write");
    let b = dir.path().join("old.cfr");
    let old_arg = old.to_str().expect("utf8");
    let (code, _, err) = seal_sample_into(&b, &events, &["--analyzer", old_arg]);
    assert_eq!(code, 0, "{err}");
    // The seal says that the sealed verdict is not this release's engine's;
    // with the shipped analyzer, it says nothing of the kind.
    let warning = "the analyzer's verdict differs from this release's native engine";
    assert!(err.contains(warning), "{err}");
    let (code, _, err) = seal_sample_into(&dir.path().join("new.cfr"), &events, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(warning), "{err}");
    let r = verify_path(&b);
    assert!(r.verified(), "{:?}", failure_codes(&r));
    let v = r.verdict().proven().expect("verdict");
    assert!(v.incidents.iter().all(|i| i.excused_by.is_none()));
    // The old form: an answer excused by the quota burst carries the
    // quota incident's evidence besides its own trigger and reply.
    let (n, old_form) = v
        .incidents
        .iter()
        .enumerate()
        .find(|(_, i)| i.excuse.as_deref() == Some("over-quota"))
        .expect("an over-quota excuse");
    assert!(old_form.evidence.len() > 2, "{:?}", old_form.evidence);
    // This release's engine over the same log gives the new form.
    let (c, evs) = load(&sample_dir());
    let native = cfr_rules::analyze(&c, evs).expect("ordered");
    let new_form = &native.incidents[n];
    assert_eq!(
        (new_form.from, &new_form.kind),
        (old_form.from, &old_form.kind)
    );
    assert!(new_form.evidence.len() <= 2, "{:?}", new_form.evidence);
    let by = new_form.excused_by.expect("excused_by");
    assert_eq!(native.incidents[by].rule, "quota");
}
