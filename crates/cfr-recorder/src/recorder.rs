//! The log directory and the group-committing recorder over it.

use crate::acked;
use crate::error::NotTorn;
use crate::error::{
    AppendError, CheckpointError, InitError, OpenError, ProofError, ReadError, RepairError,
};
use crate::nodes::{Column, FileNodes};
use crate::retry::{Retries, BULK};
use crate::segment::{self, Record};
use crate::store::{Batch, Loaded, Prev, Role, Row, Store};
use crate::submission::{content_digest, Submission, Verified};
use cfr_bundle_format::submission::Entry;
use cfr_contract::Contract;
use cfr_merkle::{Checkpoint, Hash, SignedCheckpoint, Tree};
use cfr_model::keys::SigningKey;
use cfr_model::Event;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The contract file inside a log directory.
pub const CONTRACT_FILE: &str = "contract.toml";
/// The lock file.
pub const LOCK_FILE: &str = "LOCK";
/// The segments directory.
pub const SEGMENTS_DIR: &str = "segments";
/// The last signed checkpoint (a C2SP signed note).
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// Where torn tails cut on open are kept.
pub const TORN_DIR: &str = "torn";
/// Where `repair` moves a corrupt tail.
pub const QUARANTINE_DIR: &str = "quarantine";

/// Most bytes one group-commit write adds; a request alone may add at most
/// half of it. A torn tail can only be the last write, so on open a bad
/// record followed by no more than this many bytes is a torn tail; beyond
/// it, corruption.
pub const MAX_BATCH_BYTES: u64 = 32 << 20;
/// Most bytes one request's records may take.
pub const MAX_REQUEST_BYTES: u64 = MAX_BATCH_BYTES / 2;

/// Adds witness cosignatures to a checkpoint before the recorder
/// publishes it (uses it in receipts, serves it, seals it): the recorder
/// calls it once per group commit that acknowledges signed submissions,
/// and acknowledges nothing of that commit unless it succeeds.
pub trait Cosigner: Send + Sync {
    /// Returns `checkpoint` with the cosignatures a quorum of witnesses
    /// gave it. `old_size` is the size of the last checkpoint published,
    /// `proof` the consistency proof from it to `checkpoint`; `proof_for`
    /// gives the consistency proof from any other size (a witness that
    /// knows another size answers with it).
    fn cosign(
        &self,
        checkpoint: &SignedCheckpoint,
        old_size: u64,
        proof: &[Hash],
        proof_for: &(dyn Fn(u64) -> Result<Vec<Hash>, String> + Sync),
    ) -> Result<SignedCheckpoint, String>;
}

/// Witnesses over HTTP (C2SP tlog-witness): a quorum of verified
/// `cosignature/v1` lines, or an error naming each witness that did not
/// cosign and why.
impl Cosigner for cfr_witness::WitnessSet {
    fn cosign(
        &self,
        checkpoint: &SignedCheckpoint,
        old_size: u64,
        proof: &[Hash],
        proof_for: &(dyn Fn(u64) -> Result<Vec<Hash>, String> + Sync),
    ) -> Result<SignedCheckpoint, String> {
        cfr_witness::WitnessSet::cosign(self, checkpoint, old_size, proof, proof_for)
            .map_err(|e| e.to_string())
    }
}

/// How to open a log.
#[derive(Clone)]
pub struct RecorderOptions {
    /// The recorder's key (the contract's `recorder` key); without it the
    /// recorder appends and proves but cannot sign checkpoints.
    pub key: Option<SigningKey>,
    /// A new segment is started once the current one reaches this size.
    pub segment_bytes: u64,
    /// Most events in one group commit.
    pub max_batch_events: usize,
    /// Most requests waiting for the writer before appends block.
    pub queue: usize,
    /// Witnesses whose cosignatures every published checkpoint needs.
    pub cosigner: Option<Arc<dyn Cosigner>>,
    /// For a PostgreSQL store: when another recorder sequences the log,
    /// open anyway as a standby (appends are answered with
    /// [`AppendError::Standby`]) that takes over when the other one's
    /// lock is released, instead of failing with [`OpenError::Locked`].
    /// The file store ignores it.
    pub standby: bool,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            key: None,
            segment_bytes: 16 << 20,
            max_batch_events: 65_536,
            queue: 4096,
            cosigner: None,
            standby: false,
        }
    }
}

/// An acknowledgement: the event is on disk at `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The event's position in the log.
    pub seq: u64,
    /// Recorder time, ns since the epoch.
    pub time: i64,
    /// The RFC 9162 leaf hash of the event's canonical CBOR.
    pub leaf: Hash,
    /// True when the id had been appended before and this is the original receipt.
    pub duplicate: bool,
}

/// What the recorder answers a signed submission with, once it is durable.
///
/// The receipt's checkpoint is signed right after the group commit that
/// made the events durable, over a tree that holds them (and every event
/// acknowledged before), and written to the `checkpoint` file before the
/// answer; every event under it is already below the acknowledgement
/// mark, which no recovery cuts, so any checkpoint signed later, after a
/// crash too, extends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    /// Each event's seq, time and leaf hash, in order.
    pub events: Vec<Receipt>,
    /// The `cfr-receipt/1`: `None` only when the recorder was opened
    /// without its key (it cannot sign checkpoints).
    pub receipt: Option<cfr_bundle_format::receipt::Receipt>,
    /// True when the submission had been appended before and this is the
    /// original acknowledgement (against a newer checkpoint).
    pub duplicate: bool,
}

impl std::ops::Deref for Acknowledged {
    type Target = [Receipt];
    fn deref(&self) -> &[Receipt] {
        &self.events
    }
}

/// An inclusion proof of one event in the tree of `size` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The event's seq (leaf index).
    pub seq: u64,
    /// The tree size proved against.
    pub size: u64,
    /// The event's leaf hash.
    pub leaf: Hash,
    /// The root of the tree of `size` events.
    pub root: Hash,
    /// RFC 9162 audit path, leaf up.
    pub path: Vec<Hash>,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// Root at `from`.
    pub from_root: Hash,
    /// Root at `to`.
    pub to_root: Hash,
    /// RFC 9162 consistency path.
    pub path: Vec<Hash>,
}

/// What opening found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Events in the log.
    pub events: u64,
    /// Segments read.
    pub segments: usize,
    /// A torn tail that was cut: where it was kept and how many bytes.
    pub torn_tail: Option<(PathBuf, u64)>,
    /// The size of the last signed checkpoint, if any.
    pub checkpoint_size: Option<u64>,
    /// Events the recorder had acknowledged before this open (the
    /// acknowledgement mark; for a log written before the mark existed,
    /// the size of its last signed checkpoint).
    pub acknowledged: u64,
}

/// Creates a log directory bound to the contract `contract_toml`.
pub fn init(dir: &Path, contract_toml: &str) -> Result<(), InitError> {
    Contract::from_toml(contract_toml)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(InitError::NotEmpty {
                path: dir.to_owned(),
            });
        }
    } else {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let segs = dir.join(SEGMENTS_DIR);
    std::fs::create_dir(&segs).map_err(io(&segs))?;
    create_segment(&segs, 0).map_err(io(&segs))?;
    acked::MarkFile::open(dir, None).map_err(io(&dir.join(acked::ACKED_FILE)))?;
    write_atomically(&dir.join(CONTRACT_FILE), contract_toml.as_bytes()).map_err(io(dir))?;
    sync_dir(dir).map_err(io(dir))?;
    Ok(())
}

/// Writes `data` to a temporary file, syncs it, renames it over `path`
/// and syncs the directory.
pub(crate) fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates segment `first` with its header (via a synced temporary file
/// and a rename, so a segment file always has a whole header).
fn create_segment(segs: &Path, first: u64) -> std::io::Result<PathBuf> {
    let path = segs.join(segment::segment_name(first));
    let tmp = segs.join(format!(".{}.tmp", segment::segment_name(first)));
    let mut f = File::create(&tmp)?;
    f.write_all(&segment::header(first))?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    sync_dir(segs)?;
    Ok(path)
}

/// Refuses a key that is not the contract's recorder key.
fn check_key(opts: &RecorderOptions, contract: &Contract) -> Result<(), OpenError> {
    if let Some(key) = &opts.key {
        if key.verifying_key() != contract.parties.recorder.key.0 {
            return Err(OpenError::WrongKey {
                given: cfr_model::keys::fingerprint(&key.verifying_key()),
                contract: contract.parties.recorder.key.fingerprint(),
            });
        }
    }
    Ok(())
}

/// Segments of a log in order: `(first seq, path)`.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, OpenError> {
    let segs = dir.join(SEGMENTS_DIR);
    let rd = std::fs::read_dir(&segs).map_err(|_| OpenError::NotALog {
        path: dir.to_owned(),
    })?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| OpenError::Io {
            path: segs.clone(),
            source,
        })?;
        let name = entry.file_name();
        if let Some(first) = name.to_str().and_then(segment::parse_segment_name) {
            out.push((first, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn read_contract(dir: &Path) -> Result<(String, Contract), OpenError> {
    let path = dir.join(CONTRACT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            OpenError::NotALog {
                path: dir.to_owned(),
            }
        } else {
            OpenError::Io {
                path: path.clone(),
                source,
            }
        }
    })?;
    let contract = Contract::from_toml(&text).map_err(|source| OpenError::Contract {
        path,
        source: Box::new(source),
    })?;
    Ok((text, contract))
}

/// The first bad record of a log.
struct Bad {
    /// Index of its segment in [`Walk::segments`].
    segment: usize,
    /// Its byte offset in that segment.
    offset: u64,
    /// The seq it would have.
    seq: u64,
    fault: segment::RecordFault,
    /// Bytes from it to the end of the log.
    bytes_after: u64,
    /// Whether a valid record follows it in its segment.
    after: segment::After,
}

/// A signed submission whose first record was read but not yet all of
/// its events.
struct Pending {
    /// Index of its segment in [`Walk::segments`].
    segment: usize,
    /// Byte offset of its first record.
    offset: u64,
    entry: Entry,
    records: Vec<Record>,
}

/// A submission at the end of the log with only some of its events: what
/// a torn group-commit write leaves.
struct Incomplete {
    segment: usize,
    offset: u64,
    seq: u64,
    entry: Entry,
    /// How many of its events are present.
    present: u64,
    /// Bytes from its first record to the end of the log.
    bytes_after: u64,
}

/// The result of walking every segment.
struct Walk {
    /// Segments in order with their clean lengths.
    segments: Vec<(u64, PathBuf, u64)>,
    /// The first bad record, if any.
    bad: Option<Bad>,
    /// A submission whose events stop before its count (before `bad`, or
    /// at the end of the log).
    incomplete: Option<Incomplete>,
    /// Segment files in the directory (including any after a bad record).
    total: usize,
    /// Events read (and given to `each`) before `bad` and `incomplete`.
    events: u64,
}

/// Reads every segment in order, calling `each` for every good record.
/// The records of a signed submission are given only once all of its
/// events were read. Changes nothing on disk.
fn walk(dir: &Path, each: impl FnMut(Record)) -> Result<Walk, OpenError> {
    walk_from(dir, 0, each)
}

/// [`walk`], from the segment that holds seq `from` on: the segments
/// wholly before it are not read (a submission never spans segments).
/// [`Walk::events`] still counts the events before that segment.
fn walk_from(dir: &Path, from: u64, mut each: impl FnMut(Record)) -> Result<Walk, OpenError> {
    let mut segs = list_segments(dir)?;
    let skip = segs
        .iter()
        .rposition(|(first, _)| *first <= from)
        .unwrap_or(0);
    segs.drain(..skip);
    let skipped = segs.first().map_or(0, |(first, _)| *first);
    let mut expected = skipped;
    let mut last_time = None;
    let mut out = Vec::new();
    let mut sizes = Vec::with_capacity(segs.len());
    for (_, path) in &segs {
        let len = std::fs::metadata(path)
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        sizes.push(len);
    }
    let mut pending: Option<Pending> = None;
    let mut delivered = skipped;
    let incomplete = |p: Pending, sizes: &[u64]| {
        let bytes_after = sizes[p.segment] - p.offset + sizes[p.segment + 1..].iter().sum::<u64>();
        Incomplete {
            segment: p.segment,
            offset: p.offset,
            seq: p.entry.first,
            present: p.records.len() as u64,
            entry: p.entry,
            bytes_after,
        }
    };
    for (i, (first, path)) in segs.iter().enumerate() {
        if *first != expected {
            return Err(OpenError::SegmentGap {
                path: path.clone(),
                expected,
                found: *first,
            });
        }
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?;
        segment::check_header(path, &bytes, *first)?;
        let bytes_from = |offset: u64| -> u64 {
            bytes.len() as u64 - offset + sizes[i + 1..].iter().sum::<u64>()
        };
        let mut structural = None;
        // Records are handled as the scan reads them: only a submission's
        // records wait (until all of its events were read), never a whole
        // segment's.
        let (good_len, fault) = segment::scan_each(&bytes, *first, last_time, |r| {
            if structural.is_some() {
                return;
            }
            expected = r.event.seq + 1;
            last_time = Some(r.event.time);
            if let Some(entry) = &r.entry {
                if let Some(p) = &pending {
                    structural = Some((
                        r.offset,
                        r.event.seq,
                        format!(
                            "a submission ({:?} of the {}) starts inside submission {:?} of the {}, which holds {} events from seq {}",
                            entry.id, entry.party, p.entry.id, p.entry.party, p.entry.count, p.entry.first
                        ),
                    ));
                    return;
                }
                pending = Some(Pending {
                    segment: i,
                    offset: r.offset,
                    entry: entry.clone(),
                    records: Vec::new(),
                });
            }
            match &mut pending {
                Some(p) => {
                    p.records.push(r);
                    if p.records.len() as u64 == p.entry.count {
                        for r in std::mem::take(&mut p.records) {
                            delivered += 1;
                            each(r);
                        }
                        pending = None;
                    }
                }
                None => {
                    delivered += 1;
                    each(r);
                }
            }
        });
        out.push((*first, path.clone(), good_len));
        if structural.is_none() && fault.is_none() && i + 1 < segs.len() {
            if let Some(p) = &pending {
                structural = Some((
                    p.offset,
                    p.entry.first,
                    format!(
                        "submission {:?} of the {} ({} events from seq {}) continues into the next segment, which the recorder never writes",
                        p.entry.id, p.entry.party, p.entry.count, p.entry.first
                    ),
                ));
            }
        }
        if let Some((offset, seq, reason)) = structural {
            return Ok(Walk {
                segments: out,
                bad: Some(Bad {
                    segment: i,
                    offset,
                    seq,
                    fault: segment::RecordFault::Submission { reason },
                    bytes_after: bytes_from(offset),
                    after: segment::After::Undecided,
                }),
                incomplete: None,
                events: delivered,
                total: segs.len(),
            });
        }
        if let Some(fault) = fault {
            let offset = good_len;
            let after = segment::after_bad_record(&bytes, offset as usize);
            return Ok(Walk {
                segments: out,
                bad: Some(Bad {
                    segment: i,
                    offset,
                    seq: expected,
                    fault,
                    bytes_after: bytes_from(offset),
                    after,
                }),
                incomplete: pending.map(|p| incomplete(p, &sizes)),
                events: delivered,
                total: segs.len(),
            });
        }
    }
    Ok(Walk {
        segments: out,
        bad: None,
        incomplete: pending.map(|p| incomplete(p, &sizes)),
        events: delivered,
        total: segs.len(),
    })
}

/// What the recorder has promised about a log: every event below
/// `acked` was acknowledged, every event below `signed` is under a signed
/// checkpoint (so `signed <= acked`).
struct Promised {
    acked: u64,
    signed: u64,
}

impl Promised {
    fn of(checkpoint: Option<&SignedCheckpoint>, mark: Option<acked::Mark>) -> Promised {
        let signed = checkpoint.map_or(0, |c| c.checkpoint().size);
        // A log written before the mark existed: at least its signed
        // checkpoint was acknowledged.
        let acked = mark.map_or(signed, |m| m.acked).max(signed);
        Promised { acked, signed }
    }
}

/// Why the bad record `bad` is not a torn tail, or `None` when it is one:
/// a torn write leaves an incomplete or checksum-failing last record, with
/// nothing valid after it, beyond every record the recorder acknowledged.
fn not_torn(bad: &Bad, segments: usize, promised: &Promised) -> Option<NotTorn> {
    use segment::{After, RecordFault};
    if bad.seq < promised.signed {
        return Some(NotTorn::Signed {
            checkpoint_size: promised.signed,
        });
    }
    if bad.seq < promised.acked {
        return Some(NotTorn::Acknowledged {
            acknowledged: promised.acked,
        });
    }
    if !matches!(
        bad.fault,
        RecordFault::Truncated | RecordFault::Checksum | RecordFault::BadLength { .. }
    ) {
        return Some(NotTorn::Intact);
    }
    if bad.segment + 1 != segments {
        return Some(NotTorn::LaterSegments {
            count: segments - bad.segment - 1,
        });
    }
    match bad.after {
        After::Nothing => None,
        After::Record(offset) => Some(NotTorn::ValidAfter { offset }),
        After::Undecided => Some(NotTorn::Undecided),
    }
}

fn read_mark(dir: &Path) -> Result<Option<acked::Mark>, OpenError> {
    let path = dir.join(acked::ACKED_FILE);
    acked::read(dir).map_err(|e| match e {
        acked::ReadMarkError::Io(source) => OpenError::Io { path, source },
        acked::ReadMarkError::Invalid => OpenError::AcknowledgedMark { path },
    })
}

fn read_checkpoint(dir: &Path, contract: &Contract) -> Result<Option<SignedCheckpoint>, OpenError> {
    let path = dir.join(CHECKPOINT_FILE);
    let note = match std::fs::read(&path) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OpenError::Io { path, source }),
    };
    let bad = |reason: String| OpenError::Checkpoint {
        path: path.clone(),
        reason,
    };
    let signed = SignedCheckpoint::parse(&note).map_err(|e| bad(e.to_string()))?;
    let origin = cfr_bundle_format::seal::origin(&contract.id);
    let cp = signed
        .verify(&origin, &contract.parties.recorder.key.0)
        .map_err(|e| bad(e.to_string()))?;
    if cp.origin != origin {
        return Err(bad(format!("origin {:?} is not {origin:?}", cp.origin)));
    }
    Ok(Some(signed))
}

/// What [`repair`] moved: bytes `offset..offset + bytes` of `from` (a
/// whole later segment when `offset` is 0 and it was renamed), now in `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The segment the bytes came from.
    pub from: PathBuf,
    /// Where they started in it.
    pub offset: u64,
    /// How many bytes.
    pub bytes: u64,
    /// The first seq the moved records would have had.
    pub first_seq: u64,
    /// Where they are now (in `quarantine/`).
    pub to: PathBuf,
}

/// Moves a bad tail aside: everything from the first bad record on (the
/// rest of its segment and every later segment) goes into `quarantine/`,
/// nothing is deleted. Refuses, changing nothing, when the bad record is
/// below the last signed checkpoint or below the acknowledgement mark
/// (those events were acknowledged: only a copy of the log can restore
/// them). Returns exactly what was moved, or an empty list when the log
/// has no bad record (a torn tail is cut by opening, not here).
///
/// A log in PostgreSQL has no torn tail and nothing to move: its
/// transactions are whole or absent. `repair` changes nothing there.
pub fn repair(dir: &Path) -> Result<Vec<Moved>, RepairError> {
    if crate::pg::read_config(dir)
        .map_err(RepairError::Open)?
        .is_some()
    {
        return Ok(Vec::new());
    }
    let lock = Lock::take(dir).map_err(RepairError::Open)?;
    let (_, contract) = read_contract(dir).map_err(RepairError::Open)?;
    let checkpoint = read_checkpoint(dir, &contract).map_err(RepairError::Open)?;
    let mark = read_mark(dir).map_err(RepairError::Open)?;
    let promised = Promised::of(checkpoint.as_ref(), mark);
    let w = walk(dir, |_| {}).map_err(RepairError::Open)?;
    let Some(bad) = w.bad else {
        return Ok(Vec::new());
    };
    if bad.seq < promised.signed {
        return Err(RepairError::WouldDropSigned {
            seq: bad.seq,
            checkpoint_size: promised.signed,
        });
    }
    if bad.seq < promised.acked {
        return Err(RepairError::WouldDropAcknowledged {
            seq: bad.seq,
            acknowledged: promised.acked,
        });
    }
    let q = dir.join(QUARANTINE_DIR);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RepairError::Io { path, source }
    };
    std::fs::create_dir_all(&q).map_err(io(&q))?;
    let stamp = now_ns();
    let mut moved = Vec::new();
    let (first, seg_path, _) = &w.segments[bad.segment];
    let seg_len = std::fs::metadata(seg_path).map_err(io(seg_path))?.len();
    let kept = q.join(format!(
        "{stamp}-seq{}-from-byte{}.bin",
        bad.seq, bad.offset
    ));
    copy_tail(seg_path, bad.offset, &kept).map_err(io(&kept))?;
    moved.push(Moved {
        from: seg_path.clone(),
        offset: bad.offset,
        bytes: seg_len - bad.offset,
        first_seq: bad.seq,
        to: kept,
    });
    let all = list_segments(dir).map_err(RepairError::Open)?;
    for (later, path) in all.iter().filter(|(f, _)| f > first) {
        let target = q.join(format!("{stamp}-{}", segment::segment_name(*later)));
        let bytes = std::fs::metadata(path).map_err(io(path))?.len();
        std::fs::rename(path, &target).map_err(io(path))?;
        moved.push(Moved {
            from: path.clone(),
            offset: 0,
            bytes,
            first_seq: *later,
            to: target,
        });
    }
    truncate(seg_path, bad.offset).map_err(io(seg_path))?;
    sync_dir(&dir.join(SEGMENTS_DIR)).map_err(io(dir))?;
    sync_dir(&q).map_err(io(&q))?;
    drop(lock);
    Ok(moved)
}

/// Copies `path[offset..]` into a new file `to` and syncs it.
fn copy_tail(path: &Path, offset: u64, to: &Path) -> std::io::Result<()> {
    let mut src = File::open(path)?;
    src.seek(SeekFrom::Start(offset))?;
    let mut dst = OpenOptions::new().write(true).create_new(true).open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.sync_all()?;
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The advisory lock on `LOCK`, released when dropped (or when the
/// process dies, even by SIGKILL).
struct Lock {
    _file: File,
}

impl Lock {
    fn take(dir: &Path) -> Result<Lock, OpenError> {
        if !dir.join(CONTRACT_FILE).exists() {
            return Err(OpenError::NotALog {
                path: dir.to_owned(),
            });
        }
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Lock { _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(OpenError::Locked { path }),
            Err(e) => Err(OpenError::Io {
                path,
                source: e.into(),
            }),
        }
    }
}

/// The index over the durable log: only events already synced to disk
/// are in it. The tree's nodes and the times ([`crate::nodes`]) and what
/// retries are answered with ([`crate::retry`]) are on disk, so memory
/// does not grow with the log.
pub(crate) struct Index {
    pub(crate) tree: Tree<FileNodes>,
    times: Column<8>,
    last_time: Option<i64>,
    /// Events by client id, and signed submissions by [`sub_key`] of
    /// (party, id).
    pub(crate) retries: Retries,
}

/// A signed submission's (party, id), as the index keys it: their
/// SHA-256, 32 bytes whatever the id's length.
pub(crate) type SubKey = [u8; 32];

/// The [`SubKey`] of `party`'s submission `id` (length-prefixed, so no
/// two pairs share the bytes hashed).
pub(crate) fn sub_key(party: &str, id: &str) -> SubKey {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update((party.len() as u64).to_be_bytes());
    h.update(party.as_bytes());
    h.update(id.as_bytes());
    h.finalize().into()
}

/// Where a signed submission's events are, and what was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first: u64,
    pub(crate) count: u64,
    pub(crate) digest: [u8; 32],
}

impl Index {
    /// An empty index, its files (unlinked) in `dir`.
    pub(crate) fn new(dir: &Path) -> std::io::Result<Index> {
        Ok(Index {
            tree: Tree::with_store(FileNodes::new(dir)?),
            times: Column::new(dir)?,
            last_time: None,
            retries: Retries::new(dir),
        })
    }

    /// Appends an event's leaf hash and time. On an error the index
    /// cannot hold the log any more: the caller stops.
    pub(crate) fn push(&mut self, leaf: Hash, time: i64) -> std::io::Result<()> {
        self.tree.try_push(leaf)?;
        self.times.push(time.to_le_bytes())?;
        self.last_time = Some(time);
        Ok(())
    }

    /// The time of event `seq` (`seq` below the size).
    pub(crate) fn time(&self, seq: u64) -> std::io::Result<i64> {
        self.times.get(seq).map(i64::from_le_bytes)
    }

    /// The number of events whose time is at or before `until` (times
    /// never decrease).
    fn count_until(&self, until: i64) -> std::io::Result<u64> {
        let (mut lo, mut hi) = (0, self.times.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.time(mid)? <= until {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    fn last_time(&self) -> Option<i64> {
        self.last_time
    }
}

struct Shared {
    dir: PathBuf,
    contract: Contract,
    contract_toml: String,
    key: Option<SigningKey>,
    cosigner: Option<Arc<dyn Cosigner>>,
    index: RwLock<Index>,
    /// The latest published checkpoint, stored before it is published
    /// here. Only the writer thread replaces it ([`Shared::publish`], or a
    /// commit that stores one in its transaction), with one over a larger
    /// prefix of the one append-only tree: so no two checkpoints it signs
    /// are inconsistent.
    checkpoint: Mutex<Option<SignedCheckpoint>>,
    stopped: Mutex<Option<String>>,
    /// Whether the writer is not sequencing now (a standby, or a store
    /// that cannot be reached).
    standby: Mutex<bool>,
}

impl Shared {
    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest published checkpoint.
    fn latest(&self) -> Option<SignedCheckpoint> {
        self.checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Signs the checkpoint of `size` and `root` with the recorder's key.
    fn sign(&self, size: u64, root: Hash) -> Result<SignedCheckpoint, CheckpointError> {
        let key = self.key.as_ref().ok_or(CheckpointError::NoKey)?;
        let origin = cfr_bundle_format::seal::origin(&self.contract.id);
        let cp = Checkpoint {
            origin: origin.clone(),
            size,
            root,
        };
        Ok(cp.sign(key, &origin)?)
    }

    /// Signs a checkpoint over every durable event (or returns the latest
    /// one if the log has not grown since), with the witnesses'
    /// cosignatures when a [`Cosigner`] is set, has `store` store it
    /// (compare-and-swap from the latest), and only then makes it the
    /// latest. Called by the writer thread only.
    fn publish(&self, store: &mut dyn Store) -> Result<SignedCheckpoint, CheckpointError> {
        if self.key.is_none() {
            return Err(CheckpointError::NoKey);
        }
        let last = self.latest();
        let (size, root) = {
            let index = self.read_index();
            let root = index.tree.try_root().map_err(|e| CheckpointError::Store {
                reason: format!("the recorder's index: {e}"),
            })?;
            (index.tree.size(), root)
        };
        let old_size = last.as_ref().map_or(0, |c| c.checkpoint().size);
        if let Some(prev) = last.as_ref() {
            if old_size >= size {
                return Ok(prev.clone());
            }
        }
        let mut signed = self.sign(size, root)?;
        if let Some(cosigner) = &self.cosigner {
            let proof_for = |from: u64| -> Result<Vec<Hash>, String> {
                self.read_index()
                    .tree
                    .consistency_proof(from, size)
                    .map_err(|e| e.to_string())
            };
            let proof =
                proof_for(old_size).map_err(|reason| CheckpointError::Witnesses { reason })?;
            let cp = signed.checkpoint().clone();
            signed = cosigner
                .cosign(&signed, old_size, &proof, &proof_for)
                .map_err(|reason| CheckpointError::Witnesses { reason })?;
            if signed.checkpoint() != &cp {
                return Err(CheckpointError::Witnesses {
                    reason: "the cosigned checkpoint is not the one signed".into(),
                });
            }
        }
        store.store_checkpoint(prev_of(last.as_ref()), &signed)?;
        *self.checkpoint.lock().unwrap_or_else(|e| e.into_inner()) = Some(signed.clone());
        Ok(signed)
    }
}

/// What a checkpoint is swapped from: the latest one's size and root, or
/// the empty tree's.
pub(crate) fn prev_of(latest: Option<&SignedCheckpoint>) -> Prev {
    latest.map_or((0, cfr_merkle::empty_root()), |c| {
        (c.checkpoint().size, c.checkpoint().root)
    })
}

type Reply = tokio::sync::oneshot::Sender<Result<Acknowledged, AppendError>>;
/// What an append waits on.
pub type PendingAck = tokio::sync::oneshot::Receiver<Result<Acknowledged, AppendError>>;

type CheckpointReply = tokio::sync::oneshot::Sender<Result<SignedCheckpoint, CheckpointError>>;

/// What the writer thread is asked to do.
enum Job {
    /// Append, in the next group commit.
    Append { work: Work, reply: Reply },
    /// Sign (and store) a checkpoint over every durable event.
    Checkpoint { reply: CheckpointReply },
}

/// What a job appends.
enum Work {
    /// Events through the trusted in-process path ([`Recorder::append`]).
    Events(Vec<Submission>),
    /// A verified signed submission.
    Signed(Verified),
}

impl Work {
    fn len(&self) -> usize {
        match self {
            Work::Events(s) => s.len(),
            Work::Signed(v) => v.events().len(),
        }
    }
}

/// An open log with its group-commit writer. Cheap to share behind an
/// [`Arc`]; every method takes `&self`.
pub struct Recorder {
    shared: Arc<Shared>,
    tx: Mutex<Option<SyncSender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    recovery: Recovery,
    /// The log directory's lock (the file store; a PostgreSQL store is
    /// locked in the database, see [`crate::pg`]).
    _lock: Option<Lock>,
}

impl Recorder {
    /// Opens the log at `dir`: takes the lock, reads every segment, cuts a
    /// torn tail (keeping its bytes in `torn/`), refuses corruption in the
    /// durable part, rebuilds the Merkle tree and checks it against the
    /// last signed checkpoint, then starts the writer thread.
    ///
    /// When `dir` names a PostgreSQL store ([`crate::pg`]), the log is
    /// loaded from the database instead, once this process holds the
    /// contract's sequencer lock there; when another recorder holds it,
    /// open fails with [`OpenError::Locked`], or, with
    /// [`RecorderOptions::standby`], opens as a standby that takes over
    /// when the lock is released.
    pub fn open(dir: &Path, opts: RecorderOptions) -> Result<Recorder, OpenError> {
        if let Some(config) = crate::pg::read_config(dir)? {
            return Recorder::open_postgres(dir, config, opts);
        }
        Recorder::open_file(dir, opts)
    }

    fn open_postgres(
        dir: &Path,
        config: crate::pg::PgConfig,
        opts: RecorderOptions,
    ) -> Result<Recorder, OpenError> {
        let (contract_toml, contract) = read_contract(dir)?;
        check_key(&opts, &contract)?;
        let (store, loaded, active) =
            crate::pg::PgStore::open(dir, config, &contract, &contract_toml, opts.standby)?;
        let recovery = Recovery {
            events: loaded.index.tree.size(),
            checkpoint_size: loaded.checkpoint.as_ref().map(|c| c.checkpoint().size),
            acknowledged: loaded.index.tree.size(),
            ..Recovery::default()
        };
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            contract,
            contract_toml,
            key: opts.key.clone(),
            cosigner: opts.cosigner.clone(),
            index: RwLock::new(loaded.index),
            checkpoint: Mutex::new(loaded.checkpoint),
            stopped: Mutex::new(None),
            standby: Mutex::new(!active),
        });
        Recorder::start(shared, Box::new(store), opts, recovery, None)
    }

    fn start(
        shared: Arc<Shared>,
        store: Box<dyn Store>,
        opts: RecorderOptions,
        recovery: Recovery,
        lock: Option<Lock>,
    ) -> Result<Recorder, OpenError> {
        let (tx, rx) = sync_channel(opts.queue.max(1));
        let writer = Writer {
            shared: shared.clone(),
            store,
            role: Ok(()),
            opts,
        };
        let handle = std::thread::Builder::new()
            .name("cfr-recorder-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| OpenError::Io {
                path: shared.dir.clone(),
                source,
            })?;
        Ok(Recorder {
            shared,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            recovery,
            _lock: lock,
        })
    }

    fn open_file(dir: &Path, opts: RecorderOptions) -> Result<Recorder, OpenError> {
        let lock = Lock::take(dir)?;
        let (contract_toml, contract) = read_contract(dir)?;
        check_key(&opts, &contract)?;
        // What the recorder promised before anything is read or cut: the
        // signed checkpoint and the acknowledgement mark.
        let checkpoint = read_checkpoint(dir, &contract)?;
        let mark = read_mark(dir)?;
        let promised = Promised::of(checkpoint.as_ref(), mark);
        let mut index = Index::new(dir).map_err(|source| OpenError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut index_failed = None;
        // The digest of the signed submission being read, to answer a
        // retry of it after a restart.
        let mut open_sub: Option<(Entry, cfr_bundle_format::submission::Hasher)> = None;
        let contract_id = contract.id.clone();
        // What retries are answered with, added to the index on disk a
        // batch at a time.
        let mut ids: Vec<(String, u64, [u8; 16])> = Vec::new();
        let mut subs: Vec<(SubKey, Span)> = Vec::new();
        let add_ids = |index: &mut Index, ids: &mut Vec<(String, u64, [u8; 16])>| {
            let added = index
                .retries
                .add_ids(ids.iter().map(|(id, seq, d)| (id.as_str(), *seq, *d)));
            ids.clear();
            added
        };
        let add_subs = |index: &mut Index, subs: &mut Vec<(SubKey, Span)>| {
            let added = index.retries.add_subs(subs.iter().map(|(k, s)| (k, *s)));
            subs.clear();
            added
        };
        let w = walk(dir, |r| {
            if let Err(e) = index.push(cfr_merkle::leaf_hash(&r.cbor), r.event.time) {
                index_failed.get_or_insert(e);
            }
            if !r.id.is_empty() {
                ids.push((r.id.clone(), r.event.seq, content_digest(&r.event)));
                if ids.len() >= BULK {
                    if let Err(e) = add_ids(&mut index, &mut ids) {
                        index_failed.get_or_insert(e);
                    }
                }
            }
            if let Some(entry) = r.entry {
                let h = cfr_bundle_format::submission::Hasher::new(
                    &entry.party,
                    &entry.id,
                    entry.count,
                );
                open_sub = Some((entry, h));
            }
            let done = open_sub.as_mut().is_some_and(|(_, h)| {
                h.push(&r.event);
                h.remaining() == 0
            });
            if let Some((entry, h)) = open_sub.take_if(|_| done) {
                subs.push((
                    sub_key(&entry.party, &entry.id),
                    Span {
                        first: entry.first,
                        count: entry.count,
                        digest: h.finish(&contract_id),
                    },
                ));
                if subs.len() >= BULK {
                    if let Err(e) = add_subs(&mut index, &mut subs) {
                        index_failed.get_or_insert(e);
                    }
                }
            }
        })?;
        for added in [
            add_ids(&mut index, &mut ids),
            add_subs(&mut index, &mut subs),
        ] {
            if let Err(e) = added {
                index_failed.get_or_insert(e);
            }
        }
        let mut recovery = Recovery {
            events: w.events,
            segments: w.segments.len(),
            ..Recovery::default()
        };
        let mut segments = w.segments;
        let mut torn = None;
        if let Some(bad) = &w.bad {
            let (_, path, _) = &segments[bad.segment];
            if let Some(reason) = not_torn(bad, w.total, &promised) {
                return Err(OpenError::Corrupt {
                    path: path.clone(),
                    offset: bad.offset,
                    seq: bad.seq,
                    fault: bad.fault.clone(),
                    bytes_after: bad.bytes_after,
                    reason,
                });
            }
            torn = Some((path.clone(), bad.offset, bad.seq, bad.bytes_after));
        }
        if let Some(inc) = &w.incomplete {
            // A submission with only some of its events is the last write,
            // torn: never acknowledged, so above every promise, and in the
            // last segment. It is cut from its first record.
            let (_, path, _) = &segments[inc.segment];
            let reason = if inc.seq < promised.signed {
                Some(NotTorn::Signed {
                    checkpoint_size: promised.signed,
                })
            } else if inc.seq < promised.acked {
                Some(NotTorn::Acknowledged {
                    acknowledged: promised.acked,
                })
            } else if inc.segment + 1 != w.total {
                Some(NotTorn::LaterSegments {
                    count: w.total - inc.segment - 1,
                })
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(OpenError::Corrupt {
                    path: path.clone(),
                    offset: inc.offset,
                    seq: inc.seq,
                    fault: segment::RecordFault::Submission {
                        reason: format!(
                            "submission {:?} of the {} holds {} events from seq {} but only {} are in the log",
                            inc.entry.id, inc.entry.party, inc.entry.count, inc.seq, inc.present
                        ),
                    },
                    bytes_after: inc.bytes_after,
                    reason,
                });
            }
            torn = Some((path.clone(), inc.offset, inc.seq, inc.bytes_after));
        }
        if let Some(source) = index_failed {
            return Err(OpenError::Io {
                path: dir.to_owned(),
                source,
            });
        }
        let size = index.tree.size();
        if let Some(cp) = &checkpoint {
            let c = cp.checkpoint();
            if c.size > size {
                return Err(OpenError::CheckpointAhead {
                    checkpoint_size: c.size,
                    log_size: size,
                });
            }
            let root = index.tree.root_at(c.size).map_err(|e| match e {
                cfr_merkle::TreeError::Store { reason } => OpenError::Io {
                    path: dir.to_owned(),
                    source: std::io::Error::other(reason),
                },
                _ => OpenError::CheckpointMismatch { size: c.size },
            })?;
            if root != c.root {
                return Err(OpenError::CheckpointMismatch { size: c.size });
            }
            recovery.checkpoint_size = Some(c.size);
        }
        if promised.acked > size {
            return Err(OpenError::AcknowledgedMissing {
                acknowledged: promised.acked,
                log_size: size,
            });
        }
        let io = |p: &Path| {
            let p = p.to_owned();
            move |source| OpenError::Io { path: p, source }
        };
        // Only now, with every promise checked, is anything changed: a
        // torn tail (the last write, never acknowledged) is kept in
        // `torn/` and cut, and the mark is raised over records that were
        // synced but not yet acknowledged when the recorder stopped.
        if let Some((path, offset, seq, after)) = torn {
            let torn = dir.join(TORN_DIR);
            let kept = torn.join(format!("{}-seq{seq}-byte{offset}.bin", now_ns()));
            std::fs::create_dir_all(&torn).map_err(io(&torn))?;
            copy_tail(&path, offset, &kept).map_err(io(&kept))?;
            truncate(&path, offset).map_err(io(&path))?;
            recovery.torn_tail = Some((kept, after));
        }
        let mut marks =
            acked::MarkFile::open(dir, mark).map_err(io(&dir.join(acked::ACKED_FILE)))?;
        marks
            .raise(size)
            .map_err(io(&dir.join(acked::ACKED_FILE)))?;
        recovery.acknowledged = promised.acked;
        let segs_dir = dir.join(SEGMENTS_DIR);
        if segments.is_empty() {
            let path = create_segment(&segs_dir, 0).map_err(|source| OpenError::Io {
                path: segs_dir.clone(),
                source,
            })?;
            segments.push((0, path, segment::HEADER_LEN as u64));
        }
        let (first, path, _) = segments.last().cloned().unwrap_or_default();
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?;
        let len = file
            .metadata()
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        let _ = first;
        let persisted = checkpoint.as_ref().map_or(0, |c| c.checkpoint().size);
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            contract,
            contract_toml,
            key: opts.key.clone(),
            cosigner: opts.cosigner.clone(),
            index: RwLock::new(index),
            checkpoint: Mutex::new(checkpoint),
            stopped: Mutex::new(None),
            standby: Mutex::new(false),
        });
        let store = FileStore {
            shared: shared.clone(),
            segs_dir,
            path,
            file,
            len,
            marks,
            segment_bytes: opts.segment_bytes,
            persisted,
        };
        Recorder::start(shared, Box::new(store), opts, recovery, Some(lock))
    }

    /// What opening found (events, torn tail cut, checkpoint size).
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The log's contract.
    pub fn contract(&self) -> &Contract {
        &self.shared.contract
    }

    /// The contract text the log was created with.
    pub fn contract_toml(&self) -> &str {
        &self.shared.contract_toml
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Number of durable events.
    pub fn size(&self) -> u64 {
        self.read_index().tree.size()
    }

    /// Time of event `seq`: `None` if there is no such event.
    ///
    /// # Errors
    ///
    /// When the index (on disk) cannot be read.
    pub fn time_of(&self, seq: u64) -> std::io::Result<Option<i64>> {
        let index = self.read_index();
        if seq >= index.tree.size() {
            return Ok(None);
        }
        index.time(seq).map(Some)
    }

    /// Number of events whose time is at or before `until`.
    ///
    /// # Errors
    ///
    /// When the index (on disk) cannot be read.
    pub fn size_until(&self, until: i64) -> std::io::Result<u64> {
        self.read_index().count_until(until)
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A poisoned lock means a panic in the writer while it held the
        // lock; the index it protects is only ever appended to after a
        // successful sync, so it is still a valid prefix.
        self.shared.read_index()
    }

    /// Checks `subs` against the contract (all or nothing), then appends
    /// them in one group commit and waits until they are durable.
    pub fn append(&self, subs: Vec<Submission>) -> Result<Vec<Receipt>, AppendError> {
        let rx = self.submit(subs)?;
        rx.blocking_recv()
            .unwrap_or(Err(AppendError::Closed))
            .map(|a| a.events)
    }

    /// Like [`append`](Self::append) for async callers: checks in the
    /// caller, then waits for the writer without blocking the runtime
    /// (the queue hand-off itself may block briefly when the queue is full;
    /// call it from `spawn_blocking` under load).
    pub fn submit(&self, subs: Vec<Submission>) -> Result<PendingAck, AppendError> {
        for (i, s) in subs.iter().enumerate() {
            crate::submission::check(&self.shared.contract, s).map_err(|reason| {
                crate::submission::Rejection {
                    unit: "item",
                    number: i as u64 + 1,
                    reason,
                }
            })?;
        }
        self.enqueue(Work::Events(subs))
    }

    /// Appends a verified signed submission in one group commit and waits
    /// until it is durable, its signature with it, and a checkpoint over
    /// it is signed (and cosigned, with witnesses): the [`Acknowledged`]
    /// events and their `cfr-receipt/1`. A submission whose (party, id)
    /// was appended before with the same digest appends nothing and
    /// returns the original events (`duplicate`) with a receipt against
    /// the latest checkpoint; with another digest it is
    /// [`AppendError::SubmissionConflict`].
    pub fn append_signed(&self, submission: Verified) -> Result<Acknowledged, AppendError> {
        let rx = self.submit_signed(submission)?;
        rx.blocking_recv().unwrap_or(Err(AppendError::Closed))
    }

    /// Like [`append_signed`](Self::append_signed) for async callers.
    pub fn submit_signed(&self, submission: Verified) -> Result<PendingAck, AppendError> {
        self.enqueue(Work::Signed(submission))
    }

    /// Hands already-checked work to the writer.
    fn enqueue(&self, work: Work) -> Result<PendingAck, AppendError> {
        if let Some(reason) = self.stopped() {
            return Err(AppendError::Stopped { reason });
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Append { work, reply })
            .map_err(|()| AppendError::Closed)?;
        Ok(rx)
    }

    /// Hands a job to the writer thread; `Err` once it is closed.
    fn send(&self, job: Job) -> Result<(), ()> {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        tx.ok_or(())?.send(job).map_err(|_| ())
    }

    fn stopped(&self) -> Option<String> {
        self.shared
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last signed checkpoint, if any.
    pub fn checkpoint(&self) -> Option<SignedCheckpoint> {
        self.shared
            .checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Signs a checkpoint over every durable event now (or returns the
    /// last one if the log has not grown), and persists it before
    /// returning. A new checkpoint is only ever of a size at least the
    /// previous one's over the same append-only tree, so it is always
    /// consistent with every checkpoint signed before.
    ///
    /// The writer thread signs it, between group commits, and stores it
    /// (the `checkpoint` file, or a compare-and-swap in the database)
    /// before it is returned or published.
    pub fn sign_checkpoint(&self) -> Result<SignedCheckpoint, CheckpointError> {
        if self.shared.key.is_none() {
            return Err(CheckpointError::NoKey);
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Checkpoint { reply })
            .map_err(|()| CheckpointError::Closed)?;
        rx.blocking_recv().unwrap_or(Err(CheckpointError::Closed))
    }

    /// Whether this recorder sequences appends now: always for the file
    /// store; for PostgreSQL, while it holds the contract's sequencer lock
    /// (a standby answers appends with [`AppendError::Standby`]).
    pub fn is_active(&self) -> bool {
        !*self
            .shared
            .standby
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Inclusion proof of event `seq` in the tree of `size` events.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<InclusionProof, ProofError> {
        let index = self.read_index();
        let path = index.tree.inclusion_proof(seq, size)?;
        let leaf = index.tree.try_leaf(seq).map_err(|e| {
            ProofError::Range(cfr_merkle::TreeError::Store {
                reason: e.to_string(),
            })
        })?;
        Ok(InclusionProof {
            seq,
            size,
            leaf: leaf.unwrap_or_default(),
            root: index.tree.root_at(size)?,
            path,
        })
    }

    /// Consistency proof between sizes `from` and `to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof, ProofError> {
        let index = self.read_index();
        let path = index.tree.consistency_proof(from, to)?;
        Ok(ConsistencyProof {
            from,
            to,
            from_root: index.tree.root_at(from)?,
            to_root: index.tree.root_at(to)?,
            path,
        })
    }

    /// Stops the writer after the requests already queued, and waits.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: the only one that changes the index or talks to
/// the store's write side.
struct Writer {
    shared: Arc<Shared>,
    store: Box<dyn Store>,
    /// `Err` while the store cannot sequence (a standby, a database that
    /// cannot be reached): what appends are answered with.
    role: Result<(), AppendError>,
    opts: RecorderOptions,
}

/// One append job: what it appends and where its answer goes.
struct AppendJob {
    work: Work,
    reply: Reply,
}

/// What one job will produce once the batch is durable.
enum Planned {
    Failed(AppendError),
    /// Events of the trusted path.
    Events(Vec<Receipt>),
    /// A signed submission, new or seen before (`duplicate`).
    Signed {
        party: String,
        id: String,
        first: u64,
        events: Vec<Receipt>,
        duplicate: bool,
    },
}

impl Writer {
    fn run(mut self, rx: Receiver<Job>) {
        loop {
            self.activate();
            let first = if self.role.is_ok() {
                match rx.recv() {
                    Ok(j) => j,
                    Err(_) => break,
                }
            } else {
                // Not sequencing: look again now and then (a standby takes
                // over when the lock is free; a lost database comes back).
                match rx.recv_timeout(self.store.poll_interval()) {
                    Ok(j) => {
                        // Look once more before refusing: the store may be
                        // back since the last look.
                        self.activate();
                        j
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut jobs = Vec::new();
            let mut checkpoints = Vec::new();
            let mut events = 0;
            let mut take = |job: Job, jobs: &mut Vec<AppendJob>| match job {
                Job::Append { work, reply } => {
                    let n = work.len();
                    jobs.push(AppendJob { work, reply });
                    n
                }
                Job::Checkpoint { reply } => {
                    checkpoints.push(reply);
                    0
                }
            };
            events += take(first, &mut jobs);
            while events < self.opts.max_batch_events {
                match rx.try_recv() {
                    Ok(j) => events += take(j, &mut jobs),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            if !jobs.is_empty() {
                match &self.role {
                    Ok(()) => self.commit(jobs),
                    Err(e) => {
                        for j in jobs {
                            let _ = j.reply.send(Err(e.clone()));
                        }
                    }
                }
            }
            for reply in checkpoints {
                let _ = reply.send(self.sign_checkpoint());
            }
        }
    }

    /// Asks the store whether this process sequences now, and takes in
    /// the log as the store holds it when it (again) does.
    fn activate(&mut self) {
        let role = match self.store.activate(&self.shared.contract) {
            Role::Active(None) => Ok(()),
            Role::Active(Some(loaded)) => self.take_over(*loaded),
            Role::Standby(reason) => Err(AppendError::Standby { reason }),
            Role::Unreachable(reason) => Err(AppendError::Unavailable { reason }),
        };
        *self
            .shared
            .standby
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = role.is_err();
        self.role = role;
    }

    /// Replaces the index and checkpoint with the store's, after checking
    /// that the store's log extends what this process knew: its tree
    /// holds the latest checkpoint published here, and its checkpoint is
    /// not older. Anything else means the stored log was rewritten, and
    /// the recorder stops rather than sign over it.
    fn take_over(&mut self, loaded: Loaded) -> Result<(), AppendError> {
        let known = self.shared.latest();
        if let Some(cp) = &known {
            let c = cp.checkpoint();
            let stored = loaded
                .checkpoint
                .as_ref()
                .map_or(0, |s| s.checkpoint().size);
            let root = loaded.index.tree.root_at(c.size).ok();
            if stored < c.size || root != Some(c.root) {
                let reason = format!(
                    "the stored log does not extend the checkpoint of size {} this recorder published (stored checkpoint size {stored}, log size {}): it was rewritten",
                    c.size,
                    loaded.index.tree.size()
                );
                self.stop(reason.clone());
                return Err(AppendError::Stopped { reason });
            }
        }
        *self.shared.index.write().unwrap_or_else(|e| e.into_inner()) = loaded.index;
        *self
            .shared
            .checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = loaded.checkpoint;
        Ok(())
    }

    /// A checkpoint asked for by [`Recorder::sign_checkpoint`].
    fn sign_checkpoint(&mut self) -> Result<SignedCheckpoint, CheckpointError> {
        if let Some(reason) = self.stopped() {
            return Err(CheckpointError::Store { reason });
        }
        match &self.role {
            Ok(()) => self.shared.publish(self.store.as_mut()),
            Err(e) => Err(CheckpointError::Store {
                reason: e.to_string(),
            }),
        }
    }

    fn stopped(&self) -> Option<String> {
        self.shared
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn commit(&mut self, jobs: Vec<AppendJob>) {
        if let Some(reason) = self.stopped() {
            for j in jobs {
                let _ = j.reply.send(Err(AppendError::Stopped {
                    reason: reason.clone(),
                }));
            }
            return;
        }
        // Plan: dedup, assign seq and time, encode. Only this thread
        // changes the index, so what it reads here stays true until it
        // adds the batch below.
        let want_rows = self.store.wants_rows();
        let mut rows: Vec<Row> = Vec::new();
        let mut entries: Vec<(Entry, [u8; 32])> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut leaves: Vec<(Hash, i64)> = Vec::new();
        let mut new_ids: HashMap<String, (u64, [u8; 16])> = HashMap::new();
        let mut new_subs: HashMap<SubKey, Span> = HashMap::new();
        let mut plans: Vec<Planned> = Vec::with_capacity(jobs.len());
        let new_size;
        {
            let index = self.shared.index.read().unwrap_or_else(|e| e.into_inner());
            let base = index.tree.size();
            let mut last_time = index.last_time().unwrap_or(i64::MIN);
            // The receipt of an event already durable or planned in this
            // batch. An index that cannot be read (on disk) fails the
            // whole batch below: no receipt is made of a guess.
            let unreadable: std::cell::RefCell<Option<String>> = std::cell::RefCell::new(None);
            // What the retry index holds of an id or a submission; one
            // that cannot be read fails the batch (and stops the recorder)
            // like the tree, so a retry is never appended again.
            fn on_disk<T>(
                read: std::io::Result<Option<T>>,
                unreadable: &std::cell::RefCell<Option<String>>,
            ) -> Option<T> {
                read.unwrap_or_else(|e| {
                    unreadable
                        .borrow_mut()
                        .get_or_insert(format!("the recorder's retry index: {e}"));
                    None
                })
            }
            let original = |seq: u64, leaves: &[(Hash, i64)]| {
                let (leaf, time) = if seq < base {
                    let read = index
                        .tree
                        .try_leaf(seq)
                        .and_then(|leaf| Ok((leaf.unwrap_or_default(), index.time(seq)?)));
                    read.unwrap_or_else(|e| {
                        unreadable
                            .borrow_mut()
                            .get_or_insert(format!("the recorder's index, at seq {seq}: {e}"));
                        Default::default()
                    })
                } else {
                    leaves
                        .get((seq - base) as usize)
                        .copied()
                        .unwrap_or_default()
                };
                Receipt {
                    seq,
                    time,
                    leaf,
                    duplicate: true,
                }
            };
            for job in &jobs {
                let mark = (buf.len(), leaves.len(), rows.len(), entries.len());
                let mut job_ids: Vec<String> = Vec::new();
                let mut job_sub = None;
                let mut signed_as: Option<(String, String, u64, bool)> = None;
                let mut receipts = Vec::with_capacity(job.work.len());
                let mut failed = None;
                let mut add = |event: &Event,
                               id: &str,
                               entry: Option<&Entry>,
                               buf: &mut Vec<u8>,
                               leaves: &mut Vec<(Hash, i64)>,
                               rows: &mut Vec<Row>| {
                    let seq = base + leaves.len() as u64;
                    let time = now_ns().max(last_time);
                    let mut event = event.clone();
                    event.seq = seq;
                    event.time = time;
                    let cbor = event.encode();
                    let leaf = cfr_merkle::leaf_hash(&cbor);
                    segment::encode_record_with(buf, id, &cbor, entry);
                    leaves.push((leaf, time));
                    if want_rows {
                        rows.push(Row {
                            seq,
                            time,
                            leaf,
                            cbor,
                            id: None,
                        });
                    }
                    last_time = time;
                    Receipt {
                        seq,
                        time,
                        leaf,
                        duplicate: false,
                    }
                };
                match &job.work {
                    Work::Events(subs) => {
                        for (i, sub) in subs.iter().enumerate() {
                            let digest = sub.content_digest();
                            if let Some(id) = &sub.id {
                                let known = match new_ids.get(id) {
                                    Some(k) => Some(*k),
                                    None => on_disk(index.retries.id(id), &unreadable),
                                };
                                if let Some((seq, d)) = known {
                                    if d != digest {
                                        failed = Some(AppendError::IdConflict {
                                            item: i as u64 + 1,
                                            id: id.clone(),
                                            seq,
                                        });
                                        break;
                                    }
                                    receipts.push(original(seq, &leaves));
                                    continue;
                                }
                            }
                            let r = add(
                                &sub.event,
                                sub.id.as_deref().unwrap_or(""),
                                None,
                                &mut buf,
                                &mut leaves,
                                &mut rows,
                            );
                            if let Some(id) = &sub.id {
                                new_ids.insert(id.clone(), (r.seq, digest));
                                job_ids.push(id.clone());
                                if let Some(row) = rows.last_mut().filter(|_| want_rows) {
                                    row.id = Some((id.clone(), digest));
                                }
                            }
                            receipts.push(r);
                        }
                    }
                    Work::Signed(v) => {
                        let key = sub_key(v.party(), v.id());
                        let known = match new_subs.get(&key) {
                            Some(k) => Some(*k),
                            None => on_disk(index.retries.sub(&key), &unreadable),
                        };
                        match known {
                            Some(span) if span.digest != *v.digest() => {
                                failed = Some(AppendError::SubmissionConflict {
                                    party: v.party().to_owned(),
                                    id: v.id().to_owned(),
                                    first: span.first,
                                });
                            }
                            Some(span) => {
                                receipts.extend(
                                    (span.first..span.first + span.count)
                                        .map(|seq| original(seq, &leaves)),
                                );
                                signed_as = Some((
                                    v.party().to_owned(),
                                    v.id().to_owned(),
                                    span.first,
                                    true,
                                ));
                            }
                            None => {
                                let first = base + leaves.len() as u64;
                                let count = v.events().len() as u64;
                                let entry = Entry {
                                    party: v.party().to_owned(),
                                    id: v.id().to_owned(),
                                    first,
                                    count,
                                    sig: v.sig().to_vec(),
                                };
                                for (i, e) in v.events().iter().enumerate() {
                                    let r = add(
                                        e,
                                        "",
                                        (i == 0).then_some(&entry),
                                        &mut buf,
                                        &mut leaves,
                                        &mut rows,
                                    );
                                    receipts.push(r);
                                }
                                if want_rows {
                                    entries.push((entry.clone(), *v.digest()));
                                }
                                new_subs.insert(
                                    key,
                                    Span {
                                        first,
                                        count,
                                        digest: *v.digest(),
                                    },
                                );
                                signed_as =
                                    Some((v.party().to_owned(), v.id().to_owned(), first, false));
                                job_sub = Some(key);
                            }
                        }
                    }
                }
                let too_large = (buf.len() - mark.0) as u64;
                if failed.is_none() && too_large > MAX_REQUEST_BYTES {
                    failed = Some(AppendError::TooLarge {
                        bytes: too_large,
                        max: MAX_REQUEST_BYTES,
                    });
                }
                if let Some(e) = failed {
                    // All or nothing: undo this job's part of the batch.
                    buf.truncate(mark.0);
                    leaves.truncate(mark.1);
                    rows.truncate(mark.2);
                    entries.truncate(mark.3);
                    for id in job_ids {
                        new_ids.remove(&id);
                    }
                    if let Some(key) = job_sub {
                        new_subs.remove(&key);
                    }
                    last_time = leaves
                        .last()
                        .map(|l| l.1)
                        .or(index.last_time())
                        .unwrap_or(i64::MIN);
                    plans.push(Planned::Failed(e));
                } else if let Some((party, id, first, duplicate)) = signed_as {
                    plans.push(Planned::Signed {
                        party,
                        id,
                        first,
                        events: receipts,
                        duplicate,
                    });
                } else {
                    plans.push(Planned::Events(receipts));
                }
            }
            new_size = base + leaves.len() as u64;
            if let Some(reason) = unreadable.into_inner() {
                drop(index);
                self.stop(reason.clone());
                for job in jobs {
                    let _ = job.reply.send(Err(AppendError::Stopped {
                        reason: reason.clone(),
                    }));
                }
                return;
            }
        }
        let any_signed = plans.iter().any(|p| matches!(p, Planned::Signed { .. }));
        // A store that commits the checkpoint with the batch (PostgreSQL,
        // without witnesses) gets it signed now over the tree the batch
        // makes; it is published only once the transaction is committed.
        // With witnesses it is signed after the commit, as for the file
        // store: no witness is shown a tree that was not stored.
        let mut in_commit = None;
        if !leaves.is_empty()
            && any_signed
            && self.shared.key.is_some()
            && self.shared.cosigner.is_none()
            && self.store.checkpoint_in_commit()
        {
            let root = {
                let index = self.shared.read_index();
                let more: Vec<Hash> = leaves.iter().map(|l| l.0).collect();
                index.tree.try_root_with(&more)
            };
            let signed = root
                .map_err(|e| CheckpointError::Store {
                    reason: format!("the recorder's index: {e}"),
                })
                .and_then(|root| self.shared.sign(new_size, root));
            match signed {
                Ok(cp) => in_commit = Some((prev_of(self.shared.latest().as_ref()), cp)),
                Err(e) => {
                    let e = AppendError::Checkpoint {
                        reason: e.to_string(),
                    };
                    for (job, plan) in jobs.into_iter().zip(plans) {
                        let _ = job.reply.send(Err(match plan {
                            Planned::Failed(f) => f,
                            _ => e.clone(),
                        }));
                    }
                    return;
                }
            }
        }
        if !leaves.is_empty() {
            let batch = Batch {
                first: new_size - leaves.len() as u64,
                end: new_size,
                bytes: &buf,
                rows: &rows,
                entries: &entries,
            };
            let stored = self
                .store
                .commit(&batch, in_commit.as_ref().map(|(prev, cp)| (*prev, cp)));
            if let Err(e) = stored {
                for (job, plan) in jobs.into_iter().zip(plans) {
                    let _ = job.reply.send(Err(match plan {
                        Planned::Failed(f) => f,
                        Planned::Events(_) | Planned::Signed { .. } => e.clone(),
                    }));
                }
                // A store that lost its footing (another sequencer, an
                // uncertain commit) is asked again before the next batch.
                self.activate();
                return;
            }
            let mut index = self.shared.index.write().unwrap_or_else(|e| e.into_inner());
            let pushed = leaves
                .iter()
                .try_for_each(|(leaf, time)| index.push(*leaf, *time))
                .and_then(|()| {
                    index
                        .retries
                        .add_ids(new_ids.iter().map(|(id, (seq, d))| (id.as_str(), *seq, *d)))
                })
                .and_then(|()| {
                    index
                        .retries
                        .add_subs(new_subs.iter().map(|(key, span)| (key, *span)))
                });
            if let Err(e) = pushed {
                // The batch is durable, but the index cannot hold it:
                // nothing of it is acknowledged (a retry after a restart
                // finds it), and the recorder stops.
                drop(index);
                let reason = format!("the recorder's index could not be written: {e}");
                self.stop(reason.clone());
                for job in jobs {
                    let _ = job.reply.send(Err(AppendError::Stopped {
                        reason: reason.clone(),
                    }));
                }
                return;
            }
        }
        // One checkpoint for the whole commit: the one committed with it,
        // or one signed (and cosigned) now that its events are durable
        // and below the mark.
        let checkpoint = match (any_signed, &self.shared.key, in_commit) {
            (true, Some(_), Some((_, cp))) => {
                *self
                    .shared
                    .checkpoint
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(cp.clone());
                Some(Ok(cp))
            }
            (true, Some(_), None) => Some(self.publish()),
            _ => None,
        };
        for (job, plan) in jobs.into_iter().zip(plans) {
            let _ = job.reply.send(match plan {
                Planned::Failed(f) => Err(f),
                Planned::Events(events) => Ok(Acknowledged {
                    events,
                    receipt: None,
                    duplicate: false,
                }),
                Planned::Signed {
                    party,
                    id,
                    first,
                    events,
                    duplicate,
                } => match &checkpoint {
                    None => Ok(Acknowledged {
                        events,
                        receipt: None,
                        duplicate,
                    }),
                    Some(Err(e)) => Err(e.clone()),
                    Some(Ok(cp)) => {
                        self.receipt(cp, party, id, first, &events)
                            .map(|receipt| Acknowledged {
                                events,
                                receipt: Some(receipt),
                                duplicate,
                            })
                    }
                },
            });
        }
    }

    /// Publishes a checkpoint over the batch just made durable, stored
    /// first (the `checkpoint` file; a compare-and-swap in the database).
    /// A failure to store stops the file store (the disk is failing); a
    /// failure to publish (witnesses) does not.
    fn publish(&mut self) -> Result<SignedCheckpoint, AppendError> {
        self.shared
            .publish(self.store.as_mut())
            .map_err(|e| AppendError::Checkpoint {
                reason: match e {
                    CheckpointError::Io { .. } => format!("writing the checkpoint failed: {e}"),
                    e => e.to_string(),
                },
            })
    }

    /// The receipt of a submission's events against `cp`.
    fn receipt(
        &self,
        cp: &SignedCheckpoint,
        party: String,
        id: String,
        first: u64,
        events: &[Receipt],
    ) -> Result<cfr_bundle_format::receipt::Receipt, AppendError> {
        let end = first + events.len() as u64;
        let proof = self
            .shared
            .read_index()
            .tree
            .range_proof(first, end, cp.checkpoint().size)
            .map_err(|e| AppendError::Checkpoint {
                reason: format!("range proof of seqs {first}-{}: {e}", end - 1),
            })?;
        Ok(cfr_bundle_format::receipt::Receipt {
            contract: self.shared.contract.id.clone(),
            party,
            id,
            first,
            events: events
                .iter()
                .map(|r| cfr_bundle_format::receipt::EventReceipt {
                    seq: r.seq,
                    time: r.time,
                    leaf: r.leaf,
                })
                .collect(),
            checkpoint: cp.to_note(),
            proof,
        })
    }

    fn stop(&self, reason: String) {
        *self
            .shared
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }
}

/// The log directory as a store: the current segment file, the
/// acknowledgement mark and the `checkpoint` file.
struct FileStore {
    shared: Arc<Shared>,
    segs_dir: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    /// The acknowledgement mark, raised after each batch is synced and
    /// before it is acknowledged.
    marks: acked::MarkFile,
    /// A new segment is started once the current one reaches this size.
    segment_bytes: u64,
    /// The size of the checkpoint in the `checkpoint` file.
    persisted: u64,
}

impl Store for FileStore {
    fn wants_rows(&self) -> bool {
        false
    }

    fn checkpoint_in_commit(&self) -> bool {
        false
    }

    fn activate(&mut self, _contract: &Contract) -> Role {
        Role::Active(None)
    }

    fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    /// Writes the batch's records in one write, syncs them, then raises
    /// the acknowledgement mark over them.
    fn commit(
        &mut self,
        batch: &Batch<'_>,
        checkpoint: Option<(Prev, &SignedCheckpoint)>,
    ) -> Result<(), AppendError> {
        debug_assert!(checkpoint.is_none());
        self.write(batch.bytes, batch.first)?;
        self.raise_mark(batch.end)
    }

    /// Writes the checkpoint to the `checkpoint` file (atomically, synced)
    /// unless it is there already. A failure stops the recorder: the disk
    /// is failing.
    fn store_checkpoint(
        &mut self,
        _prev: Prev,
        checkpoint: &SignedCheckpoint,
    ) -> Result<(), CheckpointError> {
        if self.persisted >= checkpoint.checkpoint().size && self.persisted > 0 {
            return Ok(());
        }
        let path = self.shared.dir.join(CHECKPOINT_FILE);
        if let Err(source) = write_atomically(&path, checkpoint.to_note().as_bytes()) {
            let e = CheckpointError::Io { path, source };
            self.stop(format!("writing the checkpoint failed: {e}"));
            return Err(e);
        }
        self.persisted = checkpoint.checkpoint().size;
        Ok(())
    }
}

impl FileStore {
    /// Writes one batch and syncs it. On a write error the segment is cut
    /// back to its previous length (the batch was never acknowledged); if
    /// that, or the sync, fails, the recorder stops: after a failed fsync
    /// the kernel may have dropped dirty pages, so only a fresh open (which
    /// rescans the file) can say what is durable.
    fn write(&mut self, buf: &[u8], first: u64) -> Result<(), AppendError> {
        if self.len >= self.segment_bytes {
            let rotated = create_segment(&self.segs_dir, first).and_then(|path| {
                let file = OpenOptions::new().append(true).open(&path)?;
                Ok((path, file))
            });
            match rotated {
                Ok((path, file)) => {
                    self.path = path;
                    self.file = file;
                    self.len = segment::HEADER_LEN as u64;
                }
                Err(e) => return Err(self.storage_error(&e)),
            }
        }
        let before = self.len;
        if let Err(e) = self.file.write_all(buf) {
            let err = self.storage_error(&e);
            if let Err(e2) = self
                .file
                .set_len(before)
                .and_then(|_| self.file.sync_data())
            {
                self.stop(format!(
                    "{err}; cutting the partial write back failed: {e2}"
                ));
            }
            return Err(err);
        }
        if let Err(e) = self.file.sync_data() {
            let err = self.storage_error(&e);
            self.stop(err.to_string());
            return Err(err);
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Raises the acknowledgement mark over a synced batch. If that fails
    /// the recorder stops: the batch is durable but was never
    /// acknowledged, and the next open raises the mark over it.
    fn raise_mark(&mut self, size: u64) -> Result<(), AppendError> {
        self.marks.raise(size).map_err(|e| {
            let err = AppendError::Storage {
                path: self.marks.path().to_owned(),
                kind: e.kind(),
                message: e.to_string(),
            };
            self.stop(err.to_string());
            err
        })
    }

    fn storage_error(&self, e: &std::io::Error) -> AppendError {
        AppendError::Storage {
            path: self.path.clone(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    fn stop(&self, reason: String) {
        *self
            .shared
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }
}

/// Calls `each` with the first `upto` events of the log at `dir`, in
/// order, read-only and without the lock (so a running recorder is not
/// disturbed), checking every record. Only ask for events known to be
/// durable (for example up to a signed checkpoint): a running recorder's
/// unsynced tail is visible to readers but may not survive a crash.
///
/// For a log in PostgreSQL ([`crate::pg`]) the events are read in one
/// snapshot, each checked against its stored leaf hash. Call these
/// functions from a thread that is not running an async runtime.
pub fn for_each_event(dir: &Path, upto: u64, each: impl FnMut(Event)) -> Result<(), ReadError> {
    for_each_event_from(dir, 0, upto, each)
}

/// [`for_each_event`] for events `[from, upto)` only: what is before is
/// not read (for the file store, the segments wholly before `from`).
pub fn for_each_event_from(
    dir: &Path,
    from: u64,
    upto: u64,
    mut each: impl FnMut(Event),
) -> Result<(), ReadError> {
    for_each_record(dir, from, upto, false, |_, e| each(e))
}

/// [`for_each_event`] of the first `upto` events, each given with the
/// signed submission that starts at it, when that submission's events all
/// lie in the first `upto` (a submission that straddles `upto` is left
/// out, as [`submissions`] leaves it out). This is what a seal of the
/// prefix carries, read in one pass: the caller holds one submission at a
/// time, not every submission of the log.
///
/// For a log in PostgreSQL the events and their submissions are read in
/// one snapshot.
pub fn for_each_event_with_submission(
    dir: &Path,
    upto: u64,
    each: impl FnMut(Option<Entry>, Event),
) -> Result<(), ReadError> {
    for_each_record(dir, 0, upto, true, each)
}

/// The events `[from, upto)`, each with the submission that starts at it
/// and ends at or before `upto` when `with_submissions` (else `None`).
fn for_each_record(
    dir: &Path,
    from: u64,
    upto: u64,
    with_submissions: bool,
    mut each: impl FnMut(Option<Entry>, Event),
) -> Result<(), ReadError> {
    if let Some(config) = crate::pg::read_config(dir)? {
        return crate::pg::for_each_record(dir, &config, from, upto, with_submissions, each);
    }
    let w = walk_from(dir, from, |r: Record| {
        if (from..upto).contains(&r.event.seq) {
            let entry = r.entry.filter(|e| with_submissions && e.end() <= upto);
            each(entry, r.event);
        }
    })?;
    if w.events < upto {
        return Err(ReadError::Short {
            wanted: upto,
            available: w.events,
        });
    }
    Ok(())
}

/// The signed submissions whose events all lie in the first `upto` events
/// of the log at `dir`, in seq order, read like [`for_each_event`]. A
/// submission that straddles `upto` is left out (a prefix cut inside it
/// holds some of its events, unattributed).
pub fn submissions(dir: &Path, upto: u64) -> Result<Vec<Entry>, ReadError> {
    if let Some(config) = crate::pg::read_config(dir)? {
        // One query of the submissions table, not a read of every event.
        return crate::pg::submissions(dir, &config, upto);
    }
    let mut out = Vec::new();
    for_each_record(dir, 0, upto, true, |entry, _| out.extend(entry))?;
    Ok(out)
}

/// How many valid events the log at `dir` holds now, read-only and
/// without the lock (a running recorder's unsynced tail included).
pub fn count_events(dir: &Path) -> Result<u64, OpenError> {
    if let Some(config) = crate::pg::read_config(dir)? {
        return crate::pg::count_events(dir, &config);
    }
    Ok(walk(dir, |_| {})?.events)
}

/// The contract text, contract and last signed checkpoint of the log at
/// `dir`, read without the lock.
pub fn inspect(dir: &Path) -> Result<(String, Contract, Option<SignedCheckpoint>), OpenError> {
    if let Some(config) = crate::pg::read_config(dir)? {
        return crate::pg::inspect(dir, &config);
    }
    let (text, contract) = read_contract(dir)?;
    let cp = read_checkpoint(dir, &contract)?;
    Ok((text, contract, cp))
}
