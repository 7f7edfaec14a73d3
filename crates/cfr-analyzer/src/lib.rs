//! The cfr analyzer: the WebAssembly module a bundle carries to replay its
//! contract's rules over its events.
//!
//! Built for `wasm32-unknown-unknown`, this crate exports the
//! `cfr-analyzer/1` ABI (see `crates/cfr-replay/ABI.md`) over [`Replay`],
//! which is plain Rust and can be run natively too:
//!
//! ```
//! use cfr_analyzer::Replay;
//! use cfr_contract::Contract;
//! use cfr_model::{Attrs, Event, Value};
//!
//! let key = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
//! let contract = Contract::from_toml(&format!(r#"
//! format = "cfr-contract/1"
//! id = "acme"
//! title = "ACME"
//! [parties]
//! provider = {{ name = "ACME", key = "{key}" }}
//! user = {{ name = "Example", key = "{key}" }}
//! recorder = {{ name = "Rec", key = "{key}" }}
//! [events.request]
//! by = "user"
//! attrs = {{ id = "text" }}
//! [[rules]]
//! id = "answer-in-time"
//! clause = "4.1"
//! type = "deadline"
//! party = "provider"
//! trigger = "request"
//! reply = "request"
//! match = ["id"]
//! within = "2s"
//! "#))?;
//! let mut attrs = Attrs::new();
//! attrs.insert("id", Value::Text("r-1".into()));
//! let event = Event {
//!     seq: 0,
//!     time: 1_772_445_600_000_000_000,
//!     kind: "request".into(),
//!     actor: "user".into(),
//!     attrs,
//!     sig: None,
//! };
//!
//! let mut replay = Replay::begin(&contract.to_cbor())?;
//! replay.feed(&event.encode())?;
//! let verdict = cfr_rules::Verdict::from_cbor(&replay.finish()?)?;
//! assert_eq!(verdict.log.events, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The analysis itself is `cfr-rules`' [`Engine`](cfr_rules::Engine); this
//! crate only frames it: the host
//! passes the compiled contract, then the events in chunks, then asks for
//! the verdict, and every failure becomes an error text the host reports.

mod mem;
mod replay;

pub use replay::{AnalysisError, Replay};

#[cfg(target_arch = "wasm32")]
mod abi;
