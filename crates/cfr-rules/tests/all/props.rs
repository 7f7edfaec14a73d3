//! Property tests over random logs and a small contract using every rule
//! type and every kind of excuse.

use crate::util::*;
use cfr_contract::Contract;
use cfr_model::{Attrs, Event, Value};
use cfr_rules::{analyze, Engine, Verdict};
use proptest::prelude::*;
use std::sync::OnceLock;

pub fn contract_with_every_rule() -> Contract {
    contract(
        r#"
[events.request]
by = "user"
attrs = { id = "text", op = "text" }
[events.response]
by = "provider"
attrs = { id = "text", status = "int" }
[events.put]
by = "provider"
attrs = { object = "text", digest = "bytes" }
[events.get]
by = "provider"
attrs = { object = "text", found = "bool?", digest = "bytes?" }
[events.del]
by = "provider"
attrs = { object = "text" }
[events.grant]
by = "user"
attrs = { grantee = "text" }
[events.disclosure]
by = "provider"
attrs = { recipient = "text" }
[events.heartbeat]
by = "provider"
attrs = {}
[events.maintenance]
by = "provider"
attrs = { start = "time", end = "time" }
[events.outage]
by = "attestor"
attrs = { start = "time", end = "time" }
[events.note]
by = "user"
attrs = { text = "text" }

[[rules]]
id = "answer"
clause = "4.1"
type = "deadline"
party = "provider"
trigger = "request"
where = "op != 'health'"
reply = "response"
match = ["id"]
within = "2s"
ok = "status < 500"
excuses = ["maintenance", "power-outage", "over-quota"]

[[rules]]
id = "keep"
clause = "5.1"
type = "integrity"
party = "provider"
write = { event = "put", key = "object", value = "digest" }
read = { event = "get", key = "object", value = "digest", found = "found" }
delete = { event = "del", key = "object" }

[[rules]]
id = "no-disclosure"
clause = "6.1"
type = "forbid"
party = "provider"
event = "disclosure"
incident = "data_disclosed"
permitted_by = { event = "grant", match = { grantee = "recipient" } }
excuses = ["maintenance"]

[[rules]]
id = "quota"
clause = "7.1"
type = "rate"
party = "user"
event = "request"
max = 3
per = "1s"

[[rules]]
id = "uptime"
clause = "8.1"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "10s"
down_when = "50%"
period = "1m"
target = "99%"
credits = [{ below = "99%", credit = "10%" }, { below = "50%", credit = "50%" }]
excuses = ["power-outage", "maintenance"]

[[rules]]
id = "hb"
clause = "9.1"
type = "heartbeat"
party = "provider"
event = "heartbeat"
every = "5s"
excuses = ["power-outage"]

[excuses.maintenance]
event = "maintenance"
from = "start"
until = "end"
notice = "10s"
attribute = "none"

[excuses.power-outage]
event = "outage"
from = "start"
until = "end"
attribute = "external"

[excuses.over-quota]
rule = "quota"
attribute = "user"
"#,
    )
}

fn the_contract() -> &'static Contract {
    static C: OnceLock<Contract> = OnceLock::new();
    C.get_or_init(contract_with_every_rule)
}

/// One generated step: time advance (ms), kind selector, three small numbers.
type Step = (u16, u8, u8, u8, u8);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            prop_oneof![Just(0u16), 0u16..3000],
            0u8..12,
            0u8..6,
            0u8..6,
            0u8..4,
        ),
        0..120,
    )
}

fn events_of(steps: &[Step]) -> Vec<Event> {
    let mut t = at(0);
    let mut out = Vec::with_capacity(steps.len());
    for (seq, &(dt, k, a, b, c)) in steps.iter().enumerate() {
        t += i64::from(dt) * MS;
        let id = |x: u8| Value::Text(format!("r-{x}"));
        let obj = |x: u8| Value::Text(format!("o-{x}"));
        let mut attrs = Attrs::new();
        let (kind, actor) = match k {
            0 | 1 => {
                attrs.insert("id", id(a));
                attrs.insert("op", text(if b == 0 { "health" } else { "get" }));
                ("request", "user")
            }
            2 | 3 => {
                attrs.insert("id", id(a));
                attrs.insert(
                    "status",
                    Value::Int([200, 200, 404, 500, 503, 200][b as usize]),
                );
                ("response", "provider")
            }
            4 => {
                attrs.insert("object", obj(a % 3));
                attrs.insert("digest", Value::Bytes(vec![b % 2]));
                ("put", "provider")
            }
            5 => {
                attrs.insert("object", obj(a % 3));
                match c {
                    0 => attrs.insert("found", Value::Bool(false)),
                    1 => attrs.insert("found", Value::Bool(true)),
                    _ => {}
                }
                if b < 4 {
                    attrs.insert("digest", Value::Bytes(vec![b % 2]));
                }
                ("get", "provider")
            }
            6 => {
                attrs.insert("object", obj(a % 3));
                ("del", "provider")
            }
            7 => {
                attrs.insert("grantee", text(["kpmg", "ads"][(a % 2) as usize]));
                ("grant", if b == 0 { "provider" } else { "user" })
            }
            8 => {
                attrs.insert("recipient", text(["kpmg", "ads"][(a % 2) as usize]));
                ("disclosure", "provider")
            }
            9 => ("heartbeat", if b == 0 { "user" } else { "provider" }),
            10 => {
                let from = t + (i64::from(a) - 2) * 5 * S;
                attrs.insert("start", Value::Int(from));
                attrs.insert("end", Value::Int(from + (i64::from(b) - 1) * 4 * S));
                ("maintenance", "provider")
            }
            _ => {
                let from = t - i64::from(a) * 5 * S;
                attrs.insert("start", Value::Int(from));
                attrs.insert("end", Value::Int(from + i64::from(b) * 3 * S));
                ("outage", if c == 0 { "provider" } else { "grid" })
            }
        };
        out.push(Event {
            seq: seq as u64,
            time: t,
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            attrs,
            sig: None,
        });
    }
    out
}

fn check_invariants(v: &Verdict) -> Result<(), TestCaseError> {
    for r in &v.rules {
        if ["answer", "keep", "no-disclosure", "hb"].contains(&r.rule.as_str()) {
            prop_assert_eq!(
                r.checked,
                r.fulfilled + r.pending + r.incidents,
                "{}",
                r.rule
            );
        }
        let n = v.incidents.iter().filter(|i| i.rule == r.rule).count() as u64;
        prop_assert_eq!(n, r.incidents);
    }
    let t = &v.totals;
    prop_assert_eq!(
        t.provider + t.user + t.external + t.none + t.inconclusive,
        v.incidents.len() as u64
    );
    for w in v.incidents.windows(2) {
        prop_assert!(w[0].from <= w[1].from);
    }
    for i in &v.incidents {
        prop_assert!(i.evidence.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(!i.explanation.is_empty());
        prop_assert!(i.from <= i.until);
    }
    Ok(())
}

/// The verdict with seqs mapped by `map` and explanations and log counts
/// blanked: what must not change when unrelated events are added.
fn essence(v: &Verdict, map: &dyn Fn(u64) -> u64) -> Verdict {
    let mut v = v.clone();
    v.log.events = 0;
    for i in &mut v.incidents {
        i.explanation.clear();
        for s in &mut i.evidence {
            *s = map(*s);
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn verdicts_are_deterministic_and_roundtrip(steps in steps()) {
        let c = the_contract();
        let events = events_of(&steps);
        let a = analyze(c, events.clone()).unwrap();
        let b = analyze(c, events).unwrap();
        let bytes = a.to_cbor();
        prop_assert_eq!(&bytes, &b.to_cbor());
        prop_assert_eq!(a.to_json(), b.to_json());
        let back = Verdict::from_cbor(&bytes).unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(back.to_cbor(), bytes);
        // The JSON carries exactly the CBOR's content.
        let json: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
        prop_assert_eq!(json["incidents"].as_array().map(|x| x.len()), Some(a.incidents.len()));
        prop_assert_eq!(json["format"].as_str(), Some("cfr-verdict/1"));
        check_invariants(&a)?;
    }

    #[test]
    fn chunking_and_rejected_pushes_change_nothing(steps in steps(), cuts in prop::collection::vec(any::<u8>(), 0..8)) {
        let c = the_contract();
        let events = events_of(&steps);
        let whole = analyze(c, events.clone()).unwrap().to_cbor();
        // Push in chunks, trying a bogus event (the same event again, or a
        // later seq from the past) between chunks: each is refused and
        // leaves the engine as it was.
        let mut e = Engine::new(c);
        let mut bounds: Vec<usize> = cuts.iter().map(|&x| x as usize % (events.len() + 1)).collect();
        bounds.sort_unstable();
        let mut start = 0;
        for b in bounds.into_iter().chain([events.len()]) {
            for ev in &events[start..b] {
                e.push(ev).unwrap();
            }
            start = start.max(b);
            if let Some(last) = events[..start].last() {
                prop_assert!(e.push(last).is_err());
                let mut past = last.clone();
                past.seq += 2;
                past.time = past.time.saturating_sub(1);
                prop_assert!(past.time == last.time || e.push(&past).is_err());
            }
        }
        prop_assert_eq!(e.finish().to_cbor(), whole);
    }

    #[test]
    fn unrelated_events_inside_the_span_change_nothing_else(
        steps in steps(),
        noise in prop::collection::vec((any::<u16>(), any::<bool>()), 1..10),
    ) {
        let c = the_contract();
        let events = events_of(&steps);
        prop_assume!(events.len() >= 2);
        let first = events[0].time;
        let last = events[events.len() - 1].time;
        // Insertion points i (before events[i]) with a time strictly inside
        // the span that keeps times non-decreasing.
        let mut inserts: Vec<(usize, i64)> = Vec::new();
        for (pos, use_next) in noise {
            let i = 1 + pos as usize % (events.len() - 1);
            let (lo, hi) = (events[i - 1].time, events[i].time);
            let t = if use_next { hi } else { lo };
            if t > first && t < last {
                inserts.push((i, t));
            }
        }
        prop_assume!(!inserts.is_empty());
        inserts.sort();
        let mut noisy = Vec::new();
        let mut orig_of_new = Vec::new();
        let mut k = 0;
        for (i, ev) in events.iter().enumerate() {
            while k < inserts.len() && inserts[k].0 == i {
                let mut attrs = Attrs::new();
                attrs.insert("text", text("unrelated"));
                noisy.push(Event { seq: 0, time: inserts[k].1, kind: "note".into(), actor: "user".into(), attrs, sig: None });
                orig_of_new.push(u64::MAX);
                k += 1;
            }
            noisy.push(ev.clone());
            orig_of_new.push(i as u64);
        }
        for (n, ev) in noisy.iter_mut().enumerate() {
            ev.seq = n as u64;
        }
        let a = analyze(c, events).unwrap();
        let b = analyze(c, noisy).unwrap();
        prop_assert_eq!(b.log.events, a.log.events + inserts.len() as u64);
        prop_assert_eq!((b.log.from, b.log.until), (a.log.from, a.log.until));
        let map = |s: u64| orig_of_new[s as usize];
        prop_assert_eq!(essence(&b, &map), essence(&a, &|s| s));
        check_invariants(&b)?;
    }
}
