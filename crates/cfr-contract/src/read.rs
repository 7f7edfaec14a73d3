//! One reader for both contract forms (TOML text and compiled CBOR): it
//! walks a document tree, rejects unknown fields, and runs every static
//! check while it still knows where each value came from.

use crate::error::Problem;
use crate::model::*;
use crate::predicate::{is_attr_name, Predicate};
use cfr_model::keys::PublicKey;
use cfr_model::ValueType;
use std::collections::BTreeMap;
use std::ops::Range;

/// A byte range in the TOML text (None for CBOR).
pub(crate) type Span = Option<Range<usize>>;

/// A failure with the place it happened.
#[derive(Debug)]
pub(crate) struct Fail {
    #[cfg_attr(not(feature = "toml"), allow(dead_code))]
    pub span: Span,
    pub path: String,
    pub problem: Problem,
}

pub(crate) type R<T> = Result<T, Box<Fail>>;

/// A document node: a TOML value with its span, or a CBOR item.
pub(crate) trait Doc: Sized {
    fn span(&self) -> Span;
    fn type_name(&self) -> &'static str;
    fn text(&self) -> Option<&str>;
    fn boolean(&self) -> Option<bool>;
    fn int(&self) -> Option<i64>;
    fn array(&self) -> Option<Vec<&Self>>;
    /// Entries of a table/map with text keys: `(key, key span, value)`.
    fn table(&self) -> Option<Vec<(&str, Span, &Self)>>;
    /// The representation-dependent scalars.
    fn duration(&self) -> Result<i64, Problem>;
    fn percent(&self) -> Result<u32, Problem>;
    fn key(&self) -> Result<PublicKey, Problem>;
    fn period(&self) -> Result<Period, Problem>;
    /// A time: RFC 3339 text in TOML, integer ns in CBOR.
    fn time(&self) -> Result<i64, Problem>;
    /// An amount: `"1200.00 EUR"` in TOML, `{cents, currency}` in CBOR.
    fn money(&self) -> Result<Money, Problem>;
}

pub(crate) fn fail<T>(span: Span, path: impl Into<String>, problem: Problem) -> R<T> {
    Err(Box::new(Fail {
        span,
        path: path.into(),
        problem,
    }))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A table being read: unknown keys were rejected when it was opened.
pub(crate) struct Table<'d, D: Doc> {
    pub path: String,
    #[cfg_attr(not(feature = "toml"), allow(dead_code))]
    pub span: Span,
    entries: Vec<(&'d str, Span, &'d D)>,
}

impl<'d, D: Doc> Table<'d, D> {
    pub fn open(doc: &'d D, path: String, allowed: &[&'static str]) -> R<Self> {
        let Some(entries) = doc.table() else {
            return fail(
                doc.span(),
                path,
                Problem::WrongType {
                    expected: "a table",
                    found: doc.type_name(),
                },
            );
        };
        for (k, kspan, _) in &entries {
            if !allowed.contains(k) {
                return fail(
                    kspan.clone(),
                    join(&path, k),
                    Problem::UnknownField {
                        expected: allowed.to_vec(),
                    },
                );
            }
        }
        Ok(Table {
            path,
            span: doc.span(),
            entries,
        })
    }

    pub fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn opt(&self, key: &str) -> Option<&'d D> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|e| e.2)
    }

    pub fn req(&self, key: &str) -> R<&'d D> {
        match self.opt(key) {
            Some(v) => Ok(v),
            None => fail(self.span.clone(), self.at(key), Problem::MissingField),
        }
    }

    pub fn span_of(&self, key: &str) -> Span {
        self.opt(key).and_then(|v| v.span()).or(self.span.clone())
    }

    fn wrong<T>(&self, key: &str, v: &D, expected: &'static str) -> R<T> {
        fail(
            v.span(),
            self.at(key),
            Problem::WrongType {
                expected,
                found: v.type_name(),
            },
        )
    }

    pub fn text(&self, key: &str) -> R<String> {
        let v = self.req(key)?;
        match v.text() {
            Some(t) => Ok(t.to_owned()),
            None => self.wrong(key, v, "text"),
        }
    }

    pub fn opt_text(&self, key: &str) -> R<Option<String>> {
        match self.opt(key) {
            None => Ok(None),
            Some(_) => self.text(key).map(Some),
        }
    }

    pub fn opt_bool(&self, key: &str) -> R<Option<bool>> {
        match self.opt(key) {
            None => Ok(None),
            Some(v) => match v.boolean() {
                Some(b) => Ok(Some(b)),
                None => self.wrong(key, v, "a bool"),
            },
        }
    }

    pub fn int(&self, key: &str) -> R<i64> {
        let v = self.req(key)?;
        match v.int() {
            Some(i) => Ok(i),
            None => self.wrong(key, v, "an integer"),
        }
    }

    /// A text that must be one of a closed set of names.
    pub fn choice<T>(
        &self,
        key: &str,
        what: &'static str,
        expected: &'static [&'static str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> R<T> {
        let t = self.text(key)?;
        match parse(&t) {
            Some(x) => Ok(x),
            None => fail(
                self.span_of(key),
                self.at(key),
                Problem::BadChoice {
                    what,
                    found: t,
                    expected,
                },
            ),
        }
    }

    pub fn scalar<T>(&self, key: &str, f: impl Fn(&D) -> Result<T, Problem>) -> R<T> {
        let v = self.req(key)?;
        f(v).or_else(|problem| fail(v.span(), self.at(key), problem))
    }

    pub fn positive_duration(&self, key: &str) -> R<i64> {
        let d = self.scalar(key, D::duration)?;
        if d <= 0 {
            return fail(
                self.span_of(key),
                self.at(key),
                Problem::OutOfRange {
                    expected: "a duration greater than 0",
                    found: cfr_model::time::format_duration(d),
                },
            );
        }
        Ok(d)
    }

    pub fn array(&self, key: &str) -> R<Vec<&'d D>> {
        let v = self.req(key)?;
        match v.array() {
            Some(a) => Ok(a),
            None => self.wrong(key, v, "an array"),
        }
    }

    /// An optional array of texts (absent = empty).
    pub fn texts(&self, key: &str) -> R<Vec<(String, Span)>> {
        if self.opt(key).is_none() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (i, item) in self.array(key)?.into_iter().enumerate() {
            match item.text() {
                Some(t) => out.push((t.to_owned(), item.span())),
                None => {
                    return fail(
                        item.span(),
                        format!("{}[{i}]", self.at(key)),
                        Problem::WrongType {
                            expected: "text",
                            found: item.type_name(),
                        },
                    )
                }
            }
        }
        Ok(out)
    }

    /// A name field: identifier syntax.
    pub fn name(&self, key: &str, what: &'static str) -> R<String> {
        let t = self.text(key)?;
        check_name(&t, what, self.span_of(key), self.at(key))?;
        Ok(t)
    }
}

const NAME_RULE: &str = "a letter or \"_\", then letters, digits, \"_\" or \"-\", not ending in \"-\", not a predicate keyword";
const ID_RULE: &str =
    "1 to 128 letters, digits, \"_\", \".\" or \"-\", starting with a letter or digit";

/// Event kinds, attribute names and forbid incident names.
pub(crate) fn check_name(s: &str, what: &'static str, span: Span, path: String) -> R<()> {
    if is_attr_name(s) && !s.ends_with('-') && s.len() <= 128 {
        Ok(())
    } else {
        fail(
            span,
            path,
            Problem::BadName {
                name: s.chars().take(80).collect(),
                what,
                rule: NAME_RULE,
            },
        )
    }
}

/// Rule, excuse and attestor ids.
pub(crate) fn is_id(s: &str) -> bool {
    s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_id(s: &str, what: &'static str, span: Span, path: String) -> R<()> {
    if is_id(s) {
        Ok(())
    } else {
        fail(
            span,
            path,
            Problem::BadName {
                name: s.chars().take(80).collect(),
                what,
                rule: ID_RULE,
            },
        )
    }
}

const TOP: &[&str] = &[
    "format",
    "id",
    "title",
    "jurisdiction",
    "parties",
    "events",
    "rules",
    "excuses",
    "evidence",
    "term",
];
const PARTIES: &[&str] = &["provider", "user", "recorder", "attestors", "witnesses"];
const EVIDENCE: &[&str] = &["attributed"];
const PARTY: &[&str] = &["name", "key"];
const EVENT: &[&str] = &["by", "signed", "attrs"];
const EXCUSE: &[&str] = &["event", "from", "until", "notice", "rule", "attribute"];
const ATTR_TYPES: &[&str] = &[
    "int",
    "text",
    "bool",
    "bytes",
    "time",
    "duration",
    "int?",
    "text?",
    "bool?",
    "bytes?",
    "time?",
    "duration?",
];
const RULE_TYPES: &[&str] = &[
    "deadline",
    "forbid",
    "integrity",
    "rate",
    "availability",
    "heartbeat",
];

/// Reads and checks a whole contract.
pub(crate) fn contract<D: Doc>(doc: &D) -> R<Contract> {
    let top = Table::open(doc, String::new(), TOP)?;
    let format = top.text("format")?;
    if format != FORMAT {
        return fail(
            top.span_of("format"),
            "format",
            Problem::BadFormat {
                found: format.chars().take(80).collect(),
            },
        );
    }
    let id = top.text("id")?;
    check_id(&id, "contract id", top.span_of("id"), "id".into())?;
    let title = top.text("title")?;
    let jurisdiction = top.opt_text("jurisdiction")?;
    let parties = parties(&top)?;
    let events = events(&top, &parties)?;
    let (excuses, excuse_rule_spans) = excuses(&top, &events)?;
    let rules = rules(&top, &events, &excuses)?;
    // Rule-based excuses: the rule exists, and no cycle.
    for (eid, excuse) in &excuses {
        if let ExcuseSource::Rule { rule } = &excuse.source {
            if !rules.iter().any(|r| &r.id == rule) {
                let (path, span) = excuse_rule_spans.get(eid).cloned().unwrap_or_default();
                return fail(span, path, Problem::UnknownRule { rule: rule.clone() });
            }
        }
    }
    check_cycles(&rules, &excuses, &excuse_rule_spans)?;
    let evidence = match top.opt("evidence") {
        None => Evidence::default(),
        Some(v) => {
            let t = Table::open(v, "evidence".into(), EVIDENCE)?;
            Evidence {
                attributed: t.opt_bool("attributed")?.unwrap_or(false),
            }
        }
    };
    let term = match top.opt("term") {
        None => None,
        Some(v) => {
            let t = Table::open(v, "term".into(), &["from", "until"])?;
            let from = t.scalar("from", D::time)?;
            let until = t.scalar("until", D::time)?;
            if until <= from {
                return fail(
                    t.span_of("until"),
                    t.at("until"),
                    Problem::OutOfRange {
                        expected: "a time after term.from (until is exclusive)",
                        found: cfr_model::time::format_rfc3339(until),
                    },
                );
            }
            let periods = rules
                .iter()
                .filter_map(|r| match &r.kind {
                    RuleKind::Availability(a) => Some(a.period.min_ns()),
                    RuleKind::Deadline(d) => d.sla.as_ref().map(|s| s.period.min_ns()),
                    _ => None,
                })
                .min()
                .map_or(0, |p| (until.saturating_sub(from)) / p);
            if periods > MAX_SLA_PERIODS {
                return fail(
                    t.span_of("until"),
                    t.at("until"),
                    Problem::OutOfRange {
                        expected:
                            "a term of at most 1,000,000 of the shortest service-level period",
                        found: format!("{periods} periods"),
                    },
                );
            }
            Some(Term { from, until })
        }
    };
    Ok(Contract {
        format,
        id,
        title,
        jurisdiction,
        parties,
        events,
        rules,
        excuses,
        evidence,
        term,
    })
}

fn party<D: Doc>(t: &Table<'_, D>, key: &str) -> R<Party> {
    let p = Table::open(t.req(key)?, t.at(key), PARTY)?;
    Ok(Party {
        name: p.text("name")?,
        key: p.scalar("key", D::key)?,
    })
}

fn parties<D: Doc>(top: &Table<'_, D>) -> R<Parties> {
    let t = Table::open(top.req("parties")?, "parties".into(), PARTIES)?;
    let mut attestors = BTreeMap::new();
    if let Some(a) = t.opt("attestors") {
        let at = free_table(a, "parties.attestors".into())?;
        for (name, kspan, _) in at.entries() {
            check_id(name, "attestor id", kspan.clone(), at.at(name))?;
            if matches!(*name, "provider" | "user" | "recorder") {
                return fail(
                    kspan.clone(),
                    at.at(name),
                    Problem::BadName {
                        name: (*name).to_owned(),
                        what: "attestor id",
                        rule: "provider, user and recorder are reserved",
                    },
                );
            }
            attestors.insert((*name).to_owned(), party(&at, name)?);
        }
    }
    let mut witnesses = BTreeMap::new();
    if let Some(w) = t.opt("witnesses") {
        let wt = free_table(w, "parties.witnesses".into())?;
        for (name, kspan, _) in wt.entries() {
            check_id(name, "witness name", kspan.clone(), wt.at(name))?;
            witnesses.insert((*name).to_owned(), party(&wt, name)?);
        }
    }
    Ok(Parties {
        provider: party(&t, "provider")?,
        user: party(&t, "user")?,
        recorder: party(&t, "recorder")?,
        attestors,
        witnesses,
    })
}

/// A table whose keys are free names (events, attrs, excuses, attestors,
/// permit matches): opened without a key check.
pub(crate) fn free_table<'d, D: Doc>(v: &'d D, path: String) -> R<Table<'d, D>> {
    let Some(entries) = v.table() else {
        return fail(
            v.span(),
            path,
            Problem::WrongType {
                expected: "a table",
                found: v.type_name(),
            },
        );
    };
    Ok(Table {
        path,
        span: v.span(),
        entries,
    })
}

impl<'d, D: Doc> Table<'d, D> {
    pub fn entries(&self) -> &[(&'d str, Span, &'d D)] {
        &self.entries
    }
}

fn events<D: Doc>(top: &Table<'_, D>, parties: &Parties) -> R<BTreeMap<String, EventSpec>> {
    let t = free_table(top.req("events")?, "events".into())?;
    let mut out = BTreeMap::new();
    for (kind, kspan, v) in t.entries() {
        check_name(kind, "event kind", kspan.clone(), t.at(kind))?;
        let e = Table::open(*v, t.at(kind), EVENT)?;
        let by = e.choice(
            "by",
            "emitter",
            &["provider", "user", "recorder", "attestor"],
            Emitter::from_name,
        )?;
        if by == Emitter::Attestor && parties.attestors.is_empty() {
            return fail(e.span_of("by"), e.at("by"), Problem::NoAttestors);
        }
        let signed = e.opt_bool("signed")?.unwrap_or(false);
        let mut attrs = BTreeMap::new();
        if let Some(a) = e.opt("attrs") {
            let a = free_table(a, e.at("attrs"))?;
            for (name, nspan, _) in a.entries() {
                check_name(name, "attribute name", nspan.clone(), a.at(name))?;
                let spec = a.choice(name, "attribute type", ATTR_TYPES, |s| {
                    let (base, optional) = match s.strip_suffix('?') {
                        Some(b) => (b, true),
                        None => (s, false),
                    };
                    ValueType::from_name(base).map(|ty| AttrSpec { ty, optional })
                })?;
                attrs.insert((*name).to_owned(), spec);
            }
        }
        out.insert((*kind).to_owned(), EventSpec { by, signed, attrs });
    }
    Ok(out)
}

type ExcuseSpans = BTreeMap<String, (String, Span)>;

fn excuses<D: Doc>(
    top: &Table<'_, D>,
    events: &BTreeMap<String, EventSpec>,
) -> R<(BTreeMap<String, Excuse>, ExcuseSpans)> {
    let mut out = BTreeMap::new();
    let mut spans = BTreeMap::new();
    let Some(v) = top.opt("excuses") else {
        return Ok((out, spans));
    };
    let t = free_table(v, "excuses".into())?;
    for (id, kspan, v) in t.entries() {
        check_id(id, "excuse id", kspan.clone(), t.at(id))?;
        let x = Table::open(*v, t.at(id), EXCUSE)?;
        let attribute = x.choice(
            "attribute",
            "attribution",
            &["provider", "user", "external", "none", "inconclusive"],
            cfr_model::Party::from_name,
        )?;
        let source = match (x.opt("event"), x.opt("rule")) {
            (Some(_), Some(_)) => {
                return fail(
                    x.span_of("rule"),
                    x.at("rule"),
                    Problem::Conflict {
                        message: "an excuse takes either \"event\" or \"rule\", not both",
                    },
                )
            }
            (None, None) => {
                return fail(
                    x.span.clone(),
                    x.at("event"),
                    Problem::Conflict {
                        message:
                            "an excuse needs \"event\" (an event kind) or \"rule\" (a rule id)",
                    },
                )
            }
            (None, Some(_)) => {
                for f in ["from", "until", "notice"] {
                    if x.opt(f).is_some() {
                        return fail(
                            x.span_of(f),
                            x.at(f),
                            Problem::Conflict {
                                message:
                                    "\"from\", \"until\" and \"notice\" apply to event excuses only",
                            },
                        );
                    }
                }
                let rule = x.text("rule")?;
                spans.insert((*id).to_owned(), (x.at("rule"), x.span_of("rule")));
                if attribute == cfr_model::Party::External {
                    return fail(
                        x.span_of("attribute"),
                        x.at("attribute"),
                        Problem::ExternalNotAttested {
                            kind: None,
                            by: None,
                        },
                    );
                }
                ExcuseSource::Rule { rule }
            }
            (Some(_), None) => {
                let (event, spec) = event_kind(&x, "event", events)?;
                let from = opt_attr(&x, "from", &event, spec, Some(ValueType::Time))?;
                let until = opt_attr(&x, "until", &event, spec, Some(ValueType::Time))?;
                let notice = match x.opt("notice") {
                    None => None,
                    Some(_) => {
                        let n = x.scalar("notice", D::duration)?;
                        if n < 0 {
                            return fail(
                                x.span_of("notice"),
                                x.at("notice"),
                                Problem::OutOfRange {
                                    expected: "a duration of 0 or more",
                                    found: cfr_model::time::format_duration(n),
                                },
                            );
                        }
                        if from.is_none() {
                            return fail(
                                x.span_of("notice"),
                                x.at("notice"),
                                Problem::Conflict {
                                    message: "\"notice\" needs \"from\" (the notice is counted back from it)",
                                },
                            );
                        }
                        Some(n)
                    }
                };
                if attribute == cfr_model::Party::External && spec.by != Emitter::Attestor {
                    return fail(
                        x.span_of("attribute"),
                        x.at("attribute"),
                        Problem::ExternalNotAttested {
                            kind: Some(event),
                            by: Some(spec.by),
                        },
                    );
                }
                ExcuseSource::Event {
                    event,
                    from,
                    until,
                    notice,
                }
            }
        };
        out.insert(
            (*id).to_owned(),
            Excuse {
                id: (*id).to_owned(),
                source,
                attribute,
            },
        );
    }
    Ok((out, spans))
}

/// An event kind field: declared in `[events]`.
pub(crate) fn event_kind<'e, D: Doc>(
    t: &Table<'_, D>,
    key: &str,
    events: &'e BTreeMap<String, EventSpec>,
) -> R<(String, &'e EventSpec)> {
    let kind = t.text(key)?;
    match events.get(&kind) {
        Some(spec) => Ok((kind, spec)),
        None => fail(t.span_of(key), t.at(key), Problem::UnknownEvent { kind }),
    }
}

/// An attribute field naming an attribute of `kind` (of type `want`, if given).
pub(crate) fn attr<D: Doc>(
    t: &Table<'_, D>,
    key: &str,
    kind: &str,
    spec: &EventSpec,
    want: Option<ValueType>,
) -> R<(String, ValueType)> {
    let name = t.text(key)?;
    check_attr(&name, kind, spec, want, t.span_of(key), t.at(key))
}

pub(crate) fn check_attr(
    name: &str,
    kind: &str,
    spec: &EventSpec,
    want: Option<ValueType>,
    span: Span,
    path: String,
) -> R<(String, ValueType)> {
    let Some(a) = spec.attrs.get(name) else {
        return fail(
            span,
            path,
            Problem::UnknownAttr {
                kind: kind.to_owned(),
                attr: name.to_owned(),
            },
        );
    };
    if let Some(w) = want {
        if a.ty != w {
            return fail(
                span,
                path,
                Problem::AttrType {
                    kind: kind.to_owned(),
                    attr: name.to_owned(),
                    expected: w,
                    found: a.ty,
                },
            );
        }
    }
    Ok((name.to_owned(), a.ty))
}

fn opt_attr<D: Doc>(
    t: &Table<'_, D>,
    key: &str,
    kind: &str,
    spec: &EventSpec,
    want: Option<ValueType>,
) -> R<Option<String>> {
    match t.opt(key) {
        None => Ok(None),
        Some(_) => attr(t, key, kind, spec, want).map(|(n, _)| Some(n)),
    }
}

/// A predicate field over events of `kind`.
pub(crate) fn predicate<D: Doc>(
    t: &Table<'_, D>,
    key: &str,
    kind: &str,
    spec: &EventSpec,
) -> R<Predicate> {
    let text = t.text(key)?;
    Predicate::parse_for(&text, kind, spec)
        .or_else(|e| fail(t.span_of(key), t.at(key), Problem::Predicate(Box::new(e))))
}

pub(crate) fn opt_predicate<D: Doc>(
    t: &Table<'_, D>,
    key: &str,
    kind: &str,
    spec: &EventSpec,
) -> R<Option<Predicate>> {
    match t.opt(key) {
        None => Ok(None),
        Some(_) => predicate(t, key, kind, spec).map(Some),
    }
}

fn rules<D: Doc>(
    top: &Table<'_, D>,
    events: &BTreeMap<String, EventSpec>,
    excuses: &BTreeMap<String, Excuse>,
) -> R<Vec<Rule>> {
    let mut out: Vec<Rule> = Vec::new();
    let Some(_) = top.opt("rules") else {
        return Ok(out);
    };
    for (i, v) in top.array("rules")?.into_iter().enumerate() {
        let base = format!("rules[{i}]");
        let pre = free_table(v, base.clone())?;
        let id = pre.text("id")?;
        check_id(&id, "rule id", pre.span_of("id"), pre.at("id"))?;
        let path = format!("{base} ({id:?})");
        if out.iter().any(|r| r.id == id) {
            return fail(
                pre.span_of("id"),
                format!("{path}.id"),
                Problem::Duplicate {
                    what: "rule id",
                    id,
                },
            );
        }
        let pre = free_table(v, path.clone())?;
        let ty = pre.choice("type", "rule type", RULE_TYPES, |s| {
            RULE_TYPES.iter().copied().find(|t| *t == s)
        })?;
        let specific: &[&'static str] = match ty {
            "deadline" => &["trigger", "where", "reply", "match", "within", "ok", "sla"],
            "forbid" => &["event", "where", "incident", "permitted_by"],
            "integrity" => &["write", "read", "delete"],
            "rate" => &["event", "where", "max", "per"],
            "availability" => &[
                "event",
                "failed",
                "window",
                "down_when",
                "period",
                "target",
                "credits",
                "measure",
                "min_events",
                "down_for",
                "fee",
            ],
            _ => &["event", "every"],
        };
        let mut allowed = vec!["id", "clause", "type", "party", "excuses"];
        allowed.extend_from_slice(specific);
        let t = Table::open(v, path, &allowed)?;
        let clause = t.text("clause")?;
        let debtor = t.choice("party", "party", &["provider", "user"], Debtor::from_name)?;
        let mut names: Vec<String> = Vec::new();
        for (j, (x, span)) in t.texts("excuses")?.into_iter().enumerate() {
            let at = format!("{}[{j}]", t.at("excuses"));
            if !excuses.contains_key(&x) {
                return fail(span, at, Problem::UnknownExcuse { excuse: x });
            }
            if names.contains(&x) {
                return fail(
                    span,
                    at,
                    Problem::Duplicate {
                        what: "excuse",
                        id: x,
                    },
                );
            }
            names.push(x);
        }
        let kind = crate::rules::read_kind(&t, ty, events)?;
        out.push(Rule {
            id,
            clause,
            debtor,
            excuses: names,
            kind,
        });
    }
    Ok(out)
}

/// Rejects rules that excuse each other through `rule = ...` excuses,
/// directly or through a chain, naming the cycle.
fn check_cycles(rules: &[Rule], excuses: &BTreeMap<String, Excuse>, spans: &ExcuseSpans) -> R<()> {
    // Edges: rule -> (excuse, rule whose incidents it uses).
    let edges = |r: &Rule| -> Vec<(String, String)> {
        r.excuses
            .iter()
            .filter_map(|x| match excuses.get(x).map(|e| &e.source) {
                Some(ExcuseSource::Rule { rule }) => Some((x.clone(), rule.clone())),
                _ => None,
            })
            .collect()
    };
    // Iterative DFS with colours; the stack holds (rule index, next edge).
    let index = |id: &str| rules.iter().position(|r| r.id == id);
    let mut colour = vec![0u8; rules.len()]; // 0 new, 1 on stack, 2 done
    for start in 0..rules.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize, String)> = vec![(start, 0, String::new())];
        colour[start] = 1;
        while let Some(top) = stack.last_mut() {
            let (r, next) = (top.0, top.1);
            let out = edges(&rules[r]);
            if next >= out.len() {
                colour[r] = 2;
                stack.pop();
                continue;
            }
            top.1 += 1;
            let (excuse, target) = &out[next];
            let Some(t) = index(target) else { continue };
            match colour[t] {
                0 => {
                    colour[t] = 1;
                    stack.push((t, 0, excuse.clone()));
                }
                1 => {
                    // The cycle runs from t's place on the stack to here.
                    let from = stack.iter().position(|s| s.0 == t).unwrap_or(0);
                    let mut cycle: Vec<(String, String)> = Vec::new();
                    for k in from..stack.len() {
                        let via = if k + 1 < stack.len() {
                            stack[k + 1].2.clone()
                        } else {
                            excuse.clone()
                        };
                        cycle.push((rules[stack[k].0].id.clone(), via));
                    }
                    let first_excuse = cycle.first().map(|c| c.1.clone()).unwrap_or_default();
                    let (path, span) = spans.get(&first_excuse).cloned().unwrap_or_default();
                    return fail(span, path, Problem::ExcuseCycle { cycle });
                }
                _ => {}
            }
        }
    }
    Ok(())
}
