//! The HTML report of `cfr-bundle report`: one self-contained page that a
//! court, an auditor or a party can read, print and file.
//!
//! [`render`] is a pure function of a verification [`Report`] (which
//! holds the checks, the signers and the replayed verdict), the contract,
//! and the excuse intervals found in the log ([`ExcuseIntervals`], gathered
//! in one streaming pass by [`excuse_intervals`]). The page:
//!
//! - has no scripts, no external assets and no web fonts: inline CSS and
//!   inline SVG only, under a Content-Security-Policy that forbids the rest;
//! - is deterministic: the same inputs give the same bytes (no clock, no
//!   hash-map order, no floating point);
//! - escapes every string taken from the bundle, which is untrusted, and
//!   shows bidirectional-override and control characters as visible codes
//!   (`[U+202E]`), so that no text can be made to read otherwise than it is;
//! - stays bounded on huge verdicts: timeline marks are at least
//!   `MIN_MARK_W` units wide, and marks that touch are merged into one
//!   mark labelled, in text, with how many incidents it stands for (`×60`);
//!   the incidents are grouped by rule, kind and party at fault (a row
//!   with the count and the first and last time, then a `<details>` list);
//!   the lists, evidence lists and long texts are capped ([`Limits`]); the
//!   page says where it happens;
//! - prints: a print stylesheet keeps table rows whole, repeats table
//!   headers, prints every group's list whether open or not (a filed
//!   report holds every incident; a browser without `::details-content`
//!   still prints each group's count and times), and carries every meaning
//!   in text, not in colour or background;
//! - keeps times on one line, and on narrow screens lets wide tables and
//!   the timeline scroll in their own boxes rather than the page.
//!
//! ```
//! use cfr_report::html::{render, ExcuseIntervals, Limits, Page};
//! use cfr_verify::verify::{Report, BundleFacts};
//!
//! let report = Report::new(BundleFacts::default());
//! let page = render(&Page {
//!     file_name: "evidence.cfr",
//!     report: &report,
//!     contract: None,
//!     excuses: &ExcuseIntervals::default(),
//!     limits: Limits::default(),
//! });
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! assert!(!page.contains("<script"));
//! ```

use crate::format::{
    approx_duration, notice_duration, sla_credit, sla_result, sla_target, sla_uptime,
};
use crate::hex;
use cfr_contract::{Contract, ExcuseSource, Period, Rule, RuleKind};
use cfr_model::time::{format_duration, format_percent, format_rfc3339};
use cfr_model::{Event, Value};
use cfr_rules::{Incident, Party, Verdict};
use cfr_verify::verify::{Check, CheckId, Pin, Report, ReportVerdict, Status};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// Excuse intervals kept by default by [`excuse_intervals`].
pub const DEFAULT_EXCUSE_INTERVALS: usize = 10_000;

/// One interval claimed by an excuse event (an outage, a maintenance
/// notice, ...), as the rule engine reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExcuseInterval {
    /// The excuse id (`power-outage`).
    pub excuse: String,
    /// The event's seq.
    pub seq: u64,
    /// When the event was logged (ns).
    pub logged: i64,
    /// The event kind.
    pub kind: String,
    /// Who emitted it.
    pub actor: String,
    /// Start of the claimed interval (ns), closed.
    pub from: i64,
    /// End of the claimed interval (ns), closed.
    pub until: i64,
    /// Why this event cannot excuse anything, when it cannot (emitted by
    /// a non-attestor for an `external` excuse; notice logged too late).
    pub void: Option<String>,
}

/// The excuse intervals of a log: every event of a kind that an excuse
/// named by a rule reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExcuseIntervals {
    /// The intervals, in seq order (at most the number asked for).
    pub intervals: Vec<ExcuseInterval>,
    /// How many were found (may exceed `intervals.len()`).
    pub found: u64,
    /// Excuse events the engine ignores: a `from`/`until` attribute
    /// missing or not a time, or `until < from`.
    pub ignored: u64,
    /// Set when the events could not all be read: what went wrong, and
    /// that the list stops there.
    pub error: Option<String>,
}

/// Reads the excuse intervals from `events` in one pass, keeping at most
/// `keep` of them (the count goes on), so memory does not grow with the
/// log. Stops at the first unreadable event and says so in
/// [`ExcuseIntervals::error`].
///
/// The intervals and their preconditions follow the excuse semantics of
/// the rule engine (`cfr-rules`) exactly as it applies them: `[from, until]` from the
/// excuse's time attributes (default: the event's own time); an
/// `external` excuse holds only for events emitted by an attestor; a
/// notice holds when `from - logged >= notice`.
pub fn excuse_intervals<E: fmt::Display>(
    contract: &Contract,
    events: impl IntoIterator<Item = Result<Event, E>>,
    keep: usize,
) -> ExcuseIntervals {
    struct Source<'c> {
        id: &'c str,
        from: &'c Option<String>,
        until: &'c Option<String>,
        notice: Option<i64>,
        external: bool,
    }
    let mut by_kind: BTreeMap<&str, Vec<Source<'_>>> = BTreeMap::new();
    for (id, x) in &contract.excuses {
        if !contract.rules.iter().any(|r| r.excuses.contains(id)) {
            continue;
        }
        if let ExcuseSource::Event {
            event,
            from,
            until,
            notice,
        } = &x.source
        {
            by_kind.entry(event.as_str()).or_default().push(Source {
                id,
                from,
                until,
                notice: *notice,
                external: x.attribute == Party::External,
            });
        }
    }
    let mut out = ExcuseIntervals::default();
    if by_kind.is_empty() {
        return out;
    }
    for e in events {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                out.error = Some(format!(
                    "the events could not all be read ({err}); excuse intervals after that point are not shown"
                ));
                break;
            }
        };
        let Some(sources) = by_kind.get(e.kind.as_str()) else {
            continue;
        };
        for s in sources {
            let at = |name: &Option<String>| match name {
                None => Some(e.time),
                Some(n) => match e.attrs.get(n) {
                    Some(Value::Int(t)) => Some(*t),
                    _ => None,
                },
            };
            let (Some(from), Some(until)) = (at(s.from), at(s.until)) else {
                out.ignored += 1;
                continue;
            };
            if until < from {
                out.ignored += 1;
                continue;
            }
            out.found += 1;
            if out.intervals.len() >= keep {
                continue;
            }
            let void = if s.external && !contract.is_attestor(&e.actor) {
                Some(format!(
                    "emitted by {}, not an attestor: cannot excuse",
                    e.actor
                ))
            } else {
                s.notice.and_then(|n| {
                    let ahead = from.saturating_sub(e.time);
                    (ahead < n).then(|| {
                        let when = if ahead >= 0 {
                            format!("{} before", approx_duration(ahead))
                        } else {
                            format!("{} after", approx_duration(ahead.saturating_neg()))
                        };
                        format!(
                            "logged {when} its start; {} notice required: cannot excuse",
                            notice_duration(n)
                        )
                    })
                })
            };
            out.intervals.push(ExcuseInterval {
                excuse: s.id.to_owned(),
                seq: e.seq,
                logged: e.time,
                kind: e.kind.clone(),
                actor: e.actor.clone(),
                from,
                until,
                void,
            });
        }
    }
    out
}

/// Size limits for huge verdicts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Rows of the incident table.
    pub incidents: usize,
    /// Rows of the excuse-interval table.
    pub excuse_rows: usize,
    /// Characters of any one text from the bundle (clauses, explanations).
    pub text: usize,
    /// Evidence seqs listed per incident (runs count as one).
    pub evidence: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            incidents: 10_000,
            excuse_rows: 2_000,
            text: 4_000,
            evidence: 64,
        }
    }
}

/// Everything the page shows.
pub struct Page<'a> {
    /// The bundle's file name as the reader knows it (shown, escaped).
    pub file_name: &'a str,
    /// The verification report (checks, signers, facts, verdict).
    pub report: &'a Report,
    /// The bundle's contract, when it could be read.
    pub contract: Option<&'a Contract>,
    /// Excuse intervals from the log.
    pub excuses: &'a ExcuseIntervals,
    /// Caps.
    pub limits: Limits,
}

/// Text from the bundle, escaped for HTML text and attribute values, with
/// control and bidi characters made visible and a length cap.
struct Esc<'a> {
    s: &'a str,
    max: usize,
}

fn esc(s: &str) -> Esc<'_> {
    Esc { s, max: usize::MAX }
}

fn esc_cap(s: &str, max: usize) -> Esc<'_> {
    Esc { s, max }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, c) in self.s.chars().enumerate() {
            if n >= self.max {
                let rest = self.s.chars().count() - n;
                return write!(f, "… [{rest} more characters not shown]");
            }
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                '\n' | '\t' => f.write_char(c)?,
                c if c.is_control() || is_bidi_control(c) => write!(f, "[U+{:04X}]", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Renders the report page. Pure: the same inputs give the same bytes.
pub fn render(page: &Page<'_>) -> String {
    let mut s = String::with_capacity(64 << 10);
    // Writing into a String cannot fail.
    let _ = write_page(&mut s, page);
    s
}

const CSS: &str = r#"
:root { --provider:#c0392b; --user:#0b63a8; --external:#b07200; --none:#117a55; --inconclusive:#666; --excuse:#6b3fa0; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 14px; line-height: 1.45; color: #111; background: #fff; margin: 0 auto; max-width: 1280px; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 19px; margin: 34px 0 8px; padding-bottom: 3px; border-bottom: 2px solid #222; break-after: avoid; page-break-after: avoid; }
h3 { font-size: 15px; margin: 18px 0 6px; break-after: avoid; page-break-after: avoid; }
p { margin: 6px 0; }
.sub { color: #333; font-size: 16px; margin-bottom: 14px; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; font-size: 12.5px; }
.hash { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { border: 1px solid #999; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; font-weight: bold; overflow-wrap: break-word; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { width: 13em; }
table.facts td { overflow-wrap: anywhere; }
.banner { border: 3px solid; padding: 10px 14px; margin: 12px 0 16px; font-size: 17px; }
.banner strong { font-size: 20px; }
.banner.ok { border-color: #117a55; background: #eef8f3; }
.banner.warn { border-color: #b07200; background: #fff7e6; }
.banner.bad { border-color: #c0392b; background: #fdeeee; }
.warning { border-left: 5px solid #b07200; padding: 6px 10px; margin: 8px 0; background: #fff7e6; }
.note { color: #333; font-size: 13px; }
.status { font-weight: bold; white-space: nowrap; }
.status.pass::before { content: "\2713\00a0"; }
.status.fail::before { content: "\2717\00a0"; }
.status.skip::before { content: "\2013\00a0"; }
tr.fail td:first-child { border-left: 4px solid #c0392b; }
.status.fail, .pin-bad { color: #a02010; }
.pin-no { color: #8a5a00; font-weight: bold; }
.failure code { font-weight: bold; }
ul.plain { margin: 0; padding-left: 1.1em; }
.sw { display: inline-block; width: 1.05em; height: 1.05em; vertical-align: -0.18em; margin-right: 5px; border: 1.5px solid #000; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
.sw.provider { background: var(--provider); border-color: var(--provider); }
.sw.user { background: repeating-linear-gradient(45deg, var(--user) 0 3px, #fff 3px 5px); border-color: var(--user); }
.sw.external { background: radial-gradient(circle, #fff 1.2px, var(--external) 1.6px) 0 0 / 5px 5px; border-color: var(--external); }
.sw.none { background: repeating-linear-gradient(90deg, var(--none) 0 2px, #fff 2px 4px); border-color: var(--none); }
.sw.inconclusive { background: repeating-linear-gradient(0deg, var(--inconclusive) 0 2px, #fff 2px 4px); border-color: var(--inconclusive); }
.party { white-space: nowrap; font-weight: bold; }
table.incidents, table.groups, table.fixed { table-layout: fixed; }
table.fixed td { overflow-wrap: anywhere; }
table.fixed .party { white-space: normal; }
.t { white-space: nowrap; }
table.groups col.c-rule { width: 40%; }
table.groups col.c-who { width: 14%; }
table.groups col.c-count { width: 8%; }
table.groups col.c-first, table.groups col.c-last { width: 19%; }
table.groups tr.summary td { background: #f4f4f4; border-top: 2px solid #555; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
table.groups td.count { font-weight: bold; font-size: 15px; }
table.groups tr.members > td { padding: 2px 6px 10px 18px; }
table.groups code.kind { font-weight: bold; }
table.groups .party { white-space: normal; }
details > summary { cursor: pointer; font-weight: bold; padding: 3px 0; }
table.incidents { margin: 4px 0 2px; }
table.incidents col.c-n { width: 6%; }
table.incidents col.c-when { width: 22%; }
table.incidents col.c-excuse { width: 16%; }
table.incidents col.c-expl { width: 44%; }
table.incidents col.c-ev { width: 12%; }
table.incidents td { font-size: 13px; overflow-wrap: anywhere; }
table.excuses col.c-time { width: 22%; }
table td.when { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; font-size: 11.5px; }
table.incidents td.ev { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; font-size: 11.5px; }
.clause { color: #333; font-style: italic; font-size: 12.5px; }
.zero { color: #888; }
table.stats th .party { white-space: normal; }
table.stats td:first-child { white-space: nowrap; }
figure { margin: 8px 0; }
svg.timeline { width: 100%; height: auto; display: block; border: 1px solid #bbb; }
svg.timeline text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
@media screen and (max-width: 760px) {
  body { padding: 12px 10px 32px; }
  .wide, figure { overflow-x: auto; }
  .wide > table { min-width: 640px; }
  .wide > table.groups { min-width: 900px; }
  table.incidents col.c-when { width: 230px; }
  table.groups col.c-first, table.groups col.c-last { width: 225px; }
  table.excuses col.c-time { width: 250px; }
  svg.timeline { min-width: 800px; }
  table.facts th { width: 8em; }
}
footer { margin-top: 36px; border-top: 1px solid #999; padding-top: 8px; color: #333; font-size: 12.5px; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { font-size: 14pt; margin-top: 18pt; }
  .banner, .warning, th { background: none !important; }
  table { page-break-inside: auto; }
  tr, .banner, .warning, figure { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  table.incidents td, table.incidents td .note, table.incidents td .clause, table.incidents td code { font-size: 7.5pt; }
  table.incidents td.ev, table td.when { font-size: 7pt; }
  table.incidents col.c-when { width: 27%; }
  table.incidents col.c-expl { width: 40%; }
  table.incidents col.c-excuse { width: 15%; }
  table.incidents col.c-ev { width: 12%; }
  table.incidents th, table.groups th { font-size: 8pt; }
  table.groups col.c-rule { width: 31%; }
  table.groups col.c-who { width: 12%; }
  table.groups col.c-count { width: 7%; }
  table.groups col.c-first, table.groups col.c-last { width: 25%; }
  table.groups tr.summary { break-after: avoid; page-break-after: avoid; }
  table.groups tr.members { break-inside: auto; page-break-inside: auto; }
  table.groups tr.members > td { padding-left: 8px; }
  /* On paper every group's list is printed, open or not: a filed report
     must hold every incident. Browsers without ::details-content print
     the summary rows, which carry each group's count and first and last
     times. */
  details::details-content { content-visibility: visible; display: block; }
  details > summary { list-style: none; }
  details > summary::-webkit-details-marker { display: none; }
  .wide { overflow: visible; }
  table.excuses col.c-time { width: 24%; }
  table.excuses td, table.excuses td.mono { font-size: 7pt; }
  table.stats th, table.stats td { font-size: 8.5pt; padding: 3px 4px; }
  table.stats td:first-child { white-space: normal; }
  svg.timeline { border: none; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// A party in words; "excused" is the one word for no fault, as in the
/// text output (the JSON keeps `none`).
fn party_label(p: Party) -> &'static str {
    match p {
        Party::Provider => "provider",
        Party::User => "user",
        Party::External => "external factor",
        Party::None => "excused",
        Party::Inconclusive => "inconclusive",
    }
}

const PARTIES: [Party; 5] = [
    Party::Provider,
    Party::User,
    Party::External,
    Party::None,
    Party::Inconclusive,
];

fn party_cell(p: Party) -> String {
    format!(
        "<span class=\"party\"><span class=\"sw {}\"></span>{}</span>",
        p.name(),
        party_label(p)
    )
}

fn t(ns: i64) -> String {
    format_rfc3339(ns)
}

/// A time in a page's text: never broken across lines.
fn tt(ns: i64) -> String {
    format!("<span class=\"t\">{}</span>", format_rfc3339(ns))
}

fn write_page(s: &mut String, page: &Page<'_>) -> fmt::Result {
    let r = page.report;
    let title = match (&r.bundle.contract_title, page.contract) {
        (_, Some(c)) => c.title.clone(),
        (Some(t), None) => t.clone(),
        _ => "(contract unreadable)".to_owned(),
    };
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    writeln!(
        s,
        "<meta name=\"generator\" content=\"{}\">",
        esc(cfr_bundle_format::TOOL)
    )?;
    writeln!(
        s,
        "<title>Evidence report: {} ({})</title>",
        esc_cap(&title, 200),
        esc_cap(page.file_name, 200)
    )?;
    writeln!(s, "<style>{CSS}</style>\n</head>\n<body>")?;
    writeln!(s, "<header>\n<h1>Evidence report</h1>")?;
    writeln!(
        s,
        "<p class=\"sub\">{} &mdash; bundle <code>{}</code></p>",
        esc_cap(&title, page.limits.text),
        esc_cap(page.file_name, 400)
    )?;
    banner(s, r)?;
    writeln!(s, "</header>")?;
    facts(s, page)?;
    summary(s, page)?;
    checks(s, r)?;
    recorder_findings(s, r)?;
    keys(s, r, page.contract)?;
    if let Some(c) = page.contract {
        contract(s, c, page.limits)?;
    } else {
        writeln!(s, "<section id=\"contract\">\n<h2>Contract</h2>\n<p>The contract could not be read from the bundle (see check 1).</p>\n</section>")?;
    }
    if let Some(x) = &r.excerpt {
        excerpt_section(s, x, page.limits)?;
    }
    let verdict = r.verdict();
    match verdict {
        ReportVerdict::Absent if r.excerpt.is_some() => {}
        ReportVerdict::Proven(v) | ReportVerdict::Unproven(v) => {
            if let ReportVerdict::Unproven(_) = verdict {
                writeln!(s, "<p class=\"warning\"><strong>Verification failed.</strong> The timeline, statistics and incidents below are what the analyzer finds in this bundle's events, but the bundle failed the checks above, so it does not prove them.</p>")?;
            }
            timeline(s, v, page)?;
            rule_stats(s, v, page.contract, r.recorder.len() as u64)?;
            sla(s, v)?;
            incidents(s, v, page.limits)?;
        }
        ReportVerdict::Absent => {
            let why = r
                .checks()
                .iter()
                .find(|c| c.id() == CheckId::Replay)
                .map(|c| match c.status() {
                    Status::Fail => "the replay failed (check 8), so the sealed verdict is not shown: it is not established by this bundle",
                    _ => "the verdict was not replayed (check 8)",
                })
                .unwrap_or("the verification stopped before the replay");
            writeln!(
                s,
                "<section id=\"verdict\">\n<h2>Verdict</h2>\n<p><strong>No verdict:</strong> {why}. No timeline, statistics or incidents are shown.</p>\n</section>"
            )?;
        }
    }
    excuse_table(s, page)?;
    writeln!(
        s,
        "<footer>\n<p>Made by {} with <code>cfr-bundle report</code>. The report is not signed: what it states holds for the file whose SHA-256 is given above, and anyone can make it again from that file with <code>cfr-bundle report</code> and the same pinned keys; the same file and keys give the same report, byte for byte.</p>\n</footer>\n</body>\n</html>",
        esc(cfr_bundle_format::TOOL)
    )?;
    Ok(())
}

/// An excerpt: what it discloses and the incidents it proves.
fn excerpt_section(
    s: &mut String,
    x: &cfr_verify::excerpt::ExcerptFacts,
    limits: Limits,
) -> fmt::Result {
    let disclosed: u64 = x.ranges.iter().map(|r| r.end - r.first).sum();
    let ranges: Vec<String> = x
        .ranges
        .iter()
        .map(|r| format!("{}&ndash;{}", r.first, r.end.saturating_sub(1)))
        .collect();
    writeln!(
        s,
        "<section id=\"excerpt\">\n<h2>Excerpt</h2>\n<p>This file is an excerpt: it discloses {disclosed} of the original log's {} events (seqs {}), with Merkle range proofs against the original signed checkpoint (check 4). The analyzer was replayed over the disclosed events alone (check 8); the incidents below are those the excerpt was cut to prove, as the sealed verdict states them. Other incidents of the original log are not disclosed.</p>",
        x.original_events,
        ranges.join(", ")
    )?;
    writeln!(
        s,
        "<div class=\"wide\"><table class=\"incidents fixed\"><thead><tr><th class=\"num\">#</th><th>Proven</th><th>Party at fault</th><th>Rule, kind</th><th>Window</th><th>Evidence seqs</th><th>Explanation (as sealed)</th></tr></thead>\n<tbody>"
    )?;
    for (n, i, ok) in &x.incidents {
        let evidence: Vec<String> = i
            .evidence
            .iter()
            .take(limits.evidence)
            .map(u64::to_string)
            .collect();
        writeln!(
            s,
            "<tr><td class=\"num\">{n}</td><td>{}</td><td>{}</td><td><code>{}</code><br>{}</td><td>{}<br>{}</td><td class=\"mono\">{}{}</td><td>{}</td></tr>",
            if *ok { "yes" } else { "<strong>NO</strong>" },
            party_label(i.party),
            esc_cap(&i.rule, 200),
            esc_cap(&i.kind, 100),
            tt(i.from),
            tt(i.until),
            evidence.join(", "),
            if i.evidence.len() > limits.evidence { ", &hellip;" } else { "" },
            esc_cap(&i.explanation, limits.text)
        )?;
    }
    writeln!(s, "</tbody></table></div>\n</section>")
}

fn banner(s: &mut String, r: &Report) -> fmt::Result {
    let failed: Vec<&Check> = r
        .checks()
        .iter()
        .filter(|c| c.status() == Status::Fail)
        .collect();
    if !failed.is_empty() {
        let list = failed
            .iter()
            .map(|c| format!("{} ({})", c.number(), esc(c.name())))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            s,
            "<div class=\"banner bad\" id=\"result\"><strong>VERIFICATION FAILED.</strong> Failed check{}: {list}. This bundle does not prove what it claims; see the checks below.</div>",
            if failed.len() == 1 { "" } else { "s" }
        )
    } else if r.checks().iter().all(|c| c.status() == Status::NotChecked) {
        writeln!(
            s,
            "<div class=\"banner bad\" id=\"result\"><strong>NOT VERIFIED.</strong> No check was run.</div>"
        )
    } else if let cfr_verify::verify::Established::Intact(gaps) = r.established() {
        let items: Vec<String> = gaps
            .iter()
            .map(|g| format!("<li>{}</li>", esc(g)))
            .collect();
        writeln!(
            s,
            "<div class=\"banner warn\" id=\"result\"><strong>INTACT, NOT VERIFIED.</strong> Integrity and signatures hold, but this verification could not establish:<ul>{}</ul>A bundle names its own keys, which cannot vouch for themselves (see <a href=\"#keys\">Parties and keys</a>).</div>",
            items.join("")
        )
    } else {
        writeln!(
            s,
            "<div class=\"banner ok\" id=\"result\"><strong>VERIFIED.</strong> Every check passed or was not applicable, and every signer's key was pinned by the verifier.</div>"
        )
    }
}

fn facts(s: &mut String, page: &Page<'_>) -> fmt::Result {
    let b = &page.report.bundle;
    writeln!(
        s,
        "<section id=\"bundle\">\n<h2>The bundle this report is about</h2>\n<table class=\"facts\">"
    )?;
    writeln!(
        s,
        "<tr><th>File</th><td><code>{}</code></td></tr>",
        esc_cap(page.file_name, 400)
    )?;
    match b.sha256 {
        Some(d) => writeln!(
            s,
            "<tr><th>SHA-256 of the file</th><td class=\"hash\" id=\"sha256\">{d}</td></tr>"
        )?,
        None => writeln!(s, "<tr><th>SHA-256 of the file</th><td>unknown</td></tr>")?,
    }
    writeln!(
        s,
        "<tr><th>Size</th><td id=\"size\">{} bytes</td></tr>",
        b.size
    )?;
    if let Some(id) = &b.contract_id {
        writeln!(
            s,
            "<tr><th>Contract id</th><td><code>{}</code></td></tr>",
            esc_cap(id, 400)
        )?;
    }
    if let Some(n) = b.events {
        let span = match (b.from, b.until) {
            (Some(f), Some(u)) => format!(", from {} to {}", tt(f), tt(u)),
            _ => String::new(),
        };
        writeln!(s, "<tr><th>Log</th><td>{n} events{span}</td></tr>")?;
    }
    if let Some(root) = b.root {
        writeln!(
            s,
            "<tr><th>Merkle root (checkpoint)</th><td class=\"hash\">{}</td></tr>",
            hex(&root)
        )?;
    }
    if let Some(a) = b.analyzer_sha256 {
        writeln!(
            s,
            "<tr><th>Analyzer SHA-256</th><td class=\"hash\">{}</td></tr>",
            hex(&a)
        )?;
    }
    if let Some(tool) = &b.tool {
        writeln!(
            s,
            "<tr><th>Sealed by</th><td>{}</td></tr>",
            esc_cap(tool, 200)
        )?;
    }
    writeln!(s, "</table>")?;
    writeln!(
        s,
        "<p class=\"note\">To check that this report is about your copy of the file, compute its SHA-256 (<code>sha256sum {}</code> on Linux, <code>shasum -a 256</code> on macOS, <code>certutil -hashfile &lt;file&gt; SHA256</code> on Windows) and compare it with the value above.</p>\n</section>",
        esc_cap(page.file_name, 400)
    )
}

fn summary(s: &mut String, page: &Page<'_>) -> fmt::Result {
    let r = page.report;
    writeln!(s, "<section id=\"summary\">\n<h2>In brief</h2>\n<ul>")?;
    let (pass, fail, skip) = r
        .checks()
        .iter()
        .fold((0, 0, 0), |(p, f, n), c| match c.status() {
            Status::Pass => (p + 1, f, n),
            Status::Fail => (p, f + 1, n),
            Status::NotChecked => (p, f, n + 1),
        });
    writeln!(
        s,
        "<li>Checks: {pass} passed, {fail} failed, {skip} not checked (of {}).</li>",
        r.checks().iter().len()
    )?;
    let unpinned: Vec<&str> = r
        .signers
        .iter()
        .filter(|k| k.pin == Pin::NotPinned)
        .map(|k| k.role.as_str())
        .collect();
    if !unpinned.is_empty() {
        let list: Vec<String> = unpinned
            .iter()
            .map(|x| esc_cap(x, 100).to_string())
            .collect();
        writeln!(
            s,
            "<li><strong>Keys not pinned</strong> for: {}. Their signatures were checked against keys named by the bundle itself.</li>",
            list.join(", ")
        )?;
    }
    if let Some(v) = r.verdict().replayed() {
        let parts: Vec<String> = PARTIES
            .iter()
            .filter(|p| v.totals.of(**p) > 0)
            .map(|p| format!("{} {}", party_label(*p), v.totals.of(*p)))
            .collect();
        writeln!(
            s,
            "<li>{}Verdict: {} incident{} under {} rules{}{}.</li>",
            if r.verified() {
                ""
            } else {
                "<strong>Verification failed</strong>, so the verdict below is not proven by this bundle. "
            },
            v.incidents.len(),
            if v.incidents.len() == 1 { "" } else { "s" },
            v.rules.len(),
            if parts.is_empty() { "" } else { "; at fault: " },
            parts.join(", ")
        )?;
        for p in &v.sla {
            writeln!(
                s,
                "<li>Service level <code>{}</code>, period {}: uptime {} against a target of {}{}.</li>",
                esc_cap(&p.rule, 200),
                esc_cap(&p.period, 100),
                sla_uptime(p),
                sla_target(p),
                if p.breached {
                    format!(": <strong>breached</strong>, credit {}", sla_credit(p))
                } else {
                    ": met".into()
                }
            )?;
        }
    } else {
        writeln!(s, "<li>No verified verdict.</li>")?;
    }
    writeln!(s, "</ul>\n</section>")
}

fn checks(s: &mut String, r: &Report) -> fmt::Result {
    writeln!(
        s,
        "<section id=\"checks\">\n<h2>Verification checks</h2>\n<table class=\"checks fixed\"><colgroup><col style=\"width:4%\"><col style=\"width:29%\"><col style=\"width:15%\"><col style=\"width:52%\"></colgroup>\n<thead><tr><th class=\"num\">#</th><th>What is checked</th><th>Result</th><th>Details</th></tr></thead>\n<tbody>"
    )?;
    for c in r.checks() {
        let (class, label) = match c.status() {
            Status::Pass => ("pass", "pass"),
            Status::Fail => ("fail", "FAIL"),
            Status::NotChecked => ("skip", "not checked"),
        };
        write!(
            s,
            "<tr class=\"{class}\" id=\"check-{}\"><td class=\"num\">{}</td><td>{}<br><span class=\"note\"><code>{}</code></span></td><td><span class=\"status {class}\">{label}</span></td><td>",
            c.number(),
            c.number(),
            esc(c.title()),
            esc(c.name())
        )?;
        if !c.failures().is_empty() {
            s.push_str("<ul class=\"plain\">");
            for f in c.failures() {
                write!(
                    s,
                    "<li class=\"failure\"><code>{}</code> {}</li>",
                    esc_cap(f.code.as_str(), 200),
                    esc_cap(&f.detail, 2_000)
                )?;
            }
            let more = c.failure_count().saturating_sub(c.failures().len() as u64);
            if more > 0 {
                write!(
                    s,
                    "<li>&hellip; and {more} more failures of this check</li>"
                )?;
            }
            s.push_str("</ul>");
        }
        if !c.notes().is_empty() {
            s.push_str("<ul class=\"plain\">");
            for n in c.notes() {
                write!(s, "<li>{}</li>", esc_cap(n, 2_000))?;
            }
            s.push_str("</ul>");
        }
        writeln!(s, "</td></tr>")?;
    }
    writeln!(s, "</tbody>\n</table>\n</section>")
}

fn keys(s: &mut String, r: &Report, c: Option<&Contract>) -> fmt::Result {
    writeln!(s, "<section id=\"keys\">\n<h2>Parties and keys</h2>")?;
    if r.signers.is_empty() {
        return writeln!(
            s,
            "<p>The parties could not be read (the contract is unreadable).</p>\n</section>"
        );
    }
    writeln!(s, "<table class=\"fixed\"><colgroup><col style=\"width:15%\"><col style=\"width:22%\"><col style=\"width:40%\"><col style=\"width:23%\"></colgroup>\n<thead><tr><th>Role</th><th>Name in the contract</th><th>Key fingerprint (SHA-256)</th><th>Pinned by the verifier?</th></tr></thead>\n<tbody>")?;
    for k in &r.signers {
        let pin = match k.pin {
            Pin::Pinned => "<span class=\"status pass\">pinned</span>",
            Pin::NotPinned => "<span class=\"pin-no\">NOT pinned</span>: taken from the bundle",
            Pin::Mismatch => "<span class=\"status fail pin-bad\">PIN MISMATCH</span>: not the key the verifier trusts",
        };
        let attestor = c.is_some_and(|c| c.parties.attestors.contains_key(&k.role));
        writeln!(
            s,
            "<tr><td>{}{}</td><td>{}</td><td class=\"hash\">{}</td><td>{pin}</td></tr>",
            esc_cap(&k.role, 200),
            if attestor { " (attestor)" } else { "" },
            esc_cap(&k.name, 400),
            esc_cap(&k.fingerprint, 200)
        )?;
    }
    writeln!(s, "</tbody>\n</table>")?;
    if r.unpinned() {
        writeln!(s, "<p class=\"warning\"><strong>Keys not pinned.</strong> A bundle names its own keys, and keys cannot vouch for themselves: whoever made the bundle could have put any key there. The signatures above prove only that the named keys signed. Compare each fingerprint with one obtained independently (from the party, or a registry), or verify again pinning the keys you know: <code>--trust trust.toml</code>, or <code>--recorder-key</code>, <code>--provider-key</code>, <code>--user-key</code>.</p>")?;
    }
    writeln!(s, "</section>")
}

fn rule_terms(r: &Rule) -> String {
    let dur = format_duration;
    let pred = |p: &Option<cfr_contract::Predicate>| {
        p.as_ref()
            .map(|p| format!(" where {p}"))
            .unwrap_or_default()
    };
    match &r.kind {
        RuleKind::Deadline(d) => format!(
            "each {}{} is answered by a {} with equal {} within {}{}",
            d.trigger,
            pred(&d.filter),
            d.reply,
            d.matching.join(", "),
            dur(d.within),
            d.ok.as_ref()
                .map(|p| format!("; the answer must satisfy {p}"))
                .unwrap_or_default()
        ),
        RuleKind::Forbid(f) => format!(
            "no {} event{} (incident {}){}",
            f.event,
            pred(&f.filter),
            f.incident,
            f.permitted_by
                .as_ref()
                .map(|p| format!(
                    "; unless permitted by an earlier {} with {}",
                    p.event,
                    p.matching
                        .iter()
                        .map(|(a, b)| format!("{a} = {b}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .unwrap_or_default()
        ),
        RuleKind::Integrity(i) => format!(
            "a {} of a {} returns the {} of the last {}{}",
            i.read.event,
            i.read.key,
            i.read.value,
            i.write.event,
            i.delete
                .as_ref()
                .map(|d| format!("; a {} forgets it", d.event))
                .unwrap_or_default()
        ),
        RuleKind::Rate(q) => format!(
            "at most {} {} events{} per {}",
            q.max,
            q.event,
            pred(&q.filter),
            dur(q.per)
        ),
        RuleKind::Availability(a) => format!(
            "{} windows of {}, {} ({}); uptime per {} at least {}{}",
            a.event,
            dur(a.window),
            match a.measure {
                cfr_contract::Measure::DownWindows => format!(
                    "down when more than {} fail{}{}",
                    format_percent(a.down_when_ppm.unwrap_or(0)),
                    a.min_events
                        .map(|n| format!(" and it holds at least {n} events"))
                        .unwrap_or_default(),
                    a.down_for
                        .map(|d| format!(
                            "; only runs of down windows lasting at least {} count",
                            dur(d)
                        ))
                        .unwrap_or_default()
                ),
                cfr_contract::Measure::MeanErrorRate => format!(
                    "uptime is 100% minus the mean of the windows' error rates{}",
                    a.down_when_ppm
                        .map(|d| format!(
                            "; a window with more than {} failing is down",
                            format_percent(d)
                        ))
                        .unwrap_or_default()
                ),
            },
            a.failed,
            match a.period {
                Period::Month => "calendar month".to_owned(),
                Period::Every(d) => dur(d),
            },
            format_percent(a.target_ppm),
            if a.credits.is_empty() {
                String::new()
            } else {
                format!(
                    "; credits: {}",
                    a.credits
                        .iter()
                        .map(|c| format!(
                            "{} below {}",
                            format_percent(c.credit_ppm),
                            format_percent(c.below_ppm)
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } + &a
                .fee
                .as_ref()
                .map(|f| format!(" of the fee {f}"))
                .unwrap_or_default()
        ),
        RuleKind::Heartbeat(h) => format!(
            "a {} from the {} at least every {}",
            h.event,
            r.debtor,
            dur(h.every)
        ),
    }
}

fn contract(s: &mut String, c: &Contract, limits: Limits) -> fmt::Result {
    writeln!(
        s,
        "<section id=\"contract\">\n<h2>The contract</h2>\n<table class=\"facts\">"
    )?;
    writeln!(
        s,
        "<tr><th>Title</th><td>{}</td></tr>\n<tr><th>Id</th><td><code>{}</code></td></tr>\n<tr><th>Jurisdiction</th><td>{}</td></tr>\n<tr><th>Format</th><td><code>{}</code></td></tr>",
        esc_cap(&c.title, limits.text),
        esc_cap(&c.id, 400),
        c.jurisdiction
            .as_deref()
            .map(|j| esc_cap(j, limits.text).to_string())
            .unwrap_or_else(|| "not stated".into()),
        esc_cap(&c.format, 100)
    )?;
    writeln!(s, "</table>")?;
    writeln!(s, "<h3>Rules (clauses)</h3>\n<table class=\"rules fixed\"><colgroup><col style=\"width:15%\"><col style=\"width:25%\"><col style=\"width:34%\"><col style=\"width:11%\"><col style=\"width:15%\"></colgroup>\n<thead><tr><th>Rule</th><th>Clause (the contract's words)</th><th>Type and terms</th><th>Debtor</th><th>Excuses, in order</th></tr></thead>\n<tbody>")?;
    for r in &c.rules {
        let excuses = if r.excuses.is_empty() {
            "none".to_owned()
        } else {
            r.excuses
                .iter()
                .map(|x| format!("<code>{}</code>", esc_cap(x, 200)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            s,
            "<tr id=\"rule-{}\"><td><code>{}</code></td><td>{}</td><td><strong>{}</strong>: {}</td><td>{}</td><td>{excuses}</td></tr>",
            esc_cap(&r.id, 200),
            esc_cap(&r.id, 200),
            esc_cap(&r.clause, limits.text),
            r.kind.type_name(),
            esc_cap(&rule_terms(r), limits.text),
            r.debtor
        )?;
    }
    writeln!(s, "</tbody>\n</table>")?;
    if !c.excuses.is_empty() {
        writeln!(s, "<h3>Excuses</h3>\n<table class=\"fixed\"><colgroup><col style=\"width:18%\"><col style=\"width:37%\"><col style=\"width:25%\"><col style=\"width:20%\"></colgroup>\n<thead><tr><th>Excuse</th><th>Source of its intervals</th><th>Precondition</th><th>Attributes the incident to</th></tr></thead>\n<tbody>")?;
        for (id, x) in &c.excuses {
            let (src, pre) = match &x.source {
                ExcuseSource::Event {
                    event,
                    from,
                    until,
                    notice,
                } => (
                    format!(
                        "{event} events, from {} until {}",
                        from.as_deref().unwrap_or("the event's time"),
                        until.as_deref().unwrap_or("the event's time")
                    ),
                    match (notice, x.attribute) {
                        (Some(n), _) => {
                            format!("logged at least {} before its start", notice_duration(*n))
                        }
                        (None, Party::External) => "emitted by an attestor".into(),
                        (None, _) => "none".into(),
                    },
                ),
                ExcuseSource::Rule { rule } => (
                    format!("the windows of rule {rule}'s incidents"),
                    "none".into(),
                ),
            };
            writeln!(
                s,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc_cap(id, 200),
                esc_cap(&src, limits.text),
                esc_cap(&pre, limits.text),
                party_cell(x.attribute)
            )?;
        }
        writeln!(s, "</tbody>\n</table>")?;
    }
    writeln!(s, "<h3>Events the recorder must log</h3>\n<div class=\"wide\"><table>\n<thead><tr><th>Kind</th><th>Emitted by</th><th>Signed</th><th>Attributes</th></tr></thead>\n<tbody>")?;
    for (kind, spec) in &c.events {
        let attrs = spec
            .attrs
            .iter()
            .map(|(n, a)| format!("{n}: {a}"))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc_cap(kind, 200),
            spec.by,
            if spec.signed { "yes" } else { "no" },
            esc_cap(&attrs, limits.text)
        )?;
    }
    writeln!(s, "</tbody>\n</table></div>\n</section>")
}

// ---- the timeline -------------------------------------------------------

/// SVG geometry, in user units.
const SVG_W: i64 = 1000;
const PLOT_X: i64 = 124;
const PLOT_W: i64 = SVG_W - PLOT_X - 16;
/// A lane's title row.
const HEAD_H: i64 = 20;
/// A row of marks: a line for count labels above the marks, then the marks.
const ROW_H: i64 = 28;
const MARK_H: i64 = 12;
/// The narrowest mark, so that one incident is seen on screen and in print
/// (about 7 CSS pixels at 1280 pixels wide, 2 mm on A4).
const MIN_MARK_W: i64 = 8;
/// Font size of the count labels (`×60`) above merged marks.
const COUNT_FONT: i64 = 10;

struct Axis {
    t0: i64,
    t1: i64,
}

impl Axis {
    /// The x of time `ns`, clamped to the plot.
    fn x(&self, ns: i64) -> i64 {
        let span = i128::from(self.t1) - i128::from(self.t0);
        let off = (i128::from(ns) - i128::from(self.t0)).clamp(0, span);
        PLOT_X + (off * i128::from(PLOT_W) / span.max(1)) as i64
    }

    fn contains(&self, from: i64, until: i64) -> bool {
        until >= self.t0 && from <= self.t1
    }
}

/// A merged mark: adjacent marks of one row become one.
struct Run {
    x0: i64,
    x1: i64,
    count: u64,
    from: i64,
    until: i64,
    first: usize,
    last: usize,
    label: String,
}

impl Run {
    fn absorb(&mut self, o: Run) {
        self.x1 = self.x1.max(o.x1);
        self.count += o.count;
        self.from = self.from.min(o.from);
        self.until = self.until.max(o.until);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }

    /// The visible count a merged mark carries (`×60`); none for one.
    fn count_label(&self) -> Option<String> {
        (self.count > 1).then(|| format!("\u{d7}{}", self.count))
    }

    /// Where the count label starts and ends (user units): at the mark's
    /// left edge, kept inside the picture.
    fn label_span(&self) -> Option<(i64, i64)> {
        let label = self.count_label()?;
        // Bold digits at COUNT_FONT are at most 0.7 em wide.
        let w = label.chars().count() as i64 * (COUNT_FONT * 7 / 10) + 2;
        let x = self.x0.min(SVG_W - 2 - w);
        Some((x, x + w))
    }
}

/// Merges `(x0, x1, from, until, index, label)` into runs of marks that
/// touch or overlap (within one unit; every mark is at least
/// [`MIN_MARK_W`] wide), so a row never holds more marks than the plot has
/// units. A merged mark carries its count as a label above it; where two
/// such labels would overlap, the marks between them are merged too, so
/// that every count can be read, on screen and on paper.
fn runs(mut marks: Vec<(i64, i64, i64, i64, usize, String)>) -> Vec<Run> {
    marks.sort_by_key(|a| (a.0, a.1, a.4));
    let mut merged: Vec<Run> = Vec::new();
    for (x0, x1, from, until, i, label) in marks {
        let run = Run {
            x0,
            x1: x1.max(x0 + MIN_MARK_W),
            count: 1,
            from,
            until,
            first: i,
            last: i,
            label,
        };
        match merged.last_mut() {
            Some(r) if x0 <= r.x1 + 1 => r.absorb(run),
            _ => merged.push(run),
        }
    }
    // Labels may not overlap: merge from the last labelled run on.
    let mut out: Vec<Run> = Vec::with_capacity(merged.len());
    let mut labelled: Option<usize> = None;
    for r in merged {
        if let (Some(k), Some((start, _))) = (labelled, r.label_span()) {
            let end = out[k].label_span().map_or(i64::MIN, |(_, e)| e);
            if start < end + 3 {
                let tail: Vec<Run> = out.drain(k + 1..).collect();
                for t in tail.into_iter().chain([r]) {
                    out[k].absorb(t);
                }
                continue;
            }
        }
        if r.count > 1 {
            labelled = Some(out.len());
        }
        out.push(r);
    }
    out
}

/// Tick steps, ns, smallest first.
const STEPS: [i64; 22] = {
    const S: i64 = 1_000_000_000;
    [
        1_000_000,
        10_000_000,
        100_000_000,
        S,
        5 * S,
        15 * S,
        60 * S,
        5 * 60 * S,
        15 * 60 * S,
        3600 * S,
        3 * 3600 * S,
        6 * 3600 * S,
        12 * 3600 * S,
        86_400 * S,
        2 * 86_400 * S,
        7 * 86_400 * S,
        14 * 86_400 * S,
        28 * 86_400 * S,
        91 * 86_400 * S,
        364 * 86_400 * S,
        10 * 364 * 86_400 * S,
        100 * 364 * 86_400 * S,
    ]
};

fn ticks(axis: &Axis) -> (i64, Vec<i64>) {
    let span = i128::from(axis.t1) - i128::from(axis.t0);
    let step = STEPS
        .iter()
        .copied()
        .find(|st| span / i128::from(*st) <= 16)
        .unwrap_or(STEPS[STEPS.len() - 1]);
    let first = axis
        .t0
        .div_euclid(step)
        .saturating_add(1)
        .saturating_mul(step);
    let mut out = Vec::new();
    let mut tk = first;
    while tk <= axis.t1 && out.len() < 40 {
        out.push(tk);
        tk = match tk.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    (step, out)
}

/// Tick label lines for `ns` at a step of `step`.
fn tick_label(ns: i64, step: i64) -> (String, Option<String>) {
    let f = format_rfc3339(ns);
    let part = |a: usize, b: usize| f.get(a..b).unwrap_or("").to_owned();
    const DAY: i64 = 86_400 * 1_000_000_000;
    if step >= DAY {
        (part(5, 10), None)
    } else if step >= 60 * 1_000_000_000 {
        (part(11, 16), Some(part(5, 10)))
    } else if step >= 1_000_000_000 {
        (part(11, 19), Some(part(5, 10)))
    } else {
        let frac = f.get(19..f.len().saturating_sub(1)).unwrap_or("");
        (format!("{}{frac}", part(17, 19)), Some(part(11, 16)))
    }
}

fn svg_defs(s: &mut String) {
    s.push_str(concat!(
        "<defs>",
        "<pattern id=\"pat-user\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#0b63a8\"/><rect width=\"2\" height=\"5\" fill=\"#fff\"/></pattern>",
        "<pattern id=\"pat-external\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\"><rect width=\"5\" height=\"5\" fill=\"#b07200\"/><circle cx=\"2.5\" cy=\"2.5\" r=\"1.2\" fill=\"#fff\"/></pattern>",
        "<pattern id=\"pat-none\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\"><rect width=\"4\" height=\"4\" fill=\"#fff\"/><rect width=\"2\" height=\"4\" fill=\"#117a55\"/></pattern>",
        "<pattern id=\"pat-inconclusive\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\"><rect width=\"4\" height=\"4\" fill=\"#fff\"/><rect width=\"4\" height=\"2\" fill=\"#666\"/></pattern>",
        "<pattern id=\"pat-excuse\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(-45)\"><rect width=\"6\" height=\"6\" fill=\"#e9dff5\"/><rect width=\"2\" height=\"6\" fill=\"#6b3fa0\"/></pattern>",
        "</defs>\n"
    ));
}

fn party_fill(p: Party) -> (&'static str, &'static str) {
    match p {
        Party::Provider => ("#c0392b", "#c0392b"),
        Party::User => ("url(#pat-user)", "#0b63a8"),
        Party::External => ("url(#pat-external)", "#b07200"),
        Party::None => ("url(#pat-none)", "#117a55"),
        Party::Inconclusive => ("url(#pat-inconclusive)", "#666"),
    }
}

/// Text in the label column, truncated to `max` characters.
fn svg_text_cap(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        esc(s).to_string()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", esc(&cut))
    }
}

struct Lane {
    title: String,
    subtitle: String,
    rows: Vec<LaneRow>,
    /// SLA period bands: (from, until, label, breached).
    periods: Vec<(i64, i64, String, bool)>,
    /// `sla_breach` incidents, drawn on the period row.
    breaches: Vec<LaneRow>,
}

/// SLA period bands drawn per lane (the table lists them all).
const MAX_PERIOD_BANDS: usize = 400;

struct LaneRow {
    label: String,
    class: &'static str,
    fill: &'static str,
    stroke: &'static str,
    dashed: bool,
    party: Option<Party>,
    runs: Vec<Run>,
}

fn timeline(s: &mut String, v: &Verdict, page: &Page<'_>) -> fmt::Result {
    writeln!(s, "<section id=\"timeline\">\n<h2>Timeline</h2>")?;
    let (Some(lf), Some(lu)) = (v.log.from, v.log.until) else {
        return writeln!(
            s,
            "<p>The log is empty: there is nothing to draw.</p>\n</section>"
        );
    };
    let mut t0 = lf;
    let mut t1 = lu;
    for i in &v.incidents {
        t0 = t0.min(i.from);
        t1 = t1.max(i.until);
    }
    if t1 <= t0 {
        t0 = t0.saturating_sub(1_000_000_000);
        t1 = t1.saturating_add(1_000_000_000);
    }
    let axis = Axis { t0, t1 };

    // Rule lanes, in contract (verdict) order.
    let mut lanes: Vec<Lane> = Vec::new();
    let rule_of = |id: &str| page.contract.and_then(|c| c.rule(id));
    for stats in &v.rules {
        let rule = rule_of(&stats.rule);
        let availability = match rule.map(|r| &r.kind) {
            Some(RuleKind::Availability(a)) => Some(a),
            _ => None,
        };
        let mut periods = Vec::new();
        if let Some(a) = availability {
            for p in v
                .sla
                .iter()
                .filter(|p| p.rule == stats.rule)
                .take(MAX_PERIOD_BANDS)
            {
                if let Some((from, until)) = period_bounds(&p.period, a.period) {
                    let label = format!(
                        "{}: {} (target {}), {}",
                        p.period,
                        sla_uptime(p),
                        sla_target(p),
                        sla_result(p)
                    );
                    periods.push((from, until, label, p.breached));
                }
            }
        }
        type Marks = Vec<(i64, i64, i64, i64, usize, String)>;
        let mut per_party: BTreeMap<Party, Marks> = BTreeMap::new();
        // A breach spans its whole period: drawn on the period row, so it
        // does not hide the down windows in the party rows.
        let mut breaches: BTreeMap<Party, Marks> = BTreeMap::new();
        for (n, i) in v.incidents.iter().enumerate() {
            if i.rule != stats.rule {
                continue;
            }
            let to = if !periods.is_empty() && i.kind == "sla_breach" {
                &mut breaches
            } else {
                &mut per_party
            };
            to.entry(i.party).or_default().push((
                axis.x(i.from),
                axis.x(i.until),
                i.from,
                i.until,
                n,
                i.kind.clone(),
            ));
        }
        let mut rows = Vec::new();
        for p in PARTIES {
            if let Some(marks) = per_party.remove(&p) {
                let (fill, stroke) = party_fill(p);
                rows.push(LaneRow {
                    label: party_label(p).to_owned(),
                    class: "mark",
                    fill,
                    stroke,
                    dashed: false,
                    party: Some(p),
                    runs: runs(marks),
                });
            }
        }
        let breaches: Vec<LaneRow> = breaches
            .into_iter()
            .map(|(p, marks)| {
                let (fill, stroke) = party_fill(p);
                LaneRow {
                    label: String::new(),
                    class: "mark",
                    fill,
                    stroke,
                    dashed: false,
                    party: Some(p),
                    runs: runs(marks),
                }
            })
            .collect();
        let subtitle = match (rule, availability) {
            (Some(r), Some(a)) => format!(
                "{}, debtor {}; windows of {}, periods of {}",
                r.kind.type_name(),
                r.debtor,
                format_duration(a.window),
                match a.period {
                    Period::Month => "a calendar month".to_owned(),
                    Period::Every(d) => format_duration(d),
                }
            ),
            (Some(r), None) => format!("{}, debtor {}", r.kind.type_name(), r.debtor),
            (None, _) => String::new(),
        };
        lanes.push(Lane {
            title: stats.rule.clone(),
            subtitle,
            rows,
            periods,
            breaches,
        });
    }

    // Excuse lanes: the excuses some rule names, in contract order.
    let mut outside = 0u64;
    if let Some(c) = page.contract {
        for (id, x) in &c.excuses {
            if !c.rules.iter().any(|r| r.excuses.contains(id)) {
                continue;
            }
            let party = x.attribute;
            let (mut ok, mut void) = (Vec::new(), Vec::new());
            let subtitle = match &x.source {
                ExcuseSource::Event { event, .. } => {
                    for (n, e) in page
                        .excuses
                        .intervals
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| &e.excuse == id)
                    {
                        if !axis.contains(e.from, e.until) {
                            outside += 1;
                            continue;
                        }
                        let m = (
                            axis.x(e.from),
                            axis.x(e.until),
                            e.from,
                            e.until,
                            n,
                            format!("{} seq {}", e.kind, e.seq),
                        );
                        if e.void.is_some() {
                            void.push(m);
                        } else {
                            ok.push(m);
                        }
                    }
                    format!("{event} events → {}", party_label(party))
                }
                ExcuseSource::Rule { rule } => {
                    for (n, i) in v.incidents.iter().enumerate() {
                        if &i.rule == rule && i.kind != "sla_breach" {
                            ok.push((
                                axis.x(i.from),
                                axis.x(i.until),
                                i.from,
                                i.until,
                                n,
                                i.kind.clone(),
                            ));
                        }
                    }
                    format!("{rule} incidents → {}", party_label(party))
                }
            };
            let mut rows = vec![LaneRow {
                label: "applies".into(),
                class: "excuse",
                fill: "url(#pat-excuse)",
                stroke: "#6b3fa0",
                dashed: false,
                party: None,
                runs: runs(ok),
            }];
            if !void.is_empty() {
                rows.push(LaneRow {
                    label: "does not apply".into(),
                    class: "excuse-void",
                    fill: "#fff",
                    stroke: "#6b3fa0",
                    dashed: true,
                    party: None,
                    runs: runs(void),
                });
            }
            lanes.push(Lane {
                title: format!("excuse {id}"),
                subtitle,
                rows,
                periods: Vec::new(),
                breaches: Vec::new(),
            });
        }
    }

    // Geometry.
    let legend_h = 80;
    let axis_y = legend_h + 34;
    let mut y = axis_y + 8;
    let log_y = y;
    y += HEAD_H + 10;
    let mut lane_tops = Vec::new();
    for lane in &lanes {
        lane_tops.push(y);
        y += HEAD_H + lane_rows(lane) * ROW_H + 8;
    }
    let height = y + 6;
    let marks_total: usize = lanes
        .iter()
        .flat_map(|l| l.rows.iter().chain(&l.breaches))
        .filter(|r| r.party.is_some())
        .map(|r| r.runs.len())
        .sum();

    writeln!(
        s,
        "<figure>\n<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {SVG_W} {height}\" width=\"{SVG_W}\" height=\"{height}\" role=\"img\" aria-labelledby=\"timeline-title\" font-size=\"12\">"
    )?;
    writeln!(
        s,
        "<title id=\"timeline-title\">Timeline of {} incidents from {} to {}, one lane per rule and per excuse; each incident is drawn in the row of the party at fault</title>",
        v.incidents.len(),
        t(t0),
        t(t1)
    )?;
    svg_defs(s);
    // Legend: swatches with their names, so no meaning rests on colour.
    writeln!(s, "<g class=\"legend\">")?;
    let swatch = |s: &mut String,
                  x: i64,
                  y: i64,
                  fill: &str,
                  stroke: &str,
                  dashed: bool,
                  label: &str|
     -> Result<i64, fmt::Error> {
        writeln!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"22\" height=\"12\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"{}/><text x=\"{}\" y=\"{y}\">{label}</text>",
            y - 10,
            if dashed { " stroke-dasharray=\"3 2\"" } else { "" },
            x + 27
        )?;
        Ok(x + 27 + 7 * label.chars().count() as i64 + 18)
    };
    writeln!(
        s,
        "<text x=\"8\" y=\"16\" font-weight=\"bold\">At fault:</text>"
    )?;
    let mut lx = 80;
    for p in PARTIES {
        let (fill, stroke) = party_fill(p);
        let label = format!("{} ({})", party_label(p), v.totals.of(p));
        lx = swatch(s, lx, 16, fill, stroke, false, &label)?;
    }
    writeln!(
        s,
        "<text x=\"8\" y=\"36\" font-weight=\"bold\">Excuses:</text>"
    )?;
    let lx = swatch(
        s,
        80,
        36,
        "url(#pat-excuse)",
        "#6b3fa0",
        false,
        "interval claimed by an excuse event",
    )?;
    let lx = swatch(
        s,
        lx,
        36,
        "#fff",
        "#6b3fa0",
        true,
        "excuse event that cannot excuse",
    )?;
    swatch(
        s,
        lx,
        36,
        "#f4f4f4",
        "#c0392b",
        false,
        "SLA period (red: breached)",
    )?;
    writeln!(
        s,
        "<text x=\"8\" y=\"56\" fill=\"#333\">Each rule lane has one row per party at fault, named on the left. Time (UTC) runs left to right, {} to {}.</text>\n<text x=\"8\" y=\"72\" fill=\"#333\">A mark labelled <tspan font-weight=\"bold\">\u{d7}N</tspan> stands for N incidents (or intervals) too close in time to be drawn apart; the table below lists each.</text>\n</g>",
        esc(&t(t0)),
        esc(&t(t1))
    )?;
    // Axis and grid.
    let (step, tks) = ticks(&axis);
    writeln!(s, "<g class=\"axis\">")?;
    writeln!(
        s,
        "<line x1=\"{PLOT_X}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#333\"/>",
        PLOT_X + PLOT_W
    )?;
    let mut last_day = String::new();
    for tk in &tks {
        let x = axis.x(*tk);
        let (main, extra) = tick_label(*tk, step);
        writeln!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ccc\" stroke-width=\"0.8\"/>",
            axis_y,
            height - 6
        )?;
        writeln!(
            s,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            axis_y - 4,
            esc(&main)
        )?;
        if let Some(day) = extra {
            if day != last_day {
                writeln!(
                    s,
                    "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">{}</text>",
                    axis_y - 17,
                    esc(&day)
                )?;
                last_day = day;
            }
        }
    }
    writeln!(s, "</g>")?;
    // The log itself.
    writeln!(
        s,
        "<g class=\"log\"><text x=\"8\" y=\"{}\" font-weight=\"bold\">log</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{} events</text><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{MARK_H}\" fill=\"#ddd\" stroke=\"#555\"><title>the log: {} events from {} to {}</title></rect></g>",
        log_y + 12,
        PLOT_X - 6,
        log_y + 12,
        v.log.events,
        axis.x(lf),
        log_y + 2,
        (axis.x(lu) - axis.x(lf)).max(2),
        v.log.events,
        t(lf),
        t(lu)
    )?;
    for (lane, top) in lanes.iter().zip(lane_tops) {
        let h = lane_rows(lane) * ROW_H;
        writeln!(
            s,
            "<g class=\"lane\"><line x1=\"4\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\" stroke-width=\"0.6\"/>",
            top - 4,
            SVG_W - 4,
            top - 4
        )?;
        writeln!(
            s,
            "<text x=\"8\" y=\"{}\"><tspan font-weight=\"bold\">{}</tspan><tspan fill=\"#444\" font-size=\"11\"> \u{2014} {}</tspan></text>",
            top + 12,
            svg_text_cap(&lane.title, 60),
            svg_text_cap(&lane.subtitle, 80)
        )?;
        let top = top + HEAD_H;
        let mut ry = top;
        for (band, (from, until, label, breached)) in lane.periods.iter().enumerate() {
            if !axis.contains(*from, *until) {
                continue;
            }
            let x0 = axis.x(*from);
            let w = (axis.x(*until) - x0).max(2);
            let fill = if band % 2 == 0 { "#f4f4f4" } else { "#e8e8e8" };
            writeln!(
                s,
                "<rect class=\"period\" x=\"{x0}\" y=\"{ry}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\" stroke=\"{}\" stroke-width=\"{}\" fill-opacity=\"0.7\"><title>SLA period {}</title></rect>",
                if *breached { "#c0392b" } else { "#777" },
                if *breached { 2 } else { 1 },
                esc(label)
            )?;
            if w > 7 * label.chars().count() as i64 {
                writeln!(
                    s,
                    "<text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
                    x0 + 4,
                    ry + 12,
                    esc(label)
                )?;
            }
        }
        if !lane.periods.is_empty() {
            writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">SLA periods</text>",
                PLOT_X - 6,
                ry + 22
            )?;
            for row in &lane.breaches {
                for r in &row.runs {
                    write_mark(s, row, r, ry + 19, 5)?;
                }
            }
            ry += ROW_H;
        }
        if lane.rows.is_empty() {
            writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#555\">no incidents</text>",
                PLOT_X + 4,
                ry + 22
            )?;
        }
        for row in &lane.rows {
            writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
                PLOT_X - 6,
                ry + 22,
                esc(&row.label)
            )?;
            for r in &row.runs {
                write_mark(s, row, r, ry + 12, MARK_H)?;
            }
            ry += ROW_H;
        }
        writeln!(s, "</g>")?;
    }
    writeln!(s, "</svg>")?;
    write!(
        s,
        "<figcaption class=\"note\">{} incidents drawn as {marks_total} marks (incidents too close in time to be drawn apart are merged into one mark, labelled with how many it holds, such as \u{d7}60; the table below lists each). Incident windows: {} to {}.",
        v.incidents.len(),
        t(t0),
        t(t1)
    )?;
    if page.excuses.found > page.excuses.intervals.len() as u64 {
        write!(
            s,
            " Only the first {} of {} excuse intervals were read for drawing.",
            page.excuses.intervals.len(),
            page.excuses.found
        )?;
    }
    if outside > 0 {
        write!(
            s,
            " {outside} excuse interval{} lie outside the drawn span and are listed in the excuse table only.",
            if outside == 1 { "" } else { "s" }
        )?;
    }
    if let Some(e) = &page.excuses.error {
        write!(s, " {}.", esc_cap(e, 1_000))?;
    }
    writeln!(s, "</figcaption>\n</figure>\n</section>")
}

/// One mark (a run of merged incidents or intervals) with its tooltip,
/// linked to the incident table when it stands for incidents.
fn write_mark(s: &mut String, row: &LaneRow, r: &Run, y: i64, h: i64) -> fmt::Result {
    let (what, link) = match row.party {
        Some(p) => {
            let what = if r.count == 1 {
                format!(
                    "incident #{}: {}, {}, {} to {}",
                    r.first + 1,
                    r.label,
                    party_label(p),
                    t(r.from),
                    t(r.until)
                )
            } else {
                format!(
                    "{} incidents (#{} to #{}), {}, {} to {}",
                    r.count,
                    r.first + 1,
                    r.last + 1,
                    party_label(p),
                    t(r.from),
                    t(r.until)
                )
            };
            (what, Some(r.first + 1))
        }
        None => (
            if r.count == 1 {
                format!("{}: {} to {}", r.label, t(r.from), t(r.until))
            } else {
                format!("{} intervals, {} to {}", r.count, t(r.from), t(r.until))
            },
            None,
        ),
    };
    let party_attr = row
        .party
        .map(|p| format!(" data-party=\"{}\"", p.name()))
        .unwrap_or_default();
    let rect = format!(
        "<rect class=\"{}\"{party_attr} data-count=\"{}\" x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{h}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.2\"{}><title>{}</title></rect>",
        row.class,
        r.count,
        r.x0,
        r.x1 - r.x0,
        row.fill,
        row.stroke,
        if row.dashed { " stroke-dasharray=\"3 2\"" } else { "" },
        esc_cap(&what, 400)
    );
    // The count, as text above the mark: seen without hovering, printed.
    let label = match (r.count_label(), r.label_span()) {
        (Some(l), Some((x, _))) => format!(
            "<text class=\"count\" x=\"{x}\" y=\"{}\" font-size=\"{COUNT_FONT}\" font-weight=\"bold\">{l}</text>",
            y - 2
        ),
        _ => String::new(),
    };
    match link {
        Some(n) => writeln!(s, "<a href=\"#incident-{n}\">{rect}{label}</a>"),
        None => writeln!(s, "{rect}{label}"),
    }
}

/// Rows of a lane below its header: one per party (or one saying there
/// are no incidents), plus one for SLA periods.
fn lane_rows(lane: &Lane) -> i64 {
    lane.rows.len().max(1) as i64 + i64::from(!lane.periods.is_empty())
}

/// The `[start, end)` of an SLA period from its label.
fn period_bounds(label: &str, period: Period) -> Option<(i64, i64)> {
    match period {
        Period::Month => {
            let start = cfr_model::time::parse_rfc3339(&format!("{label}-01T00:00:00Z")).ok()?;
            Some((start, cfr_model::time::next_month(start)))
        }
        Period::Every(d) => {
            let start = cfr_model::time::parse_rfc3339(label).ok()?;
            Some((start, start.saturating_add(d)))
        }
    }
}

/// Receipts the bundle contradicts: findings against the recorder,
/// shown only when there are any.
fn recorder_findings(s: &mut String, r: &Report) -> fmt::Result {
    if r.recorder.is_empty() {
        return Ok(());
    }
    writeln!(
        s,
        "<section id=\"recorder\">\n<h2>Findings against the recorder</h2>\n<p>The recorder signed these receipts to a party when it acknowledged their submissions; the bundle it sealed contradicts them (check 4, <code>receipt-contradicted</code>). Each is the recorder's signature against the recorder's signature: it kept or showed a log other than the one it acknowledged.</p>\n<div class=\"wide\"><table>\n<thead><tr><th class=\"num\">#</th><th>Receipt</th><th>Submission</th><th class=\"num\">Seq</th><th>What differs</th></tr></thead>\n<tbody>"
    )?;
    for (i, f) in r.recorder.iter().enumerate() {
        writeln!(
            s,
            "<tr><td class=\"num\">R{}</td><td><code>{}</code></td><td><code>{}</code> of the {}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            i + 1,
            esc_cap(&f.receipt, 400),
            esc_cap(&f.id, 100),
            esc_cap(&f.party, 100),
            f.seq.map_or("&ndash;".to_owned(), |q| q.to_string()),
            esc_cap(&f.detail, 2000)
        )?;
    }
    writeln!(s, "</tbody>\n</table></div>\n</section>")
}

fn rule_stats(s: &mut String, v: &Verdict, c: Option<&Contract>, recorder: u64) -> fmt::Result {
    writeln!(s, "<section id=\"rules\">\n<h2>Rules: what was judged, and who is at fault</h2>\n<div class=\"wide\"><table class=\"stats\">\n<thead><tr><th>Rule</th><th>Type</th><th class=\"num\">Checked</th><th class=\"num\">Fulfilled</th><th class=\"num\">Pending</th><th class=\"num\">Incidents</th>")?;
    for p in PARTIES {
        write!(s, "<th class=\"num\">{}</th>", party_cell(p))?;
        if p == Party::External && recorder > 0 {
            write!(s, "<th class=\"num\">recorder</th>")?;
        }
    }
    writeln!(s, "</tr></thead>\n<tbody>")?;
    let mut totals = [0u64; 5];
    for r in &v.rules {
        let ty = c
            .and_then(|c| c.rule(&r.rule))
            .map(|x| x.kind.type_name())
            .unwrap_or("");
        write!(
            s,
            "<tr><td><code>{}</code></td><td>{ty}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            esc_cap(&r.rule, 200),
            r.checked,
            r.fulfilled,
            r.pending,
            r.incidents
        )?;
        for (k, p) in PARTIES.iter().enumerate() {
            let n = v
                .incidents
                .iter()
                .filter(|i| i.rule == r.rule && i.party == *p)
                .count() as u64;
            totals[k] += n;
            cell_count(s, n)?;
            if *p == Party::External && recorder > 0 {
                cell_count(s, 0)?;
            }
        }
        writeln!(s, "</tr>")?;
    }
    if recorder > 0 {
        write!(
            s,
            "<tr><td>receipts (<a href=\"#recorder\">findings</a>)</td><td>receipt</td><td class=\"num\">&ndash;</td><td class=\"num\">&ndash;</td><td class=\"num\">&ndash;</td><td class=\"num\">{recorder}</td>"
        )?;
        for p in PARTIES {
            cell_count(s, 0)?;
            if p == Party::External {
                cell_count(s, recorder)?;
            }
        }
        writeln!(s, "</tr>")?;
    }
    write!(
        s,
        "<tr><th colspan=\"5\">All rules</th><th class=\"num\">{}</th>",
        v.incidents.len() as u64 + recorder
    )?;
    for (k, n) in totals.iter().enumerate() {
        write!(s, "<th class=\"num\">{n}</th>")?;
        if PARTIES[k] == Party::External && recorder > 0 {
            write!(s, "<th class=\"num\">{recorder}</th>")?;
        }
    }
    writeln!(s, "</tr>\n</tbody>\n</table></div>\n<p class=\"note\">Checked = fulfilled + pending + incidents. Pending: cases the log ends too early to judge. An availability rule counts windows; its <code>sla_breach</code> incidents are one per breached period.</p>\n</section>")
}

fn cell_count(s: &mut String, n: u64) -> fmt::Result {
    if n == 0 {
        write!(s, "<td class=\"num zero\">0</td>")
    } else {
        write!(s, "<td class=\"num\">{n}</td>")
    }
}

fn sla(s: &mut String, v: &Verdict) -> fmt::Result {
    if v.sla.is_empty() {
        return Ok(());
    }
    writeln!(s, "<section id=\"sla\">\n<h2>Service levels</h2>\n<div class=\"wide\"><table>\n<thead><tr><th>Rule</th><th>Period</th><th class=\"num\">Uptime</th><th class=\"num\">Target</th><th>Result</th><th class=\"num\">Credit due</th></tr></thead>\n<tbody>")?;
    for p in &v.sla {
        writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc_cap(&p.rule, 200),
            esc_cap(&p.period, 100),
            sla_uptime(p),
            sla_target(p),
            if p.breached {
                "<span class=\"status fail\">BREACHED</span>"
            } else {
                "<span class=\"status pass\">met</span>"
            },
            sla_credit(p)
        )?;
    }
    writeln!(s, "</tbody>\n</table></div>\n<p class=\"note\">Uptime counts only the windows attributed to the provider as down; windows excused or attributed to others do not count against it.</p>\n</section>")
}

/// Seqs as runs: `3, 7-9, 12`, at most `max` runs.
fn seq_runs(seqs: &[u64], max: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    let mut shown = 0usize;
    while i < seqs.len() {
        let start = seqs[i];
        let mut end = start;
        let mut j = i + 1;
        while j < seqs.len() && Some(seqs[j]) == end.checked_add(1) {
            end = seqs[j];
            j += 1;
        }
        if parts.len() >= max {
            let rest = seqs.len() - shown;
            parts.push(format!("… and {rest} more"));
            break;
        }
        shown += j - i;
        parts.push(if end == start {
            start.to_string()
        } else {
            format!("{start}–{end}")
        });
        i = j;
    }
    parts.join(", ")
}

/// Incidents of one rule, one kind and one party at fault.
struct Group {
    rule: usize,
    party: usize,
    /// Indexes into the verdict's incidents, in verdict order.
    members: Vec<usize>,
    first: i64,
    last: i64,
}

/// The incidents grouped by rule, kind and party at fault: in contract
/// (verdict) rule order, then party order, then by first incident.
fn groups(v: &Verdict) -> Vec<Group> {
    let mut by: BTreeMap<(usize, usize, &str), Group> = BTreeMap::new();
    for (n, i) in v.incidents.iter().enumerate() {
        let rule = v
            .rules
            .iter()
            .position(|r| r.rule == i.rule)
            .unwrap_or(v.rules.len());
        let party = PARTIES.iter().position(|p| *p == i.party).unwrap_or(4);
        let g = by
            .entry((rule, party, i.kind.as_str()))
            .or_insert_with(|| Group {
                rule,
                party,
                members: Vec::new(),
                first: i.from,
                last: i.until,
            });
        g.members.push(n);
        g.first = g.first.min(i.from);
        g.last = g.last.max(i.until);
    }
    let mut out: Vec<Group> = by.into_values().collect();
    out.sort_by_key(|g| (g.rule, g.party, g.members.first().copied()));
    out
}

/// Groups of at most this many incidents are shown open.
const OPEN_GROUP: usize = 3;

fn incidents(s: &mut String, v: &Verdict, limits: Limits) -> fmt::Result {
    writeln!(s, "<section id=\"incidents\">\n<h2>Incidents</h2>")?;
    if v.incidents.is_empty() {
        return writeln!(s, "<p>No incidents: every rule was kept.</p>\n</section>");
    }
    let shown = v.incidents.len().min(limits.incidents);
    let groups = groups(v);
    writeln!(
        s,
        "<p>{} incident{} in {} group{}, one per rule, kind of incident and party at fault. Each group lists its incidents below its row (open it on screen; on paper every list is printed). Incidents are numbered in verdict order, as <code>cfr-bundle verify</code> numbers them.</p>",
        v.incidents.len(),
        if v.incidents.len() == 1 { "" } else { "s" },
        groups.len(),
        if groups.len() == 1 { "" } else { "s" }
    )?;
    if shown < v.incidents.len() {
        writeln!(
            s,
            "<p class=\"warning\">The lists show the first {shown} of {} incidents (in verdict order); the counts include all of them, and <code>cfr-bundle verify --json</code> prints every one.</p>",
            v.incidents.len()
        )?;
    }
    writeln!(s, "<div class=\"wide\"><table class=\"groups\">\n<colgroup><col class=\"c-rule\"><col class=\"c-who\"><col class=\"c-count\"><col class=\"c-first\"><col class=\"c-last\"></colgroup>\n<thead><tr><th>Rule, incident and clause</th><th>At fault</th><th class=\"num\">Count</th><th>First (UTC)</th><th>Last (UTC)</th></tr></thead>")?;
    for (k, g) in groups.iter().enumerate() {
        let i0 = &v.incidents[g.members[0]];
        let listed: Vec<usize> = g.members.iter().copied().filter(|n| *n < shown).collect();
        writeln!(
            s,
            "<tbody class=\"group\" id=\"group-{}\" data-party=\"{}\" data-count=\"{}\">\n<tr class=\"summary\"><td><code class=\"kind\">{}</code> under <code>{}</code><br><span class=\"clause\">{}</span></td><td>{}</td><td class=\"num count\">{}</td><td class=\"when\">{}</td><td class=\"when\">{}</td></tr>",
            k + 1,
            i0.party.name(),
            g.members.len(),
            esc_cap(&i0.kind, 200),
            esc_cap(&i0.rule, 200),
            esc_cap(&i0.clause, limits.text),
            party_cell(i0.party),
            g.members.len(),
            tt(g.first),
            tt(g.last)
        )?;
        if listed.is_empty() {
            writeln!(s, "<tr class=\"members\"><td colspan=\"5\" class=\"note\">Not listed (beyond the first {shown} incidents).</td></tr>\n</tbody>")?;
            continue;
        }
        let what = if g.members.len() == 1 {
            format!("Incident #{}", g.members[0] + 1)
        } else {
            format!(
                "{} incidents, #{} to #{}",
                g.members.len(),
                g.members[0] + 1,
                g.members[g.members.len() - 1] + 1
            )
        };
        let partial = if listed.len() < g.members.len() {
            format!(" (the first {} listed)", listed.len())
        } else {
            String::new()
        };
        writeln!(
            s,
            "<tr class=\"members\"><td colspan=\"5\"><details{}><summary>{what}{partial}</summary>\n<table class=\"incidents\">\n<colgroup><col class=\"c-n\"><col class=\"c-when\"><col class=\"c-excuse\"><col class=\"c-expl\"><col class=\"c-ev\"></colgroup>\n<thead><tr><th class=\"num\">#</th><th>Window (UTC)</th><th>Excuse</th><th>Explanation</th><th>Evidence (seq)</th></tr></thead>\n<tbody>",
            if g.members.len() <= OPEN_GROUP { " open" } else { "" }
        )?;
        for n in listed {
            incident_row(s, n + 1, &v.incidents[n], limits)?;
        }
        writeln!(s, "</tbody>\n</table>\n</details></td></tr>\n</tbody>")?;
    }
    writeln!(s, "</table></div>\n</section>")
}

fn incident_row(s: &mut String, n: usize, i: &Incident, limits: Limits) -> fmt::Result {
    let window = if i.from == i.until {
        tt(i.from)
    } else {
        format!("{}<br>to {}", tt(i.from), tt(i.until))
    };
    let excuse = match (&i.excuse, i.excused_by) {
        (Some(x), Some(by)) => format!(
            "excuse <code>{}</code> by <a href=\"#incident-{}\">incident {}</a>",
            esc_cap(x, 200),
            by + 1,
            by + 1
        ),
        (Some(x), None) => format!("excuse <code>{}</code>", esc_cap(x, 200)),
        (None, _) => "no excuse".into(),
    };
    let debtor = if i.debtor != i.party {
        format!("; debtor {}", i.debtor.name())
    } else {
        String::new()
    };
    writeln!(
        s,
        "<tr id=\"incident-{n}\" data-party=\"{}\"><td class=\"num\">{n}</td><td class=\"when\">{window}</td><td class=\"who\"><span class=\"note\">{excuse}{debtor}</span></td><td class=\"expl\">{}</td><td class=\"ev\">{}</td></tr>",
        i.party.name(),
        esc_cap(&i.explanation, limits.text),
        seq_runs(&i.evidence, limits.evidence)
    )
}

fn excuse_table(s: &mut String, page: &Page<'_>) -> fmt::Result {
    let x = page.excuses;
    if x.found == 0 && x.error.is_none() && x.ignored == 0 {
        return Ok(());
    }
    writeln!(s, "<section id=\"excuse-events\">\n<h2>Excuse events in the log</h2>\n<p>Events that an excuse named by a rule reads (outages, maintenance notices, ...), with the interval each claims. Whether an interval excuses an incident is decided per incident (it must overlap the incident's window, and the rule must name the excuse); the incident table says which did.</p>")?;
    let rows = x.intervals.len().min(page.limits.excuse_rows);
    if (rows as u64) < x.found {
        writeln!(
            s,
            "<p class=\"warning\">Showing the first {rows} of {} excuse intervals.</p>",
            x.found
        )?;
    }
    if x.ignored > 0 {
        writeln!(
            s,
            "<p class=\"note\">{} excuse event{} ignored by the rules (a start or end attribute missing, or an end before the start).</p>",
            x.ignored,
            if x.ignored == 1 { " is" } else { "s are" }
        )?;
    }
    if let Some(e) = &x.error {
        writeln!(s, "<p class=\"warning\">{}.</p>", esc_cap(e, 1_000))?;
    }
    if rows > 0 {
        writeln!(s, "<div class=\"wide\"><table class=\"excuses fixed\"><colgroup><col style=\"width:17%\"><col style=\"width:7%\"><col class=\"c-time\"><col style=\"width:12%\"><col class=\"c-time\"><col style=\"width:20%\"></colgroup>\n<thead><tr><th>Excuse</th><th class=\"num\">Seq</th><th>Logged at</th><th>Emitted by</th><th>Interval claimed (UTC)</th><th>Can it excuse?</th></tr></thead>\n<tbody>")?;
        for e in x.intervals.iter().take(rows) {
            writeln!(
                s,
                "<tr><td><code>{}</code> <span class=\"note\">({})</span></td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}<br>to {}</td><td>{}</td></tr>",
                esc_cap(&e.excuse, 200),
                esc_cap(&e.kind, 200),
                e.seq,
                tt(e.logged),
                esc_cap(&e.actor, 200),
                tt(e.from),
                tt(e.until),
                match &e.void {
                    None => "yes, where it overlaps an incident".to_owned(),
                    Some(why) => format!("<strong>no</strong>: {}", esc_cap(why, 1_000)),
                }
            )?;
        }
        writeln!(s, "</tbody>\n</table></div>")?;
    }
    writeln!(s, "</section>")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_bidi() {
        let out = esc("<script>alert('x')</script> & \"q\" \u{202E}abc\u{0007}").to_string();
        assert_eq!(
            out,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; [U+202E]abc[U+0007]"
        );
    }

    #[test]
    fn caps_long_text_and_says_so() {
        let out = esc_cap("abcdef", 3).to_string();
        assert_eq!(out, "abc… [3 more characters not shown]");
    }

    #[test]
    fn seq_runs_compress_and_cap() {
        assert_eq!(seq_runs(&[1, 2, 3, 7, 9, 10], 10), "1–3, 7, 9–10");
        assert_eq!(seq_runs(&[1, 3, 5, 7], 2), "1, 3, … and 2 more");
        assert_eq!(seq_runs(&[], 2), "");
    }

    #[test]
    fn runs_merge_adjacent_marks() {
        let m = |x: i64, i: usize| (x, x, 0, 0, i, String::new());
        let r = runs(vec![m(10, 0), m(11, 1), m(12, 2), m(40, 3)]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].count, 3);
        assert_eq!(r[1].count, 1);
    }

    #[test]
    fn marks_are_wide_enough_and_their_counts_never_overlap() {
        let m = |x: i64, i: usize| (x, x, 0, 0, i, String::new());
        // Single incidents: no label, at least MIN_MARK_W wide.
        let r = runs(vec![m(100, 0), m(200, 1)]);
        assert!(r
            .iter()
            .all(|r| r.x1 - r.x0 >= MIN_MARK_W && r.count_label().is_none()));
        // Two pairs whose labels would overlap become one mark of four.
        let r = runs(vec![m(100, 0), m(101, 1), m(110, 2), m(111, 3)]);
        assert_eq!(
            r.len(),
            1,
            "{:?}",
            r.iter().map(|r| r.count).collect::<Vec<_>>()
        );
        assert_eq!(r[0].count_label().as_deref(), Some("\u{d7}4"));
        // Many pairs across the plot: every label is apart from the next,
        // and the counts add up.
        let marks: Vec<_> = (0..400)
            .map(|k| m(PLOT_X + (k as i64 / 2) * 4 + k as i64 % 2, k))
            .collect();
        let r = runs(marks);
        assert_eq!(r.iter().map(|r| r.count).sum::<u64>(), 400);
        let spans: Vec<(i64, i64)> = r.iter().filter_map(Run::label_span).collect();
        assert!(spans.windows(2).all(|w| w[0].1 < w[1].0), "{spans:?}");
        assert!(spans.iter().all(|(_, e)| *e <= SVG_W));
    }

    #[test]
    fn incidents_are_grouped_by_rule_kind_and_party() {
        let mut incidents: Vec<Incident> = (0..6)
            .map(|k| incident(k, if k < 4 { Party::User } else { Party::Provider }))
            .collect();
        incidents[5].kind = "no_result".into();
        let v = Verdict {
            contract: "c".into(),
            log: cfr_rules::LogSpan {
                events: 6,
                from: Some(0),
                until: Some(6_000_000_000),
            },
            incidents,
            rules: vec![],
            sla: vec![],
            totals: Default::default(),
        };
        let g = groups(&v);
        let shape: Vec<(usize, Vec<usize>)> =
            g.iter().map(|g| (g.party, g.members.clone())).collect();
        // Provider before user (party order); within the provider, by first incident.
        assert_eq!(
            shape,
            vec![(0, vec![4]), (0, vec![5]), (1, vec![0, 1, 2, 3])]
        );
        assert_eq!((g[2].first, g[2].last), (0, 3_000_000_500));
    }

    #[test]
    fn axis_clamps_extreme_times() {
        let a = Axis { t0: 0, t1: 10 };
        assert_eq!(a.x(i64::MIN), PLOT_X);
        assert_eq!(a.x(i64::MAX), PLOT_X + PLOT_W);
        let b = Axis {
            t0: i64::MIN,
            t1: i64::MAX,
        };
        assert_eq!(b.x(i64::MIN), PLOT_X);
        assert_eq!(b.x(i64::MAX), PLOT_X + PLOT_W);
    }

    #[test]
    fn ticks_are_few_and_aligned() {
        let day = 86_400 * 1_000_000_000i64;
        let a = Axis {
            t0: 20_000 * day + 5,
            t1: 20_031 * day,
        };
        let (step, tks) = ticks(&a);
        assert_eq!(step, 2 * day);
        assert!(tks.len() <= 16);
        assert!(tks.iter().all(|t| t % step == 0));
        let extreme = Axis {
            t0: i64::MIN,
            t1: i64::MAX,
        };
        assert!(ticks(&extreme).1.len() <= 40);
    }

    fn incident(n: u64, party: Party) -> Incident {
        Incident {
            rule: "r".into(),
            clause: "1.1 <b>".into(),
            kind: "late_result".into(),
            party,
            debtor: Party::Provider,
            excuse: None,
            from: n as i64 * 1_000_000_000,
            until: n as i64 * 1_000_000_000 + 500,
            evidence: (0..200).map(|k| n * 1000 + k * 2).collect(),
            explanation: "x".repeat(10_000),
            excused_by: None,
        }
    }

    #[test]
    fn huge_verdicts_are_capped_and_say_so() {
        let n = 30_000u64;
        let incidents: Vec<Incident> = (0..n)
            .map(|k| {
                incident(
                    k,
                    if k % 3 == 0 {
                        Party::User
                    } else {
                        Party::Provider
                    },
                )
            })
            .collect();
        let verdict = Verdict {
            contract: "c".into(),
            log: cfr_rules::LogSpan {
                events: n,
                from: Some(0),
                until: Some(n as i64 * 1_000_000_000),
            },
            incidents,
            rules: vec![cfr_rules::RuleStats {
                rule: "r".into(),
                checked: n,
                fulfilled: 0,
                pending: 0,
                incidents: n,
            }],
            sla: vec![],
            totals: Default::default(),
        };
        let report = Report::from_parts(
            Default::default(),
            vec![],
            Default::default(),
            Some(verdict),
            None,
        );
        let limits = Limits {
            incidents: 100,
            excuse_rows: 10,
            text: 50,
            evidence: 5,
        };
        let page = render(&Page {
            file_name: "e.cfr",
            report: &report,
            contract: None,
            excuses: &ExcuseIntervals::default(),
            limits,
        });
        assert_eq!(page.matches("<tr id=\"incident-").count(), 100);
        assert!(page.contains("The lists show the first 100 of 30000 incidents"));
        // Two groups (user, provider) that count all of them.
        assert_eq!(page.matches("<tbody class=\"group\"").count(), 2);
        assert!(page.contains("data-party=\"user\" data-count=\"10000\""));
        assert!(page.contains("data-party=\"provider\" data-count=\"20000\""));
        // Of the first 100, every third is the user's.
        assert!(page.contains("10000 incidents, #1 to #29998 (the first 34 listed)"));
        assert!(page.contains("20000 incidents, #2 to #30000 (the first 66 listed)"));
        assert!(page.contains("… [9950 more characters not shown]"));
        assert!(page.contains("… and 195 more"));
        // Two party rows, each at most one mark per unit of the plot.
        let marks = page.matches("class=\"mark\"").count();
        assert!(marks <= 2 * PLOT_W as usize, "{marks} marks");
        let drawn: u64 = page
            .split("class=\"mark\"")
            .skip(1)
            .filter_map(|s| {
                s.split("data-count=\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        assert_eq!(drawn, n);
        assert!(page.len() < 4 << 20, "{} bytes", page.len());
        assert!(!page.contains("<b>"));
    }

    #[test]
    fn month_period_bounds() {
        let (a, b) = period_bounds("2026-03", Period::Month).unwrap();
        assert_eq!(format_rfc3339(a), "2026-03-01T00:00:00Z");
        assert_eq!(format_rfc3339(b), "2026-04-01T00:00:00Z");
        assert!(period_bounds("<script>", Period::Month).is_none());
    }
}
