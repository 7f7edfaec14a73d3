//! Shared helpers: the sample contract and keys, logs, servers, raw HTTP.

use cfr_model::keys::{read_signing_key, SigningKey};
use cfr_model::{Attrs, Value};
use cfr_recorder::server::{serve, ServerOptions};
use cfr_recorder::{init, Recorder, RecorderOptions, SignedSubmission, Submission};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month")
}

pub fn contract_toml() -> String {
    std::fs::read_to_string(sample_dir().join("contract.toml")).expect("sample contract")
}

pub fn key(name: &str) -> SigningKey {
    read_signing_key(&sample_dir().join(format!("keys/{name}.key"))).expect("sample key")
}

pub const CONTRACT_ID: &str = "acme-objstore-2026-03";

/// A fresh log directory (inside a temp dir that must outlive it).
pub fn new_log() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    init(&dir, &contract_toml()).expect("init");
    (tmp, dir)
}

pub fn open(dir: &Path) -> Recorder {
    open_with(
        dir,
        RecorderOptions {
            key: Some(key("recorder")),
            ..RecorderOptions::default()
        },
    )
    .expect("open")
}

/// `f` again while the log's lock is held by someone else for a moment:
/// other tests of this binary spawn processes, and a child forked while a
/// test held a log's lock shares that lock until it execs. (A second
/// recorder on the same log is tested with `Recorder::open` itself.)
fn retry_locked<T, E>(
    mut f: impl FnMut() -> Result<T, E>,
    locked: impl Fn(&E) -> bool,
) -> Result<T, E> {
    for _ in 0..400 {
        match f() {
            Err(e) if locked(&e) => std::thread::sleep(std::time::Duration::from_millis(5)),
            other => return other,
        }
    }
    f()
}

/// [`Recorder::open`], waiting out a lock briefly held by a forked child.
pub fn open_with(dir: &Path, opts: RecorderOptions) -> Result<Recorder, cfr_recorder::OpenError> {
    retry_locked(
        || Recorder::open(dir, opts.clone()),
        |e| matches!(e, cfr_recorder::OpenError::Locked { .. }),
    )
}

/// [`cfr_recorder::repair`], waiting out a lock briefly held by a forked child.
pub fn repair(dir: &Path) -> Result<Vec<cfr_recorder::Moved>, cfr_recorder::RepairError> {
    retry_locked(
        || cfr_recorder::repair(dir),
        |e| {
            matches!(
                e,
                cfr_recorder::RepairError::Open(cfr_recorder::OpenError::Locked { .. })
            )
        },
    )
}

/// An unsigned `request` by the user.
pub fn request(n: u64) -> Submission {
    let mut attrs = Attrs::new();
    attrs.insert("id", Value::Text(format!("r-{n}")));
    attrs.insert("op", Value::Text("get".into()));
    attrs.insert("object", Value::Text(format!("obj/{n}")));
    Submission::new("request", "user", attrs)
}

/// An `outage` by the grid attestor (a signed kind), unsigned.
pub fn outage() -> Submission {
    let mut attrs = Attrs::new();
    attrs.insert("start", Value::Int(1_772_445_600_000_000_000));
    attrs.insert("end", Value::Int(1_772_452_800_000_000_000));
    attrs.insert("cause", Value::Text("substation fault".into()));
    Submission::new("outage", "grid", attrs)
}

/// A request line in JSON Lines (the JSON form of `request(n)`).
pub fn request_line(n: u64) -> String {
    format!(
        r#"{{"kind":"request","actor":"user","attrs":{{"id":"r-{n}","op":"get","object":"obj/{n}"}}}}"#
    )
}

/// `events` signed as a submission by `party` (with the sample key of
/// that name) under `id`.
pub fn signed(party: &str, id: &str, events: Vec<Submission>) -> SignedSubmission {
    SignedSubmission::sign(
        CONTRACT_ID,
        party,
        id,
        events.into_iter().map(|s| s.event).collect(),
        &key(party),
    )
}

/// A well-formed signature that verifies over nothing sent (for bodies
/// refused before the signature is checked).
pub fn some_signature() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(cfr_bundle_format::submission::sign(&key("user"), &[0; 32]))
}

/// `POST /v1/submissions` with the three headers (each left out when
/// `None`): (status, body).
pub fn post_submission(
    addr: &str,
    party: Option<&str>,
    id: Option<&str>,
    signature: Option<&str>,
    ctype: &str,
    body: &[u8],
) -> (u16, String) {
    let mut extra = String::new();
    for (name, v) in [
        ("Cfr-Party", party),
        ("Cfr-Submission", id),
        ("Cfr-Signature", signature),
    ] {
        if let Some(v) = v {
            extra.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    http_with(addr, "POST", "/v1/submissions", ctype, &extra, body)
}

/// `s` as a JSON Lines submission by its party over HTTP.
pub fn post_jsonl(addr: &str, s: &SignedSubmission, jsonl: &str) -> (u16, String) {
    post_submission(
        addr,
        Some(&s.party),
        Some(&s.id),
        Some(&s.signature_header()),
        "application/jsonl",
        jsonl.as_bytes(),
    )
}

/// An in-process server on a loopback port.
pub struct InProcess {
    pub addr: String,
    pub recorder: Arc<Recorder>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    pub fn start(recorder: Recorder, opts: ServerOptions) -> InProcess {
        let recorder = Arc::new(recorder);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let r = recorder.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr").to_string())
                    .expect("send");
                serve(r, listener, opts, async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
            });
        });
        let addr = addr_rx.recv().expect("server address");
        InProcess {
            addr,
            recorder,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One raw HTTP/1.1 request with `Connection: close`: (status, body).
pub fn http(addr: &str, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, String) {
    http_with(addr, method, path, ctype, "", body)
}

/// [`http`] with `extra` header lines (each ending in CRLF).
pub fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    ctype: &str,
    extra: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {ctype}\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    let _ = s.write_all(body);
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
