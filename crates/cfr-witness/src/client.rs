//! A blocking client that gathers a quorum of witness cosignatures for a
//! log's checkpoint (what a recorder calls before it publishes one).

use crate::request::AddCheckpoint;
use cfr_merkle::ed25519_dalek::VerifyingKey;
use cfr_merkle::{cosignature_key_id, parse_signature_lines, Hash, SignedCheckpoint};
use std::sync::Mutex;
use std::time::Duration;

/// One witness: where it listens, and the name and key its cosignatures
/// verify under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessEndpoint {
    /// The witness's name (the key name of its cosignature lines; in a
    /// cfr contract, its name in `[parties.witnesses]`).
    pub name: String,
    /// Its Ed25519 key.
    pub key: VerifyingKey,
    /// Its submission prefix: `http://host:port` (a trailing `/` is
    /// ignored; `/add-checkpoint` is appended) or `host:port`.
    pub url: String,
}

/// Why one witness did not cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessFailure {
    /// No answer: connection refused, timeout, a broken connection.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// Refused (any status but 200 and 409, or 409 again after the retry).
    #[error("refused ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The answer's text.
        message: String,
    },
    /// It holds a checkpoint larger than the one offered: it has seen a
    /// larger tree of this log than the log is publishing.
    #[error("it has cosigned size {known}, larger than this checkpoint's {size}")]
    Ahead {
        /// The size it holds.
        known: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The log could not give the consistency proof the witness needs.
    #[error("no consistency proof from size {from}: {reason}")]
    NoProof {
        /// The witness's size.
        from: u64,
        /// What `proof_for` said.
        reason: String,
    },
    /// It answered 200 without a valid cosignature by its key.
    #[error("no valid cosignature by its key in its answer: {0}")]
    BadCosignature(String),
}

/// Fewer witnesses cosigned than the quorum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of {needed} witness cosignatures needed; {}", .cosigned.len(), describe(.failures))]
pub struct QuorumError {
    /// The quorum.
    pub needed: usize,
    /// The witnesses that cosigned (their lines verified).
    pub cosigned: Vec<String>,
    /// Each witness that did not, and why.
    pub failures: Vec<(String, WitnessFailure)>,
}

fn describe(failures: &[(String, WitnessFailure)]) -> String {
    failures
        .iter()
        .map(|(name, why)| format!("witness {name}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A bad witness set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The quorum is 0 or larger than the number of witnesses.
    #[error("a quorum of {quorum} out of {witnesses} witnesses")]
    Quorum {
        /// The quorum.
        quorum: usize,
        /// How many witnesses.
        witnesses: usize,
    },
    /// Two witnesses with one name.
    #[error("witness {0:?} is given twice")]
    DuplicateName(String),
}

/// The consistency proof source: `proof_for(size)` gives the proof from
/// `size` to the checkpoint being cosigned.
pub type ProofFor<'a> = &'a (dyn Fn(u64) -> Result<Vec<Hash>, String> + Sync);

/// The witnesses a log asks, and how many must cosign.
///
/// It remembers, per witness, the size it last cosigned, so that a
/// witness that missed a checkpoint is asked from its own size (and
/// answers 409 only once, when this set is new).
///
/// A recorder calls [`cosign`](Self::cosign) after signing a checkpoint
/// and before publishing it: with the size of the last checkpoint it had
/// cosigned (0 at first), the consistency proof from that size, and a
/// `proof_for` that asks its tree for the proof from any other size. Only
/// the returned note (the recorder's signature and at least `quorum`
/// verified `cosignature/v1` lines) is published; on [`QuorumError`] the
/// checkpoint is not published, and the error names each witness that
/// did not cosign and why.
///
/// ```no_run
/// # use cfr_witness::{WitnessEndpoint, WitnessSet};
/// # use cfr_merkle::{Tree, SignedCheckpoint};
/// # fn demo(set: &WitnessSet, tree: &Tree, signed: &SignedCheckpoint, last_cosigned: u64) -> Result<(), Box<dyn std::error::Error>> {
/// let size = signed.checkpoint().size;
/// let proof = tree.consistency_proof(last_cosigned, size)?;
/// let proof_for = |from: u64| tree.consistency_proof(from, size).map_err(|e| e.to_string());
/// let published: SignedCheckpoint = set.cosign(signed, last_cosigned, &proof, &proof_for)?;
/// # Ok(()) }
/// ```
pub struct WitnessSet {
    witnesses: Vec<WitnessEndpoint>,
    quorum: usize,
    agent: ureq::Agent,
    sizes: Mutex<Vec<Option<u64>>>,
}

/// Largest answer read from a witness.
const MAX_ANSWER: u64 = 64 << 10;

impl WitnessSet {
    /// A set of `witnesses` of which `quorum` must cosign, each request
    /// bounded by `timeout`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a quorum of 0 or above the number of
    /// witnesses, or a name given twice.
    pub fn new(
        witnesses: Vec<WitnessEndpoint>,
        quorum: usize,
        timeout: Duration,
    ) -> Result<WitnessSet, ConfigError> {
        if quorum == 0 || quorum > witnesses.len() {
            return Err(ConfigError::Quorum {
                quorum,
                witnesses: witnesses.len(),
            });
        }
        for (i, w) in witnesses.iter().enumerate() {
            if witnesses[..i].iter().any(|o| o.name == w.name) {
                return Err(ConfigError::DuplicateName(w.name.clone()));
            }
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let sizes = Mutex::new(vec![None; witnesses.len()]);
        Ok(WitnessSet {
            witnesses,
            quorum,
            agent,
            sizes,
        })
    }

    /// The witnesses.
    #[must_use]
    pub fn witnesses(&self) -> &[WitnessEndpoint] {
        &self.witnesses
    }

    /// The quorum.
    #[must_use]
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Asks every witness, in parallel, to cosign `checkpoint` (signed by
    /// the log), and returns it with every cosignature that verified
    /// under its witness's name and key added, when at least the quorum
    /// did.
    ///
    /// `old_size` and `proof` are the size the witnesses are believed to
    /// hold (the last checkpoint this log had cosigned, or 0) and the
    /// consistency proof from it. A witness this set knows to hold
    /// another size is asked from that size instead; one that answers
    /// `409` is asked once more, from the size it names. `proof_for(size)`
    /// gives the consistency proof from `size` to `checkpoint` in both
    /// cases (it is not called for `old_size` or 0).
    ///
    /// # Errors
    ///
    /// [`QuorumError`] naming every witness that did not cosign and why.
    pub fn cosign(
        &self,
        checkpoint: &SignedCheckpoint,
        old_size: u64,
        proof: &[Hash],
        proof_for: ProofFor<'_>,
    ) -> Result<SignedCheckpoint, QuorumError> {
        let hints = self
            .sizes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let note = checkpoint.to_note();
        let results: Vec<Result<String, WitnessFailure>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .witnesses
                .iter()
                .zip(&hints)
                .map(|(w, hint)| {
                    let note = &note;
                    s.spawn(move || {
                        self.ask(w, *hint, checkpoint, note, old_size, proof, proof_for)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(WitnessFailure::Unreachable("the request panicked".into()))
                    })
                })
                .collect()
        });
        // The answer: the checkpoint with its lines but those under these
        // witnesses' names and key IDs (which only fresh, verified lines
        // replace), then the verified lines.
        let ours = |l: &cfr_merkle::NoteSignature| {
            self.witnesses.iter().any(|w| {
                l.key_name() == w.name && l.key_id() == cosignature_key_id(&w.name, &w.key)
            })
        };
        let kept: String = checkpoint
            .signatures()
            .iter()
            .filter(|l| !ours(l))
            .map(cfr_merkle::NoteSignature::line)
            .collect();
        let mut text = format!("{}\n{kept}", checkpoint.body());
        let mut cosigned = Vec::new();
        let mut failures = Vec::new();
        {
            let mut sizes = self
                .sizes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (i, (w, r)) in self.witnesses.iter().zip(results).enumerate() {
                match r {
                    Ok(line) => {
                        // The line verified against this very checkpoint
                        // text.
                        text.push_str(&line);
                        cosigned.push(w.name.clone());
                        if let Some(s) = sizes.get_mut(i) {
                            *s = Some(checkpoint.checkpoint().size);
                        }
                    }
                    Err(f) => {
                        if let (WitnessFailure::Ahead { known, .. }, Some(s)) =
                            (&f, sizes.get_mut(i))
                        {
                            *s = Some(*known);
                        }
                        failures.push((w.name.clone(), f));
                    }
                }
            }
        }
        let out = match SignedCheckpoint::parse(text.as_bytes()) {
            Ok(out) => Some(out),
            Err(e) => {
                // Too many lines, or too large a note, with them all.
                for name in cosigned.drain(..) {
                    failures.push((name, WitnessFailure::BadCosignature(e.to_string())));
                }
                None
            }
        };
        match out {
            Some(out) if cosigned.len() >= self.quorum => Ok(out),
            _ => Err(QuorumError {
                needed: self.quorum,
                cosigned,
                failures,
            }),
        }
    }

    /// One witness: its verified cosignature line.
    #[allow(clippy::too_many_arguments)]
    fn ask(
        &self,
        w: &WitnessEndpoint,
        hint: Option<u64>,
        checkpoint: &SignedCheckpoint,
        note: &str,
        old_size: u64,
        proof: &[Hash],
        proof_for: ProofFor<'_>,
    ) -> Result<String, WitnessFailure> {
        let size = checkpoint.checkpoint().size;
        let proof_from = |from: u64| -> Result<Vec<Hash>, WitnessFailure> {
            if from == 0 {
                Ok(Vec::new())
            } else if from == old_size {
                Ok(proof.to_vec())
            } else {
                proof_for(from).map_err(|reason| WitnessFailure::NoProof { from, reason })
            }
        };
        let mut from = match hint {
            Some(h) if h <= size => h,
            _ => old_size,
        };
        let url = format!(
            "http://{}/add-checkpoint",
            w.url
                .strip_prefix("http://")
                .unwrap_or(&w.url)
                .trim_end_matches('/')
        );
        for attempt in 0..2 {
            let body = AddCheckpoint::body(from, &proof_from(from)?, note);
            let (status, answer) = self.post(&url, &body)?;
            match status {
                200 => return verified_line(w, checkpoint, &answer),
                409 if attempt == 0 => {
                    let known = answer
                        .strip_suffix('\n')
                        .and_then(crate::request::parse_size)
                        .ok_or_else(|| WitnessFailure::Refused {
                            status,
                            message: format!("409 without a size: {}", first_line(&answer)),
                        })?;
                    if known > size {
                        return Err(WitnessFailure::Ahead { known, size });
                    }
                    from = known;
                }
                _ => {
                    return Err(WitnessFailure::Refused {
                        status,
                        message: first_line(&answer),
                    })
                }
            }
        }
        Err(WitnessFailure::Refused {
            status: 409,
            message: "conflict again after retrying from the size it named".into(),
        })
    }

    fn post(&self, url: &str, body: &[u8]) -> Result<(u16, String), WitnessFailure> {
        let unreachable = |e: ureq::Error| WitnessFailure::Unreachable(e.to_string());
        let response = self
            .agent
            .post(url)
            .header("Content-Type", "text/plain")
            .send(body)
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(unreachable)?;
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// The line of `answer` by `w`'s cosignature key, verified over
/// `checkpoint`; other lines are ignored, as `tlog-witness` requires.
fn verified_line(
    w: &WitnessEndpoint,
    checkpoint: &SignedCheckpoint,
    answer: &str,
) -> Result<String, WitnessFailure> {
    let lines = parse_signature_lines(answer)
        .map_err(|e| WitnessFailure::BadCosignature(format!("malformed answer: {e}")))?;
    let id = cosignature_key_id(&w.name, &w.key);
    let line = lines
        .into_iter()
        .find(|l| l.key_name() == w.name && l.key_id() == id)
        .ok_or_else(|| {
            WitnessFailure::BadCosignature(format!("no line by {:?} with key ID {id:08x}", w.name))
        })?;
    let text = line.line();
    // Verified over the checkpoint text alone, whatever else the note
    // carries.
    let probe = SignedCheckpoint::parse(format!("{}\n{text}", checkpoint.body()).as_bytes())
        .map_err(|e| WitnessFailure::BadCosignature(e.to_string()))?;
    probe
        .verify_cosignature(&w.name, &w.key)
        .map_err(|e| WitnessFailure::BadCosignature(e.to_string()))?;
    Ok(text)
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Log, Witness};
    use cfr_merkle::ed25519_dalek::SigningKey;
    use cfr_merkle::{leaf_hash, Checkpoint, Tree};
    use std::sync::Arc;

    const ORIGIN: &str = "cfr/client-test";

    /// A witness served on 127.0.0.1:0 until the test ends.
    struct Served {
        url: String,
        name: String,
        key: VerifyingKey,
        _dir: tempfile::TempDir,
        _stop: tokio::sync::oneshot::Sender<()>,
    }

    fn serve(
        name: &str,
        seed: u8,
        recorder: &SigningKey,
    ) -> Result<Served, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let key = SigningKey::from_bytes(&[seed; 32]);
        let witness = Arc::new(Witness::open(
            dir.path(),
            name,
            key.clone(),
            [Log {
                origin: ORIGIN.into(),
                key: recorder.verifying_key(),
            }],
        )?);
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let url = format!("http://{}", std_listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                let _ = crate::server::serve(witness, listener, Default::default(), async {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        Ok(Served {
            url,
            name: name.into(),
            key: key.verifying_key(),
            _dir: dir,
            _stop: stop,
        })
    }

    fn endpoint(s: &Served) -> WitnessEndpoint {
        WitnessEndpoint {
            name: s.name.clone(),
            key: s.key,
            url: s.url.clone(),
        }
    }

    fn signed(
        t: &Tree,
        size: u64,
        key: &SigningKey,
    ) -> Result<SignedCheckpoint, Box<dyn std::error::Error>> {
        Ok(Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: t.root_at(size)?,
        }
        .sign(key, ORIGIN)?)
    }

    #[test]
    fn gathers_a_quorum_and_names_who_failed() -> Result<(), Box<dyn std::error::Error>> {
        let recorder = SigningKey::from_bytes(&[1; 32]);
        let (a, b) = (serve("wa", 2, &recorder)?, serve("wb", 3, &recorder)?);
        let t = Tree::from_leaves((0..20u32).map(|i| leaf_hash(&i.to_be_bytes())));
        let proofs = |to: u64| {
            let t = &t;
            move |from: u64| t.consistency_proof(from, to).map_err(|e| e.to_string())
        };
        let set = WitnessSet::new(vec![endpoint(&a), endpoint(&b)], 2, Duration::from_secs(5))?;
        let cp = set.cosign(&signed(&t, 5, &recorder)?, 0, &[], &proofs(5))?;
        cp.verify_cosignature("wa", &a.key)?;
        cp.verify_cosignature("wb", &b.key)?;
        cp.verify(ORIGIN, &recorder.verifying_key())?;

        // Growth, with the proof from 5.
        let cp = set.cosign(
            &signed(&t, 9, &recorder)?,
            5,
            &t.consistency_proof(5, 9)?,
            &proofs(9),
        )?;
        assert_eq!(cp.signatures().len(), 3);

        // A new set that believes the witnesses are at 0: each answers 409
        // with 9, and is asked again from 9.
        let fresh = WitnessSet::new(vec![endpoint(&a), endpoint(&b)], 2, Duration::from_secs(5))?;
        let cp = fresh.cosign(&signed(&t, 12, &recorder)?, 0, &[], &proofs(12))?;
        cp.verify_cosignature("wb", &b.key)?;

        // A witness down, another with the wrong key: named with why.
        let down = WitnessEndpoint {
            name: "wdown".into(),
            key: b.key,
            url: "127.0.0.1:9".into(),
        };
        let wrong = WitnessEndpoint {
            key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
            ..endpoint(&b)
        };
        let set = WitnessSet::new(vec![endpoint(&a), wrong, down], 2, Duration::from_secs(5))?;
        let err = set
            .cosign(
                &signed(&t, 15, &recorder)?,
                12,
                &t.consistency_proof(12, 15)?,
                &proofs(15),
            )
            .err()
            .ok_or("quorum met with one good witness")?;
        assert_eq!(err.cosigned, vec!["wa".to_owned()]);
        let text = err.to_string();
        assert!(text.contains("witness wb: no valid cosignature"), "{text}");
        assert!(text.contains("witness wdown: unreachable"), "{text}");

        // A checkpoint inconsistent with what they cosigned: refused (422).
        let other = Tree::from_leaves((0..20u32).map(|i| leaf_hash(&(i + 100).to_be_bytes())));
        let set = WitnessSet::new(vec![endpoint(&a)], 1, Duration::from_secs(5))?;
        let err = set
            .cosign(&signed(&other, 15, &recorder)?, 15, &[], &|_| {
                Err("no".into())
            })
            .err()
            .ok_or("cosigned a fork")?;
        assert!(
            matches!(
                err.failures[0].1,
                WitnessFailure::Refused {
                    status: 409 | 422,
                    ..
                }
            ),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_sets() {
        assert!(WitnessSet::new(vec![], 1, Duration::from_secs(1)).is_err());
        let w = WitnessEndpoint {
            name: "w".into(),
            key: SigningKey::from_bytes(&[1; 32]).verifying_key(),
            url: "127.0.0.1:1".into(),
        };
        assert!(WitnessSet::new(vec![w.clone()], 0, Duration::from_secs(1)).is_err());
        assert!(WitnessSet::new(vec![w.clone(), w], 1, Duration::from_secs(1)).is_err());
    }
}
