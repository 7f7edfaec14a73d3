//! Writes the small seed corpora under `fuzz/seeds/<target>/` from the
//! repository's samples and a tiny bundle sealed with the library API.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds
//! ```
//!
//! The sealed bundle uses fixed throwaway keys ([7; 32] recorder, [8; 32]
//! provider, [9; 32] user) substituted into the storage-month contract, so
//! the output is deterministic for a given version of the library.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cfr_bundle_format::bundle::Bundle;
use cfr_bundle_format::import::Importer;
use cfr_bundle_format::layout;
use cfr_bundle_format::seal::{self, SealOptions};
use cfr_contract::Contract;
use cfr_model::keys::SigningKey;
use std::fs;
use std::path::{Path, PathBuf};

fn put(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(name), bytes).unwrap();
}

fn pubkey(k: &SigningKey) -> String {
    format!("ed25519:{}", STANDARD.encode(k.verifying_key().as_bytes()))
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let sample = root.join("samples/storage-month");

    // The storage-month contract with throwaway recorder, provider and user keys.
    let recorder = SigningKey::from_bytes(&[7; 32]);
    let provider = SigningKey::from_bytes(&[8; 32]);
    let user = SigningKey::from_bytes(&[9; 32]);
    let original = fs::read_to_string(sample.join("contract.toml")).unwrap();
    let original_contract = Contract::from_toml(&original).unwrap();
    let toml = original
        .replace(&original_contract.parties.recorder.key.to_string(), &pubkey(&recorder))
        .replace(&original_contract.parties.provider.key.to_string(), &pubkey(&provider))
        .replace(&original_contract.parties.user.key.to_string(), &pubkey(&user));
    let contract = Contract::from_toml(&toml).unwrap();
    assert_eq!(contract.parties.recorder.key.0, recorder.verifying_key());

    // JSON Lines: the first events, both maintenance windows' first, the
    // signed grid outage, a grant, a disclosure and a removal, in file order.
    let events_text = fs::read_to_string(sample.join("events.jsonl")).unwrap();
    let all: Vec<&str> = events_text.lines().collect();
    let mut picked: Vec<usize> = (0..8).collect();
    for kind in ["maintenance", "outage", "grant", "disclosed", "removed"] {
        let needle = format!("\"kind\":\"{kind}\"");
        picked.push(all.iter().position(|l| l.contains(&needle)).unwrap());
    }
    picked.sort();
    picked.dedup();
    let lines: Vec<&str> = picked.iter().map(|&i| all[i]).collect();
    put(&seeds, "jsonl_import", "sample-lines.jsonl", (lines.join("\n") + "\n").as_bytes());
    put(&seeds, "jsonl_import", "first-lines.jsonl", (all[..4].join("\n") + "\n").as_bytes());
    let outage = all.iter().find(|l| l.contains("\"kind\":\"outage\"")).unwrap();
    put(&seeds, "jsonl_import", "signed-outage.jsonl", outage.as_bytes());

    // Events, as CBOR: single events and a short sequence.
    let mut importer = Importer::new(&contract);
    let mut events = Vec::new();
    for l in &lines {
        if let Some(e) = importer.line(l).unwrap() {
            events.push(e);
        }
    }
    let mut seq = Vec::new();
    for (i, e) in events.iter().enumerate() {
        e.encode_into(&mut seq);
        if i < 3 || e.sig.is_some() || e.kind == "maintenance" {
            put(&seeds, "cbor_decode", &format!("event-{i}.cbor"), &e.encode());
        }
    }
    put(&seeds, "cbor_decode", "events.cborseq", &seq);

    // Contracts: the sample one and two scenarios' compiled forms (run.sh
    // copies the scenario TOML files from samples/ into the corpus itself).
    put(&seeds, "contract_parse", "storage-month.toml", toml.as_bytes());
    put(&seeds, "contract_parse", "storage-month.cbor", &contract.to_cbor());
    put(&seeds, "cbor_decode", "contract.cbor", &contract.to_cbor());
    let mut scenarios: Vec<PathBuf> = fs::read_dir(root.join("samples/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("contract.toml").is_file())
        .collect();
    scenarios.sort();
    for (i, dir) in scenarios.iter().enumerate() {
        let text = fs::read_to_string(dir.join("contract.toml")).unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if i < 2 {
            let c = Contract::from_toml(&text).unwrap();
            put(&seeds, "contract_parse", &format!("{name}.cbor"), &c.to_cbor());
        }
    }

    // A small sealed bundle, with the provider's contract signature.
    let contract_sig = seal::sign_contract(&contract, &provider, "provider").unwrap();
    put(&seeds, "cose_inspect", "contract-provider.sig", &contract_sig);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("evidence.cfr");
    let opts = SealOptions {
        contract_toml: toml.clone(),
        contract_sigs: vec![contract_sig],
        recorder_key: &recorder,
        analyzer: None,
        analyzer_cert: None,
        chunk_bytes: 512,
        native_verdict: true,
        submissions: Vec::new(),
checkpoint: None,
        timestamp: None,
    };
    let summary = seal::seal(&opts, events.clone().into_iter().map(Ok), &out, &mut |_| {}).unwrap();
    assert!(summary.chunks >= 2, "want several chunks in the seed bundle");
    let bundle_bytes = fs::read(&out).unwrap();
    put(&seeds, "bundle_open", "evidence.cfr", &bundle_bytes);

    // Its members feed the other targets.
    let bundle = Bundle::open(&out).unwrap();
    assert_eq!(bundle.events().filter(|r| r.is_ok()).count(), events.len());
    put(&seeds, "bundle_open", "manifest.cbor", &bundle.manifest_bytes);
    put(&seeds, "cbor_decode", "manifest.cbor", &bundle.manifest_bytes);
    let sig = bundle.read_small(layout::MANIFEST_SIG).unwrap().unwrap();
    put(&seeds, "cose_inspect", "manifest.sig", &sig);
    if let Some(v) = bundle.read_small(layout::VERDICT).unwrap() {
        put(&seeds, "cbor_decode", "verdict.cbor", &v);
        put(&seeds, "verdict_parse", "verdict.cbor", &v);
    }
    let note = bundle.read_small(layout::CHECKPOINT).unwrap().unwrap();
    put(&seeds, "checkpoint_parse", "checkpoint", &note);
    let mut cosigned = cfr_merkle::SignedCheckpoint::parse(&note).unwrap();
    cosigned.sign(&provider, "provider").unwrap();
    cosigned.sign(&user, "user").unwrap();
    put(&seeds, "checkpoint_parse", "checkpoint-cosigned", cosigned.to_note().as_bytes());
    let first_chunk = &bundle.manifest.log.chunks[0];
    let chunk = bundle.chunk(first_chunk).unwrap();
    put(&seeds, "cbor_decode", "chunk-0.cborseq", &chunk.raw);

    eprintln!(
        "sealed {} events in {} chunks, {} bytes; seeds in {}",
        summary.events,
        summary.chunks,
        summary.bytes,
        seeds.display()
    );
}
