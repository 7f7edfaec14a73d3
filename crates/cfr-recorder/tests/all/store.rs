//! The log store: appends, idempotency, torn tails, corruption, repair,
//! the lock, checkpoints, sealing.

use crate::common::*;
use cfr_merkle::{verify_consistency, verify_inclusion, Checkpoint};
use cfr_recorder::seal::{prove_consistency, seal_log, LogSealOptions, Prefix};
use cfr_recorder::{
    for_each_event, repair, AppendError, OpenError, Recorder, RecorderOptions, RepairError,
    CHECKPOINT_FILE, QUARANTINE_DIR, SEGMENTS_DIR, TORN_DIR,
};
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn last_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join(SEGMENTS_DIR))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment")
}

#[test]
fn appends_are_numbered_timed_and_idempotent() {
    let (_t, dir) = new_log();
    let log = open(&dir);
    let r = log
        .append(
            (0..5)
                .map(|i| request(i).with_id(format!("a{i}")))
                .collect(),
        )
        .expect("append");
    assert_eq!(r.iter().map(|x| x.seq).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert!(r.windows(2).all(|w| w[0].time <= w[1].time));
    // The same ids again: the original receipts, nothing appended.
    let again = log
        .append(
            (0..5)
                .map(|i| request(i).with_id(format!("a{i}")))
                .collect(),
        )
        .expect("append");
    assert!(again.iter().all(|x| x.duplicate));
    assert_eq!(
        again
            .iter()
            .map(|x| (x.seq, x.time, x.leaf))
            .collect::<Vec<_>>(),
        r.iter()
            .map(|x| (x.seq, x.time, x.leaf))
            .collect::<Vec<_>>()
    );
    assert_eq!(log.size(), 5);
    // An id reused for another event is a conflict, and the request
    // (including its valid first event) stores nothing.
    let err = log
        .append(vec![request(9).with_id("new"), request(7).with_id("a0")])
        .expect_err("must fail");
    assert!(
        matches!(
            err,
            AppendError::IdConflict {
                item: 2,
                seq: 0,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(log.size(), 5);
    // Ids survive a restart.
    drop(log);
    let log = open(&dir);
    assert!(log.append(vec![request(3).with_id("a3")]).expect("append")[0].duplicate);
    assert_eq!(log.size(), 5);
}

#[test]
fn signed_kinds_need_the_actors_signature() {
    let (_t, dir) = new_log();
    let log = open(&dir);
    let err = log
        .append(vec![request(0), outage()])
        .expect_err("must fail");
    assert!(err.to_string().contains("item 2"), "{err}");
    assert!(err.to_string().contains("signed"), "{err}");
    let forged = outage().signed(&key("user"), CONTRACT_ID);
    let err = log.append(vec![forged]).expect_err("must fail");
    assert!(err.to_string().contains("bad signature"), "{err}");
    let other_contract = outage().signed(&key("grid"), "another-contract");
    assert!(log.append(vec![other_contract]).is_err());
    assert_eq!(log.size(), 0, "nothing of a rejected request is stored");
    let good = outage().signed(&key("grid"), CONTRACT_ID);
    assert_eq!(log.append(vec![good]).expect("signed outage")[0].seq, 0);
}

#[test]
fn a_second_recorder_cannot_open_the_log() {
    let (_t, dir) = new_log();
    let _log = open(&dir);
    let err = Recorder::open(&dir, RecorderOptions::default())
        .err()
        .expect("locked");
    assert!(matches!(err, OpenError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked"));
}

#[test]
fn a_torn_tail_is_cut_and_kept() {
    let (_t, dir) = new_log();
    let log = open(&dir);
    let receipts = log.append((0..10).map(request).collect()).expect("append");
    drop(log);
    let seg = last_segment(&dir);
    let clean = std::fs::read(&seg).expect("read");
    // Every cut inside the next record, and garbage after the last one.
    let mut extra = Vec::new();
    cfr_recorder::segment::encode_record(&mut extra, "x", b"\xa0");
    for cut in [1, 4, 11, 12, extra.len() - 1] {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&seg)
            .expect("open");
        f.write_all(&extra[..cut]).expect("write");
        drop(f);
        let log = open(&dir);
        assert_eq!(log.size(), 10);
        let (kept, bytes) = log.recovery().torn_tail.clone().expect("a torn tail");
        assert_eq!(bytes, cut as u64);
        assert!(kept.starts_with(dir.join(TORN_DIR)));
        assert_eq!(std::fs::read(&kept).expect("kept"), &extra[..cut]);
        assert_eq!(std::fs::read(&seg).expect("read"), clean);
        assert_eq!(
            log.inclusion_proof(9, 10).expect("proof").leaf,
            receipts[9].leaf
        );
    }
}

#[test]
fn corruption_in_the_durable_part_is_refused_and_repaired_only_on_request() {
    let (_t, dir) = new_log();
    let opts = RecorderOptions {
        key: Some(key("recorder")),
        segment_bytes: 1_500,
        ..RecorderOptions::default()
    };
    let log = Recorder::open(&dir, opts.clone()).expect("open");
    for i in 0..60 {
        log.append(vec![request(i)]).expect("append");
    }
    drop(log);
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join(SEGMENTS_DIR))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .collect();
    segs.sort();
    assert!(segs.len() >= 3, "{segs:?}");
    // Flip one byte in the middle of the first segment.
    let mut bytes = std::fs::read(&segs[0]).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&segs[0], &bytes).expect("write");
    let err = Recorder::open(&dir, opts.clone()).err().expect("refused");
    let OpenError::Corrupt { seq, .. } = &err else {
        panic!("expected Corrupt, got {err}")
    };
    let seq = *seq;
    assert!(err.to_string().contains("repair"), "{err}");
    // Repair moves the bad tail aside, deleting nothing.
    let moved = repair(&dir).expect("repair");
    assert!(moved.len() >= 3);
    let quarantined: u64 = moved
        .iter()
        .map(|p| std::fs::metadata(p).expect("kept").len())
        .sum();
    assert!(quarantined > 0);
    assert!(moved
        .iter()
        .all(|p| p.starts_with(dir.join(QUARANTINE_DIR))));
    let log = Recorder::open(&dir, opts).expect("opens after repair");
    assert_eq!(log.size(), seq);
}

#[test]
fn repair_refuses_to_drop_signed_events() {
    let (_t, dir) = new_log();
    let opts = RecorderOptions {
        key: Some(key("recorder")),
        segment_bytes: 2_000,
        ..RecorderOptions::default()
    };
    let log = Recorder::open(&dir, opts.clone()).expect("open");
    for i in 0..30 {
        log.append(vec![request(i)]).expect("append");
    }
    log.sign_checkpoint().expect("checkpoint");
    drop(log);
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join(SEGMENTS_DIR))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .collect();
    segs.sort();
    let mut bytes = std::fs::read(&segs[0]).expect("read");
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    std::fs::write(&segs[0], &bytes).expect("write");
    assert!(matches!(
        Recorder::open(&dir, opts).err(),
        Some(OpenError::Corrupt { .. })
    ));
    let err = repair(&dir).expect_err("must fail");
    assert!(
        matches!(
            err,
            RepairError::WouldDropSigned {
                checkpoint_size: 30,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&segs[0]).expect("read"),
        bytes,
        "nothing moved"
    );
}

#[test]
fn the_log_must_match_its_last_signed_checkpoint() {
    let (_t, dir) = new_log();
    let log = open(&dir);
    log.append((0..8).map(request).collect()).expect("append");
    let cp = log.sign_checkpoint().expect("checkpoint");
    assert_eq!(cp.checkpoint().size, 8);
    drop(log);
    // A checkpoint over another root at the same size (the log rewritten).
    let forged = Checkpoint {
        root: [9; 32],
        ..cp.checkpoint().clone()
    }
    .sign(&key("recorder"), &cp.checkpoint().origin)
    .expect("sign");
    std::fs::write(dir.join(CHECKPOINT_FILE), forged.to_note()).expect("write");
    let err = Recorder::open(&dir, RecorderOptions::default())
        .err()
        .expect("refused");
    assert!(
        matches!(err, OpenError::CheckpointMismatch { size: 8 }),
        "{err}"
    );
    // Events under the checkpoint missing (the log cut at a record boundary).
    std::fs::write(dir.join(CHECKPOINT_FILE), cp.to_note()).expect("write");
    let seg = last_segment(&dir);
    let log = open(&dir);
    drop(log);
    let bytes = std::fs::read(&seg).expect("read");
    let scan = cfr_recorder::segment::scan(&bytes, 0, None);
    std::fs::write(&seg, &bytes[..scan.records[5].offset as usize]).expect("cut");
    let err = Recorder::open(&dir, RecorderOptions::default())
        .err()
        .expect("refused");
    assert!(
        matches!(
            err,
            OpenError::CheckpointAhead {
                checkpoint_size: 8,
                log_size: 5
            }
        ),
        "{err}"
    );
    // A checkpoint signed by another key.
    let other = cp
        .checkpoint()
        .sign(&key("user"), &cp.checkpoint().origin)
        .expect("sign");
    std::fs::write(dir.join(CHECKPOINT_FILE), other.to_note()).expect("write");
    let err = Recorder::open(&dir, RecorderOptions::default())
        .err()
        .expect("refused");
    assert!(matches!(err, OpenError::Checkpoint { .. }), "{err}");
}

#[test]
fn checkpoints_grow_consistently_and_proofs_verify() {
    let (_t, dir) = new_log();
    let log = open(&dir);
    let mut checkpoints = Vec::new();
    let mut leaves = Vec::new();
    for round in 0..5u64 {
        let r = log
            .append(
                (0..round * 3 + 1)
                    .map(|i| request(round * 100 + i))
                    .collect(),
            )
            .expect("append");
        leaves.extend(r.iter().map(|x| x.leaf));
        checkpoints.push(log.sign_checkpoint().expect("sign").checkpoint().clone());
    }
    // Signing again without growth returns the same checkpoint.
    assert_eq!(
        log.sign_checkpoint().expect("sign").checkpoint(),
        checkpoints.last().expect("one")
    );
    for a in &checkpoints {
        for b in checkpoints.iter().filter(|b| b.size >= a.size) {
            let p = log.consistency_proof(a.size, b.size).expect("proof");
            verify_consistency(a.size, b.size, &a.root, &b.root, &p.path).expect("consistent");
        }
        for seq in 0..a.size {
            let p = log.inclusion_proof(seq, a.size).expect("proof");
            verify_inclusion(seq, a.size, &leaves[seq as usize], &p.path, &a.root)
                .expect("included");
        }
    }
    assert!(log.inclusion_proof(99, 5).is_err());
    assert!(log.consistency_proof(5, 3).is_err());
}

#[test]
fn sealed_prefixes_verify_and_are_consistent() {
    let (t, dir) = new_log();
    let log = open(&dir);
    log.append((0..20).map(request).collect()).expect("append");
    log.append(vec![outage().signed(&key("grid"), CONTRACT_ID)])
        .expect("append");
    let middle = log.time_of(10).expect("time");
    drop(log);
    let k = key("recorder");
    let seal = |prefix, name: &str| {
        let out = t.path().join(name);
        let opts = LogSealOptions {
            key: &k,
            run_analyzer: None,
            analyzer: None,
            native_verdict: true,
            chunk_bytes: 1 << 20,
            prefix,
        };
        let (n, _) = seal_log(&dir, &opts, &out).expect("seal");
        let report = cfr_verify::verify::verify(&out, Default::default()).expect("verify runs");
        assert!(report.verified(), "{:?}", report.checks());
        (n, out)
    };
    let (n1, old) = seal(Prefix::Size(7), "old.cfr");
    assert_eq!(n1, 7);
    let (n2, until) = seal(Prefix::Until(middle), "until.cfr");
    assert!(n2 >= 11);
    let (n3, new) = seal(Prefix::All, "new.cfr");
    assert_eq!(n3, 21);
    let pk = cfr_model::keys::PublicKey(k.verifying_key());
    let origin = cfr_bundle_format::seal::origin(CONTRACT_ID);
    let c = prove_consistency(&old, &new, &pk, &origin).expect("consistent");
    assert_eq!((c.old.size, c.new.size), (7, 21));
    prove_consistency(&until, &new, &pk, &origin).expect("consistent");
    // Too many events asked for.
    let out = t.path().join("big.cfr");
    let opts = LogSealOptions {
        key: &k,
        run_analyzer: None,
        analyzer: None,
        native_verdict: true,
        chunk_bytes: 1 << 20,
        prefix: Prefix::Size(22),
    };
    assert!(seal_log(&dir, &opts, &out).is_err());
    assert!(!out.exists());
    // The log's own checkpoint equals the newest bundle's.
    let mut n = 0;
    for_each_event(&dir, 21, |_| n += 1).expect("read");
    assert_eq!(n, 21);
}
