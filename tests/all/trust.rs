//! Trust that holds against the other party: exact pins, the trust
//! policy's requirements, the result words, and attribution of every event
//! to its emitter through signed submissions (DESIGN.md section 13).

use crate::util::*;
use cfr_bundle_format::layout;
use cfr_bundle_format::manifest::Manifest;
use cfr_model::Event;
use std::path::{Path, PathBuf};

fn sample_bundle() -> PathBuf {
    sealed_sample()
}

fn key(name: &str) -> String {
    sample_dir()
        .join(format!("keys/{name}.pub"))
        .to_str()
        .expect("utf8")
        .to_owned()
}

/// `verify --json` with `args`: (exit code, parsed output, raw).
fn verify_json(bundle: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let (code, out, err) = run(cfr().arg("verify").arg(bundle).arg("--json").args(args));
    let j = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    (code, j, format!("{out}{err}"))
}

fn failures(j: &serde_json::Value) -> Vec<(String, String)> {
    j["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["failures"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_owned(),
                f["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// A bundle of the sample's events under the sample contract with extra
/// TOML appended, sealed with the native verdict (the shipped analyzer
/// predates nothing here, but a contract it cannot read must not decide
/// what these tests show).
fn seal_with_contract(dir: &Path, extra_toml: &str, extra_args: &[&str]) -> PathBuf {
    let contract = dir.join("contract.toml");
    std::fs::write(&contract, format!("{}\n{extra_toml}", sample_contract())).expect("write");
    let out = dir.join("evidence.cfr");
    let s = sample_dir();
    let (code, o, e) = run(cfr()
        .arg("seal")
        .arg("--contract")
        .arg(&contract)
        .arg("--events")
        .arg(s.join("events.jsonl"))
        .arg("--key")
        .arg(s.join("keys/recorder.key"))
        .arg("--no-analyzer")
        .args(extra_args)
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{o}{e}");
    out
}

#[test]
fn the_sample_is_verified_under_its_policy_and_only_intact_without_every_pin() {
    let b = sample_bundle();
    let trust = sample_dir().join("trust.toml");
    let (code, j, raw) = verify_json(&b, &["--trust", trust.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{raw}");
    assert_eq!(j["result"], "VERIFIED", "{raw}");
    assert_eq!(j["verified"], true);
    assert_eq!(j["missing"], serde_json::json!([]));
    // Every party's events are attributed by their own signatures.
    for (party, n) in [("provider", 2221), ("user", 778), ("grid", 1)] {
        assert_eq!(j["attribution"][party]["events"], n, "{party}");
        assert_eq!(j["attribution"][party]["attributed"], n, "{party}");
    }
    // Three of four keys pinned: intact, and the lawyer is told which key.
    let (code, j, raw) = verify_json(
        &b,
        &[
            "--recorder-key",
            &key("recorder"),
            "--provider-key",
            &key("provider"),
            "--user-key",
            &key("user"),
        ],
    );
    assert_eq!(code, 0, "{raw}");
    assert_eq!(j["result"], "INTACT", "{raw}");
    assert_eq!(j["verified"], false);
    assert_eq!(j["intact"], true);
    assert_eq!(j["missing"], serde_json::json!(["keys not pinned: grid"]));
    // The text says it in one line.
    let (_, out, _) = run(cfr().arg("verify").arg(&b).args([
        "--recorder-key",
        &key("recorder"),
        "--provider-key",
        &key("provider"),
        "--user-key",
        &key("user"),
    ]));
    assert!(
        out.contains(
            "Result    INTACT (integrity and signatures hold; missing: keys not pinned: grid)"
        ),
        "{out}"
    );
    // Pinned on the command line, the attestor makes it verified.
    let (code, j, raw) = verify_json(
        &b,
        &[
            "--recorder-key",
            &key("recorder"),
            "--provider-key",
            &key("provider"),
            "--user-key",
            &key("user"),
            "--attestor-key",
            &format!("grid={}", key("grid")),
        ],
    );
    assert_eq!((code, j["result"].as_str()), (0, Some("VERIFIED")), "{raw}");
}

#[test]
fn every_mismatching_pin_fails_with_key_pin_mismatch_naming_the_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A contract naming a witness, and a bundle carrying a regulator's
    // analyzer certificate.
    let w = dir.path().join("witness");
    let reg = dir.path().join("regulator");
    let other = dir.path().join("other");
    for k in [&w, &reg, &other] {
        assert_eq!(run(cfr().arg("keygen").arg(k)).0, 0);
    }
    let wpub = std::fs::read_to_string(dir.path().join("witness.pub")).expect("pub");
    let cert = dir.path().join("certificate.sig");
    let (code, o, e) = run(cfr()
        .args(["analyzer", "certify"])
        .arg(root().join("crates/cfr-analyzer/analyzer.wasm"))
        .arg("--key")
        .arg(dir.path().join("regulator.key"))
        .arg("-o")
        .arg(&cert));
    assert_eq!(code, 0, "{o}{e}");
    let contract = dir.path().join("contract.toml");
    let text = sample_contract().replacen(
        "[parties.attestors]",
        &format!(
            "[parties.witnesses]\nacme-witness = {{ name = \"ACME Witness\", key = \"{}\" }}\n\n[parties.attestors]",
            wpub.trim()
        ),
        1,
    );
    std::fs::write(&contract, text).expect("write");
    // The witness's contract is sealed with the native verdict; the
    // regulator's certificate rides on a bundle of the sample contract.
    let s = sample_dir();
    let seal = |contract: &Path, out: &Path, extra: &[&std::ffi::OsStr]| {
        let (code, o, e) = run(cfr()
            .arg("seal")
            .arg("--contract")
            .arg(contract)
            .arg("--events")
            .arg(s.join("events.jsonl"))
            .arg("--key")
            .arg(s.join("keys/recorder.key"))
            .args(extra)
            .arg("-o")
            .arg(out));
        assert_eq!(code, 0, "{o}{e}");
    };
    let b_w = dir.path().join("w.cfr");
    seal(&contract, &b_w, &["--no-analyzer".as_ref()]);
    let b_r = dir.path().join("r.cfr");
    seal(
        &s.join("contract.toml"),
        &b_r,
        &[
            "--analyzer".as_ref(),
            root().join("crates/cfr-analyzer/analyzer.wasm").as_os_str(),
            "--analyzer-cert".as_ref(),
            cert.as_os_str(),
        ],
    );
    let wrong = dir.path().join("other.pub");
    let wrong = wrong.to_str().expect("utf8");
    let all_right = [
        ("--recorder-key", key("recorder")),
        ("--provider-key", key("provider")),
        ("--user-key", key("user")),
        ("--attestor-key", format!("grid={}", key("grid"))),
        (
            "--witness-key",
            format!("acme-witness={}", dir.path().join("witness.pub").display()),
        ),
        (
            "--regulator-key",
            dir.path().join("regulator.pub").display().to_string(),
        ),
    ];
    let args = |swap: Option<usize>| -> Vec<String> {
        all_right
            .iter()
            .enumerate()
            .flat_map(|(i, (flag, v))| {
                let v = if Some(i) == swap {
                    match *flag {
                        "--attestor-key" => format!("grid={wrong}"),
                        "--witness-key" => format!("acme-witness={wrong}"),
                        _ => wrong.to_owned(),
                    }
                } else {
                    v.clone()
                };
                [flag.to_string(), v]
            })
            .collect()
    };
    // Each bundle with only the pins that apply to it (5 for the
    // witness's contract, the sample's four and the regulator for the other).
    let for_bundle = |i: usize, a: Vec<String>| -> (PathBuf, Vec<String>) {
        let pairs: Vec<(String, String)> =
            a.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
        let (b, skip) = if i == 5 {
            (b_r.clone(), "--witness-key")
        } else {
            (b_w.clone(), "--regulator-key")
        };
        let a = pairs
            .into_iter()
            .filter(|(f, _)| f != skip)
            .flat_map(|(f, v)| [f, v])
            .collect();
        (b, a)
    };
    for i in [0, 5] {
        let (b, a) = for_bundle(i, args(None));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (code, j, raw) = verify_json(&b, &a);
        // (Intact, not verified: these bundles carry no contract signatures.)
        assert_eq!((code, j["intact"].as_bool()), (0, Some(true)), "{raw}");
        assert!(!raw.contains("key-pin-mismatch"), "{raw}");
    }
    for (i, role) in [
        "recorder",
        "provider",
        "user",
        "grid",
        "witness acme-witness",
        "regulator",
    ]
    .iter()
    .enumerate()
    {
        let (b, a) = for_bundle(i, args(Some(i)));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (code, j, raw) = verify_json(&b, &a);
        assert_eq!(code, 1, "{role}: {raw}");
        assert_eq!(j["result"], "FAILED", "{role}");
        let pins: Vec<_> = failures(&j)
            .into_iter()
            .filter(|(c, _)| c == "key-pin-mismatch")
            .collect();
        assert!(
            pins.iter().any(|(_, d)| d.contains(role)),
            "{role}: {pins:?}"
        );
    }
}

#[test]
fn a_pin_for_a_role_the_contract_lacks_is_a_usage_error() {
    let b = sample_bundle();
    for (flag, value) in [
        ("--attestor-key", format!("carrier={}", key("grid"))),
        ("--witness-key", format!("acme-witness={}", key("grid"))),
    ] {
        let (code, out, err) = run(cfr().arg("verify").arg(&b).arg(flag).arg(&value));
        assert_eq!(code, 2, "{flag}: {out}{err}");
        assert!(err.contains("does not name"), "{err}");
    }
    // The same from a trust file.
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().join("trust.toml");
    std::fs::write(
        &t,
        format!("[keys.attestors]\ncarrier = \"{}\"\n", key("grid")),
    )
    .expect("w");
    let (code, _, err) = run(cfr().arg("verify").arg(&b).arg("--trust").arg(&t));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn trust_files_take_key_paths_and_name_the_line_of_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().join("trust.toml");
    let b = sample_bundle();
    for (text, want) in [
        ("[keys]\nrecorder = \"x.pub\"\n", "line 2, keys.recorder"),
        (
            "[keys]\nrecorder = \"ed25519:AAAA\"\n",
            "line 2, keys.recorder",
        ),
        ("[keys]\nrecordr = \"ed25519:AAAA\"\n", "line 2"),
        ("[requires]\ncontract_agreed = true\n", "line 1"),
        ("[require]\ncontract_agred = true\n", "line 2"),
        ("recorder = \"ed25519:AAAA\"\n", "line 1"),
    ] {
        std::fs::write(&t, text).expect("write");
        let (code, out, err) = run(cfr().arg("verify").arg(&b).arg("--trust").arg(&t));
        assert_eq!(code, 2, "{text}: {out}{err}");
        assert!(err.contains(want), "{text}: {err}");
    }
    // A relative path is the trust file's directory's, not the caller's.
    std::fs::create_dir(dir.path().join("k")).expect("mkdir");
    std::fs::copy(
        sample_dir().join("keys/recorder.pub"),
        dir.path().join("k/r.pub"),
    )
    .expect("copy");
    std::fs::write(&t, "[keys]\nrecorder = \"k/r.pub\"\n").expect("write");
    let (code, j, raw) = verify_json(&b, &["--trust", t.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{raw}");
    assert_eq!(j["signers"][0]["role"], "recorder", "{raw}");
    assert_eq!(j["signers"][0]["pinned"], true, "{raw}");
}

#[test]
fn every_unmet_requirement_fails_with_its_own_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No contract signatures, no analyzer certificate, and events without
    // submissions: the first 200 sample events with the submission lines
    // taken out.
    let events = dir.path().join("events.jsonl");
    let plain: String = std::fs::read_to_string(sample_dir().join("events.jsonl"))
        .expect("read")
        .lines()
        .filter(|l| !l.starts_with("{\"submission\""))
        .take(200)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&events, plain).expect("write");
    let b = dir.path().join("plain.cfr");
    let s = sample_dir();
    let (code, o, e) = run(cfr()
        .arg("seal")
        .arg("--contract")
        .arg(s.join("contract.toml"))
        .arg("--events")
        .arg(&events)
        .arg("--key")
        .arg(s.join("keys/recorder.key"))
        .arg("-o")
        .arg(&b));
    assert_eq!(code, 0, "{o}{e}");
    let pins = format!(
        "[keys]\nrecorder = \"{}\"\nprovider = \"{}\"\nuser = \"{}\"\n[keys.attestors]\ngrid = \"{}\"\n",
        key("recorder"),
        key("provider"),
        key("user"),
        key("grid")
    );
    let t = dir.path().join("trust.toml");
    // Without requirements: intact, and exactly what is missing.
    std::fs::write(&t, &pins).expect("write");
    let (code, j, raw) = verify_json(&b, &["--trust", t.to_str().expect("utf8")]);
    assert_eq!((code, j["result"].as_str()), (0, Some("INTACT")), "{raw}");
    let missing: Vec<String> = j["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .map(|m| m.as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        missing
            .iter()
            .any(|m| m == "150 provider events not attributed (first at seq 0)"),
        "{missing:?}"
    );
    assert!(
        missing
            .iter()
            .any(|m| m == "50 user events not attributed (first at seq 1)"),
        "{missing:?}"
    );
    assert!(
        missing.contains(&"contract not signed by the provider and the user".to_owned()),
        "{missing:?}"
    );
    for (require, code_want, check) in [
        ("contract_agreed = true", "contract-not-agreed", 6),
        ("events_attributed = true", "events-not-attributed", 5),
        ("witnesses = 1", "witness-quorum-not-met", 4),
        ("timestamp = true", "timestamp-missing", 2),
        ("analyzer_certified = true", "analyzer-not-certified", 7),
    ] {
        std::fs::write(&t, format!("{pins}[require]\n{require}\n")).expect("write");
        let (code, j, raw) = verify_json(&b, &["--trust", t.to_str().expect("utf8")]);
        assert_eq!(code, 1, "{require}: {raw}");
        let c = &j["checks"][check - 1];
        assert_eq!(c["status"], "fail", "{require}: {c}");
        assert!(
            c["failures"].to_string().contains(code_want),
            "{require}: {c}"
        );
    }
}

#[test]
fn a_contract_requiring_attribution_fails_unattributed_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The sample's events carry submissions: attributed, so it verifies.
    let b = seal_with_contract(dir.path(), "[evidence]\nattributed = true\n", &[]);
    let r = verify_path(&b);
    assert!(r.verified(), "{:?}", failure_codes(&r));
    // Without the submission lines, every party event but the grid's
    // self-signed notice is unattributed, and the contract says that fails.
    let events = dir.path().join("plain.jsonl");
    let plain: String = std::fs::read_to_string(sample_dir().join("events.jsonl"))
        .expect("read")
        .lines()
        .filter(|l| !l.starts_with("{\"submission\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&events, plain).expect("write");
    let out = dir.path().join("plain.cfr");
    let s = sample_dir();
    let (code, o, e) = run(cfr()
        .arg("seal")
        .arg("--contract")
        .arg(dir.path().join("contract.toml"))
        .arg("--events")
        .arg(&events)
        .arg("--key")
        .arg(s.join("keys/recorder.key"))
        .arg("--no-analyzer")
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{o}{e}");
    let r = verify_path(&out);
    let c = r.check(cfr_verify::verify::CheckId::EventSignatures);
    let details: Vec<_> = c
        .failures()
        .iter()
        .map(|f| (f.code.as_str(), &f.detail))
        .collect();
    assert!(
        details
            .iter()
            .any(|(code, d)| *code == "events-not-attributed"
                && d.starts_with("2,221 provider events not attributed (first at seq 0)")),
        "{details:?}"
    );
}

/// A bundle's members: (name, bytes), in archive order.
type Members = Vec<(String, Vec<u8>)>;

/// The sample bundle's members, manifest and events of chunk 0.
fn open_sample() -> (Members, Manifest, Vec<Event>) {
    let bytes = std::fs::read(sample_bundle()).expect("read");
    let ms = members(&bytes);
    let m = Manifest::from_cbor(
        &ms.iter()
            .find(|(n, _)| n == layout::MANIFEST)
            .expect("manifest")
            .1,
    )
    .expect("manifest");
    let chunk = &ms
        .iter()
        .find(|(n, _)| *n == layout::chunk_name(0))
        .expect("chunk")
        .1;
    let raw = zstd::decode_all(&chunk[..]).expect("zstd");
    let events = cfr_model::EventSeq::new(&raw)
        .map(|r| r.expect("event").0)
        .collect();
    (ms, m, events)
}

#[test]
fn a_dropped_submission_member_is_caught_by_the_manifest_or_the_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trust = sample_dir().join("trust.toml");
    let trust = trust.to_str().expect("utf8");
    let (mut ms, m, _) = open_sample();
    let name = layout::submissions_name(0);
    ms.retain(|(n, _)| *n != name);
    // Dropped from the archive only: check 1 names the member.
    let p = dir.path().join("dropped.cfr");
    std::fs::write(&p, write_members(&ms)).expect("write");
    let (code, j, raw) = verify_json(&p, &["--trust", trust]);
    assert_eq!(code, 1, "{raw}");
    assert!(
        failures(&j)
            .iter()
            .any(|(c, d)| c == "member-missing" && d.contains(&name)),
        "{raw}"
    );
    // Dropped and the manifest re-signed by the recorder: the recorder
    // withheld the parties' signatures. The policy requires attribution,
    // so check 5 fails naming the first event no signature covers.
    let p = dir.path().join("resigned.cfr");
    std::fs::write(&p, resign(&mut ms, m, &recorder_key())).expect("write");
    let (code, j, raw) = verify_json(&p, &["--trust", trust]);
    assert_eq!(code, 1, "{raw}");
    let f = failures(&j);
    assert!(
        f.iter().any(|(c, d)| c == "events-not-attributed"
            && d.starts_with("2,221 provider events not attributed (first at seq 0)")),
        "{f:?}"
    );
    assert_eq!(j["checks"][4]["status"], "fail");
    // Without a policy it is not a failure, but never "verified".
    let (code, j, raw) = verify_json(
        &p,
        &[
            "--recorder-key",
            &key("recorder"),
            "--provider-key",
            &key("provider"),
            "--user-key",
            &key("user"),
            "--attestor-key",
            &format!("grid={}", key("grid")),
        ],
    );
    assert_eq!((code, j["result"].as_str()), (0, Some("INTACT")), "{raw}");
}

#[test]
fn an_event_altered_inside_a_submission_and_resealed_by_the_recorder_fails_check_5() {
    let (_, _, mut events) = open_sample();
    // Seq 2 is the provider's response to r-1, first of its submission.
    let e = &mut events[2];
    assert_eq!(e.kind, "response");
    e.attrs.insert("status", cfr_model::Value::Int(500));
    let mut raw = Vec::new();
    for e in &events {
        e.encode_into(&mut raw);
    }
    let bytes = std::fs::read(sample_bundle()).expect("read");
    let forged = forge_events(&bytes, raw, events.len() as u64);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("forged.cfr");
    std::fs::write(&p, forged).expect("write");
    let trust = sample_dir().join("trust.toml");
    let (code, j, raw) = verify_json(&p, &["--trust", trust.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{raw}");
    let f = failures(&j);
    // The checkpoint and manifest are the recorder's and verify; what
    // catches the recorder is the provider's own signature.
    assert_eq!(j["checks"][3]["status"], "pass", "{raw}");
    assert!(
        f.iter().any(|(c, d)| c == "submission-signature-invalid"
            && d.contains("submission \"provider-2\" by the provider (seqs 2-3)")),
        "{f:?}"
    );
}

#[test]
fn event_submit_makes_submissions_that_seal_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = sample_dir();
    let contract = s.join("contract.toml");
    let user_events = "{\"time\":\"2026-03-01T00:00:01Z\",\"kind\":\"request\",\"actor\":\"user\",\"attrs\":{\"id\":\"r-1\",\"op\":\"get\",\"object\":\"a\"}}\n\
{\"time\":\"2026-03-01T00:00:02Z\",\"kind\":\"request\",\"actor\":\"user\",\"attrs\":{\"id\":\"r-2\",\"op\":\"get\",\"object\":\"b\"}}\n";
    let submit = |key: &str, input: &str| {
        use std::io::Write as _;
        let mut child = cfr()
            .args(["event", "submit", "--id", "u-1", "--key"])
            .arg(s.join(format!("keys/{key}.key")))
            .arg("--contract")
            .arg(&contract)
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
    };
    let out = submit("user", user_events);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = String::from_utf8(out.stdout).expect("utf8");
    assert!(signed.starts_with("{\"submission\":{"), "{signed}");
    assert_eq!(signed.lines().count(), 3);
    // The provider cannot submit the user's events.
    let out = submit("provider", user_events);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only events it emitted"));
    // Sealed, the events are attributed to the user.
    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, &signed).expect("write");
    let b = dir.path().join("b.cfr");
    let (code, o, e) = seal_cli(&contract, &events, &s.join("keys/recorder.key"), &b);
    assert_eq!(code, 0, "{o}{e}");
    let (_, j, raw) = verify_json(&b, &[]);
    assert_eq!(j["attribution"]["user"]["attributed"], 2, "{raw}");
    // An event altered after signing: seal refuses and writes nothing.
    let altered = signed.replace("\"r-2\"", "\"r-9\"");
    std::fs::write(&events, altered).expect("write");
    let b2 = dir.path().join("b2.cfr");
    let (code, _, e) = seal_cli(&contract, &events, &s.join("keys/recorder.key"), &b2);
    assert_eq!(code, 1, "{e}");
    assert!(e.contains("submission \"u-1\" by the user"), "{e}");
    assert!(!b2.exists());
}

/// Text and JSON reports of `bundle` with the sample's pins, the bundle's
/// path replaced by `BUNDLE`.
fn reports(bundle: &Path) -> (String, String) {
    let trust = sample_dir().join("trust.toml");
    let trust = trust.to_str().expect("utf8");
    let text = run(cfr().arg("verify").arg(bundle).args(["--trust", trust]));
    let json = run(cfr()
        .arg("verify")
        .arg(bundle)
        .args(["--trust", trust, "--json"]));
    let path = bundle.to_str().expect("utf8");
    let fix = |(code, out, err): (i32, String, String)| {
        format!("exit {code}\n{out}{err}").replace(path, "BUNDLE")
    };
    (fix(text), fix(json))
}

/// Submission signatures are checked on every core (and the chunks read
/// ahead on another thread), yet the reports are byte for byte those of
/// the sequential verifier that wrote `tests/fixtures/reports/`: of the
/// sample, and of the sample with 1 response in 3 altered and re-sealed by
/// the recorder (more bad submissions than a report lists). To re-record
/// them: `CFR_BLESS=DIR cargo test --test all reports_are`, which also
/// copies the two bundles into DIR for an older binary to verify.
#[test]
fn reports_are_the_same_whatever_thread_checks_the_signatures() {
    let (_, _, mut events) = open_sample();
    let mut altered = 0;
    for e in events
        .iter_mut()
        .filter(|e| e.kind == "response")
        .step_by(3)
    {
        e.attrs.insert("status", cfr_model::Value::Int(500));
        altered += 1;
    }
    assert!(
        altered > cfr_bundle_format::submission::MAX_FINDINGS,
        "{altered}"
    );
    let mut raw = Vec::new();
    for e in &events {
        e.encode_into(&mut raw);
    }
    let bytes = std::fs::read(sample_bundle()).expect("read");
    let dir = tempfile::tempdir().expect("tempdir");
    let forged = dir.path().join("forged.cfr");
    std::fs::write(&forged, forge_events(&bytes, raw, events.len() as u64)).expect("write");
    let fixtures = root().join("tests/fixtures/reports");
    let bless = std::env::var_os("CFR_BLESS").map(PathBuf::from);
    for (name, bundle) in [("sample", sample_bundle()), ("forged", forged)] {
        let (text, json) = reports(&bundle);
        assert!(
            json.contains("submission-signature-invalid") == (name == "forged"),
            "{json}"
        );
        for (ext, got) in [("txt", text), ("json", json)] {
            let path = fixtures.join(format!("{name}.{ext}"));
            if let Some(copies) = &bless {
                std::fs::create_dir_all(&fixtures).expect("mkdir");
                std::fs::write(&path, &got).expect("write");
                std::fs::copy(&bundle, copies.join(format!("{name}.cfr"))).expect("copy");
            }
            let want = std::fs::read_to_string(&path).expect("read fixture");
            assert!(got == want, "{} differs:\n{got}", path.display());
        }
    }
}

/// `cfr-bundle seal` of `events` under `contract` with `key` into `out`:
/// (exit code, stdout, stderr).
fn seal_cli(contract: &Path, events: &Path, key: &Path, out: &Path) -> (i32, String, String) {
    run(cfr()
        .arg("seal")
        .arg("--contract")
        .arg(contract)
        .arg("--events")
        .arg(events)
        .arg("--key")
        .arg(key)
        .arg("-o")
        .arg(out))
}

/// A generated log of `n` events with every party's events in signed
/// submissions (one per run of a party's events, 1.5 events each on
/// average), sealed with the CLI: the bundle and the keys.
fn seal_submitted(dir: &Path, n: u64) -> (PathBuf, cfr_workload::Keys) {
    let keys = cfr_workload::Keys::from_seed(7);
    let contract = dir.join("contract.toml");
    std::fs::write(&contract, cfr_workload::contract_toml(&keys)).expect("write");
    let key = dir.join("recorder.key");
    std::fs::write(&key, cfr_model::keys::signing_key_to_pem(&keys.recorder)).expect("write");
    let mut plain = Vec::new();
    cfr_workload::Workload::march_2026(n, 7)
        .write_jsonl(&keys, &mut plain)
        .expect("generate");
    let mut signed = Vec::new();
    cfr_workload::write_submitted(&keys, &mut &plain[..], 100, &mut signed).expect("submit");
    let events = dir.join("events.jsonl");
    std::fs::write(&events, &signed).expect("write");
    let b = dir.join("many.cfr");
    let (code, o, e) = seal_cli(&contract, &events, &key, &b);
    assert_eq!(code, 0, "{o}{e}");
    (b, keys)
}

#[test]
fn submissions_in_several_members_are_read_as_the_walk_reaches_them_and_a_forged_one_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (b, keys) = seal_submitted(dir.path(), 16_000);
    let bytes = std::fs::read(&b).expect("read");
    let mut ms = members(&bytes);
    let names: Vec<String> = ms
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| layout::submissions_index(n).is_some())
        .collect();
    assert!(names.len() >= 2, "one member only: {names:?}");
    // Every event of every party is attributed, the last member's too.
    let (code, j, raw) = verify_json(&b, &[]);
    assert_eq!(code, 0, "{raw}");
    let mut events = 0;
    for (party, t) in j["attribution"].as_object().expect("attribution") {
        assert_eq!(t["attributed"], t["events"], "{party}: {raw}");
        events += t["events"].as_u64().expect("count");
    }
    assert!(events > 15_000, "{raw}");

    // The last member's last entry gets another signature, and the
    // manifest is re-signed by the recorder: check 5 names that
    // submission, and its events are the ones not attributed.
    let last = names.last().expect("a member").clone();
    let at = ms.iter().position(|(n, _)| *n == last).expect("member");
    let raw_entries = zstd::decode_all(&ms[at].1[..]).expect("zstd");
    let mut entries = cfr_bundle_format::submission::decode_seq(&raw_entries).expect("entries");
    let victim = entries.last_mut().expect("an entry");
    let wrong = cfr_bundle_format::submission::sign(&keys.user, &[7; 32]);
    victim.sig = wrong;
    let (id, first, count) = (victim.id.clone(), victim.first, victim.count);
    let mut plain = Vec::new();
    for e in &entries {
        e.encode_into(&mut plain);
    }
    ms[at].1 = zstd::encode_all(&plain[..], 3).expect("zstd");
    let b2 = dir.path().join("forged.cfr");
    let m = cfr_bundle_format::bundle::Bundle::open(&b)
        .expect("opens")
        .manifest
        .clone();
    std::fs::write(&b2, resign(&mut ms, m.clone(), &keys.recorder)).expect("write");
    let (code, j, raw) = verify_json(&b2, &[]);
    assert_eq!(code, 1, "{raw}");
    let f = failures(&j);
    assert!(
        f.iter().any(|(c, d)| c == "submission-signature-invalid"
            && d.contains(&format!("{id:?}"))
            && d.contains(&format!("seqs {first}-"))),
        "{f:?}"
    );
    assert_eq!(j["checks"][4]["status"], "fail", "{raw}");
    let unattributed = |j: &serde_json::Value| -> u64 {
        j["attribution"]
            .as_object()
            .expect("attribution")
            .values()
            .map(|t| t["events"].as_u64().unwrap_or(0) - t["attributed"].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(unattributed(&j), count, "{raw}");

    // The same member made unreadable: check 5 fails naming it, and what
    // it covered is not attributed.
    ms[at].1 = b"not zstd".to_vec();
    let b3 = dir.path().join("garbled.cfr");
    std::fs::write(&b3, resign(&mut ms, m, &keys.recorder)).expect("write");
    let (code, j, raw) = verify_json(&b3, &[]);
    assert_eq!(code, 1, "{raw}");
    let f = failures(&j);
    assert!(
        f.iter()
            .any(|(c, d)| c == "submission-invalid" && d.starts_with(&format!("{last}: "))),
        "{f:?}"
    );
    assert!(unattributed(&j) > 0, "{raw}");
}
