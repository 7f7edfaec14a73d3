//! The `tlog-witness` HTTP interface (axum on tokio).
//!
//! | method and path | answer |
//! |---|---|
//! | `POST /add-checkpoint` | `200` with the `cosignature/v1` line (`text/plain`); or a refusal, below |
//! | `GET /<sha256(origin) hex>/checkpoint` | the latest cosigned checkpoint of that log (`text/plain`), `404` if none |
//!
//! | refusal | when |
//! |---|---|
//! | `400` | a malformed body (or one larger than [`MAX_REQUEST_LEN`](crate::MAX_REQUEST_LEN), or not sent within the deadline); an old size above the checkpoint's size |
//! | `403` | no valid signature by the log's key |
//! | `404` | an origin the witness does not know |
//! | `409` | the old size is not the size of the latest checkpoint the witness cosigned; the body is that size, in decimal and a newline, `Content-Type: text/x.tlog.size` |
//! | `422` | the consistency proof does not verify, a root that differs at the cosigned size, a proof with old size 0, a size-0 checkpoint whose root is not the empty tree's |
//! | `500` | the state could not be written: nothing was cosigned |
//!
//! Refusal bodies other than `409`'s are one line of text saying why.

use crate::witness::{Refusal, Witness};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A callback told of every refusal (for the operator's log).
pub type OnRefusal = Arc<dyn Fn(&Refusal) + Send + Sync>;

/// Server settings.
#[derive(Clone)]
pub struct ServerOptions {
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// How long a client may take to send its body.
    pub body_timeout: Duration,
    /// Told of every refusal, e.g. to log kept evidence.
    pub on_refusal: Option<OnRefusal>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            body_limit: crate::request::MAX_REQUEST_LEN,
            body_timeout: Duration::from_secs(10),
            on_refusal: None,
        }
    }
}

/// The default listening address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7880";

#[derive(Clone)]
struct App {
    witness: Arc<Witness>,
    opts: ServerOptions,
}

/// The router, for embedding in another axum application.
pub fn router(witness: Arc<Witness>, opts: ServerOptions) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .with_state(App { witness, opts })
}

/// Serves until `shutdown` completes.
///
/// # Errors
///
/// An I/O error of the listener.
pub async fn serve(
    witness: Arc<Witness>,
    listener: tokio::net::TcpListener,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(witness, opts))
        .with_graceful_shutdown(shutdown)
        .await
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn add_checkpoint(State(app): State<App>, body: Body) -> Response {
    let limit = app.opts.body_limit;
    let bytes = match tokio::time::timeout(app.opts.body_timeout, axum::body::to_bytes(body, limit))
        .await
    {
        Err(_) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body did not arrive within {:?}\n",
                    app.opts.body_timeout
                ),
            )
        }
        Ok(Err(e)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("reading the body failed (at most {limit} bytes): {e}\n"),
            )
        }
        Ok(Ok(b)) => b,
    };
    let witness = app.witness.clone();
    // Signing and fsync block: off the async workers.
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&bytes)).await;
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the witness failed: {e}\n"),
            )
        }
    };
    match result {
        Ok(line) => text(StatusCode::OK, line),
        Err(refusal) => {
            if let Some(log) = &app.opts.on_refusal {
                log(&refusal);
            }
            let status =
                StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match refusal {
                Refusal::Conflict { known, .. } => (
                    status,
                    [(header::CONTENT_TYPE, "text/x.tlog.size")],
                    format!("{known}\n"),
                )
                    .into_response(),
                other => text(status, format!("{other}\n")),
            }
        }
    }
}

async fn checkpoint(State(app): State<App>, Path(hash): Path<String>) -> Response {
    let found = app
        .witness
        .origins()
        .find(|o| crate::state::origin_hash(o) == hash)
        .and_then(|o| app.witness.latest(o));
    match found {
        Some(cp) => text(StatusCode::OK, cp.to_note()),
        None => text(
            StatusCode::NOT_FOUND,
            "this witness has cosigned no checkpoint of that log\n".into(),
        ),
    }
}
