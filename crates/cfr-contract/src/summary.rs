//! A readable summary of a contract (`cfr-bundle contract check`).

use crate::model::{
    Availability, Contract, CreditTier, DeadlineSla, ExcuseSource, Measure, Money, Period, RuleKind,
};
use cfr_model::time::{format_duration, format_percent, format_rfc3339};
use std::fmt::Write as _;

/// Renders parties, events, rules and excuses as plain text.
pub fn summary(c: &Contract) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "contract {} — {}", c.id, c.title);
    if let Some(j) = &c.jurisdiction {
        let _ = writeln!(s, "jurisdiction {j}");
    }
    if let Some(t) = &c.term {
        let _ = writeln!(
            s,
            "term {} to {} (until exclusive): availability counts every window of the term",
            format_rfc3339(t.from),
            format_rfc3339(t.until)
        );
    }
    let _ = writeln!(s, "\nparties");
    for (role, p) in [
        ("provider", &c.parties.provider),
        ("user", &c.parties.user),
        ("recorder", &c.parties.recorder),
    ] {
        let _ = writeln!(s, "  {role:<10} {:<28} {}", p.name, p.key.fingerprint());
    }
    for (id, p) in &c.parties.attestors {
        let _ = writeln!(
            s,
            "  {id:<10} {:<28} {} (attestor)",
            p.name,
            p.key.fingerprint()
        );
    }
    let _ = writeln!(s, "\nevents ({})", c.events.len());
    for (kind, spec) in &c.events {
        let attrs: Vec<String> = spec
            .attrs
            .iter()
            .map(|(n, a)| format!("{n}: {}{}", a.ty, if a.optional { "?" } else { "" }))
            .collect();
        let _ = writeln!(
            s,
            "  {kind:<14} by {:<9}{} {{{}}}",
            spec.by.as_str(),
            if spec.signed { " signed" } else { "       " },
            attrs.join(", ")
        );
    }
    let _ = writeln!(s, "\nrules ({})", c.rules.len());
    for r in &c.rules {
        let what = match &r.kind {
            RuleKind::Deadline(d) => format!(
                "deadline: each {} answered by a {} within {}{}",
                d.trigger,
                d.reply,
                format_duration(d.within),
                d.sla.as_ref().map(deadline_sla).unwrap_or_default()
            ),
            RuleKind::Forbid(f) => format!("forbid: no {} ({})", f.event, f.incident),
            RuleKind::Integrity(i) => format!(
                "integrity: {} reads return what {} wrote",
                i.read.event, i.write.event
            ),
            RuleKind::Rate(r) => format!(
                "rate: at most {} {} per {}",
                r.max,
                r.event,
                format_duration(r.per)
            ),
            RuleKind::Availability(a) => availability(a),
            RuleKind::Heartbeat(h) => {
                format!(
                    "heartbeat: a {} at least every {}",
                    h.event,
                    format_duration(h.every)
                )
            }
        };
        let _ = writeln!(s, "  {:<22} party {:<9} {what}", r.id, r.debtor.as_str());
        if !r.excuses.is_empty() {
            let _ = writeln!(s, "  {:<22} excuses: {}", "", r.excuses.join(", "));
        }
    }
    let _ = writeln!(s, "\nexcuses ({})", c.excuses.len());
    for (id, e) in &c.excuses {
        let src = match &e.source {
            ExcuseSource::Event { event, notice, .. } => match notice {
                Some(n) => format!("{event} events, notice {}", format_duration(*n)),
                None => format!("{event} events"),
            },
            ExcuseSource::Rule { rule } => format!("incidents of rule {rule}"),
        };
        let _ = writeln!(s, "  {id:<22} -> {:<13} from {src}", e.attribute.name());
    }
    let _ = writeln!(s, "\nok: the contract checks");
    s
}

fn period(p: Period) -> String {
    match p {
        Period::Month => "calendar month (UTC)".to_owned(),
        Period::Every(d) => format!("period of {}", format_duration(d)),
    }
}

fn credits(tiers: &[CreditTier], fee: &Option<Money>) -> String {
    if tiers.is_empty() {
        return String::new();
    }
    let list: Vec<String> = tiers
        .iter()
        .map(|t| {
            let money = fee
                .as_ref()
                .map(|f| format!(" = {}", f.share(t.credit_ppm)))
                .unwrap_or_default();
            format!(
                "{}{money} below {}",
                format_percent(t.credit_ppm),
                format_percent(t.below_ppm)
            )
        })
        .collect();
    let of = fee
        .as_ref()
        .map(|f| format!(" of the fee {f}"))
        .unwrap_or_default();
    format!("; credits{of}: {}", list.join(", "))
}

/// An availability rule's measure in plain words.
fn availability(a: &Availability) -> String {
    let w = format_duration(a.window);
    let measure = match a.measure {
        Measure::DownWindows => {
            let mut m = format!(
                "uptime = share of {w} windows not down, a window down when more than {} of its {} events fail",
                format_percent(a.down_when_ppm.unwrap_or(0)),
                a.event
            );
            if let Some(n) = a.min_events {
                m.push_str(&format!(" and it has at least {n} of them"));
            }
            if let Some(d) = a.down_for {
                m.push_str(&format!(
                    "; only runs of consecutive down windows lasting at least {} count",
                    format_duration(d)
                ));
            }
            m
        }
        Measure::MeanErrorRate => {
            let mut m = format!(
                "uptime = 100% minus the mean error rate of the {w} windows (failed / all {} events; 0 in a window without events)",
                a.event
            );
            if let Some(d) = a.down_when_ppm {
                m.push_str(&format!(
                    "; a window with more than {} failing is also an incident",
                    format_percent(d)
                ));
            }
            m
        }
    };
    format!(
        "availability: {measure}; per {}, target {}{}",
        period(a.period),
        format_percent(a.target_ppm),
        credits(&a.credits, &a.fee)
    )
}

/// A deadline rule's service level in plain words.
fn deadline_sla(s: &DeadlineSla) -> String {
    format!(
        "; service level: share of deadlines met per {} (late, missing and erroneous results the provider is at fault for count against it), target {}{}",
        period(s.period),
        format_percent(s.target_ppm),
        credits(&s.credits, &s.fee)
    )
}
