//! Attribution: who is at fault for each incident.
//!
//! Runs at the end of the log, when every excuse event is known (an outage
//! attested after the fact still excuses) and every rule's incidents are
//! known (rule-based excuses use another rule's incident windows, however
//! those incidents were attributed; so attribution needs no order among
//! rules, and a cycle of rule-based excuses could not loop).

use crate::plan::{ExcuseCfg, RuleMeta, SourceCfg};
use crate::rules::Raw;
use crate::verdict::{Incident, Party};
use cfr_model::time::{format_duration_human, format_rfc3339};

/// An excuse event as logged.
#[derive(Clone, Debug)]
pub(crate) struct ExcuseEvent {
    pub seq: u64,
    /// When it was logged.
    pub time: i64,
    pub kind: String,
    pub actor: String,
    pub attestor: bool,
    pub from: i64,
    pub until: i64,
}

/// Closed intervals sorted by start, with the running maximum of their
/// ends, so that the ones overlapping a query are found without scanning
/// those that end too early.
struct IntervalIndex {
    /// `(from, until, payload)`.
    items: Vec<(i64, i64, usize)>,
    max_until: Vec<i64>,
}

impl IntervalIndex {
    fn new(mut items: Vec<(i64, i64, usize)>) -> Self {
        items.sort_unstable();
        let mut max_until = Vec::with_capacity(items.len());
        let mut m = i64::MIN;
        for (_, until, _) in &items {
            m = m.max(*until);
            max_until.push(m);
        }
        IntervalIndex { items, max_until }
    }

    /// Payloads of the intervals sharing at least one instant with
    /// `[lo, hi]`, ascending.
    fn overlapping(&self, lo: i64, hi: i64) -> Vec<usize> {
        let end = self.items.partition_point(|(from, _, _)| *from <= hi);
        let mut out = Vec::new();
        for i in (0..end).rev() {
            if self.max_until[i] < lo {
                break;
            }
            let (_, until, payload) = self.items[i];
            if until >= lo {
                out.push(payload);
            }
        }
        out.sort_unstable();
        out
    }
}

enum Source<'a> {
    Events {
        events: &'a [ExcuseEvent],
        index: IntervalIndex,
        notice: Option<i64>,
    },
    /// The named rule's incidents (never `sla_breach`: those are made after
    /// attribution), with their rule's id and position in the contract.
    Rule {
        rule: &'a str,
        position: usize,
        raw: &'a [Raw],
        index: IntervalIndex,
    },
    /// A rule excuse naming no rule of the contract.
    Nothing,
}

pub(crate) struct Attributor<'a> {
    excuses: &'a [ExcuseCfg],
    sources: Vec<Source<'a>>,
}

impl<'a> Attributor<'a> {
    /// `events[i]` are the events of excuse `i`; `raw[r]` the incidents of
    /// rule `r`.
    pub fn new(
        excuses: &'a [ExcuseCfg],
        events: &'a [Vec<ExcuseEvent>],
        rules: &'a [RuleMeta],
        raw: &'a [Vec<Raw>],
    ) -> Self {
        let sources = excuses
            .iter()
            .zip(events)
            .map(|(x, evs)| match &x.source {
                SourceCfg::Event { notice, .. } => Source::Events {
                    events: evs,
                    index: IntervalIndex::new(
                        evs.iter()
                            .enumerate()
                            .map(|(i, e)| (e.from, e.until, i))
                            .collect(),
                    ),
                    notice: *notice,
                },
                SourceCfg::Rule(Some(r)) => {
                    let raw = raw.get(*r).map_or(&[][..], |v| v.as_slice());
                    Source::Rule {
                        rule: rules.get(*r).map_or("", |m| m.id.as_str()),
                        position: *r,
                        raw,
                        index: IntervalIndex::new(
                            raw.iter()
                                .enumerate()
                                .map(|(i, inc)| {
                                    let (a, b) = inc.closed_window();
                                    (a, b, i)
                                })
                                .collect(),
                        ),
                    }
                }
                SourceCfg::Rule(None) => Source::Nothing,
            })
            .collect();
        Attributor { excuses, sources }
    }

    /// Decides the party of one incident of `rule`. When a rule-based
    /// excuse decides, also returns the excusing incidents that may come
    /// first in the verdict (see [`Excuser`]).
    pub fn attribute(&self, rule: &RuleMeta, raw: Raw) -> (Incident, Option<Excuser>) {
        let (lo, hi) = raw.closed_window();
        let Raw {
            kind,
            from,
            until,
            mut evidence,
            mut explanation,
            permit,
            ..
        } = raw;
        let mut party = rule.debtor;
        let mut excuse = None;
        let mut excuser = None;
        if let Some(p) = permit {
            // A permit decides before the excuses.
            party = p.party;
            evidence.push(p.seq);
            explanation.push_str(&p.note);
        } else {
            let mut decided = false;
            for &x in &rule.excuses {
                let (Some(cfg), Some(source)) = (self.excuses.get(x), self.sources.get(x)) else {
                    continue;
                };
                match source {
                    Source::Events {
                        events,
                        index,
                        notice,
                    } => {
                        let mut valid = Vec::new();
                        let mut refused = 0usize;
                        for i in index.overlapping(lo, hi) {
                            let Some(e) = events.get(i) else { continue };
                            if cfg.attribute == Party::External && !e.attestor {
                                refused += 1;
                                if refused > MAX_CITED {
                                    continue;
                                }
                                explanation.push_str(&format!(
                                    "; {} (seq {}) was emitted by {}, not an attestor: \
                                     excuse \"{}\" does not apply",
                                    e.kind, e.seq, e.actor, cfg.id
                                ));
                                continue;
                            }
                            if let Some(n) = notice {
                                let ahead = e.from.saturating_sub(e.time);
                                if ahead < *n {
                                    refused += 1;
                                    if refused > MAX_CITED {
                                        continue;
                                    }
                                    let when = if ahead >= 0 {
                                        format!("{} before", hours(ahead))
                                    } else {
                                        format!("{} after", hours(ahead.saturating_neg()))
                                    };
                                    explanation.push_str(&format!(
                                        "; {} notice (seq {}) logged {when} its start; {} required: \
                                         excuse \"{}\" does not apply",
                                        e.kind,
                                        e.seq,
                                        hours(*n),
                                        cfg.id
                                    ));
                                    continue;
                                }
                            }
                            valid.push(e);
                        }
                        if refused > MAX_CITED {
                            explanation.push_str(&format!(
                                "; {} more {} events do not apply either",
                                refused - MAX_CITED,
                                cfg.id
                            ));
                        }
                        // The first events that apply are cited and are
                        // evidence; the rest are counted (so that a flood of
                        // excuse events cannot make every incident's
                        // evidence as long as the flood).
                        let more = valid.len().saturating_sub(MAX_CITED);
                        valid.truncate(MAX_CITED);
                        if !valid.is_empty() {
                            let mut cited = valid
                                .iter()
                                .map(|e| {
                                    format!(
                                        "{} (seq {}) from {} to {}",
                                        e.kind,
                                        e.seq,
                                        format_rfc3339(e.from),
                                        format_rfc3339(e.until)
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", ");
                            if more > 0 {
                                cited.push_str(&format!(" and {more} more"));
                            }
                            evidence.extend(valid.iter().map(|e| e.seq));
                            explanation.push_str(&format!(
                                "; excuse \"{}\" applies: {cited}; so {}",
                                cfg.id,
                                fault(cfg.attribute)
                            ));
                            decided = true;
                        }
                    }
                    Source::Rule {
                        rule: named,
                        position,
                        raw,
                        index,
                    } => {
                        let hits = index.overlapping(lo, hi);
                        if !hits.is_empty() {
                            let mut cited = hits
                                .iter()
                                .take(MAX_CITED)
                                .filter_map(|&i| raw.get(i))
                                .map(|inc| {
                                    format!(
                                        "{} from {} to {}",
                                        inc.kind,
                                        format_rfc3339(inc.from),
                                        format_rfc3339(inc.until)
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", ");
                            if hits.len() > MAX_CITED {
                                cited.push_str(&format!(" and {} more", hits.len() - MAX_CITED));
                            }
                            // The excusing incident is referenced, not
                            // copied: its evidence stays its own. The
                            // candidates are the hits that start first (the
                            // verdict orders by start, then rule).
                            let first = hits
                                .iter()
                                .filter_map(|&i| raw.get(i).map(|inc| inc.from))
                                .min();
                            excuser = Some(Excuser {
                                rule: *position,
                                candidates: hits
                                    .iter()
                                    .copied()
                                    .filter(|&i| raw.get(i).map(|inc| inc.from) == first)
                                    .collect(),
                            });
                            explanation.push_str(&format!(
                                "; excuse \"{}\" applies: the incident overlaps rule \"{named}\" \
                                 {cited}; so {}",
                                cfg.id,
                                fault(cfg.attribute)
                            ));
                            decided = true;
                        }
                    }
                    Source::Nothing => {}
                }
                if decided {
                    party = cfg.attribute;
                    excuse = Some(cfg.id.clone());
                    break;
                }
            }
            if !decided && !rule.excuses.is_empty() {
                explanation.push_str(&format!("; no excuse applies, so {}", fault(rule.debtor)));
            }
        }
        evidence.sort_unstable();
        evidence.dedup();
        explanation.shrink_to_fit();
        evidence.shrink_to_fit();
        let incident = Incident {
            rule: rule.id.clone(),
            clause: rule.clause.clone(),
            kind,
            party,
            debtor: rule.debtor,
            excuse,
            from,
            until,
            evidence,
            explanation,
            excused_by: None,
        };
        (incident, excuser)
    }
}

/// Most excuse events or excusing incidents an explanation cites one by
/// one; the rest are counted.
const MAX_CITED: usize = 8;

/// The incidents of another rule that excused an incident, as positions
/// in that rule's raw incidents: those that start first. The verdict's
/// `excused_by` is whichever of them comes first in the sorted incident
/// list, decided once the list is sorted.
pub(crate) struct Excuser {
    /// The excusing rule's position in the contract.
    pub rule: usize,
    /// Positions in that rule's raw incidents.
    pub candidates: Vec<usize>,
}

/// How an explanation says who is at fault.
pub(crate) fn fault(party: Party) -> &'static str {
    match party {
        Party::Provider => "the provider is at fault",
        Party::User => "the user is at fault",
        Party::External => "an external factor is at fault",
        Party::None => "the incident is excused: nobody is at fault",
        Party::Inconclusive => "who is at fault is inconclusive",
    }
}

/// A notice duration as people read it (`"48 h"`, `"1 h 30 min"`).
fn hours(ns: i64) -> String {
    format_duration_human(ns)
}
