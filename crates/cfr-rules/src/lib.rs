//! The cfr rule engine and fault attribution: pure, streaming, deterministic.
//!
//! DOCTEST-PLACEHOLDER
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
pub use error::{EngineError, VerdictError};
pub use verdict::{
    Incident, LogSpan, Party, RuleStats, SlaPeriod, Totals, Verdict, VERDICT_FORMAT,
};
