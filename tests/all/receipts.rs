//! Receipts hold the recorder to account: a lying recorder (two logs
//! under one key and one contract, shown different events) is caught by
//! the receipts its honest face gave, and a receipt is checked by a second
//! implementation written from RFC 9162 and C2SP.

use crate::util::{cfr, run, sample_dir};
use cfr_bundle_format::receipt::Receipt;
use std::path::{Path, PathBuf};

fn key(name: &str) -> PathBuf {
    sample_dir().join(format!("keys/{name}.key"))
}

/// Sample events `from..to` (seq and time removed: the recorder assigns them).
fn events(from: usize, to: usize) -> String {
    let text = std::fs::read_to_string(sample_dir().join("events.jsonl")).expect("sample");
    let mut out = String::new();
    let lines = text
        .lines()
        .filter(|l| !l.starts_with("{\"submission\""))
        .filter(|l| l.contains("\"actor\":\"user\"") || l.contains("\"actor\":\"provider\""));
    for line in lines.skip(from).take(to - from) {
        let mut v: serde_json::Value = serde_json::from_str(line).expect("json");
        let o = v.as_object_mut().expect("object");
        o.remove("time");
        o.remove("seq");
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn append(dir: &Path, file: &Path, receipts: Option<&Path>) {
    let mut cmd = cfr();
    cmd.args(["log", "append"]).arg(file).arg(dir);
    for r in ["user", "provider"] {
        cmd.arg("--key").arg(format!("{r}={}", key(r).display()));
    }
    cmd.arg("--recorder-key").arg(key("recorder"));
    if let Some(r) = receipts {
        cmd.arg("--receipts").arg(r);
    }
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}");
}

fn seal(dir: &Path, out: &Path) {
    let (code, o, err) = run(cfr()
        .args(["log", "seal"])
        .arg(dir)
        .arg("--key")
        .arg(key("recorder"))
        .arg("-o")
        .arg(out));
    assert_eq!(code, 0, "{o}{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

fn receipts_in(dir: &Path) -> Vec<(PathBuf, Receipt)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("receipts")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v.into_iter()
        .map(|p| {
            let r = Receipt::decode(&std::fs::read(&p).expect("read")).expect("receipt");
            (p, r)
        })
        .collect()
}

#[test]
fn a_lying_recorder_is_contradicted_by_its_own_receipts() {
    let t = tempfile::tempdir().expect("tempdir");
    let (a, b, rdir) = (
        t.path().join("a"),
        t.path().join("b"),
        t.path().join("receipts"),
    );
    let (code, out, err) = run(cfr()
        .args(["log", "init"])
        .arg(&a)
        .arg("--contract")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 0, "{out}{err}");
    let f1 = t.path().join("first.jsonl");
    std::fs::write(&f1, events(0, 20)).expect("write");
    append(&a, &f1, Some(&rdir));
    // The recorder keeps a second log under the same key and contract,
    // equal so far; from here on it shows the user and the bundle
    // different events in the same places.
    copy_dir(&a, &b);
    let f2 = t.path().join("second.jsonl");
    std::fs::write(&f2, events(20, 30)).expect("write");
    let f2b = t.path().join("other.jsonl");
    std::fs::write(&f2b, events(40, 50)).expect("write");
    append(&a, &f2, Some(&rdir));
    append(&b, &f2b, None);

    let all = receipts_in(&rdir);
    assert!(all.len() >= 4, "{} receipts", all.len());
    // Compact: a receipt's proof is O(log n), not one path per event.
    assert!(all.iter().all(|(_, r)| r.proof.len() <= 2 * 6));
    let first_of_second = all
        .iter()
        .map(|(_, r)| r.first)
        .filter(|f| *f >= 20)
        .min()
        .expect("a receipt of the second file");

    // The last receipt's checkpoint and the other log's, of equal size,
    // prove the split view offline.
    let last = &all.iter().max_by_key(|(_, r)| r.first).expect("receipts").1;
    let a_note = t.path().join("a.checkpoint");
    std::fs::write(&a_note, &last.checkpoint).expect("write");
    let b_note = b.join("checkpoint");
    let (code, out, err) = run(cfr()
        .args(["log", "equivocation"])
        .arg(&a_note)
        .arg(&b_note)
        .arg("--contract")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 0, "an equivocation is proven: {out}{err}");
    // Two checkpoints of one log are not.
    let (code, out, err) = run(cfr()
        .args(["log", "equivocation"])
        .arg(&a_note)
        .arg(a.join("checkpoint"))
        .arg("--contract")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 1, "{out}{err}");

    // The honest log's bundle agrees with every receipt.
    let good = t.path().join("a.cfr");
    seal(&a, &good);
    let (code, out, err) = run(cfr().arg("verify").arg(&good).arg("--receipts").arg(&rdir));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{} receipts held against this log", all.len()))
            && out.contains("each at its seq with its leaf hash"),
        "{out}"
    );

    // The other log's bundle contradicts the receipts of the second file.
    let bad = t.path().join("b.cfr");
    seal(&b, &bad);
    let (code, out, err) = run(cfr().arg("verify").arg(&bad).arg("--receipts").arg(&rdir));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("receipt-contradicted"), "{out}");
    let name = format!("{first_of_second:012}-");
    assert!(
        out.contains(&name) && out.contains(&format!("seq {first_of_second}")),
        "the finding names the receipt and the seq: {out}"
    );
    assert!(
        out.contains("Findings against the recorder") && out.contains("recorder 1")
            || out.contains("Findings against the recorder"),
        "{out}"
    );
    // The first file's receipts still hold against it (same prefix).
    let (code, json, _) = run(cfr()
        .arg("verify")
        .arg(&bad)
        .arg("--json")
        .arg("--receipts")
        .arg(&rdir));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let findings = v["recorder_findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        assert_eq!(f["party"], "recorder");
        assert_eq!(f["code"], "receipt-contradicted");
        let receipt = f["receipt"].as_str().expect("receipt");
        let r = all
            .iter()
            .find(|(p, _)| p.display().to_string() == receipt)
            .expect("a named receipt")
            .1
            .clone();
        assert!(r.first >= 20, "a first-file receipt was contradicted: {f}");
    }
    // The HTML report shows the finding, and the recorder column.
    let report = |bundle: &Path, html: &Path| {
        let (code, out, err) = run(cfr()
            .arg("report")
            .arg(bundle)
            .arg("-o")
            .arg(html)
            .arg("--receipts")
            .arg(&rdir));
        assert!(code <= 1, "{out}{err}");
        std::fs::read_to_string(html).expect("html")
    };
    let page = report(&bad, &t.path().join("b.html"));
    assert!(
        page.contains("<section id=\"recorder\">")
            && page.contains("<th class=\"num\">recorder</th>"),
        "the report names the recorder"
    );
    // The honest bundle's report has no recorder column.
    let page = report(&good, &t.path().join("a.html"));
    assert!(!page.contains("<section id=\"recorder\">"));
}

#[test]
fn receipts_of_another_contract_or_key_are_a_usage_error() {
    let t = tempfile::tempdir().expect("tempdir");
    let (a, rdir) = (t.path().join("a"), t.path().join("receipts"));
    let (code, out, err) = run(cfr()
        .args(["log", "init"])
        .arg(&a)
        .arg("--contract")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 0, "{out}{err}");
    let f = t.path().join("e.jsonl");
    std::fs::write(&f, events(0, 6)).expect("write");
    append(&a, &f, Some(&rdir));
    let bundle = t.path().join("a.cfr");
    seal(&a, &bundle);
    let (path, r) = receipts_in(&rdir).remove(0);
    let bad_dir = t.path().join("bad");
    std::fs::create_dir_all(&bad_dir).expect("mkdir");
    // Another contract's receipt.
    let mut other = r.clone();
    other.contract = "another-contract".into();
    let p = bad_dir.join("other.receipt");
    std::fs::write(&p, other.encode()).expect("write");
    let (code, out, err) = run(cfr().arg("verify").arg(&bundle).arg("--receipts").arg(&p));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("other.receipt") && err.contains("another-contract"),
        "{err}"
    );
    // A checkpoint signature that is not the recorder's.
    let mut forged = r.clone();
    let mut note = forged.checkpoint.clone().into_bytes();
    let at = note.len() - 3;
    note[at] = if note[at] == b'A' { b'B' } else { b'A' };
    forged.checkpoint = String::from_utf8(note).expect("utf8");
    let p = bad_dir.join("forged.receipt");
    std::fs::write(&p, forged.encode()).expect("write");
    let (code, out, err) = run(cfr().arg("verify").arg(&bundle).arg("--receipts").arg(&p));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("forged.receipt") && err.contains("not signed"),
        "{err}"
    );
    // Garbage.
    let p = bad_dir.join("junk.receipt");
    std::fs::write(&p, b"\xa1junk").expect("write");
    let (code, _, err) = run(cfr().arg("verify").arg(&bundle).arg("--receipts").arg(&p));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("junk.receipt") && err.contains("cfr-receipt/1"),
        "{err}"
    );
    // The genuine one passes.
    let (code, out, err) = run(cfr()
        .arg("verify")
        .arg(&bundle)
        .arg("--receipts")
        .arg(&path));
    assert_eq!(code, 0, "{out}{err}");
}

/// A receipt from a running recorder, checked in Python from RFC 9162 and
/// the C2SP signed-note text (leaves recomputed with cbor2 from the events
/// as the party sent them; the range proof's root from the RFC's MTH
/// definition; the checkpoint's Ed25519 signature with `cryptography`).
#[test]
fn a_receipt_is_checked_by_an_independent_implementation() {
    use cfr_recorder::{init, Recorder, RecorderOptions, SignedSubmission};
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("log");
    let contract = std::fs::read_to_string(sample_dir().join("contract.toml")).expect("contract");
    init(&dir, &contract).expect("init");
    let rk = cfr_model::keys::read_signing_key(&key("recorder")).expect("key");
    let log = Recorder::open(
        &dir,
        RecorderOptions {
            key: Some(rk),
            ..Default::default()
        },
    )
    .expect("open");
    let c = log.contract().clone();
    let uk = cfr_model::keys::read_signing_key(&key("user")).expect("key");
    let mut receipt = None;
    let mut sent = None;
    // Sizes chosen so the last submission sits in the middle of an
    // unbalanced tree (left peaks, right subtrees and a tail).
    for (i, n) in [(0u64, 3usize), (1, 5), (2, 4), (3, 6)] {
        let lines: Vec<String> = events(0, 60)
            .lines()
            .filter(|l| l.contains("\"actor\":\"user\""))
            .take(n)
            .map(str::to_owned)
            .collect();
        let evs: Vec<cfr_model::Event> =
            cfr_recorder::submission::parse_jsonl(&c, lines.join("\n").as_bytes())
                .expect("events")
                .into_iter()
                .map(|s| s.event)
                .collect();
        let sub = SignedSubmission::sign(&c.id, "user", &format!("py-{i}"), evs, &uk);
        let ack = log
            .append_signed(sub.clone().verify(&c).expect("verified"))
            .expect("append");
        if i == 2 {
            receipt = ack.receipt.clone();
            sent = Some(sub);
        }
    }
    let receipt = receipt.expect("receipt");
    let sent = sent.expect("sent");
    let rpath = t.path().join("r.receipt");
    std::fs::write(&rpath, receipt.encode()).expect("write");
    let body = t.path().join("events.cbor");
    let mut cbor = Vec::new();
    for e in &sent.events {
        cbor.extend(e.encode());
    }
    std::fs::write(&body, &cbor).expect("write");
    let pubkey = c.parties.recorder.key.to_string();
    let script = crate::util::root().join("tests/all/interop/receipt_check.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&rpath)
        .arg(&body)
        .arg(&pubkey)
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("receipt holds"), "{text}");
    // And it refuses a receipt with one leaf changed.
    let mut bad = receipt.clone();
    bad.events[1].leaf[3] ^= 0x10;
    std::fs::write(&rpath, bad.encode()).expect("write");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&rpath)
        .arg(&body)
        .arg(&pubkey)
        .output()
        .expect("python3");
    assert!(!out.status.success());
}
