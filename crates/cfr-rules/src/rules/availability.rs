//! `availability`: epoch-aligned windows, down when too many probes fail;
//! periods (calendar months or epoch-aligned durations) whose uptime falls
//! below the target.
//!
//! While streaming, only the current window is open. Down windows become
//! `unavailable` incidents, attributed through the excuses like any other;
//! the uptime of each period is computed afterwards from the windows that
//! were attributed to the provider ([`sla`]).

use super::{bump, Outcome, Raw, Span};
use crate::plan::{AvailabilityCfg, PeriodCfg};
use crate::verdict::{Incident, Party, SlaPeriod};
use cfr_model::time::{
    civil_from_days, days_from_civil, format_percent, format_percent3, format_rfc3339, NS_PER_DAY,
};
use cfr_model::Event;

struct Window {
    start: i64,
    total: u64,
    failed: u64,
    seqs: Vec<u64>,
}

pub(crate) struct AvailabilityState {
    cfg: AvailabilityCfg,
    current: Option<Window>,
    raw: Vec<Raw>,
}

/// Start of the window of length `len` holding `t`.
pub(crate) fn align(t: i64, len: i64) -> i64 {
    // len >= 1 (the plan clamps it); div_euclid rounds towards -inf.
    t.div_euclid(len).saturating_mul(len)
}

impl AvailabilityState {
    pub fn new(cfg: AvailabilityCfg) -> Self {
        AvailabilityState {
            cfg,
            current: None,
            raw: Vec::new(),
        }
    }

    pub fn probe(&mut self, ev: &Event) {
        let start = align(ev.time, self.cfg.window);
        if self.current.as_ref().is_some_and(|w| w.start != start) {
            self.close();
        }
        let w = self.current.get_or_insert_with(|| Window {
            start,
            total: 0,
            failed: 0,
            seqs: Vec::new(),
        });
        bump(&mut w.total);
        if self.cfg.failed.eval(&ev.attrs) {
            bump(&mut w.failed);
        }
        w.seqs.push(ev.seq);
    }

    fn close(&mut self) {
        let Some(w) = self.current.take() else {
            return;
        };
        // Down means failed * 1_000_000 > down_when_ppm * total, exactly.
        let down = u128::from(w.failed) * 1_000_000
            > u128::from(self.cfg.down_when_ppm) * u128::from(w.total);
        if !down {
            return;
        }
        let end = w.start.saturating_add(self.cfg.window);
        let explanation = format!(
            "window {} to {}: {} of {} {} events failed ({}), down above {}",
            format_rfc3339(w.start),
            format_rfc3339(end),
            w.failed,
            w.total,
            self.cfg.event,
            format_percent3(ratio_ppm(w.failed, w.total)),
            format_percent(self.cfg.down_when_ppm)
        );
        self.raw.push(Raw {
            kind: "unavailable".to_owned(),
            from: w.start,
            until: end,
            half_open: true,
            evidence: w.seqs,
            explanation,
            permit: None,
        });
    }

    /// Down windows as raw incidents; the counts are completed by [`sla`].
    pub fn finish(mut self, span: &Span) -> (Outcome, AvailabilityCfg) {
        self.close();
        let counted = counted_windows(&self.cfg, span);
        let down = self.raw.len() as u64;
        (
            Outcome {
                raw: self.raw,
                checked: counted,
                fulfilled: counted.saturating_sub(down),
                pending: 0,
            },
            self.cfg,
        )
    }
}

fn ratio_ppm(part: u64, whole: u64) -> u32 {
    if whole == 0 {
        return 0;
    }
    let r = u128::from(part) * 1_000_000 / u128::from(whole);
    u32::try_from(r).unwrap_or(u32::MAX)
}

/// Number of window starts `s = k * window` with `lo <= s <= hi`.
fn starts_between(lo: i64, hi: i64, window: i64) -> u64 {
    if hi < lo {
        return 0;
    }
    let w = i128::from(window);
    let first = i128::from(lo).div_euclid(w) + i128::from(i128::from(lo).rem_euclid(w) != 0);
    let last = i128::from(hi).div_euclid(w);
    u64::try_from((last - first + 1).max(0)).unwrap_or(u64::MAX)
}

/// The first and last counted window starts: the windows that intersect
/// the log's span `[first event time, last event time]`.
fn counted_range(cfg: &AvailabilityCfg, span: &Span) -> Option<(i64, i64)> {
    let (first, _) = span.first?;
    let (last, _) = span.last?;
    Some((align(first, cfg.window), align(last, cfg.window)))
}

fn counted_windows(cfg: &AvailabilityCfg, span: &Span) -> u64 {
    counted_range(cfg, span).map_or(0, |(a, b)| starts_between(a, b, cfg.window))
}

/// One period: `[start, end)`, its label.
fn period_of(period: PeriodCfg, t: i64) -> (i64, i64, String) {
    match period {
        PeriodCfg::Month => {
            // Like cfr_model's month_of / next_month, but saturating: the
            // months holding the extreme i64 times start or end outside it.
            let (y, m, _) = civil_from_days(t.div_euclid(NS_PER_DAY));
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let at = |y, m| days_from_civil(y, m, 1).saturating_mul(NS_PER_DAY);
            (at(y, m), at(ny, nm), format!("{y:04}-{m:02}"))
        }
        PeriodCfg::Every(d) => {
            let start = align(t, d);
            (start, start.saturating_add(d), format_rfc3339(start))
        }
    }
}

/// The service level of every period holding a counted window, and the
/// `sla_breach` incidents. `incidents` are this rule's attributed
/// `unavailable` incidents.
pub(crate) fn sla(
    cfg: &AvailabilityCfg,
    span: &Span,
    rule: &str,
    clause: &str,
    debtor: Party,
    incidents: &[Incident],
) -> (Vec<SlaPeriod>, Vec<Incident>) {
    let mut periods = Vec::new();
    let mut breaches = Vec::new();
    let Some((first, last)) = counted_range(cfg, span) else {
        return (periods, breaches);
    };
    let mut at = first;
    loop {
        let (start, end, label) = period_of(cfg.period, at);
        // Windows belong to the period that holds their start.
        let lo = start.max(first);
        let hi = end.saturating_sub(1).min(last);
        let counted = starts_between(lo, hi, cfg.window);
        if counted > 0 {
            // `incidents` are in window order.
            let a = incidents.partition_point(|i| i.from < start);
            let b = incidents.partition_point(|i| i.from < end);
            let provider_down: Vec<&Incident> = incidents[a..b.max(a)]
                .iter()
                .filter(|i| i.party == Party::Provider)
                .collect();
            let pd = provider_down.len() as u64;
            let uptime = u128::from(counted.saturating_sub(pd)) * 1_000_000 / u128::from(counted);
            let uptime = u32::try_from(uptime).unwrap_or(1_000_000);
            let breached = uptime < cfg.target_ppm;
            let credit = if breached {
                cfg.credits
                    .iter()
                    .filter(|(below, _)| uptime < *below)
                    .min_by_key(|(below, _)| *below)
                    .map(|(_, credit)| *credit)
            } else {
                None
            };
            if breached {
                let mut evidence: Vec<u64> = provider_down
                    .iter()
                    .flat_map(|i| i.evidence.iter().copied())
                    .collect();
                evidence.sort_unstable();
                evidence.dedup();
                let credit_text = match credit {
                    Some(c) => format!("credit {}", format_percent(c)),
                    None => "no credit tier matches".to_owned(),
                };
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
                        "uptime {} in period {label} ({pd} of {counted} counted windows down \
                         for the {debtor}) is below the {} target; {credit_text}",
                        format_percent3(uptime),
                        format_percent(cfg.target_ppm)
                    ),
                });
            }
            periods.push(SlaPeriod {
                rule: rule.to_owned(),
                period: label,
                uptime_ppm: uptime - uptime % 10,
                target_ppm: cfg.target_ppm,
                breached,
                credit_ppm: credit,
            });
        }
        if end > last || end == i64::MAX {
            break;
        }
        // Jump to the period holding the next window start.
        let next = end.saturating_add(cfg.window - 1);
        at = align(next, cfg.window);
        if at > last {
            break;
        }
    }
    (periods, breaches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_start_counting() {
        assert_eq!(starts_between(0, 0, 10), 1);
        assert_eq!(starts_between(0, 9, 10), 1);
        assert_eq!(starts_between(0, 10, 10), 2);
        assert_eq!(starts_between(1, 9, 10), 0);
        assert_eq!(starts_between(-10, 10, 10), 3);
        assert_eq!(starts_between(-9, -1, 10), 0);
        assert_eq!(starts_between(5, 4, 10), 0);
        assert_eq!(align(-1, 10), -10);
    }
}
