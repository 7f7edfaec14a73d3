//! The streaming engine: events in, verdict out.

use crate::attribution::{Attributor, ExcuseEvent, Excuser};
use crate::error::{EngineError, FeedError};
use crate::plan::{Hook, Hooks, Plan, Role, RuleCfg, RuleMeta, SourceCfg};
use crate::rules::availability::{self, AvailabilityState, Finished};
use crate::rules::deadline::{self, DeadlineState};
use crate::rules::forbid::ForbidState;
use crate::rules::heartbeat::HeartbeatState;
use crate::rules::integrity::IntegrityState;
use crate::rules::rate::RateState;
use crate::rules::{Outcome, Raw, Span};
use crate::verdict::{Incident, LogSpan, RuleStats, Totals, Verdict};
use cfr_contract::Contract;
use cfr_model::{Event, EventReader, EventSeq, Value};
use std::collections::BTreeSet;

enum RuleState {
    Deadline(DeadlineState),
    Forbid(ForbidState),
    Integrity(IntegrityState),
    Rate(RateState),
    Availability(AvailabilityState),
    Heartbeat(HeartbeatState),
}

impl RuleState {
    fn on(&mut self, role: Role, ev: &Event) {
        match (self, role) {
            (RuleState::Deadline(s), Role::Reply) => s.reply(ev),
            (RuleState::Deadline(s), Role::Trigger) => s.trigger(ev),
            (RuleState::Forbid(s), Role::Forbidden) => s.event(ev),
            (RuleState::Forbid(s), Role::Permit) => s.permit(ev),
            (RuleState::Integrity(s), Role::Read) => s.read(ev),
            (RuleState::Integrity(s), Role::Write) => s.write(ev),
            (RuleState::Integrity(s), Role::Delete) => s.delete(ev),
            (RuleState::Rate(s), Role::Count) => s.event(ev),
            (RuleState::Availability(s), Role::Probe) => s.probe(ev),
            (RuleState::Heartbeat(s), Role::Beat) => s.beat(ev),
            // The plan only pairs a rule with its own roles.
            _ => {}
        }
    }
}

/// The rule engine: judges one log under one contract.
///
/// Feed the events in seq order with [`Engine::push`], then call
/// [`Engine::finish`]. The engine keeps only open state (pending
/// triggers, the integrity key map, rate windows, the current availability
/// window, excuse intervals, permits, incidents found), never the log, and
/// is deterministic: the same events always give the same verdict,
/// whatever the chunking of the calls.
pub struct Engine {
    contract: String,
    rules: Vec<RuleMeta>,
    states: Vec<RuleState>,
    excuses: Vec<crate::plan::ExcuseCfg>,
    excuse_events: Vec<Vec<ExcuseEvent>>,
    attestors: BTreeSet<String>,
    hooks: Hooks,
    span: Span,
    /// The shortest service-level period, ns, if any rule has one.
    min_period: Option<i64>,
    /// The event [`Engine::feed`] decodes into, reused.
    reader: EventReader,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("contract", &self.contract)
            .field("rules", &self.rules.len())
            .field("events", &self.span.events)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine for `contract`. The contract is expected to have passed
    /// its own check (references resolve, no excuse cycles, durations
    /// positive); the engine never panics on one that did not, but may then
    /// judge it in ways the contract check would have refused.
    pub fn new(contract: &Contract) -> Engine {
        let plan = Plan::new(contract);
        let mut rules = Vec::with_capacity(plan.rules.len());
        let mut states = Vec::with_capacity(plan.rules.len());
        for (meta, cfg) in plan.rules {
            let state = match cfg {
                RuleCfg::Deadline(c) => RuleState::Deadline(DeadlineState::new(c)),
                RuleCfg::Forbid(c) => {
                    RuleState::Forbid(ForbidState::new(c, meta.debtor, plan.attestors.clone()))
                }
                RuleCfg::Integrity(c) => {
                    let (w, r) = kinds_of_integrity(contract, &meta.id);
                    RuleState::Integrity(IntegrityState::new(c, w, r))
                }
                RuleCfg::Rate(c) => RuleState::Rate(RateState::new(c)),
                RuleCfg::Availability(c) => RuleState::Availability(AvailabilityState::new(c)),
                RuleCfg::Heartbeat(c) => RuleState::Heartbeat(HeartbeatState::new(c, meta.debtor)),
            };
            rules.push(meta);
            states.push(state);
        }
        Engine {
            contract: plan.contract,
            rules,
            states,
            excuse_events: plan.excuses.iter().map(|_| Vec::new()).collect(),
            excuses: plan.excuses,
            attestors: plan.attestors,
            hooks: plan.hooks,
            span: Span::default(),
            min_period: contract.min_sla_period_ns(),
            reader: EventReader::new(),
        }
    }

    /// Number of events accepted so far.
    pub fn events(&self) -> u64 {
        self.span.events
    }

    /// Judges the next event of the log.
    ///
    /// Events must come in strictly increasing seq order with
    /// non-decreasing times; anything else is refused with an
    /// [`EngineError`] and leaves the engine unchanged. Gaps between seqs
    /// are allowed (an excerpt's log has them); see [`EngineError`].
    pub fn push(&mut self, ev: &Event) -> Result<(), EngineError> {
        if let Some((time, seq)) = self.span.last {
            if ev.seq <= seq {
                return Err(EngineError::SeqNotIncreasing {
                    previous: seq,
                    found: ev.seq,
                });
            }
            if ev.time < time {
                return Err(EngineError::TimeBackwards {
                    seq: ev.seq,
                    time: ev.time,
                    previous: time,
                });
            }
        }
        if self.span.first.is_none() {
            self.span.first = Some((ev.time, ev.seq));
            for s in &mut self.states {
                if let RuleState::Heartbeat(h) = s {
                    h.start(ev);
                }
            }
        }
        if let (Some(p), Some((first, _))) = (self.min_period, self.span.first) {
            let periods = ev.time.saturating_sub(first) / p;
            if periods > cfr_contract::MAX_SLA_PERIODS {
                return Err(EngineError::TooManyPeriods {
                    seq: ev.seq,
                    periods,
                });
            }
        }
        self.span.last = Some((ev.time, ev.seq));
        self.span.events = self.span.events.saturating_add(1);
        if let Some(hooks) = self.hooks.get(ev.kind.as_str()) {
            for hook in hooks {
                match *hook {
                    Hook::Rule(i, role) => {
                        if let Some(s) = self.states.get_mut(i) {
                            s.on(role, ev);
                        }
                    }
                    Hook::Excuse(x) => {
                        if let (Some(cfg), Some(list)) =
                            (self.excuses.get(x), self.excuse_events.get_mut(x))
                        {
                            if let Some(e) = excuse_event(cfg, &self.attestors, ev) {
                                list.push(e);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Judges a chunk of encoded events: an RFC 8742 CBOR sequence of
    /// canonical events, as a bundle's log chunks hold them. Each event is
    /// decoded into one event that the engine reuses, so a log is judged
    /// without an allocation per event, and [`Engine::push`] judges it.
    /// Stops at the first event that does not decode or that the engine
    /// refuses; the events before it are judged.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), FeedError> {
        let mut events = EventSeq::new(chunk);
        let mut reader = std::mem::take(&mut self.reader);
        let judged = loop {
            let offset = events.position();
            let ev = match reader.next(&mut events) {
                None => break Ok(()),
                Some(Ok((ev, _))) => ev,
                Some(Err(error)) => break Err(FeedError::Event { offset, error }),
            };
            if let Err(e) = self.push(ev) {
                break Err(FeedError::Engine(e));
            }
        };
        self.reader = reader;
        judged
    }

    /// Ends the log: decides pending triggers, closes open windows,
    /// attributes every incident and computes the service levels.
    pub fn finish(self) -> Verdict {
        let Engine {
            contract,
            rules,
            states,
            excuses,
            excuse_events,
            span,
            ..
        } = self;
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(states.len());
        let mut availability_cfgs: Vec<(usize, Finished)> = Vec::new();
        let mut deadline_slas = Vec::new();
        for (i, s) in states.into_iter().enumerate() {
            outcomes.push(match s {
                RuleState::Deadline(mut s) => {
                    if let Some(sla) = s.take_sla() {
                        deadline_slas.push((i, sla));
                    }
                    s.finish(&span)
                }
                RuleState::Forbid(s) => s.finish(),
                RuleState::Integrity(s) => s.finish(),
                RuleState::Rate(s) => s.finish(),
                RuleState::Availability(s) => {
                    let (o, cfg) = s.finish(&span);
                    availability_cfgs.push((i, cfg));
                    o
                }
                RuleState::Heartbeat(s) => s.finish(&span),
            });
        }
        let mut raws: Vec<Vec<Raw>> = Vec::with_capacity(outcomes.len());
        let mut stats: Vec<RuleStats> = Vec::with_capacity(outcomes.len());
        for (meta, o) in rules.iter().zip(outcomes) {
            stats.push(RuleStats {
                rule: meta.id.clone(),
                checked: o.checked,
                fulfilled: o.fulfilled,
                pending: o.pending,
                incidents: o.raw.len() as u64,
            });
            raws.push(o.raw);
        }
        // `down_for`: each qualifying run splits into sub-runs of windows
        // with the same party and excuse, which become the rule's
        // incidents (also for rule-based excuses naming it: they cover
        // exactly the run windows the per-window incidents covered, so the
        // split does not depend on which form other rules see).
        if availability_cfgs.iter().any(|(_, f)| !f.runs.is_empty()) {
            let attributor = Attributor::new(&excuses, &excuse_events, &rules, &raws);
            let mut split = Vec::new();
            for (i, f) in &availability_cfgs {
                if f.cfg.run_windows.is_none() {
                    continue;
                }
                let (Some(meta), Some(raw)) = (rules.get(*i), raws.get(*i)) else {
                    continue;
                };
                split.push((*i, sub_runs(&attributor, meta, &f.cfg, raw, &f.runs)));
            }
            drop(attributor);
            for (i, list) in split {
                if let Some(st) = stats.get_mut(i) {
                    st.incidents = list.len() as u64;
                }
                if let Some(r) = raws.get_mut(i) {
                    *r = list;
                }
            }
        }
        let counts: Vec<usize> = raws.iter().map(Vec::len).collect();
        // The attributor reads the raw incidents of the rules that
        // rule-based excuses name, so those are copied into incidents.
        // Every other rule's are moved, so that the log's incidents are
        // not held twice while they are attributed.
        let moved: Vec<Vec<Raw>> = raws
            .iter_mut()
            .enumerate()
            .map(|(r, raw)| {
                let read = excuses
                    .iter()
                    .any(|x| matches!(x.source, SourceCfg::Rule(Some(s)) if s == r));
                if read {
                    Vec::new()
                } else {
                    std::mem::take(raw)
                }
            })
            .collect();
        let attributor = Attributor::new(&excuses, &excuse_events, &rules, &raws);
        // Incidents excused by another rule's incident: (rule, position
        // in its raw incidents, the excusing candidates).
        let mut excused: Vec<(usize, usize, Excuser)> = Vec::new();
        let mut per_rule: Vec<Vec<Incident>> = Vec::with_capacity(rules.len());
        for (r, (meta, owned)) in rules.iter().zip(moved).enumerate() {
            // One of the two is empty.
            let read = raws.get(r).map_or(&[][..], Vec::as_slice);
            let mut list = Vec::with_capacity(owned.len() + read.len());
            for (k, x) in owned.into_iter().chain(read.iter().cloned()).enumerate() {
                let (incident, excuser) = attributor.attribute(meta, x);
                if let Some(e) = excuser {
                    excused.push((r, k, e));
                }
                list.push(incident);
            }
            per_rule.push(list);
        }
        // A mean error rate's failing windows, attributed as an incident
        // over the window would be.
        let failing_party: Vec<Vec<crate::verdict::Party>> = availability_cfgs
            .iter()
            .map(|(i, f)| {
                let Some(meta) = rules.get(*i) else {
                    return Vec::new();
                };
                f.failing
                    .iter()
                    .map(|w| {
                        let probe = Raw {
                            kind: "unavailable".to_owned(),
                            from: w.start,
                            until: w.start.saturating_add(f.cfg.window),
                            half_open: true,
                            evidence: Vec::new(),
                            explanation: String::new(),
                            permit: None,
                        };
                        attributor.attribute(meta, probe).0.party
                    })
                    .collect()
            })
            .collect();
        drop(attributor);
        drop(raws);
        // Service levels, in rule order.
        let mut slas: Vec<(usize, usize, bool)> = availability_cfgs
            .iter()
            .enumerate()
            .map(|(k, (i, _))| (*i, k, true))
            .chain(
                deadline_slas
                    .iter()
                    .enumerate()
                    .map(|(k, (i, _))| (*i, k, false)),
            )
            .collect();
        slas.sort_unstable();
        let mut sla = Vec::new();
        for (i, k, is_availability) in slas {
            let (Some(meta), Some(incidents)) = (rules.get(i), per_rule.get_mut(i)) else {
                continue;
            };
            let (periods, breaches) = if is_availability {
                let Some((_, f)) = availability_cfgs.get(k) else {
                    continue;
                };
                let parties = failing_party.get(k).map_or(&[][..], |v| v.as_slice());
                let out = availability::sla(
                    &f.cfg,
                    &span,
                    &meta.id,
                    &meta.clause,
                    meta.debtor,
                    incidents,
                    &f.failing,
                    parties,
                );
                if let Some(st) = stats.get_mut(i) {
                    st.incidents = st.incidents.saturating_add(out.1.len() as u64);
                }
                out
            } else {
                let Some((_, (cfg, met))) = deadline_slas.get(k) else {
                    continue;
                };
                // The stats count trigger outcomes only: the breach is in
                // the incident list and the totals.
                deadline::sla(
                    cfg,
                    met,
                    &span,
                    &meta.id,
                    &meta.clause,
                    meta.debtor,
                    incidents,
                )
            };
            incidents.extend(breaches);
            sla.extend(periods);
        }
        // At its length: a vector grown by doubling would leave its old
        // copies behind in the analyzer, whose memory never shrinks.
        let mut incidents: Vec<(usize, usize, Incident)> =
            Vec::with_capacity(per_rule.iter().map(Vec::len).sum());
        for (i, v) in per_rule.into_iter().enumerate() {
            incidents.extend(v.into_iter().enumerate().map(|(k, inc)| (i, k, inc)));
        }
        // Sorted through their indices: a stable sort of the incidents
        // themselves would take scratch room for a copy of them all, which
        // in the analyzer would stay behind. Ties keep the flat order,
        // as that sort keeps it.
        let mut order: Vec<usize> = (0..incidents.len()).collect();
        order.sort_by(|&x, &y| match (incidents.get(x), incidents.get(y)) {
            (Some((ra, _, a)), Some((rb, _, b))) => a
                .from
                .cmp(&b.from)
                .then(ra.cmp(rb))
                .then_with(|| a.evidence.cmp(&b.evidence))
                .then(a.until.cmp(&b.until))
                .then_with(|| a.kind.cmp(&b.kind))
                .then_with(|| a.explanation.cmp(&b.explanation)),
            _ => x.cmp(&y),
        });
        // Where each rule's incidents end up, so that an excused
        // incident can name its excuser by its place in the verdict.
        let mut place: Vec<Vec<usize>> = counts.iter().map(|&n| vec![0; n]).collect();
        for (n, &i) in order.iter().enumerate() {
            if let Some((r, k, _)) = incidents.get(i) {
                if let Some(p) = place.get_mut(*r).and_then(|v| v.get_mut(*k)) {
                    *p = n;
                }
            }
        }
        permute(&mut incidents, order);
        for (r, k, e) in excused {
            let Some(&at) = place.get(r).and_then(|v| v.get(k)) else {
                continue;
            };
            let by = e
                .candidates
                .iter()
                .filter_map(|&c| place.get(e.rule).and_then(|v| v.get(c)).copied())
                .min();
            if let Some((_, _, inc)) = incidents.get_mut(at) {
                inc.excused_by = by;
            }
        }
        let mut totals = Totals::default();
        for (_, _, inc) in &incidents {
            totals.add(inc.party);
        }
        Verdict {
            contract,
            log: LogSpan {
                events: span.events,
                from: span.first.map(|(t, _)| t),
                until: span.last.map(|(t, _)| t),
            },
            incidents: incidents.into_iter().map(|(_, _, i)| i).collect(),
            rules: stats,
            sla,
            totals,
        }
    }
}

/// Reorders `items` in place so that `items[n]` is the item that was at
/// `order[n]`, where `order` is a permutation of `0..items.len()`: each
/// cycle of the permutation is followed once, so that no second copy of
/// the items is made.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..order.len() {
        let mut i = start;
        // `order[i] == i` marks a place already filled.
        while let Some(slot) = order.get_mut(i) {
            let from = std::mem::replace(slot, i);
            if from == start || from >= items.len() {
                break;
            }
            items.swap(i, from);
            i = from;
        }
    }
}

/// Splits the qualifying runs of a `down_for` rule into sub-runs: maximal
/// stretches of consecutive windows that the excuses give the same party
/// and excuse. Each becomes one raw incident `[first start, last end)`
/// whose evidence is the union of its windows' events.
fn sub_runs(
    attributor: &Attributor<'_>,
    meta: &RuleMeta,
    cfg: &crate::plan::AvailabilityCfg,
    windows: &[Raw],
    runs: &[(usize, usize)],
) -> Vec<Raw> {
    use cfr_model::time::{format_duration_human, format_percent};
    let mut out = Vec::new();
    for &(first, len) in runs {
        let Some(run) = windows.get(first..first.saturating_add(len)) else {
            continue;
        };
        let (Some(run_first), Some(run_last)) = (run.first(), run.last()) else {
            continue;
        };
        let decided: Vec<(crate::verdict::Party, Option<String>)> = run
            .iter()
            .map(|w| {
                let (inc, _) = attributor.attribute(meta, w.clone());
                (inc.party, inc.excuse)
            })
            .collect();
        let mut k = 0;
        while k < run.len() {
            let mut end = k + 1;
            while end < run.len() && decided.get(end) == decided.get(k) {
                end += 1;
            }
            let part = &run[k..end];
            let (from, until) = (part[0].from, part[part.len() - 1].until);
            let mut evidence: Vec<u64> = part
                .iter()
                .flat_map(|w| w.evidence.iter().copied())
                .collect();
            evidence.sort_unstable();
            evidence.dedup();
            let events = evidence.len() as u64;
            out.push(Raw {
                kind: "unavailable".to_owned(),
                from,
                until,
                half_open: true,
                explanation: format!(
                    "down from {} to {} ({} consecutive windows of {}, each with more than {} of \
                     its {} events failing; {events} events in all), in a run of down windows \
                     from {} to {} ({}); runs of at least {} count",
                    cfr_model::time::format_rfc3339(from),
                    cfr_model::time::format_rfc3339(until),
                    part.len(),
                    format_duration_human(cfg.window),
                    format_percent(cfg.down_when_ppm.unwrap_or(0)),
                    cfg.event,
                    cfr_model::time::format_rfc3339(run_first.from),
                    cfr_model::time::format_rfc3339(run_last.until),
                    format_duration_human(run_last.until.saturating_sub(run_first.from)),
                    format_duration_human(
                        i64::try_from(cfg.run_windows.unwrap_or(1))
                            .unwrap_or(i64::MAX)
                            .saturating_mul(cfg.window)
                    ),
                ),
                evidence,
                permit: None,
            });
            k = end;
        }
    }
    out
}

/// The write and read kinds of integrity rule `id`, for explanations.
fn kinds_of_integrity(contract: &Contract, id: &str) -> (String, String) {
    contract
        .rules
        .iter()
        .find(|r| r.id == id)
        .and_then(|r| match &r.kind {
            cfr_contract::RuleKind::Integrity(g) => {
                Some((g.write.event.clone(), g.read.event.clone()))
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// The interval an excuse event claims, or `None` when it is ignored (a
/// `from`/`until` attribute missing or not a time, or `until < from`).
fn excuse_event(
    cfg: &crate::plan::ExcuseCfg,
    attestors: &BTreeSet<String>,
    ev: &Event,
) -> Option<ExcuseEvent> {
    let SourceCfg::Event { from, until, .. } = &cfg.source else {
        return None;
    };
    let at = |name: &Option<String>| match name {
        None => Some(ev.time),
        Some(n) => match ev.attrs.get(n) {
            Some(Value::Int(t)) => Some(*t),
            _ => None,
        },
    };
    let (from, until) = (at(from)?, at(until)?);
    if until < from {
        return None;
    }
    Some(ExcuseEvent {
        seq: ev.seq,
        time: ev.time,
        kind: ev.kind.clone(),
        actor: ev.actor.clone(),
        attestor: attestors.contains(&ev.actor),
        from,
        until,
    })
}

/// Judges a whole log: [`Engine::new`], [`Engine::push`] for each event,
/// [`Engine::finish`].
pub fn analyze(
    contract: &Contract,
    events: impl IntoIterator<Item = Event>,
) -> Result<Verdict, EngineError> {
    let mut engine = Engine::new(contract);
    for ev in events {
        engine.push(&ev)?;
    }
    Ok(engine.finish())
}

#[cfg(test)]
mod tests {
    use super::permute;

    /// What `permute` must give: the items taken in `order`.
    fn taken(items: &[u32], order: &[usize]) -> Vec<u32> {
        order
            .iter()
            .filter_map(|&i| items.get(i).copied())
            .collect()
    }

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let mut orders: Vec<Vec<usize>> = vec![
            vec![],
            vec![0],
            vec![0, 1, 2, 3],
            vec![3, 2, 1, 0],
            vec![1, 2, 3, 4, 0],
            vec![4, 0, 1, 2, 3],
            vec![1, 0, 3, 2, 5, 4],
            vec![2, 0, 1, 5, 3, 4, 6],
        ];
        // Fisher-Yates shuffles of every length to 200, by a fixed LCG.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for n in 1..200 {
            let mut o: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                o.swap(i, (x >> 33) as usize % (i + 1));
            }
            orders.push(o);
        }
        for order in orders {
            let items: Vec<u32> = (0..order.len() as u32).map(|i| i * 7 + 1).collect();
            let want = taken(&items, &order);
            let mut got = items.clone();
            permute(&mut got, order.clone());
            assert_eq!(got, want, "order {order:?}");
        }
    }
}
