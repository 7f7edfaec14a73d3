//! The cfr rule engine and fault attribution: pure, streaming, deterministic.
//!
//! ```
//! use cfr_contract::Contract;
//! use cfr_model::time::parse_rfc3339;
//! use cfr_model::{Attrs, Event, Value};
//! use cfr_rules::{Engine, Party, Verdict};
//!
//! let key = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
//! let contract = Contract::from_toml(&format!(r#"
//! format = "cfr-contract/1"
//! id = "acme-objstore-2026"
//! title = "ACME Object Storage"
//! [parties]
//! provider = {{ name = "ACME Cloud SA", key = "{key}" }}
//! user = {{ name = "Example GmbH", key = "{key}" }}
//! recorder = {{ name = "TrustRec Ltd", key = "{key}" }}
//! [events.request]
//! by = "user"
//! attrs = {{ id = "text" }}
//! [events.response]
//! by = "provider"
//! attrs = {{ id = "text", status = "int" }}
//! [[rules]]
//! id = "answer-in-time"
//! clause = "4.1 Every request is answered within 2 seconds."
//! type = "deadline"
//! party = "provider"
//! trigger = "request"
//! reply = "response"
//! match = ["id"]
//! within = "2s"
//! "#))?;
//!
//! let event = |seq, time: &str, kind: &str, actor: &str, status: Option<i64>| -> Result<Event, Box<dyn std::error::Error>> {
//!     let mut attrs = Attrs::new();
//!     attrs.insert("id", Value::Text("r-17".into()));
//!     if let Some(s) = status {
//!         attrs.insert("status", Value::Int(s));
//!     }
//!     Ok(Event { seq, time: parse_rfc3339(time)?, kind: kind.into(), actor: actor.into(), attrs, sig: None })
//! };
//!
//! // Push events as they come (any chunking), then finish.
//! let mut engine = Engine::new(&contract);
//! engine.push(&event(0, "2026-03-02T10:00:00.25Z", "request", "user", None)?)?;
//! engine.push(&event(1, "2026-03-02T10:00:03.35Z", "response", "provider", Some(200))?)?;
//! let verdict = engine.finish();
//!
//! let incident = &verdict.incidents[0];
//! assert_eq!(incident.kind, "late_result");
//! assert_eq!(incident.party, Party::Provider);
//! assert_eq!(incident.evidence, [0, 1]);
//! assert_eq!(
//!     incident.explanation,
//!     "request r-17 (seq 0) answered by response seq 1 after 3.1 s; due within 2 s"
//! );
//! assert_eq!(verdict.totals.provider, 1);
//!
//! // The canonical CBOR form reads back to the same verdict.
//! assert_eq!(Verdict::from_cbor(&verdict.to_cbor())?, verdict);
//! println!("{}", verdict.to_json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concepts
//!
//! - An [`Engine`] is built from a contract and fed the log's events in seq
//!   order ([`Engine::push`]); [`Engine::finish`] yields the [`Verdict`].
//!   [`analyze`] does all three. The engine keeps only open state (pending
//!   triggers, the integrity key map, rate windows, the current
//!   availability window, excuse intervals, incidents found), never the log.
//! - Each rule raises [`Incident`]s: `late_result`, `no_result`,
//!   `erroneous_result` (deadline), a forbid rule's own kind, `data_lost`,
//!   `data_corrupted` (integrity), `quota_exceeded` (rate), `unavailable`
//!   and `sla_breach` (availability), `missing_evidence` (heartbeat).
//! - Attribution happens at the end, when every excuse event is known (an
//!   outage attested after the fact still excuses): a forbid rule's permit
//!   decides first; otherwise the rule's excuses are tried in the order
//!   listed and the first whose interval overlaps the incident's window
//!   decides the [`Party`]; otherwise the rule's debtor is at fault.
//! - The [`Verdict`] (`cfr-verdict/1`) has a canonical CBOR form
//!   ([`Verdict::to_cbor`], [`Verdict::from_cbor`]) and a JSON form
//!   ([`Verdict::to_json`]) with the same fields; see `VERDICT.md` and
//!   `verdict.cddl` in this crate.
//!
//! There are no floats, clocks, threads, files or randomness here, and no
//! hash-map order reaches the output: the crate compiles to
//! `wasm32-unknown-unknown` and gives byte-identical verdicts there.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod attribution;
mod engine;
mod error;
mod plan;
mod rules;
pub mod verdict;

pub use engine::{analyze, Engine};
pub use error::{EngineError, FeedError, VerdictError};
pub use verdict::{
    Incident, LogSpan, Money, Party, RuleStats, SlaMeasure, SlaPeriod, Totals, Verdict,
    VERDICT_FORMAT,
};
