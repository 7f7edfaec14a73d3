//! The HTTP ingest server (axum on tokio).
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/events` | append; body JSON Lines (any content type but CBOR) or `application/cbor-seq`; `200` with `{"receipts":[{"seq","time","time_ns","leaf","duplicate"}]}` |
//! | `GET /v1/checkpoint` | the last signed checkpoint (a C2SP signed note, `text/plain`); signs one first if there is none |
//! | `POST /v1/checkpoint` | signs a checkpoint now (if the log grew) and returns it |
//! | `GET /v1/proof/inclusion?seq=N&size=S` | `{"seq","size","leaf","root","path":[hex...]}`; `size` defaults to the last signed checkpoint's |
//! | `GET /v1/proof/consistency?from=A&to=B` | `{"from","to","from_root","to_root","path":[hex...]}`; `to` defaults to the last signed checkpoint's |
//!
//! Errors are JSON `{"error": text, "line"|"item": n, "reason": text}`:
//! `400` bad input (nothing of the request is stored), `409` an id reused
//! for a different event, `408` a body that did not arrive in time, `413`
//! an oversized body, `415` an unknown content type, `503` a storage
//! failure (nothing of the request is stored; retry later).
//!
//! Every connection is its own task, and reading a body is bounded by a
//! deadline, so a slow or stuck client holds only its own connection.

use crate::error::AppendError;
use crate::recorder::{Receipt, Recorder};
use crate::submission::{parse_cbor_seq, parse_jsonl, Rejection};
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
        .route("/v1/events", post(append))
        .route("/v1/checkpoint", get(checkpoint).post(sign_checkpoint))
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

fn hex(h: &[u8]) -> String {
    hex::encode(h)
}

/// A receipt as JSON.
pub fn receipt_json(r: &Receipt) -> serde_json::Value {
    json!({
        "seq": r.seq,
        "time": format_rfc3339(r.time),
        "time_ns": r.time,
        "leaf": hex(&r.leaf),
        "duplicate": r.duplicate,
    })
}

async fn append(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let limit = app.opts.body_limit;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": format!("the body is larger than the {limit} bytes allowed") }),
        );
    }
    let bytes = match tokio::time::timeout(app.opts.body_timeout, axum::body::to_bytes(body, limit))
        .await
    {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                json!({ "error": format!("the body did not arrive within {:?}", app.opts.body_timeout) }),
            )
        }
        Ok(Err(e)) => {
            // to_bytes fails on the length limit or a broken connection.
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit");
            return if too_big {
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({ "error": format!("the body is larger than the {limit} bytes allowed") }),
                )
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": format!("reading the body failed: {e}") }),
                )
            };
        }
        Ok(Ok(b)) => b,
    };
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let cbor = match ctype.as_str() {
        "application/cbor-seq" => true,
        ""
        | "application/jsonl"
        | "application/x-ndjson"
        | "application/json"
        | "application/jsonlines"
        | "text/plain" => false,
        other => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({ "error": format!("content type {other:?}: send JSON Lines or application/cbor-seq") }),
            )
        }
    };
    let recorder = app.recorder.clone();
    // Parsing and signature checks are CPU work: off the async threads.
    let queued = tokio::task::spawn_blocking(move || {
        let contract = recorder.contract();
        let subs = if cbor {
            parse_cbor_seq(contract, &bytes)
        } else {
            parse_jsonl(contract, &bytes)
        }
        .map_err(AppendError::Rejected)?;
        recorder.enqueue(subs)
    })
    .await;
    let rx = match queued {
        Ok(Ok(rx)) => rx,
        Ok(Err(e)) => return append_error(&e),
        Err(_) => return append_error(&AppendError::Closed),
    };
    match rx.await {
        Ok(Ok(receipts)) => {
            let list: Vec<_> = receipts.iter().map(receipt_json).collect();
            axum::Json(json!({ "receipts": list })).into_response()
        }
        Ok(Err(e)) => append_error(&e),
        Err(_) => append_error(&AppendError::Closed),
    }
}

fn append_error(e: &AppendError) -> Response {
    match e {
        AppendError::Rejected(r) => rejection(r),
        AppendError::IdConflict { item, .. } => error(
            StatusCode::CONFLICT,
            json!({ "error": e.to_string(), "item": item, "reason": e.to_string() }),
        ),
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
    sign_checkpoint(State(app)).await
}

async fn sign_checkpoint(State(app): State<App>) -> Response {
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
        json!({ "error": "no checkpoint signed yet: give the size explicitly or POST /v1/checkpoint" }),
    )
}

async fn inclusion(State(app): State<App>, Query(q): Query<InclusionQuery>) -> Response {
    let Some(size) = q.size.or_else(|| signed_size(&app)) else {
        return no_checkpoint();
    };
    match app.recorder.inclusion_proof(q.seq, size) {
        Ok(p) => axum::Json(json!({
            "seq": p.seq, "size": p.size, "leaf": hex(&p.leaf), "root": hex(&p.root),
            "path": p.path.iter().map(|h| hex(h)).collect::<Vec<_>>(),
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
            "from": p.from, "to": p.to, "from_root": hex(&p.from_root), "to_root": hex(&p.to_root),
            "path": p.path.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    }
}
