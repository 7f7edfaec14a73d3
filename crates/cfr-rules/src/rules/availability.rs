//! `availability`: epoch-aligned windows, down when too many probes fail;
//! periods (calendar months or epoch-aligned durations) whose uptime falls
//! below the target.
//!
//! While streaming, only the current window is open (and, with `down_for`,
//! the run of consecutive down windows not yet known to qualify). Down
//! windows become `unavailable` incidents, attributed through the excuses
//! like any other; the uptime of each period is computed afterwards from
//! the windows that were attributed to the provider ([`sla`]). Windows
//! without events are never stored: with a `[term]` they are counted
//! arithmetically, as up (and with error rate 0).
//!
//! Measures: `down_windows` (the default; `min_events` and `down_for`
//! refine it) and `mean_error_rate` (100 % minus the mean of the windows'
//! error rates, each window with a failure attributed like an incident).

use super::{bump, Outcome, Raw, Span};
use crate::plan::{AvailabilityCfg, PeriodCfg, SlaCfg};
use crate::verdict::{Incident, Money, Party, SlaMeasure, SlaPeriod};
use cfr_model::time::{
    civil_from_days, days_from_civil, format_duration_human, format_percent, format_percent3,
    format_rfc3339, NS_PER_DAY,
};
use cfr_model::Event;

struct Window {
    start: i64,
    total: u64,
    failed: u64,
    seqs: Vec<u64>,
}

/// `mean_error_rate`: a counted window with at least one failure.
pub(crate) struct Failing {
    pub start: i64,
    /// `failed * 1_000_000 / total`, truncated.
    pub rate_ppm: u32,
    pub seqs: Vec<u64>,
}

pub(crate) struct AvailabilityState {
    cfg: AvailabilityCfg,
    /// With a term: the first and last counted window starts.
    term_range: Option<(i64, i64)>,
    current: Option<Window>,
    raw: Vec<Raw>,
    /// `down_for`: the open run of consecutive down windows.
    run: Vec<Window>,
    /// `down_for`: qualifying runs, as `(first index in raw, windows)`.
    runs: Vec<(usize, usize)>,
    failing: Vec<Failing>,
}

/// What the engine needs after the log ends, beside the outcome.
pub(crate) struct Finished {
    pub cfg: AvailabilityCfg,
    /// `down_for`: qualifying runs, as ranges of the outcome's raw
    /// incidents (one per window), to be split into sub-runs by party.
    pub runs: Vec<(usize, usize)>,
    /// `mean_error_rate`: counted windows with a failure, in time order.
    pub failing: Vec<Failing>,
}

/// Start of the window of length `len` holding `t`.
pub(crate) fn align(t: i64, len: i64) -> i64 {
    // len >= 1 (the plan clamps it); div_euclid rounds towards -inf.
    t.div_euclid(len).saturating_mul(len)
}

impl AvailabilityState {
    pub fn new(cfg: AvailabilityCfg) -> Self {
        let term_range = cfg.term.map(|t| term_range(t, cfg.window));
        AvailabilityState {
            cfg,
            term_range,
            current: None,
            raw: Vec::new(),
            run: Vec::new(),
            runs: Vec::new(),
            failing: Vec::new(),
        }
    }

    pub fn probe(&mut self, ev: &Event) {
        let start = align(ev.time, self.cfg.window);
        // With a term, events in windows outside it judge nothing.
        if let Some((a, b)) = self.term_range {
            if start < a || start > b {
                return;
            }
        }
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
        // Down means failed * 1_000_000 > down_when_ppm * total, exactly,
        // in a window with at least min_events events.
        let down = self.cfg.down_when_ppm.is_some_and(|dw| {
            w.total >= self.cfg.min_events
                && u128::from(w.failed) * 1_000_000 > u128::from(dw) * u128::from(w.total)
        });
        if self.cfg.mean && w.failed > 0 {
            self.failing.push(Failing {
                start: w.start,
                rate_ppm: ratio_ppm(w.failed, w.total),
                seqs: if down { w.seqs.clone() } else { Vec::new() },
            });
            if !down {
                if let Some(f) = self.failing.last_mut() {
                    f.seqs = w.seqs;
                }
                return;
            }
        }
        if self.cfg.run_windows.is_some() {
            if !down {
                self.flush_run();
                return;
            }
            let adjacent = self
                .run
                .last()
                .is_some_and(|l| l.start.saturating_add(self.cfg.window) == w.start);
            if !adjacent {
                self.flush_run();
            }
            self.run.push(w);
            return;
        }
        if down {
            let raw = self.window_raw(w);
            self.raw.push(raw);
        }
    }

    fn window_raw(&self, w: Window) -> Raw {
        let end = w.start.saturating_add(self.cfg.window);
        let explanation = format!(
            "window {} to {}: {} of {} {} events failed ({}), down above {}",
            format_rfc3339(w.start),
            format_rfc3339(end),
            w.failed,
            w.total,
            self.cfg.event,
            format_percent3(ratio_ppm(w.failed, w.total)),
            format_percent(self.cfg.down_when_ppm.unwrap_or(0))
        );
        Raw {
            kind: "unavailable".to_owned(),
            from: w.start,
            until: end,
            half_open: true,
            evidence: w.seqs,
            explanation,
            permit: None,
        }
    }

    /// Ends the open run: its windows become raw incidents when it lasts
    /// at least `down_for`, else they are forgotten (neither incidents nor
    /// downtime).
    fn flush_run(&mut self) {
        let run = std::mem::take(&mut self.run);
        let Some(need) = self.cfg.run_windows else {
            return;
        };
        if (run.len() as u64) < need {
            return;
        }
        let first = self.raw.len();
        let n = run.len();
        for w in run {
            let raw = self.window_raw(w);
            self.raw.push(raw);
        }
        self.runs.push((first, n));
    }

    /// Down windows as raw incidents; the counts are completed by [`sla`].
    pub fn finish(mut self, span: &Span) -> (Outcome, Finished) {
        self.close();
        self.flush_run();
        let counted = counted_windows(&self.cfg, span);
        // Windows against the rule: down windows (in qualifying runs), or
        // for a mean error rate every window with a failure.
        let against = if self.cfg.mean {
            self.failing.len() as u64
        } else {
            self.raw.len() as u64
        };
        (
            Outcome {
                raw: self.raw,
                checked: counted,
                fulfilled: counted.saturating_sub(against),
                pending: 0,
            },
            Finished {
                cfg: self.cfg,
                runs: self.runs,
                failing: self.failing,
            },
        )
    }
}

/// The first and last window starts of the windows that overlap the term
/// `[from, until)`.
fn term_range((from, until): (i64, i64), window: i64) -> (i64, i64) {
    (align(from, window), align(until.saturating_sub(1), window))
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

/// The first and last counted window starts: the windows that overlap the
/// term, or without a term those that intersect the log's span
/// `[first event time, last event time]`.
fn counted_range(cfg: &AvailabilityCfg, span: &Span) -> Option<(i64, i64)> {
    if let Some(t) = cfg.term {
        return Some(term_range(t, cfg.window));
    }
    let (first, _) = span.first?;
    let (last, _) = span.last?;
    Some((align(first, cfg.window), align(last, cfg.window)))
}

fn counted_windows(cfg: &AvailabilityCfg, span: &Span) -> u64 {
    counted_range(cfg, span).map_or(0, |(a, b)| starts_between(a, b, cfg.window))
}

/// One period: `[start, end)`, its label.
pub(crate) fn period_of(period: PeriodCfg, t: i64) -> (i64, i64, String) {
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

/// The credit tier that applies to `level` (the smallest `below` it is
/// under), and the credit amount when the rule has a fee.
pub(crate) fn credit(sla: &SlaCfg, level: u32) -> (Option<u32>, Option<Money>) {
    let credit = sla
        .credits
        .iter()
        .filter(|(below, _)| level < *below)
        .min_by_key(|(below, _)| *below)
        .map(|(_, credit)| *credit);
    let amount = match (&sla.fee, credit) {
        (Some(fee), Some(c)) => Some(fee.share(c)),
        _ => None,
    };
    (credit, amount)
}

/// `"credit 10%"`, with a fee `"credit 10% = 120.00 EUR of the 1200.00
/// EUR fee"`, or `"no credit tier matches"`.
pub(crate) fn credit_text(sla: &SlaCfg, credit: Option<u32>, amount: &Option<Money>) -> String {
    match (credit, amount, &sla.fee) {
        (Some(c), Some(a), Some(fee)) => {
            format!("credit {} = {a} of the {fee} fee", format_percent(c))
        }
        (Some(c), _, _) => format!("credit {}", format_percent(c)),
        (None, _, _) => "no credit tier matches".to_owned(),
    }
}

/// One service-level row.
pub(crate) fn row(
    sla: &SlaCfg,
    measure: SlaMeasure,
    rule: &str,
    label: String,
    level: u32,
) -> (SlaPeriod, Option<u32>, Option<Money>) {
    let breached = level < sla.target_ppm;
    let (credit, amount) = if breached {
        credit(sla, level)
    } else {
        (None, None)
    };
    (
        SlaPeriod {
            rule: rule.to_owned(),
            period: label,
            measure,
            uptime_ppm: level - level % 10,
            target_ppm: sla.target_ppm,
            breached,
            credit_ppm: credit,
            fee: sla.fee.clone(),
            credit_amount: amount.clone(),
        },
        credit,
        amount,
    )
}

/// The windows with start in `[lo, hi)` of an incident (a window or a
/// run of windows `[from, until)`).
fn windows_in(i: &Incident, lo: i64, hi: i64, window: i64) -> u64 {
    starts_between(
        i.from.max(lo),
        i.until.saturating_sub(1).min(hi.saturating_sub(1)),
        window,
    )
}

/// The service level of every period holding a counted window, and the
/// `sla_breach` incidents. `incidents` are this rule's attributed
/// `unavailable` incidents (windows, or with `down_for` sub-runs), in
/// time order; `failing` and `failing_party` the failing windows of a
/// mean error rate and who each is attributed to.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sla(
    cfg: &AvailabilityCfg,
    span: &Span,
    rule: &str,
    clause: &str,
    debtor: Party,
    incidents: &[Incident],
    failing: &[Failing],
    failing_party: &[Party],
) -> (Vec<SlaPeriod>, Vec<Incident>) {
    let mut periods = Vec::new();
    let mut breaches = Vec::new();
    let Some((first, last)) = counted_range(cfg, span) else {
        return (periods, breaches);
    };
    let sla = &cfg.sla;
    let mut at = first;
    loop {
        let (start, end, label) = period_of(sla.period, at);
        // Windows belong to the period that holds their start.
        let lo = start.max(first);
        let hi = end.saturating_sub(1).min(last);
        let counted = starts_between(lo, hi, cfg.window);
        if counted > 0 {
            // Incidents are in window order and do not overlap, so both
            // their starts and their ends ascend.
            let a = incidents.partition_point(|i| i.until <= start);
            let b = incidents.partition_point(|i| i.from < end);
            let here: Vec<&Incident> = incidents[a..b.max(a)].iter().collect();
            let (level, evidence, what) = if cfg.mean {
                let fa = failing.partition_point(|f| f.start < start);
                let fb = failing.partition_point(|f| f.start < end);
                let mut sum: u128 = 0;
                let mut k = 0u64;
                let mut evidence = Vec::new();
                for (f, p) in failing[fa..fb.max(fa)]
                    .iter()
                    .zip(failing_party.get(fa..).unwrap_or(&[]))
                {
                    if *p == Party::Provider {
                        sum += u128::from(f.rate_ppm);
                        k += 1;
                        evidence.extend_from_slice(&f.seqs);
                    }
                }
                let mean = sum / u128::from(counted);
                let level = 1_000_000u32.saturating_sub(u32::try_from(mean).unwrap_or(1_000_000));
                let what = format!(
                    "100% minus the mean error rate {} of {counted} counted windows, \
                     {k} with errors the {debtor} is at fault for",
                    format_percent(u32::try_from(mean).unwrap_or(1_000_000))
                );
                (level, evidence, what)
            } else {
                let mut pd = 0u64;
                let mut evidence = Vec::new();
                for i in here.iter().filter(|i| i.party == Party::Provider) {
                    let n = windows_in(i, start, end, cfg.window);
                    if n > 0 {
                        pd += n;
                        evidence.extend_from_slice(&i.evidence);
                    }
                }
                let uptime =
                    u128::from(counted.saturating_sub(pd)) * 1_000_000 / u128::from(counted);
                let runs = match cfg.run_windows {
                    Some(n) => format!(
                        ", in runs of at least {}",
                        format_duration_human(
                            i64::try_from(n)
                                .unwrap_or(i64::MAX)
                                .saturating_mul(cfg.window)
                        )
                    ),
                    None => String::new(),
                };
                let what = format!("{pd} of {counted} counted windows down for the {debtor}{runs}");
                (u32::try_from(uptime).unwrap_or(1_000_000), evidence, what)
            };
            let (row, credit, amount) = row(sla, SlaMeasure::Uptime, rule, label.clone(), level);
            if row.breached {
                let mut evidence = evidence;
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
                        "uptime {} in period {label} ({what}) is below the {} target; {}",
                        format_percent3(level),
                        format_percent(sla.target_ppm),
                        credit_text(sla, credit, &amount)
                    ),
                });
            }
            periods.push(row);
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
