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
    let (code, out, err) = run(cfr()
        .args(["log", "append", "--dir"])
        .arg(&dir)
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
    let (code, _, err) = run(cfr().args(["log", "append", "--dir"]).arg(&dir).arg(&bad));
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");

    let (code, note, err) = run(cfr()
        .args(["log", "checkpoint", "--dir"])
        .arg(&dir)
        .arg("--key")
        .arg(key("recorder")));
    assert_eq!(code, 0, "{err}");
    assert!(
        note.starts_with("cfr/acme-objstore-2026-03\n41\n"),
        "{note}"
    );
    let (code, out, err) = run(cfr()
        .args(["log", "prove", "--seq", "7", "--dir"])
        .arg(&dir));
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
        .arg("--dir")
        .arg(&dir));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("consistent"), "{out}");
    // Swapped: the larger one cannot be a prefix of the smaller.
    let (code, out, _) = run(cfr()
        .args(["log", "prove", "--consistency"])
        .arg(&new)
        .arg(&old)
        .arg("--dir")
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
