//! `rate`: at most `max` matching events in any `(t - per, t]`.
//!
//! The count is a function of time: it rises at each event and falls at
//! `e + per` for each event `e`. A violation starts at an event that makes
//! the count exceed `max` and ends at the first instant the count is `max`
//! or less, even when no event falls at that instant.

use super::{bump, holds, Outcome, Raw};
use crate::plan::RateCfg;
use cfr_model::time::{format_duration_human as format_duration, format_rfc3339};
use cfr_model::Event;
use std::collections::VecDeque;

struct Violation {
    first: (i64, u64),
    last: (i64, u64),
    /// Matching events in `(first - per, last]`, in seq order.
    evidence: Vec<u64>,
    peak: u64,
}

pub(crate) struct RateState {
    cfg: RateCfg,
    /// `(time, seq)` of the matching events that may still count.
    recent: VecDeque<(i64, u64)>,
    violation: Option<Violation>,
    checked: u64,
    violating: u64,
    raw: Vec<Raw>,
}

impl RateState {
    pub fn new(cfg: RateCfg) -> Self {
        RateState {
            cfg,
            recent: VecDeque::new(),
            violation: None,
            checked: 0,
            violating: 0,
            raw: Vec::new(),
        }
    }

    /// The first instant at or after the latest event when the count is
    /// `max` or less (with no further events): the `(n - max)`-th oldest
    /// recent event leaves the window then.
    fn relief(&self) -> i64 {
        let n = self.recent.len() as u64;
        match n.checked_sub(self.cfg.max) {
            Some(excess) if excess > 0 => {
                let idx = (excess - 1) as usize;
                self.recent
                    .get(idx)
                    .map_or(i64::MIN, |(t, _)| t.saturating_add(self.cfg.per))
            }
            _ => i64::MIN,
        }
    }

    pub fn event(&mut self, ev: &Event) {
        if !holds(&self.cfg.filter, &ev.attrs) {
            return;
        }
        bump(&mut self.checked);
        let t = ev.time;
        if self.violation.is_some() {
            let end = self.relief();
            if t > end {
                self.close(end);
            }
        }
        let horizon = t.saturating_sub(self.cfg.per);
        while self.recent.front().is_some_and(|(e, _)| *e <= horizon) {
            self.recent.pop_front();
        }
        self.recent.push_back((t, ev.seq));
        let count = self.recent.len() as u64;
        if count <= self.cfg.max {
            return;
        }
        bump(&mut self.violating);
        match &mut self.violation {
            Some(v) => {
                v.last = (t, ev.seq);
                v.evidence.push(ev.seq);
                v.peak = v.peak.max(count);
            }
            None => {
                self.violation = Some(Violation {
                    first: (t, ev.seq),
                    last: (t, ev.seq),
                    evidence: self.recent.iter().map(|(_, s)| *s).collect(),
                    peak: count,
                })
            }
        }
    }

    fn close(&mut self, end: i64) {
        let Some(v) = self.violation.take() else {
            return;
        };
        let cfg = &self.cfg;
        let span = if v.first.1 == v.last.1 {
            format!("at seq {} ({})", v.first.1, format_rfc3339(v.first.0))
        } else {
            format!(
                "from seq {} ({}) to seq {} ({})",
                v.first.1,
                format_rfc3339(v.first.0),
                v.last.1,
                format_rfc3339(v.last.0)
            )
        };
        let explanation = format!(
            "{} {} events within {} (max {}) {span}; back to {} or fewer at {}",
            v.peak,
            cfg.event,
            format_duration(cfg.per),
            cfg.max,
            cfg.max,
            format_rfc3339(end)
        );
        self.raw.push(Raw::closed(
            "quota_exceeded",
            v.first.0,
            v.last.0.saturating_add(cfg.per),
            v.evidence,
            explanation,
        ));
    }

    pub fn finish(mut self) -> Outcome {
        if self.violation.is_some() {
            let end = self.relief();
            self.close(end);
        }
        Outcome {
            raw: self.raw,
            checked: self.checked,
            fulfilled: self.checked.saturating_sub(self.violating),
            pending: 0,
        }
    }
}
