//! Signed submissions (`cfr-submission/1`): a batch of events all emitted
//! by one party, signed by that party's contract key, so that every event
//! in a party's name can be attributed to it.
//!
//! # What is signed
//!
//! The signature covers the SHA-256 [`digest`] of the canonical CBOR
//! (RFC 8949 section 4.2.1) of
//!
//! ```text
//! { "ctx": "cfr-submission/1", "contract": <contract id>, "party": <role or attestor id>,
//!   "id": <submission id>, "events": [ { "kind", "actor", "attrs" }, ... ] }
//! ```
//!
//! with each event in its signed form (no `seq`, `time` or `sig`: the
//! recorder assigns the first two, and the third is the event's own
//! signature). The contract id keeps a submission from being replayed
//! under another contract; the id, unique per party, keeps it from being
//! replayed into new events of the same one.
//!
//! # The signature
//!
//! A COSE_Sign1 (RFC 9052) with a detached payload: the payload is the
//! 32-byte digest. [`sign`] writes `18([<< {1: -8} >>, {4: kid}, nil,
//! signature])` (kid = SHA-256 of the public key, as everywhere in cfr).
//! [`verify`] accepts what any COSE library writes for Ed25519: tagged or
//! untagged; protected header with `alg` EdDSA (-8) or Ed25519 (-19);
//! other header parameters are ignored unless listed in `crit`, where only
//! `alg`, `crit`, content type and `kid` are understood; a `kid`, when
//! present, is not trusted (the claimed party's key decides). It is parsed
//! here rather than with `coset` because `coset` refuses alg -19, which
//! RFC 9864 registered for Ed25519 and which independent COSE libraries
//! write.
//!
//! # In a bundle
//!
//! `log/submissions-NNNNNN.cbor.zst`: a zstd-compressed CBOR sequence of
//! [`Entry`] maps `{ "party", "id", "first", "count", "sig" }` in seq order
//! (`schemas/submissions.cddl`).

use crate::disk_map::Buffered;
use cfr_model::cbor::{write_head, CborError, Decoder};
use cfr_model::Event;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The domain-separation string of a submission digest.
pub const CONTEXT: &str = "cfr-submission/1";
/// Longest submission id, in characters.
pub const MAX_ID_LEN: usize = 64;
/// Largest COSE_Sign1 accepted for a submission.
pub const MAX_SIGNATURE_BYTES: usize = 4096;
/// Most events one submission may hold.
pub const MAX_EVENTS: u64 = 65_536;

/// Checks a submission id: 1 to 64 characters of printable ASCII, no
/// spaces (it travels in an HTTP header).
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!(
            "submission id is {} characters; it must be 1 to {MAX_ID_LEN}",
            id.chars().count()
        ));
    }
    if let Some(c) = id.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "submission id {id:?} holds {c:?}; only printable ASCII without spaces is allowed"
        ));
    }
    Ok(())
}

fn text(buf: &mut Vec<u8>, s: &str) {
    write_head(buf, 3, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// Computes a submission digest event by event, so that a verifier can
/// check a submission while streaming the log.
pub struct Hasher {
    sha: Sha256,
    left: u64,
    buf: Vec<u8>,
}

impl Hasher {
    /// Starts the digest of `count` events submitted by `party` under `id`.
    pub fn new(party: &str, id: &str, count: u64) -> Hasher {
        // Canonical key order (shorter keys first, then bytewise): id, ctx,
        // party, events, contract.
        let mut buf = Vec::with_capacity(256);
        write_head(&mut buf, 5, 5);
        text(&mut buf, "id");
        text(&mut buf, id);
        text(&mut buf, "ctx");
        text(&mut buf, CONTEXT);
        text(&mut buf, "party");
        text(&mut buf, party);
        text(&mut buf, "events");
        write_head(&mut buf, 4, count);
        let mut sha = Sha256::new();
        sha.update(&buf);
        buf.clear();
        Hasher {
            sha,
            left: count,
            buf,
        }
    }

    /// Adds the next event's signed form.
    pub fn push(&mut self, e: &Event) {
        self.left = self.left.saturating_sub(1);
        self.buf.clear();
        write_head(&mut self.buf, 5, 3);
        text(&mut self.buf, "kind");
        text(&mut self.buf, &e.kind);
        text(&mut self.buf, "actor");
        text(&mut self.buf, &e.actor);
        text(&mut self.buf, "attrs");
        e.attrs.encode_into(&mut self.buf);
        self.sha.update(&self.buf);
    }

    /// Events still expected.
    pub fn remaining(&self) -> u64 {
        self.left
    }

    /// The digest, once every event was pushed.
    pub fn finish(mut self, contract_id: &str) -> [u8; 32] {
        self.buf.clear();
        text(&mut self.buf, "contract");
        text(&mut self.buf, contract_id);
        self.sha.update(&self.buf);
        self.sha.finalize().into()
    }
}

/// The digest a party signs for `events` submitted under `id`.
pub fn digest<'a>(
    contract_id: &str,
    party: &str,
    id: &str,
    events: impl ExactSizeIterator<Item = &'a Event>,
) -> [u8; 32] {
    let mut h = Hasher::new(party, id, events.len() as u64);
    for e in events {
        h.push(e);
    }
    h.finish(contract_id)
}

fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut tbs = Vec::with_capacity(64 + protected.len() + payload.len());
    write_head(&mut tbs, 4, 4);
    text(&mut tbs, "Signature1");
    write_head(&mut tbs, 2, protected.len() as u64);
    tbs.extend_from_slice(protected);
    write_head(&mut tbs, 2, 0);
    write_head(&mut tbs, 2, payload.len() as u64);
    tbs.extend_from_slice(payload);
    tbs
}

/// Signs a submission digest: a tagged COSE_Sign1, alg EdDSA, detached.
pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> Vec<u8> {
    let protected = [0xa1, 0x01, 0x27]; // {1: -8}
    let sig = key.sign(&sig_structure(&protected, digest));
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&[0xd2, 0x84]); // 18([...4 items
    write_head(&mut out, 2, protected.len() as u64);
    out.extend_from_slice(&protected);
    out.push(0xa1); // {4: kid}
    out.push(0x04);
    let kid = crate::cose::key_id(&key.verifying_key());
    write_head(&mut out, 2, kid.len() as u64);
    out.extend_from_slice(&kid);
    out.push(0xf6); // nil
    write_head(&mut out, 2, 64);
    out.extend_from_slice(&sig.to_bytes());
    out
}

/// Why a submission signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// Not a COSE_Sign1 of the accepted profile.
    #[error("the signature is not a valid COSE_Sign1: {0}")]
    Malformed(String),
    /// Well formed, but not by this key over this digest.
    #[error("the signature does not verify with the {party} key over this submission")]
    Invalid {
        /// The party whose key was tried.
        party: String,
    },
}

/// A parsed COSE_Sign1, not yet verified.
#[derive(Debug, Clone)]
pub struct Sign1 {
    protected: Vec<u8>,
    signature: Signature,
}

/// Parses a submission signature (see the module docs for what is
/// accepted), without verifying it.
pub fn parse(cose: &[u8]) -> Result<Sign1, SigError> {
    use coset::cbor::Value;
    let bad = |s: &str| SigError::Malformed(s.to_owned());
    if cose.len() > MAX_SIGNATURE_BYTES {
        return Err(SigError::Malformed(format!(
            "{} bytes, more than the {MAX_SIGNATURE_BYTES} allowed",
            cose.len()
        )));
    }
    let mut rest = cose;
    let value: Value = coset::cbor::de::from_reader(&mut rest)
        .map_err(|e| SigError::Malformed(format!("not CBOR: {e}")))?;
    if !rest.is_empty() {
        return Err(bad("bytes after the COSE_Sign1"));
    }
    let value = match value {
        Value::Tag(18, inner) => *inner,
        Value::Tag(t, _) => return Err(SigError::Malformed(format!("tag {t}, not 18"))),
        v => v,
    };
    let Value::Array(items) = value else {
        return Err(bad("not an array"));
    };
    let [protected, unprotected, payload, signature] = <[Value; 4]>::try_from(items)
        .map_err(|items| SigError::Malformed(format!("{} items, not 4", items.len())))?;
    let Value::Bytes(protected) = protected else {
        return Err(bad("the protected header is not a byte string"));
    };
    if !matches!(unprotected, Value::Map(_)) {
        return Err(bad("the unprotected header is not a map"));
    }
    if payload != Value::Null {
        return Err(bad(
            "the payload is attached; a submission signature is detached",
        ));
    }
    let Value::Bytes(signature) = signature else {
        return Err(bad("the signature is not a byte string"));
    };
    let signature = Signature::from_slice(&signature).map_err(|_| {
        SigError::Malformed(format!(
            "the signature is {} bytes, not 64",
            signature.len()
        ))
    })?;
    let header: Value = coset::cbor::de::from_reader(&protected[..])
        .map_err(|e| SigError::Malformed(format!("the protected header is not CBOR: {e}")))?;
    let Value::Map(entries) = header else {
        return Err(bad("the protected header is not a map"));
    };
    let int = |v: &Value| match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    };
    let mut alg = None;
    for (k, v) in &entries {
        match int(k) {
            Some(1) => alg = int(v),
            Some(2) => {
                let Value::Array(crit) = v else {
                    return Err(bad("crit is not an array"));
                };
                for label in crit {
                    if !matches!(int(label), Some(1..=4)) {
                        return Err(SigError::Malformed(format!(
                            "critical header {label:?} is not understood"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    match alg {
        Some(-8 | -19) => {}
        Some(a) => {
            return Err(SigError::Malformed(format!(
                "alg {a}; only EdDSA (-8) and Ed25519 (-19) are accepted"
            )))
        }
        None => return Err(bad("the protected header has no alg")),
    }
    Ok(Sign1 {
        protected: protected.clone(),
        signature,
    })
}

impl Sign1 {
    /// True when this signature is `key`'s over `digest`.
    pub fn verifies(&self, digest: &[u8; 32], key: &VerifyingKey) -> bool {
        key.verify_strict(&sig_structure(&self.protected, digest), &self.signature)
            .is_ok()
    }
}

/// Verifies `cose` as `party`'s signature with `key` over `digest`.
pub fn verify(
    cose: &[u8],
    digest: &[u8; 32],
    party: &str,
    key: &VerifyingKey,
) -> Result<(), SigError> {
    if parse(cose)?.verifies(digest, key) {
        Ok(())
    } else {
        Err(SigError::Invalid {
            party: party.to_owned(),
        })
    }
}

/// One submission as a bundle records it: who, under which id, which
/// events (`first`, `count`), and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The submitting party (`provider`, `user` or an attestor id).
    pub party: String,
    /// The submission id.
    pub id: String,
    /// Seq of its first event.
    pub first: u64,
    /// Number of events.
    pub count: u64,
    /// The COSE_Sign1 bytes.
    pub sig: Vec<u8>,
}

impl Entry {
    /// Appends the canonical CBOR map (keys id, sig, count, first, party).
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        write_head(buf, 5, 5);
        text(buf, "id");
        text(buf, &self.id);
        text(buf, "sig");
        write_head(buf, 2, self.sig.len() as u64);
        buf.extend_from_slice(&self.sig);
        text(buf, "count");
        write_head(buf, 0, self.count);
        text(buf, "first");
        write_head(buf, 0, self.first);
        text(buf, "party");
        text(buf, &self.party);
    }

    /// Decodes one entry, strictly (canonical, exactly these keys).
    pub fn decode(d: &mut Decoder<'_>) -> Result<Entry, CborError> {
        let start = d.position();
        let n = d.map_len()?;
        if n != 5 {
            return Err(d.unexpected(start, format!("submission map has {n} entries, expected 5")));
        }
        let key = |d: &mut Decoder<'_>, want: &str| -> Result<(), CborError> {
            let at = d.position();
            let k = d.text()?;
            if k == want {
                Ok(())
            } else {
                Err(d.unexpected(
                    at,
                    format!("submission key {k:?} where {want:?} was expected"),
                ))
            }
        };
        key(d, "id")?;
        let at = d.position();
        let id = d.text()?.to_owned();
        check_id(&id).map_err(|why| d.unexpected(at, why))?;
        key(d, "sig")?;
        let at = d.position();
        let sig = d.bytes()?.to_vec();
        if sig.len() > MAX_SIGNATURE_BYTES {
            return Err(d.unexpected(at, "signature too large"));
        }
        key(d, "count")?;
        let at = d.position();
        let count = d.uint()?;
        if count == 0 || count > MAX_EVENTS {
            return Err(d.unexpected(at, format!("count {count}; must be 1 to {MAX_EVENTS}")));
        }
        key(d, "first")?;
        let first = d.uint()?;
        key(d, "party")?;
        let party = d.text()?.to_owned();
        Ok(Entry {
            party,
            id,
            first,
            count,
            sig,
        })
    }

    /// Seq just past its last event.
    pub fn end(&self) -> u64 {
        self.first.saturating_add(self.count)
    }
}

/// Decodes a CBOR sequence of entries (a decompressed submissions member).
pub fn decode_seq(buf: &[u8]) -> Result<Vec<Entry>, CborError> {
    let mut d = Decoder::new(buf);
    let mut out = Vec::new();
    while !d.is_empty() {
        out.push(Entry::decode(&mut d)?);
    }
    Ok(out)
}

/// The key each submitting party's signatures verify under, per the
/// contract: the provider, the user and every attestor (the recorder does
/// not submit; its checkpoint signature covers its own events).
pub fn contract_keys(
    contract: &cfr_contract::Contract,
) -> std::collections::BTreeMap<String, VerifyingKey> {
    let p = &contract.parties;
    let mut keys = std::collections::BTreeMap::new();
    keys.insert("provider".to_owned(), p.provider.key.0);
    keys.insert("user".to_owned(), p.user.key.0);
    for (id, a) in &p.attestors {
        keys.insert(id.clone(), a.key.0);
    }
    keys
}

/// Most bytes of entries in one submissions member (before compression):
/// a member ends with the first entry that takes it to this size or over.
pub const MEMBER_BYTES: usize = 1 << 20;

/// Describes a finding in one line, for people.
pub fn describe(f: &Finding) -> String {
    match f {
        Finding::Invalid { index, reason } => format!("submission #{}: {reason}", index + 1),
        Finding::SignatureInvalid { id, party, first, count, reason } => format!(
            "submission {id:?} by the {party} (seqs {first}-{}): {reason}",
            first + count - 1
        ),
        Finding::ActorMismatch { seq, actor, id, party } => format!(
            "seq {seq}: an event by {actor:?} inside submission {id:?} of the {party}, without a valid signature of its own"
        ),
        Finding::SignedKindUncovered { seq, kind, actor } => format!(
            "seq {seq}: {kind} by {actor} must be signed, and no valid event or submission signature covers it"
        ),
    }
}

/// What [`Coverage`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// The submission list itself is wrong (order, overlap, range, party).
    Invalid {
        /// Which entry (0-based) and why.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A submission's signature does not verify over its events.
    SignatureInvalid {
        /// Its id.
        id: String,
        /// Its party.
        party: String,
        /// Its first seq.
        first: u64,
        /// Its event count.
        count: u64,
        /// Why.
        reason: String,
    },
    /// An event in a party's submission emitted by another actor, without
    /// a valid signature of its own.
    ActorMismatch {
        /// The event.
        seq: u64,
        /// Its actor.
        actor: String,
        /// The submission's id.
        id: String,
        /// The submission's party.
        party: String,
    },
    /// An event of a `signed = true` kind that no valid signature covers.
    SignedKindUncovered {
        /// The event.
        seq: u64,
        /// Its kind.
        kind: String,
        /// Its actor.
        actor: String,
    },
}

/// Per party: events, and how many a valid signature covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events emitted in this party's name.
    pub events: u64,
    /// Of those, covered by a valid submission or event signature.
    pub attributed: u64,
    /// Seq of the first event not covered, if any.
    pub first_unattributed: Option<u64>,
}

impl Tally {
    /// Notes that event `seq` is not covered: the least such seq is kept,
    /// whatever order the verdicts on signatures come in.
    fn unattributed(&mut self, seq: u64) {
        self.first_unattributed = Some(self.first_unattributed.map_or(seq, |s| s.min(seq)));
    }
}

/// The events of a submission's own party in it, that is, those its
/// signature attributes if it verifies. They all have the entry's party as
/// actor, so a count and the first seq say everything about them.
#[derive(Clone, Copy, Debug, Default)]
struct Own {
    count: u64,
    first: Option<u64>,
}

impl Own {
    fn push(&mut self, seq: u64) {
        self.count += 1;
        self.first.get_or_insert(seq);
    }
}

struct Open {
    index: usize,
    hasher: Hasher,
    /// Events of the party in it (counted as attributed if it verifies).
    own: Own,
    /// Signed-kind events in it without their own signature.
    signed_kinds: Vec<(u64, String, String)>,
}

/// A submission whose last event was read, waiting for the verdict on its
/// signature (checked here, or on a [`Checkers`] thread).
struct Closed {
    /// The submission's entry, its signature moved out to the check.
    entry: Entry,
    own: Own,
    signed_kinds: Vec<(u64, String, String)>,
    verdict: Option<Result<(), String>>,
}

/// What the walk found, in the order a sequential walk finds it. Effects
/// are applied strictly in this order, whatever order the signature
/// checks finish in, so findings and tallies do not depend on timing.
enum Effect {
    Finding(Finding),
    Closed(Closed),
}

/// One signature check for a [`Checkers`] thread: the ticket is the
/// absolute position of its [`Effect::Closed`] in the walk's effects.
struct Job {
    ticket: u64,
    sig: Vec<u8>,
    digest: [u8; 32],
    party: String,
    key: VerifyingKey,
}

/// Signatures checked per message to a checker thread.
const JOB_BATCH: usize = 64;
/// Effects held back at most before the walk waits for the checkers (this
/// bounds the memory the overlap costs).
const MAX_PENDING: usize = 1 << 14;

/// Threads that check submission signatures while the walk goes on.
struct Checkers {
    jobs: Option<std::sync::mpsc::SyncSender<Vec<Job>>>,
    results: std::sync::mpsc::Receiver<Vec<(u64, Result<(), String>)>>,
    batch: Vec<Job>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Checkers {
    fn spawn(n: usize) -> Checkers {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Vec<Job>>(2 * n.max(1));
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let (tx, results) = std::sync::mpsc::channel();
        let threads = (0..n.max(1))
            .map(|_| {
                let rx = rx.clone();
                let tx = tx.clone();
                std::thread::spawn(move || loop {
                    // The lock is only held to take the next batch.
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(batch)) = next else {
                        return;
                    };
                    let done: Vec<(u64, Result<(), String>)> = batch
                        .into_iter()
                        .map(|j| {
                            let r = verify(&j.sig, &j.digest, &j.party, &j.key)
                                .map_err(|e| e.to_string());
                            (j.ticket, r)
                        })
                        .collect();
                    if tx.send(done).is_err() {
                        return;
                    }
                })
            })
            .collect();
        Checkers {
            jobs: Some(jobs),
            results,
            batch: Vec::with_capacity(JOB_BATCH),
            threads,
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(JOB_BATCH));
        if let Some(jobs) = &self.jobs {
            // Fails only when every checker stopped; the waiting side then
            // finds the results missing and says so.
            let _ = jobs.send(batch);
        }
    }
}

impl Drop for Checkers {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Attribution of a log's events, streamed: which submission or event
/// signature covers each event, and whether each submission verifies.
///
/// Give it the key each party's signatures are checked with, the
/// submissions (in seq order, each before its first event) and every
/// event in seq order with whether its own signature verified;
/// [`Coverage::finish`] returns the per-party tallies. Findings accumulate
/// in [`Coverage::findings`].
///
/// It holds an entry only until the walk is past its first event (or its
/// last, for the one open), so given each entry just before its events it
/// holds one, however long the log. The duplicate check's 32-byte hash of
/// each (party, id) is held in memory up to [`IDS_IN_MEMORY`] of them,
/// then in a temporary file ([`crate::disk_map`]), so memory does not
/// grow with the number of submissions either.
pub struct Coverage {
    contract_id: String,
    /// The entries not passed yet: from the one open (or the next to
    /// open) on. An entry is dropped once the walk is past its first
    /// event, so a walk that is given each entry just before its events
    /// holds one, however many there are.
    entries: std::collections::VecDeque<Entry>,
    /// The index (among all entries added) of `entries[0]`.
    base: usize,
    /// Entries found invalid (they cover nothing), among those held.
    invalid: std::collections::BTreeSet<usize>,
    /// The (party, id) of every submission added, as 32-byte hashes: one
    /// id twice is a finding.
    ids: IdSet,
    end: u64,
    log_size: u64,
    keys: std::collections::BTreeMap<String, VerifyingKey>,
    signed_kinds: std::collections::BTreeSet<String>,
    next: usize,
    seq: u64,
    open: Option<Open>,
    tallies: std::collections::BTreeMap<String, Tally>,
    findings: Vec<Finding>,
    finding_count: u64,
    /// Effects not applied yet: the first waits for a signature check.
    pending: std::collections::VecDeque<Effect>,
    /// Absolute position of `pending[0]` among all effects.
    pending_base: u64,
    /// At most this many effects wait for checkers ([`MAX_PENDING`]).
    max_pending: usize,
    checkers: Option<Checkers>,
}

/// Applies `f` to `actor`'s tally, adding the tally if it is the actor's
/// first event (the name is only copied then: this runs for every event).
fn tally(
    tallies: &mut std::collections::BTreeMap<String, Tally>,
    actor: &str,
    f: impl FnOnce(&mut Tally),
) {
    match tallies.get_mut(actor) {
        Some(t) => f(t),
        None => f(tallies.entry(actor.to_owned()).or_default()),
    }
}

/// How many submissions' (party, id) hashes [`Coverage`] holds in memory
/// (about 4 MiB); past that they go to a temporary file a batch at a time.
pub const IDS_IN_MEMORY: usize = 1 << 16;

/// The (party, id) hashes of the submissions added, in a [`Buffered`]
/// map whose file is made in the temporary directory when its memory
/// first fills.
struct IdSet {
    ids: Buffered<0>,
    /// Why the set cannot answer any more (an I/O error): every later
    /// answer is that error, never a guess.
    broken: Option<String>,
}

impl IdSet {
    fn new() -> IdSet {
        IdSet::in_dir(&std::env::temp_dir(), IDS_IN_MEMORY)
    }

    fn in_dir(dir: &std::path::Path, in_memory: usize) -> IdSet {
        IdSet {
            ids: Buffered::new(dir, in_memory),
            broken: None,
        }
    }

    /// Adds `key`: whether it is new.
    fn insert(&mut self, key: [u8; 32]) -> Result<bool, String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        let added = match self.ids.get(&key) {
            Ok(Some(_)) => Ok(false),
            Ok(None) => self.ids.insert_many(&[(key, [])]).map(|()| true),
            Err(e) => Err(e),
        }
        .map_err(|e| {
            format!(
                "the temporary file of submission ids in {}: {e}",
                self.ids.dir().display()
            )
        });
        if let Err(why) = &added {
            self.broken = Some(why.clone());
        }
        added
    }
}

/// SHA-256 of a (party, id) pair, length-prefixed so no two pairs share
/// the bytes hashed.
fn party_id_key(party: &str, id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((party.len() as u64).to_be_bytes());
    h.update(party.as_bytes());
    h.update(id.as_bytes());
    h.finalize().into()
}

/// Most findings kept (the count goes on).
pub const MAX_FINDINGS: usize = 64;

impl Coverage {
    /// A walker for `contract`, checking each party's signatures with
    /// `keys` (role or attestor id to key; the recorder is not a
    /// submitting party). `log_size` bounds the ranges (`u64::MAX` when
    /// not known yet).
    pub fn new(
        contract: &cfr_contract::Contract,
        keys: std::collections::BTreeMap<String, VerifyingKey>,
        log_size: u64,
    ) -> Coverage {
        Coverage {
            contract_id: contract.id.clone(),
            entries: Default::default(),
            base: 0,
            invalid: Default::default(),
            ids: IdSet::new(),
            end: 0,
            log_size,
            keys,
            signed_kinds: contract
                .events
                .iter()
                .filter(|(_, s)| s.signed)
                .map(|(k, _)| k.clone())
                .collect(),
            next: 0,
            seq: 0,
            open: None,
            tallies: Default::default(),
            findings: Vec::new(),
            finding_count: 0,
            pending: Default::default(),
            pending_base: 0,
            max_pending: MAX_PENDING,
            checkers: None,
        }
    }

    /// Checks the submissions' signatures on `threads` threads while the
    /// walk goes on (a verifier on two cores checks signatures on the core
    /// the rest leaves idle). Findings, tallies and their order are the
    /// same as without: results are applied in the walk's order.
    pub fn with_checkers(mut self, threads: usize) -> Coverage {
        if threads > 0 {
            self.checkers = Some(Checkers::spawn(threads));
        }
        self
    }

    /// [`Coverage::new`] with every entry added.
    pub fn with_entries(
        contract: &cfr_contract::Contract,
        keys: std::collections::BTreeMap<String, VerifyingKey>,
        log_size: u64,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Coverage {
        let mut c = Coverage::new(contract, keys, log_size);
        for e in entries {
            c.add(e);
        }
        c
    }

    /// Adds the next submission (in seq order; before its first event is
    /// pushed, and best just before, so that it is held the least time).
    /// An entry that does not fit is a finding and covers nothing.
    pub fn add(&mut self, e: Entry) {
        let i = self.added();
        let floor = self.end.max(self.seq);
        let reason = if e.first < floor {
            Some(format!(
                "submission {:?} starts at seq {}, inside the previous submission or before events already read (seq {floor})",
                e.id, e.first
            ))
        } else if e.end() > self.log_size {
            Some(format!(
                "submission {:?} covers seqs {}-{}, beyond the log's {} events",
                e.id,
                e.first,
                e.end() - 1,
                self.log_size
            ))
        } else if !self.keys.contains_key(&e.party) {
            Some(format!(
                "submission {:?} is by {:?}, which is not a submitting party of the contract",
                e.id, e.party
            ))
        } else {
            match self.ids.insert(party_id_key(&e.party, &e.id)) {
                Ok(true) => None,
                Ok(false) => Some(format!(
                    "submission id {:?} of the {} appears twice",
                    e.id, e.party
                )),
                Err(why) => Some(format!(
                    "submission id {:?} of the {} could not be checked against the ids before it: {why}",
                    e.id, e.party
                )),
            }
        };
        if let Some(reason) = reason {
            self.invalid.insert(i);
            self.find(Finding::Invalid { index: i, reason });
        } else {
            self.end = e.end();
        }
        self.entries.push_back(e);
    }

    /// How many entries were added.
    pub fn added(&self) -> usize {
        self.base + self.entries.len()
    }

    /// The entry of index `i` (among all added), if still held.
    fn entry(&self, i: usize) -> Option<&Entry> {
        i.checked_sub(self.base).and_then(|k| self.entries.get(k))
    }

    /// Drops the entries before index `keep`: the walk is past them.
    fn drop_before(&mut self, keep: usize) {
        while self.base < keep && self.entries.pop_front().is_some() {
            self.invalid.remove(&self.base);
            self.base += 1;
        }
    }

    fn find(&mut self, f: Finding) {
        if self.pending.is_empty() {
            self.record(f);
        } else {
            self.pending.push_back(Effect::Finding(f));
        }
    }

    fn record(&mut self, f: Finding) {
        self.finding_count += 1;
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        }
    }

    /// Applies the effects whose verdicts are in, in order; with `wait`,
    /// waits for verdicts until at most `keep` effects are left.
    fn apply_ready(&mut self, wait: bool, keep: usize) {
        loop {
            self.take_results(false);
            while matches!(
                self.pending.front(),
                Some(
                    Effect::Finding(_)
                        | Effect::Closed(Closed {
                            verdict: Some(_),
                            ..
                        })
                )
            ) {
                self.pending_base += 1;
                match self.pending.pop_front() {
                    Some(Effect::Finding(f)) => self.record(f),
                    Some(Effect::Closed(c)) => self.apply_closed(c),
                    None => {}
                }
            }
            if !wait || self.pending.len() <= keep {
                return;
            }
            if let Some(c) = &mut self.checkers {
                c.flush();
            }
            self.take_results(true);
        }
    }

    /// Fills in the verdicts that arrived; with `block`, waits for one
    /// batch first.
    fn take_results(&mut self, block: bool) {
        let Some(c) = &self.checkers else {
            return;
        };
        let mut got = Vec::new();
        if block {
            match c.results.recv() {
                Ok(r) => got.push(r),
                Err(_) => {
                    // Every checker stopped (they do not, short of a
                    // panic): what was not checked is not valid.
                    for e in &mut self.pending {
                        if let Effect::Closed(Closed {
                            verdict: v @ None, ..
                        }) = e
                        {
                            *v = Some(Err("the signature check did not complete".into()));
                        }
                    }
                    return;
                }
            }
        }
        while let Ok(r) = c.results.try_recv() {
            got.push(r);
        }
        for (ticket, verdict) in got.into_iter().flatten() {
            let at = ticket.checked_sub(self.pending_base).map(|i| i as usize);
            if let Some(Effect::Closed(c)) = at.and_then(|i| self.pending.get_mut(i)) {
                c.verdict = Some(verdict);
            }
        }
    }

    /// Waits for every signature check and applies what it found.
    pub fn settle(&mut self) {
        if let Some(c) = &mut self.checkers {
            c.flush();
        }
        self.apply_ready(true, 0);
    }

    /// The findings so far (at most [`MAX_FINDINGS`]), in the order of the
    /// events; with checkers, a finding about a signature still being
    /// checked is listed once it is checked ([`Coverage::settle`] waits).
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// How many findings there were in all.
    pub fn finding_count(&self) -> u64 {
        self.finding_count
    }

    /// The next event, in seq order. `own_sig` is `None` when the event
    /// carries no signature of its own, else whether it verified.
    pub fn push(&mut self, e: &Event, own_sig: Option<bool>) {
        self.seq = e.seq.saturating_add(1);
        // Open the submission that starts here, skipping invalid ones
        // that were already reported (they cover nothing).
        if self.open.is_none() {
            while let Some(entry) = self
                .next
                .checked_sub(self.base)
                .and_then(|k| self.entries.get(k))
            {
                if entry.first > e.seq {
                    break;
                }
                let index = self.next;
                self.next += 1;
                if entry.first == e.seq && !self.invalid.contains(&index) {
                    self.open = Some(Open {
                        index,
                        hasher: Hasher::new(&entry.party, &entry.id, entry.count),
                        own: Own::default(),
                        signed_kinds: Vec::new(),
                    });
                    break;
                }
            }
            // Those passed over cover nothing (invalid, or their first
            // event is not in the log): nothing looks at them again.
            let keep = self.open.as_ref().map_or(self.next, |o| o.index);
            self.drop_before(keep);
        }
        let own_valid = own_sig == Some(true);
        let submitting = e.actor != "recorder";
        if submitting {
            tally(&mut self.tallies, &e.actor, |t| t.events += 1);
        }
        match &mut self.open {
            Some(open) => {
                open.hasher.push(e);
                let entry = &self.entries[open.index - self.base];
                if own_valid {
                    tally(&mut self.tallies, &e.actor, |t| t.attributed += 1);
                } else if e.actor == entry.party {
                    open.own.push(e.seq);
                    if self.signed_kinds.contains(&e.kind) {
                        open.signed_kinds
                            .push((e.seq, e.kind.clone(), e.actor.clone()));
                    }
                } else {
                    let f = Finding::ActorMismatch {
                        seq: e.seq,
                        actor: e.actor.clone(),
                        id: entry.id.clone(),
                        party: entry.party.clone(),
                    };
                    self.unattributed(e);
                    self.find(f);
                }
                if self
                    .open
                    .as_ref()
                    .is_some_and(|o| o.hasher.remaining() == 0)
                {
                    self.close();
                }
            }
            None => {
                if own_valid {
                    tally(&mut self.tallies, &e.actor, |t| t.attributed += 1);
                } else if submitting {
                    self.unattributed(e);
                }
            }
        }
    }

    fn unattributed(&mut self, e: &Event) {
        tally(&mut self.tallies, &e.actor, |t| t.unattributed(e.seq));
        if self.signed_kinds.contains(&e.kind) {
            let f = Finding::SignedKindUncovered {
                seq: e.seq,
                kind: e.kind.clone(),
                actor: e.actor.clone(),
            };
            self.find(f);
        }
    }

    fn close(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        // The open entry is the first held; the walk is past it now.
        self.drop_before(open.index);
        debug_assert_eq!(self.base, open.index);
        let Some(mut entry) = self.entries.pop_front() else {
            // Not reached: the open entry is held until here. Its events
            // were counted and stay unattributed.
            return;
        };
        self.invalid.remove(&self.base);
        self.base += 1;
        let digest = open.hasher.finish(&self.contract_id);
        let ticket = self.pending_base + self.pending.len() as u64;
        let verdict = match (self.keys.get(&entry.party), &mut self.checkers) {
            (Some(key), Some(c)) => {
                c.batch.push(Job {
                    ticket,
                    sig: std::mem::take(&mut entry.sig),
                    digest,
                    party: entry.party.clone(),
                    key: *key,
                });
                if c.batch.len() >= JOB_BATCH {
                    c.flush();
                }
                None
            }
            (Some(key), None) => {
                Some(verify(&entry.sig, &digest, &entry.party, key).map_err(|e| e.to_string()))
            }
            (None, _) => Some(Err(format!("no key for {:?}", entry.party))),
        };
        let closed = Closed {
            entry,
            own: open.own,
            signed_kinds: open.signed_kinds,
            verdict,
        };
        if self.pending.is_empty() && closed.verdict.is_some() {
            self.apply_closed(closed);
        } else {
            self.pending.push_back(Effect::Closed(closed));
            let wait = self.pending.len() > self.max_pending;
            self.apply_ready(wait, self.max_pending / 2);
        }
    }

    /// Applies a closed submission's verdict; only ever called once every
    /// effect before it was applied (so `record`, not `find`).
    fn apply_closed(&mut self, open: Closed) {
        let entry = open.entry;
        let verdict = open.verdict.unwrap_or_else(|| Err("not checked".into()));
        match verdict {
            Ok(()) => {
                if open.own.count > 0 {
                    let n = open.own.count;
                    tally(&mut self.tallies, &entry.party, |t| t.attributed += n);
                }
            }
            Err(reason) => {
                if let Some(seq) = open.own.first {
                    tally(&mut self.tallies, &entry.party, |t| t.unattributed(seq));
                }
                let f = Finding::SignatureInvalid {
                    id: entry.id,
                    party: entry.party,
                    first: entry.first,
                    count: entry.count,
                    reason,
                };
                self.record(f);
                for (seq, kind, actor) in open.signed_kinds {
                    self.record(Finding::SignedKindUncovered { seq, kind, actor });
                }
            }
        }
    }

    /// Per party (role or attestor id), its events and how many are
    /// attributed; the findings, how many there were in all, and how many
    /// entries were added. Call after the last event.
    pub fn finish(
        mut self,
    ) -> (
        std::collections::BTreeMap<String, Tally>,
        Vec<Finding>,
        u64,
        u64,
    ) {
        self.settle();
        self.checkers = None;
        if let Some(open) = self.open.take() {
            let id = self
                .entry(open.index)
                .map(|e| e.id.clone())
                .unwrap_or_default();
            let f = Finding::Invalid {
                index: open.index,
                reason: format!("submission {id:?} ends after the log's last event"),
            };
            self.find(f);
        }
        let added = self.added() as u64;
        (self.tallies, self.findings, self.finding_count, added)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cfr_model::{Attrs, Value};

    fn ev(kind: &str, actor: &str) -> Event {
        let mut attrs = Attrs::new();
        attrs.insert("id", Value::Text("r-1".into()));
        Event {
            seq: 9,
            time: 5,
            kind: kind.into(),
            actor: actor.into(),
            attrs,
            sig: None,
        }
    }

    #[test]
    fn digest_is_the_sha256_of_the_canonical_map() {
        // Built independently with ciborium's Value and sorted keys.
        use coset::cbor::Value as V;
        let events = [ev("request", "user"), ev("heartbeat", "user")];
        let signed = |e: &Event| {
            V::Map(vec![
                (V::Text("kind".into()), V::Text(e.kind.clone())),
                (V::Text("actor".into()), V::Text(e.actor.clone())),
                (
                    V::Text("attrs".into()),
                    V::Map(vec![(V::Text("id".into()), V::Text("r-1".into()))]),
                ),
            ])
        };
        let map = V::Map(vec![
            (V::Text("id".into()), V::Text("s-1".into())),
            (V::Text("ctx".into()), V::Text(CONTEXT.into())),
            (V::Text("party".into()), V::Text("user".into())),
            (
                V::Text("events".into()),
                V::Array(events.iter().map(signed).collect()),
            ),
            (V::Text("contract".into()), V::Text("c-1".into())),
        ]);
        let mut bytes = Vec::new();
        coset::cbor::ser::into_writer(&map, &mut bytes).unwrap();
        let want: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(digest("c-1", "user", "s-1", events.iter()), want);
    }

    #[test]
    fn sign_verify_and_refuse() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let other = SigningKey::from_bytes(&[4; 32]);
        let d = digest("c", "user", "s", [ev("request", "user")].iter());
        let sig = sign(&key, &d);
        verify(&sig, &d, "user", &key.verifying_key()).unwrap();
        assert!(matches!(
            verify(&sig, &d, "user", &other.verifying_key()),
            Err(SigError::Invalid { .. })
        ));
        let mut d2 = d;
        d2[0] ^= 1;
        assert!(verify(&sig, &d2, "user", &key.verifying_key()).is_err());
        for cut in 0..sig.len() {
            assert!(parse(&sig[..cut]).is_err());
        }
    }

    #[test]
    fn entries_round_trip_strictly() {
        let e = Entry {
            party: "provider".into(),
            id: "p-1".into(),
            first: 3,
            count: 2,
            sig: vec![1, 2, 3],
        };
        let mut buf = Vec::new();
        e.encode_into(&mut buf);
        e.encode_into(&mut buf);
        assert_eq!(decode_seq(&buf).unwrap(), vec![e.clone(), e]);
        assert!(decode_seq(&buf[..buf.len() - 1]).is_err());
    }

    /// A log of runs of three events by the user, the provider and the
    /// grid (an attestor whose `outage` kind must be signed), each run one
    /// submission; some signatures are bad, some submissions hold another
    /// party's event, and one id repeats: more findings than are kept.
    fn walk(checkers: usize, max_pending: usize) -> (String, u64) {
        let (tallies, findings, count, held) = walk_with(checkers, max_pending, false);
        assert_eq!(held, 400, "given all first, all are held before the walk");
        (format!("{tallies}\n{findings:#?}"), count)
    }

    /// The walk of [`walk`]: with `just_in_time`, each entry is added just
    /// before its first event (as verify and seal do) instead of all
    /// first. Returns the tallies, the findings, their count and the most
    /// entries the walker held at once.
    /// Across the move to disk, every key added before is known, in
    /// memory or on disk, and new keys are new.
    #[test]
    fn submission_ids_moved_to_disk_are_still_found_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = IdSet::in_dir(dir.path(), 100);
        let key = |i: u64| party_id_key("user", &format!("s-{i}"));
        for i in 0..1000 {
            assert_eq!(set.insert(key(i)), Ok(true), "s-{i}");
        }
        assert!(set.ids.on_disk());
        assert!(set.ids.in_memory() < 100);
        for i in (0..1000).step_by(3) {
            assert_eq!(set.insert(key(i)), Ok(false), "s-{i} again");
        }
        assert_eq!(set.insert(party_id_key("provider", "s-1")), Ok(true));
        // The temporary file is unlinked.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// A set that cannot make its file answers with the error from then
    /// on, and a walk names it as a finding: never "no duplicate".
    #[test]
    fn submission_ids_that_cannot_be_moved_to_disk_are_a_finding() {
        let contract = cfr_contract::Contract::from_toml(include_str!(
            "../../../samples/storage-month/contract.toml"
        ))
        .unwrap();
        let key = SigningKey::from_bytes(&[3; 32]);
        let keys = [("user".to_owned(), key.verifying_key())].into();
        let mut c = Coverage::new(&contract, keys, 100);
        c.ids = IdSet::in_dir(std::path::Path::new("/nonexistent/cfr-test"), 3);
        for i in 0..5u64 {
            c.add(Entry {
                party: "user".into(),
                id: format!("s-{i}"),
                first: i,
                count: 1,
                sig: Vec::new(),
            });
        }
        let invalid: Vec<String> = c
            .findings()
            .iter()
            .filter_map(|f| match f {
                Finding::Invalid { index, reason } => Some(format!("{index}: {reason}")),
                _ => None,
            })
            .collect();
        assert_eq!(invalid.len(), 3, "{invalid:?}");
        assert!(
            invalid[0].starts_with(
                "2: submission id \"s-2\" of the user could not be checked against the ids before it: the temporary file of submission ids in /nonexistent/cfr-test:"
            ),
            "{invalid:?}"
        );
        assert!(
            invalid[2].starts_with("4: submission id \"s-4\""),
            "{invalid:?}"
        );
    }

    fn walk_with(
        checkers: usize,
        max_pending: usize,
        just_in_time: bool,
    ) -> (String, Vec<Finding>, u64, usize) {
        let contract = cfr_contract::Contract::from_toml(include_str!(
            "../../../samples/storage-month/contract.toml"
        ))
        .unwrap();
        let signer = |party: &str| {
            SigningKey::from_bytes(
                &[match party {
                    "user" => 3,
                    "provider" => 4,
                    _ => 5,
                }; 32],
            )
        };
        let keys: std::collections::BTreeMap<String, VerifyingKey> = ["user", "provider", "grid"]
            .iter()
            .map(|p| (p.to_string(), signer(p).verifying_key()))
            .collect();
        let (mut events, mut entries) = (Vec::new(), Vec::new());
        for run in 0..400u64 {
            let party = ["user", "provider", "grid"][run as usize % 3];
            let kind = ["request", "response", "outage"][run as usize % 3];
            let first = events.len() as u64;
            for i in 0..3u64 {
                let mut e = ev(kind, party);
                e.seq = first + i;
                if run % 11 == 5 && i == 1 {
                    e.actor = "user".into();
                }
                events.push(e);
            }
            let id = if run == 200 {
                "s-2".to_owned() // run 2 is the grid's too: a repeated id
            } else {
                format!("s-{run}")
            };
            let mut d = digest(&contract.id, party, &id, events[first as usize..].iter());
            if run % 7 == 3 {
                d[0] ^= 1;
            }
            entries.push(Entry {
                party: party.into(),
                id,
                first,
                count: 3,
                sig: sign(&signer(party), &d),
            });
        }
        let n = entries.len();
        let mut entries = entries.into_iter().peekable();
        let mut c = Coverage::new(&contract, keys, events.len() as u64).with_checkers(checkers);
        c.max_pending = max_pending;
        let mut held = 0;
        for e in &events {
            while let Some(x) = entries.next_if(|x| !just_in_time || x.first <= e.seq) {
                c.add(x);
            }
            held = held.max(c.entries.len());
            c.push(e, None);
        }
        let (tallies, findings, count, added) = c.finish();
        assert_eq!(added, n as u64);
        (format!("{tallies:?}"), findings, count, held)
    }

    #[test]
    fn a_walk_given_each_entry_before_its_events_holds_one_and_finds_the_same() {
        let (tallies, findings, count, held) = walk_with(0, MAX_PENDING, false);
        assert_eq!(held, 400);
        let lazy = walk_with(0, MAX_PENDING, true);
        let (t, f, n, h) = &lazy;
        assert_eq!(*h, 1, "entries held at once");
        assert_eq!((t, *n), (&tallies, count));
        // The same findings in the same order, but for an invalid entry's:
        // it comes where the walk reaches the entry instead of before
        // every event's (and so, here, past the 64 kept).
        let not_invalid = |f: &[Finding]| -> Vec<Finding> {
            f.iter()
                .filter(|f| !matches!(f, Finding::Invalid { .. }))
                .cloned()
                .collect()
        };
        let (all_first, as_reached) = (not_invalid(&findings), not_invalid(f));
        assert!(findings
            .iter()
            .any(|f| matches!(f, Finding::Invalid { .. })));
        assert!(all_first.len() >= MAX_FINDINGS - 1);
        assert_eq!(as_reached[..all_first.len()], all_first[..]);
        // Checked on other threads, it finds the same.
        for (threads, max_pending) in [(2, MAX_PENDING), (2, 1)] {
            assert_eq!(walk_with(threads, max_pending, true), lazy);
        }
    }

    #[test]
    fn signatures_checked_on_other_threads_find_the_same_in_the_same_order() {
        let (sequential, count) = walk(0, MAX_PENDING);
        assert!(count > MAX_FINDINGS as u64, "{count} findings");
        assert!(sequential.contains("SignatureInvalid"), "{sequential}");
        assert!(sequential.contains("ActorMismatch"), "{sequential}");
        assert!(sequential.contains("SignedKindUncovered"), "{sequential}");
        for (threads, max_pending) in [(1, MAX_PENDING), (2, MAX_PENDING), (3, 4), (2, 1)] {
            assert_eq!(walk(threads, max_pending), (sequential.clone(), count));
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("a").is_ok());
        assert!(check_id(&"x".repeat(64)).is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(&"x".repeat(65)).is_err());
        assert!(check_id("a b").is_err());
    }
}
