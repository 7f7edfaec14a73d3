//! Published service levels end to end: contracts that use none of the new
//! fields judge byte for byte as the analyzer of the release before them
//! (`tests/fixtures/analyzer-c0edf8c5.wasm`, the committed analyzer just
//! before `[term]`, `measure`, `min_events`, `down_for`, deadline `sla` and
//! `fee` existed); and on contracts that use them, the shipped WASM
//! analyzer and the native engine agree byte for byte.

use crate::util::*;
use cfr_contract::Contract;
use cfr_model::{Attrs, Event, Value};
use proptest::prelude::*;
use std::sync::OnceLock;

fn analyzer(path: &str) -> cfr_replay::Analyzer {
    let m = std::fs::read(root().join(path)).expect("analyzer");
    cfr_replay::Analyzer::compile(&m).expect("compiles")
}

fn before() -> &'static cfr_replay::Analyzer {
    static A: OnceLock<cfr_replay::Analyzer> = OnceLock::new();
    A.get_or_init(|| analyzer("tests/fixtures/analyzer-c0edf8c5.wasm"))
}

fn shipped() -> &'static cfr_replay::Analyzer {
    static A: OnceLock<cfr_replay::Analyzer> = OnceLock::new();
    A.get_or_init(|| analyzer("crates/cfr-analyzer/analyzer.wasm"))
}

fn wasm(a: &cfr_replay::Analyzer, c: &Contract, events: &[Event]) -> Vec<u8> {
    let mut run = a
        .start(&c.to_cbor(), &cfr_replay::Limits::default())
        .expect("starts");
    for part in events.chunks(5) {
        let mut raw = Vec::new();
        for e in part {
            e.encode_into(&mut raw);
        }
        run.feed(&raw, part.len() as u64).expect("feeds");
    }
    run.finish().expect("finishes")
}

const KEY: &str = "ed25519:GzGbzcuTeAiI0eL3pp+BiUOkI/ZtzNzPKKj9kmMfmDU=";

/// Parameters of a random contract: an availability rule, a deadline and
/// an outage excuse; `new` adds the fields of issue 13.
#[derive(Clone, Debug)]
struct Params {
    window_s: i64,
    down_when: u32,
    period: u8,
    target: u32,
    tiers: Vec<(u32, u32)>,
    within_s: i64,
    new: Option<New>,
}

#[derive(Clone, Debug)]
struct New {
    mean: bool,
    min_events: Option<u8>,
    run: Option<i64>,
    fee_cents: Option<u32>,
    term_days: Option<i64>,
    deadline_sla: bool,
}

fn pct(p: u32) -> String {
    cfr_model::time::format_percent(p)
}

fn toml(p: &Params) -> String {
    let mut s = String::from(
        r#"format = "cfr-contract/1"
id = "random"
title = "Random"
"#,
    );
    if let Some(days) = p.new.as_ref().and_then(|n| n.term_days) {
        s.push_str(&format!(
            "[term]\nfrom = \"2026-03-01T00:00:00Z\"\nuntil = \"{}\"\n",
            cfr_model::time::format_rfc3339(
                cfr_model::time::parse_rfc3339("2026-03-01T00:00:00Z").unwrap_or(0)
                    + days * 86_400_000_000_000
            )
        ));
    }
    s.push_str(&format!(
        r#"[parties]
provider = {{ name = "P", key = "{KEY}" }}
user = {{ name = "U", key = "{KEY}" }}
recorder = {{ name = "R", key = "{KEY}" }}
[parties.attestors]
grid = {{ name = "G", key = "{KEY}" }}
[events.request]
by = "user"
attrs = {{ id = "text" }}
[events.response]
by = "provider"
attrs = {{ id = "text", status = "int" }}
[events.outage]
by = "attestor"
attrs = {{ start = "time", end = "time" }}
[excuses.outage]
event = "outage"
from = "start"
until = "end"
attribute = "external"
"#
    ));
    let credits = if p.tiers.is_empty() {
        String::new()
    } else {
        format!(
            "credits = [{}]\n",
            p.tiers
                .iter()
                .map(|(b, c)| format!("{{ below = \"{}\", credit = \"{}\" }}", pct(*b), pct(*c)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let fee = match (&p.new, p.tiers.is_empty()) {
        (
            Some(New {
                fee_cents: Some(c), ..
            }),
            false,
        ) => {
            format!("fee = \"{}.{:02} EUR\"\n", c / 100, c % 100)
        }
        _ => String::new(),
    };
    let period = match p.period % 3 {
        0 => "\"month\"".to_owned(),
        1 => "\"1h\"".to_owned(),
        _ => "\"1d\"".to_owned(),
    };
    s.push_str(&format!(
        r#"[[rules]]
id = "answer"
clause = "a"
type = "deadline"
party = "provider"
trigger = "request"
reply = "response"
match = ["id"]
within = "{}s"
excuses = ["outage"]
"#,
        p.within_s
    ));
    if p.new.as_ref().is_some_and(|n| n.deadline_sla) {
        s.push_str(
            &format!(
                "sla = {{ period = {period}, target = \"{}\", {}{}}}\n",
                pct(p.target),
                credits.trim_end().replace('\n', " "),
                if fee.is_empty() {
                    String::new()
                } else {
                    format!(", {}", fee.trim_end())
                }
            )
            .replace(", }", " }")
            .replace("\", }", "\" }"),
        );
    }
    s.push_str(&format!(
        r#"[[rules]]
id = "up"
clause = "u"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "{}s"
period = {period}
target = "{}"
excuses = ["outage"]
{credits}{fee}"#,
        p.window_s,
        pct(p.target)
    ));
    match &p.new {
        Some(n) if n.mean => s.push_str("measure = \"mean_error_rate\"\n"),
        _ => {
            s.push_str(&format!("down_when = \"{}\"\n", pct(p.down_when)));
            if let Some(n) = &p.new {
                if let Some(m) = n.min_events {
                    s.push_str(&format!("min_events = {}\n", m.max(1)));
                }
                if let Some(r) = n.run {
                    s.push_str(&format!("down_for = \"{}s\"\n", r * p.window_s));
                }
            }
        }
    }
    s
}

fn params(new: bool) -> impl Strategy<Value = Params> {
    let n = (
        any::<bool>(),
        proptest::option::of(1u8..6),
        proptest::option::of(1i64..5),
        proptest::option::of(0u32..200_000),
        proptest::option::of(1i64..3),
        any::<bool>(),
    )
        .prop_map(
            |(mean, min_events, run, fee_cents, term_days, deadline_sla)| New {
                mean,
                min_events,
                run,
                fee_cents,
                term_days,
                deadline_sla,
            },
        )
        .prop_map(move |n| new.then_some(n));
    (
        1i64..600,
        0u32..=1_000_000,
        any::<u8>(),
        0u32..=1_000_000,
        proptest::collection::vec((0u32..=1_000_000, 0u32..=1_000_000), 0..4),
        1i64..30,
        n,
    )
        .prop_map(|(window_s, dw, period, target, mut tiers, within_s, new)| {
            tiers.sort();
            tiers.dedup_by_key(|t| t.0);
            Params {
                window_s,
                down_when: dw / 10_000 * 10_000,
                period,
                target: target / 100 * 100,
                tiers: tiers
                    .into_iter()
                    .map(|(b, c)| (b / 100 * 100, c / 100 * 100))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    .collect(),
                within_s,
                new,
            }
        })
}

/// A log: requests answered after a random delay with a random status,
/// and now and then an attested outage.
fn events(steps: &[(u8, u16, bool)]) -> Vec<Event> {
    let base = cfr_model::time::parse_rfc3339("2026-03-01T00:00:00Z").unwrap_or(0);
    let s = 1_000_000_000i64;
    let mut out: Vec<(i64, &str, &str, Attrs)> = Vec::new();
    let mut t = base;
    for (k, (gap, delay, bad)) in steps.iter().enumerate() {
        t += i64::from(*gap) * 7 * s;
        let id = format!("r{k}");
        let mut a = Attrs::new();
        a.insert("id", Value::Text(id.clone()));
        if gap % 17 == 0 {
            let mut o = Attrs::new();
            o.insert("start", Value::Int(t - 60 * s));
            o.insert("end", Value::Int(t + 60 * s));
            out.push((t, "outage", "grid", o));
        }
        out.push((t, "request", "user", a));
        let mut r = Attrs::new();
        r.insert("id", Value::Text(id));
        r.insert("status", Value::Int(if *bad { 503 } else { 200 }));
        out.push((t + i64::from(*delay) * s / 100, "response", "provider", r));
    }
    out.sort_by_key(|e| e.0);
    out.into_iter()
        .enumerate()
        .map(|(seq, (time, kind, actor, attrs))| Event {
            seq: seq as u64,
            time,
            kind: kind.into(),
            actor: actor.into(),
            attrs,
            sig: None,
        })
        .collect()
}

fn steps() -> impl Strategy<Value = Vec<(u8, u16, bool)>> {
    proptest::collection::vec((any::<u8>(), 0u16..4000, any::<bool>()), 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Without the new fields, the verdict is byte for byte the verdict of
    /// the analyzer built before them.
    #[test]
    fn without_the_new_fields_verdicts_are_byte_identical_to_before(p in params(false), s in steps()) {
        let c = Contract::from_toml(&toml(&p)).map_err(|e| TestCaseError::fail(format!("{e}\n{}", toml(&p))))?;
        let ev = events(&s);
        let native = cfr_rules::analyze(&c, ev.clone()).expect("ordered").to_cbor();
        prop_assert_eq!(&wasm(before(), &c, &ev), &native);
    }

    /// With them, the shipped WASM analyzer and the native engine agree.
    #[test]
    fn with_the_new_fields_wasm_and_native_agree(p in params(true), s in steps()) {
        let text = toml(&p);
        let c = Contract::from_toml(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(Contract::from_cbor(&c.to_cbor()).expect("compiled form reads back"), c.clone());
        let ev = events(&s);
        let native = cfr_rules::analyze(&c, ev.clone()).expect("ordered").to_cbor();
        prop_assert_eq!(&wasm(shipped(), &c, &ev), &native);
    }
}

/// The scenarios and the storage-month sample: byte for byte as before.
#[test]
fn committed_scenarios_judge_byte_for_byte_as_before() {
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("samples/scenarios"))
        .expect("scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("contract.toml").exists())
        .collect();
    dirs.push(root().join("samples/storage-month"));
    for dir in dirs {
        let c =
            Contract::from_toml(&std::fs::read_to_string(dir.join("contract.toml")).expect("read"))
                .expect("checks");
        let mut imp = cfr_bundle_format::import::Importer::new(&c);
        let text = std::fs::read_to_string(dir.join("events.jsonl")).expect("read");
        let ev: Vec<Event> = text
            .lines()
            .filter_map(|l| imp.line(l).expect("imports"))
            .collect();
        let native = cfr_rules::analyze(&c, ev.clone())
            .expect("ordered")
            .to_cbor();
        assert_eq!(wasm(before(), &c, &ev), native, "{}", dir.display());
    }
}

/// The published SLA samples: WASM and native identical.
#[test]
fn published_sla_samples_judge_the_same_in_wasm_and_natively() {
    for name in [
        "s3-standard",
        "gcs-multi-region",
        "s3-replication-time-control",
    ] {
        let dir = root().join("samples/contracts").join(name);
        let c =
            Contract::from_toml(&std::fs::read_to_string(dir.join("contract.toml")).expect("read"))
                .expect("checks");
        let mut imp = cfr_bundle_format::import::Importer::new(&c);
        let text = std::fs::read_to_string(dir.join("events.jsonl")).expect("read");
        let ev: Vec<Event> = text
            .lines()
            .filter_map(|l| imp.line(l).expect("imports"))
            .collect();
        let native = cfr_rules::analyze(&c, ev.clone())
            .expect("ordered")
            .to_cbor();
        assert_eq!(wasm(shipped(), &c, &ev), native, "{name}");
    }
}
