//! The CBOR in real bundles validates against the CDDL in `schemas/`,
//! checked with the `cddl` crate (0.10), an independent implementation.
//!
//! What it cannot check: deterministic encoding (our strict decoder does),
//! `.size` on byte strings inside arrays of maps is checked, but the crate
//! does not enforce `.cbor` embedded-structure controls, so the COSE
//! protected header is decoded and validated separately.

use crate::util::*;
use cfr_bundle_format::layout;

fn validate(cddl: &str, cbor: &[u8], what: &str) {
    if let Err(e) = cddl::validate_cbor_from_slice(cddl, cbor, None) {
        panic!("{what} does not validate against its CDDL: {e}");
    }
}

fn schema(name: &str) -> String {
    std::fs::read_to_string(root().join("schemas").join(name)).expect("schema file")
}

#[test]
fn real_bundle_cbor_validates_against_the_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = seal_small(dir.path(), "s.cfr", &sample_events(300), 4096);
    let bytes = std::fs::read(&p).expect("read");
    let ms = members(&bytes);
    let get = |n: &str| ms.iter().find(|(m, _)| m == n).expect(n).1.clone();

    validate(
        &schema("manifest.cddl"),
        &get(layout::MANIFEST),
        "manifest.cbor",
    );
    validate(
        &schema("contract.cddl"),
        &get(layout::CONTRACT_CBOR),
        "contract.cbor",
    );
    validate(
        &schema("verdict.cddl"),
        &get(layout::VERDICT),
        "verdict.cbor",
    );
    validate(
        &schema("cose.cddl"),
        &get(layout::MANIFEST_SIG),
        "manifest.sig",
    );

    // Every event against the generic schema and the contract's own.
    let events_cddl = String::from_utf8(get("schemas/events.cddl")).expect("utf8");
    let generic = schema("event.cddl");
    let b = cfr_bundle_format::bundle::Bundle::open(&p).expect("opens");
    let mut n = 0;
    for entry in &b.manifest.log.chunks {
        let chunk = b.chunk(entry).expect("chunk");
        for ev in chunk.events() {
            let (_, raw) = ev.expect("event");
            validate(&generic, raw, "event (generic schema)");
            validate(&events_cddl, raw, "event (contract's events.cddl)");
            n += 1;
        }
    }
    assert_eq!(n, 300);
}

#[test]
fn submission_entries_and_signatures_validate_against_their_cddl() {
    // The sample carries its parties' submissions: every entry against
    // submission-entry, every signature against submission-signature.
    let b =
        cfr_bundle_format::bundle::Bundle::open(&sealed_sample()).expect("the sealed sample opens");
    let entries = b.submissions().expect("submissions decode");
    assert!(entries.len() > 1000, "{}", entries.len());
    let cddl = schema("submission.cddl");
    // The cddl crate validates against a file's first rule.
    let only = |rule: &str| format!("root = {rule}\n{cddl}");
    let (entry_schema, sig_schema) = (only("submission-entry"), only("submission-signature"));
    for e in entries.iter().take(200) {
        let mut raw = Vec::new();
        e.encode_into(&mut raw);
        validate(&entry_schema, &raw, "submission entry");
        validate(&sig_schema, &e.sig, "submission signature");
    }
}

#[test]
fn receipts_validate_against_their_cddl() {
    use cfr_recorder::{init, Recorder, RecorderOptions, SignedSubmission, Submission};
    let t = tempfile::tempdir().expect("tempdir");
    init(t.path(), &sample_contract()).expect("init");
    let log = Recorder::open(
        t.path(),
        RecorderOptions {
            key: Some(recorder_key()),
            ..Default::default()
        },
    )
    .expect("open");
    let c = log.contract().clone();
    let pk =
        cfr_model::keys::read_signing_key(&sample_dir().join("keys/provider.key")).expect("key");
    let cddl = format!("root = receipt\n{}", schema("receipt.cddl"));
    for (i, n) in [1usize, 3, 7, 2].into_iter().enumerate() {
        let events = (0..n)
            .map(|_| Submission::new("heartbeat", "provider", Default::default()).event)
            .collect();
        let sub = SignedSubmission::sign(&c.id, "provider", &format!("h-{i}"), events, &pk);
        let ack = log
            .append_signed(sub.verify(&c).expect("verified"))
            .expect("append");
        let r = ack.receipt.expect("receipt");
        validate(&cddl, &r.encode(), "receipt");
    }
    // A receipt with a short hash does not.
    let mut bad = cfr_bundle_format::receipt::Receipt::decode(
        &log.append_signed(
            SignedSubmission::sign(
                &c.id,
                "provider",
                "h-x",
                vec![Submission::new("heartbeat", "provider", Default::default()).event],
                &pk,
            )
            .verify(&c)
            .expect("verified"),
        )
        .expect("append")
        .receipt
        .expect("receipt")
        .encode(),
    )
    .expect("decode")
    .encode();
    let at = bad
        .windows(2)
        .position(|w| w == [0x58, 0x20])
        .expect("a 32-byte string");
    bad[at + 1] = 0x1f;
    bad.remove(at + 2);
    assert!(cddl::validate_cbor_from_slice(&cddl, &bad, None).is_err());
}

#[test]
fn the_schemas_reject_what_they_should() {
    // A manifest with a wrong format string must not validate.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = seal_small(dir.path(), "s.cfr", &sample_events(10), 4096);
    let ms = members(&std::fs::read(&p).expect("read"));
    let manifest = ms
        .iter()
        .find(|(m, _)| m == layout::MANIFEST)
        .expect("m")
        .1
        .clone();
    let mut m = cfr_bundle_format::manifest::Manifest::from_cbor(&manifest).expect("decodes");
    m.format = "cfr-bundle/2".into();
    assert!(cddl::validate_cbor_from_slice(&schema("manifest.cddl"), &m.to_cbor(), None).is_err());
}
