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

use crate::check::Status;
pub use crate::coverage::{needs, reproduces, same_incident, Need, SeqRange};
use crate::coverage::{not_reproduced, plan};
pub use crate::report::ExcerptFacts;
use crate::verify::{self, VerifyOptions};
use cfr_bundle_format::bundle::{Bundle, EventsError, OpenError};
use cfr_bundle_format::layout::{self, EXCERPT_FORMAT};
use cfr_bundle_format::manifest::{ChunkEntry, ExcerptEntry, LogEntry, Manifest, MemberEntry};
use cfr_bundle_format::seal::{write_archive, DEFAULT_CHUNK_BYTES};
use cfr_bundle_format::TOOL;
use cfr_contract::{Contract, ExcuseSource};
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
        other => ExcerptError::NotVerified(other.to_string()),
    })?;
    if !report.verified() {
        let failed: Vec<String> = report
            .checks()
            .iter()
            .filter(|c| c.status() == Status::Fail)
            .map(|c| {
                format!(
                    "check {} {} failed: {}",
                    c.number(),
                    c.name(),
                    c.failures().first().map_or("", |f| f.code.as_str())
                )
            })
            .collect();
        return Err(ExcerptError::NotVerified(failed.join("; ")));
    }
    let verdict = report
        .verdict()
        .proven()
        .cloned()
        .ok_or(ExcerptError::NoVerdict)?;
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
        .read_member_max(layout::ANALYZER, cfr_bundle_format::bundle::MAX_ANALYZER)
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
            .read_member_max(name, cfr_bundle_format::bundle::MAX_ANALYZER)
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
    let tar_err = |e: cfr_bundle_format::tar::TarWriteError| ExcerptError::Io {
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
        engine.feed(&p.raw).map_err(|e| match e {
            cfr_rules::FeedError::Event { error, .. } => ExcerptError::Analyzer(error.to_string()),
            cfr_rules::FeedError::Engine(e) => ExcerptError::Analyzer(e.to_string()),
        })?;
    }
    Ok(engine.finish())
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
        let _ = writeln!(
            s,
            "  {}",
            cfr_bundle_format::words::seqs(r.first, r.end - 1)
        );
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
