//! Verification of an excerpt: the eight checks of a bundle, as they apply
//! to an excerpt (see the `excerpt` module for what an excerpt can prove).

use crate::check::{CheckId, Checks, Code, Status};
use crate::coverage::{covered, needs, not_reproduced, reproduces, show_ranges, SeqRange};
use crate::hex;
use crate::report::{ExcerptFacts, Report, VerifyOptions};
use crate::steps;
use crate::steps::small_member;
use cfr_bundle_format::bundle::Bundle;
use cfr_bundle_format::layout;
use cfr_bundle_format::manifest::Manifest;
use cfr_model::cbor::{self, Cbor};
use cfr_model::time::format_rfc3339;
use cfr_model::Event;
use cfr_rules::Verdict;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

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
    mut report: Report,
    mut checks: Checks,
    opts: VerifyOptions<'_>,
) -> Report {
    let mut opts = opts;
    for (id, title) in [
        (CheckId::ManifestSignature, "the original manifest's signature by the recorder; co-signatures"),
        (CheckId::Events, "chunks decompress within bounds; events canonical, each range gap-free, ordered, valid per the contract"),
        (CheckId::Merkle, "range proofs of the disclosed events against the original signed checkpoint"),
        (CheckId::Replay, "analyzer replay over the ranges reproduces the excerpt's verdict and the chosen incidents"),
    ] {
        checks[id].retitle(title);
    }
    let m = bundle.manifest.clone();
    let Some(x) = m.excerpt.clone() else {
        report.checks = checks;
        return report;
    };
    // 1. Members against the excerpt's manifest, and every carried member
    // against the original manifest.
    steps::check_members(&bundle, &mut checks[CheckId::Archive]);
    let original_bytes =
        small_member(&bundle, layout::ORIGINAL_MANIFEST).unwrap_or_else(|(code, detail)| {
            checks[CheckId::Archive].fail(code, detail);
            Vec::new()
        });
    let original = match Manifest::from_cbor(&original_bytes) {
        Ok(o) if o.excerpt.is_none() => Some(o),
        Ok(_) => {
            checks[CheckId::Archive].fail(
                "original-manifest-invalid",
                "original/manifest.cbor is itself an excerpt's manifest",
            );
            None
        }
        Err(e) => {
            checks[CheckId::Archive].fail("original-manifest-invalid", format!("original/{e}"));
            None
        }
    };
    let digest: [u8; 32] = Sha256::digest(&original_bytes).into();
    if digest != x.original_manifest {
        checks[CheckId::Archive].fail(
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
                Some(_) => checks[CheckId::Archive].fail(
                    "original-member-mismatch",
                    format!("{name} differs from the original bundle's (its SHA-256 is not the one the original manifest lists)"),
                ),
                None => checks[CheckId::Archive].fail(
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
                checks[CheckId::Archive].fail(
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
            checks[CheckId::Archive].fail(
                "original-manifest-mismatch",
                "the excerpt's manifest disagrees with the original's on the contract, analyzer, root or size",
            );
        }
    }
    let contract = steps::contract_of(&bundle, &mut checks[CheckId::Archive]);
    report.bundle.contract_title = contract.as_ref().map(|c| c.title.clone());
    let Some(contract) = contract else {
        checks.skip_after(
            CheckId::Archive,
            "not checked: the contract could not be read",
        );
        report.checks = checks;
        return report;
    };
    let (signers, keys) = steps::signers(&contract, &opts.trust, &mut checks);

    // 2. The original manifest's signatures.
    steps::check_manifest_signatures(
        &bundle,
        &original_bytes,
        layout::ORIGINAL_MANIFEST_SIG,
        layout::original_cosig,
        &keys,
        &mut checks[CheckId::ManifestSignature],
    );
    // An excerpt does not carry the original's manifest.tsr: a policy
    // that requires a timestamp is not met, never silently passed.
    if opts.trust.require.timestamp {
        checks[CheckId::ManifestSignature].fail(
            Code::TimestampMissing,
            "the trust policy requires an RFC 3161 timestamp, and an excerpt carries none (verify the original bundle for its manifest.tsr)",
        );
    }

    // 3 and 5, and the replay feed: one pass over the disclosed events.
    let mut replay = steps::start_replay(
        &bundle,
        &contract,
        &opts.replay,
        &mut checks[CheckId::Replay],
    );
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
                checks[CheckId::Events].fail(e.code(), e.to_string());
                events_ok = false;
                break;
            }
        };
        if listed.get(entry.name.as_str()) != Some(&chunk.sha256) {
            checks[CheckId::Archive].fail(
                "member-digest-mismatch",
                format!("{}: SHA-256 differs from the manifest's", entry.name),
            );
        }
        if last.is_some_and(|(s, _)| entry.first <= s) {
            checks[CheckId::Events].fail(
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
                    checks[CheckId::Events].fail(err.code(), err.to_string());
                    events_ok = false;
                    break 'chunks;
                }
            };
            if e.seq != expected {
                checks[CheckId::Events].fail(
                    "event-seq-gap",
                    format!(
                        "{}: seq {} where {expected} was expected (a chunk holds consecutive seqs)",
                        entry.name, e.seq
                    ),
                );
                events_ok = false;
            }
            if e.seq >= x.original_events {
                checks[CheckId::Events].fail(
                    "event-seq-beyond-log",
                    format!(
                        "seq {} is beyond the original log's {} events",
                        e.seq, x.original_events
                    ),
                );
                events_ok = false;
            }
            if last.is_some_and(|(_, t)| e.time < t) {
                checks[CheckId::Events].fail(
                    "event-time-backwards",
                    format!(
                        "seq {}: time {} is before the previous event's",
                        e.seq,
                        format_rfc3339(e.time)
                    ),
                );
                events_ok = false;
            }
            if !steps::check_event(&contract, &e, &mut checks, &mut sig_checked, true).0 {
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
        steps::feed_replay(
            &mut replay,
            chunk.raw,
            entry.events,
            &mut checks[CheckId::Replay],
        );
        if let Some(p) = opts.progress.as_deref_mut() {
            p(disclosed.len() as u64, m.log.events);
        }
    }
    if events_ok {
        if disclosed.len() as u64 != m.log.events {
            checks[CheckId::Events].fail(
                "event-count-mismatch",
                format!(
                    "the excerpt holds {} events; its manifest says {}",
                    disclosed.len(),
                    m.log.events
                ),
            );
        }
        if first_time != m.log.from || last.map(|l| l.1) != m.log.until {
            checks[CheckId::Events].fail(
                "manifest-span-mismatch",
                "the first/last event times differ from the manifest's from/until",
            );
        }
        checks[CheckId::Events].pass(format!(
            "{} events in {} range(s) of the original's {}, each range gap-free, times in order, all valid per the contract",
            disclosed.len(),
            runs.len(),
            x.original_events
        ));
        if sig_checked > 0 {
            checks[CheckId::EventSignatures].pass(format!(
                "{} valid",
                cfr_bundle_format::words::count(sig_checked, "event signature", "event signatures")
            ));
        } else {
            checks[CheckId::EventSignatures]
                .pass("no disclosed event carries or requires a signature");
        }
    } else {
        checks[CheckId::EventSignatures].skip("not checked: the events could not all be read");
    }

    // 4. The checkpoint, and every range proof against it.
    let cp = steps::read_checkpoint(
        &bundle,
        &contract,
        &keys,
        &opts.trust,
        &mut checks[CheckId::Merkle],
    );
    if let Some(cp) = &cp {
        report.bundle.root = Some(cp.root);
        let c = &mut checks[CheckId::Merkle];
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
                                "seqs {}-{}: {e}",
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
    steps::check_contract_signatures(&bundle, &keys, &mut checks[CheckId::ContractSignatures]);
    steps::check_analyzer(&bundle, &opts, &mut checks[CheckId::Analyzer]);

    // 8. Replay over the ranges; every chosen incident comes back.
    let sealed = small_member(&bundle, layout::EXCERPT_VERDICT);
    let original_verdict = small_member(&bundle, layout::VERDICT).map(|b| Verdict::from_cbor(&b));
    let mut facts = ExcerptFacts {
        original_events: x.original_events,
        ranges: runs.clone(),
        incidents: Vec::new(),
    };
    let c8 = &mut checks[CheckId::Replay];
    let replayed = match (replay, &sealed) {
        (_, Err((code, detail))) => {
            c8.fail(*code, detail.clone());
            None
        }
        (None, _) => None,
        (Some(r), _) if !events_ok => {
            steps::replay_incomplete(r, c8);
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
    if checks[CheckId::Archive].status() != Status::Fail {
        checks[CheckId::Archive].pass(format!(
            "strict ustar profile; {} members in canonical order, each with the size and SHA-256 the excerpt's manifest lists; every carried member is the original's",
            bundle.members().len()
        ));
    }
    report.signers = signers;
    report.checks = checks;
    report.excerpt = Some(facts);
    report
}
