//! The HTTP API: bad input of every kind, limits, slow clients, proofs,
//! and a bounded load test.

use crate::common::*;
use cfr_merkle::{verify_consistency, verify_inclusion, SignedCheckpoint};
use cfr_recorder::client::{parse_hash, Client, ClientError};
use cfr_recorder::server::ServerOptions;
use cfr_recorder::{SignedSubmission, Submission};
use std::io::Write as _;
use std::time::{Duration, Instant};

fn server(opts: ServerOptions) -> (tempfile::TempDir, InProcess) {
    let (t, dir) = new_log();
    (t, InProcess::start(open(&dir), opts))
}

fn quiet() -> ServerOptions {
    ServerOptions {
        checkpoint_interval: None,
        ..ServerOptions::default()
    }
}

#[test]
fn json_lines_and_cbor_are_appended_with_receipts() {
    let (_t, s) = server(quiet());
    let body = format!("{}\n\n{}\n", request_line(1), request_line(2));
    let sub = signed("user", "u-1", vec![request(1), request(2)]);
    let (status, text) = post_jsonl(&s.addr, &sub, &body);
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["receipts"][1]["seq"], 1);
    // Hashes are base64, as in checkpoints; the receipt is a cfr-receipt/1
    // whose checkpoint and range proof verify.
    let leaf = parse_hash(v["receipts"][1]["leaf"].as_str().expect("leaf")).expect("base64");
    let receipt = cfr_bundle_format::receipt::Receipt::decode(
        &base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v["receipt"].as_str().expect("receipt"),
        )
        .expect("base64"),
    )
    .expect("cfr-receipt/1");
    assert_eq!(receipt.events[1].leaf, leaf);
    let cp = receipt
        .verify(&key("recorder").verifying_key())
        .expect("verifies");
    assert_eq!((cp.size, receipt.proof.len()), (2, 0));
    assert_eq!(
        (v["first"].as_u64(), v["count"].as_u64()),
        (Some(0), Some(2))
    );
    // CBOR, through the client; the grid's signed outage stands in the
    // user's submission because it carries the grid's own signature.
    let mut c = Client::new(s.addr.clone());
    let sub = signed(
        "user",
        "u-2",
        vec![request(3), outage().signed(&key("grid"), CONTRACT_ID)],
    );
    let r = c.submit(&sub).expect("cbor submission");
    assert_eq!(r[1].seq, 3);
    assert_eq!(s.recorder.size(), 4);
    assert_eq!(c.size().expect("size"), 4);
    assert!(c.contract().expect("contract").contains(CONTRACT_ID));
    // The unauthenticated path of earlier versions is gone.
    let (status, text) = http(
        &s.addr,
        "POST",
        "/v1/events",
        "",
        request_line(9).as_bytes(),
    );
    assert_eq!(status, 410, "{text}");
    assert_eq!(s.recorder.size(), 4);
}

#[test]
fn bad_input_is_rejected_with_the_line_and_nothing_is_stored() {
    let (_t, s) = server(quiet());
    let sig = some_signature();
    let good = request_line(1);
    let cases: Vec<(&str, String, &str, u16)> = vec![
        ("unknown kind", format!("{good}\n{{\"kind\":\"nope\",\"actor\":\"user\",\"attrs\":{{}}}}"), "line 2: unknown event kind", 400),
        ("wrong actor", format!("{good}\n{{\"kind\":\"request\",\"actor\":\"provider\",\"attrs\":{{\"id\":\"a\",\"op\":\"b\",\"object\":\"c\"}}}}"), "line 2: actor \"provider\" may not emit", 400),
        ("malformed JSON", format!("{good}\n{{\"kind\":"), "line 2: not a valid event object", 400),
        ("not an object", format!("{good}\n[1,2]"), "line 2", 400),
        ("missing attribute", "{\"kind\":\"request\",\"actor\":\"user\",\"attrs\":{\"id\":\"a\"}}".into(), "line 1", 400),
        ("mistyped attribute", "{\"kind\":\"response\",\"actor\":\"provider\",\"attrs\":{\"id\":\"a\",\"status\":\"200\"}}".into(), "line 1: attribute \"status\": expected int", 400),
        ("time given", "{\"time\":\"2026-03-01T00:00:00Z\",\"kind\":\"heartbeat\",\"actor\":\"provider\",\"attrs\":{}}".into(), "assigned by the recorder", 400),
        ("per-event id", "{\"id\":\"x\",\"kind\":\"heartbeat\",\"actor\":\"provider\",\"attrs\":{}}".into(), "line 1: an event in a signed submission has no \"id\"", 400),
        ("not UTF-8", String::from_utf8_lossy(b"\xff\xfe").into_owned(), "line 1", 400),
        ("empty", "\n\n".into(), "holds no event", 400),
    ];
    for (what, body, want, code) in cases {
        let (status, text) = post_submission(
            &s.addr,
            Some("user"),
            Some("bad-1"),
            Some(&sig),
            "application/jsonl",
            body.as_bytes(),
        );
        assert_eq!(status, code, "{what}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("a JSON error body");
        let message = v["error"].as_str().expect("error text");
        assert!(message.contains(want), "{what}: {message} lacks {want:?}");
        assert_eq!(s.recorder.size(), 0, "{what}: something was stored");
    }
    // Headers: missing party or id, a bad id, a party that does not submit.
    let body = good.as_bytes();
    for (what, party, id, code, want) in [
        ("no party", None, Some("s"), 400, "Cfr-Party"),
        ("no id", Some("user"), None, 400, "Cfr-Submission"),
        (
            "bad id",
            Some("user"),
            Some("has\tspace"),
            400,
            "Cfr-Submission",
        ),
        (
            "long id",
            Some("user"),
            Some(&*"x".repeat(65)),
            400,
            "Cfr-Submission",
        ),
        (
            "recorder",
            Some("recorder"),
            Some("s"),
            403,
            "not a submitting party",
        ),
        (
            "stranger",
            Some("mallory"),
            Some("s"),
            403,
            "not a submitting party",
        ),
    ] {
        let (status, text) =
            post_submission(&s.addr, party, id, Some(&sig), "application/jsonl", body);
        assert_eq!(status, code, "{what}: {text}");
        assert!(text.contains(want), "{what}: {text}");
    }
    // Malformed signatures: 401.
    for (what, bad) in [
        ("not base64", "***".to_owned()),
        ("not COSE", "AAAA".to_owned()),
        ("empty", String::new()),
    ] {
        let (status, text) =
            post_submission(&s.addr, Some("user"), Some("s"), Some(&bad), "", body);
        assert_eq!(status, 401, "{what}: {text}");
        assert!(text.contains("Cfr-Signature"), "{what}: {text}");
    }
    // Raw invalid UTF-8.
    let (status, text) = post_submission(
        &s.addr,
        Some("user"),
        Some("s"),
        Some(&sig),
        "application/jsonl",
        b"\xff\n",
    );
    assert_eq!(status, 400, "{text}");
    // CBOR: truncated, not a map, non-canonical (a two-byte head for a small
    // length), an unknown key.
    let good_cbor = request(1).to_cbor();
    let cbor_cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good_cbor[..good_cbor.len() - 2].to_vec(),
            "item 1",
        ),
        ("not a map", vec![0x83, 1, 2, 3], "expected a map"),
        (
            "trailing garbage",
            {
                let mut b = good_cbor.clone();
                b.push(0xff);
                b
            },
            "item 2",
        ),
        (
            "non-canonical",
            {
                let mut b = good_cbor.clone();
                b[0] = 0xb8;
                b.insert(1, 3);
                b
            },
            "non-canonical",
        ),
        (
            "unknown key",
            cfr_model::cbor::encode(&cfr_model::cbor::Cbor::map([
                ("kind", cfr_model::cbor::Cbor::text("request")),
                ("zzz", cfr_model::cbor::Cbor::Int(1)),
            ])),
            "item 1",
        ),
    ];
    for (what, body, want) in cbor_cases {
        let (status, text) = post_submission(
            &s.addr,
            Some("user"),
            Some("s"),
            Some(&sig),
            "application/cbor-seq",
            &body,
        );
        assert_eq!(status, 400, "{what}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("a JSON error body");
        let message = v["error"].as_str().expect("error text");
        assert!(message.contains(want), "{what}: {message} lacks {want:?}");
        assert_eq!(s.recorder.size(), 0, "{what}: something was stored");
    }
    let (status, _) = post_submission(
        &s.addr,
        Some("user"),
        Some("s"),
        Some(&sig),
        "image/png",
        b"x",
    );
    assert_eq!(status, 415);
    assert_eq!(s.recorder.size(), 0);
}

#[test]
fn signatures_and_actors_are_checked_and_ids_are_idempotent() {
    let (_t, s) = server(quiet());
    let mut c = Client::new(s.addr.clone());
    c.retries = 0;
    let refused = |c: &mut Client, sub: &SignedSubmission| match c.submit(sub) {
        Err(ClientError::Refused {
            status, message, ..
        }) => (status, message),
        other => panic!("{other:?}"),
    };
    // An unsigned grid outage in the user's submission: not the user's
    // event, and no signature of its own.
    let (status, m) = refused(&mut c, &signed("user", "a", vec![request(1), outage()]));
    assert_eq!(status, 403, "{m}");
    assert!(m.contains("item 2") && m.contains("\"grid\""), "{m}");
    // The grid's own submission needs no per-event signature on its
    // signed-kind outage.
    let r = c
        .submit(&signed("grid", "g-1", vec![outage()]))
        .expect("grid");
    assert_eq!(r[0].seq, 0);
    // A bad per-event signature is refused even where none is needed.
    let mut forged = outage();
    forged.event.sig = Some([7; 64]);
    let (status, m) = refused(&mut c, &signed("grid", "g-2", vec![forged]));
    assert_eq!(status, 400, "{m}");
    assert!(m.contains("bad signature"), "{m}");
    // Signed with the user's key, claiming the provider.
    let wrong = SignedSubmission::sign(
        CONTRACT_ID,
        "provider",
        "p-1",
        vec![Submission::new("heartbeat", "provider", Default::default()).event],
        &key("user"),
    );
    let (status, m) = refused(&mut c, &wrong);
    assert_eq!(status, 403, "{m}");
    assert!(m.contains("signed with the user key"), "{m}");
    // Altered after signing.
    let mut altered = signed("user", "u-1", vec![request(1)]);
    altered.events[0]
        .attrs
        .insert("object", cfr_model::Value::Text("obj/other".into()));
    let (status, m) = refused(&mut c, &altered);
    assert_eq!(status, 401, "{m}");
    assert_eq!(s.recorder.size(), 1);
    // Idempotent: the same submission again is the original receipts; the
    // same id over other events is a conflict.
    let sub = signed("user", "u-1", vec![request(1), request(2)]);
    let first = c.submit(&sub).expect("submit");
    let again = c.submit(&sub).expect("again");
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
    let (status, m) = refused(&mut c, &signed("user", "u-1", vec![request(3)]));
    assert_eq!(status, 409, "{m}");
    // The same id is another party's to use too.
    let p = c
        .submit(&signed(
            "provider",
            "u-1",
            vec![Submission::new("heartbeat", "provider", Default::default())],
        ))
        .expect("provider");
    assert!(!p[0].duplicate);
    assert_eq!(s.recorder.size(), 4);
}

#[test]
fn oversized_bodies_are_refused() {
    let (_t, s) = server(ServerOptions {
        body_limit: 64 << 10,
        ..quiet()
    });
    let body: String = (0..2000).map(|i| request_line(i) + "\n").collect();
    assert!(body.len() > 64 << 10);
    let sig = some_signature();
    let (status, text) = post_submission(
        &s.addr,
        Some("user"),
        Some("big"),
        Some(&sig),
        "application/jsonl",
        body.as_bytes(),
    );
    assert_eq!(status, 413, "{text}");
    // Without a declared length (chunked), the limit still holds.
    let mut conn = std::net::TcpStream::connect(&s.addr).expect("connect");
    let head = format!("POST /v1/submissions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCfr-Party: user\r\nCfr-Submission: big\r\nCfr-Signature: {sig}\r\nTransfer-Encoding: chunked\r\n\r\n");
    conn.write_all(head.as_bytes()).expect("write");
    for chunk in body.as_bytes().chunks(8192) {
        if conn
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
        {
            break;
        }
        let _ = conn.write_all(chunk);
        let _ = conn.write_all(b"\r\n");
    }
    let _ = conn.write_all(b"0\r\n\r\n");
    let mut resp = String::new();
    let _ = std::io::Read::read_to_string(&mut conn, &mut resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert_eq!(s.recorder.size(), 0);
}

#[test]
fn a_stuck_client_does_not_block_others() {
    let (_t, s) = server(ServerOptions {
        body_timeout: Duration::from_secs(2),
        ..quiet()
    });
    // Promise 1000 bytes, send 10, then stall.
    let mut stuck = std::net::TcpStream::connect(&s.addr).expect("connect");
    stuck
        .write_all(
            format!("POST /v1/submissions HTTP/1.1\r\nHost: x\r\nCfr-Party: user\r\nCfr-Submission: s\r\nCfr-Signature: {}\r\nContent-Length: 1000\r\n\r\n{{\"kind\":\"", some_signature()).as_bytes(),
        )
        .expect("write");
    let started = Instant::now();
    let mut c = Client::new(s.addr.clone());
    for i in 0..20 {
        c.submit(&signed("user", &format!("s-{i}"), vec![request(i)]))
            .expect("append while a client is stuck");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut resp = String::new();
    let _ = std::io::Read::read_to_string(&mut stuck, &mut resp);
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert_eq!(s.recorder.size(), 20);
}

#[test]
fn checkpoints_and_proofs_over_http_verify() {
    let (_t, s) = server(quiet());
    let mut c = Client::new(s.addr.clone());
    let first = c
        .submit(&signed("user", "a", (0..5).map(request).collect()))
        .expect("append");
    // The receipt carries the checkpoint signed right after its commit.
    let receipt = first.receipt.as_ref().expect("a receipt");
    let old = SignedCheckpoint::parse(receipt.checkpoint.as_bytes()).expect("note");
    let rk = key("recorder").verifying_key();
    let origin = cfr_bundle_format::seal::origin(CONTRACT_ID);
    let old = old
        .verify(&origin, &rk)
        .expect("signed by the recorder")
        .clone();
    c.submit(&signed("user", "b", (5..12).map(request).collect()))
        .expect("append");
    let new = SignedCheckpoint::parse(c.checkpoint().expect("latest").as_bytes()).expect("note");
    let new = new.verify(&origin, &rk).expect("signed").clone();
    assert_eq!((old.size, new.size), (5, 12));
    let p = c.inclusion_proof(3, Some(old.size)).expect("proof");
    let path: Vec<_> = p["path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|h| parse_hash(h.as_str().expect("base64")).expect("hash"))
        .collect();
    verify_inclusion(3, old.size, &first[3].leaf, &path, &old.root).expect("included");
    // Default size: the last signed checkpoint.
    let p = c.inclusion_proof(3, None).expect("proof");
    assert_eq!(p["size"], 12);
    let p = c.consistency_proof(old.size, None).expect("proof");
    let path: Vec<_> = p["path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|h| parse_hash(h.as_str().expect("base64")).expect("hash"))
        .collect();
    verify_consistency(old.size, new.size, &old.root, &new.root, &path).expect("consistent");
    match c.inclusion_proof(50, Some(12)) {
        Err(ClientError::Refused { status: 400, .. }) => {}
        other => panic!("{other:?}"),
    }
    let (status, note) = http(&s.addr, "GET", "/v1/checkpoint", "", b"");
    assert_eq!(status, 200);
    assert!(note.starts_with(&format!("{origin}\n12\n")), "{note}");
    // Nobody outside the process can make the recorder sign.
    let (status, _) = http(&s.addr, "POST", "/v1/checkpoint", "", b"");
    assert_eq!(status, 405);
    let (_, note2) = http(&s.addr, "GET", "/v1/checkpoint", "", b"");
    assert_eq!(note, note2, "reading the checkpoint signs nothing new");
}

/// Many concurrent clients on loopback, bounded in count and time; every
/// acknowledged event is in the log exactly once.
#[test]
fn load_many_concurrent_clients_lose_nothing() {
    const CLIENTS: u64 = 32;
    const REQUESTS: u64 = 40;
    const PER_REQUEST: u64 = 10;
    let (_t, s) = server(ServerOptions {
        checkpoint_interval: Some(Duration::from_millis(100)),
        ..ServerOptions::default()
    });
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let addr = s.addr.clone();
            std::thread::spawn(move || {
                let mut client = Client::new(addr);
                let mut out = Vec::new();
                for r in 0..REQUESTS {
                    let subs: Vec<_> = (0..PER_REQUEST)
                        .map(|i| request(c * 1_000_000 + r * 1000 + i))
                        .collect();
                    let sub = signed("user", &format!("c{c}-r{r}"), subs);
                    out.extend(client.submit(&sub).expect("append").events);
                }
                out
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for t in threads {
        receipts.extend(t.join().expect("client thread"));
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(120),
        "load test took {elapsed:?}"
    );
    let total = CLIENTS * REQUESTS * PER_REQUEST;
    assert_eq!(receipts.len() as u64, total);
    let mut seqs: Vec<u64> = receipts.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len() as u64, total, "two events got one seq");
    assert_eq!(s.recorder.size(), total);
    for r in &receipts {
        let p = s.recorder.inclusion_proof(r.seq, total).expect("proof");
        assert_eq!(p.leaf, r.leaf);
    }
    eprintln!("load: {total} events from {CLIENTS} clients in {elapsed:?}");
}
