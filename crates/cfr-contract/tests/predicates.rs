//! The predicate language: precedence, lists, literals, absent attributes,
//! canonical printing, and hostile input.

use cfr_contract::{AttrSpec, Emitter, EventSpec, Predicate, PredicateErrorKind};
use cfr_model::{Attrs, Value, ValueType};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn attrs(list: &[(&str, Value)]) -> Attrs {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn eval(p: &str, a: &Attrs) -> bool {
    Predicate::parse(p)
        .unwrap_or_else(|e| panic!("{p}: {e}"))
        .eval(a)
}

fn spec() -> EventSpec {
    let mut a = BTreeMap::new();
    for (n, ty) in [
        ("status", ValueType::Int),
        ("op", ValueType::Text),
        ("found", ValueType::Bool),
        ("digest", ValueType::Bytes),
        ("at", ValueType::Time),
        ("latency", ValueType::Duration),
    ] {
        a.insert(n.to_owned(), AttrSpec { ty, optional: true });
    }
    EventSpec {
        by: Emitter::Provider,
        signed: false,
        attrs: a,
    }
}

#[test]
fn precedence_not_then_comparison_then_and_then_or() {
    let p = Predicate::parse("a or b and not c").expect("parses");
    assert_eq!(p.to_string(), "a or b and not c");
    let Predicate::Or(_, right) = &p else {
        panic!("or at the top: {p:?}")
    };
    assert!(matches!(**right, Predicate::And(..)));
    let t = |b| Value::Bool(b);
    // a or (b and (not c))
    assert!(eval(
        "a or b and not c",
        &attrs(&[("a", t(true)), ("b", t(false)), ("c", t(true))])
    ));
    assert!(!eval(
        "a or b and not c",
        &attrs(&[("a", t(false)), ("b", t(true)), ("c", t(true))])
    ));
    assert!(eval(
        "(a or b) and not c",
        &attrs(&[("a", t(false)), ("b", t(true)), ("c", t(false))])
    ));
    // Comparisons bind tighter than and/or.
    let s = attrs(&[
        ("status", Value::Int(503)),
        ("op", Value::Text("put".into())),
    ]);
    assert!(eval("status >= 500 and op == 'put'", &s));
    assert!(eval("status < 500 or op == 'put'", &s));
    assert!(!eval("status < 500 or op == 'get' and status == 503", &s));
    // `not` binds tighter than a comparison: `not x == 1` is rejected.
    let e = Predicate::parse("not status == 1").expect_err("rejected");
    assert_eq!(e.kind, PredicateErrorKind::NotBeforeComparison);
    assert!(eval("not (status == 1)", &s));
    assert!(eval("not not (status == 503)", &s));
}

#[test]
fn in_and_not_in() {
    let a = attrs(&[
        ("region", Value::Text("eu-west".into())),
        ("n", Value::Int(-3)),
    ]);
    assert!(eval("region in ['eu-west', 'eu-central']", &a));
    assert!(!eval("region not in ['eu-west', 'eu-central']", &a));
    assert!(eval("region not in ['us-east']", &a));
    assert!(eval("n in [1, -3, 7,]", &a));
    assert!(!eval("n in []", &a));
    assert!(eval("n not in []", &a));
}

#[test]
fn literals() {
    let a = attrs(&[
        ("digest", Value::Bytes(vec![0x00, 0xff])),
        ("t", Value::Text("it's a \\ test".into())),
        ("ok", Value::Bool(false)),
        ("n", Value::Int(i64::MIN)),
    ]);
    assert!(eval("digest == x'00ff'", &a));
    assert!(eval("digest == x'00FF'", &a));
    assert!(eval("digest != x''", &a));
    assert!(eval(r"t == 'it\'s a \\ test'", &a));
    assert!(eval("ok == false and not ok", &a));
    assert!(eval("n == -9223372036854775808", &a));
    assert!(eval("true", &a));
    assert!(!eval("false", &a));
    let p = Predicate::parse(r"t == 'it\'s a \\ test'").expect("parses");
    assert_eq!(p.to_string(), r"t == 'it\'s a \\ test'");
    for (bad, kind) in [
        ("digest == x'0ff'", PredicateErrorKind::BadBytes),
        ("digest == x'zz'", PredicateErrorKind::BadBytes),
        ("t == 'abc", PredicateErrorKind::Unterminated),
        (r"t == 'a\n'", PredicateErrorKind::BadEscape),
        (
            "n == 9223372036854775808",
            PredicateErrorKind::IntOutOfRange,
        ),
        ("n = 1", PredicateErrorKind::UnexpectedChar('=')),
    ] {
        assert_eq!(Predicate::parse(bad).expect_err(bad).kind, kind, "{bad}");
    }
}

#[test]
fn absent_attributes_make_comparisons_false() {
    let none = Attrs::new();
    for p in ["x == 1", "x != 1", "x < 1", "x in [1]", "x not in [1]", "x"] {
        assert!(!eval(p, &none), "{p}");
    }
    assert!(eval("not (x == 1)", &none));
    assert!(eval("not x", &none));
    assert!(eval("not (x != 1)", &none));
}

#[test]
fn typed_parsing() {
    let s = spec();
    let p = Predicate::parse_for(
        "latency > '2s' and at < '2026-03-02T10:00:00Z'",
        "response",
        &s,
    )
    .expect("typed");
    assert_eq!(
        p.to_string(),
        "latency > 2000000000 and at < 1772445600000000000"
    );
    let a = attrs(&[
        ("latency", Value::Int(3_000_000_000)),
        ("at", Value::Int(0)),
    ]);
    assert!(p.eval(&a));
    for (bad, want) in [
        (
            "status == 'x'",
            "attribute \"status\" is int, compared with text",
        ),
        (
            "op < 'b'",
            "attribute \"op\" is text; only int, time and duration can be ordered",
        ),
        (
            "status",
            "attribute \"status\" is int; only a bool attribute can stand alone as a test",
        ),
        (
            "nope == 1",
            "attribute \"nope\" is not declared for event kind \"response\"",
        ),
        ("latency > '2x'", "\"2x\" is not a duration literal"),
        (
            "found in [true, 1]",
            "attribute \"found\" is bool, compared with int",
        ),
    ] {
        let e = Predicate::parse_for(bad, "response", &s).expect_err(bad);
        assert!(e.to_string().contains(want), "{bad}: {e}");
    }
    let e = Predicate::parse_for("found and op == 1", "response", &s).expect_err("type");
    assert_eq!(e.offset, 16, "{e}");
}

#[test]
fn limits() {
    let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    assert!(matches!(
        Predicate::parse(&deep).expect_err("deep").kind,
        PredicateErrorKind::TooDeep(_)
    ));
    let nots = format!("{}a", "not ".repeat(100));
    assert!(matches!(
        Predicate::parse(&nots).expect_err("deep").kind,
        PredicateErrorKind::TooDeep(_)
    ));
    let wide = vec!["a"; 300].join(" or ");
    assert!(matches!(
        Predicate::parse(&wide).expect_err("big").kind,
        PredicateErrorKind::TooBig(_)
    ));
    let long = format!("a == '{}'", "x".repeat(5000));
    assert!(matches!(
        Predicate::parse(&long).expect_err("long").kind,
        PredicateErrorKind::TooLong(_)
    ));
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        "[a-z'\\\\ ]{0,6}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
    ]
}

fn arb_pred() -> impl Strategy<Value = Predicate> {
    let attr = "[a-w_][a-z0-9_]{0,3}".prop_filter("keyword", |s| {
        !["and", "or", "not", "in", "true", "false"].contains(&s.as_str())
    });
    let ops = prop_oneof![
        Just(cfr_contract::CmpOp::Eq),
        Just(cfr_contract::CmpOp::Ne),
        Just(cfr_contract::CmpOp::Lt),
        Just(cfr_contract::CmpOp::Ge),
    ];
    let leaf = prop_oneof![
        any::<bool>().prop_map(Predicate::Const),
        attr.clone().prop_map(Predicate::Test),
        (attr.clone(), ops, arb_value()).prop_map(|(attr, op, value)| Predicate::Compare {
            attr,
            op,
            value
        }),
        (attr.clone(), proptest::collection::vec(arb_value(), 0..3))
            .prop_map(|(attr, values)| Predicate::In { attr, values }),
        (attr, proptest::collection::vec(arb_value(), 0..3))
            .prop_map(|(attr, values)| Predicate::NotIn { attr, values }),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|p| Predicate::Not(Box::new(p))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Predicate::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Predicate::Or(Box::new(a), Box::new(b))),
        ]
    })
}

proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,80}") {
        let _ = Predicate::parse(&s);
        let _ = Predicate::parse_for(&s, "response", &spec());
    }

    #[test]
    fn parser_never_panics_on_predicate_like_text(s in "[a-z0-9 ()\\[\\]',=!<>x\\\\-]{0,60}") {
        if let Ok(p) = Predicate::parse(&s) {
            prop_assert_eq!(Predicate::parse(&p.to_string()).expect("canonical text parses"), p);
        }
    }

    #[test]
    fn canonical_text_parses_back(p in arb_pred()) {
        let text = p.to_string();
        let back = Predicate::parse(&text);
        prop_assert_eq!(back.as_ref().ok(), Some(&p), "{}", text);
    }
}
