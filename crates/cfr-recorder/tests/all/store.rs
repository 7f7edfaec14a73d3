//! The log store: appends, idempotency, torn tails, corruption, repair,
//! the lock, checkpoints, sealing.

use crate::common::*;
use cfr_merkle::{verify_consistency, verify_inclusion, Checkpoint};
use cfr_recorder::seal::{prove_consistency, seal_log, LogSealOptions, Prefix};
use cfr_recorder::{
    for_each_event, for_each_event_from, AppendError, NotTorn, OpenError, Recorder,
    RecorderOptions, RepairError, CHECKPOINT_FILE, LOCK_FILE, QUARANTINE_DIR, SEGMENTS_DIR,
    TORN_DIR,
};
use std::collections::BTreeMap;
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
    let mut extra = record_of(10, receipts[9].time);
    // A whole record whose body was not all written (bad checksum) is
    // torn too, as is every cut inside it.
    let n = extra.len();
    extra[n - 1] ^= 0xff;
    for cut in [1, 4, 11, 12, n - 1, n] {
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
        assert_eq!(log.recovery().acknowledged, 10);
    }
    // The next event takes the seq the torn record never got.
    let log = open(&dir);
    assert_eq!(log.append(vec![request(77)]).expect("append")[0].seq, 10);
}

/// Every file under `dir` with its bytes, to show that a refused open or
/// repair changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if !p.ends_with(LOCK_FILE) {
                let bytes = std::fs::read(&p).expect("read");
                out.insert(p, bytes);
            }
        }
    }
    out
}

/// A record for `seq` at `time` as the recorder would write it.
fn record_of(seq: u64, time: i64) -> Vec<u8> {
    let mut e = request(seq).event;
    e.seq = seq;
    e.time = time;
    let mut buf = Vec::new();
    cfr_recorder::segment::encode_record(&mut buf, &format!("extra-{seq}"), &e.encode());
    buf
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(bytes).expect("write");
}

/// A log of `n` acknowledged events in one segment, closed: its segment
/// path and the receipts.
fn closed_log(
    n: u64,
) -> (
    tempfile::TempDir,
    PathBuf,
    PathBuf,
    Vec<cfr_recorder::Receipt>,
) {
    let (t, dir) = new_log();
    let log = open(&dir);
    let receipts = log
        .append(
            (0..n)
                .map(|i| request(i).with_id(format!("a{i}")))
                .collect(),
        )
        .expect("append");
    drop(log);
    let seg = last_segment(&dir);
    (t, dir, seg, receipts)
}

#[test]
fn every_bit_of_the_first_and_last_acknowledged_record_is_refused_and_nothing_changes() {
    let (_t, dir, seg, receipts) = closed_log(20);
    let clean = std::fs::read(&seg).expect("read");
    let scan = cfr_recorder::segment::scan(&clean, 0, None);
    assert!(scan.fault.is_none());
    let first = scan.records[0].offset as usize..scan.records[1].offset as usize;
    let last = scan.records[19].offset as usize..clean.len();
    for range in [first, last] {
        for byte in range.clone() {
            for bit in 0..8 {
                let mut bad = clean.clone();
                bad[byte] ^= 1 << bit;
                std::fs::write(&seg, &bad).expect("write");
                let before = snapshot(&dir);
                let err = open_with(&dir, RecorderOptions::default())
                    .err()
                    .unwrap_or_else(|| panic!("flip at byte {byte} bit {bit} was accepted"));
                let OpenError::Corrupt {
                    path,
                    offset,
                    seq,
                    reason,
                    ..
                } = &err
                else {
                    panic!("byte {byte} bit {bit}: expected Corrupt, got {err}")
                };
                assert_eq!(path, &seg);
                assert_eq!(*offset, range.start as u64, "byte {byte} bit {bit}: {err}");
                assert_eq!(
                    *seq,
                    if range.start == first_offset(&scan) {
                        0
                    } else {
                        19
                    }
                );
                assert_eq!(
                    *reason,
                    NotTorn::Acknowledged { acknowledged: 20 },
                    "byte {byte} bit {bit}"
                );
                let text = err.to_string();
                assert!(text.contains(&seg.display().to_string()), "{text}");
                assert!(text.contains(&format!("byte {}", range.start)), "{text}");
                assert!(text.contains("nothing was changed"), "{text}");
                assert_eq!(snapshot(&dir), before, "open changed the directory");
                let err = repair(&dir).expect_err("repair must refuse");
                assert!(
                    matches!(
                        err,
                        RepairError::WouldDropAcknowledged {
                            acknowledged: 20,
                            ..
                        }
                    ),
                    "{err}"
                );
                assert_eq!(snapshot(&dir), before, "repair changed the directory");
            }
        }
    }
    std::fs::write(&seg, &clean).expect("restore");
    let log = open(&dir);
    assert_eq!(log.size(), 20);
    assert_eq!(
        log.inclusion_proof(19, 20).expect("proof").leaf,
        receipts[19].leaf
    );
}

fn first_offset(scan: &cfr_recorder::segment::Scan) -> usize {
    scan.records[0].offset as usize
}

#[test]
fn damage_under_a_checkpoint_is_refused_before_anything_is_cut() {
    // The reported case: a checkpoint over the whole log, one bit flipped
    // inside seq 0, and a large valid log after it.
    let (_t, dir) = new_log();
    let log = open(&dir);
    log.append((0..2000).map(request).collect())
        .expect("append");
    log.sign_checkpoint().expect("checkpoint");
    drop(log);
    let seg = last_segment(&dir);
    let mut bytes = std::fs::read(&seg).expect("read");
    bytes[68] ^= 1;
    std::fs::write(&seg, &bytes).expect("write");
    let before = snapshot(&dir);
    let err = open_with(&dir, RecorderOptions::default())
        .err()
        .expect("refused");
    assert!(
        matches!(
            &err,
            OpenError::Corrupt {
                seq: 0,
                offset: 16,
                reason: NotTorn::Signed {
                    checkpoint_size: 2000
                },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
    assert!(!dir.join(TORN_DIR).exists());
    let err = repair(&dir).expect_err("refused");
    assert!(
        matches!(
            err,
            RepairError::WouldDropSigned {
                seq: 0,
                checkpoint_size: 2000
            }
        ),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_checksum_valid_record_out_of_order_is_refused() {
    let (_t, dir, seg, receipts) = closed_log(5);
    let last_time = receipts[4].time;
    // After the acknowledged records (so not protected by the mark): a
    // whole record with the wrong seq, one with time going backwards, one
    // whose body does not decode. None is what a torn write leaves.
    let mut junk = Vec::new();
    cfr_recorder::segment::encode_record(&mut junk, "x", b"\xa0");
    for (what, bytes) in [
        ("wrong seq", record_of(7, last_time)),
        ("time backwards", record_of(5, last_time - 1)),
        ("body", junk),
    ] {
        let clean = std::fs::read(&seg).expect("read");
        append_bytes(&seg, &bytes);
        let before = snapshot(&dir);
        let err = open_with(&dir, RecorderOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(
            matches!(
                &err,
                OpenError::Corrupt {
                    seq: 5,
                    reason: NotTorn::Intact,
                    ..
                }
            ),
            "{what}: {err}"
        );
        assert_eq!(snapshot(&dir), before, "{what}");
        // Never acknowledged: repair may move it, and says what it moved.
        let moved = repair(&dir).expect("repair");
        assert_eq!(moved.len(), 1, "{what}");
        assert_eq!(moved[0].from, seg);
        assert_eq!(moved[0].offset, clean.len() as u64);
        assert_eq!(moved[0].bytes, bytes.len() as u64);
        assert_eq!(moved[0].first_seq, 5);
        assert_eq!(std::fs::read(&moved[0].to).expect("kept"), bytes);
        assert!(moved[0].to.starts_with(dir.join(QUARANTINE_DIR)));
        assert_eq!(std::fs::read(&seg).expect("read"), clean);
    }
    let log = open(&dir);
    assert_eq!(log.size(), 5);
}

#[test]
fn a_bad_record_followed_by_valid_ones_is_not_a_torn_tail() {
    let (_t, dir, seg, receipts) = closed_log(5);
    let clean = std::fs::read(&seg).expect("read");
    let t = receipts[4].time;
    // Records 5 and 6 were written but never acknowledged (the mark says
    // 5); record 5 is damaged, record 6 is whole. A torn write does not
    // leave a valid record after a bad one: open refuses.
    let mut bad5 = record_of(5, t);
    let n = bad5.len();
    bad5[n - 2] ^= 0x20;
    let good6 = record_of(6, t);
    append_bytes(&seg, &bad5);
    append_bytes(&seg, &good6);
    let before = snapshot(&dir);
    let err = open_with(&dir, RecorderOptions::default())
        .err()
        .expect("refused");
    let at = (clean.len() + bad5.len()) as u64;
    assert!(
        matches!(
            &err,
            OpenError::Corrupt { seq: 5, reason: NotTorn::ValidAfter { offset }, .. } if *offset == at
        ),
        "{err}"
    );
    assert!(err.to_string().contains("repair"), "{err}");
    assert_eq!(snapshot(&dir), before);
    let moved = repair(&dir).expect("repair");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].bytes, (bad5.len() + good6.len()) as u64);
    let log = open(&dir);
    assert_eq!(log.size(), 5);
    // Seq 5 was never acknowledged, so handing it out now is not a reuse.
    let r = log.append(vec![request(50)]).expect("append");
    assert_eq!(r[0].seq, 5);
}

/// Flips a bit in the middle of the first of a log's (three or more)
/// segments; returns the segments, in order.
fn damage_first_segment(dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join(SEGMENTS_DIR))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .collect();
    segs.sort();
    assert!(segs.len() >= 3, "{segs:?}");
    let mut bytes = std::fs::read(&segs[0]).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&segs[0], &bytes).expect("write");
    segs
}

/// Reading from a seq gives exactly the events from it, across
/// segments, without reading the segments wholly before it; a range past
/// the log is short.
#[test]
fn events_are_read_from_a_seq_across_segments() {
    let (_t, dir) = new_log();
    let opts = RecorderOptions {
        key: Some(key("recorder")),
        segment_bytes: 1_500,
        ..RecorderOptions::default()
    };
    let log = open_with(&dir, opts).expect("open");
    for i in 0..60 {
        log.append(vec![request(i)]).expect("append");
    }
    drop(log);
    let mut all = Vec::new();
    for_each_event(&dir, 60, |e| all.push(e)).expect("all");
    for (from, upto) in [(0u64, 60u64), (1, 2), (17, 60), (59, 60), (30, 30)] {
        let mut got = Vec::new();
        for_each_event_from(&dir, from, upto, |e| got.push(e)).expect("from");
        assert_eq!(got, all[from as usize..upto as usize], "[{from}, {upto})");
    }
    // A damaged first segment is not read when the range starts later.
    damage_first_segment(&dir);
    let mut got = Vec::new();
    for_each_event_from(&dir, 55, 60, |e| got.push(e)).expect("from 55");
    assert_eq!(got, all[55..]);
    assert!(
        for_each_event(&dir, 60, |_| {}).is_err(),
        "from 0 it is read, and refused"
    );
    assert!(matches!(
        for_each_event_from(&dir, 55, 61, |_| {}),
        Err(cfr_recorder::ReadError::Short {
            wanted: 61,
            available: 60
        })
    ));
}

#[test]
fn a_damaged_record_in_an_earlier_segment_is_refused_with_its_place() {
    let (_t, dir) = new_log();
    let opts = RecorderOptions {
        key: Some(key("recorder")),
        segment_bytes: 1_500,
        ..RecorderOptions::default()
    };
    let log = open_with(&dir, opts.clone()).expect("open");
    for i in 0..60 {
        log.append(vec![request(i)]).expect("append");
    }
    drop(log);
    let segs = damage_first_segment(&dir);
    let before = snapshot(&dir);
    let err = open_with(&dir, opts.clone()).err().expect("refused");
    let OpenError::Corrupt { path, seq, .. } = &err else {
        panic!("expected Corrupt, got {err}")
    };
    assert_eq!(path, &segs[0]);
    assert!(*seq < 60);
    assert_eq!(snapshot(&dir), before);
    // Those events were acknowledged: repair refuses too.
    assert!(matches!(
        repair(&dir),
        Err(RepairError::WouldDropAcknowledged {
            acknowledged: 60,
            ..
        })
    ));
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn no_seq_is_handed_out_twice_after_lost_records() {
    let (_t, dir, seg, receipts) = closed_log(10);
    let clean = std::fs::read(&seg).expect("read");
    // The last acknowledged record cut short (it looks torn, but it was
    // acknowledged), then the whole segment emptied.
    let scan = cfr_recorder::segment::scan(&clean, 0, None);
    let last = scan.records[9].offset as usize;
    for cut in [clean.len() - 1, last + 3, last, 16] {
        std::fs::write(&seg, &clean[..cut]).expect("write");
        let before = snapshot(&dir);
        let err = open_with(&dir, RecorderOptions::default())
            .err()
            .unwrap_or_else(|| panic!("cut at {cut}: opened"));
        assert!(
            matches!(
                &err,
                OpenError::Corrupt {
                    reason: NotTorn::Acknowledged { acknowledged: 10 },
                    ..
                } | OpenError::AcknowledgedMissing {
                    acknowledged: 10,
                    ..
                }
            ),
            "cut at {cut}: {err}"
        );
        assert_eq!(snapshot(&dir), before);
        assert!(repair(&dir).is_err() || snapshot(&dir) == before);
        assert_eq!(snapshot(&dir), before);
    }
    std::fs::write(&seg, &clean).expect("restore");
    let log = open(&dir);
    assert_eq!(log.append(vec![request(99)]).expect("append")[0].seq, 10);
    assert_eq!(
        log.inclusion_proof(9, 11).expect("proof").leaf,
        receipts[9].leaf
    );
}

#[test]
fn synced_but_unacknowledged_records_are_kept_and_covered() {
    let (_t, dir, seg, receipts) = closed_log(3);
    // A crash between syncing a batch and raising the mark: the record is
    // whole and valid, above the mark.
    append_bytes(&seg, &record_of(3, receipts[2].time));
    let log = open(&dir);
    assert_eq!(log.size(), 4);
    assert_eq!(log.recovery().acknowledged, 3);
    assert!(log.recovery().torn_tail.is_none());
    drop(log);
    let log = open(&dir);
    assert_eq!(log.recovery().acknowledged, 4);
    // Its id is known: a retry gets the original receipt.
    let again = log
        .append(vec![request(3).with_id("extra-3")])
        .expect("append");
    assert!(again[0].duplicate);
    assert_eq!(again[0].seq, 3);
}

#[test]
fn repair_refuses_to_drop_signed_events() {
    let (_t, dir) = new_log();
    let opts = RecorderOptions {
        key: Some(key("recorder")),
        segment_bytes: 2_000,
        ..RecorderOptions::default()
    };
    let log = open_with(&dir, opts.clone()).expect("open");
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
        open_with(&dir, opts).err(),
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
    let err = open_with(&dir, RecorderOptions::default())
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
    let err = open_with(&dir, RecorderOptions::default())
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
    let err = open_with(&dir, RecorderOptions::default())
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
    let middle = log.time_of(10).expect("index").expect("time");
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
            contract_sigs: Vec::new(),
            analyzer_cert: None,
            timestamp: None,
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
        contract_sigs: Vec::new(),
        analyzer_cert: None,
        timestamp: None,
    };
    assert!(seal_log(&dir, &opts, &out).is_err());
    assert!(!out.exists());
    // The log's own checkpoint equals the newest bundle's.
    let mut n = 0;
    for_each_event(&dir, 21, |_| n += 1).expect("read");
    assert_eq!(n, 21);
}

fn verified(
    party: &str,
    id: &str,
    events: Vec<cfr_recorder::Submission>,
) -> cfr_recorder::Verified {
    signed(party, id, events)
        .verify(&cfr_contract::Contract::from_toml(&contract_toml()).expect("contract"))
        .expect("verifies")
}

/// The records of a signed submission of `count` user requests from
/// `first` as the writer would write them, of which only the first
/// `written` are returned.
fn submission_records(first: u64, count: u64, written: u64, time: i64) -> Vec<u8> {
    let sub = signed(
        "user",
        &format!("torn-{first}"),
        (first..first + count).map(request).collect(),
    );
    let entry = cfr_bundle_format::submission::Entry {
        party: "user".into(),
        id: sub.id.clone(),
        first,
        count,
        sig: sub.sig.clone(),
    };
    let mut buf = Vec::new();
    for (i, e) in sub.events.iter().take(written as usize).enumerate() {
        let mut e = e.clone();
        e.seq = first + i as u64;
        e.time = time;
        cfr_recorder::segment::encode_record_with(
            &mut buf,
            "",
            &e.encode(),
            (i == 0).then_some(&entry),
        );
    }
    buf
}

#[test]
fn signed_submissions_keep_their_signature_and_their_id_across_restarts() {
    let (_t, dir) = new_log();
    let log = open(&dir);
    let first = log
        .append_signed(verified("user", "s-1", (0..3).map(request).collect()))
        .expect("append");
    assert_eq!(first.iter().map(|r| r.seq).collect::<Vec<_>>(), [0, 1, 2]);
    log.append_signed(verified(
        "provider",
        "s-1",
        vec![cfr_recorder::Submission::new(
            "heartbeat",
            "provider",
            Default::default(),
        )],
    ))
    .expect("same id, other party");
    drop(log);
    let log = open(&dir);
    // After a restart the id is known: a retry is the original receipts.
    let again = log
        .append_signed(verified("user", "s-1", (0..3).map(request).collect()))
        .expect("retry");
    assert!(again.iter().all(|r| r.duplicate));
    assert_eq!(
        first
            .iter()
            .map(|r| (r.seq, r.leaf, r.time))
            .collect::<Vec<_>>(),
        again
            .iter()
            .map(|r| (r.seq, r.leaf, r.time))
            .collect::<Vec<_>>()
    );
    match log.append_signed(verified("user", "s-1", vec![request(9)])) {
        Err(AppendError::SubmissionConflict { first: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(log.size(), 4);
    drop(log);
    // The signatures are in the log, with their ranges.
    let subs = cfr_recorder::submissions(&dir, 4).expect("submissions");
    assert_eq!(
        subs.iter()
            .map(|e| (e.party.as_str(), e.first, e.count))
            .collect::<Vec<_>>(),
        [("user", 0, 3), ("provider", 3, 1)]
    );
    // A prefix cut inside a submission leaves it out.
    assert_eq!(
        cfr_recorder::submissions(&dir, 2)
            .expect("submissions")
            .len(),
        0
    );
    // Read with the events (as a seal reads them), each submission comes
    // with its first event, and only when it ends inside the prefix.
    for (upto, want) in [
        (4, vec![(0, "user"), (3, "provider")]),
        (3, vec![(0, "user")]),
        (2, vec![]),
    ] {
        let mut seqs = Vec::new();
        let mut with = Vec::new();
        cfr_recorder::for_each_event_with_submission(&dir, upto, |entry, e| {
            seqs.push(e.seq);
            if let Some(entry) = entry {
                assert_eq!(entry.first, e.seq);
                with.push((e.seq, entry.party));
            }
        })
        .expect("read");
        assert_eq!(seqs, (0..upto).collect::<Vec<_>>());
        let want: Vec<(u64, String)> = want.into_iter().map(|(s, p)| (s, p.to_owned())).collect();
        assert_eq!(with, want, "prefix of {upto}");
    }
    assert!(matches!(
        cfr_recorder::for_each_event_with_submission(&dir, 5, |_, _| {}),
        Err(cfr_recorder::ReadError::Short {
            wanted: 5,
            available: 4
        })
    ));
}

/// Enough ids and signed submissions that the retry index, on disk,
/// grows through many bucket splits: every retry still gets its original
/// receipts and every reuse for other content is a conflict, before a
/// restart and after it (when the index is rebuilt from the log).
#[test]
fn retries_are_answered_across_a_grown_retry_index_and_a_restart() {
    let (_t, dir) = new_log();
    let mut log = open(&dir);
    // More ids than the index holds in memory (16,384), so that most are
    // on disk, moved there in two batches (the second splits buckets the
    // first filled).
    let ids = 40_000u64;
    let by_id = log
        .append(
            (0..ids)
                .map(|i| request(i).with_id(format!("id-{i}")))
                .collect(),
        )
        .expect("append");
    let subs = 300u64;
    let mut by_sub = Vec::new();
    for i in 0..subs {
        let r = log
            .append_signed(verified("user", &format!("s-{i}"), vec![request(i)]))
            .expect("append");
        by_sub.push(r[0]);
    }
    let size = ids + subs;
    assert_eq!(log.size(), size);
    for round in ["before a restart", "after a restart"] {
        for i in (0..ids).step_by(71) {
            let again = log
                .append(vec![request(i).with_id(format!("id-{i}"))])
                .expect("retry");
            let (a, b) = (again[0], by_id[i as usize]);
            assert!(a.duplicate, "{round}: id-{i}");
            assert_eq!((a.seq, a.time, a.leaf), (b.seq, b.time, b.leaf), "{round}");
        }
        for i in (0..subs).step_by(3) {
            let again = log
                .append_signed(verified("user", &format!("s-{i}"), vec![request(i)]))
                .expect("retry");
            let (a, b) = (again[0], by_sub[i as usize]);
            assert!(a.duplicate, "{round}: s-{i}");
            assert_eq!((a.seq, a.time, a.leaf), (b.seq, b.time, b.leaf), "{round}");
        }
        let e = log
            .append(vec![request(1).with_id("id-39999")])
            .expect_err("another event under a known id");
        assert!(
            matches!(e, AppendError::IdConflict { seq: 39999, .. }),
            "{round}: {e}"
        );
        let e = log
            .append_signed(verified("user", "s-299", vec![request(1)]))
            .expect_err("another submission under a known id");
        assert!(
            matches!(e, AppendError::SubmissionConflict { first, .. } if first == size - 1),
            "{round}: {e}"
        );
        assert_eq!(log.size(), size, "{round}: nothing appended");
        drop(log);
        log = open(&dir);
    }
    let r = log
        .append_signed(verified(
            "provider",
            "s-0",
            vec![cfr_recorder::Submission::new(
                "heartbeat",
                "provider",
                Default::default(),
            )],
        ))
        .expect("same id, other party");
    assert!(!r[0].duplicate);
    assert_eq!(log.size(), size + 1);
}

#[test]
fn a_submission_with_missing_events_is_a_torn_write_and_is_cut_whole() {
    for torn_third in [false, true] {
        let (_t, dir, seg, receipts) = closed_log(3);
        let t = receipts[2].time;
        // Two of a three-event submission, whole and valid, above the mark
        // (and, in the second case, the third one torn).
        let mut bytes = submission_records(3, 3, 2, t);
        if torn_third {
            let third = submission_records(3, 3, 3, t);
            bytes.extend_from_slice(&third[bytes.len()..third.len() - 7]);
        }
        append_bytes(&seg, &bytes);
        let log = open(&dir);
        assert_eq!(log.size(), 3, "torn third: {torn_third}");
        let (kept, n) = log.recovery().torn_tail.clone().expect("cut");
        assert_eq!(n, bytes.len() as u64);
        assert!(kept.starts_with(dir.join(TORN_DIR)));
        assert_eq!(std::fs::read(&kept).expect("kept"), bytes);
        // The cut submission was never acknowledged: it goes in again, whole.
        let r = log
            .append_signed(verified("user", "torn-3", (3..6).map(request).collect()))
            .expect("append");
        assert!(!r[0].duplicate);
        assert_eq!(r[0].seq, 3);
    }
}

#[test]
fn an_acknowledged_submission_with_missing_events_is_refused_and_nothing_changes() {
    let (_t, dir) = new_log();
    let log = open(&dir);
    log.append_signed(verified("user", "s-1", (0..4).map(request).collect()))
        .expect("append");
    drop(log);
    // Lose the last two records of the acknowledged submission.
    let seg = last_segment(&dir);
    let bytes = std::fs::read(&seg).expect("read");
    let scan = cfr_recorder::segment::scan(&bytes, 0, None);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open");
    f.set_len(scan.records[2].offset).expect("truncate");
    drop(f);
    let before = snapshot(&dir);
    // Its receipt's checkpoint (written on close) covers it, as does the mark.
    match open_with(&dir, RecorderOptions::default()) {
        Err(OpenError::Corrupt {
            seq: 0,
            reason: NotTorn::Signed { checkpoint_size: 4 },
            ..
        }) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_submission_starting_inside_another_is_corruption() {
    let (_t, dir, seg, receipts) = closed_log(3);
    let t = receipts[2].time;
    let mut bytes = submission_records(3, 3, 1, t);
    bytes.extend(submission_records(4, 1, 1, t));
    append_bytes(&seg, &bytes);
    let before = snapshot(&dir);
    match open_with(&dir, RecorderOptions::default()) {
        Err(OpenError::Corrupt {
            seq: 4,
            reason: NotTorn::Intact,
            fault,
            ..
        }) => assert!(fault.to_string().contains("starts inside"), "{fault}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
    assert_eq!(snapshot(&dir), before);
}
