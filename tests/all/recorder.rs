//! `cfr-bundle log ...` end to end: init, append, checkpoint, prove,
//! serve, seal, and `verify` of what was sealed.

use crate::util::{cfr, run, sample_dir};
use std::io::{BufRead, BufReader};
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
    for line in text.lines().take(n).chain([outage]) {
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
    let (code, out, err) = run(cfr().args(["log", "append"]).arg(&events).arg(&dir));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 41);
    assert!(
        out.lines().nth(40).expect("last").contains("\"seq\":40"),
        "{out}"
    );
    // Appending the same file again appends nothing (ids from the file),
    // and says so.
    let (code, out, err) = run(cfr().args(["log", "append"]).arg(&events).arg(&dir));
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
    let (code, _, err) = run(cfr().args(["log", "append"]).arg(&bad).arg(&dir));
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
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|l| l.split_whitespace().next())
        .expect("address")
        .to_owned();
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
    let (code, out, err) = run(cfr()
        .args(["log", "append", "--url", &addr, "--batch", "7"])
        .arg(&events));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 26);
    // An unsigned event of a signed kind, on line 9 of a file sent in
    // batches of 4: rejected, and the line number is the file's.
    let mut text = events_without_time(7);
    text.push_str("{\"kind\":\"outage\",\"actor\":\"grid\",\"attrs\":{\"start\":\"2026-03-12T10:00:00Z\",\"end\":\"2026-03-12T12:00:00Z\",\"cause\":\"x\"}}\n");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, text).expect("write");
    let (code, _, err) = run(cfr()
        .args(["log", "append", "--url", &addr, "--batch", "4"])
        .arg(&bad));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 9"), "{err}");

    // --url takes a URL as well as host:port.
    let url = format!("http://{addr}/");
    let (code, note, err) = run(cfr().args(["log", "checkpoint", "--url", &url]));
    assert_eq!(code, 0, "{err}");
    let size: u64 = note.lines().nth(1).expect("size").parse().expect("number");
    assert!(size >= 26, "{note}");
    // Events after that checkpoint (this recorder signs none on its own).
    let later = tmp.path().join("later.jsonl");
    std::fs::write(&later, events_without_time(3)).expect("write");
    let (code, _, err) = run(cfr().args(["log", "append", "--url", &addr]).arg(&later));
    assert_eq!(code, 0, "{err}");
    // Sealing while the recorder serves: up to its last signed checkpoint,
    // saying what was left out.
    let out_path = tmp.path().join("live.cfr");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder"))
        .args(["--no-analyzer", "-o"])
        .arg(&out_path));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("[0, {size})")), "{out}");
    assert!(
        err.contains(&format!(
            "the log holds {} events; the 4 after the last signed checkpoint are not in this bundle",
            size + 4
        )),
        "{err}"
    );
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

#[test]
fn log_seal_seals_contract_signatures_an_analyzer_certificate_and_chunks_of_the_size_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let dir = t.join("log");
    init(&dir);
    let events = t.join("events.jsonl");
    std::fs::write(&events, events_without_time(300)).expect("write");
    let (code, _, err) = run(cfr().args(["log", "append"]).arg(&events).arg(&dir));
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
