//! Rendering verification reports: the JSON document of `verify --json`
//! and the text summary people read.

use crate::hex;
use cfr_model::time::format_rfc3339;
use cfr_verify::verify::{Pin, Report, Status};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The machine-readable report: `{ "bundle", "signers", "checks",
/// "verified", "keys_pinned", "verdict" }`.
pub fn report_json(r: &Report) -> Value {
    let b = &r.bundle;
    let checks: Vec<Value> = r
        .checks()
        .iter()
        .map(|c| {
            json!({
                "check": c.number(),
                "name": c.name(),
                "title": c.title(),
                "status": c.status().as_str(),
                "notes": c.notes(),
                "failures": c.failures().iter().map(|f| json!({"code": f.code, "detail": f.detail})).collect::<Vec<_>>(),
                "failure_count": c.failure_count(),
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
        .verdict()
        .replayed()
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
        "verified": r.established() == cfr_verify::verify::Established::Verified,
        "result": r.established().word(),
        "missing": r.gaps,
        "intact": r.verified(),
        "keys_pinned": !r.unpinned(),
        // Set only when check 2 verified manifest.tsr against the pinned
        // TSA certificate.
        "timestamp": r.timestamp.as_ref().map(|t| json!({
            "time": t.time,
            "tsa": t.tsa,
            "serial": t.serial,
            "policy": t.policy,
            "accuracy_us": t.accuracy,
            "pinned": match t.pinned {
                Some(cfr_verify::cfr_timestamp::PinnedBy::Itself) => "tsa",
                _ => "issuer",
            },
        })),
        "attribution": r.attribution.iter().map(|(p, (n, a))| (p.clone(), json!({"events": n, "attributed": a}))).collect::<serde_json::Map<String, Value>>(),
        "recorder_findings": r.recorder.iter().map(|f| json!({"code": "receipt-contradicted", "party": "recorder", "receipt": f.receipt, "submission": {"party": f.party, "id": f.id}, "seq": f.seq, "detail": f.detail})).collect::<Vec<_>>(),
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
    if let Some(t) = &r.timestamp {
        let _ = writeln!(s, "Timestamp {} by {} (RFC 3161, verified)", t.time, t.tsa);
    }
    if !r.signers.is_empty() {
        let _ = writeln!(s, "\nKeys");
        // Roles as wide as the widest (`witness <name>` can be long).
        let w = r
            .signers
            .iter()
            .map(|k| k.role.len())
            .max()
            .unwrap_or(0)
            .max(10);
        for k in &r.signers {
            let pin = match k.pin {
                Pin::Pinned => "pinned",
                Pin::NotPinned => "NOT pinned",
                Pin::Mismatch => "PIN MISMATCH",
            };
            let _ = writeln!(
                s,
                "  {:<w$} {:<28} {}  {pin}",
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
    let count = |st: Status| r.checks().iter().filter(|c| c.status() == st).count();
    let _ = writeln!(
        s,
        "\nChecks    {} passed, {} failed, {} not checked",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::NotChecked)
    );
    for c in r.checks() {
        let mark = match c.status() {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::NotChecked => "----",
        };
        let _ = writeln!(s, "  {} {mark:<4}  {}", c.number(), c.title());
        if c.status() == Status::Fail {
            for f in c.failures() {
                let _ = writeln!(s, "           [{}] {}", f.code, f.detail);
            }
            if c.failure_count() > c.failures().len() as u64 {
                let _ = writeln!(
                    s,
                    "           ... and {} more",
                    c.failure_count() - c.failures().len() as u64
                );
            }
        } else {
            for n in c.notes() {
                let _ = writeln!(s, "           {n}");
            }
        }
    }
    let _ = writeln!(s, "\nResult    {}", r.established().line());
    if !r.recorder.is_empty() {
        let _ = writeln!(
            s,
            "\nFindings against the recorder ({}: the bundle contradicts what the recorder signed to a party)",
            r.recorder.len()
        );
        for (i, f) in r.recorder.iter().enumerate() {
            let _ = writeln!(s, "  R{}  receipt-contradicted  {}", i + 1, f.line());
        }
    }
    if let Some(v) = r.verdict().replayed() {
        let _ = writeln!(s, "\n{}", verdict_text_with(v, &r.recorder));
    }
    if let Some(x) = &r.excerpt {
        let _ = writeln!(s, "\n{}", x.text());
    }
    s
}

/// Incidents listed per party in the text summary when there are more
/// than [`LIST_ALL_UP_TO`]; the counts always cover all of them.
pub const LISTED_PER_PARTY: usize = 10;
/// A party with at most this many incidents has all of them listed.
pub const LIST_ALL_UP_TO: usize = 12;

/// The verdict as a short expert summary: the counts, then who is at
/// fault for what (a table per rule and incident kind, one column per
/// party), the service levels, the rule statistics, and the incidents of
/// each party (the first [`LISTED_PER_PARTY`] when there are many; `--json`
/// and `cfr-bundle report` give every one).
pub fn verdict_text(v: &cfr_rules::Verdict) -> String {
    verdict_text_with(v, &[])
}

/// [`verdict_text`] with the findings against the recorder that
/// verification made (receipts the bundle contradicts): the tables gain a
/// `recorder` column only when there are any.
pub fn verdict_text_with(
    v: &cfr_rules::Verdict,
    recorder: &[cfr_verify::report::RecorderFinding],
) -> String {
    use crate::format::{sla_result, sla_target, sla_uptime};
    use cfr_rules::Party;
    const PARTIES: [Party; 5] = [
        Party::Provider,
        Party::User,
        Party::External,
        Party::None,
        Party::Inconclusive,
    ];
    let mut s = String::new();
    let span = match (v.log.from, v.log.until) {
        (Some(f), Some(u)) => format!("{} to {}", format_rfc3339(f), format_rfc3339(u)),
        _ => "empty log".to_owned(),
    };
    let t = &v.totals;
    let recorder_fault = if recorder.is_empty() {
        String::new()
    } else {
        format!(", recorder {}", recorder.len())
    };
    let _ = writeln!(
        s,
        "Verdict   {} incidents under contract {}\n          {} events, {span}\n          at fault: provider {}, user {}, external {}{recorder_fault}, excused {}, inconclusive {}",
        v.incidents.len() + recorder.len(),
        v.contract,
        v.log.events,
        t.provider,
        t.user,
        t.external,
        t.none,
        t.inconclusive
    );

    // Who is at fault for what: rule x incident kind -> counts per party.
    let mut rows: Vec<(String, String, [u64; 5])> = Vec::new();
    for r in &v.rules {
        let mut kinds: Vec<(String, [u64; 5])> = Vec::new();
        for i in v.incidents.iter().filter(|i| i.rule == r.rule) {
            let k = PARTIES.iter().position(|p| *p == i.party).unwrap_or(4);
            match kinds.iter_mut().find(|(kind, _)| *kind == i.kind) {
                Some((_, c)) => c[k] += 1,
                None => {
                    let mut c = [0u64; 5];
                    c[k] = 1;
                    kinds.push((i.kind.clone(), c));
                }
            }
        }
        if kinds.is_empty() {
            rows.push((r.rule.clone(), "-".into(), [0; 5]));
        }
        for (n, (kind, c)) in kinds.into_iter().enumerate() {
            rows.push((
                if n == 0 {
                    r.rule.clone()
                } else {
                    String::new()
                },
                kind,
                c,
            ));
        }
    }
    // A `recorder` column (after `external`) only when verification found
    // receipts the bundle contradicts: one row, "receipts".
    let with_recorder = !recorder.is_empty();
    let widen = |c: [u64; 5], rec: u64| -> Vec<u64> {
        let mut w = c[..3].to_vec();
        if with_recorder {
            w.push(rec);
        }
        w.extend_from_slice(&c[3..]);
        w
    };
    let mut heads = vec!["provider", "user", "external"];
    if with_recorder {
        heads.push("recorder");
    }
    heads.extend(["excused", "inconclusive"]);
    let mut rows: Vec<(String, String, Vec<u64>)> = rows
        .into_iter()
        .map(|(r, k, c)| (r, k, widen(c, 0)))
        .collect();
    if with_recorder {
        rows.push((
            "receipts".into(),
            "receipt contradicted".into(),
            widen([0; 5], recorder.len() as u64),
        ));
    }
    let totals = widen(PARTIES.map(|p| t.of(p)), recorder.len() as u64);
    let rw = rows.iter().map(|r| r.0.len()).chain([9]).max().unwrap_or(9);
    let kw = rows.iter().map(|r| r.1.len()).chain([8]).max().unwrap_or(8);
    let cell = |n: u64| {
        if n == 0 {
            "-".to_owned()
        } else {
            n.to_string()
        }
    };
    let _ = writeln!(s, "\nWho is at fault, per rule");
    let _ = write!(s, "  {:<rw$}  {:<kw$}", "rule", "incident");
    for h in &heads {
        let _ = write!(s, "  {h:>w$}", w = h.len());
    }
    let _ = writeln!(s, "  {:>6}", "total");
    for (rule, kind, c) in &rows {
        let _ = write!(s, "  {rule:<rw$}  {kind:<kw$}");
        for (n, h) in c.iter().zip(&heads) {
            let _ = write!(s, "  {:>w$}", cell(*n), w = h.len());
        }
        let _ = writeln!(s, "  {:>6}", c.iter().sum::<u64>());
    }
    let _ = write!(s, "  {:<rw$}  {:<kw$}", "all rules", "");
    for (n, h) in totals.iter().zip(&heads) {
        let _ = write!(s, "  {:>w$}", n, w = h.len());
    }
    let _ = writeln!(s, "  {:>6}", v.incidents.len() + recorder.len());

    if !v.sla.is_empty() {
        let _ = writeln!(s, "\nService levels");
        let rw = v
            .sla
            .iter()
            .map(|p| p.rule.len())
            .chain([4])
            .max()
            .unwrap_or(4);
        let pw = v
            .sla
            .iter()
            .map(|p| p.period.len())
            .chain([6])
            .max()
            .unwrap_or(6);
        // "uptime" (8 wide) unless a deadline's "met" rows need more.
        let uw = v
            .sla
            .iter()
            .map(|p| sla_uptime(p).len())
            .chain([8])
            .max()
            .unwrap_or(8);
        let _ = writeln!(
            s,
            "  {:<rw$}  {:<pw$}  {:>uw$}  {:>7}  result",
            "rule", "period", "uptime", "target"
        );
        for p in &v.sla {
            let _ = writeln!(
                s,
                "  {:<rw$}  {:<pw$}  {:>uw$}  {:>7}  {}",
                p.rule,
                p.period,
                sla_uptime(p),
                sla_target(p),
                sla_result(p)
            );
        }
    }
    if !v.rules.is_empty() {
        let rw = v
            .rules
            .iter()
            .map(|r| r.rule.len())
            .chain([4])
            .max()
            .unwrap_or(4);
        let _ = writeln!(s, "\nRules (checked = fulfilled + pending + incidents)");
        let _ = writeln!(
            s,
            "  {:<rw$}  {:>9}  {:>9}  {:>9}  {:>9}",
            "rule", "checked", "fulfilled", "pending", "incidents"
        );
        for r in &v.rules {
            let _ = writeln!(
                s,
                "  {:<rw$}  {:>9}  {:>9}  {:>9}  {:>9}",
                r.rule, r.checked, r.fulfilled, r.pending, r.incidents
            );
        }
    }
    let mut omitted = 0usize;
    for party in PARTIES {
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
        let shown = if list.len() <= LIST_ALL_UP_TO {
            list.len()
        } else {
            LISTED_PER_PARTY
        };
        if shown < list.len() {
            let _ = writeln!(s, "\n{heading} ({}; the first {shown})", list.len());
        } else {
            let _ = writeln!(s, "\n{heading} ({})", list.len());
        }
        omitted += list.len() - shown;
        let list = &list[..shown];
        let nw = list
            .iter()
            .map(|(n, _)| (n + 1).to_string().len())
            .chain([1])
            .max()
            .unwrap_or(1);
        let fw = list
            .iter()
            .map(|(_, i)| format_rfc3339(i.from).len())
            .chain([4])
            .max()
            .unwrap_or(4);
        let kw = list
            .iter()
            .map(|(_, i)| i.kind.len())
            .chain([4])
            .max()
            .unwrap_or(4);
        let rw = list
            .iter()
            .map(|(_, i)| i.rule.len())
            .chain([4])
            .max()
            .unwrap_or(4);
        let _ = writeln!(
            s,
            "  {:>nw$}  {:<fw$}  {:<kw$}  {:<rw$}  explanation",
            "#", "from", "kind", "rule"
        );
        for (n, i) in list {
            let _ = writeln!(
                s,
                "  {:>nw$}  {:<fw$}  {:<kw$}  {:<rw$}  {}{}",
                n + 1,
                format_rfc3339(i.from),
                i.kind,
                i.rule,
                i.explanation,
                i.excused_by
                    .map(|by| format!(" (excused by incident #{})", by + 1))
                    .unwrap_or_default()
            );
        }
    }
    if omitted > 0 {
        let _ = writeln!(
            s,
            "\n{omitted} incidents are not listed here (the counts above cover them). Every one, with its evidence: --json, or `cfr-bundle report` for an HTML report of a bundle."
        );
    }
    s
}
