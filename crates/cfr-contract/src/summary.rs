//! A readable summary of a contract (`cfr-bundle contract check`).

use crate::model::{Contract, ExcuseSource, RuleKind};
use cfr_model::time::format_duration;
use std::fmt::Write as _;

/// Renders parties, events, rules and excuses as plain text.
pub fn summary(c: &Contract) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "contract {} — {}", c.id, c.title);
    if let Some(j) = &c.jurisdiction {
        let _ = writeln!(s, "jurisdiction {j}");
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
                "deadline: each {} answered by a {} within {}",
                d.trigger,
                d.reply,
                format_duration(d.within)
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
            RuleKind::Availability(a) => format!(
                "availability: {} windows of {}, target {}",
                a.event,
                format_duration(a.window),
                cfr_model::time::format_percent(a.target_ppm)
            ),
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
