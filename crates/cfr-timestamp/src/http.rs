//! Posting a request to a TSA over HTTP (RFC 3161 section 3.4): plain
//! HTTP/1.1, as TSAs serve it (the token is signed; TLS adds nothing the
//! verifier relies on).

use crate::request::Request;
use crate::token::Verified;
use crate::TimestampError;
use std::time::Duration;

/// Largest reply accepted.
const MAX_REPLY: u64 = crate::token::MAX_TOKEN_BYTES as u64;

/// Why a TSA could not be asked, or what it answered was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL is not `http://...`.
    #[error("{url}: the TSA URL must be http://... (RFC 3161 over HTTP; this build speaks no TLS, and the token is signed)")]
    Url {
        /// The URL given.
        url: String,
    },
    /// Connecting, sending or reading failed.
    #[error("{url}: {source}")]
    Transport {
        /// The TSA.
        url: String,
        /// What failed.
        source: ureq::Error,
    },
    /// Not `200` with `application/timestamp-reply`.
    #[error(
        "{url}: answered {status} ({content_type:?}), not 200 with application/timestamp-reply"
    )]
    Status {
        /// The TSA.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Its content type.
        content_type: String,
    },
    /// The reply is not a granted token over this request.
    #[error("{url}: {source}")]
    Reply {
        /// The TSA.
        url: String,
        /// What is wrong with it.
        source: TimestampError,
    },
}

/// Asks the TSA at `url` for a token over `manifest` (SHA-256, a random
/// nonce, certReq), and checks the reply with [`Request::check_reply`].
/// Returns the reply's bytes (the `TimeStampResp` to store as
/// `manifest.tsr`) and what the token says.
pub fn timestamp(
    url: &str,
    manifest: &[u8],
    timeout: Duration,
) -> Result<(Vec<u8>, Verified), HttpError> {
    if !url.starts_with("http://") {
        return Err(HttpError::Url {
            url: url.to_owned(),
        });
    }
    let reply_err = |source| HttpError::Reply {
        url: url.to_owned(),
        source,
    };
    let transport = |source| HttpError::Transport {
        url: url.to_owned(),
        source,
    };
    let req = Request::new(manifest).map_err(reply_err)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .header("Accept", "application/timestamp-reply")
        .send(req.to_der())
        .map_err(transport)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if status != 200 || !mime.eq_ignore_ascii_case("application/timestamp-reply") {
        return Err(HttpError::Status {
            url: url.to_owned(),
            status,
            content_type,
        });
    }
    let body = response
        .into_body()
        .with_config()
        .limit(MAX_REPLY)
        .read_to_vec()
        .map_err(transport)?;
    let verified = req.check_reply(&body, manifest).map_err(reply_err)?;
    Ok((body, verified))
}
