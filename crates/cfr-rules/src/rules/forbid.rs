//! `forbid`: every event of the forbidden kind (where `where` holds) is an
//! incident. A permit decides the party before the excuses: the most recent
//! earlier matching permit emitted by a party other than the debtor gives
//! the incident to that permit's emitter.

use super::{bump, holds, show, Outcome, Permitted, Raw};
use crate::plan::ForbidCfg;
use crate::verdict::Party;
use cfr_model::{Event, Value};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) struct ForbidState {
    cfg: ForbidCfg,
    debtor: Party,
    attestors: BTreeSet<String>,
    /// The most recent permit per match values: `(seq, actor)`.
    permits: BTreeMap<Vec<Value>, (u64, String)>,
    checked: u64,
    raw: Vec<Raw>,
}

impl ForbidState {
    pub fn new(cfg: ForbidCfg, debtor: Party, attestors: BTreeSet<String>) -> Self {
        ForbidState {
            cfg,
            debtor,
            attestors,
            permits: BTreeMap::new(),
            checked: 0,
            raw: Vec::new(),
        }
    }

    pub fn permit(&mut self, ev: &Event) {
        let Some((_, matching)) = &self.cfg.permit else {
            return;
        };
        if ev.actor == self.debtor.name() {
            return;
        }
        let key: Option<Vec<Value>> = matching
            .iter()
            .map(|(on_permit, _)| ev.attrs.get(on_permit).cloned())
            .collect();
        if let Some(key) = key {
            self.permits.insert(key, (ev.seq, ev.actor.clone()));
        }
    }

    pub fn event(&mut self, ev: &Event) {
        // Events the `where` leaves out are not checked at all.
        if !holds(&self.cfg.filter, &ev.attrs) {
            return;
        }
        bump(&mut self.checked);
        let mut evidence = vec![ev.seq];
        let mut explanation = format!("{} (seq {}", self.cfg.event, ev.seq);
        let mut permit = None;
        if self.cfg.permit.is_none() {
            explanation.push_str(&format!(") is forbidden: {}", self.cfg.incident));
        }
        if let Some((kind, matching)) = &self.cfg.permit {
            let key: Option<Vec<Value>> = matching
                .iter()
                .map(|(_, on_event)| ev.attrs.get(on_event).cloned())
                .collect();
            let what = matching
                .iter()
                .map(|(_, on_event)| match ev.attrs.get(on_event) {
                    Some(v) => format!("{on_event} {}", show(v)),
                    None => format!("no {on_event}"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            if !what.is_empty() {
                explanation.push_str(", ");
                explanation.push_str(&what);
            }
            explanation.push_str(&format!(") is forbidden: {}", self.cfg.incident));
            match key.as_ref().and_then(|k| self.permits.get(k)) {
                Some((seq, actor)) => {
                    let party = match actor.as_str() {
                        "provider" => Party::Provider,
                        "user" => Party::User,
                        a if self.attestors.contains(a) => Party::External,
                        _ => Party::Inconclusive,
                    };
                    evidence.push(*seq);
                    permit = Some(Permitted {
                        party,
                        seq: *seq,
                        note: format!(
                            "; permitted by {kind} (seq {seq}) emitted by {actor}, so {}",
                            crate::attribution::fault(party)
                        ),
                    });
                }
                None => explanation.push_str(&format!(
                    "; no earlier matching {kind} from a party other than the {}",
                    self.debtor
                )),
            }
        }
        let mut raw = Raw::closed(&self.cfg.incident, ev.time, ev.time, evidence, explanation);
        raw.permit = permit;
        self.raw.push(raw);
    }

    pub fn finish(self) -> Outcome {
        Outcome {
            raw: self.raw,
            checked: self.checked,
            fulfilled: 0,
            pending: 0,
        }
    }
}
