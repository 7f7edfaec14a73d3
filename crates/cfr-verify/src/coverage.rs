//! What an incident rests on: the events each kind of incident needs
//! ([`needs`]), the ranges that hold them ([`SeqRange`]), whether ranges
//! cover an incident, and when two incidents are the same
//! ([`same_incident`]). Shared by cutting an excerpt and verifying one.

use cfr_contract::{Contract, ExcuseSource, RuleKind};
use cfr_model::time::format_rfc3339;
use cfr_model::Event;
use cfr_rules::{Incident, Verdict};
use std::collections::BTreeSet;

/// What an excerpt must disclose for one incident: each need is met by one
/// contiguous range of the excerpt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// The event with this seq.
    Seq(u64),
    /// Every event from the first seq to the second, both included.
    Span(u64, u64),
    /// Every event from the seq on, up to one whose time is at or after the
    /// given time (a deadline that passed without an answer).
    Through(u64, i64),
    /// Every event from seq 0 to this seq (the absence of an earlier event).
    Prefix(u64),
    /// Every event whose time lies in `[from, until]`, shown complete by an
    /// event before `from` (or the log's first) and one after `until` (or
    /// the log's last).
    Times(i64, i64),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Seq(s) => write!(f, "seq {s}"),
            Need::Span(a, b) => write!(f, "seqs {a}-{b} without a gap"),
            Need::Through(s, t) => write!(
                f,
                "every event from seq {s} to one at or after {}",
                format_rfc3339(*t)
            ),
            Need::Prefix(s) => write!(f, "every event from seq 0 to seq {s}"),
            Need::Times(a, b) => write!(
                f,
                "every event from {} to {}, with one beyond each side",
                format_rfc3339(*a),
                format_rfc3339(*b)
            ),
        }
    }
}

/// What an incident rests on, as [`Need`]s, or why an excerpt cannot prove
/// it. `event` looks up an evidence event by seq (`None` when it is not at
/// hand: the incident then cannot be planned or checked).
pub fn needs(
    contract: &Contract,
    verdict: &Verdict,
    incident: &Incident,
    event: &dyn Fn(u64) -> Option<Event>,
) -> Result<Vec<Need>, String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    needs_into(contract, verdict, incident, event, &mut out, &mut seen, 0)?;
    Ok(out)
}

fn needs_into(
    contract: &Contract,
    verdict: &Verdict,
    i: &Incident,
    event: &dyn Fn(u64) -> Option<Event>,
    out: &mut Vec<Need>,
    seen: &mut BTreeSet<(String, i64, i64, Vec<u64>)>,
    depth: usize,
) -> Result<(), String> {
    if depth > 8 || !seen.insert((i.rule.clone(), i.from, i.until, i.evidence.clone())) {
        return Ok(());
    }
    let rule = contract
        .rules
        .iter()
        .find(|r| r.id == i.rule)
        .ok_or_else(|| format!("the contract has no rule {:?}", i.rule))?;
    let evidence: Vec<Event> = i
        .evidence
        .iter()
        .map(|&s| event(s).ok_or_else(|| format!("evidence seq {s} is not at hand")))
        .collect::<Result<_, _>>()?;
    out.extend(i.evidence.iter().map(|&s| Need::Seq(s)));
    // The first evidence event of `kind` at the incident's start.
    let at_start = |kind: &str| {
        evidence
            .iter()
            .find(|e| e.kind == kind && e.time == i.from)
            .map(|e| e.seq)
    };
    let missing = |what: &str| format!("its evidence names no {what}");
    match &rule.kind {
        RuleKind::Deadline(d) => {
            let t = at_start(&d.trigger).ok_or_else(|| missing("trigger"))?;
            let reply = evidence
                .iter()
                .filter(|e| e.kind == d.reply && e.seq > t)
                .map(|e| e.seq)
                .next();
            match (i.kind.as_str(), reply) {
                ("no_result", _) => out.push(Need::Through(t, i.until)),
                (_, Some(r)) => out.push(Need::Span(t, r)),
                (_, None) => return Err(missing("reply")),
            }
        }
        RuleKind::Forbid(f) => {
            let e = at_start(&f.event).ok_or_else(|| missing("forbidden event"))?;
            if let Some(p) = &f.permitted_by {
                if !evidence.iter().any(|x| x.kind == p.event && x.seq < e) {
                    out.push(Need::Prefix(e));
                }
            }
        }
        RuleKind::Integrity(g) => {
            let r = at_start(&g.read.event).ok_or_else(|| missing("read"))?;
            let w = evidence
                .iter()
                .filter(|e| e.kind == g.write.event && e.seq < r)
                .map(|e| e.seq)
                .next_back()
                .ok_or_else(|| missing("write"))?;
            out.push(Need::Span(w, r));
        }
        RuleKind::Rate(r) => out.push(Need::Times(i.from.saturating_sub(r.per), i.until)),
        RuleKind::Availability(_) => {
            if i.kind == "sla_breach" {
                return Err(
                    "an SLA breach is judged over a whole period of the log; an \
                            excerpt cannot prove it (excerpt the period's `unavailable` \
                            incidents instead)"
                        .into(),
                );
            }
            out.push(Need::Times(i.from, i.until.saturating_sub(1)));
        }
        RuleKind::Heartbeat(_) => match (i.evidence.first(), i.evidence.last()) {
            (Some(&a), Some(&b)) => out.push(Need::Span(a, b)),
            _ => return Err(missing("events around the gap")),
        },
    }
    // A rule-based excuse rests on the excusing incidents: they must come
    // out of the excerpt too.
    if let Some(x) = &i.excuse {
        if let Some(ExcuseSource::Rule { rule }) = contract.excuses.get(x).map(|x| &x.source) {
            for j in &verdict.incidents {
                if &j.rule == rule
                    && j.kind != "sla_breach"
                    && j.from <= i.until
                    && i.from <= j.until
                {
                    needs_into(contract, verdict, j, event, out, seen, depth + 1)?;
                }
            }
        }
    }
    Ok(())
}

/// A contiguous run of seqs `[first, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeqRange {
    /// The first seq.
    pub first: u64,
    /// One past the last seq.
    pub end: u64,
}

/// Turns needs into ranges over a log whose event times are `times`
/// (indexed by seq, non-decreasing).
pub(crate) fn plan(needs: &[Need], times: &[i64]) -> Result<Vec<SeqRange>, String> {
    let n = times.len() as u64;
    let last = n.checked_sub(1).ok_or("the log is empty")?;
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for need in needs {
        let span = match *need {
            Need::Seq(s) => (s, s),
            Need::Span(a, b) => (a.min(b), a.max(b)),
            Need::Prefix(s) => (0, s),
            Need::Through(s, t) => {
                let end = (s..n).find(|&k| times[k as usize] >= t).ok_or_else(|| {
                    format!("no event at or after {} follows seq {s}", format_rfc3339(t))
                })?;
                (s, end)
            }
            Need::Times(from, until) => {
                // Times are non-decreasing: binary searches find the events
                // just beyond each side.
                let before = times.partition_point(|&t| t < from) as u64;
                let after = times.partition_point(|&t| t <= until) as u64;
                (before.saturating_sub(1), after.min(last))
            }
        };
        if span.1 > last {
            return Err(format!("seq {} is beyond the log's {n} events", span.1));
        }
        spans.push(span);
    }
    spans.sort_unstable();
    let mut out: Vec<SeqRange> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            // Overlapping or adjacent ranges merge: one proof each.
            Some(r) if a <= r.end => r.end = r.end.max(b + 1),
            _ => out.push(SeqRange {
                first: a,
                end: b + 1,
            }),
        }
    }
    Ok(out)
}

/// Whether the disclosed `ranges` (with their events, by seq) meet `need`
/// in a log of `size` events; the reason when not.
pub(crate) fn covered(
    need: &Need,
    ranges: &[SeqRange],
    time: &dyn Fn(u64) -> Option<i64>,
    size: u64,
) -> Result<(), String> {
    let holding = |s: u64| ranges.iter().find(|r| r.first <= s && s < r.end);
    let ok = match *need {
        Need::Seq(s) => holding(s).is_some(),
        Need::Span(a, b) => holding(a).is_some_and(|r| b < r.end),
        Need::Prefix(s) => holding(s).is_some_and(|r| r.first == 0),
        Need::Through(s, t) => {
            holding(s).is_some_and(|r| (s..r.end).any(|k| time(k).is_some_and(|x| x >= t)))
        }
        Need::Times(from, until) => ranges.iter().any(|r| {
            let starts = r.first == 0 || time(r.first).is_some_and(|t| t < from);
            let ends = r.end == size || time(r.end - 1).is_some_and(|t| t > until);
            starts && ends
        }),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("the excerpt does not disclose {need}"))
    }
}

/// The same incident: rule, clause, kind, party, debtor, excuse, window and
/// evidence all equal. The explanation is not compared: where it speaks of
/// the log as a whole (where the log ends, an excuse event that did not
/// apply), the excerpt's log says less, and that changes no fact above.
pub fn same_incident(a: &Incident, b: &Incident) -> bool {
    a.rule == b.rule
        && a.clause == b.clause
        && a.kind == b.kind
        && a.party == b.party
        && a.debtor == b.debtor
        && a.excuse == b.excuse
        && a.from == b.from
        && a.until == b.until
        && a.evidence == b.evidence
}

/// Whether `got` holds an incident that is [`same_incident`] as `want`
/// (an incident of `verdict`) and, where a rule-based excuse decided, was
/// excused by the same incident: `excused_by` is an index, which differs
/// between the two verdicts, so the incidents it names are compared.
pub fn reproduces(want: &Incident, verdict: &Verdict, got: &Verdict) -> bool {
    got.incidents.iter().any(|j| {
        same_incident(want, j)
            && match (want.excused_by, j.excused_by) {
                (None, None) => true,
                (Some(a), Some(b)) => match (verdict.incidents.get(a), got.incidents.get(b)) {
                    (Some(x), Some(y)) => same_incident(x, y),
                    _ => false,
                },
                _ => false,
            }
    })
}

/// Says how the excerpt's incidents of the same rule differ from `want`.
pub(crate) fn not_reproduced(want: &Incident, got: &Verdict) -> String {
    let near: Vec<String> = got
        .incidents
        .iter()
        .filter(|j| j.rule == want.rule && j.from <= want.until && want.from <= j.until)
        .map(|j| {
            format!(
                "{} {} {}..{} party {} evidence {:?}",
                j.rule,
                j.kind,
                format_rfc3339(j.from),
                format_rfc3339(j.until),
                j.party,
                j.evidence
            )
        })
        .collect();
    let want_s = format!(
        "expected {} {} party {} evidence {:?}",
        want.kind, want.rule, want.party, want.evidence
    );
    if near.is_empty() {
        format!("{want_s}; the excerpt's analyzer raised no incident of that rule there")
    } else {
        format!("{want_s}; the excerpt gives {}", near.join("; "))
    }
}

pub(crate) fn show_ranges(r: &[SeqRange]) -> String {
    r.iter()
        .map(|r| format!("{}-{}", r.first, r.end.saturating_sub(1)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn plan_merges_and_closes_time_spans() {
        let times = [0, 10, 20, 20, 30, 40, 50];
        // A time span [20, 30] takes the event before (seq 1) and after (5).
        let r = plan(&[Need::Times(20, 30)], &times).unwrap();
        assert_eq!(r, [SeqRange { first: 1, end: 6 }]);
        // At the log's edges there is nothing beyond: the range stops there.
        let r = plan(&[Need::Times(-5, 100)], &times).unwrap();
        assert_eq!(r, [SeqRange { first: 0, end: 7 }]);
        // Adjacent and overlapping needs merge; separate ones do not.
        let r = plan(&[Need::Seq(0), Need::Seq(1), Need::Span(4, 5)], &times).unwrap();
        assert_eq!(
            r,
            [SeqRange { first: 0, end: 2 }, SeqRange { first: 4, end: 6 }]
        );
        // Through: to the first event at or after the time.
        let r = plan(&[Need::Through(1, 25)], &times).unwrap();
        assert_eq!(r, [SeqRange { first: 1, end: 5 }]);
        assert!(plan(&[Need::Through(1, 99)], &times).is_err());
        assert!(plan(&[Need::Seq(7)], &times).is_err());
    }

    #[test]
    fn coverage_needs_the_boundaries() {
        let times: BTreeMap<u64, i64> = [(1, 10), (2, 20), (3, 20), (4, 30), (5, 40)].into();
        let t = |s: u64| times.get(&s).copied();
        let r = [SeqRange { first: 1, end: 6 }];
        assert!(covered(&Need::Times(20, 30), &r, &t, 7).is_ok());
        // Without the event before, the span might have lost an event at 20.
        let r2 = [SeqRange { first: 2, end: 6 }];
        assert!(covered(&Need::Times(20, 30), &r2, &t, 7).is_err());
        assert!(covered(&Need::Span(2, 5), &r, &t, 7).is_ok());
        assert!(covered(&Need::Span(2, 6), &r, &t, 7).is_err());
        assert!(covered(&Need::Prefix(3), &r, &t, 7).is_err());
        assert!(covered(&Need::Through(2, 40), &r, &t, 7).is_ok());
        assert!(covered(&Need::Through(2, 41), &r, &t, 7).is_err());
    }
}
