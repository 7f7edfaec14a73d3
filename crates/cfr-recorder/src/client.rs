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
//!
//! A client may be given several recorders of one log (`http://a:7878,http://b:7878`,
//! [`Client::new`]): the recorders of a log in PostgreSQL, of which one
//! sequences and the others are standbys that answer `503`. A request that
//! cannot connect, times out or gets `503` is retried on the next one
//! (and the list again, with a growing pause, until the retries are
//! spent). Retrying a submission is safe: its id makes it idempotent.
//!
//! Before it reports a submission appended, the client checks the
//! recorder's `cfr-receipt/1` ([`cfr_bundle_format::receipt`]): the
//! checkpoint is signed by the contract's recorder key, the range proof
//! places the events at their seqs in that tree, and each of the party's
//! own events, with the seq and time the recorder gave it, has the leaf
//! hash the receipt names. A receipt that fails is a
//! [`ClientError::Receipt`]: the recorder said it kept something other
//! than what was sent. Keep the receipts ([`Acknowledged::receipt`]):
//! `cfr-bundle verify --receipts` holds a sealed bundle against them.

use crate::recorder::{Acknowledged, Receipt};
use crate::submission::SignedSubmission;
use cfr_bundle_format::receipt::Receipt as SubmissionReceipt;
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
    /// The recorder acknowledged the submission with a receipt that does
    /// not hold: not signed by the contract's recorder, a proof that does
    /// not place the events in the signed tree, or events other than the
    /// ones sent.
    #[error("the recorder's receipt for submission {id:?} does not hold: {reason}")]
    Receipt {
        /// The submission id.
        id: String,
        /// What failed.
        reason: String,
    },
}

/// A connection to a recorder (or to one of several recorders of a log).
pub struct Client {
    /// The recorders' addresses (`host:port`), tried in turn.
    addrs: Vec<String>,
    /// The one in use.
    current: usize,
    agent: Option<(Duration, ureq::Agent)>,
    /// The contract id and recorder key receipts must verify under.
    recorder: Option<(String, ed25519_dalek::VerifyingKey)>,
    /// Timeout of each attempt (connecting, sending, reading the response).
    pub timeout: Duration,
    /// Retries after the first attempt (rounds over the recorders, when
    /// there are several).
    pub retries: u32,
    /// Pause before the first retry; doubles each time up to 2 s.
    pub backoff: Duration,
}

/// Largest response accepted.
const MAX_RESPONSE: usize = 64 << 20;

impl Client {
    /// A client for the recorder at `addr`: a URL `http://host:port` (a
    /// trailing `/` is ignored) or `host:port`; or several recorders of
    /// one log, separated by commas, tried in turn (see the module docs).
    pub fn new(addr: impl Into<String>) -> Client {
        let addr: String = addr.into();
        let mut addrs: Vec<String> = addr
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.strip_prefix("http://")
                    .unwrap_or(a)
                    .trim_end_matches('/')
                    .to_owned()
            })
            .collect();
        if addrs.is_empty() {
            addrs.push(String::new());
        }
        Client {
            addrs,
            current: 0,
            agent: None,
            recorder: None,
            timeout: Duration::from_secs(30),
            retries: 8,
            backoff: Duration::from_millis(50),
        }
    }

    /// A client for the recorder at `addr` of the log bound to `contract`:
    /// receipts must verify under this contract's recorder key (what a
    /// party should use: its own copy of the contract it agreed).
    pub fn for_contract(addr: impl Into<String>, contract: &cfr_contract::Contract) -> Client {
        let mut c = Client::new(addr);
        c.recorder = Some((contract.id.clone(), contract.parties.recorder.key.0));
        c
    }

    /// The address (`host:port`) of the recorder in use.
    pub fn addr(&self) -> &str {
        &self.addrs[self.current]
    }

    /// Every recorder address this client may use, comma-separated (what
    /// [`Client::new`] takes).
    pub fn addrs(&self) -> String {
        self.addrs.join(",")
    }

    /// The contract id and recorder key receipts are checked against:
    /// those given to [`Client::for_contract`], else the contract the
    /// recorder serves (`GET /v1/contract`, fetched once), which only
    /// shows that the recorder is self-consistent.
    fn recorder_key(&mut self) -> Result<(String, ed25519_dalek::VerifyingKey), ClientError> {
        if let Some(k) = &self.recorder {
            return Ok(k.clone());
        }
        let toml = self.contract()?;
        let c = cfr_contract::Contract::from_toml(&toml)
            .map_err(|e| protocol(&format!("the recorder's contract does not compile: {e}")))?;
        let k = (c.id.clone(), c.parties.recorder.key.0);
        self.recorder = Some(k.clone());
        Ok(k)
    }

    /// Appends a signed submission (`POST /v1/submissions`), retrying
    /// transient failures, and checks its receipt (see the module docs):
    /// the events' seqs, times and leaf hashes, in order, with the
    /// verified receipt. A retry after a lost answer is safe: the recorder
    /// answers a submission id it holds (same digest) with the original
    /// events (`duplicate`) and a receipt against its latest checkpoint.
    pub fn submit(&mut self, submission: &SignedSubmission) -> Result<Acknowledged, ClientError> {
        let (contract_id, recorder_key) = self.recorder_key()?;
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
        let duplicate = v
            .get("duplicate")
            .and_then(|d| d.as_bool())
            .ok_or_else(|| protocol("no duplicate flag"))?;
        let encoded = v
            .get("receipt")
            .and_then(|r| r.as_str())
            .ok_or_else(|| protocol("no receipt"))?;
        let bytes = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| protocol(&format!("receipt is not base64: {e}")))?
        };
        let bad = |reason: String| ClientError::Receipt {
            id: submission.id.clone(),
            reason,
        };
        let receipt = SubmissionReceipt::decode(&bytes).map_err(|e| bad(e.to_string()))?;
        check_receipt(&receipt, submission, &contract_id, &recorder_key).map_err(bad)?;
        let events = receipt
            .events
            .iter()
            .map(|e| Receipt {
                seq: e.seq,
                time: e.time,
                leaf: e.leaf,
                duplicate,
            })
            .collect();
        Ok(Acknowledged {
            events,
            receipt: Some(receipt),
            duplicate,
        })
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
    ) -> Result<Acknowledged, ClientError> {
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
        // Recorders tried since the last pause.
        let mut tried = 0;
        loop {
            let r = self.request(method, path, ctype, headers, body);
            let retry = match &r {
                Ok((status, _)) => *status == 503 || *status == 408,
                Err(_) => true,
            };
            // `retries` counts rounds over the recorders: each is tried
            // once more per retry.
            let last_of_round = tried + 1 >= self.addrs.len();
            if !retry || (attempt >= self.retries && last_of_round) {
                return match r {
                    Ok(x) => Ok(x),
                    Err(source) => Err(ClientError::Connect {
                        addr: self.addr().to_owned(),
                        source,
                    }),
                };
            }
            tried += 1;
            // The next recorder at once; a pause once each was tried.
            self.current = (self.current + 1) % self.addrs.len();
            if tried >= self.addrs.len() {
                tried = 0;
                attempt += 1;
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
            }
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
        let url = format!("http://{}{path}", self.addrs[self.current]);
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

/// Checks a receipt for `submission` (see the module docs).
pub fn check_receipt(
    receipt: &SubmissionReceipt,
    submission: &SignedSubmission,
    contract_id: &str,
    recorder_key: &ed25519_dalek::VerifyingKey,
) -> Result<(), String> {
    if receipt.contract != contract_id {
        return Err(format!(
            "it is for contract {:?}, not {contract_id:?}",
            receipt.contract
        ));
    }
    if receipt.party != submission.party || receipt.id != submission.id {
        return Err(format!(
            "it is for submission {:?} of the {}",
            receipt.id, receipt.party
        ));
    }
    receipt.verify(recorder_key).map_err(|e| e.to_string())?;
    receipt
        .matches(&submission.events)
        .map_err(|e| e.to_string())
}

/// Parses a hash as the API writes it: standard base64 of 32 bytes.
pub fn parse_hash(s: &str) -> Option<Hash> {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    Hash::try_from(b.as_slice()).ok()
}
