//! cfr contracts: `contract.toml` -> the contract model, predicates, the
//! recorder specification as CDDL, and event validation.
//!
//! ```
//! use cfr_contract::Contract;
//! use cfr_model::{Attrs, Event, Value};
//!
//! let key = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
//! let toml = format!(r#"
//! format = "cfr-contract/1"
//! id = "acme-objstore-2026"
//! title = "ACME Object Storage"
//!
//! [parties]
//! provider = {{ name = "ACME Cloud SA", key = "{key}" }}
//! user = {{ name = "Example GmbH", key = "{key}" }}
//! recorder = {{ name = "TrustRec Ltd", key = "{key}" }}
//!
//! [events.request]
//! by = "user"
//! attrs = {{ id = "text", op = "text" }}
//! [events.response]
//! by = "provider"
//! attrs = {{ id = "text", status = "int" }}
//!
//! [[rules]]
//! id = "answer-in-time"
//! clause = "4.1 Every request is answered within 2 seconds."
//! type = "deadline"
//! party = "provider"
//! trigger = "request"
//! reply = "response"
//! match = ["id"]
//! within = "2s"
//! ok = "status < 500"
//! "#);
//! let contract = Contract::from_toml(&toml)?;
//!
//! // The compiled form is canonical CBOR and reads back to the same contract.
//! let compiled = contract.to_cbor();
//! assert_eq!(Contract::from_cbor(&compiled)?, contract);
//!
//! // Events are checked against the recorder specification.
//! let mut attrs = Attrs::new();
//! attrs.insert("id", Value::Text("r-17".into()));
//! let event = Event { seq: 0, time: 0, kind: "response".into(), actor: "user".into(), attrs, sig: None };
//! let err = contract.check_event(&event).unwrap_err();
//! assert_eq!(err.to_string(), r#"actor "user" may not emit "response" (by = provider)"#);
//! println!("{}", contract.events_cddl());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concepts
//!
//! * [`Contract`] is the whole agreement: [`Parties`] with their keys, the
//!   event specification ([`EventSpec`] per kind, with typed attributes),
//!   the [`Rule`]s and the [`Excuse`]s. It is built only by
//!   [`Contract::from_toml`] or [`Contract::from_cbor`], which run every
//!   static check, so a `Contract` names no undeclared
//!   event kind, attribute, excuse or rule, uses fitting types, and has no
//!   excuse cycles.
//! * [`Predicate`]s (`where`, `ok`, `failed`) are parsed and type-checked
//!   against the event kind they apply to; [`Predicate::eval`] evaluates
//!   one on an event's attributes (see [`predicate`] for the language and
//!   the rule for absent attributes).
//! * [`Contract::to_cbor`] writes the canonical compiled form that bundles
//!   carry and the analyzer reads (`schemas/CONTRACT-CBOR.md`, `schemas/contract.cddl`).
//! * [`Contract::check_event`] checks one event against the event
//!   specification; [`Contract::events_cddl`] prints that specification
//!   as CDDL.
//!
//! # Errors
//!
//! A rejected contract gives a [`ContractError`]; its `Display` names the
//! line and column (TOML only), the field and the problem:
//! `line 12, column 10, rules[2] ("answer-in-time").within: "2x" is not a
//! duration ...`. Rule indexes count from 0 in contract order.
//!
//! # Features
//!
//! `toml` (default): [`Contract::from_toml`]. Without it the crate has no
//! TOML dependency and still compiles for `wasm32-unknown-unknown`, where
//! the analyzer reads the CBOR form only.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cddl;
mod compiled;
pub mod error;
pub mod model;
pub mod predicate;
mod read;
mod rules;
mod summary;
#[cfg(feature = "toml")]
mod toml_doc;

pub use error::{ContractError, EventError, Position, PredicateError, PredicateErrorKind, Problem};
pub use model::{
    Access, AttrSpec, Availability, Contract, CreditTier, Deadline, DeadlineSla, Debtor, Emitter,
    EventSpec, Evidence, Excuse, ExcuseSource, Forbid, Heartbeat, Integrity, Measure, Money,
    Parties, Party, Period, Permit, Rate, Read, Rule, RuleKind, Term, FORMAT, MAX_SLA_PERIODS,
};
pub use predicate::{CmpOp, Predicate};
pub use summary::summary;

use cfr_model::Event;

/// The largest contract accepted, in bytes (TOML text or compiled CBOR).
pub const MAX_CONTRACT_BYTES: usize = 1 << 20;

impl Contract {
    /// Parses `contract.toml` and runs every static check.
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<Contract, ContractError> {
        use toml::de::{DeTable, DeValue};
        if text.len() > MAX_CONTRACT_BYTES {
            return Err(ContractError::TooLarge {
                size: text.len(),
                limit: MAX_CONTRACT_BYTES,
            });
        }
        let table = DeTable::parse(text).map_err(|e| ContractError::Syntax {
            position: Position::of(text, e.span().map_or(0, |s| s.start)),
            message: e.message().trim().to_owned(),
        })?;
        let span = table.span();
        let doc = toml::Spanned::new(span, DeValue::Table(table.into_inner()));
        read::contract(&doc).map_err(|f| {
            let f = *f;
            ContractError::Invalid {
                position: f.span.map(|s| Position::of(text, s.start)),
                path: f.path,
                problem: f.problem,
            }
        })
    }

    /// The canonical compiled form: deterministic CBOR, documented in
    /// `schemas/CONTRACT-CBOR.md` and `schemas/contract.cddl`. Equal contracts give equal
    /// bytes.
    pub fn to_cbor(&self) -> Vec<u8> {
        cfr_model::cbor::encode(&compiled::to_tree(self))
    }

    /// Reads the compiled form strictly: canonical CBOR, exactly the
    /// documented fields, the same static checks as [`Contract::from_toml`],
    /// and byte-for-byte what [`Contract::to_cbor`] writes.
    pub fn from_cbor(bytes: &[u8]) -> Result<Contract, ContractError> {
        if bytes.len() > MAX_CONTRACT_BYTES {
            return Err(ContractError::TooLarge {
                size: bytes.len(),
                limit: MAX_CONTRACT_BYTES,
            });
        }
        let tree = cfr_model::cbor::decode(bytes)?;
        let contract = read::contract(&tree).map_err(|f| {
            let f = *f;
            ContractError::Invalid {
                position: None,
                path: f.path,
                problem: f.problem,
            }
        })?;
        let again = contract.to_cbor();
        if again != bytes {
            let offset = again
                .iter()
                .zip(bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(again.len().min(bytes.len()));
            return Err(ContractError::NotCanonical { offset });
        }
        Ok(contract)
    }

    /// Checks an event against the event specification: the kind is
    /// declared; the actor may emit it (for `by = "attestor"`, the actor is
    /// a declared attestor id); every attribute is declared and fits its
    /// type; every required attribute is present; a `signed = true` kind
    /// carries `sig`. Whether the signature is *valid* is checked elsewhere.
    pub fn check_event(&self, e: &Event) -> Result<(), EventError> {
        let spec = self.check_event_spec(e)?;
        if spec.signed && e.sig.is_none() {
            return Err(EventError::Unsigned {
                kind: e.kind.clone(),
            });
        }
        Ok(())
    }

    /// [`check_event`](Self::check_event) without requiring a signature
    /// of `signed = true` kinds: for an event that is about to be signed.
    pub fn check_event_unsigned(&self, e: &Event) -> Result<(), EventError> {
        self.check_event_spec(e).map(|_| ())
    }

    /// The checks of [`check_event_unsigned`](Self::check_event_unsigned);
    /// returns the kind's specification.
    fn check_event_spec(&self, e: &Event) -> Result<&EventSpec, EventError> {
        let Some(spec) = self.events.get(&e.kind) else {
            return Err(EventError::UnknownKind {
                kind: e.kind.clone(),
            });
        };
        if !self.may_emit(&e.actor, spec.by) {
            return Err(EventError::ActorNotAllowed {
                actor: e.actor.clone(),
                kind: e.kind.clone(),
                by: spec.by,
            });
        }
        // Names are unique in both the event and the specification, so
        // every required attribute is present exactly when as many
        // required ones were found as the specification has (counted,
        // rather than each looked up again: this runs for every event).
        let mut required = 0usize;
        for (name, value) in e.attrs.iter() {
            let Some(a) = spec.attrs.get(name) else {
                return Err(EventError::UnknownAttr {
                    kind: e.kind.clone(),
                    attr: name.to_owned(),
                });
            };
            if !value.fits(a.ty) {
                return Err(EventError::AttrType {
                    kind: e.kind.clone(),
                    attr: name.to_owned(),
                    expected: a.ty,
                    found: value.type_name(),
                });
            }
            required += usize::from(!a.optional);
        }
        if required < spec.attrs.values().filter(|a| !a.optional).count() {
            for (name, a) in &spec.attrs {
                if !a.optional && e.attrs.get(name).is_none() {
                    return Err(EventError::MissingAttr {
                        kind: e.kind.clone(),
                        attr: name.clone(),
                    });
                }
            }
        }
        Ok(spec)
    }

    /// The CDDL (RFC 8610) of the events this contract requires: one rule
    /// per kind, with its actor and typed attributes, matching cfr-model's
    /// event encoding. This is the recorder specification that
    /// `cfr-bundle contract schema` prints.
    pub fn events_cddl(&self) -> String {
        cddl::events_cddl(self)
    }
}
