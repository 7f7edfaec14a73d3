//! `deadline`: every trigger gets a matching reply in time.
//!
//! Triggers are taken in seq order and each takes the first later matching
//! reply no earlier trigger took. Streaming, that is: a reply goes to the
//! earliest still-open trigger with the same match values (an open trigger
//! earlier than it would have taken it first).

use super::availability::{credit_text, period_of, row};
use super::{bump, holds, show, Outcome, Raw, Span};
use crate::plan::{DeadlineCfg, SlaCfg};
use crate::verdict::{Incident, Party, SlaMeasure, SlaPeriod};
use cfr_model::time::{format_duration_human as format_duration, format_rfc3339};
use cfr_model::time::{format_percent, format_percent3};
use cfr_model::{Event, Value};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Copy, Debug)]
struct Trigger {
    seq: u64,
    time: i64,
}

/// The open triggers of one match key, oldest first. Keys are usually
/// unique (request ids), so the first trigger is stored inline and only
/// repeats allocate.
struct Pending {
    first: Trigger,
    more: VecDeque<Trigger>,
}

/// Open triggers by match key.
struct Queues<K: Ord> {
    map: BTreeMap<K, Pending>,
}

impl<K: Ord> Queues<K> {
    fn new() -> Self {
        Queues {
            map: BTreeMap::new(),
        }
    }

    fn push(&mut self, key: K, t: Trigger) {
        match self.map.entry(key) {
            Entry::Vacant(v) => {
                v.insert(Pending {
                    first: t,
                    more: VecDeque::new(),
                });
            }
            Entry::Occupied(mut o) => o.get_mut().more.push_back(t),
        }
    }

    /// Takes the oldest open trigger of `key` (one tree search when the
    /// key has a single open trigger, the usual case).
    fn take<Q>(&mut self, key: &Q) -> Option<Trigger>
    where
        K: std::borrow::Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        let mut p = self.map.remove(key)?;
        let Some(next) = p.more.pop_front() else {
            return Some(p.first);
        };
        let oldest = std::mem::replace(&mut p.first, next);
        self.map.insert(key.to_owned(), p);
        Some(oldest)
    }

    fn drain(self) -> Vec<(K, Trigger)>
    where
        K: Clone,
    {
        let mut out = Vec::with_capacity(self.map.len());
        for (k, p) in self.map {
            for t in p.more {
                out.push((k.clone(), t));
            }
            out.push((k, p.first));
        }
        out
    }
}

/// Open triggers: keyed by the one match value (the usual case: no
/// allocation beyond the value itself), or by all of them.
enum Open {
    One(Queues<Value>),
    Many(Queues<Vec<Value>>),
}

pub(crate) struct DeadlineState {
    cfg: DeadlineCfg,
    open: Open,
    /// Triggers lacking a match attribute: no reply can ever match them.
    unmatchable: Vec<(Trigger, String)>,
    checked: u64,
    fulfilled: u64,
    raw: Vec<Raw>,
    /// With an `sla`: triggers fulfilled, by the start of their period.
    met: BTreeMap<i64, u64>,
}

impl DeadlineState {
    pub fn new(cfg: DeadlineCfg) -> Self {
        let open = if cfg.matching.len() == 1 {
            Open::One(Queues::new())
        } else {
            Open::Many(Queues::new())
        };
        DeadlineState {
            cfg,
            open,
            unmatchable: Vec::new(),
            checked: 0,
            fulfilled: 0,
            raw: Vec::new(),
            met: BTreeMap::new(),
        }
    }

    /// The rule's service level and its fulfilled triggers per period
    /// (call before [`DeadlineState::finish`]).
    pub fn take_sla(&mut self) -> Option<(SlaCfg, BTreeMap<i64, u64>)> {
        let sla = self.cfg.sla.take()?;
        Some((sla, std::mem::take(&mut self.met)))
    }

    pub fn trigger(&mut self, ev: &Event) {
        if !holds(&self.cfg.filter, &ev.attrs) {
            return;
        }
        bump(&mut self.checked);
        let t = Trigger {
            seq: ev.seq,
            time: ev.time,
        };
        // A match attribute missing on the trigger never matches.
        match &mut self.open {
            Open::One(q) => {
                let Some(name) = self.cfg.matching.first() else {
                    return;
                };
                match ev.attrs.get(name) {
                    Some(v) => q.push(v.clone(), t),
                    None => self.unmatchable.push((t, name.clone())),
                }
            }
            Open::Many(q) => {
                let mut key = Vec::with_capacity(self.cfg.matching.len());
                for name in &self.cfg.matching {
                    match ev.attrs.get(name) {
                        Some(v) => key.push(v.clone()),
                        None => {
                            self.unmatchable.push((t, name.clone()));
                            return;
                        }
                    }
                }
                q.push(key, t);
            }
        }
    }

    pub fn reply(&mut self, ev: &Event) {
        match &mut self.open {
            Open::One(q) => {
                let Some(v) = self.cfg.matching.first().and_then(|n| ev.attrs.get(n)) else {
                    return;
                };
                if let Some(t) = q.take(v) {
                    self.judge(t, ev, std::slice::from_ref(v));
                }
            }
            Open::Many(q) => {
                let mut key = Vec::with_capacity(self.cfg.matching.len());
                for name in &self.cfg.matching {
                    match ev.attrs.get(name) {
                        Some(v) => key.push(v.clone()),
                        None => return,
                    }
                }
                if let Some(t) = q.take(&key) {
                    self.judge(t, ev, &key);
                }
            }
        }
    }

    fn judge(&mut self, t: Trigger, r: &Event, key: &[Value]) {
        let cfg = &self.cfg;
        let took = r.time.saturating_sub(t.time);
        let until = t.time.saturating_add(cfg.within);
        let late = took > cfg.within;
        let passes_ok = match &cfg.ok {
            Some(ok) => ok.eval(&r.attrs),
            None => true,
        };
        if !late && passes_ok {
            bump(&mut self.fulfilled);
            if let Some(sla) = &cfg.sla {
                let start = period_of(sla.period, t.time).0;
                bump(self.met.entry(start).or_default());
            }
            return;
        }
        let head = format!(
            "{} (seq {}) answered by {} seq {} after {}",
            label(&cfg.trigger, key),
            t.seq,
            cfg.reply,
            r.seq,
            format_duration(took)
        );
        if late {
            self.raw.push(Raw::closed(
                "late_result",
                t.time,
                until,
                vec![t.seq, r.seq],
                format!("{head}; due within {}", format_duration(cfg.within)),
            ));
        } else {
            self.raw.push(Raw::closed(
                "erroneous_result",
                t.time,
                until,
                vec![t.seq, r.seq],
                format!(
                    "{head}, within {}, but the {} fails ok `{}`",
                    format_duration(cfg.within),
                    cfg.reply,
                    cfg.ok.as_ref().map_or(String::new(), |p| p.to_string())
                ),
            ));
        }
    }

    pub fn finish(self, span: &Span) -> Outcome {
        let DeadlineState {
            cfg,
            open,
            unmatchable,
            checked,
            fulfilled,
            mut raw,
            ..
        } = self;
        let (one, many) = match open {
            Open::One(q) => (q.drain(), Vec::new()),
            Open::Many(q) => (Vec::new(), q.drain()),
        };
        // Room for every open trigger at once: grown by doubling, the list
        // would leave its old copies behind in the analyzer, whose memory
        // never shrinks.
        raw.reserve_exact(one.len() + many.len() + unmatchable.len());
        let mut pending = 0u64;
        let last = span.last.map(|(t, _)| t);
        let mut judge = |t: Trigger, label: String| {
            let due = t.time.saturating_add(cfg.within);
            match last {
                Some(last) if last >= due => raw.push(Raw::closed(
                    "no_result",
                    t.time,
                    due,
                    vec![t.seq],
                    format!(
                        "{label} (seq {}) got no {}; due within {}, by {}, and the log runs until {}",
                        t.seq,
                        cfg.reply,
                        format_duration(cfg.within),
                        format_rfc3339(due),
                        format_rfc3339(last)
                    ),
                )),
                _ => bump(&mut pending),
            }
        };
        for (key, t) in one {
            judge(t, label(&cfg.trigger, std::slice::from_ref(&key)));
        }
        for (key, t) in many {
            judge(t, label(&cfg.trigger, &key));
        }
        for (t, missing) in unmatchable {
            judge(
                t,
                format!("{} without match attribute {missing:?}", cfg.trigger),
            );
        }
        Outcome {
            raw,
            checked,
            fulfilled,
            pending,
        }
    }
}

/// `request r-17`, `request eu-west/r-17`, or `request` without match attrs.
fn label(kind: &str, key: &[Value]) -> String {
    let mut s = kind.to_owned();
    for (i, v) in key.iter().enumerate() {
        s.push(if i == 0 { ' ' } else { '/' });
        s.push_str(&show(v));
    }
    s
}

/// The service level of a deadline rule with an `sla`: per period, from
/// the one holding the log's first event to the one holding its last, the
/// share of deadlines met, `fulfilled / (fulfilled + provider incidents)`
/// (pending triggers and incidents attributed to anyone else left out),
/// and an `sla_breach` per period below the target. `incidents` are the
/// rule's attributed incidents.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sla(
    sla: &SlaCfg,
    met: &BTreeMap<i64, u64>,
    span: &Span,
    rule: &str,
    clause: &str,
    debtor: Party,
    incidents: &[Incident],
) -> (Vec<SlaPeriod>, Vec<Incident>) {
    let mut periods = Vec::new();
    let mut breaches = Vec::new();
    let (Some((first, _)), Some((last, _))) = (span.first, span.last) else {
        return (periods, breaches);
    };
    // Provider incidents by the start of their trigger's period.
    let mut against: BTreeMap<i64, Vec<&Incident>> = BTreeMap::new();
    for i in incidents.iter().filter(|i| i.party == Party::Provider) {
        against
            .entry(period_of(sla.period, i.from).0)
            .or_default()
            .push(i);
    }
    let mut at = first;
    loop {
        let (start, end, label) = period_of(sla.period, at);
        let fulfilled = met.get(&start).copied().unwrap_or(0);
        let bad = against.get(&start).map_or(&[][..], |v| v.as_slice());
        let counted = u128::from(fulfilled) + bad.len() as u128;
        // No counted trigger: 100 %.
        let level = (u128::from(fulfilled) * 1_000_000)
            .checked_div(counted)
            .map_or(1_000_000, |l| u32::try_from(l).unwrap_or(1_000_000));
        let (row, credit, amount) = row(sla, SlaMeasure::Met, rule, label.clone(), level);
        if row.breached {
            let mut evidence: Vec<u64> = bad
                .iter()
                .flat_map(|i| i.evidence.iter().copied())
                .collect();
            evidence.sort_unstable();
            evidence.dedup();
            breaches.push(Incident {
                rule: rule.to_owned(),
                clause: clause.to_owned(),
                kind: "sla_breach".to_owned(),
                party: debtor,
                debtor,
                excuse: None,
                from: start,
                until: end,
                evidence,
                excused_by: None,
                explanation: format!(
                    "{} of deadlines met in period {label} ({fulfilled} met of {counted} counted; \
                     {} late, missing or erroneous results the provider is at fault for) is below \
                     the {} target; {}",
                    format_percent3(level),
                    bad.len(),
                    format_percent(sla.target_ppm),
                    credit_text(sla, credit, &amount)
                ),
            });
        }
        periods.push(row);
        if end > last || end == i64::MAX {
            break;
        }
        at = end;
    }
    (periods, breaches)
}
