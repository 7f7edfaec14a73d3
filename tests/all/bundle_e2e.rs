//! The command line end to end: keygen, seal, verify, inspect, extract.

use crate::util::*;
use std::collections::BTreeMap;
use std::path::Path;

fn seal_sample(dir: &Path, events: &Path, extra: &[&str]) -> (i32, String, String) {
    seal_sample_into(&dir.join("evidence.cfr"), events, extra)
}

#[test]
fn keygen_writes_private_keys_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("alice");
    let (code, out, _) = run(cfr().arg("keygen").arg(&base));
    assert_eq!(code, 0);
    assert!(out.contains("ed25519:"));
    let pem = std::fs::read_to_string(dir.path().join("alice.key")).expect("key");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("alice.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (code, _, err) = run(cfr().arg("keygen").arg(&base));
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("alice.key")).expect("key"),
        pem
    );
}

#[test]
fn seal_then_verify_the_sample_with_and_without_pinned_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = seal_sample(
        dir.path(),
        &sample_dir().join("events.jsonl"),
        &["--no-analyzer"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("sealed 3000 events"), "{out}");
    let b = dir.path().join("evidence.cfr");

    let (code, out, _) = run(cfr().arg("verify").arg(&b));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("NOT pinned"), "{out}");
    assert!(out.contains("Keys not pinned"), "{out}");
    assert!(
        out.contains("Result    INTACT (integrity and signatures hold; missing: keys not pinned: recorder, provider, user, grid"),
        "{out}"
    );

    let keys = sample_dir().join("keys");
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--json")
        .arg("--recorder-key")
        .arg(keys.join("recorder.pub"))
        .arg("--provider-key")
        .arg(keys.join("provider.pub"))
        .arg("--user-key")
        .arg(keys.join("user.pub")));
    assert_eq!(code, 0, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    // Intact, not verified: the grid's key is not pinned and the
    // contract was sealed without the parties' signatures.
    assert_eq!(j["verified"], false);
    assert_eq!(j["intact"], true);
    assert_eq!(j["result"], "INTACT");
    assert_eq!(j["missing"][0], "keys not pinned: grid");
    assert_eq!(j["bundle"]["events"], 3000);
    let checks = j["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 8);
    for c in checks {
        assert_ne!(c["status"], "fail", "{c}");
    }
    // The checks really ran.
    assert_eq!(checks[0]["status"], "pass");
    assert_eq!(checks[1]["status"], "pass");
    assert_eq!(checks[2]["status"], "pass");
    assert_eq!(checks[3]["status"], "pass");

    // A wrong pinned key: exit 1, named.
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--json")
        .arg("--recorder-key")
        .arg(keys.join("user.pub")));
    assert_eq!(code, 1);
    assert!(out.contains("key-pin-mismatch"), "{out}");

    // A trust file.
    let trust = dir.path().join("trust.toml");
    let rec = std::fs::read_to_string(keys.join("recorder.pub")).expect("pub");
    std::fs::write(&trust, format!("[keys]\nrecorder = \"{}\"\n", rec.trim())).expect("write");
    let (code, out, _) = run(cfr().arg("verify").arg(&b).arg("--trust").arg(&trust));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("pinned"));
}

#[test]
fn unreadable_input_exits_2_and_usage_errors_too() {
    let (code, _, err) = run(cfr().arg("verify").arg("/nonexistent/evidence.cfr"));
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(cfr().arg("verify"));
    assert_eq!(code, 2);
}

#[test]
fn tar_lists_readme_first_and_extracts_what_extract_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, sample_events(200)).expect("write");
    let (code, sealed, err) = seal_sample(dir.path(), &events, &["--no-analyzer"]);
    assert_eq!(code, 0, "{sealed}{err}");
    let b = dir.path().join("evidence.cfr");
    let Ok(listing) = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&b)
        .output()
    else {
        eprintln!("note: no tar on this machine; skipping the tar interop part");
        return;
    };
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert_eq!(listing.lines().next(), Some("README.txt"), "{listing}");

    let by_tar = dir.path().join("by-tar");
    std::fs::create_dir(&by_tar).expect("mkdir");
    let st = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&b)
        .arg("-C")
        .arg(&by_tar)
        .status()
        .expect("tar");
    assert!(st.success());
    let by_cfr = dir.path().join("by-cfr");
    let (code, out, err) = run(cfr().arg("extract").arg(&b).arg("-o").arg(&by_cfr));
    assert_eq!(code, 0, "{out}{err}");
    let tar_files = files(&by_tar);
    let mut cfr_files = files(&by_cfr);
    assert!(
        cfr_files.remove("events.jsonl").is_some(),
        "extract writes events.jsonl"
    );
    assert_eq!(tar_files, cfr_files);
    assert_eq!(tar_files.len(), listing.lines().count());

    // extract then seal reproduces the same events and the same root.
    let again = dir.path().join("again");
    std::fs::create_dir(&again).expect("mkdir");
    let (code, out2, err) = seal_sample(&again, &by_cfr.join("events.jsonl"), &["--no-analyzer"]);
    assert_eq!(code, 0, "{out2}{err}");
    let root = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("Merkle root"))
            .map(str::to_owned)
    };
    assert_eq!(root(&sealed), root(&out2));
    assert!(root(&sealed).is_some());
    assert_eq!(
        std::fs::read(&b).expect("read"),
        std::fs::read(again.join("evidence.cfr")).expect("read"),
        "sealing is deterministic"
    );
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readdir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

#[test]
fn bad_lines_are_rejected_with_their_number_and_nothing_is_written() {
    let good = sample_events(5);
    let lines: Vec<&str> = good.lines().collect();
    let cases: Vec<(String, &str)> = vec![
        (
            lines[1].replace("\"request\"", "\"teleport\""),
            "unknown event kind",
        ),
        (
            lines[1].replace("\"actor\":\"user\"", "\"actor\":\"provider\""),
            "provider",
        ),
        (lines[1].replace("\"op\":\"put\",", ""), "op"),
        (lines[1].replace("\"op\":\"put\"", "\"op\":7"), "op"),
        (lines[1].replace("2026-03-01", "2025-03-01"), "backwards"),
        ("{\"time\":".to_owned(), "not a valid event object"),
        (
            lines[1].replace("\"attrs\":{", "\"attrs\":{\"bogus\":1,"),
            "not declared",
        ),
    ];
    for (bad, why) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let events = dir.path().join("events.jsonl");
        std::fs::write(
            &events,
            format!("{}\n{}\n{bad}\n{}\n", lines[0], lines[1], lines[2]),
        )
        .expect("write");
        let (code, out, err) = seal_sample(dir.path(), &events, &["--no-analyzer"]);
        assert_eq!(code, 1, "{bad}: {out}{err}");
        assert!(err.contains("line 3"), "{bad}: {err}");
        assert!(err.contains(why), "{bad}: expected {why:?} in {err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("e").file_name())
            .collect();
        assert_eq!(left.len(), 1, "only the input remains: {left:?}");
    }
}

#[test]
fn contract_signatures_are_carried_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = sample_dir();
    for role in ["provider", "user"] {
        let (code, out, err) = run(cfr()
            .args(["contract", "sign"])
            .arg(s.join("contract.toml"))
            .arg("--key")
            .arg(s.join(format!("keys/{role}.key")))
            .args(["--role", role, "-o"])
            .arg(dir.path().join(format!("{role}.sig"))));
        assert_eq!(code, 0, "{out}{err}");
    }
    // The wrong key for a role is refused.
    let (code, _, err) = run(cfr()
        .args(["contract", "sign"])
        .arg(s.join("contract.toml"))
        .arg("--key")
        .arg(s.join("keys/user.key"))
        .args(["--role", "provider", "-o"])
        .arg(dir.path().join("bad.sig")));
    assert_eq!(code, 1, "{err}");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, sample_events(50)).expect("write");
    let p = dir.path().join("provider.sig");
    let u = dir.path().join("user.sig");
    let (code, out, err) = seal_sample(
        dir.path(),
        &events,
        &[
            "--no-analyzer",
            "--contract-sig",
            p.to_str().expect("utf8"),
            "--contract-sig",
            u.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(dir.path().join("evidence.cfr"))
        .arg("--json"));
    assert_eq!(code, 0, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(j["checks"][5]["status"], "pass", "{}", j["checks"][5]);
    assert_eq!(j["checks"][5]["notes"].as_array().expect("notes").len(), 2);
}

#[test]
fn a_bundle_sealed_with_a_fresh_openssl_key_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("rec.key");
    let Ok(st) = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .status()
    else {
        eprintln!("note: no openssl; the sample's recorder key (made by OpenSSL) covers this");
        return;
    };
    assert!(st.success());
    let (code, out, _) = run(cfr().args(["keygen"]).arg(dir.path().join("unused")));
    assert_eq!(code, 0);
    let _ = out;
    let pubkey = cfr_model::keys::PublicKey::read(&key).expect("openssl key reads");
    let contract = sample_contract().replace(
        &std::fs::read_to_string(sample_dir().join("keys/recorder.pub"))
            .expect("pub")
            .trim()
            .to_string(),
        &pubkey.to_string(),
    );
    std::fs::write(dir.path().join("contract.toml"), contract).expect("write");
    std::fs::write(dir.path().join("events.jsonl"), sample_events(30)).expect("write");
    let (code, out, err) = run(cfr()
        .arg("seal")
        .arg("--contract")
        .arg(dir.path().join("contract.toml"))
        .arg(dir.path().join("events.jsonl"))
        .arg("--key")
        .arg(&key)
        .arg("--no-analyzer")
        .arg("-o")
        .arg(dir.path().join("e.cfr")));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(dir.path().join("e.cfr"))
        .arg("--recorder-key")
        .arg(&key));
    assert_eq!(code, 0, "{out}");
}

#[test]
fn inspect_shows_members_parties_counts_and_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, sample_events(100)).expect("write");
    let (code, _, err) = seal_sample(dir.path(), &events, &["--no-analyzer"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(cfr().arg("inspect").arg(dir.path().join("evidence.cfr")));
    assert_eq!(code, 0);
    for want in [
        "README.txt",
        "manifest.cbor",
        "ACME Cloud SA",
        "100 events",
        "cfr/acme-objstore-2026-03",
        "log/events-000000.cbor.zst",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn verify_proves_a_later_bundle_extends_an_earlier_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let early = dir.path().join("early");
    let late = dir.path().join("late");
    let forked = dir.path().join("forked");
    for d in [&early, &late, &forked] {
        std::fs::create_dir(d).expect("mkdir");
    }
    std::fs::write(early.join("events.jsonl"), sample_events(100)).expect("write");
    std::fs::write(late.join("events.jsonl"), sample_events(250)).expect("write");
    // The same 250 events, but one early event rewritten.
    let rewritten = sample_events(250).replacen("\"obj/", "\"obj/x", 1);
    std::fs::write(forked.join("events.jsonl"), rewritten).expect("write");
    for d in [&early, &late, &forked] {
        let (code, o, e) = seal_sample(d, &d.join("events.jsonl"), &["--no-analyzer"]);
        assert_eq!(code, 0, "{o}{e}");
    }
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(late.join("evidence.cfr"))
        .arg("--earlier")
        .arg(early.join("evidence.cfr")));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("extends the earlier checkpoint of size 100"),
        "{out}"
    );
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(forked.join("evidence.cfr"))
        .arg("--earlier")
        .arg(early.join("evidence.cfr")));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("earlier-checkpoint-inconsistent"), "{out}");
}

#[test]
fn a_wrong_pinned_key_for_a_role_that_signed_nothing_exits_1() {
    // The sample carries no contract signature and no attestor signs
    // anything: every pinned key is still compared with the bundle's.
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, sample_events(400)).expect("write");
    let (code, out, err) = seal_sample(dir.path(), &events, &["--no-analyzer"]);
    assert_eq!(code, 0, "{out}{err}");
    let b = dir.path().join("evidence.cfr");
    let keys = sample_dir().join("keys");
    let (code, out, _) = run(cfr()
        .arg("verify")
        .arg(&b)
        .arg("--provider-key")
        .arg(keys.join("provider.pub")));
    assert_eq!(code, 0, "{out}");

    let wrong_attestor = dir.path().join("trust.toml");
    let user = std::fs::read_to_string(keys.join("user.pub")).expect("pub");
    std::fs::write(
        &wrong_attestor,
        format!("[keys.attestors]\ngrid = \"{}\"\n", user.trim()),
    )
    .expect("write");
    for (flag, key, role) in [
        ("--provider-key", keys.join("user.pub"), "provider"),
        ("--user-key", keys.join("provider.pub"), "user"),
        ("--trust", wrong_attestor.clone(), "grid"),
    ] {
        let (code, out, _) = run(cfr().arg("verify").arg(&b).arg(flag).arg(&key));
        assert_eq!(code, 1, "{flag}: {out}");
        assert!(out.contains("VERIFICATION FAILED"), "{flag}: {out}");
        assert!(!out.contains("Result    VERIFIED"), "{flag}: {out}");
        let (code, out, _) = run(cfr()
            .arg("verify")
            .arg(&b)
            .arg("--json")
            .arg(flag)
            .arg(&key));
        assert_eq!(code, 1, "{flag}: {out}");
        let j: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(j["verified"], false);
        let c2 = &j["checks"][1];
        assert_eq!(c2["check"], 2);
        assert_eq!(c2["status"], "fail", "{flag}: {c2}");
        let failure = &c2["failures"][0];
        assert_eq!(failure["code"], "key-pin-mismatch", "{flag}: {c2}");
        assert!(
            failure["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&format!("{role} key"))),
            "{flag}: {c2}"
        );
    }
}

/// `cfr-bundle event sign` with the sample key of `role`, `input` on stdin.
fn event_sign(role: &str, input: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = cfr()
        .args(["event", "sign", "--key"])
        .arg(sample_dir().join(format!("keys/{role}.key")))
        .arg("--contract")
        .arg(sample_dir().join("contract.toml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn event_sign_signs_the_kinds_that_must_be_signed() {
    // The sample's grid outage, as the grid operator's system would write
    // it before signing: no `sig`.
    let text = std::fs::read_to_string(sample_dir().join("events.jsonl")).expect("events");
    let signed_line = text
        .lines()
        .find(|l| l.contains(r#""kind":"outage""#))
        .expect("an outage");
    let v: serde_json::Value = serde_json::from_str(signed_line).expect("json");
    let sample_sig = v["sig"].as_str().expect("signed").to_owned();
    let mut unsigned = v.clone();
    unsigned.as_object_mut().expect("object").remove("sig");
    let out = event_sign("grid", &format!("{unsigned}\n"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line out");
    // Ed25519 is deterministic: the same key over the same event gives the
    // signature the sample carries.
    assert_eq!(line["sig"].as_str(), Some(sample_sig.as_str()));
    // Without `event sign`, the unsigned line is still refused by seal.
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, format!("{unsigned}\n")).expect("write");
    let (code, _, err) = seal_sample(dir.path(), &events, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("must be signed"), "{err}");
    // And the wrong party's key is refused by `event sign`.
    let out = event_sign("provider", &format!("{unsigned}\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only the actor signs"));
}

#[test]
fn bad_inputs_get_one_line_one_prefix_and_the_documented_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let s = sample_dir();
    let text_file = d.join("notes.txt");
    std::fs::write(&text_file, "root:x:0:0:root:/root:/bin/bash\n").expect("write");
    let empty = d.join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let p = |x: &str| s.join(x).display().to_string();
    let missing = d.join("missing").display().to_string();
    let out = d.join("out.cfr").display().to_string();
    let nodir = d.join("no/such/dir/k").display().to_string();
    let bundle = seal_small(d, "small.cfr", &sample_events(50), 1 << 20);
    let typo = d.join("typo.jsonl");
    std::fs::write(
        &typo,
        "{\"time\":\"2026-03-01T00:00:00Z\",\"kind\":\"requst\",\"actor\":\"user\",\"attrs\":{}}\n",
    )
    .expect("write");
    // (arguments, exit code, what stderr's one line says)
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec!["verify".into(), missing.clone()],
            2,
            "No such file or directory",
        ),
        (
            vec![
                "seal".into(),
                "--contract".into(),
                p("contract.toml"),
                missing.clone(),
                "--key".into(),
                p("keys/recorder.key"),
                "-o".into(),
                out.clone(),
            ],
            2,
            "No such file or directory",
        ),
        (
            vec![
                "seal".into(),
                "--contract".into(),
                p("contract.toml"),
                p("events.jsonl"),
                "--key".into(),
                p("keys/recorder.pub"),
                "-o".into(),
                out.clone(),
            ],
            2,
            "is a public key",
        ),
        (vec!["keygen".into(), nodir], 2, "No such file or directory"),
        (
            vec![
                "analyze".into(),
                "--contract".into(),
                p("contract.toml"),
                typo.display().to_string(),
            ],
            1,
            "line 1: unknown event kind \"requst\"; did you mean \"request\"?",
        ),
        (
            vec![
                "report".into(),
                bundle.display().to_string(),
                "-o".into(),
                d.join("no/dir/r.html").display().to_string(),
            ],
            2,
            "no/dir/r.html: the directory does not exist",
        ),
        (
            vec![
                "log".into(),
                "checkpoint".into(),
                missing.clone(),
                "--key".into(),
                p("keys/recorder.key"),
            ],
            1,
            "is not a cfr log directory",
        ),
    ];
    for (args, code, says) in cases {
        let (got, _, err) = run(cfr().args(&args));
        assert_eq!(got, code, "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {err:?}");
        assert!(lines[0].starts_with("cfr-bundle: "), "{args:?}: {err}");
        assert!(lines[0].contains(says), "{args:?}: {err}");
        assert!(
            lines[0].matches("(os error").count() <= 1,
            "{args:?}: a cause said twice: {err}"
        );
    }
    // A report into a missing directory leaves nothing and names no
    // temporary file.
    assert!(!d.join("no").exists());
    // log append needs a target, and says which ones it takes.
    let (code, _, err) = run(cfr().args(["log", "append"]).arg(s.join("events.jsonl")));
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "needs a log directory (log append FILE DIR) or a running recorder's --url URL"
        ),
        "{err}"
    );
    // Not an archive at all: check 1 says it is not a cfr bundle.
    let (code, stdout, _) = run(cfr().arg("verify").arg(&text_file));
    assert_eq!(code, 1);
    assert!(stdout.contains("is not a cfr bundle"), "{stdout}");
    // An empty events file seals, with a word about it.
    let (code, _, err) = run(cfr()
        .arg("seal")
        .arg("--contract")
        .arg(s.join("contract.toml"))
        .arg(&empty)
        .arg("--key")
        .arg(s.join("keys/recorder.key"))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("holds no events"), "{err}");
}

/// The subcommands `cfr-bundle <path> --help` lists.
fn subcommands(path: &[String]) -> Vec<String> {
    let (code, out, err) = run(cfr().args(path).arg("--help"));
    assert_eq!(code, 0, "{path:?}: {err}");
    let Some(list) = out.split("Commands:\n").nth(1) else {
        return Vec::new();
    };
    list.lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_has_an_example_in_its_help_and_completions_are_generated() {
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    let mut leaves = 0;
    while let Some(path) = todo.pop() {
        let subs = subcommands(&path);
        if subs.is_empty() {
            leaves += 1;
            let (_, out, _) = run(cfr().args(&path).arg("--help"));
            let example = format!("Examples:\n  cfr-bundle {}", path.join(" "));
            assert!(out.contains(&example), "{path:?} has no example:\n{out}");
        }
        for s in subs {
            let mut p = path.clone();
            p.push(s);
            todo.push(p);
        }
    }
    assert!(leaves >= 20, "only {leaves} commands found");
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(cfr().args(["completions", shell]));
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("cfr-bundle") && out.contains("verify"),
            "{shell}"
        );
    }
}
