//! `cfr-bundle log ...` end to end: init, append, checkpoint, prove,
//! serve, seal, and `verify` of what was sealed.

use crate::util::{cfr, run, sample_dir};
use std::path::Path;
use std::process::Stdio;

/// The first `n` sample events without their `time` (the recorder assigns
/// it), including the grid's signed outage.
fn events_without_time(n: usize) -> String {
    let text = std::fs::read_to_string(sample_dir().join("events.jsonl")).expect("sample");
    let mut out = String::new();
    let outage = text
        .lines()
        .find(|l| l.contains("\"outage\""))
        .expect("an outage");
    // The sample's own submission lines sign events with their times'
    // file positions; log append signs runs of its own.
    let events = text.lines().filter(|l| !l.starts_with("{\"submission\""));
    for line in events.take(n).chain([outage]) {
        let mut v: serde_json::Value = serde_json::from_str(line).expect("json");
        v.as_object_mut().expect("object").remove("time");
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn key(name: &str) -> String {
    sample_dir()
        .join(format!("keys/{name}.key"))
        .display()
        .to_string()
}

/// `--key ROLE=KEY` for each of `roles`.
fn keys(roles: &[&str]) -> Vec<String> {
    roles
        .iter()
        .flat_map(|r| ["--key".to_owned(), format!("{r}={}", key(r))])
        .collect()
}

fn init(dir: &Path) {
    let (code, out, err) = run(cfr()
        .args(["log", "init"])
        .arg(dir)
        .arg("--contract")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn log_commands_offline_seal_and_prove() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    init(&dir);
    // A second init on the same directory is refused.
    let (code, _, err) = run(cfr()
        .args(["log", "init"])
        .arg(&dir)
        .arg("--contract")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 2, "{err}");

    let events = tmp.path().join("events.jsonl");
    std::fs::write(&events, events_without_time(40)).expect("write");
    // Without a key for an actor in the file: a clear error, nothing appended.
    let (code, _, err) = run(cfr()
        .args(["log", "append", "--dir"])
        .arg(&dir)
        .args(keys(&["user"]))
        .arg(&events));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no key for \"provider\"") && err.contains("--key provider="),
        "{err}"
    );
    // A key that is not the role's.
    let (code, _, err) = run(cfr()
        .args(["log", "append", "--dir"])
        .arg(&dir)
        .args(["--key", &format!("provider={}", key("user"))])
        .arg(&events));
    assert_ne!(code, 0);
    assert!(
        err.contains("not the provider key of the contract"),
        "{err}"
    );
    let all = keys(&["provider", "user", "grid"]);
    let (code, out, err) = run(cfr()
        .args(["log", "append", "--dir"])
        .arg(&dir)
        .args(&all)
        .arg(&events));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 41);
    assert!(
        out.lines().nth(40).expect("last").contains("\"seq\":40"),
        "{out}"
    );
    // Appending the same file again appends nothing (ids from the file),
    // and says so.
    let (code, out, err) = run(cfr()
        .args(["log", "append", "--dir"])
        .arg(&dir)
        .args(&all)
        .arg(&events));
    assert_eq!(code, 0);
    assert!(
        out.lines().all(|l| l.contains("\"duplicate\":true")),
        "{out}"
    );
    assert!(
        err.contains("41 of 41 events were already in the log"),
        "{err}"
    );

    // A bad line: rejected with its number, nothing stored.
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"kind\":\"heartbeat\",\"actor\":\"provider\",\"attrs\":{}}\n{\"kind\":\"heartbeat\",\"actor\":\"user\",\"attrs\":{}}\n").expect("write");
    let (code, _, err) = run(cfr()
        .args(["log", "append", "--dir"])
        .arg(&dir)
        .args(&all)
        .arg(&bad));
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");

    let (code, note, err) = run(cfr()
        .args(["log", "checkpoint"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder")));
    assert_eq!(code, 0, "{err}");
    assert!(
        note.starts_with("cfr/acme-objstore-2026-03\n41\n"),
        "{note}"
    );
    let (code, out, err) = run(cfr().args(["log", "prove", "--seq", "7"]).arg(&dir));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["size"], 41);

    let old = tmp.path().join("old.cfr");
    let new = tmp.path().join("new.cfr");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder"))
        .args(["--no-analyzer", "--size", "20", "-o"])
        .arg(&old));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("[0, 20)"), "{out}");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder"))
        .args(["--no-analyzer", "-o"])
        .arg(&new));
    assert_eq!(code, 0, "{out}{err}");
    for b in [&old, &new] {
        let (code, out, err) = run(cfr().arg("verify").arg(b));
        assert_eq!(code, 0, "{out}{err}");
    }
    // The bundle carries the submissions' signatures: every event of the
    // whole-log seal is in a submission, and they verify.
    let entries = crate::util::bundle_submissions(&new);
    assert_eq!(entries.iter().map(|e| e.3).sum::<u64>(), 41);
    assert_eq!(entries[0].2, 0);
    let (code, out, err) = run(cfr()
        .args(["log", "prove", "--consistency"])
        .arg(&old)
        .arg(&new)
        .arg(&dir));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("consistent"), "{out}");
    // Swapped: the larger one cannot be a prefix of the smaller.
    let (code, out, _) = run(cfr()
        .args(["log", "prove", "--consistency"])
        .arg(&new)
        .arg(&old)
        .arg(&dir));
    assert_eq!(code, 1, "{out}");
}

#[test]
fn log_serve_append_over_http_and_seal_while_serving() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    init(&dir);
    let mut server = cfr()
        .args(["log", "serve"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder"))
        .args(["--listen", "127.0.0.1:0", "--checkpoint-interval", "0s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let (_, addr) = crate::util::listening(&mut server);
    // A second recorder on the same directory is refused.
    let (code, _, err) = run(cfr()
        .args(["log", "serve"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder"))
        .args(["--listen", "127.0.0.1:0"]));
    assert_eq!(code, 1);
    assert!(err.contains("locked"), "{err}");

    let events = tmp.path().join("events.jsonl");
    std::fs::write(&events, events_without_time(25)).expect("write");
    // Without the grid's key: its signed outage is relayed in the
    // provider's or the user's submission, on the strength of its own
    // signature.
    let pu = keys(&["provider", "user"]);
    let (code, out, err) = run(cfr()
        .args(["log", "append", "--url", &addr, "--batch", "7"])
        .args(&pu)
        .arg(&events));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 26);
    // A grid outage with a bad signature of its own, on line 9 of a file
    // sent in submissions of at most 4: rejected by the recorder, and the
    // line number is the file's.
    let mut text = events_without_time(7);
    text.push_str(&format!("{{\"kind\":\"outage\",\"actor\":\"grid\",\"attrs\":{{\"start\":\"2026-03-12T10:00:00Z\",\"end\":\"2026-03-12T12:00:00Z\",\"cause\":\"x\"}},\"sig\":\"{}==\"}}\n", "A".repeat(86)));
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, text).expect("write");
    let (code, _, err) = run(cfr()
        .args(["log", "append", "--url", &addr, "--batch", "4"])
        .args(&pu)
        .arg(&bad));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 9") && err.contains("bad signature"),
        "{err}"
    );

    // --url takes a URL as well as host:port.
    let url = format!("http://{addr}/");
    let (code, note, err) = run(cfr().args(["log", "checkpoint", "--url", &url]));
    assert_eq!(code, 0, "{err}");
    let size: u64 = note.lines().nth(1).expect("size").parse().expect("number");
    assert!(size >= 26, "{note}");
    // Events after that checkpoint: their receipts carry a newer one.
    let later = tmp.path().join("later.jsonl");
    std::fs::write(&later, events_without_time(3)).expect("write");
    let (code, _, err) = run(cfr()
        .args(["log", "append", "--url", &addr])
        .args(&pu)
        .arg(&later));
    assert_eq!(code, 0, "{err}");
    // Sealing while the recorder serves: up to its last signed checkpoint,
    // which every acknowledged submission is under (its receipt's).
    let out_path = tmp.path().join("live.cfr");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder"))
        .args(["--no-analyzer", "-o"])
        .arg(&out_path));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("[0, {})", size + 4)), "{out}");
    assert!(!err.contains("not in this bundle"), "{err}");
    let (code, out, err) = run(cfr().arg("verify").arg(&out_path));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(cfr().args(["log", "prove", "--seq", "3", "--url", &addr]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"path\""), "{out}");
    let _ = server.kill();
    let _ = server.wait();
}

/// The status and notes of check `n` in `verify --json`'s output.
fn check(json: &str, n: u64) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    let c = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == n)
        .expect("the check")
        .clone();
    (
        c["status"].as_str().unwrap_or_default().to_owned(),
        c["notes"].to_string(),
    )
}

/// A running `cfr-bundle log serve` on a fresh log: (process, address).
fn serve_fresh(dir: &Path) -> (std::process::Child, String) {
    init(dir);
    let mut server = cfr()
        .args(["log", "serve"])
        .arg(dir)
        .arg("--key")
        .arg(key("recorder"))
        .args(["--listen", "127.0.0.1:0", "--checkpoint-interval", "0s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let (_, addr) = crate::util::listening(&mut server);
    (server, addr)
}

/// One raw HTTP/1.1 request: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The log's size as the server tells it, and as a fresh checkpoint says.
fn sizes(addr: &str) -> (u64, u64) {
    let (status, body) = http(addr, "GET", "/v1/size", &[], b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let (status, note) = http(addr, "GET", "/v1/checkpoint", &[], b"");
    assert_eq!(status, 200, "{note}");
    let signed: u64 = note.lines().nth(1).expect("size").parse().expect("number");
    (v["size"].as_u64().expect("size"), signed)
}

const CONTRACT_ID: &str = "acme-objstore-2026-03";

fn signing_key(name: &str) -> cfr_model::keys::SigningKey {
    cfr_model::keys::read_signing_key(Path::new(&key(name))).expect("key")
}

/// A request by the user as JSON Lines and as the event signed.
fn request(n: u64) -> (String, cfr_model::Event) {
    let line = format!(
        r#"{{"kind":"request","actor":"user","attrs":{{"id":"r-{n}","op":"get","object":"obj/{n}"}}}}"#
    );
    let contract =
        cfr_contract::Contract::from_toml(&crate::util::sample_contract()).expect("contract");
    let event = cfr_recorder::submission::parse_jsonl(&contract, line.as_bytes())
        .expect("a request")
        .remove(0)
        .event;
    (line, event)
}

fn heartbeat() -> (String, cfr_model::Event) {
    let line = r#"{"kind":"heartbeat","actor":"provider","attrs":{}}"#.to_owned();
    let event = cfr_recorder::Submission::new("heartbeat", "provider", Default::default()).event;
    (line, event)
}

/// POSTs `lines` as the submission `sub` (its headers; the body given).
fn post(addr: &str, sub: &cfr_recorder::SignedSubmission, lines: &[String]) -> (u16, String) {
    let sig = sub.signature_header();
    http(
        addr,
        "POST",
        "/v1/submissions",
        &[
            ("Content-Type", "application/jsonl"),
            ("Cfr-Party", &sub.party),
            ("Cfr-Submission", &sub.id),
            ("Cfr-Signature", &sig),
        ],
        lines.join("\n").as_bytes(),
    )
}

#[test]
fn log_seal_seals_contract_signatures_an_analyzer_certificate_and_chunks_of_the_size_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let dir = t.join("log");
    init(&dir);
    let events = t.join("events.jsonl");
    std::fs::write(&events, events_without_time(300)).expect("write");
    let (code, _, err) = run(cfr()
        .args(["log", "append"])
        .arg(&events)
        .arg(&dir)
        .args(keys(&["provider", "user", "grid"])));
    assert_eq!(code, 0, "{err}");
    // The provider and the user sign the contract; a regulator certifies
    // the shipped analyzer.
    let contract = sample_dir().join("contract.toml");
    for role in ["provider", "user"] {
        let (code, _, err) = run(cfr()
            .args(["contract", "sign"])
            .arg(&contract)
            .args(["--key", &key(role), "--role", role, "-o"])
            .arg(t.join(format!("{role}.sig"))));
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = run(cfr().arg("keygen").arg(t.join("regulator")));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(cfr()
        .args(["analyzer", "certify"])
        .arg(crate::util::root().join("crates/cfr-analyzer/analyzer.wasm"))
        .arg("--key")
        .arg(t.join("regulator.key"))
        .arg("-o")
        .arg(t.join("cert.sig")));
    assert_eq!(code, 0, "{err}");

    let plain = t.join("plain.cfr");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .args(["--key", &key("recorder"), "-o"])
        .arg(&plain));
    assert_eq!(code, 0, "{out}{err}");
    let full = t.join("full.cfr");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .args(["--key", &key("recorder")])
        .arg("--contract-sig")
        .arg(t.join("provider.sig"))
        .arg("--contract-sig")
        .arg(t.join("user.sig"))
        .arg("--analyzer-cert")
        .arg(t.join("cert.sig"))
        .args(["--chunk-bytes", "8192", "-o"])
        .arg(&full));
    assert_eq!(code, 0, "{out}{err}");

    let verify = |b: &Path| {
        let (code, out, err) = run(cfr()
            .arg("verify")
            .arg(b)
            .arg("--json")
            .arg("--regulator-key")
            .arg(t.join("regulator.pub")));
        (code, out, err)
    };
    // Without the flags: no contract signatures, no certificate (which the
    // pinned regulator key requires), one chunk.
    let (code, out, _) = verify(&plain);
    assert_eq!(code, 1, "{out}");
    assert_eq!(check(&out, 6).0, "not checked");
    assert_eq!(check(&out, 7).0, "fail");
    // With them: both contract signatures verify, the certificate is the
    // pinned regulator's, and the events are in chunks of at most 8 KiB.
    let (code, out, err) = verify(&full);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(check(&out, 6).0, "pass", "{out}");
    let (status, notes) = check(&out, 7);
    assert_eq!(status, "pass");
    assert!(
        notes.contains("certified by the pinned regulator key"),
        "{notes}"
    );
    let chunks = |b: &Path| {
        let (code, out, _) = run(cfr().arg("inspect").arg(b));
        assert_eq!(code, 0);
        out.lines().filter(|l| l.contains("log/events-")).count()
    };
    assert_eq!(chunks(&plain), 1);
    assert!(chunks(&full) >= 3, "{} chunks", chunks(&full));
}

#[test]
fn the_old_spellings_still_work_unlisted() {
    // `--events F` (now positional) and `--dir DIR` (now positional) are
    // accepted as before and shown in no help.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    init(&dir);
    let events = tmp.path().join("events.jsonl");
    std::fs::write(&events, events_without_time(5)).expect("write");
    let (code, out, err) = run(cfr()
        .args(["log", "append", "--dir"])
        .arg(&dir)
        .args(keys(&["provider", "user", "grid"]))
        .arg(&events));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 6);
    let (code, _, err) = run(cfr()
        .args(["log", "checkpoint", "--key", &key("recorder"), "--dir"])
        .arg(&dir));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(cfr()
        .args(["log", "prove", "--seq", "2", "--dir"])
        .arg(&dir));
    assert_eq!(code, 0, "{err}");
    let s = sample_dir();
    let (code, out, err) = run(cfr()
        .arg("analyze")
        .arg("--contract")
        .arg(s.join("contract.toml"))
        .arg("--events")
        .arg(s.join("events.jsonl")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("116 incidents"), "{out}");
    // Both spellings at once is an error, not a guess.
    let (code, _, _) = run(cfr()
        .arg("analyze")
        .arg(s.join("events.jsonl"))
        .arg("--contract")
        .arg(s.join("contract.toml"))
        .arg("--events")
        .arg(s.join("events.jsonl")));
    assert_eq!(code, 2);
    for cmd in [
        &["seal"][..],
        &["analyze"],
        &["log", "append"],
        &["log", "prove"],
    ] {
        let (_, help, _) = run(cfr().args(cmd).arg("--help"));
        assert!(
            !help.contains("--events") && !help.contains("--dir"),
            "{cmd:?}: {help}"
        );
    }
}

#[test]
fn log_serve_refuses_unauthenticated_submissions_and_answers_replays() {
    use cfr_recorder::SignedSubmission;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut server, addr) = serve_fresh(&tmp.path().join("log"));
    let (l1, e1) = request(1);
    let (l2, e2) = request(2);
    let accepted = SignedSubmission::sign(
        CONTRACT_ID,
        "user",
        "u-1",
        vec![e1.clone(), e2.clone()],
        &signing_key("user"),
    );
    let (status, first) = post(&addr, &accepted, &[l1.clone(), l2.clone()]);
    assert_eq!(status, 200, "{first}");
    assert_eq!(sizes(&addr), (2, 2));

    // Unsigned: no Cfr-Signature.
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/submissions",
        &[("Cfr-Party", "user"), ("Cfr-Submission", "u-2")],
        l1.as_bytes(),
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("not signed"), "{body}");
    assert_eq!(sizes(&addr), (2, 2), "unsigned: something was appended");

    // Signed by the user's key, claiming to be the provider.
    let (lh, eh) = heartbeat();
    let claims = SignedSubmission::sign(
        CONTRACT_ID,
        "provider",
        "p-1",
        vec![eh.clone()],
        &signing_key("user"),
    );
    let (status, body) = post(&addr, &claims, std::slice::from_ref(&lh));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("signed with the user key"), "{body}");
    assert_eq!(sizes(&addr), (2, 2), "wrong key: something was appended");

    // A valid signature over a body altered afterwards.
    let (l3, e3) = request(3);
    let (l4, _) = request(4);
    let altered =
        SignedSubmission::sign(CONTRACT_ID, "user", "u-3", vec![e3], &signing_key("user"));
    let (status, body) = post(&addr, &altered, std::slice::from_ref(&l4));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("does not verify"), "{body}");
    assert_eq!(sizes(&addr), (2, 2), "altered: something was appended");
    let _ = l3;

    // A mixed-actor batch: the provider's heartbeat in the user's submission.
    let (l5, e5) = request(5);
    let mixed = SignedSubmission::sign(
        CONTRACT_ID,
        "user",
        "u-4",
        vec![e5, eh],
        &signing_key("user"),
    );
    let (status, body) = post(&addr, &mixed, &[l5, lh]);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("item 2") && body.contains("by the user"),
        "{body}"
    );
    assert_eq!(sizes(&addr), (2, 2), "mixed: something was appended");

    // A replay of the accepted submission: its original receipts.
    let (status, again) = post(&addr, &accepted, &[l1, l2]);
    assert_eq!(status, 200, "{again}");
    let receipts = |text: &str| -> Vec<(u64, String, i64)> {
        let v: serde_json::Value = serde_json::from_str(text).expect("json");
        v["receipts"]
            .as_array()
            .expect("receipts")
            .iter()
            .map(|r| {
                (
                    r["seq"].as_u64().expect("seq"),
                    r["leaf"].as_str().expect("leaf").to_owned(),
                    r["time_ns"].as_i64().expect("time"),
                )
            })
            .collect()
    };
    assert_eq!(receipts(&first), receipts(&again));
    assert!(again.contains("\"duplicate\":true"), "{again}");
    assert_eq!(sizes(&addr), (2, 2), "replay: something was appended");
    let _ = server.kill();
    let _ = server.wait();
}

/// A submission made by an independent COSE implementation (Python's
/// pycose, digest with cbor2) from the design's definition is accepted.
#[test]
fn a_submission_signed_with_pycose_is_accepted() {
    // A test that cannot run fails, unless skipping is asked for by name
    // outside CI (as with the Chromium test).
    let ok = std::process::Command::new("python3")
        .args(["-c", "import pycose, cbor2, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CFR_SKIP_PYCOSE").is_some_and(|v| v == "1")
            && std::env::var_os("CI").is_none()
        {
            return;
        }
        panic!(
            "python3 with pycose and cbor2 is needed (python3 -m pip install pycose cbor2; .ci/run installs them); to skip this test on purpose outside CI, set CFR_SKIP_PYCOSE=1"
        );
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut server, addr) = serve_fresh(&tmp.path().join("log"));
    let script = crate::util::root().join("tests/all/interop/pycose_submit.py");
    let py = |id: &str| {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(&addr)
            .arg(key("user"))
            .arg(CONTRACT_ID)
            .arg(id)
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let out = py("pycose-1");
    assert!(out.starts_with("200\n"), "{out}");
    assert!(out.contains("\"count\":2"), "{out}");
    assert_eq!(sizes(&addr).0, 2);
    // The same again is a replay: nothing appended.
    let out = py("pycose-1");
    assert!(
        out.starts_with("200\n") && out.contains("\"duplicate\":true"),
        "{out}"
    );
    assert_eq!(sizes(&addr).0, 2);
    let _ = server.kill();
    let _ = server.wait();
}
