//! The HTTP ingest server (axum on tokio).
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/submissions` | append a **signed submission** (below); `200` with `{"first","count","duplicate","receipt","receipts":[{"seq","time","time_ns","leaf","duplicate"}]}`, where `receipt` is the `cfr-receipt/1` (standard base64 of its CBOR, [`cfr_bundle_format::receipt`]) |
//! | `GET /v1/size` | `{"size": n}`: the number of durable events |
//! | `GET /v1/contract` | the contract the log is bound to (TOML): a client needs its id and attribute types to sign |
//! | `GET /v1/checkpoint` | the latest published checkpoint (a C2SP signed note, `text/plain`, with any witness cosignatures); signs one first only if there is none |
//! | `GET /v1/proof/inclusion?seq=N&size=S` | `{"seq","size","leaf","root","path":[...]}`; `size` defaults to the latest checkpoint's |
//! | `GET /v1/proof/consistency?from=A&to=B` | `{"from","to","from_root","to_root","path":[...]}`; `to` defaults to the latest checkpoint's |
//!
//! Every hash in these answers is standard base64 of its 32 bytes, as in
//! checkpoints. Nothing here makes the recorder sign on request: a
//! checkpoint is signed after each group commit that acknowledges signed
//! submissions (it is in their receipts), and at the configured interval
//! when the log grew otherwise; `cfr-bundle log checkpoint DIR` signs one
//! for the operator, in process.
//!
//! # Submissions
//!
//! Every event in a party's name arrives in a submission signed by that
//! party's contract key (design section 13; [`crate::submission`]):
//!
//! * headers `Cfr-Party` (`provider`, `user` or an attestor id),
//!   `Cfr-Submission` (the id, 1 to 64 printable ASCII characters, unique
//!   per party) and `Cfr-Signature` (standard base64 of a COSE_Sign1, alg
//!   EdDSA -8 or Ed25519 -19, detached payload: the SHA-256
//!   [digest](cfr_bundle_format::submission::digest) of the canonical CBOR
//!   `{ctx, contract, party, id, events}`);
//! * body: the events in order, JSON Lines (any content type but CBOR) or
//!   `application/cbor-seq`, each `{kind, actor, attrs, sig?}` without
//!   `seq`, `time` or `id`.
//!
//! | answer | when |
//! |---|---|
//! | `200` | appended and durable, the signature with it, and a checkpoint over it signed (cosigned by a quorum of witnesses, when configured): the receipt; or a retry: the id was appended before with the same digest, and this is the original events (`"duplicate": true`) with a receipt against the latest checkpoint, nothing appended |
//! | `400` | a header missing or malformed (`Cfr-Party`, `Cfr-Submission`), a body that does not parse or an event the contract does not allow (`line`/`item` named), an empty body |
//! | `401` | no `Cfr-Signature`, a malformed one (not base64, not the COSE profile, unknown critical header), or one that verifies under no contract key over this submission (the body, id or party altered after signing) |
//! | `403` | a valid signature by another key than the claimed party's; a claimed party that does not submit (`recorder`, unknown); an event whose actor is not the submitting party and that carries no valid signature of its own |
//! | `409` | the id was used by this party for different events |
//! | `410` | `POST /v1/events`: the unauthenticated append of earlier versions is gone |
//!
//! Nothing is appended on any refusal. A `signed = true` kind needs no
//! per-event signature inside a valid submission by its actor; an event
//! carrying its own valid signature (an attestor's notice relayed by the
//! provider) may stand in another party's submission.
//!
//! Other errors are JSON `{"error": text, ...}` too: `408` a body that did
//! not arrive in time, `413` an oversized body, `415` an unknown content
//! type, `503` a storage failure (nothing of the request is stored; retry
//! later, with the same id), a standby (another recorder sequences this
//! log in PostgreSQL: send to another of its recorders), a database that
//! cannot be reached or whose commit's outcome is unknown (nothing is
//! acknowledged; a retry with the same id gets the receipt if it was
//! committed), or no checkpoint published (the witnesses did
//! not cosign: the events are durable but not acknowledged; a retry with
//! the same id gets the receipt once a checkpoint is published).
//!
//! Every connection is its own task, and reading a body is bounded by a
//! deadline, so a slow or stuck client holds only its own connection.

use crate::error::AppendError;
use crate::recorder::{Receipt, Recorder};
use crate::submission::{
    authenticate, Refusal, Rejection, ID_HEADER, PARTY_HEADER, SIGNATURE_HEADER,
};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cfr_model::time::format_rfc3339;
use serde::Deserialize;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// How long a client may take to send its body.
    pub body_timeout: Duration,
    /// Sign a checkpoint at this interval when the log has grown.
    pub checkpoint_interval: Option<Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            body_limit: 8 << 20,
            body_timeout: Duration::from_secs(10),
            checkpoint_interval: Some(Duration::from_secs(10)),
        }
    }
}

/// The default listening address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

#[derive(Clone)]
struct App {
    recorder: Arc<Recorder>,
    opts: ServerOptions,
}

/// The router, for embedding in another axum application.
pub fn router(recorder: Arc<Recorder>, opts: ServerOptions) -> Router {
    let limit = opts.body_limit;
    Router::new()
        .route("/v1/submissions", post(submit))
        .route("/v1/events", post(gone))
        .route("/v1/size", get(size))
        .route("/v1/contract", get(contract))
        .route("/v1/checkpoint", get(checkpoint))
        .route("/v1/proof/inclusion", get(inclusion))
        .route("/v1/proof/consistency", get(consistency))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(App { recorder, opts })
}

/// Serves until `shutdown` completes, signing checkpoints at the
/// configured interval and once more on the way out.
pub async fn serve(
    recorder: Arc<Recorder>,
    listener: tokio::net::TcpListener,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ticker = opts.checkpoint_interval.map(|every| {
        let r = recorder.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let r = r.clone();
                let _ = tokio::task::spawn_blocking(move || r.sign_checkpoint()).await;
            }
        })
    });
    let app = router(recorder.clone(), opts);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(t) = ticker {
        t.abort();
    }
    let r = recorder.clone();
    let _ = tokio::task::spawn_blocking(move || r.sign_checkpoint()).await;
    result
}

fn error(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn rejection(r: &Rejection) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("error".into(), json!(r.to_string()));
    body.insert(r.unit.into(), json!(r.number));
    body.insert("reason".into(), json!(r.reason));
    error(StatusCode::BAD_REQUEST, serde_json::Value::Object(body))
}

/// A hash as standard base64, the one encoding of hashes in every
/// answer (as in C2SP checkpoints).
pub fn b64(h: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// A receipt as JSON.
pub fn receipt_json(r: &Receipt) -> serde_json::Value {
    json!({
        "seq": r.seq,
        "time": format_rfc3339(r.time),
        "time_ns": r.time,
        "leaf": b64(&r.leaf),
        "duplicate": r.duplicate,
    })
}

/// Reads a request body within the size limit and the deadline.
async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, Response> {
    let limit = app.opts.body_limit;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": format!("the body is larger than the {limit} bytes allowed") }),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(app.opts.body_timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            json!({ "error": format!("the body did not arrive within {:?}", app.opts.body_timeout) }),
        )),
        Ok(Err(e)) => {
            // to_bytes fails on the length limit or a broken connection.
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit");
            Err(if too_big {
                too_large()
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": format!("reading the body failed: {e}") }),
                )
            })
        }
        Ok(Ok(b)) => Ok(b),
    }
}

/// Whether the content type says CBOR sequence (`Ok(true)`) or JSON
/// Lines (`Ok(false)`); else why not (a 415).
fn body_is_cbor(headers: &HeaderMap) -> Result<bool, String> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ctype.as_str() {
        "application/cbor-seq" => Ok(true),
        ""
        | "application/jsonl"
        | "application/x-ndjson"
        | "application/json"
        | "application/jsonlines"
        | "text/plain" => Ok(false),
        other => Err(format!(
            "content type {other:?}: send JSON Lines or application/cbor-seq"
        )),
    }
}

/// A header's value as text: `Ok(None)` when absent; else why not (a 400).
fn header_text<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, String> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| format!("header {name}: not visible ASCII")),
    }
}

/// The JSON error body of a refused submission.
pub fn refusal_json(r: &Refusal) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert("error".into(), json!(r.to_string()));
    if let Some((unit, n)) = r.number() {
        body.insert(unit.into(), json!(n));
    }
    if let Refusal::Event(rej) = r {
        body.insert("reason".into(), json!(rej.reason));
    }
    serde_json::Value::Object(body)
}

async fn submit(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let cbor = match body_is_cbor(&headers) {
        Ok(c) => c,
        Err(why) => return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, json!({ "error": why })),
    };
    let mut values = [None, None, None];
    for (slot, name) in values
        .iter_mut()
        .zip([PARTY_HEADER, ID_HEADER, SIGNATURE_HEADER])
    {
        match header_text(&headers, name) {
            Ok(v) => *slot = v.map(str::to_owned),
            Err(why) => return error(StatusCode::BAD_REQUEST, json!({ "error": why })),
        }
    }
    let [party, id, signature] = values;
    if signature.is_none() {
        // Refuse an unsigned submission before reading its body.
        return refused(&Refusal::Unsigned);
    }
    let bytes = match read_body(&app, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let recorder = app.recorder.clone();
    // Parsing and signature checks are CPU work: off the async threads.
    let queued = tokio::task::spawn_blocking(move || {
        let verified = authenticate(
            recorder.contract(),
            party.as_deref(),
            id.as_deref(),
            signature.as_deref(),
            cbor,
            &bytes,
        )
        .map_err(Err)?;
        recorder.submit_signed(verified).map_err(Ok)
    })
    .await;
    let rx = match queued {
        Ok(Ok(rx)) => rx,
        Ok(Err(Err(refusal))) => return refused(&refusal),
        Ok(Err(Ok(e))) => return append_error(&e),
        Err(_) => return append_error(&AppendError::Closed),
    };
    match rx.await {
        Ok(Ok(ack)) => {
            let list: Vec<_> = ack.events.iter().map(receipt_json).collect();
            axum::Json(json!({
                "first": ack.events.first().map(|r| r.seq),
                "count": ack.events.len(),
                "duplicate": ack.duplicate,
                "receipt": ack.receipt.as_ref().map(|r| b64(&r.encode())),
                "receipts": list,
            }))
            .into_response()
        }
        Ok(Err(e)) => append_error(&e),
        Err(_) => append_error(&AppendError::Closed),
    }
}

fn refused(r: &Refusal) -> Response {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = error(status, refusal_json(r));
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Cfr-Signature"),
        );
    }
    resp
}

async fn gone() -> Response {
    error(
        StatusCode::GONE,
        json!({ "error": "POST /v1/events is gone: every event in a party's name is sent in a submission signed by that party (POST /v1/submissions with Cfr-Party, Cfr-Submission and Cfr-Signature; `cfr-bundle log append --key ROLE=KEY`)" }),
    )
}

async fn size(State(app): State<App>) -> Response {
    axum::Json(json!({ "size": app.recorder.size() })).into_response()
}

async fn contract(State(app): State<App>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
        app.recorder.contract_toml().to_owned(),
    )
        .into_response()
}

fn append_error(e: &AppendError) -> Response {
    match e {
        AppendError::Rejected(r) => rejection(r),
        AppendError::IdConflict { item, .. } => error(
            StatusCode::CONFLICT,
            json!({ "error": e.to_string(), "item": item, "reason": e.to_string() }),
        ),
        AppendError::SubmissionConflict { .. } => {
            error(StatusCode::CONFLICT, json!({ "error": e.to_string() }))
        }
        AppendError::TooLarge { .. } => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": e.to_string() }),
        ),
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": e.to_string() }),
        ),
    }
}

async fn checkpoint(State(app): State<App>) -> Response {
    if let Some(cp) = app.recorder.checkpoint() {
        return note(cp.to_note());
    }
    // Only a log that never signed one gets here, once.
    let r = app.recorder.clone();
    match tokio::task::spawn_blocking(move || r.sign_checkpoint()).await {
        Ok(Ok(cp)) => note(cp.to_note()),
        Ok(Err(e)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": e.to_string() }),
        ),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "checkpoint task failed" }),
        ),
    }
}

fn note(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

#[derive(Deserialize)]
struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

fn signed_size(app: &App) -> Option<u64> {
    app.recorder.checkpoint().map(|c| c.checkpoint().size)
}

fn no_checkpoint() -> Response {
    error(
        StatusCode::NOT_FOUND,
        json!({ "error": "no checkpoint signed yet: give the size explicitly, or GET /v1/checkpoint" }),
    )
}

async fn inclusion(State(app): State<App>, Query(q): Query<InclusionQuery>) -> Response {
    let Some(size) = q.size.or_else(|| signed_size(&app)) else {
        return no_checkpoint();
    };
    match app.recorder.inclusion_proof(q.seq, size) {
        Ok(p) => axum::Json(json!({
            "seq": p.seq, "size": p.size, "leaf": b64(&p.leaf), "root": b64(&p.root),
            "path": p.path.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    }
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

async fn consistency(State(app): State<App>, Query(q): Query<ConsistencyQuery>) -> Response {
    let Some(to) = q.to.or_else(|| signed_size(&app)) else {
        return no_checkpoint();
    };
    match app.recorder.consistency_proof(q.from, to) {
        Ok(p) => axum::Json(json!({
            "from": p.from, "to": p.to, "from_root": b64(&p.from_root), "to_root": b64(&p.to_root),
            "path": p.path.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    }
}
