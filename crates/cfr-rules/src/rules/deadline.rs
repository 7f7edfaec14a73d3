//! `deadline`: every trigger gets a matching reply in time.
//!
//! Triggers are taken in seq order and each takes the first later matching
//! reply no earlier trigger took. Streaming, that is: a reply goes to the
//! earliest still-open trigger with the same match values (an open trigger
//! earlier than it would have taken it first).

use super::{bump, holds, show, Outcome, Raw, Span};
use crate::plan::DeadlineCfg;
use cfr_model::time::{format_duration, format_rfc3339};
use cfr_model::{Event, Value};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Copy, Debug)]
struct Trigger {
    seq: u64,
    time: i64,
}

pub(crate) struct DeadlineState {
    cfg: DeadlineCfg,
    /// Open triggers by match values, oldest first.
    open: BTreeMap<Vec<Value>, VecDeque<Trigger>>,
    /// Triggers lacking a match attribute: no reply can ever match them.
    unmatchable: Vec<(Trigger, String)>,
    checked: u64,
    fulfilled: u64,
    raw: Vec<Raw>,
}

impl DeadlineState {
    pub fn new(cfg: DeadlineCfg) -> Self {
        DeadlineState {
            cfg,
            open: BTreeMap::new(),
            unmatchable: Vec::new(),
            checked: 0,
            fulfilled: 0,
            raw: Vec::new(),
        }
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
        self.open.entry(key).or_default().push_back(t);
    }

    pub fn reply(&mut self, ev: &Event) {
        // One match attribute (the usual case) needs no allocation.
        let owned;
        let key: &[Value] = if let [name] = self.cfg.matching.as_slice() {
            match ev.attrs.get(name) {
                Some(v) => std::slice::from_ref(v),
                None => return,
            }
        } else {
            let mut k = Vec::with_capacity(self.cfg.matching.len());
            for name in &self.cfg.matching {
                match ev.attrs.get(name) {
                    Some(v) => k.push(v.clone()),
                    None => return,
                }
            }
            owned = k;
            &owned
        };
        let Some(queue) = self.open.get_mut(key) else {
            return;
        };
        let Some(t) = queue.pop_front() else {
            return;
        };
        if queue.is_empty() {
            self.open.remove(key);
        }
        self.judge(t, ev, key);
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
        } = self;
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
        for (key, queue) in &open {
            for t in queue {
                judge(*t, label(&cfg.trigger, key));
            }
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
