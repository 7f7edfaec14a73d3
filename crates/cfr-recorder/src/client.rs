//! A blocking client for the recorder's HTTP API.
//!
//! It speaks HTTP/1.1 through `ureq` (plain HTTP: the recorder listens on
//! loopback or behind a TLS-terminating proxy; kept-alive connections are
//! pooled), so a party's system needs no async runtime to log events.
//! [`Client::submit`] sends a [`SignedSubmission`] (signed by the party's
//! contract key, section 13 of the design); it is retried on connection
//! failures, timeouts and `503`, and is idempotent: the recorder answers a
//! submission id it already holds with the original receipts instead of
//! appending twice.

use crate::recorder::Receipt;
use crate::submission::SignedSubmission;
use cfr_merkle::Hash;
use cfr_model::Event;
use std::time::Duration;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The recorder could not be reached (after all retries).
    #[error("{addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The last I/O error.
        source: std::io::Error,
    },
    /// The recorder refused the request (4xx): not retried.
    #[error("recorder refused the request ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The `error` text of the response.
        message: String,
        /// The line or item number the recorder named, if any.
        number: Option<u64>,
    },
    /// The recorder failed (5xx) on every attempt.
    #[error("recorder failed ({status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The `error` text.
        message: String,
    },
    /// The response is not what the API promises.
    #[error("malformed response: {reason}")]
    Protocol {
        /// What was wrong.
        reason: String,
    },
}

/// A connection to one recorder.
pub struct Client {
    addr: String,
    agent: Option<(Duration, ureq::Agent)>,
    /// Timeout of each attempt (connecting, sending, reading the response).
    pub timeout: Duration,
    /// Attempts after the first for appends.
    pub retries: u32,
    /// Pause before the first retry; doubles each time up to 2 s.
    pub backoff: Duration,
}

/// Largest response accepted.
const MAX_RESPONSE: usize = 64 << 20;

impl Client {
    /// A client for the recorder at `addr`: a URL `http://host:port` (a
    /// trailing `/` is ignored) or `host:port`.
    pub fn new(addr: impl Into<String>) -> Client {
        let addr: String = addr.into();
        let addr = addr
            .strip_prefix("http://")
            .unwrap_or(&addr)
            .trim_end_matches('/')
            .to_owned();
        Client {
            addr,
            agent: None,
            timeout: Duration::from_secs(30),
            retries: 8,
            backoff: Duration::from_millis(50),
        }
    }

    /// Appends a signed submission (`POST /v1/submissions`), retrying
    /// transient failures: the receipts of its events, in order. A retry
    /// after a lost answer is safe: the recorder answers a submission id
    /// it holds (same digest) with the original receipts (`duplicate`).
    pub fn submit(&mut self, submission: &SignedSubmission) -> Result<Vec<Receipt>, ClientError> {
        let headers = [
            ("Cfr-Party", submission.party.clone()),
            ("Cfr-Submission", submission.id.clone()),
            ("Cfr-Signature", submission.signature_header()),
        ];
        let (status, resp) = self.with_retries(
            "POST",
            "/v1/submissions",
            "application/cbor-seq",
            &headers,
            &submission.body(),
        )?;
        let v = json_body(status, &resp)?;
        let list = v
            .get("receipts")
            .and_then(|r| r.as_array())
            .ok_or_else(|| protocol("no receipts"))?;
        let receipts = list
            .iter()
            .map(parse_receipt)
            .collect::<Result<Vec<_>, _>>()?;
        if receipts.len() != submission.events.len() {
            return Err(protocol(&format!(
                "{} receipts for a submission of {} events",
                receipts.len(),
                submission.events.len()
            )));
        }
        Ok(receipts)
    }

    /// Signs `events` as `party` with `key` under `id` for the contract
    /// `contract_id`, and [`submit`](Self::submit)s them.
    pub fn sign_and_submit(
        &mut self,
        contract_id: &str,
        party: &str,
        key: &ed25519_dalek::SigningKey,
        id: &str,
        events: Vec<Event>,
    ) -> Result<Vec<Receipt>, ClientError> {
        self.submit(&SignedSubmission::sign(contract_id, party, id, events, key))
    }

    /// The contract the log is bound to (its TOML text).
    pub fn contract(&mut self) -> Result<String, ClientError> {
        let (status, body) = self.with_retries("GET", "/v1/contract", "", &[], b"")?;
        text_body(status, body)
    }

    /// The number of durable events.
    pub fn size(&mut self) -> Result<u64, ClientError> {
        let (status, body) = self.with_retries("GET", "/v1/size", "", &[], b"")?;
        json_body(status, &body)?
            .get("size")
            .and_then(|s| s.as_u64())
            .ok_or_else(|| protocol("no size"))
    }

    /// The last signed checkpoint (a signed note), signing one if none exists.
    pub fn checkpoint(&mut self) -> Result<String, ClientError> {
        let (status, body) = self.with_retries("GET", "/v1/checkpoint", "", &[], b"")?;
        text_body(status, body)
    }

    /// Asks the recorder to sign a checkpoint now.
    pub fn sign_checkpoint(&mut self) -> Result<String, ClientError> {
        let (status, body) = self.with_retries("POST", "/v1/checkpoint", "", &[], b"")?;
        text_body(status, body)
    }

    /// An inclusion proof, as the JSON the server returns.
    pub fn inclusion_proof(
        &mut self,
        seq: u64,
        size: Option<u64>,
    ) -> Result<serde_json::Value, ClientError> {
        let path = match size {
            Some(s) => format!("/v1/proof/inclusion?seq={seq}&size={s}"),
            None => format!("/v1/proof/inclusion?seq={seq}"),
        };
        let (status, body) = self.with_retries("GET", &path, "", &[], b"")?;
        json_body(status, &body)
    }

    /// A consistency proof, as the JSON the server returns.
    pub fn consistency_proof(
        &mut self,
        from: u64,
        to: Option<u64>,
    ) -> Result<serde_json::Value, ClientError> {
        let path = match to {
            Some(t) => format!("/v1/proof/consistency?from={from}&to={t}"),
            None => format!("/v1/proof/consistency?from={from}"),
        };
        let (status, body) = self.with_retries("GET", &path, "", &[], b"")?;
        json_body(status, &body)
    }

    fn with_retries(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let mut pause = self.backoff;
        let mut attempt = 0;
        loop {
            let r = self.request(method, path, ctype, headers, body);
            let retry = match &r {
                Ok((status, _)) => *status == 503 || *status == 408,
                Err(_) => true,
            };
            if !retry || attempt >= self.retries {
                return match r {
                    Ok(x) => Ok(x),
                    Err(source) => Err(ClientError::Connect {
                        addr: self.addr.clone(),
                        source,
                    }),
                };
            }
            attempt += 1;
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// One attempt: (status, body), any status; an error only when no
    /// response came (connection, timeout, a response too large).
    fn request(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let timeout = self.timeout;
        let agent = match &self.agent {
            Some((t, a)) if *t == timeout => a.clone(),
            _ => {
                let a: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(timeout))
                    .http_status_as_error(false)
                    .build()
                    .into();
                self.agent = Some((timeout, a.clone()));
                a
            }
        };
        let url = format!("http://{}{path}", self.addr);
        let response = match method {
            "GET" => agent.get(&url).call(),
            _ => {
                let mut req = agent.post(&url);
                if !ctype.is_empty() {
                    req = req.header("Content-Type", ctype);
                }
                for (name, value) in headers {
                    req = req.header(*name, value.as_str());
                }
                req.send(body)
            }
        }
        .map_err(io_error)?;
        let status = response.status().as_u16();
        let out = response
            .into_body()
            .with_config()
            .limit(MAX_RESPONSE as u64)
            .read_to_vec()
            .map_err(io_error)?;
        Ok((status, out))
    }
}

fn io_error(e: ureq::Error) -> std::io::Error {
    match e {
        ureq::Error::Io(e) => e,
        other => std::io::Error::other(other),
    }
}

fn protocol(reason: &str) -> ClientError {
    ClientError::Protocol {
        reason: reason.to_owned(),
    }
}

fn error_of(status: u16, body: &[u8]) -> ClientError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let message = v
        .get("error")
        .and_then(|e| e.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect());
    if (400..500).contains(&status) {
        ClientError::Refused {
            status,
            message,
            number: v
                .get("line")
                .or_else(|| v.get("item"))
                .and_then(|n| n.as_u64()),
        }
    } else {
        ClientError::Server { status, message }
    }
}

fn json_body(status: u16, body: &[u8]) -> Result<serde_json::Value, ClientError> {
    if status != 200 {
        return Err(error_of(status, body));
    }
    serde_json::from_slice(body).map_err(|e| protocol(&format!("not JSON: {e}")))
}

fn text_body(status: u16, body: Vec<u8>) -> Result<String, ClientError> {
    if status != 200 {
        return Err(error_of(status, &body));
    }
    String::from_utf8(body).map_err(|_| protocol("not UTF-8"))
}

/// Parses 64 hex digits.
pub fn parse_hash(s: &str) -> Option<Hash> {
    cfr_model::Digest::from_hex(s).map(|d| d.0)
}

fn parse_receipt(v: &serde_json::Value) -> Result<Receipt, ClientError> {
    let seq = v.get("seq").and_then(|x| x.as_u64());
    let time = v.get("time_ns").and_then(|x| x.as_i64());
    let leaf = v.get("leaf").and_then(|x| x.as_str()).and_then(parse_hash);
    let duplicate = v.get("duplicate").and_then(|x| x.as_bool());
    match (seq, time, leaf, duplicate) {
        (Some(seq), Some(time), Some(leaf), Some(duplicate)) => Ok(Receipt {
            seq,
            time,
            leaf,
            duplicate,
        }),
        _ => Err(protocol("receipt lacks seq, time_ns, leaf or duplicate")),
    }
}
