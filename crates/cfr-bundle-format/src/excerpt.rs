//! Excerpts: a smaller bundle (`cfr-excerpt/1`) that discloses only the
//! event ranges a few incidents rest on, and still proves them.
//!
//! A party to a dispute rarely wants to hand over a whole month of logs to
//! show one late answer. [`excerpt`] cuts, from a verified bundle, the
//! contiguous ranges of events each chosen incident depends on, and writes
//! them with:
//!
//! - the original bundle's `manifest.cbor` and its recorder signature (as
//!   `original/...`), which bind the contract, the checkpoint, the analyzer
//!   and the sealed verdict by digest;
//! - those members themselves, byte for byte;
//! - `log/proof.cbor`: one RFC 9162 range proof per range against the
//!   original signed checkpoint, so every disclosed event is shown to sit at
//!   its seq in the sealed log, and each range to be complete (no event
//!   inside it withheld);
//! - `verdict/excerpt.cbor`: the analyzer's verdict over the disclosed events
//!   alone.
//!
//! `verify` on an excerpt checks all of that, replays the analyzer over the
//! ranges, and requires each chosen incident to come out as in the sealed
//! verdict: same rule, kind, window, party, debtor, excuse and evidence
//! ([`same_incident`]; the explanation may differ where it speaks of the
//! whole log, such as where it ends).
//!
//! # What an excerpt can prove on its own
//!
//! An incident is provable when the events that decide it lie in a few
//! contiguous ranges that can be named from the incident itself:
//!
//! | rule type | incident | the ranges |
//! |---|---|---|
//! | `deadline` | `late_result`, `erroneous_result` | from the trigger to the reply |
//! | `deadline` | `no_result` | from the trigger to the first event at or after the deadline (the absence of an answer is shown by the whole interval) |
//! | `forbid` | the named incident | the event (and the permit that decided, if one did); when a `permitted_by` rule found no permit, the whole log up to the event, since the absence of a permit needs every earlier event |
//! | `integrity` | `data_lost`, `data_corrupted` | from the last write to the read (no write or delete in between) |
//! | `rate` | `quota_exceeded` | every event from `per` before the first violating event to the incident's end, with one event beyond each side |
//! | `availability` | `unavailable` | every event of the window, with one event beyond each side |
//! | `availability` | `sla_breach` | **not provable**: uptime is judged over the whole period; excerpt the period's `unavailable` incidents instead |
//! | `heartbeat` | `missing_evidence` | from the event before the gap to the event after it |
//!
//! Every event an incident names as evidence (an outage, a maintenance
//! notice) is disclosed too, and for a rule-based excuse, the excusing
//! incidents' ranges. What an excerpt cannot show is the absence of an
//! event *elsewhere* in the log that would have changed the attribution
//! (an outage attested outside the ranges): that rests on the sealed verdict,
//! computed over the whole log and bound to the recorder's signature through
//! the original manifest, which the excerpt carries and `verify` checks. An
//! incident whose excerpt replay does not reproduce it exactly is refused.

use crate::bundle::{Bundle, EventsError, OpenError};
use crate::hex;
use crate::layout::{self, EXCERPT_FORMAT};
use crate::manifest::{ChunkEntry, ExcerptEntry, LogEntry, Manifest, MemberEntry};
use crate::seal::{write_archive, DEFAULT_CHUNK_BYTES};
use crate::verify::{self, small_member, Check, Status, VerifyOptions};
use crate::TOOL;
use cfr_contract::{Contract, ExcuseSource, RuleKind};
use cfr_merkle::Tree;
use cfr_model::cbor::{self, Cbor};
use cfr_model::time::format_rfc3339;
use cfr_model::{Digest, Event};
use cfr_rules::{Incident, Verdict};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The schema of an excerpt's manifest extension and proof file.
pub const SCHEMA: &str = include_str!("../../../schemas/excerpt.cddl");

/// What an excerpt must disclose for one incident: each need is met by one
/// contiguous range of the excerpt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// The event with this seq.
    Seq(u64),
    /// Every event from the first seq to the second, both included.
    Span(u64, u64),
    /// Every event from the seq on, up to one whose time is at or after the
    /// given time (a deadline that passed without an answer).
    Through(u64, i64),
    /// Every event from seq 0 to this seq (the absence of an earlier event).
    Prefix(u64),
    /// Every event whose time lies in `[from, until]`, shown complete by an
    /// event before `from` (or the log's first) and one after `until` (or
    /// the log's last).
    Times(i64, i64),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Seq(s) => write!(f, "seq {s}"),
            Need::Span(a, b) => write!(f, "seqs {a}..={b} without a gap"),
            Need::Through(s, t) => write!(
                f,
                "every event from seq {s} to one at or after {}",
                format_rfc3339(*t)
            ),
            Need::Prefix(s) => write!(f, "every event from seq 0 to seq {s}"),
            Need::Times(a, b) => write!(
                f,
                "every event from {} to {}, with one beyond each side",
                format_rfc3339(*a),
                format_rfc3339(*b)
            ),
        }
    }
}

/// What an incident rests on, as [`Need`]s, or why an excerpt cannot prove
/// it. `event` looks up an evidence event by seq (`None` when it is not at
/// hand: the incident then cannot be planned or checked).
pub fn needs(
    contract: &Contract,
    verdict: &Verdict,
    incident: &Incident,
    event: &dyn Fn(u64) -> Option<Event>,
) -> Result<Vec<Need>, String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    needs_into(contract, verdict, incident, event, &mut out, &mut seen, 0)?;
    Ok(out)
}

fn needs_into(
    contract: &Contract,
    verdict: &Verdict,
    i: &Incident,
    event: &dyn Fn(u64) -> Option<Event>,
    out: &mut Vec<Need>,
    seen: &mut BTreeSet<(String, i64, i64, Vec<u64>)>,
    depth: usize,
) -> Result<(), String> {
    if depth > 8 || !seen.insert((i.rule.clone(), i.from, i.until, i.evidence.clone())) {
        return Ok(());
    }
    let rule = contract
        .rules
        .iter()
        .find(|r| r.id == i.rule)
        .ok_or_else(|| format!("the contract has no rule {:?}", i.rule))?;
    let evidence: Vec<Event> = i
        .evidence
        .iter()
        .map(|&s| event(s).ok_or_else(|| format!("evidence seq {s} is not at hand")))
        .collect::<Result<_, _>>()?;
    out.extend(i.evidence.iter().map(|&s| Need::Seq(s)));
    // The first evidence event of `kind` at the incident's start.
    let at_start = |kind: &str| {
        evidence
            .iter()
            .find(|e| e.kind == kind && e.time == i.from)
            .map(|e| e.seq)
    };
    let missing = |what: &str| format!("its evidence names no {what}");
    match &rule.kind {
        RuleKind::Deadline(d) => {
            let t = at_start(&d.trigger).ok_or_else(|| missing("trigger"))?;
            let reply = evidence
                .iter()
                .filter(|e| e.kind == d.reply && e.seq > t)
                .map(|e| e.seq)
                .next();
            match (i.kind.as_str(), reply) {
                ("no_result", _) => out.push(Need::Through(t, i.until)),
                (_, Some(r)) => out.push(Need::Span(t, r)),
                (_, None) => return Err(missing("reply")),
            }
        }
        RuleKind::Forbid(f) => {
            let e = at_start(&f.event).ok_or_else(|| missing("forbidden event"))?;
            if let Some(p) = &f.permitted_by {
                if !evidence.iter().any(|x| x.kind == p.event && x.seq < e) {
                    out.push(Need::Prefix(e));
                }
            }
        }
        RuleKind::Integrity(g) => {
            let r = at_start(&g.read.event).ok_or_else(|| missing("read"))?;
            let w = evidence
                .iter()
                .filter(|e| e.kind == g.write.event && e.seq < r)
                .map(|e| e.seq)
                .next_back()
                .ok_or_else(|| missing("write"))?;
            out.push(Need::Span(w, r));
        }
        RuleKind::Rate(r) => out.push(Need::Times(i.from.saturating_sub(r.per), i.until)),
        RuleKind::Availability(_) => {
            if i.kind == "sla_breach" {
                return Err(
                    "an SLA breach is judged over a whole period of the log; an \
                            excerpt cannot prove it (excerpt the period's `unavailable` \
                            incidents instead)"
                        .into(),
                );
            }
            out.push(Need::Times(i.from, i.until.saturating_sub(1)));
        }
        RuleKind::Heartbeat(_) => match (i.evidence.first(), i.evidence.last()) {
            (Some(&a), Some(&b)) => out.push(Need::Span(a, b)),
            _ => return Err(missing("events around the gap")),
        },
    }
    // A rule-based excuse rests on the excusing incidents: they must come
    // out of the excerpt too.
    if let Some(x) = &i.excuse {
        if let Some(ExcuseSource::Rule { rule }) = contract.excuses.get(x).map(|x| &x.source) {
            for j in &verdict.incidents {
                if &j.rule == rule
                    && j.kind != "sla_breach"
                    && j.from <= i.until
                    && i.from <= j.until
                {
                    needs_into(contract, verdict, j, event, out, seen, depth + 1)?;
                }
            }
        }
    }
    Ok(())
}

/// A contiguous run of seqs `[first, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeqRange {
    /// The first seq.
    pub first: u64,
    /// One past the last seq.
    pub end: u64,
}

/// Turns needs into ranges over a log whose event times are `times`
/// (indexed by seq, non-decreasing).
fn plan(needs: &[Need], times: &[i64]) -> Result<Vec<SeqRange>, String> {
    let n = times.len() as u64;
    let last = n.checked_sub(1).ok_or("the log is empty")?;
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for need in needs {
        let span = match *need {
            Need::Seq(s) => (s, s),
            Need::Span(a, b) => (a.min(b), a.max(b)),
            Need::Prefix(s) => (0, s),
            Need::Through(s, t) => {
                let end = (s..n).find(|&k| times[k as usize] >= t).ok_or_else(|| {
                    format!("no event at or after {} follows seq {s}", format_rfc3339(t))
                })?;
                (s, end)
            }
            Need::Times(from, until) => {
                // Times are non-decreasing: binary searches find the events
                // just beyond each side.
                let before = times.partition_point(|&t| t < from) as u64;
                let after = times.partition_point(|&t| t <= until) as u64;
                (before.saturating_sub(1), after.min(last))
            }
        };
        if span.1 > last {
            return Err(format!("seq {} is beyond the log's {n} events", span.1));
        }
        spans.push(span);
    }
    spans.sort_unstable();
    let mut out: Vec<SeqRange> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            // Overlapping or adjacent ranges merge: one proof each.
            Some(r) if a <= r.end => r.end = r.end.max(b + 1),
            _ => out.push(SeqRange {
                first: a,
                end: b + 1,
            }),
        }
    }
    Ok(out)
}

/// Whether the disclosed `ranges` (with their events, by seq) meet `need`
/// in a log of `size` events; the reason when not.
fn covered(
    need: &Need,
    ranges: &[SeqRange],
    time: &dyn Fn(u64) -> Option<i64>,
    size: u64,
) -> Result<(), String> {
    let holding = |s: u64| ranges.iter().find(|r| r.first <= s && s < r.end);
    let ok = match *need {
        Need::Seq(s) => holding(s).is_some(),
        Need::Span(a, b) => holding(a).is_some_and(|r| b < r.end),
        Need::Prefix(s) => holding(s).is_some_and(|r| r.first == 0),
        Need::Through(s, t) => {
            holding(s).is_some_and(|r| (s..r.end).any(|k| time(k).is_some_and(|x| x >= t)))
        }
        Need::Times(from, until) => ranges.iter().any(|r| {
            let starts = r.first == 0 || time(r.first).is_some_and(|t| t < from);
            let ends = r.end == size || time(r.end - 1).is_some_and(|t| t > until);
            starts && ends
        }),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("the excerpt does not disclose {need}"))
    }
}

/// Why an excerpt could not be made. Nothing is left at the output path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExcerptError {
    /// The bundle could not be opened or read.
    #[error("{0}")]
    Open(#[from] OpenError),
    /// The bundle is itself an excerpt.
    #[error("{0} is already an excerpt; cut excerpts from the whole bundle")]
    AlreadyExcerpt(PathBuf),
    /// The original does not verify: an excerpt of it would prove nothing.
    #[error("the bundle does not verify ({0}); an excerpt of it would prove nothing")]
    NotVerified(String),
    /// The bundle has no sealed verdict.
    #[error("the bundle carries no sealed verdict, so it names no incidents")]
    NoVerdict,
    /// No incident was chosen.
    #[error("choose at least one incident (--incident N)")]
    NoIncident,
    /// An incident number outside the verdict.
    #[error("incident #{number} does not exist: the verdict lists {count} incidents")]
    NoSuchIncident {
        /// The number asked for.
        number: u64,
        /// How many there are.
        count: usize,
    },
    /// An incident an excerpt cannot prove.
    #[error("incident #{number} ({rule}, {kind}) cannot be proven by an excerpt: {why}")]
    NotProvable {
        /// Its number.
        number: u64,
        /// Its rule.
        rule: String,
        /// Its kind.
        kind: String,
        /// Why.
        why: String,
    },
    /// The analyzer over the ranges does not give the incident back.
    #[error("incident #{number} does not reproduce from its ranges alone: {detail}")]
    NotReproduced {
        /// Its number.
        number: u64,
        /// What came out instead.
        detail: String,
    },
    /// The events could not be read.
    #[error("{0}")]
    Events(#[from] EventsError),
    /// The analyzer failed.
    #[error("analyzer: {0}")]
    Analyzer(String),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What an excerpt holds.
#[derive(Clone, Debug)]
pub struct ExcerptSummary {
    /// The incidents it proves (1-based, as in the verdict).
    pub incidents: Vec<u64>,
    /// The disclosed ranges.
    pub ranges: Vec<SeqRange>,
    /// Events disclosed.
    pub events: u64,
    /// Events in the original log.
    pub original_events: u64,
    /// Size of the excerpt file.
    pub bytes: u64,
    /// SHA-256 of the excerpt file.
    pub sha256: Digest,
}

/// How to cut an excerpt.
pub struct ExcerptOptions<'a> {
    /// The incidents to prove: 1-based numbers in the sealed verdict.
    pub incidents: Vec<u64>,
    /// Verification of the original (trust, replay) before cutting.
    pub verify: VerifyOptions<'a>,
    /// Told (events read, events total) while the original is read.
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
}

/// Cuts an excerpt of `path` proving the chosen incidents, written to `out`
/// (through a temporary file renamed at the end).
pub fn excerpt(
    path: &Path,
    opts: ExcerptOptions<'_>,
    out: &Path,
) -> Result<ExcerptSummary, ExcerptError> {
    let ExcerptOptions {
        incidents: mut numbers,
        verify: vopts,
        mut progress,
    } = opts;
    numbers.sort_unstable();
    numbers.dedup();
    if numbers.is_empty() {
        return Err(ExcerptError::NoIncident);
    }
    let bundle = Bundle::open(path)?;
    if bundle.is_excerpt() {
        return Err(ExcerptError::AlreadyExcerpt(path.to_owned()));
    }
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| ExcerptError::Io {
            path: p.clone(),
            source,
        }
    };
    // Only a bundle that verifies is worth excerpting.
    let report = verify::verify(path, vopts).map_err(|e| match e {
        verify::VerifyError::Unreadable { path, source } => ExcerptError::Io { path, source },
    })?;
    if !report.verified() {
        let failed: Vec<String> = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| {
                format!(
                    "check {} {} failed: {}",
                    c.number,
                    c.name,
                    c.failures.first().map_or("", |f| f.code.as_str())
                )
            })
            .collect();
        return Err(ExcerptError::NotVerified(failed.join("; ")));
    }
    let verdict = report.verdict.ok_or(ExcerptError::NoVerdict)?;
    let contract = bundle.contract()?;
    for &n in &numbers {
        if n == 0 || n as usize > verdict.incidents.len() {
            return Err(ExcerptError::NoSuchIncident {
                number: n,
                count: verdict.incidents.len(),
            });
        }
    }

    // Which evidence events the plan needs to look at.
    let chosen: Vec<&Incident> = numbers
        .iter()
        .map(|&n| &verdict.incidents[n as usize - 1])
        .collect();
    let mut wanted: BTreeSet<u64> = BTreeSet::new();
    for i in &chosen {
        wanted.extend(&i.evidence);
        if let Some(x) = &i.excuse {
            if let Some(ExcuseSource::Rule { rule }) = contract.excuses.get(x).map(|x| &x.source) {
                for j in verdict.incidents.iter().filter(|j| &j.rule == rule) {
                    wanted.extend(&j.evidence);
                }
            }
        }
    }

    // One pass: every leaf (for the proofs), every time (for the plan), the
    // evidence events.
    let total = bundle.manifest.log.events;
    let mut tree = Tree::new();
    let mut times: Vec<i64> = Vec::with_capacity(total.min(1 << 24) as usize);
    let mut found: BTreeMap<u64, Event> = BTreeMap::new();
    for entry in &bundle.manifest.log.chunks {
        let chunk = bundle.chunk(entry)?;
        for r in chunk.events() {
            let (e, bytes) = r?;
            tree.push(cfr_merkle::leaf_hash(bytes));
            times.push(e.time);
            if wanted.contains(&e.seq) {
                found.insert(e.seq, e);
            }
        }
        if let Some(p) = progress.as_deref_mut() {
            p(times.len() as u64, total);
        }
    }
    let lookup = |s: u64| found.get(&s).cloned();
    let mut per_incident: Vec<Vec<Need>> = Vec::new();
    for (&n, i) in numbers.iter().zip(&chosen) {
        let need =
            needs(&contract, &verdict, i, &lookup).map_err(|why| ExcerptError::NotProvable {
                number: n,
                rule: i.rule.clone(),
                kind: i.kind.clone(),
                why,
            })?;
        per_incident.push(need);
    }
    let not_provable = |k: usize, why: String| ExcerptError::NotProvable {
        number: numbers[k],
        rule: chosen[k].rule.clone(),
        kind: chosen[k].kind.clone(),
        why,
    };
    // The needs name what decides an incident; what came before a range
    // can still change it (an earlier trigger that took the reply a later
    // one would otherwise get). So: judge the ranges with the rule engine,
    // and widen to the left, doubling, each incident that does not come
    // back, until it does or its range reaches seq 0.
    let mut widen: Vec<u64> = vec![0; chosen.len()];
    let mut extra: Vec<Option<Need>> = vec![None; chosen.len()];
    let (ranges, pieces) = loop {
        let all: Vec<Need> = per_incident
            .iter()
            .flatten()
            .chain(extra.iter().flatten())
            .cloned()
            .collect();
        let ranges = plan(&all, &times).map_err(|why| not_provable(0, why))?;
        let pieces = gather(&bundle, &ranges)?;
        let native = judge_natively(&contract, &pieces)?;
        let failing: Vec<usize> = (0..chosen.len())
            .filter(|&k| !reproduces(chosen[k], &verdict, &native))
            .collect();
        if failing.is_empty() {
            break (ranges, pieces);
        }
        for k in failing {
            let start = plan(&per_incident[k], &times)
                .map_err(|why| not_provable(k, why))?
                .first()
                .map_or(0, |r| r.first);
            let reached = match &extra[k] {
                Some(Need::Span(a, _)) => *a,
                _ => start,
            };
            if reached == 0 {
                return Err(ExcerptError::NotReproduced {
                    number: numbers[k],
                    detail: not_reproduced(chosen[k], &native),
                });
            }
            widen[k] = (widen[k] * 2).max(16);
            extra[k] = Some(Need::Span(start.saturating_sub(widen[k]), start));
        }
    };
    drop(times);
    let from = pieces.first().and_then(|p| p.from);
    let until = pieces.last().and_then(|p| p.until);
    let disclosed: u64 = pieces.iter().map(|p| p.events).sum();

    // The analyzer over the disclosed events: each chosen incident must come
    // back.
    let contract_cbor = contract.to_cbor();
    let analyzer = bundle
        .read_member_max(layout::ANALYZER, crate::bundle::MAX_ANALYZER)
        .map_err(io(path))?;
    let excerpt_verdict_cbor = match &analyzer {
        Some(module) => {
            let mut run = crate::sandbox::Worker::spawn(
                crate::sandbox::start(module, &contract_cbor)
                    .map_err(|(_, e)| ExcerptError::Analyzer(e))?,
            );
            for p in &pieces {
                if !run.feed(p.raw.clone(), p.events) {
                    break;
                }
            }
            run.finish().map_err(|(_, e)| ExcerptError::Analyzer(e))?
        }
        None => judge_natively(&contract, &pieces)?.to_cbor(),
    };
    let excerpt_verdict = Verdict::from_cbor(&excerpt_verdict_cbor)
        .map_err(|e| ExcerptError::Analyzer(format!("its verdict does not decode: {e}")))?;
    for (&n, i) in numbers.iter().zip(&chosen) {
        if !reproduces(i, &verdict, &excerpt_verdict) {
            return Err(ExcerptError::NotReproduced {
                number: n,
                detail: not_reproduced(i, &excerpt_verdict),
            });
        }
    }
    let mut chunks: Vec<(ChunkEntry, Vec<u8>)> = Vec::new();
    for p in &pieces {
        let compressed = zstd::bulk::compress(&p.raw, 3).map_err(io(out))?;
        chunks.push((
            ChunkEntry {
                name: layout::chunk_name(chunks.len() as u32),
                first: p.first,
                events: p.events,
                raw_size: p.raw.len() as u64,
            },
            compressed,
        ));
    }
    drop(pieces);

    // Proofs against the original checkpoint.
    let size = tree.size();
    let root = tree.root();
    let mut proof_ranges = Vec::new();
    for r in &ranges {
        let hashes = tree
            .range_proof(r.first, r.end, size)
            .map_err(|e| ExcerptError::Analyzer(format!("range proof: {e}")))?;
        proof_ranges.push(Cbor::map([
            ("first", Cbor::Int(r.first as i64)),
            ("events", Cbor::Int((r.end - r.first) as i64)),
            (
                "hashes",
                Cbor::Array(hashes.iter().map(|h| Cbor::Bytes(h.to_vec())).collect()),
            ),
        ]));
    }
    let proof = cbor::encode(&Cbor::map([
        ("size", Cbor::Int(size as i64)),
        ("root", Cbor::Bytes(root.to_vec())),
        ("ranges", Cbor::Array(proof_ranges)),
    ]));
    drop(tree);

    // The members, in canonical order.
    let om = &bundle.manifest;
    let small = |name: &str| -> Result<Option<Vec<u8>>, ExcerptError> {
        bundle
            .read_member_max(name, crate::bundle::MAX_ANALYZER)
            .map_err(io(path))
    };
    let readme = readme(&contract, &verdict, &numbers, &ranges, disclosed, size);
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    members.push((layout::README.into(), readme.into_bytes()));
    members.push((
        layout::ORIGINAL_MANIFEST.into(),
        bundle.manifest_bytes.clone(),
    ));
    for name in [
        layout::MANIFEST_SIG.to_owned(),
        layout::manifest_cosig("provider"),
        layout::manifest_cosig("user"),
    ] {
        if let Some(b) = small(&name)? {
            members.push((format!("original/{name}"), b));
        }
    }
    let mut carried: Vec<&str> = om
        .members
        .iter()
        .map(|m| m.name.as_str())
        .filter(|n| *n != layout::README && layout::chunk_index(n).is_none())
        .collect();
    carried.push(layout::EXCERPT_SCHEMA);
    let mut tail: Vec<(String, Vec<u8>)> = Vec::new();
    for name in carried {
        let data = if name == layout::EXCERPT_SCHEMA {
            SCHEMA.as_bytes().to_vec()
        } else {
            small(name)?.ok_or_else(|| ExcerptError::Io {
                path: path.to_owned(),
                source: std::io::Error::other(format!("{name} is missing")),
            })?
        };
        tail.push((name.to_owned(), data));
    }
    tail.push((layout::PROOF.into(), proof));
    tail.push((layout::EXCERPT_VERDICT.into(), excerpt_verdict_cbor));
    for (c, data) in &chunks {
        tail.push((c.name.clone(), data.clone()));
    }
    members.extend(tail);
    members.sort_by(|a, b| layout::rank(&a.0).cmp(&layout::rank(&b.0)));
    let manifest = Manifest {
        format: EXCERPT_FORMAT.into(),
        tool: TOOL.into(),
        contract_id: om.contract_id.clone(),
        contract_sha256: om.contract_sha256,
        log: LogEntry {
            events: disclosed,
            from,
            until,
            root: om.log.root,
            chunks: chunks.iter().map(|(c, _)| c.clone()).collect(),
        },
        analyzer_sha256: om.analyzer_sha256,
        members: members
            .iter()
            .map(|(name, data)| MemberEntry {
                name: name.clone(),
                size: data.len() as u64,
                sha256: Sha256::digest(data).into(),
            })
            .collect(),
        excerpt: Some(ExcerptEntry {
            original_manifest: Sha256::digest(&bundle.manifest_bytes).into(),
            original_events: om.log.events,
            incidents: numbers.clone(),
        }),
    };
    let manifest_cbor = manifest.to_cbor();

    let mtime = until.map_or(0, |t: i64| (t / 1_000_000_000).max(0) as u64);
    let tar_err = |e: crate::tar::TarWriteError| ExcerptError::Io {
        path: out.to_owned(),
        source: std::io::Error::other(e.to_string()),
    };
    let (sha256, bytes) = write_archive(
        out,
        ".cfr-excerpt-",
        mtime,
        |path, source| ExcerptError::Io {
            path: path.to_owned(),
            source,
        },
        |w| {
            let (readme_name, readme_bytes) = &members[0];
            w.append(readme_name, readme_bytes).map_err(tar_err)?;
            w.append(layout::MANIFEST, &manifest_cbor)
                .map_err(tar_err)?;
            for (name, data) in &members[1..] {
                w.append(name, data).map_err(tar_err)?;
            }
            Ok(())
        },
    )?;
    Ok(ExcerptSummary {
        incidents: numbers,
        ranges,
        events: disclosed,
        original_events: om.log.events,
        bytes,
        sha256,
    })
}

/// A run of consecutive disclosed events: one chunk of the excerpt.
struct Piece {
    first: u64,
    events: u64,
    raw: Vec<u8>,
    from: Option<i64>,
    until: Option<i64>,
}

/// Reads the events of `ranges` from the bundle, cut into chunks of at
/// most about [`DEFAULT_CHUNK_BYTES`], a range never sharing a chunk.
fn gather(bundle: &Bundle, ranges: &[SeqRange]) -> Result<Vec<Piece>, ExcerptError> {
    let mut pieces: Vec<Piece> = Vec::new();
    for entry in &bundle.manifest.log.chunks {
        let end = entry.first.saturating_add(entry.events);
        if !ranges.iter().any(|r| r.first < end && entry.first < r.end) {
            continue;
        }
        let chunk = bundle.chunk(entry)?;
        for r in chunk.events() {
            let (e, bytes) = r?;
            let Some(range) = ranges.iter().find(|r| r.first <= e.seq && e.seq < r.end) else {
                continue;
            };
            let fresh = match pieces.last() {
                None => true,
                Some(p) => e.seq == range.first || p.raw.len() >= DEFAULT_CHUNK_BYTES,
            };
            if fresh {
                pieces.push(Piece {
                    first: e.seq,
                    events: 0,
                    raw: Vec::new(),
                    from: None,
                    until: None,
                });
            }
            if let Some(p) = pieces.last_mut() {
                p.raw.extend_from_slice(bytes);
                p.events += 1;
                p.from.get_or_insert(e.time);
                p.until = Some(e.time);
            }
        }
    }
    Ok(pieces)
}

/// The rule engine built into this release over the pieces.
fn judge_natively(contract: &Contract, pieces: &[Piece]) -> Result<Verdict, ExcerptError> {
    let mut engine = cfr_rules::Engine::new(contract);
    for p in pieces {
        for item in cfr_model::EventSeq::new(&p.raw) {
            let (e, _) = item.map_err(|e| ExcerptError::Analyzer(e.to_string()))?;
            engine
                .push(&e)
                .map_err(|e| ExcerptError::Analyzer(e.to_string()))?;
        }
    }
    Ok(engine.finish())
}

/// The same incident: rule, clause, kind, party, debtor, excuse, window and
/// evidence all equal. The explanation is not compared: where it speaks of
/// the log as a whole (where the log ends, an excuse event that did not
/// apply), the excerpt's log says less, and that changes no fact above.
pub fn same_incident(a: &Incident, b: &Incident) -> bool {
    a.rule == b.rule
        && a.clause == b.clause
        && a.kind == b.kind
        && a.party == b.party
        && a.debtor == b.debtor
        && a.excuse == b.excuse
        && a.from == b.from
        && a.until == b.until
        && a.evidence == b.evidence
}

/// Whether `got` holds an incident that is [`same_incident`] as `want`
/// (an incident of `verdict`) and, where a rule-based excuse decided, was
/// excused by the same incident: `excused_by` is an index, which differs
/// between the two verdicts, so the incidents it names are compared.
pub fn reproduces(want: &Incident, verdict: &Verdict, got: &Verdict) -> bool {
    got.incidents.iter().any(|j| {
        same_incident(want, j)
            && match (want.excused_by, j.excused_by) {
                (None, None) => true,
                (Some(a), Some(b)) => match (verdict.incidents.get(a), got.incidents.get(b)) {
                    (Some(x), Some(y)) => same_incident(x, y),
                    _ => false,
                },
                _ => false,
            }
    })
}

/// Says how the excerpt's incidents of the same rule differ from `want`.
fn not_reproduced(want: &Incident, got: &Verdict) -> String {
    let near: Vec<String> = got
        .incidents
        .iter()
        .filter(|j| j.rule == want.rule && j.from <= want.until && want.from <= j.until)
        .map(|j| {
            format!(
                "{} {} {}..{} party {} evidence {:?}",
                j.rule,
                j.kind,
                format_rfc3339(j.from),
                format_rfc3339(j.until),
                j.party,
                j.evidence
            )
        })
        .collect();
    let want_s = format!(
        "expected {} {} party {} evidence {:?}",
        want.kind, want.rule, want.party, want.evidence
    );
    if near.is_empty() {
        format!("{want_s}; the excerpt's analyzer raised no incident of that rule there")
    } else {
        format!("{want_s}; the excerpt gives {}", near.join("; "))
    }
}

fn readme(
    contract: &Contract,
    verdict: &Verdict,
    numbers: &[u64],
    ranges: &[SeqRange],
    disclosed: u64,
    size: u64,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "CFR EVIDENCE EXCERPT ({EXCERPT_FORMAT})");
    let _ = writeln!(s, "=================================\n");
    let _ = writeln!(
        s,
        "This file discloses part of a sealed cfr evidence bundle: only the\n\
         events the incidents below rest on, with Merkle range proofs that\n\
         they are, unaltered and without omissions inside each range, part of\n\
         the log the recorder signed. It is a plain POSIX tar archive.\n"
    );
    let _ = writeln!(s, "Contract: {} ({})", contract.title, contract.id);
    let _ = writeln!(
        s,
        "Disclosed: {disclosed} of {size} events, in {} range(s):",
        ranges.len()
    );
    for r in ranges {
        let _ = writeln!(s, "  seq {}..={}", r.first, r.end - 1);
    }
    let _ = writeln!(s, "\nIncidents proven (numbers as in the sealed verdict):");
    for &n in numbers {
        if let Some(i) = verdict.incidents.get(n as usize - 1) {
            let _ = writeln!(
                s,
                "  #{n} {} {} {} - {}: {} at fault\n      {}",
                i.rule,
                i.kind,
                format_rfc3339(i.from),
                format_rfc3339(i.until),
                i.party,
                i.explanation
            );
        }
    }
    let _ = writeln!(
        s,
        "\nVerify: cfr-bundle verify <this file> [--recorder-key KEY]\n\
         It checks the original manifest's recorder signature, every carried\n\
         member against it, the range proofs against the signed checkpoint,\n\
         and replays the analyzer over the disclosed events: each incident\n\
         above must come out exactly as sealed. See schemas/excerpt.cddl."
    );
    s
}

/// The excerpt's own facts, as verified.
#[derive(Clone, Debug)]
pub struct ExcerptFacts {
    /// Events in the original log.
    pub original_events: u64,
    /// The disclosed ranges.
    pub ranges: Vec<SeqRange>,
    /// The chosen incidents (number, incident as sealed) and whether each
    /// was reproduced.
    pub incidents: Vec<(u64, Incident, bool)>,
}

struct ProofRange {
    range: SeqRange,
    hashes: Vec<[u8; 32]>,
}

struct ProofFile {
    size: u64,
    root: [u8; 32],
    ranges: Vec<ProofRange>,
}

fn parse_proof(bytes: &[u8]) -> Result<ProofFile, String> {
    let v = cbor::decode(bytes).map_err(|e| e.to_string())?;
    let keys = |v: &Cbor, want: &[&str], at: &str| -> Result<(), String> {
        match v {
            Cbor::Map(e)
                if e.len() == want.len()
                    && e.iter()
                        .all(|(k, _)| k.as_text().is_some_and(|k| want.contains(&k))) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "{at}: expected a map with exactly the keys {want:?}"
            )),
        }
    };
    let uint = |v: Option<&Cbor>, at: &str| -> Result<u64, String> {
        v.and_then(Cbor::as_int)
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| format!("{at}: expected an unsigned integer"))
    };
    let digest = |v: Option<&Cbor>, at: &str| -> Result<[u8; 32], String> {
        v.and_then(Cbor::as_bytes)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| format!("{at}: expected 32 bytes"))
    };
    keys(&v, &["size", "root", "ranges"], "(top)")?;
    let mut ranges = Vec::new();
    for (k, r) in v
        .get("ranges")
        .and_then(Cbor::as_array)
        .ok_or("ranges: expected an array")?
        .iter()
        .enumerate()
    {
        let at = format!("ranges[{k}]");
        keys(r, &["first", "events", "hashes"], &at)?;
        let first = uint(r.get("first"), &at)?;
        let events = uint(r.get("events"), &at)?;
        let hashes = r
            .get("hashes")
            .and_then(Cbor::as_array)
            .ok_or_else(|| format!("{at}.hashes: expected an array"))?
            .iter()
            .map(|h| digest(Some(h), &at))
            .collect::<Result<Vec<_>, _>>()?;
        if events == 0 {
            return Err(format!("{at}: an empty range"));
        }
        ranges.push(ProofRange {
            range: SeqRange {
                first,
                end: first
                    .checked_add(events)
                    .ok_or_else(|| format!("{at}: overflows"))?,
            },
            hashes,
        });
    }
    Ok(ProofFile {
        size: uint(v.get("size"), "size")?,
        root: digest(v.get("root"), "root")?,
        ranges,
    })
}

/// Verifies an opened excerpt: the eight checks of a bundle, as they apply
/// to an excerpt (see the module docs).
pub(crate) fn verify_excerpt(
    bundle: Bundle,
    mut report: verify::Report,
    mut checks: Vec<Check>,
    opts: VerifyOptions<'_>,
) -> verify::Report {
    let mut opts = opts;
    for (n, title) in [
        (1, "the original manifest's signature by the recorder; co-signatures"),
        (2, "chunks decompress within bounds; events canonical, each range gap-free, ordered, valid per the contract"),
        (3, "range proofs of the disclosed events against the original signed checkpoint"),
        (7, "analyzer replay over the ranges reproduces the excerpt's verdict and the chosen incidents"),
    ] {
        if let Some(c) = checks.get_mut(n) {
            c.title = title;
        }
    }
    let m = bundle.manifest.clone();
    let Some(x) = m.excerpt.clone() else {
        report.checks = checks;
        return report;
    };
    // 1. Members against the excerpt's manifest, and every carried member
    // against the original manifest.
    verify::check_members(&bundle, &mut checks[0]);
    let original_bytes =
        small_member(&bundle, layout::ORIGINAL_MANIFEST).unwrap_or_else(|(code, detail)| {
            checks[0].fail(code, detail);
            Vec::new()
        });
    let original = match Manifest::from_cbor(&original_bytes) {
        Ok(o) if o.excerpt.is_none() => Some(o),
        Ok(_) => {
            checks[0].fail(
                "original-manifest-invalid",
                "original/manifest.cbor is itself an excerpt's manifest",
            );
            None
        }
        Err(e) => {
            checks[0].fail("original-manifest-invalid", format!("original/{e}"));
            None
        }
    };
    let digest: [u8; 32] = Sha256::digest(&original_bytes).into();
    if digest != x.original_manifest {
        checks[0].fail(
            "original-manifest-mismatch",
            "original/manifest.cbor is not the manifest the excerpt names",
        );
    }
    // Members by name with their SHA-256: the excerpt's, and the original's.
    let listed: BTreeMap<&str, [u8; 32]> = m
        .members
        .iter()
        .map(|e| (e.name.as_str(), e.sha256))
        .collect();
    if let Some(o) = &original {
        let original_listed: BTreeMap<&str, [u8; 32]> = o
            .members
            .iter()
            .map(|e| (e.name.as_str(), e.sha256))
            .collect();
        for (name, want) in &original_listed {
            if *name == layout::README || layout::chunk_index(name).is_some() {
                continue;
            }
            match listed.get(name) {
                Some(d) if d == want => {}
                Some(_) => checks[0].fail(
                    "original-member-mismatch",
                    format!("{name} differs from the original bundle's (its SHA-256 is not the one the original manifest lists)"),
                ),
                None => checks[0].fail(
                    "member-missing",
                    format!("{name} of the original bundle is not carried"),
                ),
            }
        }
        for e in &m.members {
            let n = e.name.as_str();
            let own =
                n == layout::README || layout::excerpt_only(n) || layout::chunk_index(n).is_some();
            if !own && !original_listed.contains_key(n) {
                checks[0].fail(
                    "member-unexpected",
                    format!("{n} is not a member of the original bundle"),
                );
            }
        }
        if o.contract_id != m.contract_id
            || o.contract_sha256 != m.contract_sha256
            || o.analyzer_sha256 != m.analyzer_sha256
            || o.log.root != m.log.root
            || o.log.events != x.original_events
        {
            checks[0].fail(
                "original-manifest-mismatch",
                "the excerpt's manifest disagrees with the original's on the contract, analyzer, root or size",
            );
        }
    }
    let contract = verify::contract_of(&bundle, &mut checks[0]);
    report.bundle.contract_title = contract.as_ref().map(|c| c.title.clone());
    let Some(contract) = contract else {
        for c in &mut checks[1..] {
            c.skip("not checked: the contract could not be read");
        }
        report.checks = checks;
        return report;
    };
    let (signers, keys) = verify::signers(&contract, &opts.trust, &mut checks);

    // 2. The original manifest's signatures.
    verify::check_manifest_signatures(
        &bundle,
        &original_bytes,
        layout::ORIGINAL_MANIFEST_SIG,
        layout::original_cosig,
        &keys,
        &mut checks[1],
    );

    // 3 and 5, and the replay feed: one pass over the disclosed events.
    let mut replay = verify::start_replay(&bundle, &contract, &opts.replay, &mut checks[7])
        .map(crate::sandbox::Worker::spawn);
    let mut events_ok = true;
    let mut sig_checked = 0u64;
    let mut runs: Vec<SeqRange> = Vec::new();
    let mut leaves: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    let mut disclosed: BTreeMap<u64, Event> = BTreeMap::new();
    let mut last: Option<(u64, i64)> = None;
    let mut first_time = None;
    'chunks: for entry in &m.log.chunks {
        let chunk = match bundle.chunk(entry) {
            Ok(c) => c,
            Err(e) => {
                checks[2].fail(e.code(), e.to_string());
                events_ok = false;
                break;
            }
        };
        if listed.get(entry.name.as_str()) != Some(&chunk.sha256) {
            checks[0].fail(
                "member-digest-mismatch",
                format!("{}: SHA-256 differs from the manifest's", entry.name),
            );
        }
        if last.is_some_and(|(s, _)| entry.first <= s) {
            checks[2].fail(
                "event-seq-order",
                format!(
                    "{} starts at seq {}, not after the previous chunk",
                    entry.name, entry.first
                ),
            );
            events_ok = false;
        }
        let mut expected = entry.first;
        for r in chunk.events() {
            let (e, bytes) = match r {
                Ok(x) => x,
                Err(err) => {
                    checks[2].fail(err.code(), err.to_string());
                    events_ok = false;
                    break 'chunks;
                }
            };
            if e.seq != expected {
                checks[2].fail(
                    "event-seq-gap",
                    format!(
                        "{}: seq {} where {expected} was expected (a chunk holds consecutive seqs)",
                        entry.name, e.seq
                    ),
                );
                events_ok = false;
            }
            if e.seq >= x.original_events {
                checks[2].fail(
                    "event-seq-beyond-log",
                    format!(
                        "seq {} is beyond the original log's {} events",
                        e.seq, x.original_events
                    ),
                );
                events_ok = false;
            }
            if last.is_some_and(|(_, t)| e.time < t) {
                checks[2].fail(
                    "event-time-backwards",
                    format!(
                        "seq {}: time {} is before the previous event's",
                        e.seq,
                        format_rfc3339(e.time)
                    ),
                );
                events_ok = false;
            }
            if !verify::check_event(&contract, &e, &mut checks, &mut sig_checked) {
                events_ok = false;
            }
            leaves.insert(e.seq, cfr_merkle::leaf_hash(bytes));
            first_time.get_or_insert(e.time);
            last = Some((e.seq, e.time));
            expected = e.seq.saturating_add(1);
            disclosed.insert(e.seq, e);
        }
        match runs.last_mut() {
            Some(r) if r.end == entry.first => r.end = entry.first + entry.events,
            _ => runs.push(SeqRange {
                first: entry.first,
                end: entry.first.saturating_add(entry.events),
            }),
        }
        verify::feed_replay(&mut replay, chunk.raw, entry.events, &mut checks[7]);
        if let Some(p) = opts.progress.as_deref_mut() {
            p(disclosed.len() as u64, m.log.events);
        }
    }
    if events_ok {
        if disclosed.len() as u64 != m.log.events {
            checks[2].fail(
                "event-count-mismatch",
                format!(
                    "the excerpt holds {} events; its manifest says {}",
                    disclosed.len(),
                    m.log.events
                ),
            );
        }
        if first_time != m.log.from || last.map(|l| l.1) != m.log.until {
            checks[2].fail(
                "manifest-span-mismatch",
                "the first/last event times differ from the manifest's from/until",
            );
        }
        checks[2].pass(format!(
            "{} events in {} range(s) of the original's {}, each range gap-free, times in order, all valid per the contract",
            disclosed.len(),
            runs.len(),
            x.original_events
        ));
        if sig_checked > 0 {
            checks[4].pass(format!("{sig_checked} event signatures valid"));
        } else {
            checks[4].pass("no disclosed event carries or requires a signature");
        }
    } else {
        checks[4].skip("not checked: the events could not all be read");
    }

    // 4. The checkpoint, and every range proof against it.
    let cp = verify::read_checkpoint(&bundle, &contract, &keys, &mut checks[3]);
    if let Some(cp) = &cp {
        report.bundle.root = Some(cp.root);
        let c = &mut checks[3];
        if cp.root != m.log.root || cp.size != x.original_events {
            c.fail(
                "checkpoint-mismatch",
                format!(
                    "the checkpoint (size {}, root {}) is not the original log's (size {}, root {})",
                    cp.size,
                    hex(&cp.root),
                    x.original_events,
                    hex(&m.log.root)
                ),
            );
        }
        match small_member(&bundle, layout::PROOF).map(|b| parse_proof(&b)) {
            Err((code, detail)) => c.fail(code, detail),
            Ok(Err(e)) => c.fail("range-proof-invalid", format!("log/proof.cbor: {e}")),
            Ok(Ok(p)) => {
                if p.size != cp.size || p.root != cp.root {
                    c.fail(
                        "range-proof-checkpoint-mismatch",
                        format!(
                            "log/proof.cbor proves against size {} root {}, not the checkpoint's size {} root {}",
                            p.size,
                            hex(&p.root),
                            cp.size,
                            hex(&cp.root)
                        ),
                    );
                }
                let proven: Vec<SeqRange> = p.ranges.iter().map(|r| r.range).collect();
                if events_ok && proven != runs {
                    c.fail(
                        "range-mismatch",
                        format!(
                            "the proofs cover {} but the chunks hold {}",
                            show_ranges(&proven),
                            show_ranges(&runs)
                        ),
                    );
                }
                let mut bad = 0;
                for r in &p.ranges {
                    let hashes: Vec<[u8; 32]> = (r.range.first..r.range.end)
                        .map_while(|s| leaves.get(&s).copied())
                        .collect();
                    if let Err(e) = cfr_merkle::verify_range(
                        r.range.first,
                        r.range.end,
                        cp.size,
                        &hashes,
                        &r.hashes,
                        &cp.root,
                    ) {
                        bad += 1;
                        c.fail(
                            "range-proof-invalid",
                            format!(
                                "seqs {}..={}: {e}",
                                r.range.first,
                                r.range.end.saturating_sub(1)
                            ),
                        );
                    }
                }
                if bad == 0 && events_ok && proven == runs {
                    c.pass(format!(
                        "{} range proof(s) verify against the signed checkpoint (size {}, root {})",
                        p.ranges.len(),
                        cp.size,
                        hex(&cp.root)
                    ));
                }
            }
        }
    }

    // 6. Contract signatures; 7. the analyzer.
    verify::check_contract_signatures(&bundle, &keys, &mut checks[5]);
    verify::check_analyzer(&bundle, &opts, &mut checks[6]);

    // 8. Replay over the ranges; every chosen incident comes back.
    let sealed = small_member(&bundle, layout::EXCERPT_VERDICT);
    let original_verdict = small_member(&bundle, layout::VERDICT).map(|b| Verdict::from_cbor(&b));
    let mut facts = ExcerptFacts {
        original_events: x.original_events,
        ranges: runs.clone(),
        incidents: Vec::new(),
    };
    let c8 = &mut checks[7];
    let replayed = match (replay, &sealed) {
        (_, Err((code, detail))) => {
            c8.fail(*code, detail.clone());
            None
        }
        (None, _) => None,
        (Some(_), _) if !events_ok => {
            c8.fail(
                "replay-incomplete",
                "the events could not all be read, so the verdict cannot be replayed",
            );
            None
        }
        (Some(r), Ok(sealed)) => match r.finish() {
            Ok(bytes) if &bytes == sealed => match Verdict::from_cbor(&bytes) {
                Ok(v) => Some(v),
                Err(e) => {
                    c8.fail("verdict-invalid", format!("verdict/excerpt.cbor: {e}"));
                    None
                }
            },
            Ok(bytes) => {
                c8.fail(
                    "verdict-mismatch",
                    format!(
                        "the replayed verdict over the disclosed events ({} bytes) differs from verdict/excerpt.cbor ({} bytes)",
                        bytes.len(),
                        sealed.len()
                    ),
                );
                None
            }
            Err((code, detail)) => {
                c8.fail(code, detail);
                None
            }
        },
    };
    match original_verdict {
        Err((code, detail)) => c8.fail(code, format!("{detail} (the sealed verdict)")),
        Ok(Err(e)) => c8.fail("verdict-invalid", format!("verdict/verdict.cbor: {e}")),
        Ok(Ok(ov)) => {
            let lookup = |s: u64| disclosed.get(&s).cloned();
            let time = |s: u64| disclosed.get(&s).map(|e| e.time);
            let mut reproduced = 0;
            for &n in &x.incidents {
                let Some(i) = ov.incidents.get(n as usize - 1) else {
                    c8.fail(
                        "incident-missing",
                        format!(
                            "incident #{n} is not in the sealed verdict ({} incidents)",
                            ov.incidents.len()
                        ),
                    );
                    continue;
                };
                let mut ok = false;
                match needs(&contract, &ov, i, &lookup) {
                    Err(why) => c8.fail(
                        "incident-not-provable",
                        format!("incident #{n} ({} {}): {why}", i.rule, i.kind),
                    ),
                    Ok(need) => {
                        let gaps: Vec<String> = need
                            .iter()
                            .filter_map(|nd| covered(nd, &runs, &time, x.original_events).err())
                            .collect();
                        if !gaps.is_empty() {
                            c8.fail(
                                "incident-not-covered",
                                format!(
                                    "incident #{n} ({} {}): {}",
                                    i.rule,
                                    i.kind,
                                    gaps.join("; ")
                                ),
                            );
                        } else if let Some(v) = &replayed {
                            if reproduces(i, &ov, v) {
                                ok = true;
                                reproduced += 1;
                            } else {
                                c8.fail(
                                    "incident-not-reproduced",
                                    format!("incident #{n}: {}", not_reproduced(i, v)),
                                );
                            }
                        }
                    }
                }
                facts.incidents.push((n, i.clone(), ok));
            }
            if replayed.is_some() && reproduced == x.incidents.len() {
                c8.pass(format!(
                    "the analyzer over the disclosed events reproduces verdict/excerpt.cbor byte for byte, and with it incident(s) {} as sealed (rule, kind, window, party, excuse, evidence)",
                    x.incidents.iter().map(|n| format!("#{n}")).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    if checks[0].status != Status::Fail {
        checks[0].pass(format!(
            "strict ustar profile; {} members in canonical order, each with the size and SHA-256 the excerpt's manifest lists; every carried member is the original's",
            bundle.members().len()
        ));
    }
    report.signers = signers;
    report.checks = checks;
    report.excerpt = Some(facts);
    report
}

impl ExcerptFacts {
    /// For people: what the excerpt discloses and which incidents it proves.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let disclosed: u64 = self.ranges.iter().map(|r| r.end - r.first).sum();
        let _ = writeln!(
            s,
            "Excerpt   {disclosed} of {} events disclosed, seq {}",
            self.original_events,
            show_ranges(&self.ranges)
        );
        let _ = writeln!(s, "\nIncidents this excerpt proves");
        let _ = writeln!(
            s,
            "  {:>4}  {:<10}  {:<18} {:<24} rule",
            "#", "party", "kind", "from"
        );
        for (n, i, ok) in &self.incidents {
            let _ = writeln!(
                s,
                "  {:>4}  {:<10}  {:<18} {:<24} {}{}\n        {}",
                format!("#{n}"),
                i.party.name(),
                i.kind,
                format_rfc3339(i.from),
                i.rule,
                if *ok { "" } else { "   NOT PROVEN" },
                i.explanation
            );
        }
        s
    }

    /// For machines: `{ "original_events", "ranges", "incidents" }`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "original_events": self.original_events,
            "ranges": self.ranges.iter().map(|r| serde_json::json!({"first": r.first, "last": r.end - 1})).collect::<Vec<_>>(),
            "incidents": self.incidents.iter().map(|(n, i, ok)| serde_json::json!({
                "number": n,
                "proven": ok,
                "rule": i.rule,
                "kind": i.kind,
                "party": i.party.name(),
                "from": format_rfc3339(i.from),
                "until": format_rfc3339(i.until),
                "evidence": i.evidence,
                "explanation": i.explanation,
            })).collect::<Vec<_>>(),
        })
    }
}

fn show_ranges(r: &[SeqRange]) -> String {
    r.iter()
        .map(|r| format!("{}..={}", r.first, r.end.saturating_sub(1)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plan_merges_and_closes_time_spans() {
        let times = [0, 10, 20, 20, 30, 40, 50];
        // A time span [20, 30] takes the event before (seq 1) and after (5).
        let r = plan(&[Need::Times(20, 30)], &times).unwrap();
        assert_eq!(r, [SeqRange { first: 1, end: 6 }]);
        // At the log's edges there is nothing beyond: the range stops there.
        let r = plan(&[Need::Times(-5, 100)], &times).unwrap();
        assert_eq!(r, [SeqRange { first: 0, end: 7 }]);
        // Adjacent and overlapping needs merge; separate ones do not.
        let r = plan(&[Need::Seq(0), Need::Seq(1), Need::Span(4, 5)], &times).unwrap();
        assert_eq!(
            r,
            [SeqRange { first: 0, end: 2 }, SeqRange { first: 4, end: 6 }]
        );
        // Through: to the first event at or after the time.
        let r = plan(&[Need::Through(1, 25)], &times).unwrap();
        assert_eq!(r, [SeqRange { first: 1, end: 5 }]);
        assert!(plan(&[Need::Through(1, 99)], &times).is_err());
        assert!(plan(&[Need::Seq(7)], &times).is_err());
    }

    #[test]
    fn coverage_needs_the_boundaries() {
        let times: BTreeMap<u64, i64> = [(1, 10), (2, 20), (3, 20), (4, 30), (5, 40)].into();
        let t = |s: u64| times.get(&s).copied();
        let r = [SeqRange { first: 1, end: 6 }];
        assert!(covered(&Need::Times(20, 30), &r, &t, 7).is_ok());
        // Without the event before, the span might have lost an event at 20.
        let r2 = [SeqRange { first: 2, end: 6 }];
        assert!(covered(&Need::Times(20, 30), &r2, &t, 7).is_err());
        assert!(covered(&Need::Span(2, 5), &r, &t, 7).is_ok());
        assert!(covered(&Need::Span(2, 6), &r, &t, 7).is_err());
        assert!(covered(&Need::Prefix(3), &r, &t, 7).is_err());
        assert!(covered(&Need::Through(2, 40), &r, &t, 7).is_ok());
        assert!(covered(&Need::Through(2, 41), &r, &t, 7).is_err());
    }
}
