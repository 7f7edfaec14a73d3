//! Verification: the pipeline of checks ([`CheckId`], listed in
//! [`crate::check`]), the same for a whole bundle and an excerpt, each
//! reported as pass, fail or not checked, each failure with a stable
//! [`Code`].

use crate::hex;
use cfr_bundle_format::bundle::{Bundle, OpenError};
use cfr_bundle_format::layout;
use cfr_bundle_format::seal::{file_digest, origin};
use cfr_bundle_format::words;
use cfr_merkle::RootBuilder;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

pub use crate::check::{Check, CheckId, Checks, Code, Failure, Outcome, Status, MAX_FAILURES};
pub use crate::report::{
    key_from_spec, tsa_cert_from_spec, BundleFacts, Established, Pin, Replay, Report,
    ReportVerdict, Require, Signer, Trust, TrustError, VerifyError, VerifyOptions,
};
use crate::steps::{
    check_analyzer, check_contract_signatures, check_event, check_manifest_signatures,
    check_members, check_timestamp, compare_member, contract_of, feed_replay, read_checkpoint,
    replay_incomplete, signers, start_replay, submission_keys,
};

/// Whether the file at `path` starts with a ustar header (the magic
/// `ustar\0` at byte 257 of its first block).
fn starts_like_ustar(path: &Path) -> bool {
    use std::io::Read as _;
    let mut block = [0u8; 263];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut block))
        .is_ok_and(|()| &block[257..263] == b"ustar\0")
}

/// Verifies the bundle at `path`.
///
/// For a log of more than 65,536 signed submissions it makes one
/// unlinked temporary file in the system's temporary directory
/// (`TMPDIR`): the check that no submission id is used twice keeps their
/// (party, id) hashes there
/// ([`cfr_bundle_format::submission::IDS_IN_MEMORY`]). If that file cannot
/// be made or written, check 5 fails and says so.
pub fn verify(path: &Path, opts: VerifyOptions<'_>) -> Result<Report, VerifyError> {
    let mut opts = opts;
    let mut checks = Checks::default();
    let mut facts = BundleFacts::default();
    let (sha, size) = file_digest(path).map_err(|source| VerifyError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    facts.sha256 = Some(sha);
    facts.size = size;
    let mut report = Report::new(facts);

    let bundle = match Bundle::open(path) {
        Ok(b) => b,
        Err(OpenError::Io { path, source }) => {
            return Err(VerifyError::Unreadable { path, source });
        }
        Err(e) => {
            // A file with no ustar header at its start is not a damaged
            // bundle but no bundle at all: say so first.
            let detail = if starts_like_ustar(path) {
                e.to_string()
            } else {
                format!(
                    "{} is not a cfr bundle (a bundle is a ustar archive, and this file does not start with a ustar header); {e}",
                    path.display()
                )
            };
            checks[CheckId::Archive].fail(e.code(), detail);
            checks.skip_after(
                CheckId::Archive,
                "not checked: the archive could not be read",
            );
            report.checks = checks;
            return Ok(report);
        }
    };
    let m = bundle.manifest.clone();
    report.bundle.contract_id = Some(m.contract_id.clone());
    report.bundle.events = Some(m.log.events);
    report.bundle.from = m.log.from;
    report.bundle.until = m.log.until;
    report.bundle.tool = Some(m.tool.clone());
    report.bundle.analyzer_sha256 = m.analyzer_sha256;
    if bundle.is_excerpt() {
        if let Some(r) = opts.receipts.first() {
            // An excerpt holds some ranges of a log: a receipt's events
            // outside them could not be checked, so none is.
            return Err(VerifyError::Receipt {
                name: r.name.clone(),
                reason: "receipts are held against a whole bundle; this is an excerpt".into(),
            });
        }
        return Ok(crate::excerpt_check::verify_excerpt(
            bundle, report, checks, opts,
        ));
    }

    // 1. Members against the manifest (chunks are hashed in the event pass).
    check_members(&bundle, &mut checks[CheckId::Archive]);

    // The contract: TOML as agreed, CBOR as compiled, and they must agree.
    let contract = contract_of(&bundle, &mut checks[CheckId::Archive]);
    if let Some(c) = &contract {
        report.bundle.contract_title = Some(c.title.clone());
    }
    let Some(contract) = contract else {
        checks.skip_after(
            CheckId::Archive,
            "not checked: the contract could not be read",
        );
        report.checks = checks;
        return Ok(report);
    };

    // A pin for a role this contract does not have can be neither met
    // nor broken: the verifier asked the wrong question.
    let unknown = opts.trust.unknown_roles(&contract);
    if !unknown.is_empty() {
        return Err(VerifyError::UnknownPin {
            roles: unknown,
            contract: contract.id.clone(),
        });
    }

    // Signers and pinning.
    let (signers, keys) = signers(&contract, &opts.trust, &mut checks);
    let recorder_key = keys.recorder;
    // Receipts are the recorder's statements: each must verify under the
    // recorder's key (the pinned one, when pinned) before it is held
    // against the log; one that does not proves nothing (usage error).
    let mut receipts = if opts.receipts.is_empty() {
        None
    } else {
        let key = opts.trust.recorder.as_ref().unwrap_or(&recorder_key);
        Some(crate::receipts::Receipts::new(
            &opts.receipts,
            &contract.id,
            &key.0,
        )?)
    };

    // Signed submissions (check 5): each entry is given to the walker
    // just before the event it starts at, read a member at a time as the
    // walk gets there, so verify holds a few entries, not every one.
    let (mut coverage, mut submissions) = match bundle.submission_stream() {
        // Signatures on every core: the replay has its own thread, and
        // the pass over the events leaves the rest idle.
        Ok(stream) => (
            Some(
                cfr_bundle_format::submission::Coverage::new(
                    &contract,
                    submission_keys(&contract, &opts.trust, &keys),
                    m.log.events,
                )
                .with_checkers(std::thread::available_parallelism().map_or(1, |n| n.get())),
            ),
            Some(stream.peekable()),
        ),
        Err((code, detail)) => {
            checks[CheckId::EventSignatures].fail(code, detail);
            (None, None)
        }
    };

    // 2. Manifest signature and co-signatures.
    check_manifest_signatures(
        &bundle,
        &bundle.manifest_bytes,
        layout::MANIFEST_SIG,
        layout::manifest_cosig,
        &keys,
        &mut checks[CheckId::ManifestSignature],
    );
    report.timestamp = check_timestamp(
        &bundle,
        &bundle.manifest_bytes,
        &opts.trust,
        &mut checks[CheckId::ManifestSignature],
        &mut report.gaps,
    );

    // 3-5 and the replay feed: one pass over the events.
    let mut root = RootBuilder::new();
    let earlier_size = opts.earlier.as_ref().map(|e| e.checkpoint().size);
    let mut earlier_root: Option<[u8; 32]> = (earlier_size == Some(0)).then(cfr_merkle::empty_root);
    let mut next_seq = 0u64;
    let mut last_time: Option<i64> = None;
    let mut first_time: Option<i64> = None;
    let mut sig_checked = 0u64;
    let mut events_ok = true;
    // The sealed verdict is not read now: the replay's verdict is compared
    // with it at the end, streamed from the archive, so the two are never
    // both in memory.
    let sealed_verdict = match bundle.member(layout::VERDICT) {
        None => None,
        Some(m) if m.size() > bundle.small_member_max(layout::VERDICT) => {
            // There is one, but it is larger than any verdict of this log:
            // that is a failure, not a bundle without a verdict.
            checks[CheckId::Replay].fail(
                "io",
                format!(
                    "{0}: {0} is {1} bytes, more than the {2} allowed",
                    layout::VERDICT,
                    m.size(),
                    bundle.small_member_max(layout::VERDICT)
                ),
            );
            None
        }
        Some(m) => Some(m),
    };
    // The replay runs on its own thread, fed the decompressed chunks as
    // the main pass reads them: on two cores, checking and judging overlap.
    let mut replay = if sealed_verdict.is_some() {
        start_replay(
            &bundle,
            &contract,
            &opts.replay,
            &mut checks[CheckId::Replay],
        )
    } else {
        checks[CheckId::Replay].skip("not checked: the bundle carries no sealed verdict");
        None
    };
    let listed: BTreeMap<&str, [u8; 32]> = m
        .members
        .iter()
        .map(|e| (e.name.as_str(), e.sha256))
        .collect();
    let total = m.log.events;
    // Chunk n+1 is read, hashed and decompressed on another thread while
    // chunk n is decoded and checked here (the channel holds one chunk).
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (reader, entries) = (&bundle, &m.log.chunks);
        scope.spawn(move || {
            for entry in entries {
                let chunk = reader.chunk(entry);
                let failed = chunk.is_err();
                if tx.send(chunk).is_err() || failed {
                    return;
                }
            }
        });
        // Every event is decoded into this one, reused (no allocation per
        // event).
        let mut decoded = cfr_model::EventReader::new();
        'chunks: for (entry, read) in m.log.chunks.iter().zip(rx) {
            let chunk = match read {
                Ok(ch) => ch,
                Err(e) => {
                    checks[CheckId::Events].fail(e.code(), e.to_string());
                    if let Ok(raw) = bundle
                        .read_member_max(&entry.name, cfr_bundle_format::seal::MAX_CHUNK_BYTES * 2)
                    {
                        if let (Some(raw), Some(want)) = (raw, listed.get(entry.name.as_str())) {
                            let d: [u8; 32] = Sha256::digest(&raw).into();
                            if &d != want {
                                checks[CheckId::Archive].fail(
                                    "member-digest-mismatch",
                                    format!(
                                        "{}: SHA-256 {} but the manifest says {}",
                                        entry.name,
                                        hex(&d),
                                        hex(want)
                                    ),
                                );
                            }
                        }
                    }
                    events_ok = false;
                    break 'chunks;
                }
            };
            if let Some(want) = listed.get(entry.name.as_str()) {
                if *want != chunk.sha256 {
                    checks[CheckId::Archive].fail(
                        "member-digest-mismatch",
                        format!(
                            "{}: SHA-256 {} but the manifest says {}",
                            entry.name,
                            hex(&chunk.sha256),
                            hex(want)
                        ),
                    );
                }
            }
            if entry.first != next_seq {
                checks[CheckId::Events].fail(
                    "event-seq-gap",
                    format!(
                        "{} starts at seq {}, expected {next_seq}",
                        entry.name, entry.first
                    ),
                );
            }
            let mut n_in_chunk = 0u64;
            let mut events = chunk.reader();
            while let Some(r) = events.next(&mut decoded) {
                let (e, bytes) = match r {
                    Ok(x) => x,
                    Err(err) => {
                        checks[CheckId::Events].fail(err.code(), err.to_string());
                        events_ok = false;
                        break 'chunks;
                    }
                };
                n_in_chunk += 1;
                if e.seq != next_seq {
                    let code = if e.seq < next_seq {
                        "event-seq-duplicate"
                    } else {
                        "event-seq-gap"
                    };
                    checks[CheckId::Events].fail(
                        code,
                        format!(
                            "{}: seq {} where {next_seq} was expected",
                            entry.name, e.seq
                        ),
                    );
                    events_ok = false;
                }
                if let Some(t) = last_time {
                    if e.time < t {
                        checks[CheckId::Events].fail(
                            "event-time-backwards",
                            format!(
                                "seq {}: time {} is before the previous event's",
                                e.seq,
                                cfr_model::time::format_rfc3339(e.time)
                            ),
                        );
                        events_ok = false;
                    }
                }
                let (valid, own_sig) = check_event(
                    &contract,
                    e,
                    &mut checks,
                    &mut sig_checked,
                    coverage.is_none(),
                );
                if !valid {
                    events_ok = false;
                }
                if let Some(c) = &mut coverage {
                    add_submissions(
                        c,
                        &mut submissions,
                        e.seq,
                        &mut checks[CheckId::EventSignatures],
                    );
                    c.push(e, own_sig);
                }
                let leaf = cfr_merkle::leaf_hash(bytes);
                root.push(leaf);
                if Some(root.size()) == earlier_size {
                    earlier_root = Some(root.root());
                }
                if let Some(r) = &mut receipts {
                    r.leaf(e.seq, &leaf);
                    r.root(root.size(), || root.root());
                }
                first_time.get_or_insert(e.time);
                last_time = Some(e.time);
                next_seq = e.seq.saturating_add(1);
            }
            let _ = n_in_chunk;
            feed_replay(
                &mut replay,
                chunk.raw,
                entry.events,
                &mut checks[CheckId::Replay],
            );
            if let Some(p) = opts.progress.as_deref_mut() {
                p(next_seq, total);
            }
        }
    });
    if events_ok {
        if next_seq != m.log.events {
            checks[CheckId::Events].fail(
                "event-count-mismatch",
                format!(
                    "the log holds {next_seq} events; the manifest says {}",
                    m.log.events
                ),
            );
        }
        if first_time != m.log.from || last_time != m.log.until {
            checks[CheckId::Events].fail(
                "manifest-span-mismatch",
                "the first/last event times differ from the manifest's from/until",
            );
        }
        checks[CheckId::Events].pass(format!(
            "{} in {}, {} without gaps, times in order, all valid per the contract",
            words::count(next_seq, "event", "events"),
            words::count(m.log.chunks.len() as u64, "chunk", "chunks"),
            words::seqs(0, next_seq.saturating_sub(1))
        ));
        if sig_checked > 0 {
            checks[CheckId::EventSignatures].pass(format!(
                "{} valid",
                words::count(sig_checked, "event signature", "event signatures")
            ));
        }
        if let Some(mut c) = coverage.take() {
            // The entries past the last event (each a finding).
            add_submissions(
                &mut c,
                &mut submissions,
                u64::MAX,
                &mut checks[CheckId::EventSignatures],
            );
            let must = contract.evidence.attributed || opts.trust.require.events_attributed;
            let why = if contract.evidence.attributed {
                "the contract requires every event attributed ([evidence] attributed = true)"
            } else {
                "the trust policy requires every event attributed"
            };
            let (tallies, findings, count, entries) = c.finish();
            let check = &mut checks[CheckId::EventSignatures];
            for f in &findings {
                use cfr_bundle_format::submission::Finding as F;
                let code = match f {
                    F::Invalid { .. } => Code::SubmissionInvalid,
                    F::SignatureInvalid { .. } => Code::SubmissionSignatureInvalid,
                    F::ActorMismatch { .. } => Code::SubmissionActorMismatch,
                    F::SignedKindUncovered { .. } => Code::EventSignatureMissing,
                    _ => Code::SubmissionInvalid,
                };
                check.fail(code, cfr_bundle_format::submission::describe(f));
            }
            if count > findings.len() as u64 {
                check.note(format!(
                    "{} more submission findings not listed",
                    count - findings.len() as u64
                ));
            }
            if entries > 0 {
                check.pass(format!(
                    "{} recomputed from their events",
                    words::count(entries, "signed submission", "signed submissions")
                ));
            }
            for (party, t) in &tallies {
                let line = format!(
                    "{party}: {} of {} signed",
                    words::thousands(t.attributed),
                    words::count_thousands(t.events, "event", "events")
                );
                let missing = t.events - t.attributed;
                if missing > 0 {
                    let gap = format!(
                        "{} {party} {} not attributed (first at seq {})",
                        words::thousands(missing),
                        if missing == 1 { "event" } else { "events" },
                        t.first_unattributed.unwrap_or_default()
                    );
                    if must {
                        check.fail(Code::EventsNotAttributed, format!("{gap}: {why}"));
                    } else {
                        check.note(line);
                        report.gaps.push(gap);
                    }
                } else {
                    check.pass(line);
                }
            }
            if tallies.is_empty() {
                check.pass("no events of the provider, the user or an attestor");
            }
            report.attribution = tallies
                .into_iter()
                .map(|(k, t)| (k, (t.events, t.attributed)))
                .collect();
        } else if sig_checked == 0 {
            checks[CheckId::EventSignatures].skip(
                "not checked: the submissions could not be read, and no event carries a signature",
            );
        }
    } else {
        checks[CheckId::EventSignatures].skip("not checked: the events could not all be read");
    }

    // 4. Merkle root and checkpoint.
    {
        let c = &mut checks[CheckId::Merkle];
        if let Some(cp) = read_checkpoint(&bundle, &contract, &keys, &opts.trust, c) {
            report.bundle.root = Some(cp.root);
            if cp.root != m.log.root {
                c.fail(
                    "manifest-root-mismatch",
                    format!(
                        "the manifest's root {} differs from the checkpoint's {}",
                        hex(&m.log.root),
                        hex(&cp.root)
                    ),
                );
            }
            if events_ok {
                if cp.size != next_seq {
                    c.fail(
                        "checkpoint-size-mismatch",
                        format!(
                            "checkpoint size {} but the log holds {next_seq} events",
                            cp.size
                        ),
                    );
                }
                let computed = root.root();
                if computed != cp.root {
                    c.fail(
                        "checkpoint-root-mismatch",
                        format!(
                            "Merkle root over the events is {}; the checkpoint says {}",
                            hex(&computed),
                            hex(&cp.root)
                        ),
                    );
                } else {
                    c.pass(format!("root {} over {next_seq} events", hex(&computed)));
                }
            } else {
                c.fail(
                    "checkpoint-root-unproven",
                    "the events could not all be read, so the root cannot be recomputed",
                );
            }
        }
    }

    if let Some(e) = &opts.earlier {
        let c = &mut checks[CheckId::Merkle];
        let want_origin = origin(&contract.id);
        let cp = e.checkpoint();
        match e.verify(&want_origin, &recorder_key.0) {
            Err(err) => c.fail(
                "earlier-checkpoint-invalid",
                format!("the earlier checkpoint is not signed by this recorder for {want_origin:?}: {err}"),
            ),
            Ok(_) if !events_ok => c.fail(
                "earlier-checkpoint-unproven",
                "the events could not all be read, so consistency cannot be shown",
            ),
            Ok(_) => match earlier_root {
                Some(r) if r == cp.root => c.pass(format!(
                    "extends the earlier checkpoint of size {} (same root {} at that size)",
                    cp.size,
                    hex(&r)
                )),
                Some(r) => c.fail(
                    "earlier-checkpoint-inconsistent",
                    format!(
                        "at size {} this log's root is {}, but the earlier checkpoint says {}: the log was rewritten",
                        cp.size,
                        hex(&r),
                        hex(&cp.root)
                    ),
                ),
                None => c.fail(
                    "earlier-checkpoint-inconsistent",
                    format!(
                        "the earlier checkpoint covers {} events; this log holds only {next_seq}",
                        cp.size
                    ),
                ),
            },
        }
    }

    if let Some(r) = receipts.take() {
        let c = &mut checks[CheckId::Merkle];
        if events_ok {
            let (findings, summary) = r.finish(next_seq);
            for f in &findings {
                c.fail(Code::ReceiptContradicted, f.line());
            }
            if findings.is_empty() {
                c.pass(format!(
                    "{summary}: each at its seq with its leaf hash, each checkpoint consistent with this tree"
                ));
            } else {
                c.note(format!(
                    "{summary}: {} contradicted by this bundle",
                    words::count(findings.len() as u64, "receipt is", "receipts are")
                ));
            }
            report.recorder = findings;
        } else {
            c.fail(
                "receipts-unproven",
                "the events could not all be read, so the receipts cannot be held against them",
            );
        }
    }

    // 6. Contract signatures.
    let unsigned =
        check_contract_signatures(&bundle, &keys, &mut checks[CheckId::ContractSignatures]);
    if !unsigned.is_empty() {
        let gap = format!("contract not signed by the {}", unsigned.join(" and the "));
        if opts.trust.require.contract_agreed {
            checks[CheckId::ContractSignatures].fail(
                Code::ContractNotAgreed,
                format!("{gap}: the trust policy requires both parties' signatures"),
            );
        } else {
            report.gaps.push(gap);
        }
    }

    // 7. Analyzer digest and certificate.
    check_analyzer(&bundle, &opts, &mut checks[CheckId::Analyzer]);

    // 8. Replay.
    if let (Some(r), Some(sealed)) = (replay, &sealed_verdict) {
        if !events_ok {
            replay_incomplete(r, &mut checks[CheckId::Replay]);
        } else {
            match r.finish() {
                Ok(bytes) => {
                    match compare_member(&bundle, sealed, &bytes) {
                        Err(e) => {
                            checks[CheckId::Replay].fail("io", format!("{}: {e}", layout::VERDICT))
                        }
                        Ok((true, _)) => match cfr_rules::Verdict::from_cbor(&bytes) {
                            Ok(v) => {
                                report.verdict = Some(v);
                                checks[CheckId::Replay].pass("the replayed verdict equals verdict/verdict.cbor byte for byte");
                            }
                            Err(e) => checks[CheckId::Replay]
                                .fail("verdict-invalid", format!("verdict/verdict.cbor: {e}")),
                        },
                        Ok((false, digest)) => {
                            checks[CheckId::Replay].fail("verdict-mismatch", format!("the replayed verdict ({} bytes, SHA-256 {}) differs from verdict/verdict.cbor ({} bytes, SHA-256 {})", bytes.len(), hex(&Sha256::digest(&bytes)), sealed.size(), hex(&digest)));
                        }
                    }
                }
                Err((code, detail)) => checks[CheckId::Replay].fail(code, detail),
            }
        }
    }

    if checks[CheckId::Archive].status() != Status::Fail {
        checks[CheckId::Archive].pass(format!(
            "strict ustar profile; {} members in canonical order, each with the size and SHA-256 the manifest lists",
            bundle.members().len()
        ));
    }
    let unpinned: Vec<&str> = signers
        .iter()
        .filter(|s| s.pin == Pin::NotPinned)
        .map(|s| s.role.as_str())
        .collect();
    if !unpinned.is_empty() {
        report
            .gaps
            .insert(0, format!("keys not pinned: {}", unpinned.join(", ")));
    }
    if opts.trust.regulator.is_none() && bundle.member(layout::ANALYZER_CERT).is_some() {
        report
            .gaps
            .push("analyzer certificate not checked: no regulator key pinned".into());
    }
    report.signers = signers;
    report.checks = checks;
    Ok(report)
}

/// Gives the walker every submission that starts at or before `seq` (the
/// event about to be pushed; `u64::MAX` after the last), taking entries
/// from the bundle's members as they are reached. A member that cannot be
/// read fails check 5, naming it, and no entry after it is given: the
/// events they would cover stay unattributed.
fn add_submissions(
    walker: &mut cfr_bundle_format::submission::Coverage,
    stream: &mut Option<std::iter::Peekable<cfr_bundle_format::bundle::Submissions<'_>>>,
    seq: u64,
    check: &mut crate::check::Check,
) {
    let Some(entries) = stream else {
        return;
    };
    while let Some(next) = entries.next_if(|r| r.as_ref().map_or(true, |e| e.first <= seq)) {
        match next {
            Ok(e) => walker.add(e),
            Err((code, detail)) => {
                check.fail(code, detail);
                *stream = None;
                return;
            }
        }
    }
    if entries.peek().is_none() {
        *stream = None;
    }
}
