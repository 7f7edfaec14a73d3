//! Trusted time (DESIGN.md section 14): `seal --tsa` and `log seal --tsa`
//! against a real RFC 3161 TSA made here with OpenSSL (`openssl ts`,
//! served over HTTP on 127.0.0.1 by a thread of this test), and check 2
//! verifying the token offline against a pinned certificate. OpenSSL is
//! required: without it these tests fail, they do not skip.

use crate::util::*;
use cfr_bundle_format::layout;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A time-stamping authority: a CA, a TSA certificate it issued (critical
/// extended key usage timeStamping), and `openssl ts -reply` behind an
/// HTTP endpoint.
struct Tsa {
    dir: tempfile::TempDir,
    url: String,
    /// The Content-Type of every request it was sent.
    requests: Arc<Mutex<Vec<String>>>,
}

impl Tsa {
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    fn cert(&self) -> PathBuf {
        self.dir.path().join("tsa.pem")
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the timestamp tests need OpenSSL (`openssl` on PATH; .ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a CA and a TSA certificate (`key` being `genpkey` options) in a
/// temporary directory and serves `openssl ts -reply` over HTTP.
fn start_tsa(name: &str, key: &[&str]) -> Tsa {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("ext.cnf"),
        "[tsa]\nbasicConstraints = critical, CA:false\nkeyUsage = critical, digitalSignature, nonRepudiation\nextendedKeyUsage = critical, timeStamping\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .expect("write");
    std::fs::write(
        d.join("ts.cnf"),
        "[tsa]\ndefault_tsa = tsa_config\n[tsa_config]\ndir = .\nserial = $dir/serial\ncrypto_device = builtin\nsigner_cert = $dir/tsa.pem\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = no\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
    )
    .expect("write");
    std::fs::write(d.join("serial"), "01\n").expect("write");
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ca.key",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-days",
            "30",
            "-subj",
            &format!("/CN={name} CA/O=cfr tests"),
            "-addext",
            "basicConstraints=critical,CA:true",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        ],
    );
    let mut gen = vec!["genpkey"];
    gen.extend_from_slice(key);
    gen.extend_from_slice(&["-out", "tsa.key"]);
    openssl(d, &gen);
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "tsa.key",
            "-subj",
            &format!("/CN={name}/O=cfr tests"),
            "-out",
            "tsa.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "tsa",
            "-out",
            "tsa.pem",
        ],
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/tsr", listener.local_addr().expect("addr"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let root = d.to_owned();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { continue };
            let _ = answer(conn, &root, n, &seen);
        }
    });
    Tsa { dir, url, requests }
}

/// One HTTP/1.1 exchange: the request body to `openssl ts -reply`, its
/// reply back as `application/timestamp-reply`.
fn answer(
    conn: std::net::TcpStream,
    root: &Path,
    n: usize,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut length = 0usize;
    let mut ctype = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "content-type" => ctype = v.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    seen.lock().expect("lock").push(ctype.clone());
    let query = root.join(format!("q{n}.tsq"));
    let reply = root.join(format!("r{n}.tsr"));
    std::fs::write(&query, &body)?;
    let ok = ctype == "application/timestamp-query"
        && Command::new("openssl")
            .args(["ts", "-reply", "-config", "ts.cnf", "-queryfile"])
            .arg(&query)
            .arg("-out")
            .arg(&reply)
            .current_dir(root)
            .output()
            .is_ok_and(|o| o.status.success());
    let mut w = conn;
    if ok {
        let bytes = std::fs::read(&reply)?;
        write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        )?;
        w.write_all(&bytes)?;
    } else {
        write!(
            w,
            "HTTP/1.1 415 Unsupported Media Type\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
    }
    w.flush()
}

fn rsa_tsa() -> Tsa {
    start_tsa(
        "cfr test TSA",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    )
}

/// Seals the first `n` sample events with `seal --tsa`.
fn seal_stamped(dir: &Path, name: &str, n: usize, tsa: &Tsa) -> (PathBuf, String) {
    let events = dir.join(format!("{name}.jsonl"));
    std::fs::write(&events, sample_events(n)).expect("write");
    let out = dir.join(name);
    let s = sample_dir();
    let (code, o, e) = run(cfr()
        .arg("seal")
        .arg(&events)
        .arg("--contract")
        .arg(s.join("contract.toml"))
        .arg("--key")
        .arg(s.join("keys/recorder.key"))
        .arg("--no-analyzer")
        .args(["--tsa", &tsa.url])
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{o}{e}");
    (out, o)
}

fn verify_json(bundle: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let (code, out, err) = run(cfr().arg("verify").arg(bundle).arg("--json").args(args));
    let j = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    (code, j, format!("{out}{err}"))
}

fn codes(j: &serde_json::Value) -> Vec<String> {
    j["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["failures"].as_array().cloned().unwrap_or_default())
        .map(|f| f["code"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn check2(j: &serde_json::Value) -> &serde_json::Value {
    &j["checks"][1]
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// Replaces (or inserts after manifest.sig) the bundle's manifest.tsr.
fn with_tsr(bundle: &Path, tsr: &[u8], out: &Path) {
    let mut ms = members(&std::fs::read(bundle).expect("read"));
    match ms.iter_mut().find(|(n, _)| n == layout::MANIFEST_TSR) {
        Some((_, d)) => *d = tsr.to_vec(),
        None => {
            let at = ms
                .iter()
                .position(|(n, _)| n == layout::MANIFEST_SIG)
                .expect("sig");
            ms.insert(at + 1, (layout::MANIFEST_TSR.to_owned(), tsr.to_vec()));
        }
    }
    std::fs::write(out, write_members(&ms)).expect("write");
}

fn member(bundle: &Path, name: &str) -> Vec<u8> {
    members(&std::fs::read(bundle).expect("read"))
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in {}", bundle.display()))
        .1
}

#[test]
fn seal_tsa_stamps_the_manifest_and_verify_checks_it_offline_against_the_pinned_ca() {
    let tsa = rsa_tsa();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (b, said) = seal_stamped(tmp.path(), "stamped.cfr", 40, &tsa);
    assert!(
        said.contains("Timestamp    20") && said.contains("by O=cfr tests,CN=cfr test TSA"),
        "{said}"
    );
    assert_eq!(
        *tsa.requests.lock().expect("lock"),
        ["application/timestamp-query"]
    );
    // manifest.tsr stands right after manifest.sig.
    let names: Vec<String> = members(&std::fs::read(&b).expect("read"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let at = names
        .iter()
        .position(|n| n == layout::MANIFEST_SIG)
        .expect("sig");
    assert_eq!(names[at + 1], layout::MANIFEST_TSR, "{names:?}");
    let readme = String::from_utf8(member(&b, layout::README)).expect("utf8");
    assert!(
        readme.contains("manifest.tsr is an RFC 3161 time-stamp reply"),
        "{readme}"
    );

    // Pinned by the CA: check 2 passes and says who stamped it and when.
    let (code, j, raw) = verify_json(&b, &["--tsa-cert", path(&tsa.ca())]);
    assert_eq!(code, 0, "{raw}");
    assert_eq!(check2(&j)["status"], "pass", "{raw}");
    let notes = check2(&j)["notes"].to_string();
    assert!(
        notes.contains("timestamped by O=cfr tests,CN=cfr test TSA at 20"),
        "{notes}"
    );
    assert!(notes.contains("issued by the pinned"), "{notes}");
    let time = j["timestamp"]["time"]
        .as_str()
        .expect("the JSON gives the time");
    assert!(time.starts_with("20") && time.ends_with('Z'), "{time}");
    assert_eq!(j["timestamp"]["pinned"], "issuer");
    assert!(!j["missing"].to_string().contains("timestamp"), "{raw}");
    // Pinned by the TSA's own certificate.
    let (code, j, raw) = verify_json(&b, &["--tsa-cert", path(&tsa.cert())]);
    assert_eq!(code, 0, "{raw}");
    assert_eq!(j["timestamp"]["pinned"], "tsa");
    assert_eq!(j["timestamp"]["time"].as_str(), Some(time));
    // The text report shows it too.
    let (code, out, err) = run(cfr()
        .arg("verify")
        .arg(&b)
        .args(["--tsa-cert", path(&tsa.ca())]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "Timestamp {time} by O=cfr tests,CN=cfr test TSA (RFC 3161, verified)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "timestamped by O=cfr tests,CN=cfr test TSA at {time}"
        )),
        "{out}"
    );

    // Nothing pinned: not checked, and the result says so; never a pass.
    let (code, j, raw) = verify_json(&b, &[]);
    assert_eq!(code, 0, "{raw}");
    assert!(
        check2(&j)["notes"]
            .to_string()
            .contains("timestamp not checked: no TSA certificate pinned"),
        "{raw}"
    );
    assert!(
        j["missing"]
            .to_string()
            .contains("timestamp not checked: no TSA certificate pinned"),
        "{raw}"
    );
    assert_eq!(j["result"], "INTACT");
    assert_eq!(j["timestamp"], serde_json::Value::Null);
}

#[test]
fn openssl_ts_verify_accepts_the_token_the_bundle_carries() {
    let tsa = rsa_tsa();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (b, _) = seal_stamped(tmp.path(), "stamped.cfr", 10, &tsa);
    // Unpacked with tar, as anyone would.
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).expect("mkdir");
    let st = Command::new("tar")
        .arg("-xf")
        .arg(&b)
        .arg("-C")
        .arg(&x)
        .status()
        .expect("tar");
    assert!(st.success());
    let out = Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(x.join("manifest.cbor"))
        .arg("-in")
        .arg(x.join("manifest.tsr"))
        .arg("-CAfile")
        .arg(tsa.ca())
        .arg("-untrusted")
        .arg(tsa.cert())
        .output()
        .expect("openssl");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("Verification: OK"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And OpenSSL refuses it over another manifest.
    std::fs::write(x.join("other.cbor"), b"another manifest").expect("write");
    let st = Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(x.join("other.cbor"))
        .arg("-in")
        .arg(x.join("manifest.tsr"))
        .arg("-CAfile")
        .arg(tsa.ca())
        .output()
        .expect("openssl");
    assert!(!st.status.success());
}

#[test]
fn a_flipped_token_byte_another_manifests_token_and_an_unpinned_tsa_each_fail_with_their_own_code()
{
    let tsa = rsa_tsa();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (a, _) = seal_stamped(t, "a.cfr", 30, &tsa);
    let (b, _) = seal_stamped(t, "b.cfr", 31, &tsa);
    let ca = path(&tsa.ca()).to_owned();
    let tsr = member(&a, layout::MANIFEST_TSR);

    // A flipped byte in the signature (the reply's last bytes), and one in
    // the TSTInfo (its genTime).
    let mut in_sig = tsr.clone();
    let last = in_sig.len() - 1;
    in_sig[last] ^= 0x01;
    let mut in_time = tsr.clone();
    let year = in_time
        .windows(4)
        .position(|w| w == b"2026" || w == b"2027")
        .expect("genTime");
    in_time[year + 3] ^= 0x01;
    for (what, bad) in [("signature", in_sig), ("genTime", in_time)] {
        let out = t.join(format!("flipped-{what}.cfr"));
        with_tsr(&a, &bad, &out);
        let (code, j, raw) = verify_json(&out, &["--tsa-cert", &ca]);
        assert_eq!(code, 1, "{what}: {raw}");
        assert_eq!(codes(&j), ["timestamp-invalid"], "{what}: {raw}");
        assert_eq!(j["timestamp"], serde_json::Value::Null);
    }

    // b's token in a: a genuine token by the pinned TSA, over another
    // manifest (a's manifest and its signature are untouched).
    let swapped = t.join("swapped.cfr");
    with_tsr(&a, &member(&b, layout::MANIFEST_TSR), &swapped);
    let (code, j, raw) = verify_json(&swapped, &["--tsa-cert", &ca]);
    assert_eq!(code, 1, "{raw}");
    assert_eq!(codes(&j), ["timestamp-imprint-mismatch"], "{raw}");
    assert!(raw.contains("not over this manifest.cbor"), "{raw}");
    // ... and a forger who re-signs a's manifest changes nothing.
    let mut ms = members(&std::fs::read(&swapped).expect("read"));
    let m = cfr_bundle_format::manifest::Manifest::from_cbor(&ms[1].1).expect("manifest");
    let resigned = t.join("resigned.cfr");
    std::fs::write(&resigned, resign(&mut ms, m, &recorder_key())).expect("write");
    let (_, j, raw) = verify_json(&resigned, &["--tsa-cert", &ca]);
    assert_eq!(codes(&j), ["timestamp-imprint-mismatch"], "{raw}");

    // Another TSA (its own CA and certificate) is pinned: untrusted.
    let other = start_tsa(
        "another TSA",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    for pin in [other.ca(), other.cert()] {
        let (code, j, raw) = verify_json(&a, &["--tsa-cert", path(&pin)]);
        assert_eq!(code, 1, "{raw}");
        assert_eq!(codes(&j), ["timestamp-untrusted"], "{raw}");
        assert!(
            raw.contains("neither the pinned TSA certificate nor issued by it"),
            "{raw}"
        );
    }
    // The other (ECDSA P-384) TSA's own bundles verify under its pin.
    let (c, _) = seal_stamped(t, "c.cfr", 5, &other);
    let (code, j, raw) = verify_json(&c, &["--tsa-cert", path(&other.ca())]);
    assert_eq!(code, 0, "{raw}");
    assert!(
        j["timestamp"]["tsa"]
            .as_str()
            .is_some_and(|s| s.contains("CN=another TSA")),
        "{raw}"
    );

    // A pinned TSA and a bundle without a token: the pin is not met.
    let plain = seal_small(t, "plain.cfr", &sample_events(10), 1 << 20);
    let (code, j, raw) = verify_json(&plain, &["--tsa-cert", &ca]);
    assert_eq!(code, 1, "{raw}");
    assert_eq!(codes(&j), ["timestamp-missing"], "{raw}");
    // A reply that is not one.
    let junk = t.join("junk.cfr");
    with_tsr(&plain, b"not a time-stamp reply", &junk);
    let (_, j, raw) = verify_json(&junk, &[]);
    assert_eq!(codes(&j), ["timestamp-invalid"], "{raw}");
}

#[test]
fn manifest_tsr_stands_only_right_after_manifest_sig_and_once() {
    let tsa = rsa_tsa();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (a, _) = seal_stamped(t, "a.cfr", 10, &tsa);
    let ms = members(&std::fs::read(&a).expect("read"));
    let at = ms
        .iter()
        .position(|(n, _)| n == layout::MANIFEST_TSR)
        .expect("tsr");
    // Moved after the schemas, or before manifest.sig.
    for to in [at + 2, at - 1] {
        let mut moved = ms.clone();
        let m = moved.remove(at);
        moved.insert(to, m);
        let out = t.join("moved.cfr");
        std::fs::write(&out, write_members(&moved)).expect("write");
        let (code, j, raw) = verify_json(&out, &[]);
        assert_eq!(code, 1, "{raw}");
        assert_eq!(codes(&j), ["member-order"], "{raw}");
    }
    // Twice (the writer refuses that: written as manifest.tsq, then the
    // header's name and checksum patched).
    let mut twice = ms.clone();
    twice.insert(at + 1, ("manifest.tsq".to_owned(), ms[at].1.clone()));
    let mut bytes = write_members(&twice);
    let h = bytes
        .chunks(512)
        .position(|b| b.starts_with(b"manifest.tsq\0"))
        .expect("header")
        * 512;
    bytes[h + 11] = b'r';
    bytes[h + 148..h + 156].copy_from_slice(b"        ");
    let sum: u32 = bytes[h..h + 512].iter().map(|b| u32::from(*b)).sum();
    bytes[h + 148..h + 156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let out = t.join("twice.cfr");
    std::fs::write(&out, bytes).expect("write");
    let (code, j, raw) = verify_json(&out, &[]);
    assert_eq!(code, 1, "{raw}");
    assert!(
        codes(&j)
            .iter()
            .all(|c| c.starts_with("archive-") || c == "member-order"),
        "{raw}"
    );
    // Listed in the manifest (it cannot be: it covers the manifest).
    let mut listed = ms.clone();
    let mut m = cfr_bundle_format::manifest::Manifest::from_cbor(&ms[1].1).expect("manifest");
    m.members.insert(
        0,
        cfr_bundle_format::manifest::MemberEntry {
            name: layout::MANIFEST_TSR.into(),
            size: ms[at].1.len() as u64,
            sha256: sha2::Digest::finalize(sha2::Digest::chain_update(
                <sha2::Sha256 as sha2::Digest>::new(),
                &ms[at].1,
            ))
            .into(),
        },
    );
    let mb = m.to_cbor();
    listed[1].1 = mb.clone();
    let sig = cfr_bundle_format::cose::sign_detached(
        &recorder_key(),
        &mb,
        cfr_bundle_format::seal::MANIFEST_CONTENT_TYPE,
    )
    .expect("sign");
    listed[2].1 = sig;
    let out = t.join("listed.cfr");
    std::fs::write(&out, write_members(&listed)).expect("write");
    let (code, j, raw) = verify_json(&out, &[]);
    assert_eq!(code, 1, "{raw}");
    // (and the token is no longer over the manifest, which changed)
    assert_eq!(
        codes(&j),
        ["member-missing", "timestamp-imprint-mismatch"],
        "{raw}"
    );
}

#[test]
fn the_trust_policy_pins_the_tsa_and_requires_a_timestamp() {
    let tsa = rsa_tsa();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (a, _) = seal_stamped(t, "a.cfr", 20, &tsa);
    let plain = seal_small(t, "plain.cfr", &sample_events(20), 1 << 20);
    // The CA beside the policy, named relative to it.
    std::fs::copy(tsa.ca(), t.join("tsa-ca.pem")).expect("copy");
    let recorder = sample_dir().join("keys/recorder.pub");
    let policy = |extra: &str| {
        let p = t.join("trust.toml");
        std::fs::write(
            &p,
            format!("[keys]\nrecorder = {:?}\n{extra}", path(&recorder)),
        )
        .expect("write");
        p
    };
    // Pinned and required: met.
    let p = policy("tsa = \"tsa-ca.pem\"\n[require]\ntimestamp = true\n");
    let (code, j, raw) = verify_json(&a, &["--trust", path(&p)]);
    assert_eq!(code, 0, "{raw}");
    assert_eq!(check2(&j)["status"], "pass", "{raw}");
    assert!(j["timestamp"]["time"].is_string(), "{raw}");
    // Required, and the bundle has none.
    let (code, j, raw) = verify_json(&plain, &["--trust", path(&p)]);
    assert_eq!(code, 1, "{raw}");
    assert_eq!(codes(&j), ["timestamp-missing"], "{raw}");
    // Required without a pinned TSA: a token nobody vouches for does not meet it.
    let p = policy("[require]\ntimestamp = true\n");
    let (code, j, raw) = verify_json(&a, &["--trust", path(&p)]);
    assert_eq!(code, 1, "{raw}");
    assert_eq!(codes(&j), ["timestamp-untrusted"], "{raw}");
    let (_, j, raw) = verify_json(&plain, &["--trust", path(&p)]);
    assert_eq!(codes(&j), ["timestamp-missing"], "{raw}");
    // --tsa-cert over the file's pin.
    let p = policy("tsa = \"tsa-ca.pem\"\n");
    let other = start_tsa(
        "another TSA",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let (code, j, raw) = verify_json(&a, &["--trust", path(&p), "--tsa-cert", path(&other.ca())]);
    assert_eq!(code, 1, "{raw}");
    assert_eq!(codes(&j), ["timestamp-untrusted"], "{raw}");
    // A pin that is no certificate is a usage error naming the line.
    let p = policy("tsa = \"trust.toml\"\n");
    let (code, _, raw) = verify_json(&a, &["--trust", path(&p)]);
    assert_eq!(code, 2, "{raw}");
    assert!(raw.contains("line 3, keys.tsa"), "{raw}");
    let (code, _, raw) = verify_json(&a, &["--tsa-cert", path(&recorder)]);
    assert_eq!(code, 2, "{raw}");
    assert!(raw.contains("--tsa-cert"), "{raw}");
}

#[test]
fn log_seal_tsa_stamps_a_recorder_log() {
    let tsa = start_tsa(
        "cfr log TSA",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let dir = t.join("log");
    let (code, out, err) = run(cfr()
        .args(["log", "init"])
        .arg(&dir)
        .arg("--contract")
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 0, "{out}{err}");
    // Provider events without their time: the recorder assigns it.
    let events: String = sample_events(400)
        .lines()
        .filter(|l| l.contains("\"actor\":\"provider\""))
        .take(12)
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            v.as_object_mut().expect("object").remove("time");
            format!("{v}\n")
        })
        .collect();
    assert!(events.lines().count() >= 5, "{events}");
    std::fs::write(t.join("events.jsonl"), &events).expect("write");
    let provider = sample_dir().join("keys/provider.key");
    let (code, out, err) = run(cfr()
        .args(["log", "append"])
        .arg(t.join("events.jsonl"))
        .arg(&dir)
        .arg("--key")
        .arg(format!("provider={}", path(&provider))));
    assert_eq!(code, 0, "{out}{err}");
    let b = t.join("log.cfr");
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .arg("--key")
        .arg(sample_dir().join("keys/recorder.key"))
        .args(["--no-analyzer", "--tsa", &tsa.url, "-o"])
        .arg(&b));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Timestamp    20") && out.contains("CN=cfr log TSA"),
        "{out}"
    );
    let (code, j, raw) = verify_json(&b, &["--tsa-cert", path(&tsa.ca())]);
    assert_eq!(code, 0, "{raw}");
    assert!(
        check2(&j)["notes"]
            .to_string()
            .contains("timestamped by O=cfr tests,CN=cfr log TSA at 20"),
        "{raw}"
    );

    // A TSA that answers something else: the seal fails, nothing is written.
    let bad = t.join("bad.cfr");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut c = conn;
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        }
    });
    let (code, out, err) = run(cfr()
        .args(["log", "seal"])
        .arg(&dir)
        .arg("--key")
        .arg(sample_dir().join("keys/recorder.key"))
        .args(["--no-analyzer", "--tsa", &url, "-o"])
        .arg(&bad));
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("time-stamp") && err.contains("TimeStampResp"),
        "{err}"
    );
    assert!(!bad.exists());
}
