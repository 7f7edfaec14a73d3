//! Formatting that the text and HTML renderings share: service levels
//! and durations, so both say the same thing the same way.

use cfr_model::time::{format_duration, format_percent, format_percent3};
use cfr_rules::SlaPeriod;

/// The uptime of a service-level period, to three decimals (`"99.871%"`);
/// for a deadline rule's share of deadlines met, `"98.000% met"`.
pub fn sla_uptime(p: &SlaPeriod) -> String {
    match p.measure {
        cfr_rules::SlaMeasure::Uptime => format_percent3(p.uptime_ppm),
        cfr_rules::SlaMeasure::Met => format!("{} met", format_percent3(p.uptime_ppm)),
    }
}

/// The target of a service-level period (`"99.9%"`).
pub fn sla_target(p: &SlaPeriod) -> String {
    format_percent(p.target_ppm)
}

/// The credit a breached period earns, or `"none"`; with a fee, the
/// amount too (`"10% = 120.00 EUR"`).
pub fn sla_credit(p: &SlaPeriod) -> String {
    match (p.credit_ppm, &p.credit_amount) {
        (Some(c), Some(m)) => format!("{} = {m}", format_percent(c)),
        (Some(c), None) => format_percent(c),
        (None, _) => "none".into(),
    }
}

/// `"met"`, or `"BREACHED, credit 10%"`.
pub fn sla_result(p: &SlaPeriod) -> String {
    if p.breached {
        format!("BREACHED, credit {}", sla_credit(p))
    } else {
        "met".into()
    }
}

/// A notice period as contracts write it: whole hours below a week
/// (`"48h"`, not `"2d"`), else exact.
pub fn notice_duration(ns: i64) -> String {
    const HOUR: i64 = 3600 * cfr_model::time::NS_PER_SEC;
    if ns > 0 && ns % HOUR == 0 && ns < 7 * 24 * HOUR {
        format!("{}h", ns / HOUR)
    } else {
        format_duration(ns)
    }
}

/// A duration for people, to the minute above an hour (`"5h 52m"`),
/// exact below.
pub fn approx_duration(ns: i64) -> String {
    const MIN: i64 = 60 * cfr_model::time::NS_PER_SEC;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    if ns < HOUR {
        return format_duration(ns);
    }
    let (d, h, m) = (ns / DAY, (ns % DAY) / HOUR, (ns % HOUR) / MIN);
    let mut s = String::new();
    if d > 0 {
        s.push_str(&format!("{d}d "));
    }
    if h > 0 || d > 0 {
        s.push_str(&format!("{h}h "));
    }
    s.push_str(&format!("{m}m"));
    s
}
