//! Tampering: every byte, every truncation, member games, forged events.

use crate::util::*;
use cfr_bundle_format::layout;
use cfr_model::keys::PublicKey;
use cfr_model::{Event, EventSeq};
use cfr_verify::verify::{self, CheckId, Trust, VerifyOptions};

fn small() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    // 24 events, two chunks (small chunk size), native verdict, no analyzer.
    let p = seal_small(dir.path(), "small.cfr", &sample_events(24), 1500);
    let bytes = std::fs::read(&p).expect("read");
    (dir, p, bytes)
}

#[test]
fn the_small_bundle_verifies() {
    let (_d, p, _) = small();
    let r = verify_path(&p);
    assert!(r.verified(), "{:?}", failure_codes(&r));
    assert!(r.unpinned());
    assert_eq!(r.bundle.events, Some(24));
}

/// Flipping any single byte makes verification fail with a named check.
#[test]
fn every_single_byte_flip_is_caught() {
    let (dir, _p, bytes) = small();
    let positions: Vec<usize> = (0..bytes.len()).collect();
    let missed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for (t, part) in positions.chunks(positions.len().div_ceil(2)).enumerate() {
            let bytes = &bytes;
            let missed = &missed;
            let dir = dir.path();
            s.spawn(move || {
                let path = dir.join(format!("flip-{t}.cfr"));
                let mut buf = bytes.clone();
                for &i in part {
                    buf[i] ^= 0x01;
                    std::fs::write(&path, &buf).expect("write");
                    let r = verify::verify(&path, VerifyOptions::default()).expect("verify runs");
                    if r.verified() || failure_codes(&r).is_empty() {
                        missed.lock().expect("lock").push(i);
                    }
                    buf[i] ^= 0x01;
                }
            });
        }
    });
    let missed = missed.into_inner().expect("lock");
    assert!(
        missed.is_empty(),
        "flips not caught at byte offsets {missed:?}"
    );
}

#[test]
fn every_truncation_at_a_block_boundary_is_caught() {
    let (dir, _p, bytes) = small();
    let path = dir.path().join("cut.cfr");
    for cut in (0..bytes.len()).step_by(512) {
        std::fs::write(&path, &bytes[..cut]).expect("write");
        let r = verify::verify(&path, VerifyOptions::default()).expect("verify runs");
        assert!(!r.verified(), "truncation at {cut} verified");
        assert!(!failure_codes(&r).is_empty());
    }
}

fn verify_bytes(dir: &std::path::Path, bytes: &[u8]) -> Vec<String> {
    let path = dir.join("modified.cfr");
    std::fs::write(&path, bytes).expect("write");
    let r = verify_path(&path);
    assert!(!r.verified(), "modified bundle verified");
    failure_codes(&r)
}

#[test]
fn extra_missing_renamed_and_reordered_members_are_caught() {
    let (dir, _p, bytes) = small();
    let ms = members(&bytes);

    let mut extra = ms.clone();
    extra.push(("notes.txt".into(), b"hi".to_vec()));
    assert!(verify_bytes(dir.path(), &write_members(&extra)).contains(&"member-unexpected".into()));

    // An extra member in a legal place, with the manifest re-signed by the
    // recorder: still not listed where it must be... re-listing it would
    // make it part of the sealed bundle; without listing it is caught.
    let mut extra2 = ms.clone();
    let at = extra2
        .iter()
        .position(|(n, _)| n == "schemas/verdict.cddl")
        .expect("schema");
    extra2.insert(at + 1, ("schemas/zz.cddl".into(), b"x = int\n".to_vec()));
    assert!(verify_bytes(dir.path(), &write_members(&extra2)).contains(&"member-unexpected".into()));

    let mut missing = ms.clone();
    missing.retain(|(n, _)| n != "schemas/event.cddl");
    assert!(verify_bytes(dir.path(), &write_members(&missing)).contains(&"member-missing".into()));

    let mut missing_required = ms.clone();
    missing_required.retain(|(n, _)| n != layout::CONTRACT_TOML);
    assert!(verify_bytes(dir.path(), &write_members(&missing_required))
        .contains(&"member-missing".into()));

    let mut renamed = ms.clone();
    for (n, _) in renamed.iter_mut() {
        if n == "schemas/event.cddl" {
            *n = "schemas/evend.cddl".into();
        }
    }
    let codes = verify_bytes(dir.path(), &write_members(&renamed));
    assert!(
        codes.contains(&"member-order".into()) || codes.contains(&"member-missing".into()),
        "{codes:?}"
    );

    let mut reordered = ms.clone();
    let a = reordered
        .iter()
        .position(|(n, _)| n == layout::CONTRACT_TOML)
        .expect("toml");
    reordered.swap(a, a + 1);
    assert!(verify_bytes(dir.path(), &write_members(&reordered)).contains(&"member-order".into()));
}

fn raw_events(bytes: &[u8]) -> Vec<Event> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("b.cfr");
    std::fs::write(&p, bytes).expect("write");
    let b = cfr_bundle_format::bundle::Bundle::open(&p).expect("opens");
    b.events().map(|e| e.expect("event")).collect()
}

#[test]
fn forged_logs_with_valid_signatures_are_still_caught() {
    let (dir, _p, bytes) = small();
    let events = raw_events(&bytes);
    let encode = |evs: &[Event]| {
        let mut raw = Vec::new();
        for e in evs {
            e.encode_into(&mut raw);
        }
        raw
    };

    // A gap in seq.
    let mut gap = events.clone();
    gap.remove(5);
    for (i, e) in gap.iter_mut().enumerate().skip(5) {
        e.seq = i as u64 + 1;
    }
    let forged = forge_events(&bytes, encode(&gap), gap.len() as u64);
    assert!(verify_bytes(dir.path(), &forged).contains(&"event-seq-gap".into()));

    // A duplicate seq.
    let mut dup = events.clone();
    dup[6].seq = 5;
    let forged = forge_events(&bytes, encode(&dup), dup.len() as u64);
    assert!(verify_bytes(dir.path(), &forged).contains(&"event-seq-duplicate".into()));

    // Non-canonical CBOR: seq 0 written with a one-byte argument (0x18 0x00).
    let mut raw = encode(&events);
    let at = raw
        .windows(4)
        .position(|w| w == b"\x63seq")
        .expect("seq key")
        + 4;
    assert_eq!(raw[at], 0x00);
    raw.splice(at..at + 1, [0x18, 0x00]);
    let forged = forge_events(&bytes, raw, events.len() as u64);
    assert!(verify_bytes(dir.path(), &forged).contains(&"event-noncanonical".into()));

    // Time going backwards.
    let mut back = events.clone();
    back[10].time = back[9].time - 1;
    let forged = forge_events(&bytes, encode(&back), back.len() as u64);
    assert!(verify_bytes(dir.path(), &forged).contains(&"event-time-backwards".into()));

    // The forger's own unaltered log verifies (the forger is sound).
    let same = forge_events(&bytes, encode(&events), events.len() as u64);
    let p = dir.path().join("same.cfr");
    std::fs::write(&p, &same).expect("write");
    let r = verify_path(&p);
    assert!(r.verified(), "{:?}", failure_codes(&r));
    let _ = EventSeq::new(&[]);
}

#[test]
fn a_pinned_key_that_does_not_match_fails() {
    let (_d, p, _) = small();
    let provider = PublicKey::read(&sample_dir().join("keys/provider.pub")).expect("key");
    let recorder = PublicKey::read(&sample_dir().join("keys/recorder.pub")).expect("key");
    let r = verify::verify(
        &p,
        VerifyOptions {
            trust: Trust {
                recorder: Some(provider),
                ..Trust::default()
            },
            ..VerifyOptions::default()
        },
    )
    .expect("runs");
    assert!(!r.verified());
    assert!(failure_codes(&r).contains(&"key-pin-mismatch".into()));
    let r = verify::verify(
        &p,
        VerifyOptions {
            trust: Trust {
                recorder: Some(recorder),
                provider: Some(provider),
                ..Trust::default()
            },
            ..VerifyOptions::default()
        },
    )
    .expect("runs");
    assert!(r.verified(), "{:?}", failure_codes(&r));
}

#[test]
fn a_decompression_bomb_is_refused_without_inflating() {
    let (dir, _p, bytes) = small();
    // 64 MiB of zeros compress to a few KiB; declare the real chunk's size.
    let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], 19).expect("zstd");
    let mut ms = members(&bytes);
    for (n, d) in ms.iter_mut() {
        if n == &layout::chunk_name(0) {
            *d = bomb.clone();
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
    let codes = verify_bytes(dir.path(), &forged);
    assert!(
        codes.contains(&"chunk-corrupt".into()) || codes.contains(&"chunk-size-mismatch".into()),
        "{codes:?}"
    );
}

#[test]
fn a_verdict_too_large_to_read_fails_check_8_by_name() {
    // Signed and listed by the recorder, but larger than a verdict may be
    // read: check 8 fails saying so (before, it read as "no verdict").
    // The bound grows with the log (64 MiB + 4 KiB per event): one byte
    // more than this log's bound.
    let (dir, _p, bytes) = small();
    let mut ms = members(&bytes);
    let manifest = ms
        .iter()
        .find(|(n, _)| n == layout::MANIFEST)
        .expect("m")
        .1
        .clone();
    let m = cfr_bundle_format::manifest::Manifest::from_cbor(&manifest).expect("decodes");
    let too_large = cfr_rules::verdict::max_verdict_bytes(m.log.events) + 1;
    for (n, d) in ms.iter_mut() {
        if n == layout::VERDICT {
            *d = vec![0xa0; too_large as usize];
        }
    }
    let forged = resign(&mut ms, m, &recorder_key());
    let p = dir.path().join("big-verdict.cfr");
    std::fs::write(&p, forged).expect("write");
    let r = verify_path(&p);
    let c8 = &r.checks()[CheckId::Replay];
    assert_eq!(c8.status(), verify::Status::Fail);
    assert_eq!(c8.failures()[0].code, "io");
    assert!(
        c8.failures()[0].detail.contains("more than"),
        "{:?}",
        c8.failures()
    );
}

#[test]
fn a_flipped_manifest_contract_digest_fails_check_1() {
    let (dir, _p, bytes) = small();
    let mut ms = members(&bytes);
    let manifest = ms
        .iter()
        .find(|(n, _)| n == layout::MANIFEST)
        .expect("m")
        .1
        .clone();
    let mut m = cfr_bundle_format::manifest::Manifest::from_cbor(&manifest).expect("decodes");
    m.contract_sha256[0] ^= 1;
    // Re-signed by the recorder, every member's digest intact: only the
    // contract digest check can catch it.
    let forged = resign(&mut ms, m, &recorder_key());
    let p = dir.path().join("flipped.cfr");
    std::fs::write(&p, &forged).expect("write");
    let r = verify_path(&p);
    assert!(!r.verified());
    let c1 = r.check(CheckId::Archive);
    assert_eq!(
        c1.failures()
            .iter()
            .map(|f| f.code.as_str())
            .collect::<Vec<_>>(),
        vec!["contract-digest-mismatch"],
        "{:?}",
        r.checks()
    );
    assert_eq!(
        failure_codes(&r),
        vec!["contract-digest-mismatch".to_owned()]
    );
}
