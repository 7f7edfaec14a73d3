//! Published service levels (DESIGN section 5): `[term]`, `measure =
//! "mean_error_rate"`, `min_events`, `down_for`, deadline `sla`, `fee`.
//! Each edge test says in a comment why the answer is what it is.

use crate::util::*;
use cfr_contract::Contract;
use cfr_model::time::parse_rfc3339;
use cfr_model::Value;
use cfr_rules::{analyze, Party, SlaMeasure, Verdict};
use proptest::prelude::*;

const MIN: i64 = 60 * S;

fn t(s: &str) -> i64 {
    parse_rfc3339(s).unwrap()
}

/// An availability contract on `response` (failed = status >= 500) with
/// the given rule fields and, optionally, a term.
fn avail(fields: &str, term: Option<(&str, &str)>) -> Contract {
    let term = term
        .map(|(a, b)| format!("[term]\nfrom = \"{a}\"\nuntil = \"{b}\"\n"))
        .unwrap_or_default();
    // [term] must come before the first array-of-tables; util puts the
    // parties first, so the term goes in a table of its own here.
    contract(&format!(
        r#"{term}
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
[[rules]]
id = "up"
clause = "x"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
excuses = ["outage"]
{fields}
"#
    ))
}

fn resp(time: i64, status: i64) -> Entry<'static> {
    (
        time,
        "response",
        "provider",
        vec![("id", text("r")), ("status", Value::Int(status))],
    )
}

fn outage(time: i64, from: i64, until: i64) -> Entry<'static> {
    (
        time,
        "outage",
        "grid",
        vec![("start", Value::Int(from)), ("end", Value::Int(until))],
    )
}

fn unavailable(v: &Verdict) -> Vec<(i64, i64, Party)> {
    v.incidents
        .iter()
        .filter(|i| i.kind == "unavailable")
        .map(|i| (i.from, i.until, i.party))
        .collect()
}

const GCS: &str = r#"window = "1m"
down_when = "10%"
min_events = 10
down_for = "5m"
period = "month"
target = "99.95%"
credits = [{ below = "99.95%", credit = "10%" }]"#;

/// `n` events per minute for `minutes` minutes from `start`, the first
/// `failing` of each minute failing.
fn minutes(start: i64, minutes: i64, n: i64, failing: i64) -> Vec<Entry<'static>> {
    let mut out = Vec::new();
    for m in 0..minutes {
        for r in 0..n {
            out.push(resp(
                start + m * MIN + r * S,
                if r < failing { 500 } else { 200 },
            ));
        }
    }
    out
}

#[test]
fn a_window_with_exactly_down_when_failing_is_up() {
    // down_when = 10%: 1 of 10 failing is 10%, not more than 10%, so the
    // minute is up and the 5-minute run of such minutes raises nothing.
    let c = avail(GCS, None);
    let v = analyze(&c, log(minutes(at(0), 6, 10, 1))).unwrap();
    assert!(unavailable(&v).is_empty(), "{}", v.to_json());
    // 2 of 10 is more than 10%: six down minutes, one run of 6 min.
    let v = analyze(&c, log(minutes(at(0), 6, 10, 2))).unwrap();
    assert_eq!(unavailable(&v), [(at(0), at(6 * MIN), Party::Provider)]);
}

#[test]
fn min_events_minus_one_events_all_failing_is_up() {
    // min_events = 10: 9 events, all failing, are too few to judge the
    // minute, so it is never down, however long it lasts.
    let c = avail(GCS, None);
    let v = analyze(&c, log(minutes(at(0), 8, 9, 9))).unwrap();
    assert!(unavailable(&v).is_empty(), "{}", v.to_json());
    assert_eq!(v.sla[0].uptime_ppm, 1_000_000);
}

#[test]
fn a_run_of_exactly_down_for_counts_and_one_window_shorter_does_not() {
    let c = avail(GCS, None);
    // Exactly 5 consecutive down minutes: the run lasts down_for, so it
    // counts: one incident over the 5 minutes.
    let v = analyze(&c, log(minutes(at(0), 5, 10, 10))).unwrap();
    assert_eq!(unavailable(&v), [(at(0), at(5 * MIN), Party::Provider)]);
    assert_eq!(v.rules[0].fulfilled, v.rules[0].checked - 5);
    // 4 minutes: shorter than down_for, neither an incident nor downtime.
    let v = analyze(&c, log(minutes(at(0), 4, 10, 10))).unwrap();
    assert!(unavailable(&v).is_empty());
    assert_eq!(v.sla[0].uptime_ppm, 1_000_000);
    // Two runs of 4 with one up minute between are two short runs, not one.
    let mut e = minutes(at(0), 4, 10, 10);
    e.extend(minutes(at(4 * MIN), 1, 10, 0));
    e.extend(minutes(at(5 * MIN), 4, 10, 10));
    assert!(unavailable(&analyze(&c, log(e)).unwrap()).is_empty());
    // A minute without events breaks a run too (it is up: no requests).
    let mut e = minutes(at(0), 3, 10, 10);
    e.extend(minutes(at(4 * MIN), 3, 10, 10));
    assert!(unavailable(&analyze(&c, log(e)).unwrap()).is_empty());
}

#[test]
fn an_excuse_covering_part_of_a_run_splits_it_into_incidents_by_party() {
    // 10 down minutes; an attested outage covers minutes 3 and 4 (its
    // interval [3:00, 4:59] overlaps exactly those two windows). The run
    // qualifies as a whole (10 min >= 5 min) and splits into provider
    // 0-3, external 3-5, provider 5-10: three incidents, and 8 minutes of
    // provider downtime.
    let c = avail(GCS, None);
    let mut e = minutes(at(0), 10, 10, 10);
    e.push(outage(at(11 * MIN), at(3 * MIN), at(5 * MIN - S)));
    let v = analyze(&c, log(e)).unwrap();
    assert_eq!(
        unavailable(&v),
        [
            (at(0), at(3 * MIN), Party::Provider),
            (at(3 * MIN), at(5 * MIN), Party::External),
            (at(5 * MIN), at(10 * MIN), Party::Provider),
        ]
    );
    let ext = v
        .incidents
        .iter()
        .find(|i| i.party == Party::External)
        .unwrap();
    assert_eq!(ext.excuse.as_deref(), Some("outage"));
    // The evidence is the union of the windows' events and the outage.
    assert_eq!(ext.evidence.len(), 21);
    // Counted windows: minute 0 to minute 11 (the outage's log time) = 12.
    let counted = v.rules[0].checked;
    assert_eq!(counted, 12);
    assert_eq!(v.sla[0].uptime_ppm, ((12 - 8) * 1_000_000 / 12) / 10 * 10);
    assert_eq!(v.rules[0].incidents, 3 + 1);
}

#[test]
fn a_window_at_the_terms_boundary() {
    // Term [00:02:30, 00:10:00) with 5-minute windows: the windows that
    // overlap it are 00:00 and 00:05, so the window holding the term's
    // start counts, whole; an event in it (00:01, before the term itself)
    // counts too. The event at 00:10 lies in a window outside the term
    // and judges nothing.
    let c = avail(
        r#"window = "5m"
measure = "mean_error_rate"
period = "month"
target = "99.9%""#,
        Some(("2026-03-02T00:02:30Z", "2026-03-02T00:10:00Z")),
    );
    let base = t("2026-03-02T00:00:00Z");
    let v = analyze(
        &c,
        log(vec![resp(base + MIN, 500), resp(base + 10 * MIN, 500)]),
    )
    .unwrap();
    assert_eq!(v.rules[0].checked, 2);
    // One of two windows at 100% error: mean 50%, uptime 50%.
    assert_eq!(v.sla[0].uptime_ppm, 500_000);
    assert_eq!(v.rules[0].fulfilled, 1);
    // The breach's evidence is the event inside the term only.
    let b = v.incidents.iter().find(|i| i.kind == "sla_breach").unwrap();
    assert_eq!(b.evidence, [0]);
}

#[test]
fn months_of_28_29_30_and_31_days_count_their_windows() {
    // With a term of one calendar month and 1-minute windows, an empty log
    // still gets its row: every minute counts, as up (100 %).
    for (from, until, days) in [
        ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", 28),
        ("2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z", 29),
        ("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z", 30),
        ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", 31),
    ] {
        for fields in [
            "window = \"1m\"\nmeasure = \"mean_error_rate\"\nperiod = \"month\"\ntarget = \"99.9%\"",
            "window = \"1m\"\ndown_when = \"10%\"\ndown_for = \"5m\"\nperiod = \"month\"\ntarget = \"99.9%\"",
        ] {
            let c = avail(fields, Some((from, until)));
            let v = analyze(&c, Vec::new()).unwrap();
            assert_eq!(v.rules[0].checked, days * 24 * 60, "{from}");
            assert_eq!(v.sla.len(), 1);
            assert_eq!(v.sla[0].period, &from[..7]);
            assert_eq!(v.sla[0].uptime_ppm, 1_000_000);
            assert!(!v.sla[0].breached);
        }
        // One fully failing minute in the month: error rate sum 1e6 over
        // days * 1440 windows.
        let c = avail(
            "window = \"1m\"\nmeasure = \"mean_error_rate\"\nperiod = \"month\"\ntarget = \"99.9%\"",
            Some((from, until)),
        );
        let v = analyze(&c, log(vec![resp(t(from) + 3 * MIN, 500)])).unwrap();
        let n = (days * 1440) as u32;
        let want = 1_000_000 - 1_000_000 / n;
        assert_eq!(v.sla[0].uptime_ppm, want - want % 10, "{from}");
    }
}

#[test]
fn a_fee_of_one_cent_at_ten_percent_is_zero_cents() {
    // 1 cent * 100_000 ppm / 1_000_000 = 0.1 cent, truncated to 0.
    let c = avail(
        r#"window = "1m"
measure = "mean_error_rate"
period = "month"
target = "99.9%"
credits = [{ below = "99.9%", credit = "10%" }]
fee = "0.01 EUR""#,
        None,
    );
    let v = analyze(&c, log(vec![resp(at(0), 500)])).unwrap();
    let row = &v.sla[0];
    assert!(row.breached);
    assert_eq!(row.credit_amount.as_ref().unwrap().to_string(), "0.00 EUR");
    assert!(v.to_json().contains("\"credit_amount\": \"0.00 EUR\""));
}

#[test]
fn credit_tiers_at_the_exact_boundary() {
    // 3 of 4 minutes up: uptime exactly 75%. A tier `below = "75%"` does
    // not apply (75% is not below 75%); the next tier up, `below = "80%"`,
    // does. At exactly the target the period is not breached.
    let fields = |target: &str| {
        format!(
            "window = \"1m\"\ndown_when = \"0%\"\nperiod = \"month\"\ntarget = \"{target}\"\n\
             credits = [{{ below = \"75%\", credit = \"50%\" }}, {{ below = \"80%\", credit = \"25%\" }}]\n\
             fee = \"100 EUR\""
        )
    };
    let e = || {
        log(vec![
            resp(at(0), 500),
            resp(at(MIN), 200),
            resp(at(2 * MIN), 200),
            resp(at(3 * MIN), 200),
        ])
    };
    let v = analyze(&avail(&fields("99%"), None), e()).unwrap();
    assert_eq!(v.sla[0].uptime_ppm, 750_000);
    assert_eq!(v.sla[0].credit_ppm, Some(250_000));
    assert_eq!(
        v.sla[0].credit_amount.as_ref().unwrap().to_string(),
        "25.00 EUR"
    );
    let v = analyze(&avail(&fields("75%"), None), e()).unwrap();
    assert!(!v.sla[0].breached);
    assert_eq!(v.sla[0].credit_amount, None);
}

fn deadline_sla(sla: &str) -> Contract {
    contract(&format!(
        r#"[events.start]
by = "provider"
attrs = {{ object = "text" }}
[events.done]
by = "provider"
attrs = {{ object = "text" }}
[[rules]]
id = "rtc"
clause = "x"
type = "deadline"
party = "provider"
trigger = "start"
reply = "done"
match = ["object"]
within = "15m"
sla = {sla}
"#
    ))
}

#[test]
fn deadline_sla_counts_met_deadlines_per_period() {
    // March: 3 triggers, 2 met, 1 late: 66.666%. April: nothing judged
    // (the one trigger is pending at the log's end): 100.000%, a row all
    // the same. The breach is in the incidents and totals, not the stats.
    let c = deadline_sla(
        r#"{ period = "month", target = "99.9%", credits = [{ below = "99.9%", credit = "10%" }], fee = "10.00 USD" }"#,
    );
    let o = |s: &'static str| vec![("object", text(s))];
    let v = analyze(
        &c,
        log(vec![
            (t("2026-03-31T20:00:00Z"), "start", "provider", o("a")),
            (t("2026-03-31T20:05:00Z"), "done", "provider", o("a")),
            (t("2026-03-31T21:00:00Z"), "start", "provider", o("b")),
            (t("2026-03-31T21:20:00Z"), "done", "provider", o("b")),
            (t("2026-03-31T23:55:00Z"), "start", "provider", o("c")),
            (t("2026-04-01T00:05:00Z"), "done", "provider", o("c")),
            (t("2026-04-01T01:00:00Z"), "start", "provider", o("d")),
            (t("2026-04-01T01:10:00Z"), "start", "provider", o("e")),
        ]),
    )
    .unwrap();
    assert_eq!(v.sla.len(), 2);
    assert_eq!(v.sla[0].measure, SlaMeasure::Met);
    assert_eq!(v.sla[0].uptime_ppm, 666_660);
    assert_eq!(
        v.sla[0].credit_amount.as_ref().unwrap().to_string(),
        "1.00 USD"
    );
    assert_eq!(
        (v.sla[1].period.as_str(), v.sla[1].uptime_ppm),
        ("2026-04", 1_000_000)
    );
    let r = &v.rules[0];
    assert_eq!(
        (r.checked, r.fulfilled, r.pending, r.incidents),
        (5, 2, 2, 1)
    );
    assert_eq!(
        v.incidents
            .iter()
            .filter(|i| i.kind == "sla_breach")
            .count(),
        1
    );
    assert_eq!(v.totals.provider, 2);
    assert!(v.to_json().contains("\"met\": \"66.666%\""));
}

#[test]
fn the_contract_check_refuses_what_the_language_cannot_mean() {
    let bad = |fields: &str, term: &str, want: &str| {
        let text = format!(
            r#"format = "cfr-contract/1"
id = "t"
title = "t"
{term}
[parties]
provider = {{ name = "P", key = "{KEY}" }}
user = {{ name = "U", key = "{KEY}" }}
recorder = {{ name = "R", key = "{KEY}" }}
[events.response]
by = "provider"
attrs = {{ status = "int" }}
[[rules]]
id = "up"
clause = "x"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
period = "month"
target = "99.9%"
{fields}
"#
        );
        let e = Contract::from_toml(&text).expect_err(fields).to_string();
        assert!(e.contains(want), "{fields}: {e}");
        assert!(e.contains("line "), "{e}");
    };
    bad(
        "window = \"1m\"\ndown_when = \"10%\"\ndown_for = \"90s\"",
        "",
        "multiple of window",
    );
    bad(
        "window = \"1m\"\ndown_when = \"10%\"\nfee = \"10.00 EUR\"",
        "",
        "\"fee\" needs \"credits\"",
    );
    bad(
        "window = \"1m\"\nmeasure = \"mean_error_rate\"\nmin_events = 5",
        "",
        "min_events",
    );
    bad(
        "window = \"1m\"\nmeasure = \"mean_error_rate\"\ndown_for = \"5m\"",
        "",
        "down_for",
    );
    bad(
        "window = \"1m\"\nmeasure = \"median\"",
        "",
        "not a valid measure",
    );
    bad("window = \"1m\"", "", "down_when");
    bad(
        "window = \"1m\"\ndown_when = \"10%\"\nmin_events = 0",
        "",
        "at least 1",
    );
    bad(
        "window = \"1m\"\ndown_when = \"10%\"\ncredits = [{ below = \"99%\", credit = \"10%\" }]\nfee = \"12.345 EUR\"",
        "",
        "not an amount of money",
    );
    bad(
        "window = \"1m\"\ndown_when = \"10%\"",
        "[term]\nfrom = \"2026-04-01T00:00:00Z\"\nuntil = \"2026-03-01T00:00:00Z\"",
        "after term.from",
    );
    let e = std::panic::catch_unwind(|| deadline_sla(r#"{ period = "month" }"#)).unwrap_err();
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("sla.target") && msg.contains("missing"),
        "{msg}"
    );
}

fn legacy_and_run(window_s: i64, pattern: &[u8]) -> (Verdict, Verdict) {
    let base =
        format!("window = \"{window_s}s\"\ndown_when = \"50%\"\nperiod = \"1h\"\ntarget = \"99%\"");
    let plain = avail(&base, None);
    let with = avail(&format!("{base}\ndown_for = \"{window_s}s\""), None);
    let mut e = Vec::new();
    for (k, p) in pattern.iter().enumerate() {
        let w = at(k as i64 * 7 * S);
        match p % 4 {
            0 => e.push(resp(w, 500)),
            1 => e.push(resp(w, 200)),
            2 => e.push(outage(w, w - 3 * S, w + 5 * S)),
            _ => {}
        }
    }
    let e = log(e);
    (
        analyze(&plain, e.clone()).unwrap(),
        analyze(&with, e).unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// `down_for = window` makes every down window a run of its own
    /// length: the same uptime, breaches and credits as no `down_for`
    /// (incidents may merge where consecutive windows share a party).
    #[test]
    fn down_for_equal_to_window_gives_the_same_uptime(
        window_s in 1i64..20,
        pattern in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let (plain, with) = legacy_and_run(window_s, &pattern);
        prop_assert_eq!(&plain.sla, &with.sla);
        let windows = |v: &Verdict, p: Party| -> i64 {
            v.incidents.iter()
                .filter(|i| i.kind == "unavailable" && i.party == p)
                .map(|i| (i.until - i.from) / (window_s * S))
                .sum()
        };
        for p in [Party::Provider, Party::External] {
            prop_assert_eq!(windows(&plain, p), windows(&with, p));
        }
        prop_assert_eq!(plain.rules[0].checked, with.rules[0].checked);
        prop_assert_eq!(plain.rules[0].fulfilled, with.rules[0].fulfilled);
    }

    /// A term without events: every window counts, with error rate 0, so
    /// the mean-error-rate uptime is 100 % in every period.
    #[test]
    fn mean_error_rate_over_a_term_without_events_is_100_percent(
        days in 1i64..400,
        window_m in 1i64..120,
        start_day in 0i64..3000,
    ) {
        let from = t("2024-01-01T00:00:00Z") + start_day * 86_400 * S;
        let until = from + days * 86_400 * S;
        let fmt = cfr_model::time::format_rfc3339;
        let c = avail(
            &format!("window = \"{window_m}m\"\nmeasure = \"mean_error_rate\"\nperiod = \"month\"\ntarget = \"99.9%\""),
            Some((&fmt(from), &fmt(until))),
        );
        let v = analyze(&c, Vec::new()).unwrap();
        prop_assert!(!v.sla.is_empty());
        for row in &v.sla {
            prop_assert_eq!(row.uptime_ppm, 1_000_000);
            prop_assert!(!row.breached);
        }
        prop_assert!(v.incidents.is_empty());
    }
}

/// A hostile contract or log cannot make the verdict unbounded: a service
/// level has one row per period, so a term, or a log, spanning more than
/// `MAX_SLA_PERIODS` periods is refused with an error that says so, not
/// answered with a verdict of millions of rows.
#[test]
fn a_term_or_a_log_spanning_too_many_periods_is_refused() {
    let body = r#"
[events.response]
by = "provider"
attrs = { id = "text", status = "int" }
[[rules]]
id = "up"
clause = "x"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "1m"
down_when = "50%"
period = "1m"
target = "99%"
"#;
    let with_term = |until: &str| {
        format!(
            "{}[term]\nfrom = \"2026-01-01T00:00:00Z\"\nuntil = \"{until}\"\n",
            contract_toml(body)
        )
    };
    // A year of one-minute periods (525,600) is judged...
    assert!(Contract::from_toml(&with_term("2027-01-01T00:00:00Z")).is_ok());
    // ... ten years of them (5,258,880) are refused, naming the field.
    let err = Contract::from_toml(&with_term("2036-01-01T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("term.until") && err.contains("1,000,000"),
        "{err}"
    );
    // Without a term, an event ten years after the first is refused by
    // the engine, naming its seq.
    let c = Contract::from_toml(&contract_toml(body)).unwrap();
    let events = log(vec![
        resp(t("2026-01-01T00:00:00Z"), 200),
        resp(t("2036-01-01T00:00:00Z"), 200),
    ]);
    let mut engine = cfr_rules::Engine::new(&c);
    engine.push(&events[0]).unwrap();
    let e = engine.push(&events[1]).unwrap_err().to_string();
    assert!(
        e.starts_with("seq 1 lies 5258880 service-level periods"),
        "{e}"
    );
}
