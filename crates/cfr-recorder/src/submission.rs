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
            typed_attrs_and_sig(contract, &line.kind, &line.attrs, line.sig.as_deref())
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
        check(contract, &sub).map_err(err)?;
        out.push(sub);
    }
    Ok(out)
}

/// Parses and checks an `application/cbor-seq` body. All or nothing.
pub fn parse_cbor_seq(contract: &Contract, body: &[u8]) -> Result<Vec<Submission>, Rejection> {
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
        check(contract, &sub).map_err(err)?;
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
    let size = sub.event.encode().len();
    if size > crate::segment::MAX_EVENT_BYTES {
        return Err(format!(
            "event is {size} bytes of CBOR, more than the {} allowed",
            crate::segment::MAX_EVENT_BYTES
        ));
    }
    check_signature(contract, &sub.event)
}
