//! The verdict (`cfr-verdict/1`): the model, its canonical CBOR form and
//! its JSON form.
//!
//! The CBOR form has exactly the field names, nesting and values of the
//! JSON form (times as RFC 3339 text, percentages as text, `null` as CBOR
//! null); only the map key order differs (canonical CBOR sorts keys). See
//! `VERDICT.md` and `verdict.cddl` in this crate.

use crate::error::VerdictError;
use cfr_model::cbor::{self, Cbor};
use cfr_model::time::{
    format_percent, format_percent3, format_rfc3339, parse_percent, parse_rfc3339, rfc3339_len,
};
use std::fmt::Write as _;

/// The verdict format identifier.
pub const VERDICT_FORMAT: &str = "cfr-verdict/1";

/// Verdict bytes allowed per judged event, on top of [`VERDICT_BASE_BYTES`].
/// The verdict grows linearly with the log (an incident excused by
/// another rule's incident references it with `excused_by` instead of
/// copying its evidence; an explanation cites at most 8 excuse events or
/// excusing incidents one by one and counts the rest), so readers and the
/// analyzer sandbox bound a verdict by [`max_verdict_bytes`].
pub const VERDICT_BYTES_PER_EVENT: u64 = 4096;
/// Verdict bytes allowed whatever the log's size.
pub const VERDICT_BASE_BYTES: u64 = 64 << 20;

/// The largest verdict readers accept for a log of `events` events.
pub fn max_verdict_bytes(events: u64) -> u64 {
    VERDICT_BASE_BYTES.saturating_add(VERDICT_BYTES_PER_EVENT.saturating_mul(events))
}

/// Who an incident is attributed to (the same enum as a contract
/// excuse's `attribute`).
pub use cfr_model::Party;

/// An amount of money: integer cents and an ISO 4217 code.
pub use cfr_contract::Money;

/// The judgement of one log under one contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The contract's id.
    pub contract: String,
    /// What the log holds.
    pub log: LogSpan,
    /// Every incident, ordered by `from`, then rule order in the contract,
    /// then evidence.
    pub incidents: Vec<Incident>,
    /// Per-rule counts, in contract order.
    pub rules: Vec<RuleStats>,
    /// Per-period service levels of availability rules, in rule order then
    /// period order.
    pub sla: Vec<SlaPeriod>,
    /// Incidents per party.
    pub totals: Totals,
}

/// The extent of the judged log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSpan {
    /// Number of events.
    pub events: u64,
    /// Time of the first event (ns), `None` for an empty log.
    pub from: Option<i64>,
    /// Time of the last event (ns), `None` for an empty log.
    pub until: Option<i64>,
}

/// One incident: a breach of one rule, and who is at fault for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// The rule's id.
    pub rule: String,
    /// The rule's clause (the contract's own words).
    pub clause: String,
    /// The incident kind: `late_result`, `no_result`, `erroneous_result`,
    /// `data_lost`, `data_corrupted`, `quota_exceeded`, `unavailable`,
    /// `sla_breach`, `missing_evidence`, or a forbid rule's own name.
    pub kind: String,
    /// Who is at fault.
    pub party: Party,
    /// Who carries the duty (the rule's `party`).
    pub debtor: Party,
    /// The excuse that decided the party, if any.
    pub excuse: Option<String>,
    /// Start of the incident's window, ns.
    pub from: i64,
    /// End of the incident's window, ns (for availability windows, the
    /// exclusive end `start + window`).
    pub until: i64,
    /// Seqs of every event the incident rests on, sorted, unique.
    pub evidence: Vec<u64>,
    /// A human sentence saying what happened and why the party was chosen.
    pub explanation: String,
    /// When a rule-based excuse decided: the index, in the verdict's
    /// `incidents`, of the other rule's incident that excused this one
    /// (the first in verdict order of those that overlap it and start
    /// first). Its evidence is not copied into this incident's, so the
    /// verdict grows linearly with the log. Absent from the CBOR and JSON
    /// forms when `None`.
    pub excused_by: Option<usize>,
}

/// Counts for one rule. `checked = fulfilled + pending + incidents` for
/// every rule type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleStats {
    /// The rule's id.
    pub rule: String,
    /// Cases the rule judged.
    pub checked: u64,
    /// Cases that kept the rule.
    pub fulfilled: u64,
    /// Cases the log ends too early to judge.
    pub pending: u64,
    /// Incidents raised.
    pub incidents: u64,
}

/// The service level of one availability rule (or deadline rule with an
/// `sla`) over one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaPeriod {
    /// The rule's id.
    pub rule: String,
    /// `"2026-03"` for calendar months, else the RFC 3339 period start.
    pub period: String,
    /// What [`SlaPeriod::uptime_ppm`] measures: uptime (printed
    /// `"uptime"`) or, for a deadline rule, the share of deadlines met
    /// (printed `"met"`).
    pub measure: SlaMeasure,
    /// Uptime (or share met) in parts per million, truncated to the three
    /// decimals of a percentage that the verdict reports (so a multiple of 10).
    pub uptime_ppm: u32,
    /// The rule's target, ppm.
    pub target_ppm: u32,
    /// True when the uptime is below the target.
    pub breached: bool,
    /// The service credit due, ppm; `None` when not breached or no tier
    /// matches.
    pub credit_ppm: Option<u32>,
    /// The rule's `fee`, when it has one (printed `"fee"`; absent
    /// otherwise).
    pub fee: Option<Money>,
    /// With a fee: `fee * credit / 100 %` in whole cents, truncated
    /// (printed `"credit_amount"`, null when there is no credit).
    pub credit_amount: Option<Money>,
}

/// What a service-level row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaMeasure {
    /// An availability rule's uptime (`"uptime"`).
    Uptime,
    /// A deadline rule's share of deadlines met (`"met"`).
    Met,
}

impl SlaMeasure {
    /// The verdict's key for the value: `uptime` or `met`.
    pub fn key(self) -> &'static str {
        match self {
            SlaMeasure::Uptime => "uptime",
            SlaMeasure::Met => "met",
        }
    }
}

/// Incidents per party.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Attributed to the provider.
    pub provider: u64,
    /// Attributed to the user.
    pub user: u64,
    /// Attributed to an external factor.
    pub external: u64,
    /// Excused.
    pub none: u64,
    /// Inconclusive.
    pub inconclusive: u64,
}

impl Totals {
    /// Adds one incident attributed to `party`.
    pub fn add(&mut self, party: Party) {
        let slot = match party {
            Party::Provider => &mut self.provider,
            Party::User => &mut self.user,
            Party::External => &mut self.external,
            Party::None => &mut self.none,
            Party::Inconclusive => &mut self.inconclusive,
        };
        *slot = slot.saturating_add(1);
    }

    /// The count for `party`.
    pub fn of(&self, party: Party) -> u64 {
        match party {
            Party::Provider => self.provider,
            Party::User => self.user,
            Party::External => self.external,
            Party::None => self.none,
            Party::Inconclusive => self.inconclusive,
        }
    }
}

fn uint(n: u64) -> Cbor {
    // Counts and seqs above i64::MAX cannot occur (a log that long cannot
    // be stored); saturate rather than wrap.
    Cbor::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn time_or_null(t: Option<i64>) -> Cbor {
    t.map_or(Cbor::Null, |t| Cbor::text(format_rfc3339(t)))
}

/// A top-level field of the verdict: a tree, or a list whose items are
/// built one at a time.
enum Field<'a> {
    Tree(Cbor),
    Items(&'a dyn Items),
}

/// A list of the verdict whose items become trees one at a time.
trait Items {
    fn len(&self) -> usize;
    fn item(&self, n: usize) -> Cbor;
    /// `cbor::encoded_len(&self.item(n))`.
    fn item_len(&self, n: usize) -> usize {
        cbor::encoded_len(&self.item(n))
    }
}

impl Items for Vec<Incident> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn item(&self, n: usize) -> Cbor {
        incident_tree(&self[n])
    }
    fn item_len(&self, n: usize) -> usize {
        incident_len(&self[n])
    }
}

impl Items for Vec<SlaPeriod> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn item(&self, n: usize) -> Cbor {
        sla_tree(&self[n])
    }
}

impl Field<'_> {
    fn into_tree(self) -> Cbor {
        match self {
            Field::Tree(c) => c,
            Field::Items(list) => Cbor::Array((0..list.len()).map(|n| list.item(n)).collect()),
        }
    }
}

fn incident_tree(i: &Incident) -> Cbor {
    let mut fields = vec![
        ("rule", Cbor::text(&*i.rule)),
        ("clause", Cbor::text(&*i.clause)),
        ("kind", Cbor::text(&*i.kind)),
        ("party", Cbor::text(i.party.name())),
        ("debtor", Cbor::text(i.debtor.name())),
        ("excuse", i.excuse.as_deref().map_or(Cbor::Null, Cbor::text)),
        ("from", Cbor::text(format_rfc3339(i.from))),
        ("until", Cbor::text(format_rfc3339(i.until))),
        (
            "evidence",
            Cbor::Array(i.evidence.iter().map(|&s| uint(s)).collect()),
        ),
        ("explanation", Cbor::text(&*i.explanation)),
    ];
    if let Some(by) = i.excused_by {
        fields.push(("excused_by", uint(by as u64)));
    }
    Cbor::map(fields)
}

/// An incident's fields in the CBOR and JSON forms, but for the optional
/// `excused_by`.
const INCIDENT_KEYS: [&str; 10] = [
    "rule",
    "clause",
    "kind",
    "party",
    "debtor",
    "excuse",
    "from",
    "until",
    "evidence",
    "explanation",
];

/// The length of `incident_tree(i)`'s encoding, counted from the
/// incident without building the tree (which copies every text): a
/// verdict's bytes are allocated once, at their exact length.
fn incident_len(i: &Incident) -> usize {
    let text = |t: &str| cbor::head_len(t.len() as u64) + t.len();
    let int = |n: u64| cbor::head_len(n.min(i64::MAX as u64));
    let time = |ns: i64| {
        let n = rfc3339_len(ns);
        cbor::head_len(n as u64) + n
    };
    let keys: usize = INCIDENT_KEYS.iter().map(|k| text(k)).sum();
    let mut len = cbor::head_len(10 + u64::from(i.excused_by.is_some()))
        + keys
        + text(&i.rule)
        + text(&i.clause)
        + text(&i.kind)
        + text(i.party.name())
        + text(i.debtor.name())
        + i.excuse.as_deref().map_or(1, text)
        + time(i.from)
        + time(i.until)
        + cbor::head_len(i.evidence.len() as u64)
        + i.evidence.iter().map(|&s| int(s)).sum::<usize>()
        + text(&i.explanation);
    if let Some(by) = i.excused_by {
        len += text("excused_by") + int(by as u64);
    }
    len
}

fn rule_tree(r: &RuleStats) -> Cbor {
    Cbor::map([
        ("rule", Cbor::text(&*r.rule)),
        ("checked", uint(r.checked)),
        ("fulfilled", uint(r.fulfilled)),
        ("pending", uint(r.pending)),
        ("incidents", uint(r.incidents)),
    ])
}

fn sla_tree(s: &SlaPeriod) -> Cbor {
    let mut fields = vec![
        ("rule", Cbor::text(&*s.rule)),
        ("period", Cbor::text(&*s.period)),
        (s.measure.key(), Cbor::text(format_percent3(s.uptime_ppm))),
        ("target", Cbor::text(format_percent(s.target_ppm))),
        ("breached", Cbor::Bool(s.breached)),
        (
            "credit",
            s.credit_ppm
                .map_or(Cbor::Null, |c| Cbor::text(format_percent(c))),
        ),
    ];
    if let Some(fee) = &s.fee {
        fields.push(("fee", Cbor::text(fee.to_string())));
        fields.push((
            "credit_amount",
            s.credit_amount
                .as_ref()
                .map_or(Cbor::Null, |m| Cbor::text(m.to_string())),
        ));
    }
    Cbor::map(fields)
}

impl Verdict {
    /// The verdict's top-level fields in the order of the JSON form
    /// (section 6 of the design). The incidents and the service-level
    /// periods, the two lists that grow with the log, are left as
    /// [`Field::Items`], so that the encoders below write them one item at
    /// a time and a verdict is never held twice (as itself and as one
    /// tree of every incident).
    fn fields(&self) -> [(&'static str, Field<'_>); 7] {
        let log = Cbor::map([
            ("events", uint(self.log.events)),
            ("from", time_or_null(self.log.from)),
            ("until", time_or_null(self.log.until)),
        ]);
        let rules = self.rules.iter().map(rule_tree).collect();
        let t = &self.totals;
        let totals = Cbor::map([
            ("provider", uint(t.provider)),
            ("user", uint(t.user)),
            ("external", uint(t.external)),
            ("none", uint(t.none)),
            ("inconclusive", uint(t.inconclusive)),
        ]);
        [
            ("format", Field::Tree(Cbor::text(VERDICT_FORMAT))),
            ("contract", Field::Tree(Cbor::text(&*self.contract))),
            ("log", Field::Tree(log)),
            ("incidents", Field::Items(&self.incidents)),
            ("rules", Field::Tree(Cbor::Array(rules))),
            ("sla", Field::Items(&self.sla)),
            ("totals", Field::Tree(totals)),
        ]
    }

    /// The verdict as one CBOR tree whose maps are in the order of the
    /// JSON form (section 6 of the design). [`Verdict::to_cbor`] and
    /// [`Verdict::to_json`] do not build it: they write the same tree an
    /// incident at a time.
    pub fn to_cbor_tree(&self) -> Cbor {
        Cbor::Map(
            self.fields()
                .into_iter()
                .map(|(k, f)| (Cbor::text(k), f.into_tree()))
                .collect(),
        )
    }

    /// The canonical CBOR encoding (RFC 8949 section 4.2.1), the form
    /// stored in bundles and compared byte for byte: `cbor::encode` of
    /// [`Verdict::to_cbor_tree`], written without building that tree.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut fields = self.fields();
        fields.sort_by(|a, b| cbor::text_key_cmp(a.0, b.0));
        // The exact length first, so that the bytes are allocated once:
        // in the analyzer, whose memory never shrinks, a buffer grown by
        // doubling would leave its old copies' space behind (up to twice
        // the verdict's size, about 0.6 KB per incident).
        let mut len = cbor::head_len(fields.len() as u64);
        for (k, f) in &fields {
            len += cbor::head_len(k.len() as u64) + k.len();
            len += match f {
                Field::Tree(c) => cbor::encoded_len(c),
                Field::Items(list) => {
                    cbor::head_len(list.len() as u64)
                        + (0..list.len()).map(|n| list.item_len(n)).sum::<usize>()
                }
            };
        }
        let mut buf = Vec::with_capacity(len);
        cbor::write_head(&mut buf, 5, fields.len() as u64);
        for (k, f) in &fields {
            cbor::write_head(&mut buf, 3, k.len() as u64);
            buf.extend_from_slice(k.as_bytes());
            match f {
                Field::Tree(c) => cbor::encode_into(&mut buf, c),
                Field::Items(list) => {
                    cbor::write_head(&mut buf, 4, list.len() as u64);
                    for n in 0..list.len() {
                        cbor::encode_into(&mut buf, &list.item(n));
                    }
                }
            }
        }
        debug_assert_eq!(buf.len(), len, "counted and written lengths");
        buf
    }

    /// The JSON form: pretty-printed with 2-space indentation, keys in the
    /// order of the design's section 6, no trailing newline. The same
    /// verdict always gives the same text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256 + self.incidents.len() * 400);
        let fields = self.fields();
        write_json_map(
            &mut out,
            &fields,
            0,
            |k| k,
            |out, f, indent| match f {
                Field::Tree(c) => write_json(out, c, indent),
                Field::Items(list) => {
                    write_json_array(out, (0..list.len()).map(|n| list.item(n)), indent);
                }
            },
        );
        out
    }

    /// Decodes a verdict strictly: canonical CBOR, exactly the fields of
    /// `cfr-verdict/1`, each of its type and in its canonical text form,
    /// evidence sorted and unique. `Verdict::from_cbor(b)?.to_cbor() == b`
    /// for every accepted `b`.
    ///
    /// The bytes are checked to be one canonical CBOR item first, without
    /// building it, so a CBOR fault is named as one wherever it lies. The
    /// top-level map is then decoded as a tree, except for the incidents
    /// and the service-level periods, which are decoded an item at a time,
    /// so that a verdict of many incidents is never held as one generic
    /// tree beside the verdict itself.
    pub fn from_cbor(bytes: &[u8]) -> Result<Verdict, VerdictError> {
        let mut whole = cbor::Decoder::new(bytes);
        whole.skip()?;
        whole.finish()?;
        let (top, [incidents, sla]) = top_level(bytes)?;
        let [format, contract, log, _, rules, _, totals] = fields(
            &top,
            "verdict",
            [
                "format",
                "contract",
                "log",
                "incidents",
                "rules",
                "sla",
                "totals",
            ],
        )?;
        let format = text(format, "format")?;
        if format != VERDICT_FORMAT {
            return Err(VerdictError::Format {
                found: format.to_owned(),
            });
        }
        let contract = text(contract, "contract")?.to_owned();
        let [events, from, until] = fields(log, "log", ["events", "from", "until"])?;
        let log = LogSpan {
            events: count(events, "log.events")?,
            from: opt_time(from, "log.from")?,
            until: opt_time(until, "log.until")?,
        };
        let incidents = items(incidents, "incidents", incident)?;
        for (n, i) in incidents.iter().enumerate() {
            if let Some(by) = i.excused_by {
                if by == n || by >= incidents.len() || incidents[by].rule == i.rule {
                    return Err(VerdictError::InvalidField {
                        field: format!("incidents[{n}].excused_by"),
                        expected: "the index of another rule's incident in incidents",
                    });
                }
            }
        }
        let rules = array(rules, "rules")?
            .iter()
            .enumerate()
            .map(|(n, r)| {
                let p = format!("rules[{n}]");
                let [rule, checked, fulfilled, pending, incidents] = fields(
                    r,
                    &p,
                    ["rule", "checked", "fulfilled", "pending", "incidents"],
                )?;
                Ok(RuleStats {
                    rule: text(rule, &format!("{p}.rule"))?.to_owned(),
                    checked: count(checked, &format!("{p}.checked"))?,
                    fulfilled: count(fulfilled, &format!("{p}.fulfilled"))?,
                    pending: count(pending, &format!("{p}.pending"))?,
                    incidents: count(incidents, &format!("{p}.incidents"))?,
                })
            })
            .collect::<Result<_, VerdictError>>()?;
        let sla = items(sla, "sla", sla_period)?;
        let [provider, user, external, none, inconclusive] = fields(
            totals,
            "totals",
            ["provider", "user", "external", "none", "inconclusive"],
        )?;
        let totals = Totals {
            provider: count(provider, "totals.provider")?,
            user: count(user, "totals.user")?,
            external: count(external, "totals.external")?,
            none: count(none, "totals.none")?,
            inconclusive: count(inconclusive, "totals.inconclusive")?,
        };
        Ok(Verdict {
            contract,
            log,
            incidents,
            rules,
            sla,
            totals,
        })
    }
}

/// The verdict's top-level map as a tree, except that the values of
/// `incidents` and `sla` are left as `null`, with a decoder at the start
/// of each of those two lists, unread. [`fields`] on the tree then names
/// a missing or unknown field exactly as on the whole verdict. A decoder
/// whose list is absent stays at the end of empty input: it is never
/// read, because `fields` has refused the verdict first.
fn top_level(bytes: &[u8]) -> Result<(Cbor, [cbor::Decoder<'_>; 2]), VerdictError> {
    const LISTS: [&str; 2] = ["incidents", "sla"];
    let mut lists = [cbor::Decoder::new(&[]), cbor::Decoder::new(&[])];
    let mut d = cbor::Decoder::new(bytes);
    let cbor::Head::Map(n) = d.head()? else {
        // Not a map: `fields` says so.
        return Ok((cbor::decode(bytes)?, lists));
    };
    let mut entries = Vec::new();
    for _ in 0..n {
        let key = d.value()?;
        let value = match LISTS.iter().position(|l| key.as_text() == Some(l)) {
            Some(i) => {
                lists[i] = d.clone();
                d.skip()?;
                Cbor::Null
            }
            None => d.value()?,
        };
        entries.push((key, value));
    }
    Ok((Cbor::Map(entries), lists))
}

/// Decodes the array at `d` (`field`) an item at a time with `each`,
/// which gets the item's path (`field[n]`): only one item's generic tree
/// exists at once.
fn items<T>(
    mut d: cbor::Decoder<'_>,
    field: &str,
    each: impl Fn(&Cbor, &str) -> Result<T, VerdictError>,
) -> Result<Vec<T>, VerdictError> {
    let cbor::Head::Array(n) = d.head()? else {
        return Err(VerdictError::InvalidField {
            field: field.to_owned(),
            expected: "an array",
        });
    };
    let mut out = Vec::new();
    for k in 0..n {
        out.push(each(&d.value()?, &format!("{field}[{k}]"))?);
    }
    Ok(out)
}

fn incident(c: &Cbor, p: &str) -> Result<Incident, VerdictError> {
    let (
        [rule, clause, kind, party, debtor, excuse, from, until, evidence, explanation],
        [excused_by],
    ) = fields_with(c, p, INCIDENT_KEYS, ["excused_by"])?;
    let f = |name: &str| format!("{p}.{name}");
    let party_of = |c: &Cbor, name: &str| {
        Party::from_name(text(c, &f(name))?).ok_or_else(|| VerdictError::InvalidField {
            field: f(name),
            expected: "provider, user, external, none or inconclusive",
        })
    };
    let debtor = party_of(debtor, "debtor")?;
    if !matches!(debtor, Party::Provider | Party::User) {
        return Err(VerdictError::InvalidField {
            field: f("debtor"),
            expected: "provider or user",
        });
    }
    let excuse = match excuse {
        Cbor::Null => None,
        other => Some(text(other, &f("excuse"))?.to_owned()),
    };
    let evidence: Vec<u64> = array(evidence, &f("evidence"))?
        .iter()
        .map(|s| count(s, &f("evidence")))
        .collect::<Result<_, _>>()?;
    if evidence.windows(2).any(|w| w[0] >= w[1]) {
        return Err(VerdictError::InvalidField {
            field: f("evidence"),
            expected: "seqs sorted ascending without duplicates",
        });
    }
    Ok(Incident {
        rule: text(rule, &f("rule"))?.to_owned(),
        clause: text(clause, &f("clause"))?.to_owned(),
        kind: text(kind, &f("kind"))?.to_owned(),
        party: party_of(party, "party")?,
        debtor,
        excuse,
        from: time(from, &f("from"))?,
        until: time(until, &f("until"))?,
        evidence,
        explanation: text(explanation, &f("explanation"))?.to_owned(),
        excused_by: excused_by
            .map(|c| count(c, &f("excused_by")))
            .transpose()?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    })
}

fn money(c: &Cbor, field: &str) -> Result<Money, VerdictError> {
    let err = || VerdictError::InvalidField {
        field: field.to_owned(),
        expected: "an amount with two decimals and an ISO 4217 code such as \"120.00 EUR\"",
    };
    let s = c.as_text().ok_or_else(err)?;
    match Money::parse(s) {
        Some(m) if m.to_string() == s => Ok(m),
        _ => Err(err()),
    }
}

fn sla_period(c: &Cbor, p: &str) -> Result<SlaPeriod, VerdictError> {
    let ([rule, period, target, breached, credit], [uptime, met, fee, credit_amount]) =
        fields_with(
            c,
            p,
            ["rule", "period", "target", "breached", "credit"],
            ["uptime", "met", "fee", "credit_amount"],
        )?;
    let f = |name: &str| format!("{p}.{name}");
    let (measure, uptime) = match (uptime, met) {
        (Some(u), None) => (SlaMeasure::Uptime, u),
        (None, Some(m)) => (SlaMeasure::Met, m),
        (None, None) => return Err(VerdictError::MissingField { field: f("uptime") }),
        (Some(_), Some(_)) => {
            return Err(VerdictError::UnknownField { field: f("met") });
        }
    };
    let (fee, credit_amount) = match (fee, credit_amount) {
        (None, None) => (None, None),
        (Some(fee), Some(amount)) => {
            let fee = money(fee, &f("fee"))?;
            let amount = match amount {
                Cbor::Null => None,
                other => Some(money(other, &f("credit_amount"))?),
            };
            if amount.as_ref().is_some_and(|a| a.currency != fee.currency) {
                return Err(VerdictError::InvalidField {
                    field: f("credit_amount"),
                    expected: "an amount in the fee's currency",
                });
            }
            (Some(fee), amount)
        }
        (None, Some(_)) => return Err(VerdictError::MissingField { field: f("fee") }),
        (Some(_), None) => {
            return Err(VerdictError::MissingField {
                field: f("credit_amount"),
            })
        }
    };
    let uptime_field = f(measure.key());
    let uptime_text = text(uptime, &uptime_field)?;
    let uptime_ppm = parse_percent(uptime_text)
        .ok()
        .filter(|&u| format_percent3(u) == uptime_text)
        .ok_or_else(|| VerdictError::InvalidField {
            field: uptime_field.clone(),
            expected: "a percentage with exactly three decimals such as \"99.653%\"",
        })?;
    let credit_ppm = match credit {
        Cbor::Null => None,
        other => Some(percent(other, &f("credit"))?),
    };
    Ok(SlaPeriod {
        rule: text(rule, &f("rule"))?.to_owned(),
        period: text(period, &f("period"))?.to_owned(),
        measure,
        uptime_ppm,
        target_ppm: percent(target, &f("target"))?,
        breached: breached
            .as_bool()
            .ok_or_else(|| VerdictError::InvalidField {
                field: f("breached"),
                expected: "a bool",
            })?,
        credit_ppm,
        fee,
        credit_amount,
    })
}

/// The values of exactly the keys `names` of map `c`, in that order.
fn fields<'a, const N: usize>(
    c: &'a Cbor,
    path: &str,
    names: [&str; N],
) -> Result<[&'a Cbor; N], VerdictError> {
    fields_with(c, path, names, []).map(|(required, [])| required)
}

/// Like [`fields`], with `optional` fields that may be absent.
fn fields_with<'a, const N: usize, const M: usize>(
    c: &'a Cbor,
    path: &str,
    names: [&str; N],
    optional: [&str; M],
) -> Result<([&'a Cbor; N], [Option<&'a Cbor>; M]), VerdictError> {
    let Cbor::Map(entries) = c else {
        return Err(VerdictError::InvalidField {
            field: path.to_owned(),
            expected: "a map",
        });
    };
    let mut out: [Option<&Cbor>; N] = [None; N];
    let mut opt: [Option<&Cbor>; M] = [None; M];
    for (k, v) in entries {
        let Some(k) = k.as_text() else {
            return Err(VerdictError::UnknownField {
                field: format!("{path}.<{}>", k.type_name()),
            });
        };
        // Canonical CBOR has no repeated keys, so each slot fills once.
        if let Some(i) = names.iter().position(|n| *n == k) {
            out[i] = Some(v);
        } else if let Some(i) = optional.iter().position(|n| *n == k) {
            opt[i] = Some(v);
        } else {
            return Err(VerdictError::UnknownField {
                field: format!("{path}.{k}"),
            });
        }
    }
    let mut result: [&Cbor; N] = [&Cbor::Null; N];
    for (i, slot) in out.iter().enumerate() {
        result[i] = slot.ok_or_else(|| VerdictError::MissingField {
            field: format!("{path}.{}", names[i]),
        })?;
    }
    Ok((result, opt))
}

fn text<'a>(c: &'a Cbor, field: &str) -> Result<&'a str, VerdictError> {
    c.as_text().ok_or_else(|| VerdictError::InvalidField {
        field: field.to_owned(),
        expected: "text",
    })
}

fn array<'a>(c: &'a Cbor, field: &str) -> Result<&'a [Cbor], VerdictError> {
    c.as_array().ok_or_else(|| VerdictError::InvalidField {
        field: field.to_owned(),
        expected: "an array",
    })
}

fn count(c: &Cbor, field: &str) -> Result<u64, VerdictError> {
    c.as_int()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| VerdictError::InvalidField {
            field: field.to_owned(),
            expected: "an unsigned integer",
        })
}

fn time(c: &Cbor, field: &str) -> Result<i64, VerdictError> {
    let err = || VerdictError::InvalidField {
        field: field.to_owned(),
        expected: "an RFC 3339 UTC time with Z and no trailing zeros",
    };
    let s = c.as_text().ok_or_else(err)?;
    let t = parse_utc(s).ok_or_else(err)?;
    if format_rfc3339(t) == s {
        Ok(t)
    } else {
        Err(err())
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` into ns, over the whole `i64`
/// range (cfr-model's parser refuses the first second of the range, whose
/// whole-second part lies outside it). The caller checks canonical form.
fn parse_utc(s: &str) -> Option<i64> {
    if let Ok(t) = parse_rfc3339(s) {
        return Some(t);
    }
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(d.iter().fold(0i64, |a, &x| a * 10 + i64::from(x - b'0')))
    };
    if (b[4], b[7], b[10], b[13], b[16]) != (b'-', b'-', b'T', b':', b':') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let frac = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if !digits.is_empty() && digits.len() <= 9 => {
            num(20..20 + digits.len())? * 10i64.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let days = cfr_model::time::days_from_civil(y, mo as u32, d as u32);
    let secs = i128::from(days) * 86_400 + i128::from(h * 3600 + mi * 60 + sec);
    i64::try_from(secs * 1_000_000_000 + i128::from(frac)).ok()
}

fn opt_time(c: &Cbor, field: &str) -> Result<Option<i64>, VerdictError> {
    match c {
        Cbor::Null => Ok(None),
        other => time(other, field).map(Some),
    }
}

fn percent(c: &Cbor, field: &str) -> Result<u32, VerdictError> {
    let err = || VerdictError::InvalidField {
        field: field.to_owned(),
        expected: "a percentage without trailing zeros such as \"99.9%\"",
    };
    let s = c.as_text().ok_or_else(err)?;
    let p = parse_percent(s).map_err(|_| err())?;
    if format_percent(p) == s {
        Ok(p)
    } else {
        Err(err())
    }
}

/// Writes `c` as pretty JSON, maps in their stored order, in the layout of
/// `serde_json::to_string_pretty`.
fn write_json(out: &mut String, c: &Cbor, indent: usize) {
    match c {
        Cbor::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Cbor::Text(s) => write_json_string(out, s),
        Cbor::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Cbor::Null => out.push_str("null"),
        Cbor::Array(items) => write_json_array(out, items.iter(), indent),
        Cbor::Map(entries) => write_json_map(
            out,
            entries,
            indent,
            |k| match k {
                Cbor::Text(k) => k,
                other => other.type_name(),
            },
            write_json,
        ),
        // The verdict holds no bytes or tags; write them as hex text and the
        // tagged item, so the function stays total.
        Cbor::Bytes(b) => {
            out.push('"');
            for x in b {
                let _ = write!(out, "{x:02x}");
            }
            out.push('"');
        }
        Cbor::Tag(_, inner) => write_json(out, inner, indent),
    }
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push_str("  ");
    }
}

/// Writes a JSON array of `items` at `indent`, as [`write_json`] does.
fn write_json_array<C: std::borrow::Borrow<Cbor>>(
    out: &mut String,
    items: impl ExactSizeIterator<Item = C>,
    indent: usize,
) {
    let len = items.len();
    if len == 0 {
        out.push_str("[]");
        return;
    }
    out.push_str("[\n");
    for (n, item) in items.enumerate() {
        pad(out, indent + 1);
        write_json(out, item.borrow(), indent + 1);
        out.push_str(if n + 1 < len { ",\n" } else { "\n" });
    }
    pad(out, indent);
    out.push(']');
}

/// Writes a JSON object of `entries` at `indent`, in their order, each
/// key given by `key` and each value written by `value`.
fn write_json_map<K, V>(
    out: &mut String,
    entries: &[(K, V)],
    indent: usize,
    key: impl Fn(&K) -> &str,
    value: impl Fn(&mut String, &V, usize),
) {
    if entries.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    for (n, (k, v)) in entries.iter().enumerate() {
        pad(out, indent + 1);
        write_json_string(out, key(k));
        out.push_str(": ");
        value(out, v, indent + 1);
        out.push_str(if n + 1 < entries.len() { ",\n" } else { "\n" });
    }
    pad(out, indent);
    out.push('}');
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Verdict {
        Verdict {
            contract: "acme".into(),
            log: LogSpan {
                events: 19,
                from: Some(parse_rfc3339("2026-03-02T10:00:00.25Z").unwrap()),
                until: Some(parse_rfc3339("2026-03-02T10:00:05Z").unwrap()),
            },
            incidents: vec![Incident {
                rule: "answer-in-time".into(),
                clause: "4.1 \"quoted\"\n".into(),
                kind: "late_result".into(),
                party: Party::External,
                debtor: Party::Provider,
                excuse: Some("power-outage".into()),
                from: parse_rfc3339("2026-03-02T10:00:00.25Z").unwrap(),
                until: parse_rfc3339("2026-03-02T10:00:02.25Z").unwrap(),
                evidence: vec![17, 18],
                explanation: "x".into(),
                excused_by: None,
            }],
            rules: vec![RuleStats {
                rule: "answer-in-time".into(),
                checked: 1,
                fulfilled: 0,
                pending: 0,
                incidents: 1,
            }],
            sla: vec![SlaPeriod {
                rule: "up".into(),
                period: "2026-03".into(),
                uptime_ppm: 996_530,
                target_ppm: 999_000,
                breached: true,
                credit_ppm: Some(100_000),
                measure: SlaMeasure::Uptime,
                fee: None,
                credit_amount: None,
            }],
            totals: Totals {
                external: 1,
                ..Totals::default()
            },
        }
    }

    /// An incident's counted length is its tree's encoded length, with
    /// and without an excuse and `excused_by`, and across head sizes.
    #[test]
    fn incident_len_counts_the_incident_tree() {
        let base = sample().incidents.remove(0);
        let mut cases = vec![base.clone()];
        for (n, big) in [
            (0usize, 0u64),
            (23, 23),
            (24, 24),
            (300, 70_000),
            (3, u64::MAX),
        ] {
            let mut i = base.clone();
            i.evidence = (0..n as u64).map(|k| big.saturating_sub(k)).collect();
            i.explanation = "é".repeat(n * 3);
            i.clause = "c".repeat(n);
            i.excuse = (n % 2 == 0).then(|| "e".repeat(n));
            i.excused_by = (n % 3 == 0).then_some(n * 1000);
            i.from = -1_000_000_123;
            i.until = i64::MAX;
            cases.push(i);
        }
        for i in &cases {
            assert_eq!(
                incident_len(i),
                cbor::encode(&incident_tree(i)).len(),
                "{i:?}"
            );
        }
        // And the verdict's bytes are allocated once, at their length.
        let mut v = sample();
        v.incidents = cases;
        let bytes = v.to_cbor();
        assert_eq!(bytes.capacity(), bytes.len());
        assert_eq!(bytes, cbor::encode(&v.to_cbor_tree()));
    }

    #[test]
    fn json_layout_is_pretty_in_design_order() {
        let expected = r#"{
  "format": "cfr-verdict/1",
  "contract": "acme",
  "log": {
    "events": 19,
    "from": "2026-03-02T10:00:00.25Z",
    "until": "2026-03-02T10:00:05Z"
  },
  "incidents": [
    {
      "rule": "answer-in-time",
      "clause": "4.1 \"quoted\"\n",
      "kind": "late_result",
      "party": "external",
      "debtor": "provider",
      "excuse": "power-outage",
      "from": "2026-03-02T10:00:00.25Z",
      "until": "2026-03-02T10:00:02.25Z",
      "evidence": [
        17,
        18
      ],
      "explanation": "x"
    }
  ],
  "rules": [
    {
      "rule": "answer-in-time",
      "checked": 1,
      "fulfilled": 0,
      "pending": 0,
      "incidents": 1
    }
  ],
  "sla": [
    {
      "rule": "up",
      "period": "2026-03",
      "uptime": "99.653%",
      "target": "99.9%",
      "breached": true,
      "credit": "10%"
    }
  ],
  "totals": {
    "provider": 0,
    "user": 0,
    "external": 1,
    "none": 0,
    "inconclusive": 0
  }
}"#;
        assert_eq!(sample().to_json(), expected);
    }

    #[test]
    fn cbor_roundtrips_and_is_canonical() {
        let v = sample();
        let bytes = v.to_cbor();
        assert_eq!(cbor::encode(&cbor::decode(&bytes).unwrap()), bytes);
        let back = Verdict::from_cbor(&bytes).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.to_cbor(), bytes);
        // Written an incident at a time, it is the tree's encoding.
        assert_eq!(cbor::encode(&v.to_cbor_tree()), bytes);
        let mut json = String::new();
        write_json(&mut json, &v.to_cbor_tree(), 0);
        assert_eq!(v.to_json(), json);
    }

    /// Read in place, a verdict is accepted exactly when its bytes are
    /// what it encodes to, and a CBOR fault anywhere is named as the
    /// generic decoder names it, whichever field holds it.
    #[test]
    fn from_cbor_accepts_only_its_own_encoding_under_every_change() {
        let bytes = sample().to_cbor();
        for i in 0..bytes.len() {
            for x in 0..=255u8 {
                let mut b = bytes.clone();
                b[i] = x;
                match (Verdict::from_cbor(&b), cbor::decode(&b)) {
                    (Ok(v), _) => assert_eq!(v.to_cbor(), b, "byte {i} = {x:#04x}"),
                    (Err(VerdictError::Cbor(e)), Err(f)) => assert_eq!(e, f),
                    (Err(e), Err(f)) => panic!("byte {i} = {x:#04x}: {e}, not {f}"),
                    (Err(_), Ok(_)) => {}
                }
            }
        }
    }

    fn edit(f: impl FnOnce(&mut Cbor)) -> Result<Verdict, VerdictError> {
        let mut tree = sample().to_cbor_tree();
        f(&mut tree);
        Verdict::from_cbor(&cbor::encode(&tree))
    }

    fn field<'a>(c: &'a mut Cbor, key: &str) -> &'a mut Cbor {
        let Cbor::Map(entries) = c else {
            panic!("not a map")
        };
        &mut entries
            .iter_mut()
            .find(|(k, _)| k.as_text() == Some(key))
            .unwrap()
            .1
    }

    fn first_incident(c: &mut Cbor) -> &mut Cbor {
        let Cbor::Array(items) = field(c, "incidents") else {
            panic!()
        };
        &mut items[0]
    }

    fn first_sla(c: &mut Cbor) -> &mut Cbor {
        let Cbor::Array(items) = field(c, "sla") else {
            panic!()
        };
        &mut items[0]
    }

    #[test]
    fn from_cbor_is_strict() {
        assert!(matches!(
            edit(|c| *field(c, "format") = Cbor::text("cfr-verdict/2")),
            Err(VerdictError::Format { .. })
        ));
        assert!(matches!(
            edit(|c| if let Cbor::Map(e) = c {
                e.push((Cbor::text("extra"), Cbor::Null))
            }),
            Err(VerdictError::UnknownField { .. })
        ));
        assert!(matches!(
            edit(|c| if let Cbor::Map(e) = c {
                e.retain(|(k, _)| k.as_text() != Some("totals"))
            }),
            Err(VerdictError::MissingField { .. })
        ));
        for (key, bad) in [
            ("from", Cbor::text("2026-03-02T10:00:00.250Z")),
            ("from", Cbor::text("2026-03-02T11:00:00.25+01:00")),
            ("from", Cbor::Int(0)),
            ("evidence", Cbor::Array(vec![Cbor::Int(18), Cbor::Int(17)])),
            ("evidence", Cbor::Array(vec![Cbor::Int(17), Cbor::Int(17)])),
            ("evidence", Cbor::Array(vec![Cbor::Int(-1)])),
            ("party", Cbor::text("nobody")),
            ("debtor", Cbor::text("external")),
            ("excuse", Cbor::Int(1)),
        ] {
            let r = edit(|c| *field(first_incident(c), key) = bad.clone());
            assert!(
                matches!(r, Err(VerdictError::InvalidField { .. })),
                "{key} = {bad:?}: {r:?}"
            );
        }
        for (key, bad) in [
            ("uptime", "99.65%"),
            ("uptime", "99.6530%"),
            ("target", "99.90%"),
            ("credit", "10.0%"),
        ] {
            assert!(
                edit(|c| *field(first_sla(c), key) = Cbor::text(bad)).is_err(),
                "{key} = {bad}"
            );
        }
        // The lists read in place name their own faults.
        assert_eq!(
            edit(|c| *field(c, "incidents") = Cbor::Int(1)),
            Err(VerdictError::InvalidField {
                field: "incidents".into(),
                expected: "an array"
            })
        );
        assert_eq!(
            edit(|c| *field(first_sla(c), "rule") = Cbor::Int(1)),
            Err(VerdictError::InvalidField {
                field: "sla[0].rule".into(),
                expected: "text"
            })
        );
        assert_eq!(
            edit(|c| *c = Cbor::Array(Vec::new())),
            Err(VerdictError::InvalidField {
                field: "verdict".into(),
                expected: "a map"
            })
        );
        assert_eq!(
            edit(|c| if let Cbor::Map(e) = c {
                e.push((Cbor::Int(1), Cbor::Null))
            }),
            Err(VerdictError::UnknownField {
                field: "verdict.<int>".into()
            })
        );
        // Trailing bytes, and every truncation.
        let mut bytes = sample().to_cbor();
        bytes.push(0);
        assert!(matches!(
            Verdict::from_cbor(&bytes),
            Err(VerdictError::Cbor(_))
        ));
        for n in 0..sample().to_cbor().len() {
            assert!(Verdict::from_cbor(&sample().to_cbor()[..n]).is_err());
        }
    }

    #[test]
    fn extreme_times_roundtrip() {
        let mut v = sample();
        v.log.from = Some(i64::MIN);
        v.log.until = Some(i64::MAX);
        let bytes = v.to_cbor();
        assert_eq!(Verdict::from_cbor(&bytes).unwrap(), v);
    }

    #[test]
    fn party_names() {
        for p in [
            Party::Provider,
            Party::User,
            Party::External,
            Party::None,
            Party::Inconclusive,
        ] {
            assert_eq!(Party::from_name(p.name()), Some(p));
        }
        assert_eq!(Party::from_name("recorder"), None);
    }
}
