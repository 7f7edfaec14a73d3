//! The library API for forensic tools: lazy events, the sealed verdict,
//! and single-event inclusion proofs (`cfr_verify::proof`).

use crate::util::*;
use cfr_bundle_format::bundle::{Bundle, MemberError};
use cfr_bundle_format::layout;
use cfr_bundle_format::seal;
use cfr_merkle::{leaf_hash, Checkpoint, Tree};
use cfr_model::keys::PublicKey;
use cfr_verify::proof::{EventProof, EventProofError, Prove as _, ProveError};
use cfr_verify::verify::{self, Replay, Trust, VerifyOptions};
use std::path::{Path, PathBuf};

fn recorder_pub() -> PublicKey {
    PublicKey(recorder_key().verifying_key())
}

/// 300 sample events in several chunks, native verdict, no analyzer.
fn bundle_300(dir: &Path) -> PathBuf {
    seal_small(dir, "b.cfr", &sample_events(300), 4096)
}

/// Every leaf hash of a bundle, read chunk by chunk.
fn leaves(b: &Bundle) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for entry in &b.manifest.log.chunks {
        let chunk = b.chunk(entry).expect("chunk");
        for item in chunk.events() {
            out.push(leaf_hash(item.expect("event").1));
        }
    }
    out
}

#[test]
fn events_stream_every_event_in_order_across_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    assert!(b.manifest.log.chunks.len() > 3);
    let events: Vec<_> = b.events().map(|e| e.expect("event")).collect();
    assert_eq!(events.len(), 300);
    assert!(events.iter().enumerate().all(|(i, e)| e.seq == i as u64));
    // Equal, byte for byte, to what the chunks hold.
    let mut from_chunks = Vec::new();
    for entry in &b.manifest.log.chunks {
        let chunk = b.chunk(entry).expect("chunk");
        from_chunks.extend(chunk.events().map(|r| r.expect("event").0));
    }
    assert_eq!(events, from_chunks);
}

/// What a chunk's `events()` and its reused-event `reader()` each make of
/// it: every event with its bytes, then the error if any.
fn chunk_both_ways(chunk: &cfr_bundle_format::bundle::Chunk) -> (Vec<String>, Vec<String>) {
    let fresh = chunk
        .events()
        .map(|r| match r {
            Ok((e, bytes)) => format!("{e:?} {bytes:?}"),
            Err(e) => format!("{}: {e}", e.code()),
        })
        .collect();
    let mut reader = cfr_model::EventReader::new();
    let mut events = chunk.reader();
    let mut reused = Vec::new();
    while let Some(r) = events.next(&mut reader) {
        reused.push(match r {
            Ok((e, bytes)) => format!("{e:?} {bytes:?}"),
            Err(e) => format!("{}: {e}", e.code()),
        });
    }
    (fresh, reused)
}

#[test]
fn a_chunks_reused_event_reader_reads_what_its_events_do_even_when_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    let mut chunk = b.chunk(&b.manifest.log.chunks[1]).expect("chunk");
    let (fresh, reused) = chunk_both_ways(&chunk);
    assert_eq!(fresh.len() as u64, chunk.entry.events);
    assert_eq!(fresh, reused);
    let raw = chunk.raw.clone();
    // A flipped byte every 7 bytes, a truncation, an extra event: the same
    // events before the damage, the same error, nothing after it.
    for pos in (0..raw.len()).step_by(7) {
        chunk.raw = raw.clone();
        chunk.raw[pos] ^= 0x41;
        let (fresh, reused) = chunk_both_ways(&chunk);
        assert_eq!(fresh, reused, "byte {pos} flipped");
    }
    chunk.raw = raw[..raw.len() - 3].to_vec();
    let (fresh, reused) = chunk_both_ways(&chunk);
    assert!(
        fresh
            .last()
            .is_some_and(|l| l.starts_with("event-noncanonical")),
        "{fresh:?}"
    );
    assert_eq!(fresh, reused);
    chunk.raw = [&raw[..], &raw[..40]].concat();
    let (fresh, reused) = chunk_both_ways(&chunk);
    assert!(
        fresh.last().is_some_and(|l| l.contains("more than")),
        "{fresh:?}"
    );
    assert_eq!(fresh, reused);
}

#[test]
fn events_yield_what_precedes_a_bad_event_then_one_error_and_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = std::fs::read(bundle_300(dir.path())).expect("read");
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    let mut raw = Vec::new();
    for e in b.events().take(5) {
        raw.extend(e.expect("event").encode());
    }
    let good_len = raw.len();
    raw.push(0xff); // a break byte: not an event
    let forged = dir.path().join("forged.cfr");
    std::fs::write(&forged, forge_events(&sealed, raw, 6)).expect("write");
    let b = Bundle::open(&forged).expect("the structure still opens");
    let items: Vec<_> = b.events().collect();
    assert_eq!(items.len(), 6, "five events, then the error");
    assert!(items[..5].iter().all(Result::is_ok));
    let err = items[5].as_ref().expect_err("the sixth is an error");
    assert_eq!(err.code(), "event-noncanonical");
    let text = err.to_string();
    assert!(
        text.contains("log/events-000000.cbor.zst")
            && text.contains("event 5")
            && text.contains(&format!("at byte {good_len}")),
        "{text}"
    );
}

#[test]
fn inclusion_proofs_of_first_middle_and_last_events_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    let all = leaves(&b);
    let tree = Tree::from_leaves(all.iter().copied());
    let key = recorder_pub();
    let events: Vec<_> = b.events().map(|e| e.expect("event")).collect();
    for seq in [0, 1, 149, 150, 255, 256, 298, 299] {
        let p = b.inclusion_proof(seq).expect("proof");
        assert_eq!(p.seq, seq);
        assert_eq!(p.leaf, all[seq as usize]);
        assert_eq!(p.path, tree.inclusion_proof(seq, 300).expect("tree proof"));
        assert_eq!(p.checkpoint, b.checkpoint().expect("checkpoint"));
        let v = p.verify(&key).expect("verifies");
        assert_eq!(v.event, events[seq as usize]);
        assert_eq!(v.checkpoint.size, 300);
        assert_eq!(v.checkpoint.root, tree.root());
        assert_eq!(v.contract_id(), Some(b.manifest.contract_id.as_str()));
        // The canonical CBOR form round-trips and still verifies.
        let back = EventProof::from_cbor(&p.to_cbor()).expect("decodes");
        assert_eq!(back, p);
        assert_eq!(back.to_cbor(), p.to_cbor());
        back.verify(&key).expect("verifies after the round trip");
    }
    // A one-event log: the path is empty.
    let one = seal_small(dir.path(), "one.cfr", &sample_events(1), 4096);
    let p = Bundle::open(&one)
        .expect("opens")
        .inclusion_proof(0)
        .expect("proof");
    assert!(p.path.is_empty());
    p.verify(&key).expect("verifies");
}

#[test]
fn every_flipped_bit_of_a_proof_is_caught() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b =
        Bundle::open(&seal_small(dir.path(), "b.cfr", &sample_events(40), 1500)).expect("opens");
    let key = recorder_pub();
    let cbor = b.inclusion_proof(21).expect("proof").to_cbor();
    let mut missed = Vec::new();
    for i in 0..cbor.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = cbor.clone();
            bad[i] ^= bit;
            if let Ok(p) = EventProof::from_cbor(&bad) {
                if p.verify(&key).is_ok() {
                    missed.push((i, bit));
                }
            }
        }
    }
    assert!(missed.is_empty(), "flips not caught: {missed:?}");
}

#[test]
fn a_proof_for_the_wrong_seq_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    let key = recorder_pub();
    let p5 = b.inclusion_proof(5).expect("proof");
    let p6 = b.inclusion_proof(6).expect("proof");

    // Claiming another seq for the same event.
    let mut claimed = p5.clone();
    claimed.seq = 6;
    let e = claimed.verify(&key).expect_err("wrong seq");
    assert!(
        matches!(e, EventProofError::SeqMismatch { proof: 6, event: 5 }),
        "{e}"
    );

    // Another event's bytes and leaf with this event's path.
    let mut swapped = p5.clone();
    swapped.seq = 6;
    swapped.event = p6.event.clone();
    swapped.leaf = p6.leaf;
    let e = swapped.verify(&key).expect_err("path of seq 5");
    assert_eq!(e.code(), "inclusion-proof-invalid", "{e}");

    // A leaf hash that is not the event's.
    let mut leaf = p5.clone();
    leaf.leaf = p6.leaf;
    assert_eq!(
        leaf.verify(&key).expect_err("leaf").code(),
        "proof-leaf-mismatch"
    );

    // Asking the bundle for a seq it does not hold.
    let e = b.inclusion_proof(300).expect_err("out of range");
    assert!(
        matches!(
            e,
            ProveError::SeqOutOfRange {
                seq: 300,
                size: 300
            }
        ),
        "{e}"
    );
}

#[test]
fn a_proof_against_another_checkpoint_or_key_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    let key = recorder_pub();
    let p = b.inclusion_proof(100).expect("proof");

    // A later checkpoint of the same log (301 events, same recorder).
    let longer = seal_small(dir.path(), "longer.cfr", &sample_events(301), 4096);
    let later = Bundle::open(&longer)
        .expect("opens")
        .checkpoint()
        .expect("checkpoint");
    let e = p.verify_against(&later, &key).expect_err("another size");
    assert_eq!(e.code(), "inclusion-proof-invalid", "{e}");
    // ...where the event is provable with a proof made for that checkpoint.
    Bundle::open(&longer)
        .expect("opens")
        .inclusion_proof(100)
        .expect("proof")
        .verify(&key)
        .expect("verifies");

    // A checkpoint of the same size over other events.
    let mut other_events: String = sample_events(301)
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n");
    other_events.push('\n');
    let other = seal_small(dir.path(), "other.cfr", &other_events, 4096);
    let other_cp = Bundle::open(&other)
        .expect("opens")
        .checkpoint()
        .expect("checkpoint");
    assert_eq!(other_cp.checkpoint().size, 300);
    let e = p.verify_against(&other_cp, &key).expect_err("another root");
    assert!(
        matches!(
            e,
            EventProofError::Inclusion {
                source: cfr_merkle::ProofError::RootMismatch { .. },
                ..
            }
        ),
        "{e}"
    );

    // The right checkpoint, but a key that is not the recorder's.
    let user = PublicKey::read(&sample_dir().join("keys/user.pub")).expect("user key");
    let e = p.verify(&user).expect_err("not the recorder");
    assert_eq!(e.code(), "checkpoint-signature-invalid", "{e}");

    // A checkpoint signed by the recorder with the same size but another root.
    let forged = Checkpoint {
        root: [7; 32],
        ..p.checkpoint.checkpoint().clone()
    }
    .sign(&recorder_key(), &p.checkpoint.checkpoint().origin)
    .expect("sign");
    let e = p.verify_against(&forged, &key).expect_err("another root");
    assert_eq!(e.code(), "inclusion-proof-invalid", "{e}");
}

#[test]
fn a_bundle_whose_events_do_not_lead_to_its_checkpoint_gives_no_proof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = std::fs::read(bundle_300(dir.path())).expect("read");
    // Replace the checkpoint by one over another root (the structure
    // still opens: only verify checks digests and signatures).
    let mut ms = members(&sealed);
    let note = Checkpoint {
        origin: seal::origin("acme-objstore-2026-03"),
        size: 300,
        root: [9; 32],
    }
    .sign(&recorder_key(), &seal::origin("acme-objstore-2026-03"))
    .expect("sign")
    .to_note();
    for (n, d) in ms.iter_mut() {
        if n == layout::CHECKPOINT {
            *d = note.clone().into_bytes();
        }
    }
    let bad = dir.path().join("bad-root.cfr");
    std::fs::write(&bad, write_members(&ms)).expect("write");
    let e = Bundle::open(&bad)
        .expect("opens")
        .inclusion_proof(3)
        .expect_err("root");
    assert_eq!(e.code(), "checkpoint-root-mismatch", "{e}");

    // Events out of seq order.
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    let mut raw = Vec::new();
    for seq in [0u64, 1, 3] {
        let e = b.events().nth(seq as usize).expect("some").expect("event");
        raw.extend(e.encode());
    }
    let gap = dir.path().join("gap.cfr");
    std::fs::write(&gap, forge_events(&sealed, raw, 3)).expect("write");
    let e = Bundle::open(&gap)
        .expect("opens")
        .inclusion_proof(0)
        .expect_err("gap");
    assert!(
        matches!(
            e,
            ProveError::SeqMismatch {
                position: 2,
                seq: 3
            }
        ),
        "{e}"
    );
}

#[test]
fn the_sealed_verdict_equals_the_replayed_one_native_and_wasm() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Native: the bundle carries no analyzer.
    let native = bundle_300(dir.path());
    let trust = Trust {
        recorder: Some(recorder_pub()),
        ..Trust::default()
    };
    let r = verify::verify(
        &native,
        VerifyOptions {
            trust: trust.clone(),
            ..VerifyOptions::default()
        },
    )
    .expect("verify runs");
    assert!(r.verified(), "{:?}", failure_codes(&r));
    let sealed = Bundle::open(&native)
        .expect("opens")
        .verdict()
        .expect("verdict");
    assert_eq!(Some(&sealed), r.verdict().proven());
    assert!(!sealed.incidents.is_empty());

    // WASM: sealed with the committed analyzer, replayed in the sandbox.
    let wasm = dir.path().join("wasm.cfr");
    seal_jsonl(
        &wasm,
        sample_contract(),
        &sample_events(300),
        Some(std::fs::read(root().join("crates/cfr-analyzer/analyzer.wasm")).expect("analyzer")),
        4096,
        true,
    );
    let r = verify::verify(
        &wasm,
        VerifyOptions {
            trust,
            replay: Replay::Bundled,
            ..VerifyOptions::default()
        },
    )
    .expect("verify runs");
    assert!(r.verified(), "{:?}", failure_codes(&r));
    let b = Bundle::open(&wasm).expect("opens");
    assert!(b.member(layout::ANALYZER).is_some());
    assert_eq!(Some(&b.verdict().expect("verdict")), r.verdict().proven());
    assert_eq!(b.verdict().expect("verdict"), sealed);
}

#[test]
fn a_bundle_without_a_verdict_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("no-verdict.cfr");
    seal_jsonl(&p, sample_contract(), &sample_events(10), None, 4096, false);
    let e = Bundle::open(&p)
        .expect("opens")
        .verdict()
        .expect_err("no verdict");
    assert!(
        matches!(e, MemberError::Missing { member } if member == layout::VERDICT),
        "{e}"
    );
    assert_eq!(e.code(), "member-missing");
    assert_eq!(e.to_string(), "verdict/verdict.cbor: not in the bundle");
}

#[test]
fn a_damaged_verdict_is_a_typed_error_naming_the_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = std::fs::read(bundle_300(dir.path())).expect("read");
    let mut ms = members(&sealed);
    for (n, d) in ms.iter_mut() {
        if n == layout::VERDICT {
            d.truncate(d.len() / 2);
        }
    }
    let p = dir.path().join("bad-verdict.cfr");
    std::fs::write(&p, write_members(&ms)).expect("write");
    let e = Bundle::open(&p)
        .expect("opens")
        .verdict()
        .expect_err("damaged");
    assert_eq!(e.code(), "verdict-invalid");
    assert!(e.to_string().starts_with("verdict/verdict.cbor: "), "{e}");
}

#[test]
fn the_proof_cbor_is_canonical_strict_and_matches_its_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Bundle::open(&bundle_300(dir.path())).expect("opens");
    let cbor = b.inclusion_proof(42).expect("proof").to_cbor();
    let schema = std::fs::read_to_string(root().join("schemas/event-proof.cddl")).expect("schema");
    if let Err(e) = cddl::validate_cbor_from_slice(&schema, &cbor, None) {
        panic!("the proof does not validate against schemas/event-proof.cddl: {e}");
    }
    // An independent decoder re-encodes it to the same bytes (ciborium
    // keeps map order; ours is the canonical one).
    let value: ciborium::Value = ciborium::from_reader(cbor.as_slice()).expect("ciborium");
    let mut again = Vec::new();
    ciborium::into_writer(&value, &mut again).expect("ciborium");
    assert_eq!(again, cbor);

    // Trailing bytes, a truncation, and another format are refused.
    let mut trailing = cbor.clone();
    trailing.push(0);
    assert!(EventProof::from_cbor(&trailing).is_err());
    assert!(EventProof::from_cbor(&cbor[..cbor.len() - 1]).is_err());
    let text = String::from_utf8_lossy(&cbor).into_owned();
    assert!(text.contains("cfr-event-proof/1"));
    let other_format = cbor
        .windows(17)
        .position(|w| w == b"cfr-event-proof/1")
        .map(|i| {
            let mut v = cbor.clone();
            v[i + 16] = b'2';
            v
        })
        .expect("format text");
    let e = EventProof::from_cbor(&other_format).expect_err("format");
    assert!(e.to_string().contains("format"), "{e}");
}
