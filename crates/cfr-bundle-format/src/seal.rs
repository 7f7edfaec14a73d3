//! Sealing: events + contract + signatures (+ analyzer) -> `evidence.cfr`.

use crate::cose;
use crate::import::check_signature;
use crate::layout::{self, FORMAT};
use crate::manifest::{ChunkEntry, LogEntry, Manifest, MemberEntry};
use crate::readme;
use crate::tar::TarWriter;
use crate::{schemas, TOOL};
use cfr_contract::Contract;
use cfr_merkle::{Checkpoint, RootBuilder};
use cfr_model::keys::SigningKey;
use cfr_model::{Digest, Event};
use sha2::{Digest as _, Sha256};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Default size of a chunk's decompressed CBOR sequence before it is cut.
pub const DEFAULT_CHUNK_BYTES: usize = 1 << 20;

/// The largest decompressed chunk a bundle may declare (readers refuse more).
pub const MAX_CHUNK_BYTES: u64 = 16 << 20;

/// zstd level used for event chunks.
const ZSTD_LEVEL: i32 = 3;

/// COSE content type of `manifest.sig`.
pub const MANIFEST_CONTENT_TYPE: &str = "application/vnd.cfr.manifest+cbor";
/// COSE content type of contract signatures.
pub const CONTRACT_CONTENT_TYPE: &str = "application/vnd.cfr.contract+cbor";
/// COSE content type of analyzer certificates (payload: the module's SHA-256).
pub const ANALYZER_CONTENT_TYPE: &str = "application/vnd.cfr.analyzer-digest";

/// One item of what is sealed: an event, or a signed submission covering
/// the events that follow it (as a JSON Lines file can hold them).
#[derive(Debug, Clone)]
pub enum Input {
    /// The next event.
    Event(Event),
    /// A submission whose first event is the next one.
    Submission(crate::submission::Entry),
}

impl From<Event> for Input {
    fn from(e: Event) -> Input {
        Input::Event(e)
    }
}

/// What to seal, besides the events.
pub struct SealOptions<'a> {
    /// The contract as agreed (TOML).
    pub contract_toml: String,
    /// COSE_Sign1 contract signatures (each by the provider or the user).
    pub contract_sigs: Vec<Vec<u8>>,
    /// The recorder's key: signs the checkpoint and the manifest.
    pub recorder_key: &'a SigningKey,
    /// The analyzer module to embed and run, if any.
    pub analyzer: Option<Vec<u8>>,
    /// A regulator's certificate over the analyzer's digest.
    pub analyzer_cert: Option<Vec<u8>>,
    /// Decompressed size at which a chunk is cut.
    pub chunk_bytes: usize,
    /// Store the native engine's verdict when there is no analyzer.
    pub native_verdict: bool,
    /// Signed submissions covering the events (in seq order), each
    /// checked against the events it covers before anything is written.
    pub submissions: Vec<crate::submission::Entry>,
    /// A checkpoint the recorder signed already, with any witness
    /// cosignatures: the bundle's `log/checkpoint` when it is over exactly
    /// the sealed events and its recorder signature verifies; otherwise a
    /// new checkpoint is signed (and carries no cosignature).
    pub checkpoint: Option<cfr_merkle::SignedCheckpoint>,
    /// Obtains trusted time for the bundle: called once, after the
    /// manifest is signed, with the exact `manifest.cbor` bytes; what it
    /// returns is stored as `manifest.tsr` (an RFC 3161 `TimeStampResp`,
    /// see `cfr-timestamp`), and an error fails the seal.
    pub timestamp: Option<&'a Timestamper<'a>>,
}

/// Asks a time-stamping authority for a token over a manifest (its exact
/// bytes) and returns the reply to store as `manifest.tsr`, or why not.
pub type Timestamper<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Sync + 'a;

/// What a seal produced.
#[derive(Debug, Clone)]
pub struct SealSummary {
    /// Number of events sealed.
    pub events: u64,
    /// Merkle root over the events.
    pub root: [u8; 32],
    /// Number of event chunks.
    pub chunks: usize,
    /// Size of the bundle file.
    pub bytes: u64,
    /// SHA-256 of the bundle file.
    pub sha256: Digest,
    /// The verdict stored in the bundle, as JSON, if any.
    pub verdict_json: Option<String>,
    /// Set when the analyzer's verdict differs from the native engine's.
    pub analyzer_disagrees: bool,
}

/// Why a seal failed. Nothing is left at the output path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The contract does not parse or check.
    #[error("contract: {0}")]
    Contract(#[from] cfr_contract::ContractError),
    /// A contract signature is not by the provider or the user over this contract.
    #[error("contract signature #{index}: {reason}")]
    ContractSignature {
        /// 1-based position among `--contract-sig` files.
        index: usize,
        /// Why.
        reason: String,
    },
    /// An input line was rejected (import format).
    #[error("events: {0}")]
    Import(#[from] crate::import::ImportError),
    /// An event does not fit the contract or the log order.
    #[error("event seq {seq}: {reason}")]
    Event {
        /// The event's position.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The sealing key is not the recorder key the contract names.
    #[error("the sealing key ({given}) is not the recorder's key in the contract ({contract})")]
    RecorderKey {
        /// Fingerprint of the key given.
        given: String,
        /// Fingerprint of the contract's recorder key.
        contract: String,
    },
    /// The analyzer failed.
    #[error("analyzer: {0}")]
    Analyzer(String),
    /// A submission does not hold.
    #[error("submissions: {0}")]
    Submission(String),
    /// The analyzer certificate is not a valid COSE signature.
    #[error("analyzer certificate: {0}")]
    AnalyzerCertificate(String),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The time-stamping authority could not be asked, or its reply
    /// was refused.
    #[error("time-stamp: {0}")]
    Timestamp(String),
    /// Internal encoding failure (a bug).
    #[error("internal: {0}")]
    Internal(String),
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SealError + '_ {
    move |source| SealError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Identifies which party signed a contract: `provider` or `user`.
pub fn contract_signature_role(
    contract: &Contract,
    contract_cbor: &[u8],
    sig: &[u8],
) -> Result<&'static str, String> {
    let mut last = String::new();
    for role in layout::COSIGNER_ROLES {
        let key = match role {
            "provider" => &contract.parties.provider.key,
            _ => &contract.parties.user.key,
        };
        match cose::verify_detached(sig, contract_cbor, &key.0) {
            Ok(_) => return Ok(role),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "not a valid signature over this contract by the provider or the user ({last})"
    ))
}

/// Signs a contract (its canonical CBOR) as `role`.
pub fn sign_contract(contract: &Contract, key: &SigningKey, role: &str) -> Result<Vec<u8>, String> {
    let expected = match role {
        "provider" => &contract.parties.provider.key,
        "user" => &contract.parties.user.key,
        other => return Err(format!("role {other:?} is not provider or user")),
    };
    if expected.0 != key.verifying_key() {
        return Err(format!(
            "this key ({}) is not the {role}'s key in the contract ({})",
            cfr_model::keys::fingerprint(&key.verifying_key()),
            expected.fingerprint()
        ));
    }
    cose::sign_detached(key, &contract.to_cbor(), CONTRACT_CONTENT_TYPE).map_err(|e| e.to_string())
}

/// The checkpoint origin of a contract's log.
pub fn origin(contract_id: &str) -> String {
    format!("cfr/{contract_id}")
}

/// Compressed members written to an unlinked temporary file as they are
/// made, and copied into the archive at the end: a seal holds their
/// names, sizes and digests, not their bytes.
struct Spool {
    file: std::fs::File,
    path: PathBuf,
    /// Each member written, in order.
    parts: Vec<MemberEntry>,
}

impl Spool {
    fn new(dir: &Path) -> Result<Spool, SealError> {
        Ok(Spool {
            file: tempfile::tempfile_in(dir).map_err(io_err(dir))?,
            path: dir.to_owned(),
            parts: Vec::new(),
        })
    }

    /// Compresses `raw` and writes it as the member `name`.
    fn push(&mut self, name: String, raw: &[u8]) -> Result<(), SealError> {
        let z = zstd::bulk::compress(raw, ZSTD_LEVEL).map_err(io_err(&self.path))?;
        self.file.write_all(&z).map_err(io_err(&self.path))?;
        self.parts.push(MemberEntry {
            name,
            size: z.len() as u64,
            sha256: Sha256::digest(&z).into(),
        });
        Ok(())
    }

    /// Gives each member written, in order, to `append` (name, size, its
    /// bytes).
    fn copy_out(
        &mut self,
        mut append: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), SealError>,
    ) -> Result<(), SealError> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(io_err(&self.path))?;
        for m in &self.parts {
            append(&m.name, m.size, &mut (&mut self.file).take(m.size))?;
        }
        Ok(())
    }
}

/// The submissions members, written as the entries come: each member's
/// entries (about [`crate::submission::MEMBER_BYTES`] of CBOR) are
/// compressed into the spool once the member is full, so a seal holds one
/// member's entries, not every submission of the log.
struct SubmissionSpool {
    spool: Spool,
    raw: Vec<u8>,
}

impl SubmissionSpool {
    fn new(dir: &Path) -> Result<SubmissionSpool, SealError> {
        Ok(SubmissionSpool {
            spool: Spool::new(dir)?,
            raw: Vec::new(),
        })
    }

    /// Adds the next entry; a member that reaches the size is written.
    fn add(&mut self, e: &crate::submission::Entry) -> Result<(), SealError> {
        e.encode_into(&mut self.raw);
        if self.raw.len() >= crate::submission::MEMBER_BYTES {
            self.write()?;
        }
        Ok(())
    }

    fn write(&mut self) -> Result<(), SealError> {
        if self.raw.is_empty() {
            return Ok(());
        }
        let name = layout::submissions_name(self.spool.parts.len() as u32);
        self.spool.push(name, &self.raw)?;
        self.raw.clear();
        Ok(())
    }
}

/// Where events pass through during a seal: chunking, hashing, judging.
struct Sealer<'a> {
    contract: &'a Contract,
    /// The chunks' compressed bytes (`chunks` holds their entries).
    spool: Spool,
    chunk: Vec<u8>,
    chunk_first: u64,
    chunk_events: u64,
    chunk_target: usize,
    chunks: Vec<ChunkEntry>,
    root: RootBuilder,
    engine: Option<cfr_rules::Engine>,
    analyzer: Option<crate::feed::Worker>,
    next_seq: u64,
    from: Option<i64>,
    until: Option<i64>,
    coverage: crate::submission::Coverage,
}

impl Sealer<'_> {
    fn push(&mut self, e: &Event) -> Result<(), SealError> {
        let bad = |reason: String| SealError::Event { seq: e.seq, reason };
        if e.seq != self.next_seq {
            return Err(bad(format!("seq must be {}", self.next_seq)));
        }
        if let Some(u) = self.until {
            if e.time < u {
                return Err(bad("time goes backwards".into()));
            }
        }
        // Whether a signed kind is signed is the coverage's to say: a
        // submission's signature covers its events.
        self.contract
            .check_event_unsigned(e)
            .map_err(|err| bad(err.to_string()))?;
        check_signature(self.contract, e).map_err(bad)?;
        self.coverage.push(e, e.sig.map(|_| true));
        if let Some(f) = self.coverage.findings().first() {
            return Err(SealError::Submission(crate::submission::describe(f)));
        }
        let start = self.chunk.len();
        e.encode_into(&mut self.chunk);
        self.root.push(cfr_merkle::leaf_hash(&self.chunk[start..]));
        if let Some(engine) = &mut self.engine {
            engine
                .push(e)
                .map_err(|err| bad(format!("rule engine: {err}")))?;
        }
        self.next_seq += 1;
        self.chunk_events += 1;
        self.from.get_or_insert(e.time);
        self.until = Some(e.time);
        if self.chunk.len() >= self.chunk_target {
            self.cut()?;
        }
        Ok(())
    }

    fn cut(&mut self) -> Result<(), SealError> {
        if self.chunk_events == 0 {
            return Ok(());
        }
        if let Some(worker) = &mut self.analyzer {
            if !worker.feed(self.chunk.clone(), self.chunk_events) {
                let failed = self.analyzer.take().map(crate::feed::Worker::finish);
                let detail = match failed {
                    Some(Err((_, e))) => e,
                    _ => "the analyzer stopped early".to_owned(),
                };
                return Err(SealError::Analyzer(detail));
            }
        }
        let name = layout::chunk_name(self.chunks.len() as u32);
        self.spool.push(name.clone(), &self.chunk)?;
        self.chunks.push(ChunkEntry {
            name,
            first: self.chunk_first,
            events: self.chunk_events,
            raw_size: self.chunk.len() as u64,
        });
        self.chunk.clear();
        self.chunk_first = self.next_seq;
        self.chunk_events = 0;
        Ok(())
    }
}

/// Seals `events` into a bundle at `out`, judging them with the native
/// rule engine (`cfr-rules`): an analyzer in `opts` is embedded, not run
/// (the tests hold the shipped analyzer's verdict byte-identical to the
/// native engine's; `cfr_verify::seal::seal` runs it in the sandbox
/// instead). The file is written to a temporary name beside `out` and
/// renamed only when complete, so a failed seal leaves nothing behind.
/// `progress` is told the number of events so far.
pub fn seal<I, T>(
    opts: &SealOptions<'_>,
    events: I,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<SealSummary, SealError>
where
    I: Iterator<Item = Result<T, SealError>>,
    T: Into<Input>,
{
    seal_judged(opts, None, events, out, progress)
}

/// [`seal`], with the verdict given by `analyzer` (started over this
/// contract, fed the chunks as they are cut) when there is one: the
/// native engine's verdict is then computed too, and a difference is
/// reported in [`SealSummary::analyzer_disagrees`].
pub fn seal_judged<I, T>(
    opts: &SealOptions<'_>,
    analyzer: Option<crate::feed::Worker>,
    events: I,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<SealSummary, SealError>
where
    I: Iterator<Item = Result<T, SealError>>,
    T: Into<Input>,
{
    let contract = Contract::from_toml(&opts.contract_toml)?;
    let contract_cbor = contract.to_cbor();
    let mut contract_sigs: Vec<(&'static str, &Vec<u8>)> = Vec::new();
    for (i, sig) in opts.contract_sigs.iter().enumerate() {
        let role = contract_signature_role(&contract, &contract_cbor, sig).map_err(|reason| {
            SealError::ContractSignature {
                index: i + 1,
                reason,
            }
        })?;
        if contract_sigs.iter().any(|(r, _)| *r == role) {
            return Err(SealError::ContractSignature {
                index: i + 1,
                reason: format!("a second signature by the {role}"),
            });
        }
        contract_sigs.push((role, sig));
    }
    contract_sigs.sort_by_key(|(r, _)| layout::COSIGNER_ROLES.iter().position(|x| x == r));
    if contract.parties.recorder.key.0 != opts.recorder_key.verifying_key() {
        return Err(SealError::RecorderKey {
            given: cfr_model::keys::fingerprint(&opts.recorder_key.verifying_key()),
            contract: contract.parties.recorder.key.fingerprint(),
        });
    }
    let analyzer_digest: Option<[u8; 32]> =
        opts.analyzer.as_ref().map(|a| Sha256::digest(a).into());
    if let Some(cert) = &opts.analyzer_cert {
        if analyzer_digest.is_none() {
            return Err(SealError::AnalyzerCertificate(
                "a certificate needs an analyzer".into(),
            ));
        }
        cose::inspect(cert).map_err(|e| SealError::AnalyzerCertificate(e.to_string()))?;
    }
    let analyzer_run = analyzer;

    let dir = parent_dir(out);
    let mut subs = SubmissionSpool::new(&dir)?;
    let mut s = Sealer {
        contract: &contract,
        spool: Spool::new(&dir)?,
        chunk: Vec::with_capacity(opts.chunk_bytes + 4096),
        chunk_first: 0,
        chunk_events: 0,
        chunk_target: opts.chunk_bytes.clamp(1, (MAX_CHUNK_BYTES / 2) as usize),
        chunks: Vec::new(),
        root: RootBuilder::new(),
        engine: Some(cfr_rules::Engine::new(&contract)),
        analyzer: analyzer_run,
        next_seq: 0,
        from: None,
        until: None,
        coverage: crate::submission::Coverage::new(
            &contract,
            crate::submission::contract_keys(&contract),
            u64::MAX,
        )
        .with_checkers(std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let walked = (|| {
        for entry in &opts.submissions {
            subs.add(entry)?;
            s.coverage.add(entry.clone());
        }
        for item in events {
            let e = match item?.into() {
                Input::Event(e) => e,
                Input::Submission(entry) => {
                    subs.add(&entry)?;
                    s.coverage.add(entry);
                    continue;
                }
            };
            s.push(&e)?;
            if s.next_seq % 65_536 == 0 {
                progress(s.next_seq);
            }
        }
        s.cut()
    })();
    if let Err(err) = walked {
        // Signatures are checked on other threads: a bad one before this
        // failure is what a sequential walk would have stopped at.
        if !matches!(err, SealError::Submission(_)) {
            s.coverage.settle();
            if let Some(f) = s.coverage.findings().first() {
                return Err(SealError::Submission(crate::submission::describe(f)));
            }
        }
        return Err(err);
    }
    progress(s.next_seq);
    let coverage = std::mem::replace(
        &mut s.coverage,
        crate::submission::Coverage::new(&contract, Default::default(), 0),
    );
    let (_, findings, _, _) = coverage.finish();
    if let Some(f) = findings.first() {
        return Err(SealError::Submission(crate::submission::describe(f)));
    }
    subs.write()?;

    // The verdict: the analyzer's when there is one, else the native one.
    // Only the native verdict's bytes are kept, and only until they are
    // compared: with many incidents, each copy is large.
    let native_cbor = s.engine.take().map(|e| e.finish().to_cbor());
    let (verdict_cbor, analyzer_disagrees) = match s.analyzer.take() {
        Some(run) => {
            let v = run.finish().map_err(|(_, e)| SealError::Analyzer(e))?;
            let differs = native_cbor.is_some_and(|n| n != v);
            (Some(v), differs)
        }
        // An embedded analyzer that was not run: its verdict is the native one.
        None if opts.native_verdict || opts.analyzer.is_some() => (native_cbor, false),
        None => (None, false),
    };
    let verdict = match &verdict_cbor {
        Some(b) => Some(cfr_rules::Verdict::from_cbor(b).map_err(|e| {
            SealError::Analyzer(format!("the analyzer's verdict does not decode: {e}"))
        })?),
        None => None,
    };

    // The checkpoint.
    let root = s.root.root();
    let checkpoint = Checkpoint {
        origin: origin(&contract.id),
        size: s.next_seq,
        root,
    };
    let given = opts.checkpoint.as_ref().filter(|c| {
        c.checkpoint() == &checkpoint
            && c.verify(&checkpoint.origin, &opts.recorder_key.verifying_key())
                .is_ok()
    });
    let signed = match given {
        Some(c) => c.clone(),
        None => checkpoint
            .sign(opts.recorder_key, &checkpoint.origin)
            .map_err(|e| SealError::Internal(e.to_string()))?,
    };
    let checkpoint_text = signed.to_note().into_bytes();

    // Small members, in canonical order, then the manifest.
    let readme = readme::render(&readme::Facts {
        contract: &contract,
        events: s.next_seq,
        from: s.from,
        until: s.until,
        root: &root,
        verdict: verdict.as_ref(),
        has_analyzer: opts.analyzer.is_some(),
        timestamped: opts.timestamp.is_some(),
    });
    let schema_members = schemas::members(&contract);
    let mut members: Vec<MemberEntry> = Vec::new();
    let entry = |name: &str, data: &[u8]| MemberEntry {
        name: name.to_owned(),
        size: data.len() as u64,
        sha256: Sha256::digest(data).into(),
    };
    members.push(entry(layout::README, readme.as_bytes()));
    for (name, text) in &schema_members {
        members.push(entry(name, text.as_bytes()));
    }
    members.push(entry(layout::CONTRACT_TOML, opts.contract_toml.as_bytes()));
    members.push(entry(layout::CONTRACT_CBOR, &contract_cbor));
    for (role, sig) in &contract_sigs {
        members.push(entry(&layout::contract_sig(role), sig));
    }
    members.push(entry(layout::CHECKPOINT, &checkpoint_text));
    members.extend(s.spool.parts.iter().cloned());
    members.extend(subs.spool.parts.iter().cloned());
    if let Some(a) = &opts.analyzer {
        members.push(entry(layout::ANALYZER, a));
    }
    if let Some(c) = &opts.analyzer_cert {
        members.push(entry(layout::ANALYZER_CERT, c));
    }
    if let Some(v) = &verdict_cbor {
        members.push(entry(layout::VERDICT, v));
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        tool: TOOL.into(),
        contract_id: contract.id.clone(),
        contract_sha256: Sha256::digest(&contract_cbor).into(),
        log: LogEntry {
            events: s.next_seq,
            from: s.from,
            until: s.until,
            root,
            chunks: s.chunks.clone(),
        },
        analyzer_sha256: analyzer_digest,
        members,
        excerpt: None,
    };
    let manifest_cbor = manifest.to_cbor();
    let manifest_sig =
        cose::sign_detached(opts.recorder_key, &manifest_cbor, MANIFEST_CONTENT_TYPE)
            .map_err(|e| SealError::Internal(e.to_string()))?;
    // Trusted time over the signed manifest, before anything is written.
    let manifest_tsr = match opts.timestamp {
        Some(stamp) => Some(stamp(&manifest_cbor).map_err(SealError::Timestamp)?),
        None => None,
    };

    // Write the archive to a temporary file, then rename.
    let mtime = s.until.map_or(0, |t| (t / 1_000_000_000).max(0) as u64);
    let tar_err = |e: crate::tar::TarWriteError| SealError::Io {
        path: out.to_owned(),
        source: std::io::Error::other(e.to_string()),
    };
    let (sha256, bytes) = write_archive(
        out,
        ".cfr-seal-",
        mtime,
        |path, source| SealError::Io {
            path: path.to_owned(),
            source,
        },
        |w| {
            w.append(layout::README, readme.as_bytes())
                .map_err(tar_err)?;
            w.append(layout::MANIFEST, &manifest_cbor)
                .map_err(tar_err)?;
            w.append(layout::MANIFEST_SIG, &manifest_sig)
                .map_err(tar_err)?;
            if let Some(tsr) = &manifest_tsr {
                w.append(layout::MANIFEST_TSR, tsr).map_err(tar_err)?;
            }
            for (name, text) in &schema_members {
                w.append(name, text.as_bytes()).map_err(tar_err)?;
            }
            w.append(layout::CONTRACT_TOML, opts.contract_toml.as_bytes())
                .map_err(tar_err)?;
            w.append(layout::CONTRACT_CBOR, &contract_cbor)
                .map_err(tar_err)?;
            for (role, sig) in &contract_sigs {
                w.append(&layout::contract_sig(role), sig)
                    .map_err(tar_err)?;
            }
            w.append(layout::CHECKPOINT, &checkpoint_text)
                .map_err(tar_err)?;
            for spool in [&mut s.spool, &mut subs.spool] {
                spool.copy_out(|name, size, part| {
                    w.append_from(name, size, part).map_err(tar_err)
                })?;
            }
            if let Some(a) = &opts.analyzer {
                w.append(layout::ANALYZER, a).map_err(tar_err)?;
            }
            if let Some(c) = &opts.analyzer_cert {
                w.append(layout::ANALYZER_CERT, c).map_err(tar_err)?;
            }
            if let Some(v) = &verdict_cbor {
                w.append(layout::VERDICT, v).map_err(tar_err)?;
            }
            Ok(())
        },
    )?;
    Ok(SealSummary {
        events: s.next_seq,
        root,
        chunks: s.chunks.len(),
        bytes,
        sha256,
        verdict_json: verdict.map(|v| v.to_json()),
        analyzer_disagrees,
    })
}

/// The directory a file is written in (`.` for a bare name).
pub fn parent_dir(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes an archive to a temporary file (named `prefix...tmp`) beside
/// `out`, syncs it, renames it to `out` and syncs the directory, so a
/// failure leaves nothing behind. `fill` appends the members; `io` turns an
/// I/O error on a path into the caller's error. Returns the file's SHA-256
/// and size.
pub fn write_archive<E>(
    out: &Path,
    prefix: &str,
    mtime: u64,
    io: impl Fn(&Path, std::io::Error) -> E,
    fill: impl FnOnce(&mut TarWriter<BufWriter<&std::fs::File>>) -> Result<(), E>,
) -> Result<(Digest, u64), E> {
    let dir = parent_dir(out);
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| io(&dir, e))?;
    let tar_err = |e: crate::tar::TarWriteError| io(out, std::io::Error::other(e.to_string()));
    let mut w =
        TarWriter::new(BufWriter::with_capacity(1 << 20, tmp.as_file()), mtime).map_err(tar_err)?;
    fill(&mut w)?;
    let mut buf = w.finish().map_err(tar_err)?;
    buf.flush().map_err(|e| io(out, e))?;
    drop(buf);
    tmp.as_file().sync_all().map_err(|e| io(out, e))?;
    let (sha256, bytes) = file_digest(tmp.path()).map_err(|e| io(out, e))?;
    tmp.persist(out).map_err(|e| io(out, e.error))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok((sha256, bytes))
}

/// SHA-256 and size of a file.
pub fn file_digest(path: &Path) -> std::io::Result<(Digest, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((Digest(h.finalize().into()), n))
}
