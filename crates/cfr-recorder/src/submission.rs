//! What parties submit: an event without seq and time, plus an optional
//! client-chosen id, in JSON Lines or as a CBOR sequence.
//!
//! JSON Lines (one object per line, empty lines skipped but counted):
//!
//! ```text
//! {"id":"u-17","kind":"request","actor":"user","attrs":{"id":"r-17","op":"get","object":"a"}}
//! ```
//!
//! Attribute values follow the JSON Lines import format
//! (`cfr_bundle_format::import`)
//! (`bytes` as lowercase hex, `time` as RFC 3339, `duration` as `"250ms"`),
//! `sig` is base64. `time` and `seq` are refused: the recorder assigns
//! them. A CBOR sequence (`application/cbor-seq`) holds one canonical map
//! per event: `{ ? "id": tstr, ? "sig": bstr .size 64, "kind": tstr,
//! "actor": tstr, "attrs": { * tstr => int / tstr / bool / bstr } }`, with
//! times and durations as integer nanoseconds.
//!
//! `id` makes an append idempotent: the recorder keeps, per id, the seq it
//! gave; resubmitting the same id with the same event returns the original
//! receipt instead of appending again, and with a different event is a
//! conflict. Ids are at most 128 bytes of printable ASCII. They belong to
//! the recorder's index, not to the event: they are not signed and not
//! sealed.

use crate::segment::MAX_ID_BYTES;
use cfr_bundle_format::import::{check_signature, typed_attrs_and_sig, JsonAttrs};
use cfr_contract::Contract;
use cfr_model::cbor::{Cbor, Decoder};
use cfr_model::{Attrs, Event, Value};
use serde::Deserialize;

/// An event as a party submits it: `seq` and `time` are left at 0 until
/// the recorder assigns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The client-chosen idempotency id, if any.
    pub id: Option<String>,
    /// The event (seq and time unassigned).
    pub event: Event,
}

impl Submission {
    /// A submission of `kind` by `actor` with `attrs`, unsigned, without id.
    pub fn new(kind: &str, actor: &str, attrs: Attrs) -> Submission {
        Submission {
            id: None,
            event: Event {
                seq: 0,
                time: 0,
                kind: kind.into(),
                actor: actor.into(),
                attrs,
                sig: None,
            },
        }
    }

    /// Sets the idempotency id.
    pub fn with_id(mut self, id: impl Into<String>) -> Submission {
        self.id = Some(id.into());
        self
    }

    /// Signs the event as its actor would, for contract `contract_id`.
    pub fn signed(mut self, key: &ed25519_dalek::SigningKey, contract_id: &str) -> Submission {
        use ed25519_dalek::Signer as _;
        let sig = key.sign(&self.event.signing_payload(contract_id));
        self.event.sig = Some(sig.to_bytes());
        self
    }

    /// The CBOR map of the `application/cbor-seq` format.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut entries: Vec<(&str, Cbor)> = vec![
            ("kind", Cbor::text(self.event.kind.clone())),
            ("actor", Cbor::text(self.event.actor.clone())),
            (
                "attrs",
                Cbor::map(self.event.attrs.iter().map(|(k, v)| {
                    (
                        k.to_owned(),
                        match v {
                            Value::Int(i) => Cbor::Int(*i),
                            Value::Text(t) => Cbor::Text(t.clone()),
                            Value::Bool(b) => Cbor::Bool(*b),
                            Value::Bytes(b) => Cbor::Bytes(b.clone()),
                        },
                    )
                })),
            ),
        ];
        if let Some(id) = &self.id {
            entries.push(("id", Cbor::text(id.clone())));
        }
        if let Some(sig) = &self.event.sig {
            entries.push(("sig", Cbor::Bytes(sig.to_vec())));
        }
        cfr_model::cbor::encode(&Cbor::map(entries))
    }

    /// A digest of what the submitter controls (kind, actor, attrs, sig):
    /// two submissions under one id must agree on it.
    pub(crate) fn content_digest(&self) -> [u8; 16] {
        content_digest(&self.event)
    }
}

/// The digest of an event's submitted content (seq and time ignored).
pub(crate) fn content_digest(e: &Event) -> [u8; 16] {
    use sha2::{Digest as _, Sha256};
    let mut bare = e.clone();
    bare.seq = 0;
    bare.time = 0;
    let d = Sha256::digest(bare.encode());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// A rejected submission: which line (JSON Lines) or item (CBOR
/// sequence, counted from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{unit} {number}: {reason}")]
pub struct Rejection {
    /// `"line"` or `"item"`.
    pub unit: &'static str,
    /// 1-based line or item number.
    pub number: u64,
    /// Why it was rejected.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    id: Option<String>,
    kind: String,
    actor: String,
    #[serde(default)]
    attrs: JsonAttrs,
    #[serde(default)]
    sig: Option<String>,
    #[serde(default)]
    time: Option<serde_json::Value>,
    #[serde(default)]
    seq: Option<serde_json::Value>,
}

/// Parses and checks a JSON Lines body against the contract. All or
/// nothing: the first bad line rejects the whole body.
pub fn parse_jsonl(contract: &Contract, body: &[u8]) -> Result<Vec<Submission>, Rejection> {
    parse_jsonl_as(contract, body, Checks::Alone)
}

/// How a parsed event is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// On its own ([`check`]): a `signed = true` kind needs its own signature.
    Alone,
    /// As part of a signed submission: no per-event id, and signatures
    /// are left to [`SignedSubmission::verify`].
    InSubmission,
}

fn check_as(contract: &Contract, sub: &Submission, checks: Checks) -> Result<(), String> {
    match checks {
        Checks::Alone => check(contract, sub),
        Checks::InSubmission => {
            if sub.id.is_some() {
                return Err("an event in a signed submission has no \"id\" of its own (the submission's id is the Cfr-Submission header)".into());
            }
            contract
                .check_event_unsigned(&sub.event)
                .map_err(|e| e.to_string())?;
            check_size(&sub.event)
        }
    }
}

fn check_size(e: &Event) -> Result<(), String> {
    let size = e.encode().len();
    if size > crate::segment::MAX_EVENT_BYTES {
        return Err(format!(
            "event is {size} bytes of CBOR, more than the {} allowed",
            crate::segment::MAX_EVENT_BYTES
        ));
    }
    Ok(())
}

fn parse_jsonl_as(
    contract: &Contract,
    body: &[u8],
    checks: Checks,
) -> Result<Vec<Submission>, Rejection> {
    let mut out = Vec::new();
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64
            + 1;
        Rejection {
            unit: "line",
            number: line,
            reason: "not UTF-8".into(),
        }
    })?;
    for (i, raw) in text.split('\n').enumerate() {
        let number = i as u64 + 1;
        let err = |reason: String| Rejection {
            unit: "line",
            number,
            reason,
        };
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_str(raw).map_err(|e| err(format!("not a valid event object: {e}")))?;
        if line.time.is_some() || line.seq.is_some() {
            return Err(err(
                "\"time\" and \"seq\" are assigned by the recorder; leave them out".into(),
            ));
        }
        let (attrs, sig) =
            typed_attrs_and_sig(contract, &line.kind, line.attrs, line.sig.as_deref())
                .map_err(err)?;
        let sub = Submission {
            id: line.id,
            event: Event {
                seq: 0,
                time: 0,
                kind: line.kind,
                actor: line.actor,
                attrs,
                sig,
            },
        };
        check_as(contract, &sub, checks).map_err(err)?;
        out.push(sub);
    }
    Ok(out)
}

/// Parses and checks an `application/cbor-seq` body. All or nothing.
pub fn parse_cbor_seq(contract: &Contract, body: &[u8]) -> Result<Vec<Submission>, Rejection> {
    parse_cbor_seq_as(contract, body, Checks::Alone)
}

fn parse_cbor_seq_as(
    contract: &Contract,
    body: &[u8],
    checks: Checks,
) -> Result<Vec<Submission>, Rejection> {
    let mut out = Vec::new();
    let mut d = Decoder::new(body);
    let mut number = 0u64;
    while !d.is_empty() {
        number += 1;
        let err = |reason: String| Rejection {
            unit: "item",
            number,
            reason,
        };
        let at = d.position();
        let item = d
            .value()
            .map_err(|e| err(format!("malformed or non-canonical CBOR: {e}")))?;
        let Cbor::Map(entries) = &item else {
            return Err(err(format!(
                "at byte {at}: expected a map, found {}",
                item.type_name()
            )));
        };
        let mut sub = Submission::new("", "", Attrs::new());
        let (mut kind, mut actor, mut attrs_seen) = (false, false, false);
        for (k, v) in entries {
            let Cbor::Text(k) = k else {
                return Err(err("map keys must be text".into()));
            };
            match (k.as_str(), v) {
                ("id", Cbor::Text(t)) => sub.id = Some(t.clone()),
                ("kind", Cbor::Text(t)) => {
                    sub.event.kind = t.clone();
                    kind = true;
                }
                ("actor", Cbor::Text(t)) => {
                    sub.event.actor = t.clone();
                    actor = true;
                }
                ("sig", Cbor::Bytes(b)) => {
                    sub.event.sig = Some(<[u8; 64]>::try_from(b.as_slice()).map_err(|_| {
                        err(format!(
                            "sig is {} bytes, an Ed25519 signature is 64",
                            b.len()
                        ))
                    })?)
                }
                ("attrs", Cbor::Map(attrs)) => {
                    attrs_seen = true;
                    for (ak, av) in attrs {
                        let Cbor::Text(ak) = ak else {
                            return Err(err("attribute names must be text".into()));
                        };
                        let value = match av {
                            Cbor::Int(i) => Value::Int(*i),
                            Cbor::Text(t) => Value::Text(t.clone()),
                            Cbor::Bool(b) => Value::Bool(*b),
                            Cbor::Bytes(b) => Value::Bytes(b.clone()),
                            other => {
                                return Err(err(format!(
                                    "attribute {ak:?}: {} is not int, text, bool or bytes",
                                    other.type_name()
                                )))
                            }
                        };
                        sub.event.attrs.insert(ak.clone(), value);
                    }
                }
                ("time" | "seq", _) => {
                    return Err(err(
                        "\"time\" and \"seq\" are assigned by the recorder; leave them out".into(),
                    ))
                }
                (k, v) => {
                    return Err(err(format!(
                        "unexpected key {k:?} (of type {})",
                        v.type_name()
                    )))
                }
            }
        }
        if !(kind && actor && attrs_seen) {
            return Err(err("\"kind\", \"actor\" and \"attrs\" are required".into()));
        }
        check_as(contract, &sub, checks).map_err(err)?;
        out.push(sub);
    }
    Ok(out)
}

/// Checks one submission: its id, the contract's event specification
/// (kind, actor, attributes, required signature) and, where there is a
/// signature, that it is valid by the actor's contract key.
pub fn check(contract: &Contract, sub: &Submission) -> Result<(), String> {
    if let Some(id) = &sub.id {
        if id.is_empty()
            || id.len() > MAX_ID_BYTES
            || !id.bytes().all(|b| (0x21..0x7f).contains(&b))
        {
            return Err(format!(
                "id must be 1 to {MAX_ID_BYTES} bytes of printable ASCII without spaces"
            ));
        }
    }
    contract
        .check_event(&sub.event)
        .map_err(|e| e.to_string())?;
    check_size(&sub.event)?;
    check_signature(contract, &sub.event)
}

/// A signed submission as received (section 13 of the design): a batch of
/// events all emitted by `party` (except events that carry a valid
/// signature of their own), under an `id` unique per party, with a
/// COSE_Sign1 by the party's contract key over the
/// [`digest`](cfr_bundle_format::submission::digest). Not yet checked:
/// [`SignedSubmission::verify`] makes the [`Verified`] one the recorder
/// appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedSubmission {
    /// The party it claims to be from (`Cfr-Party`).
    pub party: String,
    /// Its id (`Cfr-Submission`).
    pub id: String,
    /// The COSE_Sign1 bytes (`Cfr-Signature`, base64-decoded).
    pub sig: Vec<u8>,
    /// The events, seq and time unassigned.
    pub events: Vec<Event>,
}

/// A submission whose signature verified with its party's contract key and
/// whose every event may stand in it. Only [`SignedSubmission::verify`]
/// makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    inner: SignedSubmission,
    digest: [u8; 32],
}

impl Verified {
    /// The submitting party.
    pub fn party(&self) -> &str {
        &self.inner.party
    }
    /// The submission id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }
    /// The COSE_Sign1 bytes.
    pub fn sig(&self) -> &[u8] {
        &self.inner.sig
    }
    /// The events, in order.
    pub fn events(&self) -> &[Event] {
        &self.inner.events
    }
    /// The digest the signature covers.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

/// Why a signed submission was refused. Nothing of it is appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A required header is missing or malformed (400).
    #[error("header {name}: {reason}")]
    Header {
        /// The header.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No signature was given (401).
    #[error("the submission is not signed: send the COSE_Sign1 of the submitting party, base64, in Cfr-Signature")]
    Unsigned,
    /// The signature is not a COSE_Sign1 of the accepted profile (401).
    #[error("Cfr-Signature: {reason}")]
    MalformedSignature {
        /// What is wrong.
        reason: String,
    },
    /// The signature verifies under no contract key over this submission:
    /// the events, id or party differ from what was signed (401).
    #[error("the signature does not verify over this submission with the {party} key or any other key of the contract (the events, id or party differ from what was signed)")]
    NotVerified {
        /// The party claimed.
        party: String,
    },
    /// The signature is valid, but by another party's key (403).
    #[error("the submission claims to be by the {party} but is signed with the {signer} key")]
    WrongKey {
        /// The party claimed.
        party: String,
        /// Whose key signed it.
        signer: String,
    },
    /// The claimed party does not submit events under this contract (403).
    #[error("{party:?} is not a submitting party of this contract (the provider, the user or an attestor)")]
    NotAParty {
        /// The party claimed.
        party: String,
    },
    /// An event by another actor, without a valid signature of its own (403).
    #[error("item {item}: an event by {actor:?} in a submission by the {party}; a party submits only its own events (or events carrying their actor's own signature)")]
    ActorMismatch {
        /// 1-based position in the submission.
        item: u64,
        /// The event's actor.
        actor: String,
        /// The submitting party.
        party: String,
    },
    /// An event is not what the contract allows, or the body does not
    /// parse (400).
    #[error(transparent)]
    Event(#[from] Rejection),
    /// The body holds no event (400).
    #[error("the submission holds no event")]
    Empty,
    /// More events than one submission may hold (413).
    #[error("the submission holds {count} events, more than the {max} allowed")]
    TooMany {
        /// Events given.
        count: u64,
        /// The limit.
        max: u64,
    },
}

impl Refusal {
    /// The HTTP status the recorder answers with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unsigned
            | Refusal::MalformedSignature { .. }
            | Refusal::NotVerified { .. } => 401,
            Refusal::WrongKey { .. }
            | Refusal::NotAParty { .. }
            | Refusal::ActorMismatch { .. } => 403,
            Refusal::TooMany { .. } => 413,
            _ => 400,
        }
    }

    /// The line or item the refusal names, if any.
    pub fn number(&self) -> Option<(&'static str, u64)> {
        match self {
            Refusal::Event(r) => Some((r.unit, r.number)),
            Refusal::ActorMismatch { item, .. } => Some(("item", *item)),
            _ => None,
        }
    }
}

/// The name of the header that names the submitting party.
pub const PARTY_HEADER: &str = "cfr-party";
/// The name of the header that carries the submission id.
pub const ID_HEADER: &str = "cfr-submission";
/// The name of the header that carries the base64 COSE_Sign1.
pub const SIGNATURE_HEADER: &str = "cfr-signature";

/// Parses and verifies a signed submission as it arrives over HTTP: the
/// three headers' values (`None` when absent), whether the body is a CBOR
/// sequence (else JSON Lines), and the body. What `POST /v1/submissions`
/// does before handing the submission to the writer.
pub fn authenticate(
    contract: &Contract,
    party: Option<&str>,
    id: Option<&str>,
    signature: Option<&str>,
    cbor: bool,
    body: &[u8],
) -> Result<Verified, Refusal> {
    let party = party.ok_or(Refusal::Header {
        name: "Cfr-Party",
        reason: "missing: name the submitting party (provider, user or an attestor id)".into(),
    })?;
    let id = id.ok_or(Refusal::Header {
        name: "Cfr-Submission",
        reason: "missing: give the submission id (1 to 64 printable ASCII characters)".into(),
    })?;
    cfr_bundle_format::submission::check_id(id).map_err(|reason| Refusal::Header {
        name: "Cfr-Submission",
        reason,
    })?;
    party_key(contract, party)?;
    let signature = signature.ok_or(Refusal::Unsigned)?;
    let sig = decode_signature(signature)?;
    // Refuse a malformed signature before reading the body.
    cfr_bundle_format::submission::parse(&sig).map_err(|e| Refusal::MalformedSignature {
        reason: e.to_string(),
    })?;
    let subs = if cbor {
        parse_cbor_seq_as(contract, body, Checks::InSubmission)
    } else {
        parse_jsonl_as(contract, body, Checks::InSubmission)
    }?;
    SignedSubmission {
        party: party.to_owned(),
        id: id.to_owned(),
        sig,
        events: subs.into_iter().map(|s| s.event).collect(),
    }
    .verify(contract)
}

/// Decodes a `Cfr-Signature` value: standard base64, padded or not.
fn decode_signature(value: &str) -> Result<Vec<u8>, Refusal> {
    use base64::Engine as _;
    let value = value.trim();
    if value.len() > 2 * cfr_bundle_format::submission::MAX_SIGNATURE_BYTES {
        return Err(Refusal::MalformedSignature {
            reason: format!("{} characters, too long for a signature", value.len()),
        });
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(value)
        .map_err(|e| Refusal::MalformedSignature {
            reason: format!("not base64: {e}"),
        })
}

fn party_key(contract: &Contract, party: &str) -> Result<ed25519_dalek::VerifyingKey, Refusal> {
    cfr_bundle_format::submission::contract_keys(contract)
        .remove(party)
        .ok_or_else(|| Refusal::NotAParty {
            party: party.to_owned(),
        })
}

impl SignedSubmission {
    /// Makes a submission of `events` by `party` under `id`, signed with
    /// `key` (the party's contract key) for contract `contract_id`.
    pub fn sign(
        contract_id: &str,
        party: &str,
        id: &str,
        events: Vec<Event>,
        key: &ed25519_dalek::SigningKey,
    ) -> SignedSubmission {
        let digest = cfr_bundle_format::submission::digest(contract_id, party, id, events.iter());
        SignedSubmission {
            party: party.to_owned(),
            id: id.to_owned(),
            sig: cfr_bundle_format::submission::sign(key, &digest),
            events,
        }
    }

    /// The body of `POST /v1/submissions` as a CBOR sequence
    /// (`application/cbor-seq`).
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            out.extend_from_slice(
                &Submission {
                    id: None,
                    event: e.clone(),
                }
                .to_cbor(),
            );
        }
        out
    }

    /// The `Cfr-Signature` header value.
    pub fn signature_header(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.sig)
    }

    /// Checks the submission against the contract: the id, the party, the
    /// signature by the party's contract key over the digest, and each
    /// event (kind, actor, attributes; an event by another actor must
    /// carry a valid signature of its own; an event's own signature, when
    /// present, must be valid; a `signed = true` kind needs none of its
    /// own when its actor is the submitting party).
    pub fn verify(self, contract: &Contract) -> Result<Verified, Refusal> {
        use cfr_bundle_format::submission as sub;
        sub::check_id(&self.id).map_err(|reason| Refusal::Header {
            name: "Cfr-Submission",
            reason,
        })?;
        let key = party_key(contract, &self.party)?;
        let sign1 = sub::parse(&self.sig).map_err(|e| Refusal::MalformedSignature {
            reason: e.to_string(),
        })?;
        if self.events.is_empty() {
            return Err(Refusal::Empty);
        }
        let count = self.events.len() as u64;
        if count > sub::MAX_EVENTS {
            return Err(Refusal::TooMany {
                count,
                max: sub::MAX_EVENTS,
            });
        }
        for (i, e) in self.events.iter().enumerate() {
            let reject = |reason: String| {
                Refusal::Event(Rejection {
                    unit: "item",
                    number: i as u64 + 1,
                    reason,
                })
            };
            contract
                .check_event_unsigned(e)
                .map_err(|e| reject(e.to_string()))?;
            check_size(e).map_err(reject)?;
        }
        let digest = sub::digest(&contract.id, &self.party, &self.id, self.events.iter());
        if !sign1.verifies(&digest, &key) {
            let mut keys: Vec<(String, ed25519_dalek::VerifyingKey)> =
                sub::contract_keys(contract).into_iter().collect();
            keys.push(("recorder".into(), contract.parties.recorder.key.0));
            return Err(
                match keys.into_iter().find(|(_, k)| sign1.verifies(&digest, k)) {
                    Some((signer, _)) => Refusal::WrongKey {
                        party: self.party,
                        signer,
                    },
                    None => Refusal::NotVerified { party: self.party },
                },
            );
        }
        for (i, e) in self.events.iter().enumerate() {
            let item = i as u64 + 1;
            if e.sig.is_some() {
                check_signature(contract, e).map_err(|reason| {
                    Refusal::Event(Rejection {
                        unit: "item",
                        number: item,
                        reason,
                    })
                })?;
            } else if e.actor != self.party {
                return Err(Refusal::ActorMismatch {
                    item,
                    actor: e.actor.clone(),
                    party: self.party.clone(),
                });
            }
        }
        Ok(Verified {
            inner: self,
            digest,
        })
    }
}

/// One submission of a file being appended: consecutive events of one
/// party (see [`runs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The submitting party.
    pub party: String,
    /// The submission id (`<file digest>-<first line>`).
    pub id: String,
    /// The file's line number of each event (1-based).
    pub lines: Vec<u64>,
    /// The events (seq and time unassigned).
    pub events: Vec<Event>,
}

/// Why a file could not be split into submissions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A line is not an event the contract allows.
    #[error(transparent)]
    Line(#[from] Rejection),
    /// No key was given for a line's actor, and the event carries no
    /// signature of its own.
    #[error(
        "line {line}: no key for {actor:?}, which emits this event: add --key {actor}=KEY.key"
    )]
    NoKey {
        /// The line.
        line: u64,
        /// The actor.
        actor: String,
    },
}

/// Splits a JSON Lines file of events (`{kind, actor, attrs, sig?}`, no
/// `seq`, `time` or `id`) into submissions: consecutive runs of one
/// party's events, in file order, each of at most `batch` events. A party
/// submits its own events, so each event goes to its actor's run, except
/// that an event whose actor has no key (`has_key` false) but which
/// carries its own signature (an attestor's notice relayed) joins the run
/// around it. Ids are `<first 16 hex digits of the file's SHA-256>-<first
/// line of the run>`: appending the same file again (with the same
/// `batch`) makes the same submissions, which the recorder recognises.
pub fn runs(
    contract: &Contract,
    text: &str,
    batch: usize,
    has_key: impl Fn(&str) -> bool,
) -> Result<Vec<Run>, RunError> {
    use sha2::{Digest as _, Sha256};
    let prefix = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
    let batch = batch.clamp(1, cfr_bundle_format::submission::MAX_EVENTS as usize);
    let mut out: Vec<Run> = Vec::new();
    // Relayed events before the first run that has a party.
    let mut floating: Vec<(u64, Event)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let event = parse_jsonl_as(contract, raw.as_bytes(), Checks::InSubmission)
            .map_err(|r| Rejection { number: line, ..r })?
            .pop()
            .map(|s| s.event);
        let Some(event) = event else { continue };
        let party = if has_key(&event.actor) {
            Some(event.actor.clone())
        } else if event.sig.is_some() {
            None
        } else {
            return Err(RunError::NoKey {
                line,
                actor: event.actor,
            });
        };
        let current = out.last_mut();
        match (party, current) {
            (Some(p), Some(run)) if run.party == p && run.events.len() < batch => {
                run.lines.push(line);
                run.events.push(event);
            }
            (None, Some(run)) if run.events.len() < batch => {
                run.lines.push(line);
                run.events.push(event);
            }
            (None, Some(run)) => {
                let party = run.party.clone();
                out.push(Run {
                    id: format!("{prefix}-{line}"),
                    party,
                    lines: vec![line],
                    events: vec![event],
                });
            }
            (None, None) => floating.push((line, event)),
            (Some(p), _) => {
                let mut run = Run {
                    id: String::new(),
                    party: p,
                    lines: Vec::new(),
                    events: Vec::new(),
                };
                // Relayed events waiting for a run join this first one,
                // as far as the batch allows (the rest make runs of it).
                for (l, e) in floating.drain(..) {
                    if run.events.len() == batch {
                        run.id = format!("{prefix}-{}", run.lines[0]);
                        let party = run.party.clone();
                        out.push(std::mem::replace(
                            &mut run,
                            Run {
                                id: String::new(),
                                party,
                                lines: Vec::new(),
                                events: Vec::new(),
                            },
                        ));
                    }
                    run.lines.push(l);
                    run.events.push(e);
                }
                if run.events.len() == batch {
                    run.id = format!("{prefix}-{}", run.lines[0]);
                    let party = run.party.clone();
                    out.push(std::mem::replace(
                        &mut run,
                        Run {
                            id: String::new(),
                            party,
                            lines: Vec::new(),
                            events: Vec::new(),
                        },
                    ));
                }
                run.lines.push(line);
                run.events.push(event);
                run.id = format!("{prefix}-{}", run.lines[0]);
                out.push(run);
            }
        }
    }
    if let Some((line, e)) = floating.into_iter().next() {
        return Err(RunError::NoKey {
            line,
            actor: e.actor,
        });
    }
    Ok(out)
}
