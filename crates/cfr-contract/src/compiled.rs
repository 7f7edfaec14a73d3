//! The compiled contract: canonical CBOR (see `CONTRACT-CBOR.md` and
//! `contract.cddl` in the repository's `schemas/`).

use crate::error::Problem;
use crate::model::*;
use crate::read::{Doc, Span};
use cfr_model::cbor::Cbor;
use cfr_model::keys::{PublicKey, VerifyingKey};

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_owned())
}

fn int(i: i64) -> Cbor {
    Cbor::Int(i)
}

fn ppm(p: u32) -> Cbor {
    Cbor::Int(i64::from(p))
}

fn party(p: &Party) -> Cbor {
    Cbor::map([
        ("name", text(&p.name)),
        ("key", Cbor::Bytes(p.key.0.as_bytes().to_vec())),
    ])
}

fn push_opt(entries: &mut Vec<(&'static str, Cbor)>, key: &'static str, v: Option<Cbor>) {
    if let Some(v) = v {
        entries.push((key, v));
    }
}

/// The contract as a CBOR tree (encoded canonically by `cbor::encode`).
pub(crate) fn to_tree(c: &Contract) -> Cbor {
    let mut parties = vec![
        ("provider", party(&c.parties.provider)),
        ("user", party(&c.parties.user)),
        ("recorder", party(&c.parties.recorder)),
        (
            "attestors",
            Cbor::map(
                c.parties
                    .attestors
                    .iter()
                    .map(|(k, p)| (k.clone(), party(p))),
            ),
        ),
    ];
    // Optional parts appear only when used, so that contracts without
    // them compile to the same bytes as before they existed.
    if !c.parties.witnesses.is_empty() {
        parties.push((
            "witnesses",
            Cbor::map(
                c.parties
                    .witnesses
                    .iter()
                    .map(|(k, p)| (k.clone(), party(p))),
            ),
        ));
    }
    let parties = Cbor::map(parties);
    let events = Cbor::map(c.events.iter().map(|(kind, e)| {
        (
            kind.clone(),
            Cbor::map([
                ("by", text(e.by.as_str())),
                ("signed", Cbor::Bool(e.signed)),
                (
                    "attrs",
                    Cbor::map(
                        e.attrs
                            .iter()
                            .map(|(n, a)| (n.clone(), Cbor::Text(a.to_string()))),
                    ),
                ),
            ]),
        )
    }));
    let excuses = Cbor::map(c.excuses.iter().map(|(id, x)| {
        let mut m = vec![("attribute", text(x.attribute.name()))];
        match &x.source {
            ExcuseSource::Event {
                event,
                from,
                until,
                notice,
            } => {
                m.push(("event", text(event)));
                push_opt(&mut m, "from", from.as_deref().map(text));
                push_opt(&mut m, "until", until.as_deref().map(text));
                push_opt(&mut m, "notice", notice.map(int));
            }
            ExcuseSource::Rule { rule } => m.push(("rule", text(rule))),
        }
        (id.clone(), Cbor::map(m))
    }));
    let rules = Cbor::Array(c.rules.iter().map(rule).collect());
    let mut top = vec![
        ("format", text(&c.format)),
        ("id", text(&c.id)),
        ("title", text(&c.title)),
        ("parties", parties),
        ("events", events),
        ("excuses", excuses),
        ("rules", rules),
    ];
    push_opt(
        &mut top,
        "jurisdiction",
        c.jurisdiction.as_deref().map(text),
    );
    if c.evidence.attributed {
        top.push(("evidence", Cbor::map([("attributed", Cbor::Bool(true))])));
    }
    push_opt(
        &mut top,
        "term",
        c.term
            .map(|t| Cbor::map([("from", int(t.from)), ("until", int(t.until))])),
    );
    Cbor::map(top)
}

fn money(m: &Money) -> Cbor {
    Cbor::map([
        // MAX_CENTS < i64::MAX: the reader refuses more.
        ("cents", int(i64::try_from(m.cents).unwrap_or(i64::MAX))),
        ("currency", text(&m.currency)),
    ])
}

fn period(p: Period) -> Cbor {
    match p {
        Period::Month => text("month"),
        Period::Every(d) => int(d),
    }
}

fn credits(c: &[CreditTier]) -> Cbor {
    Cbor::Array(
        c.iter()
            .map(|c| Cbor::map([("below", ppm(c.below_ppm)), ("credit", ppm(c.credit_ppm))]))
            .collect(),
    )
}

fn pred(p: &crate::predicate::Predicate) -> Cbor {
    Cbor::Text(p.to_string())
}

fn rule(r: &Rule) -> Cbor {
    let mut m = vec![
        ("id", text(&r.id)),
        ("clause", text(&r.clause)),
        ("type", text(r.kind.type_name())),
        ("party", text(r.debtor.as_str())),
        (
            "excuses",
            Cbor::Array(r.excuses.iter().map(|x| text(x)).collect()),
        ),
    ];
    match &r.kind {
        RuleKind::Deadline(d) => {
            m.push(("trigger", text(&d.trigger)));
            push_opt(&mut m, "where", d.filter.as_ref().map(pred));
            m.push(("reply", text(&d.reply)));
            m.push((
                "match",
                Cbor::Array(d.matching.iter().map(|a| text(a)).collect()),
            ));
            m.push(("within", int(d.within)));
            push_opt(&mut m, "ok", d.ok.as_ref().map(pred));
            if let Some(sla) = &d.sla {
                let mut e = vec![
                    ("period", period(sla.period)),
                    ("target", ppm(sla.target_ppm)),
                    ("credits", credits(&sla.credits)),
                ];
                push_opt(&mut e, "fee", sla.fee.as_ref().map(money));
                m.push(("sla", Cbor::map(e)));
            }
        }
        RuleKind::Forbid(f) => {
            m.push(("event", text(&f.event)));
            push_opt(&mut m, "where", f.filter.as_ref().map(pred));
            m.push(("incident", text(&f.incident)));
            if let Some(p) = &f.permitted_by {
                m.push((
                    "permitted_by",
                    Cbor::map([
                        ("event", text(&p.event)),
                        (
                            "match",
                            Cbor::map(p.matching.iter().map(|(a, b)| (a.clone(), text(b)))),
                        ),
                    ]),
                ));
            }
        }
        RuleKind::Integrity(i) => {
            let mut w = vec![("event", text(&i.write.event)), ("key", text(&i.write.key))];
            push_opt(&mut w, "value", i.write.value.as_deref().map(text));
            m.push(("write", Cbor::map(w)));
            let mut rd = vec![
                ("event", text(&i.read.event)),
                ("key", text(&i.read.key)),
                ("value", text(&i.read.value)),
            ];
            push_opt(&mut rd, "found", i.read.found.as_deref().map(text));
            m.push(("read", Cbor::map(rd)));
            if let Some(d) = &i.delete {
                m.push((
                    "delete",
                    Cbor::map([("event", text(&d.event)), ("key", text(&d.key))]),
                ));
            }
        }
        RuleKind::Rate(r) => {
            m.push(("event", text(&r.event)));
            push_opt(&mut m, "where", r.filter.as_ref().map(pred));
            // max is at least 1 and came from an i64.
            m.push(("max", int(i64::try_from(r.max).unwrap_or(i64::MAX))));
            m.push(("per", int(r.per)));
        }
        RuleKind::Availability(a) => {
            m.push(("event", text(&a.event)));
            m.push(("failed", pred(&a.failed)));
            m.push(("window", int(a.window)));
            // The default measure and absent fields are not written, so a
            // contract that uses none of them compiles as it always did.
            if a.measure != Measure::DownWindows {
                m.push(("measure", text(a.measure.as_str())));
            }
            push_opt(&mut m, "down_when", a.down_when_ppm.map(ppm));
            push_opt(
                &mut m,
                "min_events",
                a.min_events
                    .map(|n| int(i64::try_from(n).unwrap_or(i64::MAX))),
            );
            push_opt(&mut m, "down_for", a.down_for.map(int));
            m.push(("period", period(a.period)));
            m.push(("target", ppm(a.target_ppm)));
            m.push(("credits", credits(&a.credits)));
            push_opt(&mut m, "fee", a.fee.as_ref().map(money));
        }
        RuleKind::Heartbeat(h) => {
            m.push(("event", text(&h.event)));
            m.push(("every", int(h.every)));
        }
    }
    Cbor::map(m)
}

impl Doc for Cbor {
    fn span(&self) -> Span {
        None
    }

    fn type_name(&self) -> &'static str {
        Cbor::type_name(self)
    }

    fn text(&self) -> Option<&str> {
        self.as_text()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn int(&self) -> Option<i64> {
        self.as_int()
    }

    fn array(&self) -> Option<Vec<&Self>> {
        self.as_array().map(|a| a.iter().collect())
    }

    fn table(&self) -> Option<Vec<(&str, Span, &Self)>> {
        match self {
            Cbor::Map(entries) => entries
                .iter()
                .map(|(k, v)| k.as_text().map(|k| (k, None, v)))
                .collect(),
            _ => None,
        }
    }

    fn duration(&self) -> Result<i64, Problem> {
        self.as_int().ok_or(Problem::WrongType {
            expected: "an integer (ns)",
            found: Cbor::type_name(self),
        })
    }

    fn percent(&self) -> Result<u32, Problem> {
        match self.as_int() {
            Some(p) if (0..=1_000_000).contains(&p) => Ok(p as u32),
            Some(p) => Err(Problem::OutOfRange {
                expected: "parts per million, 0 to 1000000",
                found: p.to_string(),
            }),
            None => Err(Problem::WrongType {
                expected: "an integer (ppm)",
                found: Cbor::type_name(self),
            }),
        }
    }

    fn key(&self) -> Result<PublicKey, Problem> {
        let Some(b) = self.as_bytes() else {
            return Err(Problem::WrongType {
                expected: "bytes (an Ed25519 public key)",
                found: Cbor::type_name(self),
            });
        };
        let raw: [u8; 32] = b.try_into().map_err(|_| Problem::BadKey {
            reason: format!("an Ed25519 public key is 32 bytes, found {}", b.len()),
        })?;
        VerifyingKey::from_bytes(&raw)
            .map(PublicKey)
            .map_err(|_| Problem::BadKey {
                reason: "not a valid Ed25519 point".into(),
            })
    }

    fn time(&self) -> Result<i64, Problem> {
        self.as_int().ok_or(Problem::WrongType {
            expected: "an integer (ns since the Unix epoch)",
            found: Cbor::type_name(self),
        })
    }

    fn money(&self) -> Result<Money, Problem> {
        let bad = || Problem::WrongType {
            expected: "a map {cents: uint, currency: AAA}",
            found: Cbor::type_name(self),
        };
        let Cbor::Map(entries) = self else {
            return Err(bad());
        };
        let mut cents = None;
        let mut currency = None;
        for (k, v) in entries {
            match k.as_text() {
                Some("cents") => cents = v.as_int(),
                Some("currency") => currency = v.as_text(),
                _ => return Err(bad()),
            }
        }
        let (Some(cents), Some(currency)) = (cents, currency) else {
            return Err(bad());
        };
        let text = format!("{}.{:02} {currency}", cents / 100, cents % 100);
        match u64::try_from(cents).ok().and_then(|_| Money::parse(&text)) {
            Some(m) => Ok(m),
            None => Err(Problem::BadMoney { text }),
        }
    }

    fn period(&self) -> Result<Period, Problem> {
        match self {
            Cbor::Text(t) if t == "month" => Ok(Period::Month),
            Cbor::Int(d) => Ok(Period::Every(*d)),
            other => Err(Problem::WrongType {
                expected: "\"month\" or an integer (ns)",
                found: Cbor::type_name(other),
            }),
        }
    }
}
