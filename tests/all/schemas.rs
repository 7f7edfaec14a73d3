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
