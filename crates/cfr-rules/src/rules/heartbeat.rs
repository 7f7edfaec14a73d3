//! `heartbeat`: the debtor's events of one kind come at least every
//! `every`, from the log's first event to its last.

use super::{bump, Outcome, Raw, Span};
use crate::plan::HeartbeatCfg;
use crate::verdict::Party;
use cfr_model::time::{format_duration_human as format_duration, format_rfc3339};
use cfr_model::Event;

pub(crate) struct HeartbeatState {
    cfg: HeartbeatCfg,
    debtor: Party,
    /// `(time, seq)` of the last point: the log's first event, then each beat.
    previous: Option<(i64, u64)>,
    checked: u64,
    raw: Vec<Raw>,
}

impl HeartbeatState {
    pub fn new(cfg: HeartbeatCfg, debtor: Party) -> Self {
        HeartbeatState {
            cfg,
            debtor,
            previous: None,
            checked: 0,
            raw: Vec::new(),
        }
    }

    /// The log's first event opens the first gap.
    pub fn start(&mut self, ev: &Event) {
        self.previous = Some((ev.time, ev.seq));
    }

    pub fn beat(&mut self, ev: &Event) {
        // Only the debtor's own events of the kind count.
        if ev.actor != self.debtor.name() {
            return;
        }
        self.gap((ev.time, ev.seq), false);
    }

    fn gap(&mut self, next: (i64, u64), end_of_log: bool) {
        let Some(prev) = self.previous.replace(next) else {
            return;
        };
        // A zero-length pair (the log's first event is itself a beat, or
        // the last beat is the log's last event) is examined too: checked =
        // beats + 1 for a non-empty log.
        bump(&mut self.checked);
        let gap = next.0.saturating_sub(prev.0);
        if gap <= self.cfg.every {
            return;
        }
        let what = |seq: u64, is_end: bool| {
            if seq == 0 && !is_end {
                format!("the log's first event (seq {seq})")
            } else if is_end {
                format!("the log's last event (seq {seq})")
            } else {
                format!("{} seq {seq}", self.cfg.event)
            }
        };
        let explanation = format!(
            "no {} from the {} for {} between {} at {} and {} at {}; due every {}",
            self.cfg.event,
            self.debtor,
            format_duration(gap),
            what(prev.1, false),
            format_rfc3339(prev.0),
            what(next.1, end_of_log),
            format_rfc3339(next.0),
            format_duration(self.cfg.every)
        );
        let mut evidence = vec![prev.1, next.1];
        evidence.dedup();
        self.raw.push(Raw::closed(
            "missing_evidence",
            prev.0,
            next.0,
            evidence,
            explanation,
        ));
    }

    pub fn finish(mut self, span: &Span) -> Outcome {
        if let Some(last) = span.last {
            self.gap(last, true);
        }
        let incidents = self.raw.len() as u64;
        Outcome {
            raw: self.raw,
            checked: self.checked,
            fulfilled: self.checked.saturating_sub(incidents),
            pending: 0,
        }
    }
}
