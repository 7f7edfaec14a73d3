//! Edge cases of every rule type, excuses, attribution and the engine's
//! input checks.

use crate::util::*;
use cfr_model::time::{format_rfc3339, parse_rfc3339};
use cfr_model::{Event, Value};
use cfr_rules::{analyze, Engine, EngineError, Incident, Party, Verdict};

fn kinds(v: &Verdict) -> Vec<(&str, Party)> {
    v.incidents
        .iter()
        .map(|i| (i.kind.as_str(), i.party))
        .collect()
}

fn stats(v: &Verdict, rule: &str) -> (u64, u64, u64, u64) {
    let r = v.rules.iter().find(|r| r.rule == rule).unwrap();
    (r.checked, r.fulfilled, r.pending, r.incidents)
}

fn only(v: &Verdict) -> &Incident {
    assert_eq!(v.incidents.len(), 1, "{}", v.to_json());
    &v.incidents[0]
}

// ---------------------------------------------------------------- deadline

#[test]
fn deadline_reply_exactly_at_the_deadline_is_fulfilled_one_ns_later_is_late() {
    let c = contract(&format!("{DEADLINE_EVENTS}{}", deadline_rule("2s", "")));
    let v = analyze(
        &c,
        log(vec![
            req(at(0), "a"),
            resp(at(2 * S), "a", 200),
            req(at(10 * S), "b"),
            resp(at(12 * S + 1), "b", 200),
        ]),
    )
    .unwrap();
    let i = only(&v);
    assert_eq!(i.kind, "late_result");
    assert_eq!(i.evidence, [2, 3]);
    assert_eq!((i.from, i.until), (at(10 * S), at(12 * S)));
    assert_eq!(stats(&v, "answer"), (2, 1, 0, 1));
    assert!(
        i.explanation
            .contains("after 2.000000001 s; due within 2 s"),
        "{}",
        i.explanation
    );
}

#[test]
fn deadline_late_wins_over_ok_and_ok_judges_replies_in_time() {
    let c = contract(&format!("{DEADLINE_EVENTS}{}", deadline_rule("2s", "")));
    let v = analyze(
        &c,
        log(vec![
            req(at(0), "a"),
            resp(at(S), "a", 503),
            req(at(10 * S), "b"),
            resp(at(13 * S), "b", 503),
        ]),
    )
    .unwrap();
    assert_eq!(
        kinds(&v),
        [
            ("erroneous_result", Party::Provider),
            ("late_result", Party::Provider)
        ]
    );
    assert!(v.incidents[0].explanation.contains("status < 500"));
}

#[test]
fn deadline_reply_is_consumed_once_and_must_come_later() {
    let c = contract(&format!("{DEADLINE_EVENTS}{}", deadline_rule("2s", "")));
    let v = analyze(
        &c,
        log(vec![
            // A "reply" before its trigger is no reply.
            resp(at(0), "a", 200),
            req(at(0), "a"),
            req(at(S), "a"),
            resp(at(S), "a", 200),
            resp(at(10 * S), "z", 200),
        ]),
    )
    .unwrap();
    // Trigger 1 takes reply 3; trigger 2 gets nothing.
    let i = only(&v);
    assert_eq!(i.kind, "no_result");
    assert_eq!(i.evidence, [2]);
    assert_eq!(stats(&v, "answer"), (2, 1, 0, 1));
}

#[test]
fn deadline_pending_versus_no_result_by_the_last_event_time() {
    let c = contract(&format!("{DEADLINE_EVENTS}{}", deadline_rule("2s", "")));
    // The last event is exactly at the first trigger's deadline: no_result.
    // The second trigger's deadline is after it: pending.
    let v = analyze(
        &c,
        log(vec![
            req(at(0), "a"),
            req(at(S), "b"),
            resp(at(2 * S), "x", 200),
        ]),
    )
    .unwrap();
    assert_eq!(kinds(&v), [("no_result", Party::Provider)]);
    assert_eq!(stats(&v, "answer"), (2, 0, 1, 1));
}

#[test]
fn deadline_missing_match_attribute_never_matches() {
    let c = contract(&format!(
        r#"{}
[[rules]]
id = "answer"
clause = "4.1"
type = "deadline"
party = "provider"
trigger = "request"
reply = "response"
match = ["id"]
within = "1s"
"#,
        r#"
[events.request]
by = "user"
attrs = { id = "text?" }
[events.response]
by = "provider"
attrs = { id = "text?" }
"#
    ));
    let v = analyze(
        &c,
        log(vec![
            (at(0), "request", "user", vec![]),
            (at(1), "response", "provider", vec![]),
            (at(2), "request", "user", vec![("id", text("a"))]),
            (at(3), "response", "provider", vec![]),
            (at(5 * S), "response", "provider", vec![("id", text("a"))]),
        ]),
    )
    .unwrap();
    assert_eq!(
        kinds(&v),
        [
            ("no_result", Party::Provider),
            ("late_result", Party::Provider)
        ]
    );
    assert_eq!(v.incidents[0].evidence, [0]);
    assert_eq!(v.incidents[1].evidence, [2, 4]);
}

#[test]
fn events_at_identical_times() {
    let c = contract(&format!(
        "{DEADLINE_EVENTS}{}{}",
        deadline_rule("0s", "").replace("within = \"0s\"", "within = \"1ns\""),
        r#"
[[rules]]
id = "quota"
clause = "7.1"
type = "rate"
party = "user"
event = "request"
max = 2
per = "1s"
"#
    ));
    let t = at(0);
    let v = analyze(
        &c,
        log(vec![
            req(t, "a"),
            resp(t, "a", 200),
            req(t, "b"),
            req(t, "c"),
            resp(t, "c", 200),
            resp(t, "b", 200),
        ]),
    )
    .unwrap();
    // Replies at the trigger's instant are in time; the third request at
    // the same instant exceeds the quota; the violation lasts until t+1s.
    assert_eq!(kinds(&v), [("quota_exceeded", Party::User)]);
    let i = &v.incidents[0];
    assert_eq!((i.from, i.until), (t, t + S));
    assert_eq!(i.evidence, [0, 2, 3]);
    assert_eq!(stats(&v, "answer"), (3, 3, 0, 0));
    assert_eq!(stats(&v, "quota"), (3, 2, 0, 1));
}

// ---------------------------------------------------------------- excuses

fn excuse_contract(order: &str) -> cfr_contract::Contract {
    contract(&format!(
        r#"{DEADLINE_EVENTS}
[events.maintenance]
by = "provider"
attrs = {{ start = "time", end = "time" }}
[events.outage]
by = "attestor"
attrs = {{ start = "time", end = "time" }}
{}
[excuses.maintenance]
event = "maintenance"
from = "start"
until = "end"
notice = "48h"
attribute = "none"
[excuses.power-outage]
event = "outage"
from = "start"
until = "end"
attribute = "external"
"#,
        deadline_rule("2s", order)
    ))
}

fn window(t: i64, kind: &str, actor: &str, from: i64, until: i64) -> Entry<'static> {
    let kind: &'static str = if kind == "outage" {
        "outage"
    } else {
        "maintenance"
    };
    let actor: &'static str = match actor {
        "grid" => "grid",
        "provider" => "provider",
        _ => "user",
    };
    (
        t,
        kind,
        actor,
        vec![("start", Value::Int(from)), ("end", Value::Int(until))],
    )
}

#[test]
fn excuse_order_decides_when_two_overlap() {
    let h = 3600 * S;
    let events = || {
        log(vec![
            window(at(-72 * h), "maintenance", "provider", at(0), at(h)),
            req(at(60 * S), "a"),
            window(at(2 * h), "outage", "grid", at(0), at(h)),
        ])
    };
    let v = analyze(
        &excuse_contract(r#""maintenance", "power-outage""#),
        events(),
    )
    .unwrap();
    let i = only(&v);
    assert_eq!(
        (i.party, i.excuse.as_deref()),
        (Party::None, Some("maintenance"))
    );
    assert_eq!(i.evidence, [0, 1]);
    let v = analyze(
        &excuse_contract(r#""power-outage", "maintenance""#),
        events(),
    )
    .unwrap();
    let i = only(&v);
    assert_eq!(
        (i.party, i.excuse.as_deref()),
        (Party::External, Some("power-outage"))
    );
    assert_eq!(i.evidence, [1, 2]);
    assert_eq!(v.totals.external, 1);
}

#[test]
fn notice_too_late_and_outage_not_by_an_attestor_do_not_apply_and_say_so() {
    let h = 3600 * S;
    let v = analyze(
        &excuse_contract(r#""maintenance", "power-outage""#),
        log(vec![
            // Logged 12 h before its start: 48 h required.
            window(at(-12 * h), "maintenance", "provider", at(0), at(h)),
            // An outage emitted by the provider is no attestation.
            window(at(-12 * h), "outage", "provider", at(0), at(h)),
            req(at(60 * S), "a"),
            resp(at(60 * S + 5 * S), "a", 200),
        ]),
    )
    .unwrap();
    let i = only(&v);
    assert_eq!((i.party, i.excuse.as_deref()), (Party::Provider, None));
    assert_eq!(i.evidence, [2, 3]);
    assert!(
        i.explanation.contains(
            "logged 12 h before its start; 48 h required: excuse \"maintenance\" does not apply"
        ),
        "{}",
        i.explanation
    );
    assert!(
        i.explanation
            .contains("not an attestor: excuse \"power-outage\" does not apply"),
        "{}",
        i.explanation
    );
}

#[test]
fn notice_holds_with_equality_and_excuse_intervals_are_closed() {
    let h = 3600 * S;
    let v = analyze(
        &excuse_contract(r#""maintenance""#),
        log(vec![
            window(at(-48 * h), "maintenance", "provider", at(0), at(h)),
            // Window [h - 2s, h] touches the maintenance end at one instant.
            req(at(h - 2 * S), "a"),
            // Window [h + 1ns, ...] starts after it.
            req(at(h + 1), "b"),
            resp(at(2 * h), "z", 200),
        ]),
    )
    .unwrap();
    assert_eq!(
        kinds(&v),
        [("no_result", Party::None), ("no_result", Party::Provider)]
    );
}

#[test]
fn excuse_events_with_missing_or_reversed_intervals_are_ignored() {
    let h = 3600 * S;
    let c = excuse_contract(r#""power-outage""#);
    let v = analyze(
        &c,
        log(vec![
            window(at(0), "outage", "grid", at(h), at(0)),
            (at(1), "outage", "grid", vec![("start", Value::Int(at(0)))]),
            req(at(60 * S), "a"),
            resp(at(2 * h), "z", 200),
        ]),
    )
    .unwrap();
    let i = only(&v);
    assert_eq!(
        (i.party, i.evidence.as_slice()),
        (Party::Provider, &[2u64][..])
    );
}

#[test]
fn outage_attested_after_the_fact_still_excuses() {
    let h = 3600 * S;
    let v = analyze(
        &excuse_contract(r#""power-outage""#),
        log(vec![
            req(at(0), "a"),
            window(at(5 * h), "outage", "grid", at(-h), at(h)),
        ]),
    )
    .unwrap();
    assert_eq!(kinds(&v), [("no_result", Party::External)]);
}

#[test]
fn rule_based_excuse_uses_availability_windows_as_half_open() {
    let c = contract(&format!(
        r#"{DEADLINE_EVENTS}
[events.probe]
by = "provider"
attrs = {{ ok = "bool" }}
{}
[[rules]]
id = "up"
clause = "8.1"
type = "availability"
party = "provider"
event = "probe"
failed = "not ok"
window = "10s"
down_when = "0%"
period = "1h"
target = "50%"
[excuses.down]
rule = "up"
attribute = "inconclusive"
"#,
        deadline_rule("1s", r#""down""#)
    ));
    let base = parse_rfc3339("2026-03-02T10:00:00Z").unwrap();
    let v = analyze(
        &c,
        log(vec![
            (base, "probe", "provider", vec![("ok", Value::Bool(false))]),
            req(base + 9 * S, "b"),
            req(base + 10 * S, "a"),
            resp(base + 20 * S, "z", 200),
        ]),
    )
    .unwrap();
    let got: Vec<_> = v
        .incidents
        .iter()
        .map(|i| {
            (
                i.rule.as_str(),
                i.kind.as_str(),
                i.party,
                i.evidence.clone(),
                i.excused_by,
            )
        })
        .collect();
    // The excused incident names the window that excused it (incident 0)
    // and keeps its own evidence only.
    assert_eq!(
        got,
        [
            ("up", "unavailable", Party::Provider, vec![0], None),
            ("answer", "no_result", Party::Inconclusive, vec![1], Some(0)),
            ("answer", "no_result", Party::Provider, vec![2], None),
        ]
    );
}

// ---------------------------------------------------------------- forbid

fn forbid_contract() -> cfr_contract::Contract {
    contract(
        r#"
[events.grant]
by = "user"
attrs = { grantee = "text" }
[events.court-order]
by = "attestor"
attrs = { grantee = "text" }
[events.disclosure]
by = "provider"
attrs = { recipient = "text" }
[[rules]]
id = "no-disclosure"
clause = "6.1"
type = "forbid"
party = "provider"
event = "disclosure"
incident = "data_disclosed"
permitted_by = { event = "grant", match = { grantee = "recipient" } }
[[rules]]
id = "no-disclosure-2"
clause = "6.2"
type = "forbid"
party = "provider"
event = "disclosure"
incident = "data_disclosed"
permitted_by = { event = "court-order", match = { grantee = "recipient" } }
"#,
    )
}

#[test]
fn forbid_permit_goes_to_its_emitter_attestor_is_external() {
    let c = forbid_contract();
    let v = analyze(
        &c,
        log(vec![
            (at(0), "grant", "user", vec![("grantee", text("kpmg"))]),
            (
                at(1),
                "court-order",
                "grid",
                vec![("grantee", text("kpmg"))],
            ),
            (
                at(2),
                "disclosure",
                "provider",
                vec![("recipient", text("kpmg"))],
            ),
            (
                at(3),
                "disclosure",
                "provider",
                vec![("recipient", text("ads"))],
            ),
        ]),
    )
    .unwrap();
    let got: Vec<_> = v
        .incidents
        .iter()
        .map(|i| {
            (
                i.rule.as_str(),
                i.party,
                i.excuse.clone(),
                i.evidence.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("no-disclosure", Party::User, None, vec![0, 2]),
            ("no-disclosure-2", Party::External, None, vec![1, 2]),
            ("no-disclosure", Party::Provider, None, vec![3]),
            ("no-disclosure-2", Party::Provider, None, vec![3]),
        ]
    );
    assert_eq!(stats(&v, "no-disclosure"), (2, 0, 0, 2));
}

#[test]
fn forbid_permit_by_the_debtor_does_not_count() {
    let c = contract(
        r#"
[events.grant]
by = "provider"
attrs = { grantee = "text" }
[events.disclosure]
by = "provider"
attrs = { recipient = "text" }
[[rules]]
id = "no-disclosure"
clause = "6.1"
type = "forbid"
party = "provider"
event = "disclosure"
incident = "data_disclosed"
permitted_by = { event = "grant", match = { grantee = "recipient" } }
"#,
    );
    let v = analyze(
        &c,
        log(vec![
            (at(0), "grant", "provider", vec![("grantee", text("kpmg"))]),
            (
                at(2),
                "disclosure",
                "provider",
                vec![("recipient", text("kpmg"))],
            ),
        ]),
    )
    .unwrap();
    assert_eq!(only(&v).party, Party::Provider);
    assert_eq!(only(&v).evidence, [1]);
}

// ---------------------------------------------------------------- integrity

#[test]
fn integrity_lost_corrupted_and_nothing_to_judge() {
    let c = contract(
        r#"
[events.put]
by = "provider"
attrs = { object = "text", digest = "bytes" }
[events.get]
by = "provider"
attrs = { object = "text", found = "bool?", digest = "bytes?" }
[events.del]
by = "provider"
attrs = { object = "text" }
[[rules]]
id = "keep"
clause = "5.1"
type = "integrity"
party = "provider"
write = { event = "put", key = "object", value = "digest" }
read = { event = "get", key = "object", value = "digest", found = "found" }
delete = { event = "del", key = "object" }
"#,
    );
    let b = |x: u8| Value::Bytes(vec![x]);
    let v = analyze(
        &c,
        log(vec![
            (
                at(0),
                "put",
                "provider",
                vec![("object", text("a")), ("digest", b(1))],
            ),
            (
                at(1),
                "get",
                "provider",
                vec![("object", text("a")), ("digest", b(1))],
            ),
            (
                at(2),
                "get",
                "provider",
                vec![("object", text("a")), ("found", Value::Bool(false))],
            ),
            (
                at(3),
                "get",
                "provider",
                vec![("object", text("a")), ("digest", b(2))],
            ),
            (
                at(4),
                "get",
                "provider",
                vec![("object", text("a")), ("found", Value::Bool(true))],
            ),
            (at(5), "del", "provider", vec![("object", text("a"))]),
            (
                at(6),
                "get",
                "provider",
                vec![("object", text("a")), ("found", Value::Bool(false))],
            ),
            (
                at(7),
                "get",
                "provider",
                vec![("object", text("zz")), ("digest", b(9))],
            ),
        ]),
    )
    .unwrap();
    assert_eq!(
        kinds(&v),
        [
            ("data_lost", Party::Provider),
            ("data_corrupted", Party::Provider)
        ]
    );
    assert_eq!(v.incidents[0].evidence, [0, 2]);
    assert_eq!(v.incidents[1].evidence, [0, 3]);
    let said: Vec<&str> = v.incidents.iter().map(|i| i.explanation.as_str()).collect();
    assert_eq!(
        said,
        [
            "get of object a (seq 2) found nothing, but put seq 0 stored it and it was not deleted since",
            "get of object a (seq 3) returned digest 02, but put seq 0 stored 01"
        ]
    );
    assert_eq!(stats(&v, "keep"), (3, 1, 0, 2));
}

// ---------------------------------------------------------------- rate

#[test]
fn rate_example_of_the_design_gives_two_incidents() {
    let c = contract(
        r#"
[events.request]
by = "user"
attrs = {}
[[rules]]
id = "quota"
clause = "7.1"
type = "rate"
party = "user"
event = "request"
max = 2
per = "1s"
"#,
    );
    let t = |ms: i64| at(ms * MS);
    let v = analyze(
        &c,
        log(vec![
            (t(0), "request", "user", vec![]),
            (t(500), "request", "user", vec![]),
            (t(600), "request", "user", vec![]),
            (t(1050), "request", "user", vec![]),
        ]),
    )
    .unwrap();
    let got: Vec<_> = v
        .incidents
        .iter()
        .map(|i| (i.from, i.until, i.evidence.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (t(600), t(1600), vec![0, 1, 2]),
            (t(1050), t(2050), vec![1, 2, 3]),
        ]
    );
    assert_eq!(stats(&v, "quota"), (4, 2, 0, 2));
    // One more request exactly when the event at 0.5 s leaves (1.5 s)
    // keeps the second violation going only if it arrives before then.
    let v = analyze(
        &c,
        log(vec![
            (t(0), "request", "user", vec![]),
            (t(500), "request", "user", vec![]),
            (t(600), "request", "user", vec![]),
            (t(1000), "request", "user", vec![]),
        ]),
    )
    .unwrap();
    // At 1.0 s the event at 0 leaves and the new one enters: the count
    // never drops to 2, so this is one incident.
    assert_eq!(v.incidents.len(), 1);
    assert_eq!(
        (v.incidents[0].from, v.incidents[0].until),
        (t(600), t(2000))
    );
    assert_eq!(v.incidents[0].evidence, [0, 1, 2, 3]);
}

// ---------------------------------------------------------------- availability

fn availability_contract(period: &str, down_when: &str) -> cfr_contract::Contract {
    contract(&format!(
        r#"
[events.response]
by = "provider"
attrs = {{ status = "int" }}
[events.other]
by = "user"
attrs = {{}}
[[rules]]
id = "uptime"
clause = "8.1"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "1h"
down_when = "{down_when}"
period = "{period}"
target = "99.9%"
credits = [{{ below = "99.9%", credit = "10%" }}, {{ below = "99%", credit = "25%" }}]
"#
    ))
}

fn status(t: i64, s: i64) -> Entry<'static> {
    (t, "response", "provider", vec![("status", Value::Int(s))])
}

#[test]
fn availability_exact_threshold_is_up() {
    let c = availability_contract("month", "50%");
    let t = parse_rfc3339("2026-03-02T10:00:00Z").unwrap();
    let v = analyze(
        &c,
        log(vec![
            status(t, 500),
            status(t + 1, 200),
            // Next window: 2 of 3 failed, above 50%.
            status(t + 3600 * S, 500),
            status(t + 3600 * S + 1, 500),
            status(t + 3600 * S + 2, 200),
        ]),
    )
    .unwrap();
    let i = v
        .incidents
        .iter()
        .find(|i| i.kind == "unavailable")
        .unwrap();
    assert_eq!(format_rfc3339(i.from), "2026-03-02T11:00:00Z");
    assert_eq!(format_rfc3339(i.until), "2026-03-02T12:00:00Z");
    assert_eq!(i.evidence, [2, 3, 4]);
    // Two counted windows, one down: 50% uptime, breached, credit 25%.
    assert_eq!(v.sla.len(), 1);
    let s = &v.sla[0];
    assert_eq!(
        (s.period.as_str(), s.uptime_ppm, s.breached, s.credit_ppm),
        ("2026-03", 500_000, true, Some(250_000))
    );
    assert_eq!(stats(&v, "uptime"), (2, 1, 0, 2));
}

#[test]
fn availability_month_periods_and_windows_without_events() {
    let c = availability_contract("month", "0%");
    let feb = parse_rfc3339("2026-02-28T22:30:00Z").unwrap();
    let v = analyze(
        &c,
        log(vec![
            status(feb, 200),
            // 23:00 window down, in February.
            status(feb + 45 * 60 * S, 503),
            // A user event in March at 01:10: the log spans 4 windows
            // (22:00, 23:00, 00:00, 01:00); the March ones have no probes
            // and are up.
            (
                parse_rfc3339("2026-03-01T01:10:00Z").unwrap(),
                "other",
                "user",
                vec![],
            ),
        ]),
    )
    .unwrap();
    let periods: Vec<_> = v
        .sla
        .iter()
        .map(|s| (s.period.as_str(), s.uptime_ppm, s.breached, s.credit_ppm))
        .collect();
    assert_eq!(
        periods,
        [
            ("2026-02", 500_000, true, Some(250_000)),
            ("2026-03", 1_000_000, false, None)
        ]
    );
    let breach = v.incidents.iter().find(|i| i.kind == "sla_breach").unwrap();
    assert_eq!(format_rfc3339(breach.from), "2026-02-01T00:00:00Z");
    assert_eq!(format_rfc3339(breach.until), "2026-03-01T00:00:00Z");
    assert_eq!(breach.evidence, [1]);
    assert_eq!(stats(&v, "uptime"), (4, 3, 0, 2));
    let json = v.to_json();
    assert!(json.contains("\"uptime\": \"100.000%\""), "{json}");
    assert!(json.contains("\"uptime\": \"50.000%\""), "{json}");
}

#[test]
fn availability_duration_periods_are_epoch_aligned() {
    let c = availability_contract("1d", "0%");
    let t = parse_rfc3339("2026-03-09T23:30:00Z").unwrap();
    let v = analyze(&c, log(vec![status(t, 500), status(t + 3600 * S, 200)])).unwrap();
    let periods: Vec<_> = v.sla.iter().map(|s| s.period.as_str()).collect();
    assert_eq!(periods, ["2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z"]);
    assert_eq!(v.sla[0].uptime_ppm, 0);
    assert_eq!(v.sla[0].credit_ppm, Some(250_000));
}

// ---------------------------------------------------------------- heartbeat

#[test]
fn heartbeat_counts_only_the_debtors_beats_and_strict_gaps() {
    let c = contract(
        r#"
[events.beat]
by = "provider"
attrs = {}
[events.noise]
by = "user"
attrs = {}
[[rules]]
id = "hb"
clause = "9.1"
type = "heartbeat"
party = "provider"
event = "beat"
every = "5m"
"#,
    );
    let m = 60 * S;
    let v = analyze(
        &c,
        log(vec![
            (at(0), "noise", "user", vec![]),
            (at(5 * m), "beat", "provider", vec![]),
            // A beat by someone else does not count.
            (at(8 * m), "beat", "user", vec![]),
            (at(10 * m + 1), "beat", "provider", vec![]),
            (at(12 * m), "noise", "user", vec![]),
        ]),
    )
    .unwrap();
    let i = only(&v);
    assert_eq!(i.kind, "missing_evidence");
    assert_eq!((i.from, i.until), (at(5 * m), at(10 * m + 1)));
    assert_eq!(i.evidence, [1, 3]);
    assert_eq!(stats(&v, "hb"), (3, 2, 0, 1));
}

// ---------------------------------------------------------------- logs

fn every_rule_contract() -> cfr_contract::Contract {
    crate::props::contract_with_every_rule()
}

#[test]
fn empty_log() {
    let c = every_rule_contract();
    let v = Engine::new(&c).finish();
    assert_eq!((v.log.events, v.log.from, v.log.until), (0, None, None));
    assert!(v.incidents.is_empty());
    assert!(v.sla.is_empty());
    assert!(v
        .rules
        .iter()
        .all(|r| (r.checked, r.fulfilled, r.pending, r.incidents) == (0, 0, 0, 0)));
    assert_eq!(v.rules.len(), c.rules.len());
    let json = v.to_json();
    assert!(
        json.contains("\"from\": null") && json.contains("\"until\": null"),
        "{json}"
    );
    assert!(json.contains("\"incidents\": []"), "{json}");
    assert_eq!(Verdict::from_cbor(&v.to_cbor()).unwrap(), v);
}

#[test]
fn one_event_log() {
    let c = every_rule_contract();
    let v = analyze(
        &c,
        log(vec![(
            at(0),
            "request",
            "user",
            vec![("id", text("a")), ("op", text("get"))],
        )]),
    )
    .unwrap();
    assert_eq!(
        (v.log.events, v.log.from, v.log.until),
        (1, Some(at(0)), Some(at(0)))
    );
    // The request is pending (its deadline is after the log's end); one
    // availability window is counted and up; one zero-length heartbeat
    // pair is checked.
    assert!(v.incidents.is_empty(), "{}", v.to_json());
    assert_eq!(stats(&v, "answer"), (1, 0, 1, 0));
    assert_eq!(stats(&v, "uptime"), (1, 1, 0, 0));
    assert_eq!(stats(&v, "hb"), (1, 1, 0, 0));
    assert_eq!(v.sla.len(), 1);
    assert_eq!(v.sla[0].uptime_ppm, 1_000_000);
}

#[test]
fn engine_rejects_bad_sequences_and_stays_usable() {
    let c = every_rule_contract();
    let mut events = log(vec![req(at(0), "a"), req(at(S), "b"), req(at(2 * S), "c")]);
    let mut e = Engine::new(&c);
    e.push(&events[0]).unwrap();
    assert_eq!(
        e.push(&events[0]),
        Err(EngineError::SeqNotIncreasing {
            previous: 0,
            found: 0
        })
    );
    let mut back = events[1].clone();
    back.time = at(-1);
    let err = e.push(&back).unwrap_err();
    assert_eq!(
        err,
        EngineError::TimeBackwards {
            seq: 1,
            time: at(-1),
            previous: at(0)
        }
    );
    assert!(
        err.to_string().contains("time goes backwards at seq 1"),
        "{err}"
    );
    e.push(&events[1]).unwrap();
    e.push(&events[2]).unwrap();
    assert_eq!(e.events(), 3);
    let v = e.finish();
    events.truncate(3);
    assert_eq!(v, analyze(&c, events).unwrap());
}

#[test]
fn hostile_times_and_durations_do_not_overflow() {
    // Every rule type with extreme durations, over the whole i64 time range
    // (month periods: about 7,000 of them, each listed in `sla`).
    let c = contract(
        r#"
[events.request]
by = "user"
attrs = { id = "text" }
[events.response]
by = "provider"
attrs = { id = "text", status = "int" }
[events.beat]
by = "provider"
attrs = {}
[[rules]]
id = "answer"
clause = "4.1"
type = "deadline"
party = "provider"
trigger = "request"
reply = "response"
match = ["id"]
within = "99999d"
[[rules]]
id = "quota"
clause = "7.1"
type = "rate"
party = "user"
event = "request"
max = 1
per = "99999d"
[[rules]]
id = "uptime"
clause = "8.1"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "1h"
down_when = "0%"
period = "month"
target = "100%"
[[rules]]
id = "hb"
clause = "9.1"
type = "heartbeat"
party = "provider"
event = "beat"
every = "1ns"
"#,
    );
    let v = analyze(
        &c,
        log(vec![
            req(i64::MIN, "a"),
            req(i64::MIN, "a"),
            resp(i64::MIN, "z", 500),
            resp(i64::MAX - 1, "a", 500),
            (i64::MAX, "beat", "provider", vec![]),
        ]),
    )
    .unwrap();
    assert!(v.sla.len() > 6_000);
    assert_eq!(v.sla.iter().filter(|s| s.uptime_ppm < 1_000_000).count(), 2);
    let bytes = v.to_cbor();
    assert_eq!(Verdict::from_cbor(&bytes).unwrap().to_cbor(), bytes);
}

#[test]
fn a_gapped_log_is_judged_on_its_own_seqs() {
    // An excerpt's log keeps the original seqs and skips the rest: the
    // incidents name those seqs, exactly as over the whole log.
    let c = contract(&format!("{DEADLINE_EVENTS}{}", deadline_rule("2s", "")));
    let whole = log(vec![
        req(at(0), "a"),
        req(at(S), "b"),
        resp(at(S + 100 * MS), "b", 200),
        resp(at(5 * S), "a", 200),
    ]);
    let full = analyze(&c, whole.clone()).unwrap();
    let excerpt: Vec<Event> = [0, 3].iter().map(|&i| whole[i].clone()).collect();
    let part = analyze(&c, excerpt).unwrap();
    assert_eq!(part.incidents.len(), 1);
    assert_eq!(part.incidents[0], full.incidents[0]);
    assert_eq!(part.incidents[0].evidence, [0, 3]);
}
