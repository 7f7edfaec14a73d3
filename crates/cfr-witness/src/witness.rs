//! The witness: which logs it knows, what it last cosigned for each, and
//! the `add-checkpoint` decision.

use crate::request::{AddCheckpoint, RequestError};
use crate::state::{Evidence, State, StateError};
use cfr_merkle::ed25519_dalek::{SigningKey, VerifyingKey};
use cfr_merkle::{verify_consistency, CheckpointError, ProofError, SignedCheckpoint};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A log the witness cosigns for: its origin and the Ed25519 key its
/// checkpoints are signed with, under the origin as key name (as a cfr
/// recorder signs: origin `cfr/<contract id>`, key the contract's
/// recorder key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// The checkpoint origin line.
    pub origin: String,
    /// The log's key.
    pub key: VerifyingKey,
}

/// Why a checkpoint was not cosigned. [`status`](Self::status) gives the
/// HTTP status `tlog-witness` prescribes. Nothing of the witness's record
/// of the log changes on any refusal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The body does not parse (`400`).
    #[error("malformed request: {0}")]
    Malformed(#[from] RequestError),
    /// The old size is above the checkpoint's size (`400`).
    #[error("old size {old_size} is above the checkpoint's size {size}")]
    OldSizeAboveSize {
        /// The old size given.
        old_size: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The witness knows no log of this origin (`404`).
    #[error("unknown log origin {origin:?}")]
    UnknownOrigin {
        /// The origin.
        origin: String,
    },
    /// No valid signature by the log's key (`403`).
    #[error("the checkpoint is not signed by the key of {origin:?}: {source}")]
    Forbidden {
        /// The origin.
        origin: String,
        /// What the signature check found.
        source: CheckpointError,
    },
    /// The old size is not the size of the latest checkpoint the witness
    /// cosigned (`409`, body: `known` in decimal).
    #[error("the witness's latest cosigned checkpoint of this log has size {known}, not {old_size}{}", kept_note(.evidence))]
    Conflict {
        /// The old size given.
        old_size: u64,
        /// The size the witness holds.
        known: u64,
        /// Where the two checkpoints were kept, when this one has the size
        /// of the one cosigned but another root (a split view).
        evidence: Option<Box<Evidence>>,
    },
    /// The checkpoint is not consistent with the one the witness holds, or
    /// the proof does not show that it is (`422`).
    #[error("inconsistent: {reason}{}", kept_note(.evidence))]
    Inconsistent {
        /// What failed.
        reason: Inconsistency,
        /// Where the two checkpoints were kept, when both have one size
        /// and different roots (a split view).
        evidence: Option<Box<Evidence>>,
    },
    /// The state could not be written: nothing was cosigned (`500`).
    #[error("storing the witness state failed: {0}")]
    Storage(#[from] StateError),
}

fn kept_note(evidence: &Option<Box<Evidence>>) -> String {
    match evidence {
        Some(e) => format!(
            "; split view: both checkpoints kept as {} and {}",
            e.cosigned.display(),
            e.offered.display()
        ),
        None => String::new(),
    }
}

/// What made a checkpoint inconsistent (a `422`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Inconsistency {
    /// A checkpoint of size 0 whose root is not the empty tree's.
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    EmptyTreeRoot,
    /// A proof was given with old size 0.
    #[error("old size 0 takes no consistency proof ({lines} lines given)")]
    ProofFromZero {
        /// Proof lines given.
        lines: usize,
    },
    /// Same size as the cosigned checkpoint, another root.
    #[error("size {size} has another root than the checkpoint this witness cosigned")]
    RootDiffers {
        /// The size.
        size: u64,
    },
    /// The consistency proof does not verify.
    #[error("the consistency proof from size {old_size} to {size} does not verify: {source}")]
    BadProof {
        /// The old size.
        old_size: u64,
        /// The new size.
        size: u64,
        /// Why.
        source: ProofError,
    },
}

impl Refusal {
    /// The HTTP status of this refusal.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) | Refusal::OldSizeAboveSize { .. } => 400,
            Refusal::Forbidden { .. } => 403,
            Refusal::UnknownOrigin { .. } => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent { .. } => 422,
            Refusal::Storage(_) => 500,
        }
    }

    /// The evidence of a split view this refusal kept, if any.
    #[must_use]
    pub fn evidence(&self) -> Option<&Evidence> {
        match self {
            Refusal::Conflict { evidence, .. } | Refusal::Inconsistent { evidence, .. } => {
                evidence.as_deref()
            }
            _ => None,
        }
    }
}

/// Why a witness could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The witness name is not a valid note key name.
    #[error("invalid witness name {name:?}: must be non-empty, without whitespace, '+' or control characters")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// Two logs with one origin.
    #[error("log {origin:?} is given twice")]
    DuplicateLog {
        /// The origin.
        origin: String,
    },
    /// The state directory could not be opened, locked or read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A hook run right after a new checkpoint is persisted and before the
/// answer is sent (a test failpoint: the CLI's kills the process there).
pub type AfterPersist = Box<dyn Fn() + Send + Sync>;

/// A `tlog-witness`: cosigns checkpoints of the logs it knows, each only
/// when consistent with the latest one it cosigned for that origin, which
/// it persists (atomically, synced) before answering.
///
/// Checking the old size, verifying the proof, signing and persisting are
/// done under one lock, so two concurrent requests cannot roll the
/// witness's view back (the race `tlog-witness` warns of).
pub struct Witness {
    name: String,
    key: SigningKey,
    logs: BTreeMap<String, VerifyingKey>,
    state: Mutex<State>,
    after_persist: Option<AfterPersist>,
}

impl Witness {
    /// Opens (creating if needed) the state directory `dir`, takes its
    /// lock, and loads the latest cosigned checkpoint of every log.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidName`], [`OpenError::DuplicateLog`], or
    /// [`OpenError::State`] when the directory is locked by another
    /// witness, unreadable, or holds a checkpoint that does not parse (the
    /// witness refuses to forget what it cosigned).
    pub fn open(
        dir: &Path,
        name: &str,
        key: SigningKey,
        logs: impl IntoIterator<Item = Log>,
    ) -> Result<Witness, OpenError> {
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c == '+' || c.is_control())
        {
            return Err(OpenError::InvalidName {
                name: name.to_owned(),
            });
        }
        let mut map = BTreeMap::new();
        for log in logs {
            if map.insert(log.origin.clone(), log.key).is_some() {
                return Err(OpenError::DuplicateLog { origin: log.origin });
            }
        }
        let state = State::open(dir)?;
        Ok(Witness {
            name: name.to_owned(),
            key,
            logs: map,
            state: Mutex::new(state),
            after_persist: None,
        })
    }

    /// Runs `hook` after every persist, before the answer (tests).
    #[must_use]
    pub fn with_after_persist(mut self, hook: AfterPersist) -> Witness {
        self.after_persist = Some(hook);
        self
    }

    /// The witness's name: the key name of its cosignature lines.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The witness's public key.
    #[must_use]
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The origins it cosigns for.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The state directory.
    #[must_use]
    pub fn dir(&self) -> PathBuf {
        self.lock().dir().to_owned()
    }

    /// The latest checkpoint it cosigned for `origin` (with the log's
    /// signature and its cosignature), if any.
    #[must_use]
    pub fn latest(&self, origin: &str) -> Option<SignedCheckpoint> {
        self.lock().latest(origin).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half
        // written (every write is a rename): the map is still the disk's.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Handles an `add-checkpoint` body: on success, the cosignature line
    /// (with its final newline), the checkpoint having been persisted.
    ///
    /// # Errors
    ///
    /// The [`Refusal`], in the order `tlog-witness` checks: malformed
    /// (400), unknown origin (404), signature (403), old size above size
    /// (400), old size not the latest (409), then consistency (422).
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body)?;
        self.add(request, now())
    }

    /// [`add_checkpoint`](Self::add_checkpoint) for a parsed request, with
    /// the cosignature's timestamp given (POSIX seconds; raised to the
    /// last one given for this origin, so that its statements never go
    /// back in time).
    ///
    /// # Errors
    ///
    /// As [`add_checkpoint`](Self::add_checkpoint).
    pub fn add(&self, request: AddCheckpoint, timestamp: u64) -> Result<String, Refusal> {
        let AddCheckpoint {
            old_size,
            proof,
            checkpoint: offered,
        } = request;
        let cp = offered.checkpoint().clone();
        let Some(log_key) = self.logs.get(&cp.origin) else {
            return Err(Refusal::UnknownOrigin { origin: cp.origin });
        };
        if let Err(source) = offered.verify(&cp.origin, log_key) {
            return Err(Refusal::Forbidden {
                origin: cp.origin,
                source,
            });
        }
        if old_size > cp.size {
            return Err(Refusal::OldSizeAboveSize {
                old_size,
                size: cp.size,
            });
        }
        let mut state = self.lock();
        let latest = state.latest(&cp.origin).cloned();
        let known = latest.as_ref().map_or(0, |l| l.checkpoint().size);
        // A checkpoint of the size this witness cosigned, with another
        // root: whatever else is wrong with the request, keep both.
        let split = latest
            .as_ref()
            .filter(|l| l.checkpoint().size == cp.size && l.checkpoint().root != cp.root);
        let keep = |state: &mut State| -> Result<Option<Box<Evidence>>, Refusal> {
            match split {
                Some(l) => Ok(Some(Box::new(state.keep_evidence(l, &offered, timestamp)?))),
                None => Ok(None),
            }
        };
        if old_size != known {
            let evidence = keep(&mut state)?;
            return Err(Refusal::Conflict {
                old_size,
                known,
                evidence,
            });
        }
        let reason = if cp.size == 0 && cp.root != cfr_merkle::empty_root() {
            Some(Inconsistency::EmptyTreeRoot)
        } else if old_size == 0 && !proof.is_empty() {
            Some(Inconsistency::ProofFromZero { lines: proof.len() })
        } else if split.is_some() {
            Some(Inconsistency::RootDiffers { size: cp.size })
        } else if let Some(l) = latest.as_ref().filter(|_| old_size > 0) {
            verify_consistency(old_size, cp.size, &l.checkpoint().root, &cp.root, &proof)
                .err()
                .map(|source| Inconsistency::BadProof {
                    old_size,
                    size: cp.size,
                    source,
                })
        } else {
            None
        };
        if let Some(reason) = reason {
            let evidence = keep(&mut state)?;
            return Err(Refusal::Inconsistent { reason, evidence });
        }
        // Consistent: cosign, persist, then answer.
        let last_time = latest.as_ref().and_then(|l| self.own_time(l)).unwrap_or(0);
        let timestamp = timestamp.max(last_time).max(1);
        // The record keeps the checkpoint, the log's signature and this
        // witness's cosignature; other lines the client sent are not ours
        // to republish.
        let log_id = cfr_merkle::key_id(&cp.origin, log_key);
        let log_lines: String = offered
            .signatures()
            .iter()
            .filter(|s| s.key_name() == cp.origin && s.key_id() == log_id)
            .map(cfr_merkle::NoteSignature::line)
            .collect();
        let failed = |source| Refusal::Forbidden {
            origin: cp.origin.clone(),
            source,
        };
        let mut cosigned =
            SignedCheckpoint::parse(format!("{}\n{log_lines}", offered.body()).as_bytes())
                .map_err(failed)?;
        let line = cosigned
            .cosign(&self.key, &self.name, timestamp)
            .map_err(failed)?;
        state.persist(&cosigned)?;
        if let Some(hook) = &self.after_persist {
            hook();
        }
        Ok(line)
    }

    /// The timestamp of this witness's own cosignature on `cp`.
    fn own_time(&self, cp: &SignedCheckpoint) -> Option<u64> {
        cp.verify_cosignature(&self.name, &self.key.verifying_key())
            .ok()
            .map(|c| c.timestamp)
    }
}

/// Now, in POSIX seconds.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_merkle::{leaf_hash, Checkpoint, Hash, Tree};

    const ORIGIN: &str = "cfr/test";

    struct Fixture {
        dir: tempfile::TempDir,
        recorder: SigningKey,
        witness_key: SigningKey,
    }

    impl Fixture {
        fn new() -> Result<Fixture, std::io::Error> {
            Ok(Fixture {
                dir: tempfile::tempdir()?,
                recorder: SigningKey::from_bytes(&[1; 32]),
                witness_key: SigningKey::from_bytes(&[2; 32]),
            })
        }
        fn open(&self) -> Result<Witness, OpenError> {
            Witness::open(
                self.dir.path(),
                "w1",
                self.witness_key.clone(),
                [Log {
                    origin: ORIGIN.into(),
                    key: self.recorder.verifying_key(),
                }],
            )
        }
        fn note(&self, t: &Tree, size: u64) -> Result<String, Box<dyn std::error::Error>> {
            Ok(Checkpoint {
                origin: ORIGIN.into(),
                size,
                root: t.root_at(size)?,
            }
            .sign(&self.recorder, ORIGIN)?
            .to_note())
        }
    }

    fn tree(prefix: &str, n: u64) -> Tree {
        Tree::from_leaves((0..n).map(|i| leaf_hash(format!("{prefix}{i}").as_bytes())))
    }

    fn status(r: Result<String, Refusal>) -> u16 {
        r.map_or_else(|e| e.status(), |_| 200)
    }

    #[test]
    fn cosigns_growth_and_refuses_the_rest() -> Result<(), Box<dyn std::error::Error>> {
        let f = Fixture::new()?;
        let w = f.open()?;
        let t = tree("e", 10);
        let body = |old: u64, proof: &[Hash], note: &str| AddCheckpoint::body(old, proof, note);
        let line = w.add_checkpoint(&body(0, &[], &f.note(&t, 4)?))?;
        let mut cp = SignedCheckpoint::parse(f.note(&t, 4)?.as_bytes())?;
        cp.add_signature_line(&line)?;
        cp.verify_cosignature("w1", &f.witness_key.verifying_key())?;

        let good = t.consistency_proof(4, 7)?;
        let note7 = f.note(&t, 7)?;
        // Stale old size, bad proofs: refused, nothing changes.
        assert_eq!(status(w.add_checkpoint(&body(0, &[], &note7))), 409);
        assert_eq!(status(w.add_checkpoint(&body(5, &good, &note7))), 409);
        let mut bad = good.clone();
        bad[0][0] ^= 1;
        assert_eq!(status(w.add_checkpoint(&body(4, &bad, &note7))), 422);
        assert_eq!(status(w.add_checkpoint(&body(4, &good[1..], &note7))), 422);
        assert_eq!(status(w.add_checkpoint(&body(8, &[], &note7))), 400);
        assert_eq!(status(w.add_checkpoint(b"old 4\n")), 400);
        assert_eq!(w.latest(ORIGIN).map(|c| c.checkpoint().size), Some(4));

        // Growth with the right proof.
        w.add_checkpoint(&body(4, &good, &note7))?;
        assert_eq!(w.latest(ORIGIN).map(|c| c.checkpoint().size), Some(7));
        // The same checkpoint again: cosigned again.
        w.add_checkpoint(&body(7, &[], &note7))?;

        // Unknown origin, and another key.
        let other = Checkpoint {
            origin: "cfr/other".into(),
            size: 1,
            root: t.root_at(1)?,
        }
        .sign(&f.recorder, "cfr/other")?;
        assert_eq!(
            status(w.add_checkpoint(&body(0, &[], &other.to_note()))),
            404
        );
        let forged = Checkpoint {
            origin: ORIGIN.into(),
            size: 8,
            root: t.root_at(8)?,
        }
        .sign(&SigningKey::from_bytes(&[3; 32]), ORIGIN)?;
        assert_eq!(
            status(w.add_checkpoint(&body(7, &t.consistency_proof(7, 8)?, &forged.to_note()))),
            403
        );
        Ok(())
    }

    #[test]
    fn keeps_evidence_of_a_split_view_and_survives_restart(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let f = Fixture::new()?;
        let honest = tree("e", 5);
        let liar = tree("x", 5);
        {
            let w = f.open()?;
            w.add_checkpoint(&AddCheckpoint::body(0, &[], &f.note(&honest, 5)?))?;
            // A second witness on the same state is locked out.
            assert!(matches!(
                f.open(),
                Err(OpenError::State(StateError::Locked { .. }))
            ));
            let offered = f.note(&liar, 5)?;
            for old in [0, 5] {
                let r = w.add_checkpoint(&AddCheckpoint::body(old, &[], &offered));
                let refusal = r.err().ok_or("cosigned a split view")?;
                assert_eq!(refusal.status(), if old == 0 { 409 } else { 422 });
                let e = refusal.evidence().ok_or("no evidence kept")?;
                assert_eq!(std::fs::read_to_string(&e.offered)?, offered);
                let kept = SignedCheckpoint::parse(&std::fs::read(&e.cosigned)?)?;
                assert_eq!(kept.checkpoint().root, honest.root());
            }
        }
        // Restarted: it remembers, and still refuses the other branch.
        let w = f.open()?;
        assert_eq!(
            w.latest(ORIGIN).map(|c| c.checkpoint().root),
            Some(honest.root())
        );
        let grown = tree("x", 6);
        let r = w.add_checkpoint(&AddCheckpoint::body(
            5,
            &grown.consistency_proof(5, 6)?,
            &f.note(&grown, 6)?,
        ));
        assert_eq!(status(r), 422);
        Ok(())
    }

    #[test]
    fn refuses_a_corrupt_state() -> Result<(), Box<dyn std::error::Error>> {
        let f = Fixture::new()?;
        {
            let w = f.open()?;
            w.add_checkpoint(&AddCheckpoint::body(0, &[], &f.note(&tree("e", 2), 2)?))?;
        }
        let file = f
            .dir
            .path()
            .join("logs")
            .join(crate::origin_hash(ORIGIN))
            .join("checkpoint");
        std::fs::write(&file, b"garbage")?;
        assert!(matches!(
            f.open(),
            Err(OpenError::State(StateError::Corrupt { .. }))
        ));
        Ok(())
    }
}
