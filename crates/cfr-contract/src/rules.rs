//! Reading the type-specific fields of each rule type, with their checks.

use crate::error::Problem;
use crate::model::*;
use crate::read::{
    attr, check_attr, event_kind, fail, free_table, opt_predicate, predicate, Doc, Table, R,
};
use cfr_model::ValueType;
use std::collections::BTreeMap;

type Events = BTreeMap<String, EventSpec>;

pub(crate) fn read_kind<D: Doc>(t: &Table<'_, D>, ty: &str, events: &Events) -> R<RuleKind> {
    Ok(match ty {
        "deadline" => RuleKind::Deadline(deadline(t, events)?),
        "forbid" => RuleKind::Forbid(forbid(t, events)?),
        "integrity" => RuleKind::Integrity(integrity(t, events)?),
        "rate" => RuleKind::Rate(rate(t, events)?),
        "availability" => RuleKind::Availability(availability(t, events)?),
        _ => {
            let (event, _) = event_kind(t, "event", events)?;
            RuleKind::Heartbeat(Heartbeat {
                event,
                every: t.positive_duration("every")?,
            })
        }
    })
}

fn deadline<D: Doc>(t: &Table<'_, D>, events: &Events) -> R<Deadline> {
    let (trigger, tspec) = event_kind(t, "trigger", events)?;
    let filter = opt_predicate(t, "where", &trigger, tspec)?;
    let (reply, rspec) = event_kind(t, "reply", events)?;
    let mut matching: Vec<String> = Vec::new();
    for (j, (name, span)) in t.texts("match")?.into_iter().enumerate() {
        let at = format!("{}[{j}]", t.at("match"));
        let (_, lt) = check_attr(&name, &trigger, tspec, None, span.clone(), at.clone())?;
        let (_, rt) = check_attr(&name, &reply, rspec, None, span.clone(), at.clone())?;
        if lt != rt {
            return fail(
                span,
                at,
                Problem::TypeMismatch {
                    left: format!("{trigger}.{name}"),
                    left_type: lt,
                    right: format!("{reply}.{name}"),
                    right_type: rt,
                },
            );
        }
        if matching.contains(&name) {
            return fail(
                span,
                at,
                Problem::Duplicate {
                    what: "match attribute",
                    id: name,
                },
            );
        }
        matching.push(name);
    }
    let within = t.positive_duration("within")?;
    let ok = opt_predicate(t, "ok", &reply, rspec)?;
    let sla = match t.opt("sla") {
        None => None,
        Some(v) => {
            let s = Table::open(v, t.at("sla"), &["period", "target", "credits", "fee"])?;
            let period = period(&s)?;
            let target_ppm = s.scalar("target", D::percent)?;
            let credits = credits(&s)?;
            let fee = fee(&s, &credits)?;
            Some(DeadlineSla {
                period,
                target_ppm,
                credits,
                fee,
            })
        }
    };
    Ok(Deadline {
        trigger,
        filter,
        reply,
        matching,
        within,
        ok,
        sla,
    })
}

fn forbid<D: Doc>(t: &Table<'_, D>, events: &Events) -> R<Forbid> {
    let (event, spec) = event_kind(t, "event", events)?;
    let filter = opt_predicate(t, "where", &event, spec)?;
    let incident = t.name("incident", "incident name")?;
    let permitted_by = match t.opt("permitted_by") {
        None => None,
        Some(v) => {
            let p = Table::open(v, t.at("permitted_by"), &["event", "match"])?;
            let (pkind, pspec) = event_kind(&p, "event", events)?;
            let mut matching = Vec::new();
            if let Some(m) = p.opt("match") {
                let m = free_table(m, p.at("match"))?;
                for (on_permit, kspan, _) in m.entries() {
                    let at = m.at(on_permit);
                    let (_, pt) =
                        check_attr(on_permit, &pkind, pspec, None, kspan.clone(), at.clone())?;
                    let on_event = m.text(on_permit)?;
                    let (_, et) = check_attr(
                        &on_event,
                        &event,
                        spec,
                        None,
                        m.span_of(on_permit),
                        at.clone(),
                    )?;
                    if pt != et {
                        return fail(
                            m.span_of(on_permit),
                            at,
                            Problem::TypeMismatch {
                                left: format!("{pkind}.{on_permit}"),
                                left_type: pt,
                                right: format!("{event}.{on_event}"),
                                right_type: et,
                            },
                        );
                    }
                    matching.push(((*on_permit).to_owned(), on_event));
                }
            }
            matching.sort();
            Some(Permit {
                event: pkind,
                matching,
            })
        }
    };
    Ok(Forbid {
        event,
        filter,
        incident,
        permitted_by,
    })
}

fn integrity<D: Doc>(t: &Table<'_, D>, events: &Events) -> R<Integrity> {
    let w = Table::open(t.req("write")?, t.at("write"), &["event", "key", "value"])?;
    let (wkind, wspec) = event_kind(&w, "event", events)?;
    let (wkey, key_ty) = attr(&w, "key", &wkind, wspec, None)?;
    let (wvalue, value_ty) = attr(&w, "value", &wkind, wspec, None)?;

    let r = Table::open(
        t.req("read")?,
        t.at("read"),
        &["event", "key", "value", "found"],
    )?;
    let (rkind, rspec) = event_kind(&r, "event", events)?;
    let (rkey, _) = same_type(&r, "key", &rkind, rspec, &wkind, &wkey, key_ty)?;
    let (rvalue, _) = same_type(&r, "value", &rkind, rspec, &wkind, &wvalue, value_ty)?;
    let found = match r.opt("found") {
        None => None,
        Some(_) => Some(attr(&r, "found", &rkind, rspec, Some(ValueType::Bool))?.0),
    };

    let delete = match t.opt("delete") {
        None => None,
        Some(v) => {
            let d = Table::open(v, t.at("delete"), &["event", "key"])?;
            let (dkind, dspec) = event_kind(&d, "event", events)?;
            let (dkey, _) = same_type(&d, "key", &dkind, dspec, &wkind, &wkey, key_ty)?;
            Some(Access {
                event: dkind,
                key: dkey,
                value: None,
            })
        }
    };
    Ok(Integrity {
        write: Access {
            event: wkind,
            key: wkey,
            value: Some(wvalue),
        },
        read: Read {
            event: rkind,
            key: rkey,
            value: rvalue,
            found,
        },
        delete,
    })
}

/// An attribute field whose type must equal the write's.
fn same_type<D: Doc>(
    t: &Table<'_, D>,
    key: &str,
    kind: &str,
    spec: &EventSpec,
    wkind: &str,
    wattr: &str,
    wty: ValueType,
) -> R<(String, ValueType)> {
    let (name, ty) = attr(t, key, kind, spec, None)?;
    if ty != wty {
        return fail(
            t.span_of(key),
            t.at(key),
            Problem::TypeMismatch {
                left: format!("{wkind}.{wattr}"),
                left_type: wty,
                right: format!("{kind}.{name}"),
                right_type: ty,
            },
        );
    }
    Ok((name, ty))
}

fn rate<D: Doc>(t: &Table<'_, D>, events: &Events) -> R<Rate> {
    let (event, spec) = event_kind(t, "event", events)?;
    let filter = opt_predicate(t, "where", &event, spec)?;
    let max = t.int("max")?;
    if max < 1 {
        return fail(
            t.span_of("max"),
            t.at("max"),
            Problem::OutOfRange {
                expected: "at least 1",
                found: max.to_string(),
            },
        );
    }
    Ok(Rate {
        event,
        filter,
        // max >= 1 was checked just above.
        max: max.unsigned_abs(),
        per: t.positive_duration("per")?,
    })
}

fn period<D: Doc>(t: &Table<'_, D>) -> R<Period> {
    let period = t.scalar("period", D::period)?;
    if let Period::Every(d) = period {
        if d <= 0 {
            return fail(
                t.span_of("period"),
                t.at("period"),
                Problem::OutOfRange {
                    expected: "\"month\" or a duration greater than 0",
                    found: cfr_model::time::format_duration(d),
                },
            );
        }
    }
    Ok(period)
}

/// The optional `credits` tiers, sorted by `below`, no two equal.
fn credits<D: Doc>(t: &Table<'_, D>) -> R<Vec<CreditTier>> {
    let mut credits: Vec<CreditTier> = Vec::new();
    if t.opt("credits").is_some() {
        for (i, v) in t.array("credits")?.into_iter().enumerate() {
            let c = Table::open(v, format!("{}[{i}]", t.at("credits")), &["below", "credit"])?;
            let tier = CreditTier {
                below_ppm: c.scalar("below", D::percent)?,
                credit_ppm: c.scalar("credit", D::percent)?,
            };
            if credits.iter().any(|x| x.below_ppm == tier.below_ppm) {
                return fail(
                    c.span_of("below"),
                    c.at("below"),
                    Problem::Duplicate {
                        what: "credit tier below",
                        id: cfr_model::time::format_percent(tier.below_ppm),
                    },
                );
            }
            credits.push(tier);
        }
    }
    credits.sort_by_key(|c| c.below_ppm);
    Ok(credits)
}

/// The optional `fee`, which needs credit tiers to be a share of.
fn fee<D: Doc>(t: &Table<'_, D>, credits: &[CreditTier]) -> R<Option<Money>> {
    if t.opt("fee").is_none() {
        return Ok(None);
    }
    let fee = t.scalar("fee", D::money)?;
    if credits.is_empty() {
        return fail(
            t.span_of("fee"),
            t.at("fee"),
            Problem::Conflict {
                message: "\"fee\" needs \"credits\": the credit amount is a credit tier's share of the fee",
            },
        );
    }
    Ok(Some(fee))
}

fn availability<D: Doc>(t: &Table<'_, D>, events: &Events) -> R<Availability> {
    let (event, spec) = event_kind(t, "event", events)?;
    let failed = predicate(t, "failed", &event, spec)?;
    let window = t.positive_duration("window")?;
    let measure = match t.opt("measure") {
        None => Measure::DownWindows,
        Some(_) => t.choice(
            "measure",
            "measure",
            &["down_windows", "mean_error_rate"],
            Measure::from_name,
        )?,
    };
    let down_when_ppm = match (measure, t.opt("down_when")) {
        (Measure::MeanErrorRate, None) => None,
        _ => Some(t.scalar("down_when", D::percent)?),
    };
    if measure == Measure::MeanErrorRate {
        for f in ["min_events", "down_for"] {
            if t.opt(f).is_some() {
                return fail(
                    t.span_of(f),
                    t.at(f),
                    Problem::Conflict {
                        message: "\"min_events\" and \"down_for\" apply to measure = \"down_windows\" only: a mean error rate averages every window",
                    },
                );
            }
        }
    }
    let min_events = match t.opt("min_events") {
        None => None,
        Some(_) => {
            let n = t.int("min_events")?;
            if n < 1 {
                return fail(
                    t.span_of("min_events"),
                    t.at("min_events"),
                    Problem::OutOfRange {
                        expected: "at least 1",
                        found: n.to_string(),
                    },
                );
            }
            // n >= 1 was checked just above.
            Some(n.unsigned_abs())
        }
    };
    let down_for = match t.opt("down_for") {
        None => None,
        Some(_) => {
            let d = t.positive_duration("down_for")?;
            if d % window != 0 {
                return fail(
                    t.span_of("down_for"),
                    t.at("down_for"),
                    Problem::OutOfRange {
                        expected: "a multiple of window",
                        found: format!(
                            "{} with window {}",
                            cfr_model::time::format_duration(d),
                            cfr_model::time::format_duration(window)
                        ),
                    },
                );
            }
            Some(d)
        }
    };
    let period = period(t)?;
    let target_ppm = t.scalar("target", D::percent)?;
    let credits = credits(t)?;
    let fee = fee(t, &credits)?;
    Ok(Availability {
        event,
        failed,
        window,
        measure,
        down_when_ppm,
        min_events,
        down_for,
        period,
        target_ppm,
        credits,
        fee,
    })
}
