//! The recorder specification as CDDL (RFC 8610).

use crate::model::{Contract, Emitter};
use cfr_model::ValueType;
use std::fmt::Write as _;

fn cddl_type(ty: ValueType) -> &'static str {
    match ty {
        ValueType::Int => "int",
        ValueType::Text => "tstr",
        ValueType::Bool => "bool",
        ValueType::Bytes => "bstr",
        ValueType::Time => "int",
        ValueType::Duration => "int",
    }
}

fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

pub(crate) fn events_cddl(c: &Contract) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "; The events required by contract \"{}\" ({}): the recorder specification.",
        comment_safe(&c.id),
        crate::model::FORMAT
    );
    let _ = writeln!(
        s,
        "; Each event is one canonical CBOR map (RFC 8949 section 4.2.1), as\n\
         ; cfr-model encodes it; attribute values carry no tag: time = ns since the\n\
         ; Unix epoch (UTC), duration = ns. A kind with signed = true must carry\n\
         ; \"sig\": the actor's Ed25519 signature over the event's signing payload."
    );
    s.push('\n');
    if c.events.is_empty() {
        s.push_str("event = &() ; no event kinds are declared: nothing matches\n");
        return s;
    }
    let alts: Vec<String> = c.events.keys().map(|k| format!("kind-{k}")).collect();
    let _ = writeln!(s, "event = {}", alts.join(" / "));
    for (kind, spec) in &c.events {
        let actor = match spec.by {
            Emitter::Attestor => {
                let ids: Vec<String> = c
                    .parties
                    .attestors
                    .keys()
                    .map(|a| format!("\"{a}\""))
                    .collect();
                if ids.is_empty() {
                    "tstr".to_owned()
                } else {
                    ids.join(" / ")
                }
            }
            other => format!("\"{}\"", other.as_str()),
        };
        let sig = if spec.signed {
            "\"sig\": bstr .size 64"
        } else {
            "? \"sig\": bstr .size 64"
        };
        let _ = write!(
            s,
            "\n; by = {}{}\nkind-{kind} = {{\n  \"seq\": uint,\n  {sig},\n  \"kind\": \"{kind}\",\n  \"time\": int,\n  \"actor\": {actor},\n  \"attrs\": kind-{kind}-attrs,\n}}\n",
            spec.by,
            if spec.signed { ", signed" } else { "" },
        );
        let _ = write!(s, "kind-{kind}-attrs = {{");
        if spec.attrs.is_empty() {
            s.push_str("}\n");
            continue;
        }
        s.push('\n');
        for (name, a) in &spec.attrs {
            let opt = if a.optional { "? " } else { "" };
            let note = match a.ty {
                ValueType::Time => " ; time, ns since the epoch",
                ValueType::Duration => " ; duration, ns",
                _ => "",
            };
            let _ = writeln!(s, "  {opt}\"{name}\": {},{note}", cddl_type(a.ty));
        }
        s.push_str("}\n");
    }
    s
}
