//! The per-rule state machines. Each consumes the events its rule mentions
//! and, at the end of the log, yields its raw incidents (not yet
//! attributed) and its counts.

pub(crate) mod availability;
pub(crate) mod deadline;
pub(crate) mod forbid;
pub(crate) mod heartbeat;
pub(crate) mod integrity;
pub(crate) mod rate;

use crate::verdict::Party;
use cfr_model::{Attrs, Value};
use std::fmt::Write as _;

/// The extent of the log, known at the end.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span {
    /// Number of events.
    pub events: u64,
    /// `(time, seq)` of the first event.
    pub first: Option<(i64, u64)>,
    /// `(time, seq)` of the last event.
    pub last: Option<(i64, u64)>,
}

/// A permit that decided a forbid incident before the excuses.
#[derive(Clone, Debug)]
pub(crate) struct Permitted {
    pub party: Party,
    pub seq: u64,
    pub note: String,
}

/// An incident before attribution.
#[derive(Clone, Debug)]
pub(crate) struct Raw {
    pub kind: String,
    pub from: i64,
    /// End of the window: inclusive, or exclusive when `half_open`.
    pub until: i64,
    /// True for availability windows `[from, until)`.
    pub half_open: bool,
    pub evidence: Vec<u64>,
    pub explanation: String,
    pub permit: Option<Permitted>,
}

impl Raw {
    pub fn closed(
        kind: &str,
        from: i64,
        until: i64,
        evidence: Vec<u64>,
        explanation: String,
    ) -> Raw {
        Raw {
            kind: kind.to_owned(),
            from,
            until,
            half_open: false,
            evidence,
            explanation,
            permit: None,
        }
    }

    /// The window as a closed interval of integer ns.
    pub fn closed_window(&self) -> (i64, i64) {
        if self.half_open && self.until > self.from {
            (self.from, self.until - 1)
        } else {
            (self.from, self.until)
        }
    }
}

/// What a rule found over the whole log.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub raw: Vec<Raw>,
    pub checked: u64,
    pub fulfilled: u64,
    pub pending: u64,
}

/// Evaluates an optional `where` predicate (absent = holds).
pub(crate) fn holds(filter: &Option<cfr_contract::Predicate>, attrs: &Attrs) -> bool {
    match filter {
        Some(p) => p.eval(attrs),
        None => true,
    }
}

/// A value as a human reads it: text as is, bytes as lowercase hex.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Text(t) => t.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Bytes(b) => {
            let mut s = String::with_capacity(b.len() * 2);
            for x in b {
                let _ = write!(s, "{x:02x}");
            }
            s
        }
    }
}

/// Adds `n` to a counter without overflowing.
pub(crate) fn bump(c: &mut u64) {
    *c = c.saturating_add(1);
}
