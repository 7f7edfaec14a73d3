//! Helpers: contracts from TOML fragments, events from short specs.

use cfr_contract::Contract;
use cfr_model::time::{parse_rfc3339, NS_PER_SEC};
use cfr_model::{Attrs, Event, Value};

pub const KEY: &str = "ed25519:GzGbzcuTeAiI0eL3pp+BiUOkI/ZtzNzPKKj9kmMfmDU=";
pub const S: i64 = NS_PER_SEC;
pub const MS: i64 = 1_000_000;

/// A contract with the standard parties (attestor `grid`) and `body`
/// (events, rules, excuses).
pub fn contract(body: &str) -> Contract {
    let text = contract_toml(body);
    Contract::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The TOML of [`contract`]: the test parties, then `body`.
pub fn contract_toml(body: &str) -> String {
    format!(
        r#"format = "cfr-contract/1"
id = "test"
title = "Test"
[parties]
provider = {{ name = "P", key = "{KEY}" }}
user = {{ name = "U", key = "{KEY}" }}
recorder = {{ name = "R", key = "{KEY}" }}
[parties.attestors]
grid = {{ name = "Grid", key = "{KEY}" }}
{body}"#
    )
}

/// 2026-03-02T10:00:00Z plus `offset` ns.
pub fn at(offset: i64) -> i64 {
    parse_rfc3339("2026-03-02T10:00:00Z").unwrap() + offset
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// One log entry: `(time, kind, actor, attrs)`.
pub type Entry<'a> = (i64, &'a str, &'a str, Vec<(&'a str, Value)>);

/// Builds a log: each entry is `(time, kind, actor, attrs)`; seqs are the
/// positions.
pub fn log(entries: Vec<Entry<'_>>) -> Vec<Event> {
    entries
        .into_iter()
        .enumerate()
        .map(|(seq, (time, kind, actor, attrs))| Event {
            seq: seq as u64,
            time,
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            attrs: attrs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Attrs>(),
            sig: None,
        })
        .collect()
}

pub const DEADLINE_EVENTS: &str = r#"
[events.request]
by = "user"
attrs = { id = "text" }
[events.response]
by = "provider"
attrs = { id = "text", status = "int" }
"#;

pub fn deadline_rule(within: &str, excuses: &str) -> String {
    format!(
        r#"
[[rules]]
id = "answer"
clause = "4.1"
type = "deadline"
party = "provider"
trigger = "request"
reply = "response"
match = ["id"]
within = "{within}"
ok = "status < 500"
excuses = [{excuses}]
"#
    )
}

pub fn req(t: i64, id: &str) -> Entry<'static> {
    (t, "request", "user", vec![("id", text(id))])
}

pub fn resp(t: i64, id: &str, status: i64) -> Entry<'static> {
    (
        t,
        "response",
        "provider",
        vec![("id", text(id)), ("status", Value::Int(status))],
    )
}
