//! A blocking client for the recorder's HTTP API.
//!
//! It speaks just enough HTTP/1.1 for this API (keep-alive connections,
//! `Content-Length` bodies), so a party's system needs no async runtime to
//! log events. Appends are retried on connection failures, timeouts and
//! `503`, and are idempotent: every submission carries an id (the client
//! makes one when the caller gave none), so a retry after a lost
//! acknowledgement returns the original receipt instead of appending twice.

use crate::recorder::Receipt;
use crate::submission::Submission;
use cfr_merkle::Hash;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
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
    conn: Option<BufReader<TcpStream>>,
    /// Read and write timeout of each attempt.
    pub timeout: Duration,
    /// Attempts after the first for appends.
    pub retries: u32,
    /// Pause before the first retry; doubles each time up to 2 s.
    pub backoff: Duration,
    id_prefix: String,
    counter: u64,
}

/// Largest response accepted.
const MAX_RESPONSE: usize = 64 << 20;

impl Client {
    /// A client for the recorder at `addr` (`host:port`).
    pub fn new(addr: impl Into<String>) -> Client {
        use sha2::{Digest as _, Sha256};
        let seed = format!(
            "{}-{:?}-{:?}",
            std::process::id(),
            std::time::SystemTime::now(),
            std::thread::current().id()
        );
        let d = Sha256::digest(seed.as_bytes());
        let id_prefix = hex::encode(&d[..8]);
        Client {
            addr: addr.into(),
            conn: None,
            timeout: Duration::from_secs(30),
            retries: 8,
            backoff: Duration::from_millis(50),
            id_prefix,
            counter: 0,
        }
    }

    /// Gives every submission without an id a fresh one.
    pub fn assign_ids(&mut self, subs: &mut [Submission]) {
        for s in subs {
            if s.id.is_none() {
                self.counter += 1;
                s.id = Some(format!("{}-{}", self.id_prefix, self.counter));
            }
        }
    }

    /// Appends `subs` (one request, all or nothing), assigning ids where
    /// missing and retrying transient failures.
    pub fn append(&mut self, subs: &mut [Submission]) -> Result<Vec<Receipt>, ClientError> {
        self.assign_ids(subs);
        let mut body = Vec::new();
        for s in subs.iter() {
            body.extend_from_slice(&s.to_cbor());
        }
        self.append_body(&body, "application/cbor-seq")
    }

    /// Appends a JSON Lines body as is, retrying transient failures. Give
    /// every line an `id` if retries must not duplicate events.
    pub fn append_jsonl(&mut self, body: &str) -> Result<Vec<Receipt>, ClientError> {
        self.append_body(body.as_bytes(), "application/jsonl")
    }

    fn append_body(&mut self, body: &[u8], ctype: &str) -> Result<Vec<Receipt>, ClientError> {
        let (status, resp) = self.with_retries("POST", "/v1/events", ctype, body)?;
        let v = json_body(status, &resp)?;
        let list = v
            .get("receipts")
            .and_then(|r| r.as_array())
            .ok_or_else(|| protocol("no receipts"))?;
        list.iter().map(parse_receipt).collect()
    }

    /// The last signed checkpoint (a signed note), signing one if none exists.
    pub fn checkpoint(&mut self) -> Result<String, ClientError> {
        let (status, body) = self.with_retries("GET", "/v1/checkpoint", "", b"")?;
        text_body(status, body)
    }

    /// Asks the recorder to sign a checkpoint now.
    pub fn sign_checkpoint(&mut self) -> Result<String, ClientError> {
        let (status, body) = self.with_retries("POST", "/v1/checkpoint", "", b"")?;
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
        let (status, body) = self.with_retries("GET", &path, "", b"")?;
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
        let (status, body) = self.with_retries("GET", &path, "", b"")?;
        json_body(status, &body)
    }

    fn with_retries(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let mut pause = self.backoff;
        let mut attempt = 0;
        loop {
            let r = self.request(method, path, ctype, body);
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
            self.conn = None;
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// One attempt: reuses the kept-alive connection, reconnecting once if
    /// the server had closed it.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let reused = self.conn.is_some();
        match self.try_request(method, path, ctype, body) {
            Err(_) if reused => {
                self.conn = None;
                self.try_request(method, path, ctype, body)
            }
            r => r,
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        if self.conn.is_none() {
            let addr = self
                .addr
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other("address resolves to nothing"))?;
            let s = TcpStream::connect_timeout(&addr, self.timeout)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            s.set_nodelay(true)?;
            self.conn = Some(BufReader::new(s));
        }
        let r = self.exchange(method, path, ctype, body);
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let host = self.addr.clone();
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| std::io::Error::other("not connected"))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !ctype.is_empty() {
            head.push_str(&format!("Content-Type: {ctype}\r\n"));
        }
        head.push_str("\r\n");
        let s = conn.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        s.flush()?;
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        let mut line = String::new();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut length = None;
        let mut close = false;
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim();
                if k == "content-length" {
                    length = Some(v.parse::<usize>().map_err(|_| bad("bad content-length"))?);
                } else if k == "connection" && v.eq_ignore_ascii_case("close") {
                    close = true;
                } else if k == "transfer-encoding" {
                    return Err(bad("chunked responses are not expected from the recorder"));
                }
            }
        }
        let length = length.ok_or_else(|| bad("response without content-length"))?;
        if length > MAX_RESPONSE {
            return Err(bad("response too large"));
        }
        let mut out = vec![0u8; length];
        conn.read_exact(&mut out)?;
        if close {
            self.conn = None;
        }
        Ok((status, out))
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
