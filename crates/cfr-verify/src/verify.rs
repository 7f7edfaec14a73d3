//! Verification: the pipeline of checks ([`CheckId`], listed in
//! [`crate::check`]), the same for a whole bundle and an excerpt, each
//! reported as pass, fail or not checked, each failure with a stable
//! [`Code`].

use crate::hex;
use cfr_bundle_format::bundle::{Bundle, OpenError};
use cfr_bundle_format::cose;
use cfr_bundle_format::import::check_signature;
use cfr_bundle_format::layout;
use cfr_bundle_format::seal::{file_digest, origin};
use cfr_contract::Contract;
use cfr_merkle::{RootBuilder, SignedCheckpoint};
use cfr_model::keys::{KeyError, PublicKey};
use cfr_model::Digest;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

pub use crate::check::{Check, CheckId, Checks, Code, Failure, Outcome, Status, MAX_FAILURES};

/// Whether a signer's key was pinned by the verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// No key was given for this role: the bundle vouches for itself.
    NotPinned,
    /// The pinned key equals the bundle's.
    Pinned,
    /// The pinned key differs from the bundle's.
    Mismatch,
}

/// A party whose key the bundle relies on.
#[derive(Clone, Debug)]
pub struct Signer {
    /// `recorder`, `provider`, `user`, an attestor id, or `regulator`.
    pub role: String,
    /// The party's name in the contract.
    pub name: String,
    /// `SHA256:...` fingerprint of the key the bundle names.
    pub fingerprint: String,
    /// Pinning state.
    pub pin: Pin,
}

/// Keys the verifier trusts (pins), from `--trust trust.toml` or flags.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The recorder's key.
    pub recorder: Option<PublicKey>,
    /// The provider's key.
    pub provider: Option<PublicKey>,
    /// The user's key.
    pub user: Option<PublicKey>,
    /// A regulator's key, for analyzer certificates.
    pub regulator: Option<PublicKey>,
    /// Attestors' keys by id.
    pub attestors: BTreeMap<String, PublicKey>,
}

/// A bad trust file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not TOML, or an unknown field.
    #[error("trust file: {0}")]
    Syntax(String),
    /// A key that does not parse.
    #[error("trust file, {field}: {source}")]
    Key {
        /// The field.
        field: String,
        /// The key error.
        source: KeyError,
    },
}

impl Trust {
    /// Parses a trust file:
    ///
    /// ```toml
    /// recorder = "ed25519:..."
    /// provider = "ed25519:..."
    /// user = "ed25519:..."
    /// regulator = "ed25519:..."
    /// [attestors]
    /// grid = "ed25519:..."
    /// ```
    pub fn from_toml(text: &str) -> Result<Trust, TrustError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            recorder: Option<String>,
            provider: Option<String>,
            user: Option<String>,
            regulator: Option<String>,
            #[serde(default)]
            attestors: BTreeMap<String, String>,
        }
        let raw: Raw = toml::from_str(text).map_err(|e| TrustError::Syntax(e.to_string()))?;
        let key = |field: &str, v: Option<String>| -> Result<Option<PublicKey>, TrustError> {
            v.map(|s| {
                PublicKey::parse(&s).map_err(|source| TrustError::Key {
                    field: field.to_owned(),
                    source,
                })
            })
            .transpose()
        };
        let mut attestors = BTreeMap::new();
        for (id, k) in raw.attestors {
            let field = format!("attestors.{id}");
            attestors.insert(id, key(&field, Some(k))?.expect("Some in, Some out"));
        }
        Ok(Trust {
            recorder: key("recorder", raw.recorder)?,
            provider: key("provider", raw.provider)?,
            user: key("user", raw.user)?,
            regulator: key("regulator", raw.regulator)?,
            attestors,
        })
    }
}

/// Which program replays the verdict (check 8).
#[derive(Clone, Debug, Default)]
pub enum Replay {
    /// The analyzer inside the bundle (the default).
    #[default]
    Bundled,
    /// Another module, as a cross-check.
    Module(Vec<u8>),
    /// The rule engine built into this release.
    Native,
}

/// How to verify.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    /// Pinned keys.
    pub trust: Trust,
    /// Who replays the verdict.
    pub replay: Replay,
    /// The SHA-256 of the analyzer this release ships, to say whether the
    /// bundle's analyzer is it.
    pub shipped_analyzer: Option<[u8; 32]>,
    /// Told (events done, events total) as the log is read.
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
    /// A checkpoint signed earlier by the same recorder (for instance the
    /// one in a bundle sealed before this one): check 4 then also proves
    /// that this log extends it (same root at its size).
    pub earlier: Option<SignedCheckpoint>,
}

/// Facts about the bundle, as read (and, where checks pass, verified).
#[derive(Clone, Debug, Default)]
pub struct BundleFacts {
    /// SHA-256 of the whole file.
    pub sha256: Option<Digest>,
    /// Size of the file.
    pub size: u64,
    /// Contract id.
    pub contract_id: Option<String>,
    /// Contract title.
    pub contract_title: Option<String>,
    /// Number of events per the manifest.
    pub events: Option<u64>,
    /// First event time.
    pub from: Option<i64>,
    /// Last event time.
    pub until: Option<i64>,
    /// Merkle root per the checkpoint.
    pub root: Option<[u8; 32]>,
    /// The tool that sealed it.
    pub tool: Option<String>,
    /// SHA-256 of the analyzer, if any.
    pub analyzer_sha256: Option<[u8; 32]>,
}

/// The result of verifying a bundle.
#[derive(Clone, Debug)]
pub struct Report {
    /// What the bundle says about itself.
    pub bundle: BundleFacts,
    /// The signers and whether their keys were pinned.
    pub signers: Vec<Signer>,
    /// The checks: what was found. Read them with [`Report::checks`].
    pub(crate) checks: Checks,
    /// The verdict, when it was replayed and matched: read it with
    /// [`Report::verdict`], which says whether verification passed.
    /// `None` for an excerpt, whose verdict over a few ranges says nothing
    /// of the whole log: see `excerpt`.
    pub(crate) verdict: Option<cfr_rules::Verdict>,
    /// Set when the file is an excerpt: its ranges and the incidents it
    /// proves.
    pub excerpt: Option<crate::excerpt::ExcerptFacts>,
}

/// The verdict of a [`Report`], with what verification says of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReportVerdict<'a> {
    /// Every check passed or was not checked, and the replayed verdict
    /// equals the sealed one: the bundle proves this verdict (as far as
    /// the pinned keys go).
    Proven(&'a cfr_rules::Verdict),
    /// The replay reproduced this verdict, but another check failed: the
    /// bundle does not prove it.
    Unproven(&'a cfr_rules::Verdict),
    /// No verdict was replayed (none sealed, an excerpt, or the replay
    /// failed).
    Absent,
}

impl<'a> ReportVerdict<'a> {
    /// The verdict when verification passed.
    pub fn proven(self) -> Option<&'a cfr_rules::Verdict> {
        match self {
            ReportVerdict::Proven(v) => Some(v),
            _ => None,
        }
    }

    /// The replayed verdict, proven or not: for displays that say which
    /// (the text and HTML reports print the verification status first).
    pub fn replayed(self) -> Option<&'a cfr_rules::Verdict> {
        match self {
            ReportVerdict::Proven(v) | ReportVerdict::Unproven(v) => Some(v),
            ReportVerdict::Absent => None,
        }
    }
}

impl Report {
    /// A report with nothing checked yet (every check not checked).
    pub fn new(bundle: BundleFacts) -> Report {
        Report {
            bundle,
            signers: Vec::new(),
            checks: Checks::default(),
            verdict: None,
            excerpt: None,
        }
    }

    /// A report from its parts, for tools that render reports they did
    /// not compute (tests, stored reports): [`Report::verdict`] still
    /// derives whether the verdict is proven from `checks`.
    pub fn from_parts(
        bundle: BundleFacts,
        signers: Vec<Signer>,
        checks: Checks,
        verdict: Option<cfr_rules::Verdict>,
        excerpt: Option<crate::excerpt::ExcerptFacts>,
    ) -> Report {
        Report {
            bundle,
            signers,
            checks,
            verdict,
            excerpt,
        }
    }

    /// The checks, in order (index by [`CheckId`]).
    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// One check.
    pub fn check(&self, id: CheckId) -> &Check {
        &self.checks[id]
    }

    /// True when no check failed.
    pub fn verified(&self) -> bool {
        self.checks.passed()
    }

    /// The verdict, with whether verification proves it.
    pub fn verdict(&self) -> ReportVerdict<'_> {
        match &self.verdict {
            Some(v) if self.verified() && self.checks[CheckId::Replay].status() == Status::Pass => {
                ReportVerdict::Proven(v)
            }
            Some(v) => ReportVerdict::Unproven(v),
            None => ReportVerdict::Absent,
        }
    }

    /// True when at least one signer's key was not pinned.
    pub fn unpinned(&self) -> bool {
        self.signers.iter().any(|s| s.pin == Pin::NotPinned)
    }
}

/// Why verification could not run at all (exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Verifies the bundle at `path`.
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
            checks[CheckId::Archive].fail(e.code(), e.to_string());
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
        return Ok(crate::excerpt::verify_excerpt(bundle, report, checks, opts));
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

    // Signers and pinning.
    let (signers, keys) = signers(&contract, &opts.trust, &mut checks);
    let recorder_key = keys.recorder;

    // 2. Manifest signature and co-signatures.
    check_manifest_signatures(
        &bundle,
        &bundle.manifest_bytes,
        layout::MANIFEST_SIG,
        layout::manifest_cosig,
        &keys,
        &mut checks[CheckId::ManifestSignature],
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
    let sealed_verdict = match small_member(&bundle, layout::VERDICT) {
        Ok(v) => Some(v),
        Err(("member-missing", _)) => None,
        Err((code, detail)) => {
            // There is one, but it cannot be read (too large, I/O): that is
            // a failure, not a bundle without a verdict.
            checks[CheckId::Replay].fail(code, detail);
            None
        }
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
        .map(crate::sandbox::Worker::spawn)
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
    'chunks: for entry in &m.log.chunks {
        let chunk = match bundle.chunk(entry) {
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
        for r in chunk.events() {
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
            if !check_event(&contract, &e, &mut checks, &mut sig_checked) {
                events_ok = false;
            }
            root.push(cfr_merkle::leaf_hash(bytes));
            if Some(root.size()) == earlier_size {
                earlier_root = Some(root.root());
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
        checks[CheckId::Events].pass(format!("{next_seq} events in {} chunks, seq 0..{} without gaps, times in order, all valid per the contract", m.log.chunks.len(), next_seq.saturating_sub(1)));
        if sig_checked > 0 {
            checks[CheckId::EventSignatures].pass(format!("{sig_checked} event signatures valid"));
        } else {
            checks[CheckId::EventSignatures].pass("no event carries or requires a signature");
        }
    } else {
        checks[CheckId::EventSignatures].skip("not checked: the events could not all be read");
    }

    // 4. Merkle root and checkpoint.
    {
        let c = &mut checks[CheckId::Merkle];
        if let Some(cp) = read_checkpoint(&bundle, &contract, &keys, c) {
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

    // 6. Contract signatures.
    check_contract_signatures(&bundle, &keys, &mut checks[CheckId::ContractSignatures]);

    // 7. Analyzer digest and certificate.
    check_analyzer(&bundle, &opts, &mut checks[CheckId::Analyzer]);

    // 8. Replay.
    if let (Some(r), Some(sealed)) = (replay, &sealed_verdict) {
        if !events_ok {
            checks[CheckId::Replay].fail(
                "replay-incomplete",
                "the events could not all be read, so the verdict cannot be replayed",
            );
        } else {
            match r.finish() {
                Ok(bytes) => {
                    if &bytes == sealed {
                        match cfr_rules::Verdict::from_cbor(&bytes) {
                            Ok(v) => {
                                report.verdict = Some(v);
                                checks[CheckId::Replay].pass("the replayed verdict equals verdict/verdict.cbor byte for byte");
                            }
                            Err(e) => checks[CheckId::Replay]
                                .fail("verdict-invalid", format!("verdict/verdict.cbor: {e}")),
                        }
                    } else {
                        checks[CheckId::Replay].fail("verdict-mismatch", format!("the replayed verdict ({} bytes, SHA-256 {}) differs from verdict/verdict.cbor ({} bytes, SHA-256 {})", bytes.len(), hex(&Sha256::digest(&bytes)), sealed.len(), hex(&Sha256::digest(sealed))));
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
    report.signers = signers;
    report.checks = checks;
    Ok(report)
}

/// Checks 3 and 5 for one event: valid per the contract (false when not),
/// signed where the contract requires it, and every signature valid.
pub(crate) fn check_event(
    contract: &Contract,
    e: &cfr_model::Event,
    checks: &mut Checks,
    sig_checked: &mut u64,
) -> bool {
    let mut ok = true;
    if let Err(err) = contract.check_event(e) {
        if matches!(err, cfr_contract::EventError::Unsigned { .. }) {
            checks[CheckId::EventSignatures]
                .fail("event-signature-missing", format!("seq {}: {err}", e.seq));
        } else {
            checks[CheckId::Events].fail("event-invalid", format!("seq {}: {err}", e.seq));
            ok = false;
        }
    }
    if e.sig.is_some() {
        *sig_checked += 1;
        if let Err(why) = check_signature(contract, e) {
            checks[CheckId::EventSignatures].fail(
                "event-signature-invalid",
                format!("seq {} ({} by {}): {why}", e.seq, e.kind, e.actor),
            );
        }
    }
    ok
}

/// Check 4's first half: the checkpoint parses, names this contract's log
/// and is signed by the recorder. Returns it when it parses.
pub(crate) fn read_checkpoint(
    bundle: &Bundle,
    contract: &Contract,
    keys: &Keys,
    c: &mut Check,
) -> Option<cfr_merkle::Checkpoint> {
    let note = match bundle.read_small(layout::CHECKPOINT) {
        Ok(Some(note)) => note,
        Ok(None) => {
            c.fail("member-missing", "log/checkpoint is missing");
            return None;
        }
        Err(e) => {
            c.fail("io", format!("log/checkpoint: {e}"));
            return None;
        }
    };
    let sc = match SignedCheckpoint::parse(&note) {
        Ok(sc) => sc,
        Err(e) => {
            c.fail("checkpoint-invalid", format!("log/checkpoint: {e}"));
            return None;
        }
    };
    let cp = sc.checkpoint().clone();
    let want_origin = origin(&contract.id);
    if cp.origin != want_origin {
        c.fail(
            "checkpoint-origin-mismatch",
            format!(
                "checkpoint origin {:?}, expected {want_origin:?}",
                cp.origin
            ),
        );
    }
    match sc.verify(&want_origin, &keys.recorder.0) {
        Ok(_) => c.pass(format!(
            "checkpoint signed by the recorder ({})",
            keys.recorder.fingerprint()
        )),
        Err(e) => c.fail(
            "checkpoint-signature-invalid",
            format!("log/checkpoint: {e}"),
        ),
    }
    Some(cp)
}

/// A small member's bytes, or the failure to report: `member-missing`, or
/// `io` naming why it could not be read (too large, an I/O error).
pub(crate) fn small_member(bundle: &Bundle, name: &str) -> Result<Vec<u8>, (&'static str, String)> {
    match bundle.read_small(name) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(("member-missing", format!("{name} is missing"))),
        Err(e) => Err(("io", format!("{name}: {e}"))),
    }
}

/// Check 1 (without the pass note): every member against the manifest's
/// list, by name, order, size and SHA-256 (chunks are hashed with the events).
pub(crate) fn check_members(bundle: &Bundle, c: &mut Check) {
    let m = &bundle.manifest;
    let listed: BTreeMap<&str, &cfr_bundle_format::manifest::MemberEntry> =
        m.members.iter().map(|e| (e.name.as_str(), e)).collect();
    let in_archive: Vec<&str> = bundle
        .members()
        .iter()
        .map(|x| x.name())
        .filter(|n| *n != layout::MANIFEST && !n.starts_with("manifest."))
        .collect();
    let listed_names: Vec<&str> = m.members.iter().map(|e| e.name.as_str()).collect();
    for n in &in_archive {
        if !listed.contains_key(n) {
            c.fail(
                "member-unexpected",
                format!("{n} is in the archive but not in the manifest"),
            );
        }
    }
    for n in &listed_names {
        if !in_archive.contains(n) {
            c.fail(
                "member-missing",
                format!("{n} is in the manifest but not in the archive"),
            );
        }
    }
    if in_archive
        .iter()
        .filter(|n| listed.contains_key(*n))
        .collect::<Vec<_>>()
        != listed_names
            .iter()
            .filter(|n| in_archive.contains(n))
            .collect::<Vec<_>>()
    {
        c.fail(
            "member-order",
            "the manifest lists the members in another order than the archive",
        );
    }
    for tm in bundle.members() {
        let Some(e) = listed.get(tm.name()) else {
            continue;
        };
        if tm.size() != e.size {
            c.fail(
                "member-size-mismatch",
                format!(
                    "{}: {} bytes; the manifest says {}",
                    tm.name(),
                    tm.size(),
                    e.size
                ),
            );
            continue;
        }
        if layout::chunk_index(tm.name()).is_some() {
            continue; // hashed while reading the events
        }
        let mut h = Sha256::new();
        let mut sink = HashSink(&mut h);
        if let Err(err) = bundle.copy_member(tm, &mut sink) {
            c.fail("io", format!("{}: {err}", tm.name()));
            continue;
        }
        let d: [u8; 32] = h.finalize().into();
        if d != e.sha256 {
            c.fail(
                "member-digest-mismatch",
                format!(
                    "{}: SHA-256 {} but the manifest says {}",
                    tm.name(),
                    hex(&d),
                    hex(&e.sha256)
                ),
            );
        }
    }
    if m.log.chunks.len()
        != bundle
            .members()
            .iter()
            .filter(|x| layout::chunk_index(x.name()).is_some())
            .count()
    {
        c.fail(
            "member-missing",
            "the manifest's chunk list does not match the archive's event chunks",
        );
    }
    for (i, ch) in m.log.chunks.iter().enumerate() {
        if ch.name != layout::chunk_name(i as u32) {
            c.fail(
                "manifest-invalid",
                format!(
                    "chunk #{i} is named {:?}, expected {:?}",
                    ch.name,
                    layout::chunk_name(i as u32)
                ),
            );
        }
    }
}

/// The bundle's contract, checked against its compiled form and the
/// manifest's contract id and digest; failures go to check 1.
pub(crate) fn contract_of(bundle: &Bundle, c: &mut Check) -> Option<Contract> {
    let contract = match load_contract(bundle) {
        Ok(contract) => contract,
        Err((code, detail)) => {
            c.fail(code, detail);
            return None;
        }
    };
    let digest: [u8; 32] = Sha256::digest(contract.to_cbor()).into();
    if digest != bundle.manifest.contract_sha256 {
        c.fail(
            Code::ContractDigestMismatch,
            format!(
                "the manifest's contract digest {} is not the SHA-256 of contract/contract.cbor ({})",
                hex(&bundle.manifest.contract_sha256),
                hex(&digest)
            ),
        );
    }
    if contract.id != bundle.manifest.contract_id {
        c.fail(
            "contract-mismatch",
            format!(
                "the manifest names contract {:?}; the bundle holds {:?}",
                bundle.manifest.contract_id, contract.id
            ),
        );
    }
    Some(contract)
}

/// The keys each role is verified with: the pinned key when given, else
/// the contract's.
#[derive(Clone, Copy)]
pub(crate) struct Keys {
    pub(crate) recorder: PublicKey,
    pub(crate) provider: PublicKey,
    pub(crate) user: PublicKey,
}

/// The signers the contract names, their pinning state, and the keys to
/// verify with; a pin mismatch fails check 2, naming the role.
pub(crate) fn signers(
    contract: &Contract,
    trust: &Trust,
    checks: &mut Checks,
) -> (Vec<Signer>, Keys) {
    let opts_trust = trust;
    let pin_of = |pinned: &Option<PublicKey>, actual: &PublicKey| match pinned {
        None => Pin::NotPinned,
        Some(p) if p == actual => Pin::Pinned,
        Some(_) => Pin::Mismatch,
    };
    let parties = &contract.parties;
    let mut signers = vec![
        Signer {
            role: "recorder".into(),
            name: parties.recorder.name.clone(),
            fingerprint: parties.recorder.key.fingerprint(),
            pin: pin_of(&opts_trust.recorder, &parties.recorder.key),
        },
        Signer {
            role: "provider".into(),
            name: parties.provider.name.clone(),
            fingerprint: parties.provider.key.fingerprint(),
            pin: pin_of(&opts_trust.provider, &parties.provider.key),
        },
        Signer {
            role: "user".into(),
            name: parties.user.name.clone(),
            fingerprint: parties.user.key.fingerprint(),
            pin: pin_of(&opts_trust.user, &parties.user.key),
        },
    ];
    for (id, p) in &parties.attestors {
        signers.push(Signer {
            role: id.clone(),
            name: p.name.clone(),
            fingerprint: p.key.fingerprint(),
            pin: pin_of(&opts_trust.attestors.get(id).copied(), &p.key),
        });
    }
    // Every pinned key is compared with the key the bundle names for that
    // role, whether or not that role signed anything in this bundle.
    for s in &signers {
        if s.pin == Pin::Mismatch {
            checks[CheckId::ManifestSignature].fail(
                Code::KeyPinMismatch,
                format!(
                    "the bundle's {} key {} is not the pinned key",
                    s.role, s.fingerprint
                ),
            );
        }
    }
    let keys = Keys {
        recorder: opts_trust.recorder.unwrap_or(parties.recorder.key),
        provider: opts_trust.provider.unwrap_or(parties.provider.key),
        user: opts_trust.user.unwrap_or(parties.user.key),
    };
    (signers, keys)
}

/// Check 2: `manifest` signed by the recorder in `sig_name`; co-signatures
/// by the provider and the user where present.
pub(crate) fn check_manifest_signatures(
    bundle: &Bundle,
    manifest: &[u8],
    sig_name: &str,
    cosig_name: fn(&str) -> String,
    keys: &Keys,
    c: &mut Check,
) {
    match bundle.read_small(sig_name) {
        Ok(Some(sig)) => match cose::verify_detached(&sig, manifest, &keys.recorder.0) {
            Ok(_) => c.pass(format!(
                "signed by the recorder ({})",
                keys.recorder.fingerprint()
            )),
            Err(e) => c.fail("manifest-signature-invalid", format!("{sig_name}: {e}")),
        },
        Ok(None) => c.fail("member-missing", format!("{sig_name} is missing")),
        Err(e) => c.fail("io", format!("{sig_name}: {e}")),
    }
    for (role, key) in [("provider", &keys.provider), ("user", &keys.user)] {
        let name = cosig_name(role);
        match bundle.read_small(&name) {
            Ok(Some(sig)) => match cose::verify_detached(&sig, manifest, &key.0) {
                Ok(_) => c.pass(format!("co-signed by the {role} ({})", key.fingerprint())),
                Err(e) => c.fail("cosignature-invalid", format!("{name}: {e}")),
            },
            Ok(None) => {}
            Err(e) => c.fail("io", format!("{name}: {e}")),
        }
    }
}

/// Check 6: the contract's signatures by the provider and the user.
pub(crate) fn check_contract_signatures(bundle: &Bundle, keys: &Keys, c: &mut Check) {
    let cbor = bundle
        .read_small(layout::CONTRACT_CBOR)
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut any = false;
    for (role, key) in [("provider", &keys.provider), ("user", &keys.user)] {
        let name = layout::contract_sig(role);
        match bundle.read_small(&name) {
            Ok(Some(sig)) => {
                any = true;
                match cose::verify_detached(&sig, &cbor, &key.0) {
                    Ok(_) => c.pass(format!("signed by the {role} ({})", key.fingerprint())),
                    Err(e) => c.fail("contract-signature-invalid", format!("{name}: {e}")),
                }
            }
            Ok(None) => c.note(format!(
                "the bundle carries no contract signature by the {role}"
            )),
            Err(e) => c.fail("io", format!("{name}: {e}")),
        }
    }
    if !any {
        c.skip("not checked: the bundle carries no contract signature");
    }
}

/// Check 7: the analyzer's digest, and its certificate where a regulator
/// key is pinned.
pub(crate) fn check_analyzer(bundle: &Bundle, opts: &VerifyOptions<'_>, c: &mut Check) {
    let m = &bundle.manifest;
    let listed: BTreeMap<&str, [u8; 32]> = m
        .members
        .iter()
        .map(|e| (e.name.as_str(), e.sha256))
        .collect();
    match (
        &m.analyzer_sha256,
        bundle.member(layout::ANALYZER).is_some(),
    ) {
        (None, false) => c.skip("not checked: the bundle carries no analyzer"),
        (Some(_), false) | (None, true) => c.fail(
            "analyzer-digest-mismatch",
            "the manifest and the archive disagree on whether there is an analyzer",
        ),
        (Some(d), true) => {
            let listed = listed.get(layout::ANALYZER).copied();
            if listed != Some(*d) {
                c.fail(
                    "analyzer-digest-mismatch",
                    "the manifest's analyzer digest differs from the analyzer member's",
                );
            } else {
                c.pass(format!("analyzer SHA-256 {}", hex(d)));
            }
            match opts.shipped_analyzer {
                Some(s) if s == *d => c.note("this is the analyzer this release of cfr ships"),
                _ => c.note("this is NOT the analyzer this release of cfr ships"),
            }
            match (bundle.read_small(layout::ANALYZER_CERT), &opts.trust.regulator) {
                (Ok(Some(cert)), Some(reg)) => match cose::verify_detached(&cert, d, &reg.0) {
                    Ok(_) => c.pass(format!("certified by the pinned regulator key ({})", reg.fingerprint())),
                    Err(e) => c.fail("analyzer-certificate-invalid", format!("analyzer/certificate.sig: {e}")),
                },
                (Ok(Some(_)), None) => c.note("a certificate is present but no regulator key is pinned (--regulator-key): not checked"),
                (Ok(None), Some(_)) => c.fail("analyzer-certificate-missing", "a regulator key is pinned but the bundle carries no analyzer certificate"),
                (Ok(None), None) => c.note("no analyzer certificate"),
                (Err(e), _) => c.fail("io", format!("analyzer/certificate.sig: {e}")),
            }
        }
    }
}

struct HashSink<'a>(&'a mut Sha256);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn load_contract(bundle: &Bundle) -> Result<Contract, (&'static str, String)> {
    let toml_bytes = bundle
        .read_small(layout::CONTRACT_TOML)
        .map_err(|e| ("io", format!("contract/contract.toml: {e}")))?
        .ok_or((
            "member-missing",
            "contract/contract.toml is missing".to_owned(),
        ))?;
    let cbor = bundle
        .read_small(layout::CONTRACT_CBOR)
        .map_err(|e| ("io", format!("contract/contract.cbor: {e}")))?
        .ok_or((
            "member-missing",
            "contract/contract.cbor is missing".to_owned(),
        ))?;
    let text = String::from_utf8(toml_bytes).map_err(|_| {
        (
            "contract-invalid",
            "contract/contract.toml is not UTF-8".to_owned(),
        )
    })?;
    let from_toml = Contract::from_toml(&text)
        .map_err(|e| ("contract-invalid", format!("contract/contract.toml: {e}")))?;
    let from_cbor = Contract::from_cbor(&cbor)
        .map_err(|e| ("contract-invalid", format!("contract/contract.cbor: {e}")))?;
    if from_toml.to_cbor() != cbor {
        return Err((
            "contract-mismatch",
            "contract/contract.cbor is not the compiled form of contract/contract.toml".to_owned(),
        ));
    }
    Ok(from_cbor)
}

/// A replay in progress: the bundled analyzer, another module, or native.
pub(crate) enum ReplayRun {
    Wasm(Box<crate::sandbox::Run>),
    Native(Box<cfr_rules::Engine>),
}

type ReplayFailure = (&'static str, String);

impl crate::sandbox::Feed for ReplayRun {
    fn feed(&mut self, raw: &[u8], events: u64) -> Result<(), ReplayFailure> {
        match self {
            ReplayRun::Wasm(r) => crate::sandbox::Feed::feed(r.as_mut(), raw, events),
            ReplayRun::Native(engine) => {
                for item in cfr_model::EventSeq::new(raw) {
                    let (e, _) = item.map_err(|e| ("event-noncanonical", e.to_string()))?;
                    engine
                        .push(&e)
                        .map_err(|e| ("replay-failed", e.to_string()))?;
                }
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<Vec<u8>, ReplayFailure> {
        match self {
            ReplayRun::Wasm(r) => crate::sandbox::Feed::finish(*r),
            ReplayRun::Native(engine) => Ok(engine.finish().to_cbor()),
        }
    }
}

/// Queues a chunk for the replay worker; when the worker has stopped
/// early, takes it and records its error in `check` (check 8).
pub(crate) fn feed_replay(
    replay: &mut Option<crate::sandbox::Worker>,
    raw: Vec<u8>,
    events: u64,
    check: &mut Check,
) {
    let stopped = replay.as_mut().is_some_and(|r| !r.feed(raw, events));
    if stopped {
        if let Some(Err((code, detail))) = replay.take().map(crate::sandbox::Worker::finish) {
            check.fail(code, detail);
        }
    }
}

pub(crate) fn start_replay(
    bundle: &Bundle,
    contract: &Contract,
    how: &Replay,
    check: &mut Check,
) -> Option<ReplayRun> {
    let contract_cbor = contract.to_cbor();
    let module = match how {
        Replay::Native => {
            check.note("replayed with the rule engine built into this release (--native)");
            return Some(ReplayRun::Native(Box::new(cfr_rules::Engine::new(
                contract,
            ))));
        }
        Replay::Module(m) => {
            check.note(format!(
                "replayed with the analyzer given on the command line (SHA-256 {})",
                hex(&Sha256::digest(m))
            ));
            m.clone()
        }
        Replay::Bundled => {
            match bundle.read_member_max(layout::ANALYZER, cfr_bundle_format::bundle::MAX_ANALYZER)
            {
                Ok(Some(m)) => {
                    check.note("replayed with the bundled analyzer");
                    m
                }
                Ok(None) => {
                    check.note("the bundle carries no analyzer: replayed with the rule engine built into this release");
                    return Some(ReplayRun::Native(Box::new(cfr_rules::Engine::new(
                        contract,
                    ))));
                }
                Err(e) => {
                    check.fail("io", format!("analyzer/analyzer.wasm: {e}"));
                    return None;
                }
            }
        }
    };
    match crate::sandbox::start(&module, &contract_cbor) {
        Ok(run) => Some(ReplayRun::Wasm(Box::new(run))),
        Err((code, detail)) => {
            check.fail(code, detail);
            None
        }
    }
}
