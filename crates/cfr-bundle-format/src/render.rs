//! Rendering verification reports: the JSON document of `verify --json`
//! and the text summary people read.

use crate::verify::{Pin, Report, Status};
use cfr_model::time::format_rfc3339;
use serde_json::{json, Value};
use std::fmt::Write as _;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The machine-readable report: `{ "bundle", "signers", "checks",
/// "verified", "keys_pinned", "verdict" }`.
pub fn report_json(r: &Report) -> Value {
    let b = &r.bundle;
    let checks: Vec<Value> = r
        .checks
        .iter()
        .map(|c| {
            json!({
                "check": c.number,
                "name": c.name,
                "title": c.title,
                "status": c.status.as_str(),
                "notes": c.notes,
                "failures": c.failures.iter().map(|f| json!({"code": f.code, "detail": f.detail})).collect::<Vec<_>>(),
                "failure_count": c.failure_count,
            })
        })
        .collect();
    let signers: Vec<Value> = r
        .signers
        .iter()
        .map(|s| {
            json!({
                "role": s.role,
                "name": s.name,
                "fingerprint": s.fingerprint,
                "pinned": match s.pin { Pin::Pinned => json!(true), Pin::NotPinned => json!(false), Pin::Mismatch => json!("mismatch") },
            })
        })
        .collect();
    let verdict = r
        .verdict
        .as_ref()
        .and_then(|v| serde_json::from_str::<Value>(&v.to_json()).ok())
        .unwrap_or(Value::Null);
    json!({
        "bundle": {
            "sha256": b.sha256.map(|d| d.to_hex()),
            "size": b.size,
            "contract": b.contract_id,
            "title": b.contract_title,
            "events": b.events,
            "from": b.from.map(format_rfc3339),
            "until": b.until.map(format_rfc3339),
            "root": b.root.map(|x| hex(&x)),
            "tool": b.tool,
            "analyzer": b.analyzer_sha256.map(|x| hex(&x)),
        },
        "signers": signers,
        "checks": checks,
        "verified": r.verified(),
        "keys_pinned": !r.unpinned(),
        "verdict": verdict,
        "excerpt": r.excerpt.as_ref().map(|x| x.json()),
    })
}

/// The text summary of a verification, for people.
pub fn report_text(r: &Report, name: &str) -> String {
    let mut s = String::new();
    let b = &r.bundle;
    let _ = writeln!(s, "Bundle    {name}");
    if let Some(d) = b.sha256 {
        let _ = writeln!(s, "SHA-256   {d}  ({} bytes)", b.size);
    }
    if let Some(id) = &b.contract_id {
        let _ = writeln!(
            s,
            "Contract  {}{}",
            id,
            b.contract_title
                .as_ref()
                .map(|t| format!(" — {t}"))
                .unwrap_or_default()
        );
    }
    if let Some(n) = b.events {
        let span = match (b.from, b.until) {
            (Some(f), Some(u)) => format!(", {} to {}", format_rfc3339(f), format_rfc3339(u)),
            _ => String::new(),
        };
        let _ = writeln!(s, "Log       {n} events{span}");
    }
    if !r.signers.is_empty() {
        let _ = writeln!(s, "\nKeys");
        for k in &r.signers {
            let pin = match k.pin {
                Pin::Pinned => "pinned",
                Pin::NotPinned => "NOT pinned",
                Pin::Mismatch => "PIN MISMATCH",
            };
            let _ = writeln!(
                s,
                "  {:<10} {:<28} {}  {pin}",
                k.role, k.name, k.fingerprint
            );
        }
        if r.unpinned() {
            let _ = writeln!(
                s,
                "  Keys not pinned: the bundle names its own keys, which cannot vouch\n  \
                 for themselves. Pin the keys you know with --trust trust.toml or\n  \
                 --recorder-key/--provider-key/--user-key."
            );
        }
    }
    let _ = writeln!(s, "\nChecks");
    for c in &r.checks {
        let mark = match c.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::NotChecked => "----",
        };
        let _ = writeln!(s, "  {} {mark:<4}  {}", c.number, c.title);
        if c.status == Status::Fail {
            for f in &c.failures {
                let _ = writeln!(s, "           [{}] {}", f.code, f.detail);
            }
            if c.failure_count > c.failures.len() as u64 {
                let _ = writeln!(
                    s,
                    "           ... and {} more",
                    c.failure_count - c.failures.len() as u64
                );
            }
        } else {
            for n in &c.notes {
                let _ = writeln!(s, "           {n}");
            }
        }
    }
    let _ = writeln!(
        s,
        "\nResult    {}",
        if r.verified() {
            if r.unpinned() {
                "VERIFIED (integrity and signatures hold; keys not pinned)"
            } else {
                "VERIFIED"
            }
        } else {
            "VERIFICATION FAILED"
        }
    );
    if let Some(v) = &r.verdict {
        let _ = writeln!(s, "\n{}", verdict_text(v));
    }
    if let Some(x) = &r.excerpt {
        let _ = writeln!(s, "\n{}", x.text());
    }
    s
}

/// The verdict as a short expert summary: who is at fault for what, one
/// table per party, then the rule statistics and the SLA periods.
pub fn verdict_text(v: &cfr_rules::Verdict) -> String {
    use cfr_model::time::{format_percent, format_percent3};
    use cfr_rules::Party;
    let mut s = String::new();
    let span = match (v.log.from, v.log.until) {
        (Some(f), Some(u)) => format!("{} to {}", format_rfc3339(f), format_rfc3339(u)),
        _ => "empty log".to_owned(),
    };
    let _ = writeln!(
        s,
        "Verdict for contract {} ({} events, {span})",
        v.contract, v.log.events
    );
    let t = &v.totals;
    let _ = writeln!(
        s,
        "  {} incidents: provider {}, user {}, external {}, excused {}, inconclusive {}",
        v.incidents.len(),
        t.provider,
        t.user,
        t.external,
        t.none,
        t.inconclusive
    );
    for party in [
        Party::Provider,
        Party::User,
        Party::External,
        Party::None,
        Party::Inconclusive,
    ] {
        let list: Vec<(usize, &cfr_rules::Incident)> = v
            .incidents
            .iter()
            .enumerate()
            .filter(|(_, i)| i.party == party)
            .collect();
        if list.is_empty() {
            continue;
        }
        let heading = match party {
            Party::Provider => "At fault: the provider",
            Party::User => "At fault: the user",
            Party::External => "External factor",
            Party::None => "Excused (no fault)",
            Party::Inconclusive => "Inconclusive",
        };
        let _ = writeln!(s, "\n{heading} ({})", list.len());
        let _ = writeln!(
            s,
            "  {:>4}  {:<24} {:<18} {:<22} explanation",
            "#", "from", "kind", "rule"
        );
        for (n, i) in list {
            let _ = writeln!(
                s,
                "  {:>4}  {:<24} {:<18} {:<22} {}",
                n + 1,
                format_rfc3339(i.from),
                i.kind,
                i.rule,
                i.explanation
            );
        }
    }
    if !v.rules.is_empty() {
        let _ = writeln!(s, "\nRules");
        let _ = writeln!(
            s,
            "  {:<24} {:>9} {:>9} {:>9} {:>9}",
            "rule", "checked", "fulfilled", "pending", "incidents"
        );
        for r in &v.rules {
            let _ = writeln!(
                s,
                "  {:<24} {:>9} {:>9} {:>9} {:>9}",
                r.rule, r.checked, r.fulfilled, r.pending, r.incidents
            );
        }
    }
    if !v.sla.is_empty() {
        let _ = writeln!(s, "\nService levels");
        for p in &v.sla {
            let _ = writeln!(
                s,
                "  {:<24} {:<10} uptime {} (target {}){}",
                p.rule,
                p.period,
                format_percent3(p.uptime_ppm),
                format_percent(p.target_ppm),
                if p.breached {
                    format!(
                        ": BREACHED, credit {}",
                        p.credit_ppm
                            .map(format_percent)
                            .unwrap_or_else(|| "none".into())
                    )
                } else {
                    ": met".into()
                }
            );
        }
    }
    s
}
