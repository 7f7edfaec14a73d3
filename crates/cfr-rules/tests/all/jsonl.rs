//! A test-only JSON Lines loader (the import format of `cfr_bundle_format::import`): converts each line's
//! attributes by the types the contract declares.

use cfr_contract::Contract;
use cfr_model::time::{parse_duration, parse_rfc3339};
use cfr_model::{Attrs, Event, Value, ValueType};

pub fn load(contract: &Contract, text: &str) -> Vec<Event> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let seq = out.len() as u64;
        if let Some(s) = v.get("seq") {
            assert_eq!(s.as_u64(), Some(seq), "line {}: seq", n + 1);
        }
        let kind = v["kind"].as_str().expect("kind").to_owned();
        let spec = contract
            .events
            .get(&kind)
            .unwrap_or_else(|| panic!("line {}: unknown kind {kind}", n + 1));
        let mut attrs = Attrs::new();
        if let Some(map) = v.get("attrs").and_then(|a| a.as_object()) {
            for (name, val) in map {
                if val.is_null() {
                    continue;
                }
                let ty = spec
                    .attrs
                    .get(name)
                    .unwrap_or_else(|| panic!("line {}: undeclared attr {name}", n + 1))
                    .ty;
                let value = match ty {
                    ValueType::Int => Value::Int(val.as_i64().expect("int")),
                    ValueType::Text => Value::Text(val.as_str().expect("text").to_owned()),
                    ValueType::Bool => Value::Bool(val.as_bool().expect("bool")),
                    ValueType::Bytes => {
                        Value::Bytes(hex::decode(val.as_str().expect("hex")).expect("hex"))
                    }
                    ValueType::Time => {
                        Value::Int(parse_rfc3339(val.as_str().expect("time")).expect("time"))
                    }
                    ValueType::Duration => Value::Int(
                        parse_duration(val.as_str().expect("duration")).expect("duration"),
                    ),
                };
                attrs.insert(name.clone(), value);
            }
        }
        out.push(Event {
            seq,
            time: parse_rfc3339(v["time"].as_str().expect("time")).expect("time"),
            kind,
            actor: v["actor"].as_str().expect("actor").to_owned(),
            attrs,
            sig: None,
        });
    }
    out
}
