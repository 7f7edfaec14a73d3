//! The JSON Lines import format (specified here) and its inverse.
//!
//! One JSON object per line:
//!
//! ```text
//! {"time":"2026-03-02T10:00:00.250Z","kind":"request","actor":"user","attrs":{"id":"r-17"}}
//! ```
//!
//! Attribute values are converted by the type the contract declares:
//! `bytes` as lowercase hex, `time` as RFC 3339, `duration` as `"250ms"`;
//! `sig` is base64; `seq`, when given, must equal the line's position among
//! the events. Every error names the line and the reason.
//!
//! A line may instead introduce a signed submission (see
//! [`crate::submission`]) covering the `count` events that follow it, as
//! `cfr-bundle event submit` writes it:
//!
//! ```text
//! {"submission":{"party":"user","id":"u-1","count":2,"sig":"<base64 COSE_Sign1>"}}
//! ```
//!
//! Such a line must start with `{"submission"`. Its events need not carry
//! their own signatures, even of `signed = true` kinds: the submission's
//! signature covers them (`seal` checks it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cfr_contract::Contract;
use cfr_model::time::{format_duration, format_rfc3339, parse_duration, parse_rfc3339};
use cfr_model::{Attrs, Event, Value, ValueType};
use serde::Deserialize;
use std::fmt::Write as _;

/// Longest accepted line, in bytes (a line is one event).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A rejected line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ImportError {
    /// 1-based line number (empty lines count).
    pub line: u64,
    /// Why the line was rejected.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(default)]
    seq: Option<u64>,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    actor: std::borrow::Cow<'a, str>,
    #[serde(default)]
    attrs: JsonAttrs,
    #[serde(default)]
    sig: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderLine {
    submission: Header,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    party: String,
    id: String,
    count: u64,
    sig: String,
}

/// Converts JSON Lines into events, in order, checking each against the
/// contract: kind, actor, attributes and their types, seq, time order and
/// signatures.
pub struct Importer<'c> {
    contract: &'c Contract,
    line: u64,
    next_seq: u64,
    last_time: Option<i64>,
    check_signatures: bool,
    submissions: Vec<crate::submission::Entry>,
    covered_until: u64,
}

impl<'c> Importer<'c> {
    /// An importer for events of `contract`, starting at seq 0.
    pub fn new(contract: &'c Contract) -> Self {
        Importer {
            contract,
            line: 0,
            next_seq: 0,
            last_time: None,
            check_signatures: true,
            submissions: Vec::new(),
            covered_until: 0,
        }
    }

    /// Skips signature verification, and accepts unsigned events of
    /// `signed = true` kinds (for `event sign`, which adds the signatures).
    pub fn without_signature_checks(mut self) -> Self {
        self.check_signatures = false;
        self
    }

    /// Number of events accepted so far.
    pub fn events(&self) -> u64 {
        self.next_seq
    }

    /// The submission lines read so far, each with the seq of the first
    /// event it covers (its signature is checked when sealing).
    pub fn submissions(&self) -> &[crate::submission::Entry] {
        &self.submissions
    }

    /// Takes the submission lines read so far.
    pub fn take_submissions(&mut self) -> Vec<crate::submission::Entry> {
        std::mem::take(&mut self.submissions)
    }

    fn header(&mut self, text: &str) -> Result<(), String> {
        let h: HeaderLine =
            serde_json::from_str(text).map_err(|e| format!("not a valid submission line: {e}"))?;
        let h = h.submission;
        if self.next_seq < self.covered_until {
            return Err(format!(
                "a submission line inside the previous submission (which covers events up to seq {})",
                self.covered_until - 1
            ));
        }
        crate::submission::check_id(&h.id)?;
        if h.count == 0 || h.count > crate::submission::MAX_EVENTS {
            return Err(format!(
                "submission count {}; must be 1 to {}",
                h.count,
                crate::submission::MAX_EVENTS
            ));
        }
        if h.party == "recorder" || self.contract.party(&h.party).is_none() {
            return Err(format!(
                "submission by {:?}: not the provider, the user or an attestor of the contract",
                h.party
            ));
        }
        let sig = STANDARD
            .decode(h.sig.as_bytes())
            .map_err(|e| format!("submission sig is not base64: {e}"))?;
        crate::submission::parse(&sig).map_err(|e| e.to_string())?;
        self.covered_until = self.next_seq + h.count;
        self.submissions.push(crate::submission::Entry {
            party: h.party,
            id: h.id,
            first: self.next_seq,
            count: h.count,
            sig,
        });
        Ok(())
    }

    /// Reads the next line. `Ok(None)` for an empty line.
    pub fn line(&mut self, text: &str) -> Result<Option<Event>, ImportError> {
        self.line += 1;
        let lineno = self.line;
        let err = |reason: String| ImportError {
            line: lineno,
            reason,
        };
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            return Ok(None);
        }
        if text.len() > MAX_LINE_BYTES {
            return Err(err(format!(
                "line is {} bytes, more than the {MAX_LINE_BYTES} allowed",
                text.len()
            )));
        }
        if text
            .trim_start()
            .strip_prefix('{')
            .is_some_and(|t| t.trim_start().starts_with("\"submission\""))
        {
            return self.header(text).map(|()| None).map_err(err);
        }
        let raw: Line<'_> = serde_json::from_str(text)
            .map_err(|e| err(format!("not a valid event object: {e}")))?;
        if let Some(seq) = raw.seq {
            if seq != self.next_seq {
                return Err(err(format!(
                    "seq {seq} does not match the event's position {}",
                    self.next_seq
                )));
            }
        }
        let time = parse_rfc3339(&raw.time).map_err(|e| err(format!("time: {e}")))?;
        if let Some(last) = self.last_time {
            if time < last {
                return Err(err(format!(
                    "time {} goes backwards (previous event at {})",
                    format_rfc3339(time),
                    format_rfc3339(last)
                )));
            }
        }
        let (attrs, sig) =
            typed_attrs_and_sig(self.contract, &raw.kind, raw.attrs, raw.sig.as_deref())
                .map_err(err)?;
        let event = Event {
            seq: self.next_seq,
            time,
            kind: raw.kind.into_owned(),
            actor: raw.actor.into_owned(),
            attrs,
            sig,
        };
        if self.check_signatures && self.next_seq >= self.covered_until {
            self.contract.check_event(&event)
        } else {
            self.contract.check_event_unsigned(&event)
        }
        .map_err(|e| err(e.to_string()))?;
        if self.check_signatures {
            check_signature(self.contract, &event).map_err(err)?;
        }
        self.next_seq += 1;
        self.last_time = Some(time);
        Ok(Some(event))
    }
}

/// A hint for a name that is not one of `known`: the closest known name
/// when one is close (`; did you mean "request"?`), else the list of
/// known names (`; the contract declares "a", "b"`).
pub fn did_you_mean<'a>(got: &str, known: impl Iterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.collect();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(got, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!("; did you mean {k:?}?"),
        None if known.is_empty() => String::new(),
        None => format!(
            "; the contract declares {}",
            known
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The attributes of a JSON Lines event of `kind`, typed as the contract
/// declares them (a `null` leaves out an optional attribute), and its
/// base64 signature: shared by [`Importer`] and the recorder's ingest.
pub fn typed_attrs_and_sig(
    contract: &Contract,
    kind: &str,
    json_attrs: JsonAttrs,
    sig: Option<&str>,
) -> Result<(Attrs, Option<[u8; 64]>), String> {
    let spec = contract.events.get(kind).ok_or_else(|| {
        format!(
            "unknown event kind {kind:?}{}",
            did_you_mean(kind, contract.events.keys().map(String::as_str))
        )
    })?;
    let mut attrs = Attrs::new();
    // Taken by value: names and text values move into the event.
    for (name, json) in json_attrs.0 {
        let a = spec.attrs.get(&name).ok_or_else(|| {
            format!(
                "attribute {name:?} is not declared for {kind:?}{}",
                did_you_mean(&name, spec.attrs.keys().map(String::as_str))
            )
        })?;
        if json.is_null() {
            if a.optional {
                continue;
            }
            return Err(format!("attribute {name:?} is required; null given"));
        }
        let v = attr_value(a.ty, json).map_err(|why| format!("attribute {name:?}: {why}"))?;
        attrs.insert(name, v);
    }
    let sig =
        match sig {
            None => None,
            Some(b64) => {
                let bytes = STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| "sig is not valid base64".to_owned())?;
                Some(<[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| {
                    format!("sig is {} bytes, an Ed25519 signature is 64", bytes.len())
                })?)
            }
        };
    Ok((attrs, sig))
}

/// Verifies an event's signature, where present, against its actor's
/// contract key. (Whether a signature is *required* is part of
/// [`Contract::check_event`].)
pub fn check_signature(contract: &Contract, event: &Event) -> Result<(), String> {
    let Some(sig) = &event.sig else {
        return Ok(());
    };
    let key = contract.party_key(&event.actor).ok_or_else(|| {
        format!(
            "signed by {:?}, which has no key in the contract",
            event.actor
        )
    })?;
    if key.verify(&event.signing_payload(&contract.id), sig) {
        Ok(())
    } else {
        Err(format!(
            "bad signature: not a valid signature by {:?} ({}) over this event",
            event.actor,
            key.fingerprint()
        ))
    }
}

/// Converts an attribute's JSON value by the type the contract declares:
/// `bytes` as lowercase hex, `time` as RFC 3339, `duration` as `"250ms"`.
pub fn attr_value(want: ValueType, json: serde_json::Value) -> Result<Value, String> {
    use serde_json::Value as J;
    Ok(match (want, json) {
        (ValueType::Int, J::Number(n)) => Value::Int(
            n.as_i64()
                .ok_or_else(|| format!("{n} is not a 64-bit integer"))?,
        ),
        (ValueType::Text, J::String(s)) => Value::Text(s),
        (ValueType::Bool, J::Bool(b)) => Value::Bool(b),
        (ValueType::Bytes, J::String(s)) => Value::Bytes(parse_hex(&s)?),
        (ValueType::Time, J::String(s)) => {
            Value::Int(parse_rfc3339(&s).map_err(|e| e.to_string())?)
        }
        (ValueType::Duration, J::String(s)) => {
            Value::Int(parse_duration(&s).map_err(|e| e.to_string())?)
        }
        (_, json) => return Err(format!("expected {want}, found {}", json_type(&json))),
    })
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Parses lowercase hex (an even number of `0-9a-f`).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return Err(format!("{:?} is not lowercase hex: odd length", short(s)));
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    b.chunks_exact(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| format!("{:?} is not lowercase hex", short(s)))
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Writes an event as one line of the import format (with `seq`), typed by
/// the contract, so that importing the line gives the same event back.
pub fn event_to_jsonl(contract: &Contract, e: &Event, out: &mut String) {
    let spec = contract.events.get(&e.kind);
    out.push_str("{\"seq\":");
    let _ = write!(out, "{}", e.seq);
    out.push_str(",\"time\":");
    json_str(out, &format_rfc3339(e.time));
    out.push_str(",\"kind\":");
    json_str(out, &e.kind);
    out.push_str(",\"actor\":");
    json_str(out, &e.actor);
    out.push_str(",\"attrs\":{");
    for (i, (k, v)) in e.attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, k);
        out.push(':');
        let ty = spec.and_then(|s| s.attrs.get(k)).map(|a| a.ty);
        match (v, ty) {
            (Value::Int(n), Some(ValueType::Time)) => json_str(out, &format_rfc3339(*n)),
            (Value::Int(n), Some(ValueType::Duration)) => json_str(out, &format_duration_exact(*n)),
            (Value::Int(n), _) => {
                let _ = write!(out, "{n}");
            }
            (Value::Text(t), _) => json_str(out, t),
            (Value::Bool(b), _) => out.push_str(if *b { "true" } else { "false" }),
            (Value::Bytes(b), _) => {
                out.push('"');
                out.push_str(&hex::encode(b));
                out.push('"');
            }
        }
    }
    out.push('}');
    if let Some(sig) = &e.sig {
        out.push_str(",\"sig\":");
        json_str(out, &STANDARD.encode(sig));
    }
    out.push_str("}\n");
}

/// A duration in the largest whole unit that represents it exactly (so it
/// parses back to the same number of ns).
fn format_duration_exact(ns: i64) -> String {
    if ns < 0 {
        // Durations in events are non-negative in practice; keep exactness.
        return format!("{ns}ns");
    }
    let s = format_duration(ns);
    if s.contains('.') {
        format!("{ns}ns")
    } else {
        s
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the submission line of `entry`, newline included: the inverse of
/// the submission lines [`Importer::line`] reads (`first` is the position
/// of the line, not written).
pub fn submission_to_jsonl(entry: &crate::submission::Entry, out: &mut String) {
    let line = serde_json::json!({"submission": {
        "party": entry.party,
        "id": entry.id,
        "count": entry.count,
        "sig": STANDARD.encode(&entry.sig),
    }});
    let _ = writeln!(out, "{line}");
}

/// A JSON object of attributes whose keys must be unique (serde_json would
/// keep the last of two equal keys silently; an event with two values for
/// one attribute is ambiguous, so it is rejected).
#[derive(Default)]
pub struct JsonAttrs(pub Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for JsonAttrs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonAttrs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of attributes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<JsonAttrs, A::Error> {
                let mut out: Vec<(String, serde_json::Value)> = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    if out.iter().any(|(e, _)| *e == k) {
                        return Err(serde::de::Error::custom(format!(
                            "attribute {k:?} appears twice"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(JsonAttrs(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = r#"
format = "cfr-contract/1"
id = "c"
title = "t"
jurisdiction = "EU"
[parties]
provider = { name = "P", key = "ed25519:2A99O8BOPofMdKOYmBFdfoYczmjagY4Q4Ccvo7JJD0k=" }
user = { name = "U", key = "ed25519:hjjDqFWU8lNChxAmFr1bo2LU2RkwA8GOuh0B1HrR/uE=" }
recorder = { name = "R", key = "ed25519:D6UNPnCS3esjLFhnnalU8eabpW6rRrID26skG4ar1qQ=" }
[events.e]
by = "provider"
attrs = { n = "int", t = "text", b = "bool", x = "bytes", at = "time", d = "duration", o = "text?" }
"#;

    fn typed(json: &str) -> Result<Attrs, String> {
        let contract = Contract::from_toml(CONTRACT).expect("contract");
        let attrs: JsonAttrs = serde_json::from_str(json).map_err(|e| e.to_string())?;
        typed_attrs_and_sig(&contract, "e", attrs, None).map(|(a, _)| a)
    }

    #[test]
    fn json_attributes_are_typed_by_the_contract() {
        let a = typed(
            r#"{"t":"hello","n":-3,"b":true,"x":"00ff","at":"1970-01-01T00:00:01Z","d":"250ms","o":null}"#,
        )
        .expect("typed");
        let got: Vec<(&str, &Value)> = a.iter().collect();
        assert_eq!(
            got,
            [
                ("b", &Value::Bool(true)),
                ("d", &Value::Int(250_000_000)),
                ("n", &Value::Int(-3)),
                ("t", &Value::Text("hello".into())),
                ("x", &Value::Bytes(vec![0, 255])),
                ("at", &Value::Int(1_000_000_000)),
            ]
        );
    }

    #[test]
    fn each_mistyped_attribute_is_named_with_what_was_found() {
        for (json, want) in [
            (
                r#"{"n":"1"}"#,
                "attribute \"n\": expected int, found string",
            ),
            (r#"{"t":1}"#, "attribute \"t\": expected text, found number"),
            (
                r#"{"b":"true"}"#,
                "attribute \"b\": expected bool, found string",
            ),
            (
                r#"{"x":[1]}"#,
                "attribute \"x\": expected bytes, found array",
            ),
            (
                r#"{"at":{}}"#,
                "attribute \"at\": expected time, found object",
            ),
            (
                r#"{"d":false}"#,
                "attribute \"d\": expected duration, found bool",
            ),
            (
                r#"{"n":1.5}"#,
                "attribute \"n\": 1.5 is not a 64-bit integer",
            ),
            (
                r#"{"x":"0F"}"#,
                "attribute \"x\": \"0F\" is not lowercase hex",
            ),
            (r#"{"t":null}"#, "attribute \"t\" is required; null given"),
        ] {
            assert_eq!(typed(json).expect_err(json), want, "{json}");
        }
        let e = typed(r#"{"nn":1}"#).expect_err("undeclared");
        assert!(
            e.starts_with("attribute \"nn\" is not declared for \"e\""),
            "{e}"
        );
    }
}
