//! Contract parsing, static checks, the compiled form, event checks.

use cfr_contract::{
    Contract, ContractError, EventError, ExcuseSource, Period, Predicate, Problem, RuleKind,
};
use cfr_model::{Attrs, Event, Value};

const FULL: &str = include_str!("full.toml");

fn full() -> Contract {
    Contract::from_toml(FULL).unwrap_or_else(|e| panic!("full.toml: {e}"))
}

/// The 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
        + 1
}

/// Replaces exactly one occurrence.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(FULL.matches(from).count(), 1, "{from:?} must occur once");
    FULL.replacen(from, to, 1)
}

fn reject(text: &str) -> String {
    match Contract::from_toml(text) {
        Ok(_) => panic!("contract was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn full_contract_parses() {
    let c = full();
    assert_eq!(c.id, "acme-objstore-2026");
    assert_eq!(c.jurisdiction.as_deref(), Some("EU"));
    assert_eq!(c.events.len(), 7);
    assert!(c.events["outage"].signed);
    assert!(c.events["response"].attrs["digest"].optional);
    let types: Vec<_> = c.rules.iter().map(|r| r.kind.type_name()).collect();
    assert_eq!(
        types,
        [
            "deadline",
            "forbid",
            "integrity",
            "rate",
            "availability",
            "heartbeat"
        ]
    );
    let RuleKind::Deadline(d) = &c.rules[0].kind else {
        panic!("deadline")
    };
    assert_eq!(d.within, 2_000_000_000);
    assert_eq!(d.matching, ["id"]);
    assert_eq!(
        c.rules[0].excuses,
        ["power-outage", "maintenance", "over-quota"]
    );
    let RuleKind::Forbid(f) = &c.rules[1].kind else {
        panic!("forbid")
    };
    let permit = f.permitted_by.as_ref().expect("permit");
    assert_eq!(
        permit.matching,
        [
            ("grantee".to_owned(), "recipient".to_owned()),
            ("object".to_owned(), "object".to_owned())
        ]
    );
    let RuleKind::Rate(r) = &c.rules[3].kind else {
        panic!("rate")
    };
    assert_eq!((r.max, r.per), (100, 1_000_000_000));
    let RuleKind::Availability(a) = &c.rules[4].kind else {
        panic!("availability")
    };
    assert_eq!(a.period, Period::Month);
    assert_eq!((a.down_when_ppm, a.target_ppm), (Some(50_000), 999_000));
    assert_eq!(a.credits.len(), 2);
    assert_eq!(
        (a.credits[0].below_ppm, a.credits[0].credit_ppm),
        (990_000, 250_000)
    );
    let RuleKind::Heartbeat(h) = &c.rules[5].kind else {
        panic!("heartbeat")
    };
    assert_eq!(h.every, 60_000_000_000);
    assert_eq!(
        c.excuses["power-outage"].attribute,
        cfr_model::Party::External
    );
    assert_eq!(
        c.excuses["maintenance"].source,
        ExcuseSource::Event {
            event: "maintenance".into(),
            from: Some("start".into()),
            until: Some("end".into()),
            notice: Some(48 * 3600 * 1_000_000_000),
        }
    );
    assert_eq!(
        c.excuses["over-quota"].source,
        ExcuseSource::Rule {
            rule: "quota".into()
        }
    );
    assert_eq!(c.party_key("grid"), Some(&c.parties.attestors["grid"].key));
    assert_eq!(c.party_key("provider"), Some(&c.parties.provider.key));
    assert_eq!(c.party_key("nobody"), None);
}

#[test]
fn compiled_form_roundtrips_and_is_stable() {
    let c = full();
    let bytes = c.to_cbor();
    assert_eq!(bytes, c.to_cbor());
    let back = Contract::from_cbor(&bytes).expect("reads back");
    assert_eq!(back, c);
    assert_eq!(back.to_cbor(), bytes);
    // The generic strict decoder agrees it is canonical.
    let tree = cfr_model::cbor::decode(&bytes).expect("canonical CBOR");
    assert_eq!(cfr_model::cbor::encode(&tree), bytes);
    // Pinned: a change here changes every contract digest and signature.
    assert_eq!(
        cfr_model::Digest::of(&bytes).to_hex(),
        "640d5f85723990ff6f76530d0d4968ddcee00e2e7a728b43f0718287dac774d2",
        "compiled form of full.toml changed"
    );
    // Layout and whitespace of the TOML do not matter.
    let reformatted = FULL
        .replace("status < 500", "status<500")
        .replace(" = ", "=");
    assert_eq!(
        Contract::from_toml(&reformatted).expect("same").to_cbor(),
        bytes
    );
}

#[test]
fn compiled_form_is_strict() {
    let c = full();
    let bytes = c.to_cbor();
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Contract::from_cbor(&trailing),
        Err(ContractError::Cbor(_))
    ));
    for n in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(Contract::from_cbor(&bytes[..n]).is_err());
    }
    // A non-canonical predicate text (extra spaces) is rejected.
    let mut tree = cfr_model::cbor::decode(&bytes).expect("tree");
    set_rule_field(
        &mut tree,
        0,
        "ok",
        cfr_model::cbor::Cbor::text("status  <  500"),
    );
    let e = Contract::from_cbor(&cfr_model::cbor::encode(&tree)).expect_err("not canonical");
    assert!(matches!(e, ContractError::NotCanonical { .. }), "{e}");
    // An unknown field is rejected with its path.
    let mut tree = cfr_model::cbor::decode(&bytes).expect("tree");
    set_rule_field(&mut tree, 2, "extra", cfr_model::cbor::Cbor::Int(1));
    let e = Contract::from_cbor(&cfr_model::cbor::encode(&tree)).expect_err("unknown field");
    assert_eq!(
        e.to_string().split(':').next(),
        Some("rules[2] (\"durable\").extra")
    );
    // The same static checks run: an undeclared event kind.
    let mut tree = cfr_model::cbor::decode(&bytes).expect("tree");
    set_rule_field(&mut tree, 5, "event", cfr_model::cbor::Cbor::text("pong"));
    let e = Contract::from_cbor(&cfr_model::cbor::encode(&tree)).expect_err("unknown kind");
    assert!(
        e.to_string()
            .contains("event kind \"pong\" is not declared"),
        "{e}"
    );
}

fn set_rule_field(tree: &mut cfr_model::cbor::Cbor, i: usize, key: &str, v: cfr_model::cbor::Cbor) {
    use cfr_model::cbor::Cbor;
    let Cbor::Map(top) = tree else { panic!("map") };
    let rules = top
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("rules"))
        .expect("rules");
    let Cbor::Array(rules) = &mut rules.1 else {
        panic!("array")
    };
    let Cbor::Map(rule) = &mut rules[i] else {
        panic!("map")
    };
    rule.retain(|(k, _)| k.as_text() != Some(key));
    rule.push((Cbor::text(key), v));
}

#[test]
fn bad_duration_names_line_rule_and_field() {
    let text = edit("within = \"2s\"", "within = \"2x\"");
    let msg = reject(&text);
    let line = line_of(&text, "within = \"2x\"");
    assert!(
        msg.starts_with(&format!("line {line}, column 10, rules[0] (\"answer-in-time\").within: \"2x\" is not a duration")),
        "{msg}"
    );
}

#[test]
fn unknown_rule_type() {
    let text = edit("type = \"heartbeat\"", "type = \"hearbeat\"");
    let msg = reject(&text);
    let line = line_of(&text, "hearbeat");
    assert!(msg.contains(&format!("line {line}")), "{msg}");
    assert!(msg.contains("rules[5] (\"alive\").type"), "{msg}");
    assert!(
        msg.contains("\"hearbeat\" is not a valid rule type"),
        "{msg}"
    );
}

#[test]
fn missing_field() {
    let text = edit("within = \"2s\"\n", "");
    let msg = reject(&text);
    assert!(
        msg.contains("rules[0] (\"answer-in-time\").within: required field is missing"),
        "{msg}"
    );
    // Points at the rule's table.
    assert!(msg.starts_with("line "), "{msg}");
}

#[test]
fn predicate_syntax_error() {
    let text = edit("ok = \"status < 500\"", "ok = \"status < and\"");
    let msg = reject(&text);
    let line = line_of(&text, "status < and");
    assert!(msg.contains(&format!("line {line}")), "{msg}");
    assert!(msg.contains("rules[0] (\"answer-in-time\").ok"), "{msg}");
    assert!(msg.contains("at character 10: expected a literal"), "{msg}");
}

#[test]
fn unknown_event_kind() {
    let text = edit("trigger = \"request\"", "trigger = \"requst\"");
    let msg = reject(&text);
    let line = line_of(&text, "requst");
    assert!(msg.contains(&format!("line {line}")), "{msg}");
    assert!(
        msg.contains(
            "rules[0] (\"answer-in-time\").trigger: event kind \"requst\" is not declared"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_attribute() {
    let text = edit("match = [\"id\"]", "match = [\"idx\"]");
    let msg = reject(&text);
    assert!(
        msg.contains(&format!("line {}", line_of(&text, "idx"))),
        "{msg}"
    );
    assert!(msg.contains("rules[0] (\"answer-in-time\").match[0]: attribute \"idx\" is not declared for event kind \"request\""), "{msg}");
    // In a predicate, with the position inside it.
    let text = edit("status >= 500 or", "stat >= 500 or");
    let msg = reject(&text);
    assert!(
        msg.contains("rules[4] (\"monthly-uptime\").failed"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "at character 1: attribute \"stat\" is not declared for event kind \"response\""
        ),
        "{msg}"
    );
}

#[test]
fn wrong_types() {
    let text = edit("ok = \"status < 500\"", "ok = \"status == 'x'\"");
    let msg = reject(&text);
    assert!(msg.contains("rules[0] (\"answer-in-time\").ok"), "{msg}");
    assert!(
        msg.contains("at character 11: attribute \"status\" is int, compared with text"),
        "{msg}"
    );
    let text = edit("found = \"found\"", "found = \"id\"");
    let msg = reject(&text);
    assert!(msg.contains("rules[2] (\"durable\").read.found: attribute \"id\" of \"response\" must be bool, but is declared text"), "{msg}");
    let text = edit(
        "from = \"start\"\nuntil = \"end\"\nattribute = \"external\"",
        "from = \"cause\"\nuntil = \"end\"\nattribute = \"external\"",
    );
    let msg = reject(&text);
    assert!(
        msg.contains("excuses.power-outage.from: attribute \"cause\" of \"outage\" must be time"),
        "{msg}"
    );
    let text = edit("max = 100", "max = \"100\"");
    let msg = reject(&text);
    assert!(
        msg.contains("rules[3] (\"quota\").max: must be an integer, found text"),
        "{msg}"
    );
    let text = edit("op in ['get', 'put']", "id < 'a'");
    let msg = reject(&text);
    assert!(
        msg.contains("only int, time and duration can be ordered"),
        "{msg}"
    );
    let text = edit("match = [\"id\"]", "match = [\"object\"]");
    let msg = reject(&text);
    assert!(
        msg.contains("attribute \"object\" is not declared for event kind \"response\""),
        "{msg}"
    );
}

#[test]
fn excuse_cycle_is_reported_with_its_path() {
    let text = edit("max = 100\n", "max = 100\nexcuses = [\"slow-answers\"]\n")
        + "\n[excuses.slow-answers]\nrule = \"answer-in-time\"\nattribute = \"none\"\n";
    let msg = reject(&text);
    assert!(msg.contains("excuses form a cycle: rule \"answer-in-time\" (excuse \"over-quota\") -> rule \"quota\" (excuse \"slow-answers\") -> rule \"answer-in-time\""), "{msg}");
    assert!(msg.contains("excuses.over-quota.rule"), "{msg}");
    // A rule excused by its own incidents is a cycle too.
    let text = edit("rule = \"quota\"", "rule = \"answer-in-time\"");
    let msg = reject(&text);
    assert!(msg.contains("excuses form a cycle: rule \"answer-in-time\" (excuse \"over-quota\") -> rule \"answer-in-time\""), "{msg}");
}

#[test]
fn external_excuse_needs_an_attestor_event() {
    let text = edit(
        "notice = \"48h\"\nattribute = \"none\"",
        "notice = \"48h\"\nattribute = \"external\"",
    );
    let msg = reject(&text);
    let line = FULL[..FULL.find("[excuses.maintenance]").expect("there")]
        .lines()
        .count()
        + 6;
    assert!(
        msg.starts_with(&format!("line {line}, column 13, ")),
        "{msg}"
    );
    assert!(msg.contains("excuses.maintenance.attribute: attribute = \"external\" needs an event kind emitted by an attestor, but \"maintenance\" has by = provider"), "{msg}");
    let text = edit(
        "rule = \"quota\"\nattribute = \"user\"",
        "rule = \"quota\"\nattribute = \"external\"",
    );
    let msg = reject(&text);
    assert!(msg.contains("excuses.over-quota.attribute"), "{msg}");
}

#[test]
fn unknown_keys_are_errors() {
    let text = format!("titel = \"typo\"\n{FULL}");
    let msg = reject(&text);
    assert!(
        msg.starts_with("line 1, column 1, titel: unknown field (expected one of: format, id"),
        "{msg}"
    );
    let text = edit("within = \"2s\"", "within = \"2s\"\nwithn = \"2s\"");
    let msg = reject(&text);
    let line = line_of(&text, "withn");
    assert!(
        msg.starts_with(&format!(
            "line {line}, column 1, rules[0] (\"answer-in-time\").withn: unknown field"
        )),
        "{msg}"
    );
    let text = edit("signed = true", "signed = true\nsigend = true");
    let msg = reject(&text);
    assert!(msg.contains("events.outage.sigend: unknown field"), "{msg}");
}

#[test]
fn other_static_checks() {
    let msg = reject(&edit(
        "format = \"cfr-contract/1\"",
        "format = \"cfr-contract/2\"",
    ));
    assert!(
        msg.starts_with("line 1, column 10, format: must be \"cfr-contract/1\""),
        "{msg}"
    );
    let msg = reject(&edit("id = \"alive\"", "id = \"quota\""));
    assert!(
        msg.contains("rules[5] (\"quota\").id: rule id \"quota\" appears twice"),
        "{msg}"
    );
    let msg = reject(&edit("party = \"user\"", "party = \"recorder\""));
    assert!(
        msg.contains("rules[3] (\"quota\").party: \"recorder\" is not a valid party"),
        "{msg}"
    );
    let msg = reject(&edit("max = 100", "max = 0"));
    assert!(
        msg.contains("rules[3] (\"quota\").max: must be at least 1, found 0"),
        "{msg}"
    );
    let msg = reject(&edit("every = \"1m\"", "every = \"0s\""));
    assert!(
        msg.contains("rules[5] (\"alive\").every: must be a duration greater than 0"),
        "{msg}"
    );
    let msg = reject(&edit("target = \"99.9%\"", "target = \"99.9\""));
    assert!(
        msg.contains("rules[4] (\"monthly-uptime\").target: \"99.9\" is not a percentage"),
        "{msg}"
    );
    let msg = reject(&edit(
        "excuses = [\"power-outage\"]",
        "excuses = [\"power-cut\"]",
    ));
    assert!(
        msg.contains(
            "rules[4] (\"monthly-uptime\").excuses[0]: excuse \"power-cut\" is not declared"
        ),
        "{msg}"
    );
    let msg = reject(&edit("rule = \"quota\"", "rule = \"quotas\""));
    assert!(
        msg.contains("excuses.over-quota.rule: rule \"quotas\" does not exist"),
        "{msg}"
    );
    let msg = reject(&edit(
        "key = \"ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
        "key = \"ed25519:11qYAYKx\"",
    ));
    assert!(msg.contains("parties.provider.key:"), "{msg}");
    let msg = reject(&edit("value = \"digest\" }", "value = \"object\" }"));
    assert!(msg.contains("rules[2] (\"durable\").read.value: request.object is text but response.digest is bytes"), "{msg}");
    let msg = reject(&edit(
        "notice = \"48h\"\n",
        "notice = \"48h\"\nrule = \"quota\"\n",
    ));
    assert!(
        msg.contains("excuses.maintenance.rule: an excuse takes either"),
        "{msg}"
    );
    let msg = reject(&FULL.replace("[parties.attestors]\ngrid = ", "[parties.unused]\ngrid = "));
    assert!(msg.contains("parties.unused: unknown field"), "{msg}");
    let msg = reject(&edit("status = \"int\"", "status = \"integer\""));
    assert!(
        msg.contains("events.response.attrs.status: \"integer\" is not a valid attribute type"),
        "{msg}"
    );
    let msg = reject("format = \"cfr-contract/1\"\nid = [\n");
    assert!(msg.starts_with("line 2, column 7: not valid TOML"), "{msg}");
}

fn event(kind: &str, actor: &str, attrs: &[(&str, Value)], signed: bool) -> Event {
    Event {
        seq: 0,
        time: 0,
        kind: kind.into(),
        actor: actor.into(),
        attrs: attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<Attrs>(),
        sig: signed.then_some([0; 64]),
    }
}

#[test]
fn events_are_checked_against_the_spec() {
    let c = full();
    let t = |s: &str| Value::Text(s.into());
    let ok = event(
        "response",
        "provider",
        &[("id", t("r")), ("status", Value::Int(200))],
        false,
    );
    assert_eq!(c.check_event(&ok), Ok(()));
    let cases: Vec<(Event, &str)> = vec![
        (
            event("foo", "user", &[], false),
            "unknown event kind \"foo\"",
        ),
        (
            event(
                "response",
                "provider",
                &[("id", t("r")), ("status", t("200"))],
                false,
            ),
            "attribute \"status\" must be int, found text",
        ),
        (
            event(
                "response",
                "user",
                &[("id", t("r")), ("status", Value::Int(1))],
                false,
            ),
            "actor \"user\" may not emit \"response\" (by = provider)",
        ),
        (
            event("response", "provider", &[("status", Value::Int(1))], false),
            "missing attribute \"id\"",
        ),
        // Optional attributes present do not stand in for a required one
        // missing (the check counts the required ones it finds).
        (
            event(
                "response",
                "provider",
                &[
                    ("status", Value::Int(1)),
                    ("digest", Value::Bytes(vec![1])),
                    ("found", Value::Bool(true)),
                ],
                false,
            ),
            "missing attribute \"id\"",
        ),
        // With several missing, the first in name order is named.
        (
            event(
                "request",
                "user",
                &[("region", t("eu")), ("digest", Value::Bytes(vec![1]))],
                false,
            ),
            "missing attribute \"id\"",
        ),
        (
            event(
                "request",
                "user",
                &[("id", t("r")), ("region", t("eu")), ("object", t("o"))],
                false,
            ),
            "missing attribute \"op\"",
        ),
        (
            event(
                "request",
                "user",
                &[
                    ("id", t("r")),
                    ("op", t("get")),
                    ("object", t("o")),
                    ("x", Value::Int(1)),
                ],
                false,
            ),
            "attribute \"x\" is not declared for \"request\"",
        ),
        (
            event(
                "outage",
                "grid",
                &[
                    ("start", Value::Int(1)),
                    ("end", Value::Int(2)),
                    ("cause", t("storm")),
                ],
                false,
            ),
            "\"outage\" must be signed",
        ),
        (
            event(
                "outage",
                "user",
                &[
                    ("start", Value::Int(1)),
                    ("end", Value::Int(2)),
                    ("cause", t("storm")),
                ],
                true,
            ),
            "actor \"user\" may not emit \"outage\" (by = attestor)",
        ),
        (
            event("outage", "provider", &[], true),
            "actor \"provider\" may not emit \"outage\" (by = attestor)",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(c.check_event(&e).expect_err(want).to_string(), want);
    }
    let e = event(
        "outage",
        "grid",
        &[
            ("start", Value::Int(1)),
            ("end", Value::Int(2)),
            ("cause", t("storm")),
        ],
        true,
    );
    assert_eq!(c.check_event(&e), Ok(()));
    assert!(matches!(
        c.check_event(&event("ping", "provider", &[("id", t("x"))], false)),
        Err(EventError::UnknownAttr { .. })
    ));
}

#[test]
fn events_cddl_describes_every_kind() {
    let cddl = full().events_cddl();
    assert!(cddl.contains("event = kind-disclosure / kind-grant / kind-maintenance / kind-outage / kind-ping / kind-request / kind-response\n"), "{cddl}");
    assert!(cddl.contains("kind-outage = {\n  \"seq\": uint,\n  \"sig\": bstr .size 64,\n  \"kind\": \"outage\",\n  \"time\": int,\n  \"actor\": \"grid\",\n  \"attrs\": kind-outage-attrs,\n}\n"), "{cddl}");
    assert!(cddl.contains("  ? \"digest\": bstr,\n"), "{cddl}");
    assert!(cddl.contains("  \"status\": int,\n"), "{cddl}");
    assert!(cddl.contains("kind-ping-attrs = {}\n"), "{cddl}");
    assert!(cddl.contains("\"actor\": \"user\""), "{cddl}");
}

#[test]
fn predicates_are_stored_canonically() {
    let c = full();
    let RuleKind::Availability(a) = &c.rules[4].kind else {
        panic!()
    };
    assert_eq!(a.failed.to_string(), "status >= 500 or not found");
    assert_eq!(
        Predicate::parse("status >= 500 or not found").expect("parses"),
        a.failed
    );
    let problem = Contract::from_toml(&edit("status < 500", "status < ")).expect_err("bad");
    assert!(matches!(problem.problem(), Some(Problem::Predicate(_))));
}
