//! Sealing a log into a bundle, and proving two seals consistent.
//!
//! A bundle's events are gap-free from seq 0 (verification's check 3
//! refuses gaps), so a log is sealed as a **prefix** `[0, N)`: the whole
//! log, the first `N` events, or every event up to a time. Two bundles sealed at different
//! times from one log are two prefixes of one append-only tree, and
//! [`prove_consistency`] shows it with an RFC 9162 consistency proof
//! between their signed checkpoints. (A bundle of one incident's events
//! is an excerpt, which carries range proofs; that is not this module's
//! job.)
//!
//! The recorder runs no analyzer and links no sandbox: the verdict sealed
//! is the native rule engine's (`cfr-rules`, which the tests hold
//! byte-identical to the shipped analyzer's), and the analyzer given in
//! [`LogSealOptions::analyzer`] is embedded for verifiers to replay. A
//! caller that has a sandbox can have another analyzer run instead
//! ([`LogSealOptions::run_analyzer`]).

use crate::error::{OpenError, ReadError};
use crate::recorder::{inspect, Recorder, RecorderOptions};
use cfr_bundle_format::bundle::Bundle;
use cfr_bundle_format::feed::{Failure, Worker};
use cfr_bundle_format::seal::{seal_judged, Input, SealError, SealOptions, SealSummary};
use cfr_merkle::{verify_consistency, Checkpoint, SignedCheckpoint, Tree};
use cfr_model::keys::{PublicKey, SigningKey};
use std::path::{Path, PathBuf};

/// Which prefix of the log to seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// Every durable event (up to the last signed checkpoint when a
    /// recorder is running on the log).
    All,
    /// The first `n` events.
    Size(u64),
    /// Every event whose time is at or before this (ns since the epoch).
    Until(i64),
}

/// Starts an analyzer module over a compiled contract (module, contract
/// CBOR) on its own thread.
pub type StartAnalyzer = fn(&[u8], &[u8]) -> Result<Worker, Failure>;

/// How to seal a log.
pub struct LogSealOptions<'a> {
    /// The recorder's key.
    pub key: &'a SigningKey,
    /// The analyzer to embed, if any. It is not run: the verdict is the
    /// native rule engine's (which the tests hold byte-identical to the
    /// shipped analyzer's), unless `run_analyzer` is given.
    pub analyzer: Option<Vec<u8>>,
    /// Starts `analyzer` over the compiled contract, to seal its verdict
    /// instead of the native one (for an analyzer other than the shipped
    /// one). The recorder has no sandbox of its own: the caller brings
    /// one (`cfr_verify::sandbox`).
    pub run_analyzer: Option<StartAnalyzer>,
    /// Store the native engine's verdict when there is no analyzer.
    pub native_verdict: bool,
    /// Decompressed bytes per chunk.
    pub chunk_bytes: usize,
    /// Which prefix.
    pub prefix: Prefix,
    /// Contract signatures (COSE_Sign1) by the provider or the user, sealed
    /// into the bundle as they are.
    pub contract_sigs: Vec<Vec<u8>>,
    /// A regulator's certificate over the analyzer's digest.
    pub analyzer_cert: Option<Vec<u8>>,
    /// Obtains trusted time over the signed manifest (stored as
    /// `manifest.tsr`): see [`SealOptions::timestamp`].
    pub timestamp: Option<&'a cfr_bundle_format::seal::Timestamper<'a>>,
}

/// Why sealing a log failed. Nothing is left at the output path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogSealError {
    /// The log could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A recorder is running and has signed no checkpoint yet, so no
    /// prefix is known to be durable.
    #[error("a recorder is running on this log and has signed no checkpoint yet; ask it for one (`cfr-bundle log checkpoint --url ...`) and seal again")]
    NoCheckpoint,
    /// More events were asked for than are durable.
    #[error("{wanted} events asked for, but only {available} are sealable (durable and covered by a signed checkpoint)")]
    TooFew {
        /// Asked for.
        wanted: u64,
        /// Available.
        available: u64,
    },
    /// Signing the log's checkpoint failed.
    #[error("signing the log's checkpoint: {0}")]
    Checkpoint(#[from] crate::error::CheckpointError),
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Seals a prefix of the log at `dir` into the bundle `out`, verifiable
/// like any bundle. If no recorder runs on the log, it is opened (cutting
/// a torn tail) and a checkpoint over all of it is signed and stored
/// first; if one runs, the prefix is bounded by its last signed
/// checkpoint, since only that much is known to be durable. Returns the
/// prefix size and the seal's summary; the bundle's checkpoint equals the
/// log's at that size, so it is consistent with every checkpoint the log
/// signed.
pub fn seal_log(
    dir: &Path,
    opts: &LogSealOptions<'_>,
    out: &Path,
) -> Result<(u64, SealSummary), LogSealError> {
    seal_log_with_progress(dir, opts, out, &mut |_, _| {})
}

/// [`seal_log`], telling `progress` (events sealed, events to seal) as
/// the events stream into the bundle.
pub fn seal_log_with_progress(
    dir: &Path,
    opts: &LogSealOptions<'_>,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(u64, SealSummary), LogSealError> {
    let (contract_toml, available, times, latest): (
        String,
        u64,
        Option<Vec<i64>>,
        SignedCheckpoint,
    ) = match Recorder::open(
        dir,
        RecorderOptions {
            key: Some(opts.key.clone()),
            ..RecorderOptions::default()
        },
    ) {
        Ok(rec) => {
            let cp = rec.sign_checkpoint()?;
            let size = cp.checkpoint().size;
            let times = match opts.prefix {
                Prefix::Until(t) => {
                    let n = rec.size_until(t).map_err(|source| OpenError::Io {
                        path: dir.to_owned(),
                        source,
                    })?;
                    Some(vec![t, n as i64])
                }
                _ => None,
            };
            let text = rec.contract_toml().to_owned();
            rec.close();
            (text, size, times, cp)
        }
        Err(OpenError::Locked { .. }) => {
            let (text, _, cp) = inspect(dir)?;
            let cp = cp.ok_or(LogSealError::NoCheckpoint)?;
            (text, cp.checkpoint().size, None, cp)
        }
        Err(e) => return Err(e.into()),
    };
    let n = match opts.prefix {
        Prefix::All => available,
        Prefix::Size(n) => {
            if n > available {
                return Err(LogSealError::TooFew {
                    wanted: n,
                    available,
                });
            }
            n
        }
        Prefix::Until(t) => match times {
            Some(v) => v[1] as u64,
            None => {
                let mut count = 0;
                crate::recorder::for_each_event(dir, available, |e| {
                    if e.time <= t {
                        count += 1;
                    }
                })?;
                count
            }
        },
    };
    let seal_opts = SealOptions {
        contract_toml,
        contract_sigs: opts.contract_sigs.clone(),
        recorder_key: opts.key,
        analyzer: opts.analyzer.clone(),
        analyzer_cert: opts.analyzer_cert.clone(),
        chunk_bytes: opts.chunk_bytes,
        native_verdict: opts.native_verdict,
        // The submissions wholly inside the prefix, with their
        // signatures, come in the stream, each before its first event.
        submissions: Vec::new(),
        // The log's own checkpoint, with its witness cosignatures, when
        // the bundle seals exactly the events under it.
        checkpoint: (latest.checkpoint().size == n).then_some(latest),
        timestamp: opts.timestamp,
    };
    // Stream the events and their submissions from a reader thread so
    // memory stays bounded (one submission at a time, as the walk needs
    // them).
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Input, SealError>>(4096);
    let reader_dir = dir.to_owned();
    let reader = std::thread::spawn(move || {
        let r = crate::recorder::for_each_event_with_submission(&reader_dir, n, |entry, e| {
            if let Some(entry) = entry {
                let _ = tx.send(Ok(Input::Submission(entry)));
            }
            let _ = tx.send(Ok(Input::Event(e)));
        });
        if let Err(e) = r {
            let _ = tx.send(Err(SealError::Event {
                seq: n,
                reason: e.to_string(),
            }));
        }
    });
    let judge = match (opts.run_analyzer, &opts.analyzer) {
        (Some(start), Some(module)) => {
            let contract = cfr_contract::Contract::from_toml(&seal_opts.contract_toml)
                .map_err(SealError::from)?;
            Some(start(module, &contract.to_cbor()).map_err(|(_, e)| SealError::Analyzer(e))?)
        }
        _ => None,
    };
    // The stream must end only after the n-th event: a reader that
    // stopped early (a panic, a lost store) fails the seal, never a
    // bundle of fewer events than the prefix it says it seals.
    let given = std::cell::Cell::new(0u64);
    let events = rx
        .into_iter()
        .inspect(|e| given.set(given.get() + u64::from(matches!(e, Ok(Input::Event(_))))))
        .chain(std::iter::from_fn(|| {
            (given.get() < n).then(|| {
                let at = given.get();
                given.set(n);
                Err(SealError::Event {
                    seq: at,
                    reason: format!(
                        "the log's reader stopped after {at} of the {n} events to seal"
                    ),
                })
            })
        }));
    let summary = seal_judged(&seal_opts, judge, events, out, &mut |done| {
        progress(done, n)
    });
    let _ = reader.join();
    Ok((n, summary?))
}

/// Where a checkpoint comes from: a bundle (its `log/checkpoint`) or a
/// signed note file.
pub fn load_checkpoint(path: &Path) -> Result<SignedCheckpoint, ProveError> {
    let bytes = if Bundle::open(path).is_ok() {
        let b = Bundle::open(path).map_err(|e| ProveError::Input {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        b.read_small(cfr_bundle_format::layout::CHECKPOINT)
            .map_err(|e| ProveError::Input {
                path: path.to_owned(),
                reason: e.to_string(),
            })?
            .ok_or_else(|| ProveError::Input {
                path: path.to_owned(),
                reason: "the bundle has no log/checkpoint".into(),
            })?
    } else {
        std::fs::read(path).map_err(|e| ProveError::Input {
            path: path.to_owned(),
            reason: e.to_string(),
        })?
    };
    SignedCheckpoint::parse(&bytes).map_err(|e| ProveError::Input {
        path: path.to_owned(),
        reason: format!("not a bundle or a signed checkpoint: {e}"),
    })
}

/// Why two checkpoints could not be proven consistent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// An input could not be read.
    #[error("{path}: {reason}")]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A checkpoint's signature does not verify with the recorder key.
    #[error("{path}: checkpoint not signed by the recorder key: {reason}")]
    Signature {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The older checkpoint is larger than the newer one.
    #[error("the first checkpoint (size {old}) is larger than the second (size {new})")]
    Order {
        /// Size of the first.
        old: u64,
        /// Size of the second.
        new: u64,
    },
    /// The newer bundle's events do not give its own checkpoint's root.
    #[error("{path}: the bundle's events do not give its checkpoint's root")]
    BundleRoot {
        /// The bundle.
        path: PathBuf,
    },
    /// The two checkpoints are not of one append-only log.
    #[error("inconsistent: the log of the second checkpoint does not extend the first ({reason})")]
    Inconsistent {
        /// Why the proof fails.
        reason: String,
    },
}

/// A successful consistency proof.
#[derive(Debug, Clone)]
pub struct Consistency {
    /// The older checkpoint.
    pub old: Checkpoint,
    /// The newer checkpoint.
    pub new: Checkpoint,
    /// The RFC 9162 proof that was checked.
    pub proof: Vec<cfr_merkle::Hash>,
}

/// Proves that the checkpoint of `old` (a bundle or a note) is a prefix of
/// the bundle `new`: both verified with `recorder_key` under the
/// contract's origin, the proof computed from `new`'s events and checked
/// with [`verify_consistency`].
pub fn prove_consistency(
    old: &Path,
    new: &Path,
    recorder_key: &PublicKey,
    origin: &str,
) -> Result<Consistency, ProveError> {
    let verified = |path: &Path| -> Result<Checkpoint, ProveError> {
        let signed = load_checkpoint(path)?;
        signed
            .verify(origin, &recorder_key.0)
            .cloned()
            .map_err(|e| ProveError::Signature {
                path: path.to_owned(),
                reason: e.to_string(),
            })
    };
    let old_cp = verified(old)?;
    let new_cp = verified(new)?;
    if old_cp.size > new_cp.size {
        return Err(ProveError::Order {
            old: old_cp.size,
            new: new_cp.size,
        });
    }
    let bundle = Bundle::open(new).map_err(|e| ProveError::Input {
        path: new.to_owned(),
        reason: format!("the second file must be a bundle (its events give the proof): {e}"),
    })?;
    let mut tree = Tree::new();
    for e in bundle.events() {
        let e = e.map_err(|e| ProveError::Input {
            path: new.to_owned(),
            reason: e.to_string(),
        })?;
        tree.push(cfr_merkle::leaf_hash(&e.encode()));
    }
    if tree.size() != new_cp.size || tree.root() != new_cp.root {
        return Err(ProveError::BundleRoot {
            path: new.to_owned(),
        });
    }
    let proof = tree
        .consistency_proof(old_cp.size, new_cp.size)
        .map_err(|e| ProveError::Inconsistent {
            reason: e.to_string(),
        })?;
    check_consistency(&old_cp, &new_cp, &proof)?;
    Ok(Consistency {
        old: old_cp,
        new: new_cp,
        proof,
    })
}

/// Checks an RFC 9162 consistency proof between two checkpoints.
pub fn check_consistency(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &[cfr_merkle::Hash],
) -> Result<(), ProveError> {
    verify_consistency(old.size, new.size, &old.root, &new.root, proof).map_err(|e| {
        ProveError::Inconsistent {
            reason: e.to_string(),
        }
    })
}
