//! Witnesses (DESIGN.md section 14): `cfr-bundle witness serve` as a C2SP
//! tlog-witness, its crash safety, the evidence it keeps of a lying
//! recorder, `log equivocation`, and check 4's cosignatures.

use crate::util::*;
use cfr_bundle_format::layout;
use cfr_bundle_format::manifest::Manifest;
use cfr_merkle::{leaf_hash, Checkpoint, Hash, SignedCheckpoint, Tree};
use cfr_model::keys::{PublicKey, SigningKey};
use cfr_witness::AddCheckpoint;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const WITNESS: &str = "acme-witness";

fn witness_key() -> SigningKey {
    SigningKey::from_bytes(&[0x5a; 32])
}

fn public(k: &SigningKey) -> String {
    PublicKey(k.verifying_key()).to_string()
}

/// The sample contract's log origin.
fn origin() -> String {
    let c = cfr_contract::Contract::from_toml(&sample_contract()).expect("contract");
    cfr_bundle_format::seal::origin(&c.id)
}

/// A `witness serve` process on a free loopback port.
struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the witness's key into `dir` and starts `witness serve` over
/// `state` for the sample contract's log (with `env` set).
fn serve(dir: &Path, state: &Path, env: &[(&str, &str)]) -> Served {
    serve_on(dir, state, env, "127.0.0.1:0")
}

/// [`serve`] listening on `listen`.
fn serve_on(dir: &Path, state: &Path, env: &[(&str, &str)], listen: &str) -> Served {
    let key = dir.join("witness.key");
    if !key.exists() {
        std::fs::write(&key, cfr_model::keys::signing_key_to_pem(&witness_key())).expect("key");
    }
    let mut cmd = cfr();
    cmd.args(["witness", "serve", "--name", WITNESS, "--listen", listen])
        .arg("--key")
        .arg(&key)
        .arg("--state")
        .arg(state)
        .arg("--log")
        .arg(sample_dir().join("contract.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("witness starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a line");
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Served { child, addr }
}

/// POSTs `body` to the witness: (status, content type, body); `None` when
/// no answer came (the process died).
fn post(addr: &str, body: &[u8]) -> Option<(u16, String, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .build()
        .into();
    let r = agent
        .post(&format!("http://{addr}/add-checkpoint"))
        .send(body)
        .ok()?;
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.into_body().read_to_string().ok()?;
    Some((status, ctype, text))
}

fn status(addr: &str, body: &[u8]) -> u16 {
    post(addr, body).map_or(0, |(s, _, _)| s)
}

/// A tree of `n` leaves named `prefix0`, `prefix1`, ...
fn tree(prefix: &str, n: u64) -> Tree {
    Tree::from_leaves((0..n).map(|i| leaf_hash(format!("{prefix}{i}").as_bytes())))
}

/// The checkpoint of `t` at `size`, signed by `key` under the sample
/// contract's origin.
fn note_by(t: &Tree, size: u64, key: &SigningKey) -> String {
    let origin = origin();
    Checkpoint {
        origin: origin.clone(),
        size,
        root: t.root_at(size).expect("size"),
    }
    .sign(key, &origin)
    .expect("sign")
    .to_note()
}

fn note(t: &Tree, size: u64) -> String {
    note_by(t, size, &recorder_key())
}

fn body(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
    AddCheckpoint::body(old, proof, note)
}

/// The witness's record of the sample log.
fn record(state: &Path) -> Option<Vec<u8>> {
    std::fs::read(
        state
            .join("logs")
            .join(cfr_witness::origin_hash(&origin()))
            .join("checkpoint"),
    )
    .ok()
}

/// The note with the witness's answer line added; its cosignature must
/// verify.
fn cosigned(note: &str, line: &str) -> SignedCheckpoint {
    let mut cp = SignedCheckpoint::parse(note.as_bytes()).expect("note");
    cp.add_signature_line(line).expect("a signature line");
    cp.verify_cosignature(WITNESS, &witness_key().verifying_key())
        .expect("the cosignature verifies");
    cp
}

#[test]
fn witness_serve_cosigns_growth_and_refuses_everything_else_changing_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let w = serve(dir.path(), &state, &[]);
    let t = tree("event ", 20);

    // First sight of the log: old size 0.
    let (code, ctype, line) = post(&w.addr, &body(0, &[], &note(&t, 5))).expect("answer");
    assert_eq!(code, 200, "{line}");
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    cosigned(&note(&t, 5), &line);

    // Growth with a consistency proof.
    let proof = t.consistency_proof(5, 12).expect("proof");
    let (code, _, line) = post(&w.addr, &body(5, &proof, &note(&t, 12))).expect("answer");
    assert_eq!(code, 200, "{line}");
    let cp = cosigned(&note(&t, 12), &line);
    cp.verify(&origin(), &recorder_key().verifying_key())
        .expect("the recorder's signature is kept");
    let before = record(&state).expect("a record");

    // A stale old size: 409 with the size it holds.
    let next = note(&t, 15);
    let good = t.consistency_proof(12, 15).expect("proof");
    let (code, ctype, text) = post(&w.addr, &body(5, &proof, &next)).expect("answer");
    assert_eq!(
        (code, ctype.as_str(), text.as_str()),
        (409, "text/x.tlog.size", "12\n")
    );
    assert_eq!(status(&w.addr, &body(0, &[], &next)), 409);
    // A bad proof: 422.
    let mut bad = good.clone();
    bad[0][7] ^= 0x10;
    assert_eq!(status(&w.addr, &body(12, &bad, &next)), 422);
    assert_eq!(status(&w.addr, &body(12, &good[1..], &next)), 422);
    assert_eq!(status(&w.addr, &body(12, &[], &next)), 422);
    // Unknown origin: 404.
    let stranger = Checkpoint {
        origin: "example.com/another-log".into(),
        size: 15,
        root: t.root_at(15).expect("root"),
    }
    .sign(&recorder_key(), "example.com/another-log")
    .expect("sign");
    assert_eq!(status(&w.addr, &body(12, &good, &stranger.to_note())), 404);
    // Not signed by the recorder's key: 403.
    let forged = note_by(&t, 15, &SigningKey::from_bytes(&[9; 32]));
    assert_eq!(status(&w.addr, &body(12, &good, &forged)), 403);
    let mut flipped = next.clone().into_bytes();
    let at = flipped.len() - 6;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        status(
            &w.addr,
            &body(12, &good, &String::from_utf8(flipped).expect("utf8"))
        ),
        403
    );
    // Malformed bodies: 400.
    let oversized = vec![b'x'; cfr_witness::MAX_REQUEST_LEN + 10];
    for bad in [
        b"".to_vec(),
        b"old 12\n".to_vec(),
        format!("old 012\n\n{next}").into_bytes(),
        format!("old 12\nnot base64\n\n{next}").into_bytes(),
        format!("old 12\n\n{}", &next[..next.len() - 1]).into_bytes(),
        format!("old 16\n\n{next}").into_bytes(),
        b"old 12\n\n\xff\xfe\n".to_vec(),
        oversized,
    ] {
        assert_eq!(
            status(&w.addr, &bad),
            400,
            "{:?}",
            String::from_utf8_lossy(&bad[..bad.len().min(40)])
        );
    }
    assert_eq!(record(&state), Some(before), "a refusal changed the state");
    assert!(
        std::fs::read_dir(state.join("evidence"))
            .expect("evidence dir")
            .next()
            .is_none(),
        "evidence kept for requests that show no split view"
    );

    // The monitoring endpoint serves the latest cosigned checkpoint.
    let got = ureq::get(&format!(
        "http://{}/{}/checkpoint",
        w.addr,
        cfr_witness::origin_hash(&origin())
    ))
    .call()
    .expect("GET")
    .into_body()
    .read_to_string()
    .expect("text");
    let got = SignedCheckpoint::parse(got.as_bytes()).expect("a note");
    assert_eq!(got.checkpoint().size, 12);
    got.verify_cosignature(WITNESS, &witness_key().verifying_key())
        .expect("cosigned");
}

/// Two recorders with the same key over the same contract, given
/// different events: the witness refuses the second one's checkpoint and
/// keeps both; `log equivocation` proves the split view from them.
#[test]
fn a_lying_recorder_is_refused_kept_and_proven_an_equivocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let state = d.join("state");
    let honest = tree("honest ", 8);
    let liar = tree("lying ", 8);
    {
        let w = serve(d, &state, &[]);
        assert_eq!(status(&w.addr, &body(0, &[], &note(&honest, 8))), 200);
        let before = record(&state);
        // Offered the other log's checkpoint of the same size: 422 with
        // the right old size, 409 with another; never cosigned.
        assert_eq!(status(&w.addr, &body(8, &[], &note(&liar, 8))), 422);
        assert_eq!(status(&w.addr, &body(0, &[], &note(&liar, 8))), 409);
        assert_eq!(record(&state), before);
    }
    let kept = std::fs::read_dir(
        state
            .join("evidence")
            .join(cfr_witness::origin_hash(&origin())),
    )
    .expect("an evidence directory")
    .map(|e| e.expect("entry").path())
    .collect::<Vec<_>>();
    let cosigned_files: Vec<&PathBuf> = kept
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cosigned"))
        .collect();
    assert_eq!(cosigned_files.len(), 2, "{kept:?}");
    let a = cosigned_files[0].clone();
    let b = a.with_extension("offered");
    assert_eq!(
        std::fs::read_to_string(&b).expect("offered"),
        note(&liar, 8)
    );

    let contract = sample_dir().join("contract.toml");
    let equivocation = |x: &Path, y: &Path, extra: &[&str]| {
        run(cfr()
            .args(["log", "equivocation"])
            .arg(x)
            .arg(y)
            .arg("--contract")
            .arg(&contract)
            .args(extra))
    };
    let (code, out, err) = equivocation(&a, &b, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("PROVEN: split view of \"cfr/"), "{out}");
    assert!(
        out.contains("both checkpoints have size 8 and different roots"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    // With --recorder-key instead of the contract: the same.
    let (code, out, _) = run(cfr()
        .args(["log", "equivocation"])
        .arg(&a)
        .arg(&b)
        .arg("--recorder-key")
        .arg(sample_dir().join("keys/recorder.pub")));
    assert_eq!(code, 0, "{out}");

    // Two checkpoints of one honest log: not proven.
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let h5 = write("h5", &note(&honest, 5));
    let h8 = write("h8", &note(&honest, 8));
    let (code, out, _) = equivocation(&h5, &h8, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("NOT PROVEN: the checkpoints have different sizes"),
        "{out}"
    );
    let (code, out, _) = equivocation(&h8, &h8, &[]);
    assert_eq!(code, 1, "{out}");

    // Different sizes, with inclusion proofs of a leaf that differs.
    let longer = tree("lying ", 11);
    let l11 = write("l11", &note(&longer, 11));
    let proofs = cfr_witness::LeafProofs {
        index: 3,
        a: cfr_witness::LeafProof {
            leaf: leaf_hash(b"honest 3"),
            path: honest.inclusion_proof(3, 5).expect("proof"),
        },
        b: cfr_witness::LeafProof {
            leaf: leaf_hash(b"lying 3"),
            path: longer.inclusion_proof(3, 11).expect("proof"),
        },
    };
    let proof = write("proof.json", &proofs.to_json());
    let (code, out, err) = equivocation(&h5, &l11, &["--proof", proof.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("leaf 3 is"), "{out}");
    // The same proofs against an honest pair do not verify.
    let (code, out, _) = equivocation(&h5, &h8, &["--proof", proof.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{out}");

    // A checkpoint the recorder did not sign proves nothing.
    let forged = write(
        "forged",
        &note_by(&liar, 8, &SigningKey::from_bytes(&[9; 32])),
    );
    let (code, out, _) = equivocation(&h8, &forged, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the second checkpoint is not signed by the log's key"),
        "{out}"
    );
    // Unreadable input and usage: 2.
    let (code, _, err) = equivocation(&h8, &d.join("missing"), &[]);
    assert_eq!(code, 2, "{err}");
    let bad_proof = write("bad.json", "{\"format\":\"x\"}");
    let (code, _, err) = equivocation(&h5, &l11, &["--proof", bad_proof.to_str().expect("utf8")]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(cfr().args(["log", "equivocation"]).arg(&h5).arg(&h8));
    assert_eq!(code, 2, "{err}");
}

/// Killed with SIGKILL right after persisting a checkpoint and before
/// answering, the witness restarts with that checkpoint and never cosigns
/// the other branch.
#[test]
fn a_witness_killed_after_persisting_never_cosigns_the_other_branch() {
    use std::os::unix::process::ExitStatusExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let honest = tree("honest ", 6);
    let liar = tree("lying ", 6);
    {
        let mut w = serve(
            dir.path(),
            &state,
            &[("CFR_WITNESS_FAILPOINT", "after-persist")],
        );
        // The process dies before it answers.
        assert_eq!(post(&w.addr, &body(0, &[], &note(&honest, 6))), None);
        let exit = w.child.wait().expect("wait");
        assert_eq!(exit.signal(), Some(9), "{exit:?}");
    }
    let kept = SignedCheckpoint::parse(&record(&state).expect("persisted")).expect("a note");
    assert_eq!(kept.checkpoint().root, honest.root());

    let w = serve(dir.path(), &state, &[]);
    // The other branch, at every old size: refused.
    for old in [0, 6] {
        let s = status(&w.addr, &body(old, &[], &note(&liar, 6)));
        assert!(s == 409 || s == 422, "old {old}: {s}");
    }
    let grown = tree("lying ", 9);
    let p = grown.consistency_proof(6, 9).expect("proof");
    assert_eq!(status(&w.addr, &body(6, &p, &note(&grown, 9))), 422);
    assert_eq!(status(&w.addr, &body(0, &[], &note(&grown, 9))), 409);
    // The branch it persisted goes on.
    let (code, _, line) = post(&w.addr, &body(6, &[], &note(&honest, 6))).expect("answer");
    assert_eq!(code, 200, "{line}");
    cosigned(&note(&honest, 6), &line);
    // A second witness on the same state is refused.
    let (code, _, err) = run(cfr()
        .args([
            "witness",
            "serve",
            "--name",
            WITNESS,
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--key")
        .arg(dir.path().join("witness.key"))
        .arg("--state")
        .arg(&state)
        .arg("--log")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("another witness is using this state directory"),
        "{err}"
    );
}

/// The witness's cosignature (and the recorder's signature) verified by a
/// second implementation written from the C2SP texts (Python's
/// `cryptography` and hashlib).
#[test]
fn a_cosignature_verifies_with_python_written_from_the_c2sp_text() {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CFR_SKIP_PYCOSE").is_some_and(|v| v == "1")
            && std::env::var_os("CI").is_none()
        {
            return;
        }
        panic!("python3 with cryptography is needed (.ci/run installs it); to skip this test on purpose outside CI, set CFR_SKIP_PYCOSE=1");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let w = serve(dir.path(), &dir.path().join("state"), &[]);
    let t = tree("e", 4);
    let (code, _, line) = post(&w.addr, &body(0, &[], &note(&t, 4))).expect("answer");
    assert_eq!(code, 200);
    let cp = cosigned(&note(&t, 4), &line);
    let file = dir.path().join("cosigned.note");
    std::fs::write(&file, cp.to_note()).expect("write");
    let script = root().join("tests/all/interop/cosignature_check.py");
    let py = |note: &Path| {
        run(Command::new("python3")
            .arg(&script)
            .arg(note)
            .arg(WITNESS)
            .arg(public(&witness_key()))
            .arg(origin())
            .arg(public(&recorder_key())))
    };
    let (code, out, err) = py(&file);
    assert_eq!(code, 0, "{out}{err}");
    let want_id = format!(
        "witness-key-id={:08x}",
        cfr_merkle::cosignature_key_id(WITNESS, &witness_key().verifying_key())
    );
    assert!(out.starts_with("ok ") && out.contains(&want_id), "{out}");
    // The Python check is not a rubber stamp: a flipped signature byte fails.
    let mut text = cp.to_note();
    let pos = text.rfind(' ').expect("space") + 20;
    let flipped = if text.as_bytes()[pos] == b'A' {
        "B"
    } else {
        "A"
    };
    text.replace_range(pos..pos + 1, flipped);
    std::fs::write(&file, text).expect("write");
    let (code, out, _) = py(&file);
    assert_eq!(code, 1, "{out}");
}

/// A sealed bundle whose contract names the witness, its checkpoint
/// cosigned by `lines` (each a closure adding a line), manifest re-signed.
fn cosigned_bundle(dir: &Path, mut add: impl FnMut(&mut SignedCheckpoint)) -> PathBuf {
    let contract = format!(
        "{}\n[parties.witnesses]\n{WITNESS} = {{ name = \"ACME Witness\", key = \"{}\" }}\n",
        sample_contract(),
        public(&witness_key())
    );
    let sealed = dir.join("sealed.cfr");
    if !sealed.exists() {
        seal_jsonl(&sealed, contract, &sample_events(60), None, 1 << 20, true);
    }
    let mut ms = members(&std::fs::read(&sealed).expect("read"));
    let manifest = ms
        .iter()
        .find(|(n, _)| n == layout::MANIFEST)
        .map(|(_, d)| Manifest::from_cbor(d).expect("manifest"))
        .expect("manifest member");
    for (n, d) in ms.iter_mut() {
        if n == layout::CHECKPOINT {
            let mut cp = SignedCheckpoint::parse(d).expect("checkpoint");
            add(&mut cp);
            *d = cp.to_note().into_bytes();
        }
    }
    let out = dir.join("cosigned.cfr");
    std::fs::write(&out, resign(&mut ms, manifest, &recorder_key())).expect("write");
    out
}

fn verify_json(bundle: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let (code, out, err) = run(cfr()
        .arg("verify")
        .arg(bundle)
        .arg("--json")
        .arg("--native")
        .args(args));
    let j = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    (code, j, format!("{out}{err}"))
}

fn check4(j: &serde_json::Value) -> String {
    j["checks"][3].to_string()
}

#[test]
fn check_4_verifies_witness_cosignatures_and_counts_only_pinned_verified_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let now = 1_780_000_000;
    let b = cosigned_bundle(d, |cp| {
        cp.cosign(&witness_key(), WITNESS, now).expect("cosign");
    });
    let pin = format!("{WITNESS}={}", public(&witness_key()));
    let trust = d.join("trust.toml");
    std::fs::write(&trust, "[require]\nwitnesses = 1\n").expect("write");
    let trust = trust.to_str().expect("utf8");

    // Pinned, required: passes, and says who cosigned when.
    let (code, j, raw) = verify_json(&b, &["--witness-key", &pin, "--trust", trust]);
    assert_eq!(code, 0, "{raw}");
    let c4 = check4(&j);
    assert!(j["checks"][3]["status"] == "pass", "{c4}");
    assert!(
        c4.contains(&format!("cosigned by witness {WITNESS} (SHA256:"))
            && c4.contains("at 2026-05-28T"),
        "{c4}"
    );
    assert!(c4.contains("cosigned by 1 pinned witness"), "{c4}");

    // Not pinned: verified and reported, not counted; the key is listed
    // as not pinned.
    let (code, j, raw) = verify_json(&b, &["--trust", trust]);
    assert_eq!(code, 1, "{raw}");
    let c4 = check4(&j);
    assert!(c4.contains("key not pinned: not counted"), "{c4}");
    assert!(
        c4.contains("witness-quorum-not-met") && c4.contains("0 verified"),
        "{c4}"
    );
    let (code, j, raw) = verify_json(&b, &[]);
    assert_eq!(code, 0, "{raw}");
    assert!(
        j["missing"]
            .to_string()
            .contains(&format!("witness {WITNESS}")),
        "{}",
        j["missing"]
    );

    // A pin of another key for the witness: a pin mismatch (check 2), and
    // the cosignature is not counted.
    let other = format!("{WITNESS}={}", public(&SigningKey::from_bytes(&[3; 32])));
    let (code, j, raw) = verify_json(&b, &["--witness-key", &other, "--trust", trust]);
    assert_eq!(code, 1, "{raw}");
    assert!(
        j["checks"][1].to_string().contains("key-pin-mismatch"),
        "{raw}"
    );
    assert!(check4(&j).contains("witness-quorum-not-met"), "{raw}");

    // A flipped cosignature byte: fails, naming the witness.
    let flipped_dir = d.join("flipped");
    std::fs::create_dir(&flipped_dir).expect("mkdir");
    std::fs::copy(d.join("sealed.cfr"), flipped_dir.join("sealed.cfr")).expect("copy");
    let bad = cosigned_bundle(&flipped_dir, |cp| {
        let mut good = cp.clone();
        let line = good.cosign(&witness_key(), WITNESS, now).expect("cosign");
        let (head, b64) = line.trim_end().rsplit_once(' ').expect("line");
        let mut blob = base64_decode(b64);
        let last = blob.len() - 1;
        blob[last] ^= 0x01;
        cp.add_signature_line(&format!("{head} {}\n", base64_encode(&blob)))
            .expect("a well-formed line");
    });
    let (code, j, raw) = verify_json(&bad, &["--witness-key", &pin]);
    assert_eq!(code, 1, "{raw}");
    let c4 = check4(&j);
    assert!(c4.contains("witness-cosignature-invalid"), "{c4}");
    assert!(
        c4.contains(&format!("the cosignature by witness {WITNESS}")),
        "{c4}"
    );
    let (code, _, raw) = verify_json(&bad, &["--witness-key", &pin, "--trust", trust]);
    assert_eq!(code, 1, "{raw}");

    // A cosignature by a name the contract does not give a witness, by the
    // very same key: reported as not checked, never counted.
    let stranger_dir = d.join("stranger");
    std::fs::create_dir(&stranger_dir).expect("mkdir");
    std::fs::copy(d.join("sealed.cfr"), stranger_dir.join("sealed.cfr")).expect("copy");
    let stranger = cosigned_bundle(&stranger_dir, |cp| {
        cp.cosign(&witness_key(), "some-other-witness", now)
            .expect("cosign");
    });
    let (code, j, raw) = verify_json(&stranger, &["--witness-key", &pin, "--trust", trust]);
    assert_eq!(code, 1, "{raw}");
    let c4 = check4(&j);
    assert!(
        c4.contains("signature line by \\\"some-other-witness\\\""),
        "{c4}"
    );
    assert!(c4.contains("not checked"), "{c4}");
    assert!(c4.contains("0 verified"), "{c4}");
    let (code, _, raw) = verify_json(&stranger, &["--witness-key", &pin]);
    assert_eq!(code, 0, "{raw}");

    // A plain (type 0x01) note signature under the witness's name is not a
    // cosignature: not checked, not counted.
    let plain_dir = d.join("plain");
    std::fs::create_dir(&plain_dir).expect("mkdir");
    std::fs::copy(d.join("sealed.cfr"), plain_dir.join("sealed.cfr")).expect("copy");
    let plain = cosigned_bundle(&plain_dir, |cp| {
        cp.sign(&witness_key(), WITNESS).expect("sign");
    });
    let (code, j, raw) = verify_json(&plain, &["--witness-key", &pin, "--trust", trust]);
    assert_eq!(code, 1, "{raw}");
    let c4 = check4(&j);
    assert!(c4.contains("not the cosignature/v1 key ID"), "{c4}");
    assert!(c4.contains("witness-quorum-not-met"), "{c4}");

    // The text report says it too.
    let (code, out, err) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--native")
        .args(["--witness-key", &pin]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("cosigned by witness {WITNESS} (SHA256:")),
        "{out}"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `log serve --witness NAME=URL --quorum 1`: every receipt's checkpoint
/// carries the witness's verified cosignature; with the witness down no
/// submission is acknowledged (503 naming the witness) and the same file
/// appended again once it is back gets cosigned receipts; the sealed
/// bundle satisfies `[require] witnesses = 1`.
#[test]
fn a_recorder_publishes_only_checkpoints_a_quorum_of_witnesses_cosigned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let contract = d.join("contract.toml");
    std::fs::write(
        &contract,
        format!(
            "{}\n[parties.witnesses]\n{WITNESS} = {{ name = \"ACME Witness\", key = \"{}\" }}\n",
            sample_contract(),
            public(&witness_key())
        ),
    )
    .expect("contract");
    let log = d.join("log");
    let (code, out, err) = run(cfr()
        .args(["log", "init"])
        .arg(&log)
        .arg("--contract")
        .arg(&contract));
    assert_eq!(code, 0, "{out}{err}");
    let state = d.join("witness-state");
    let witness = serve(d, &state, &[]);
    let witness_addr = witness.addr.clone();
    let s = sample_dir();
    let mut rec = cfr()
        .args(["log", "serve"])
        .arg(&log)
        .arg("--key")
        .arg(s.join("keys/recorder.key"))
        .args(["--listen", "127.0.0.1:0", "--checkpoint-interval", "0s"])
        .arg("--witness")
        .arg(format!("{WITNESS}=http://{witness_addr}"))
        .args(["--quorum", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("log serve");
    let mut line = String::new();
    std::io::BufReader::new(rec.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let url = format!(
        "http://{}",
        line.strip_prefix("listening on ")
            .and_then(|l| l.split(' ').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    );
    let events = |from: usize, n: usize| -> String {
        sample_events(from + n)
            .lines()
            .skip(from)
            .filter(|l| !l.contains("\"grid\"") && !l.starts_with("{\"submission\""))
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
                let o = v.as_object_mut().expect("object");
                o.remove("time");
                o.remove("seq");
                format!("{v}\n")
            })
            .collect()
    };
    let append = |file: &Path, receipts: &Path| {
        run(cfr()
            .args(["log", "append"])
            .arg(file)
            .args(["--url", &url])
            .arg("--contract")
            .arg(&contract)
            .arg("--key")
            .arg(format!(
                "provider={}",
                s.join("keys/provider.key").display()
            ))
            .arg("--key")
            .arg(format!("user={}", s.join("keys/user.key").display()))
            .arg("--receipts")
            .arg(receipts))
    };
    let first = d.join("first.jsonl");
    std::fs::write(&first, events(0, 20)).expect("write");
    let receipts = d.join("receipts");
    let (code, out, err) = append(&first, &receipts);
    assert_eq!(code, 0, "{out}{err}");
    let mut n = 0;
    for e in std::fs::read_dir(&receipts).expect("receipts") {
        let r = cfr_bundle_format::receipt::Receipt::decode(
            &std::fs::read(e.expect("entry").path()).expect("read"),
        )
        .expect("receipt");
        let cp = r.signed_checkpoint().expect("note");
        cp.verify_cosignature(WITNESS, &witness_key().verifying_key())
            .expect("every receipt's checkpoint is cosigned by the witness");
        n += 1;
    }
    assert!(n >= 2, "{n} receipts");

    // The witness goes away: nothing more is acknowledged.
    drop(witness);
    let second = d.join("second.jsonl");
    std::fs::write(&second, events(20, 10)).expect("write");
    let later = d.join("later-receipts");
    let (code, out, err) = append(&second, &later);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("503") && err.contains(WITNESS), "{err}");
    assert!(
        std::fs::read_dir(&later).map_or(true, |mut r| r.next().is_none()),
        "no receipt without the quorum"
    );
    // Back (same state, same address): the same file again is
    // acknowledged (its submissions were made durable before the quorum
    // failed, so these are duplicates) with cosigned receipts.
    let witness = serve_on(d, &state, &[], &witness_addr);
    let (code, out, err) = append(&second, &later);
    assert_eq!(code, 0, "{out}{err}");
    let mut m = 0;
    for e in std::fs::read_dir(&later).expect("receipts") {
        let r = cfr_bundle_format::receipt::Receipt::decode(
            &std::fs::read(e.expect("entry").path()).expect("read"),
        )
        .expect("receipt");
        r.signed_checkpoint()
            .expect("note")
            .verify_cosignature(WITNESS, &witness_key().verifying_key())
            .expect("cosigned");
        m += 1;
    }
    assert!(m >= 1);
    drop(witness);
    let _ = rec.kill();
    let _ = rec.wait();

    // The sealed bundle meets [require] witnesses = 1 with the pinned key.
    let bundle = d.join("cosigned-log.cfr");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&log)
        .arg("--key")
        .arg(s.join("keys/recorder.key"))
        .arg("-o")
        .arg(&bundle));
    assert_eq!(code, 0, "{out}{err}");
    let trust = d.join("trust.toml");
    std::fs::write(
        &trust,
        format!(
            "[keys.witnesses]\n{WITNESS} = \"{}\"\n\n[require]\nwitnesses = 1\n",
            public(&witness_key())
        ),
    )
    .expect("trust");
    let (code, out, err) = run(cfr().arg("verify").arg(&bundle).arg("--trust").arg(&trust));
    assert!(
        out.contains(WITNESS) && !out.contains("witness-quorum-not-met"),
        "{out}{err}"
    );
    let _ = code;
}
