//! The body of a C2SP `tlog-witness` `add-checkpoint` request:
//!
//! ```text
//! old <size>\n
//! <base64 consistency proof hash>\n      (0 to 63 lines)
//! \n
//! <signed checkpoint note>
//! ```

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use cfr_merkle::{CheckpointError, Hash, SignedCheckpoint, MAX_NOTE_LEN};

/// Most consistency proof lines a request may carry (the spec's bound).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest request body accepted, in bytes: the old size line, 63 proof
/// lines and the largest note a checkpoint may be.
pub const MAX_REQUEST_LEN: usize = MAX_NOTE_LEN + 4096;

/// Why an `add-checkpoint` body could not be parsed (a `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is larger than [`MAX_REQUEST_LEN`].
    #[error("the body is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body is not UTF-8.
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    /// The first line is not `old <canonical decimal u64>`.
    #[error("the first line must be \"old <size>\" (a decimal without leading zeroes)")]
    OldLine,
    /// A proof line is not the canonical standard base64 of 32 bytes.
    #[error("line {line}: a consistency proof line must be the base64 of a 32-byte hash")]
    ProofLine {
        /// 1-based line number.
        line: usize,
    },
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {max} consistency proof lines")]
    TooManyProofLines {
        /// The limit.
        max: usize,
    },
    /// No empty line ends the proof.
    #[error("no empty line separates the proof from the checkpoint")]
    MissingBlankLine,
    /// The checkpoint note is malformed.
    #[error("the checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

/// A parsed `add-checkpoint` request. The checkpoint is **unverified**.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the previous checkpoint the client says the witness
    /// holds.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint, not yet verified.
    pub checkpoint: SignedCheckpoint,
}

impl AddCheckpoint {
    /// Parses a request body strictly. Never panics, whatever the input.
    ///
    /// # Errors
    ///
    /// The [`RequestError`] naming the first problem found.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, RequestError> {
        if body.len() > MAX_REQUEST_LEN {
            return Err(RequestError::TooLarge {
                len: body.len(),
                max: MAX_REQUEST_LEN,
            });
        }
        let text = core::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
        let (first, mut rest) = text.split_once('\n').ok_or(RequestError::OldLine)?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_size)
            .ok_or(RequestError::OldLine)?;
        let mut proof = Vec::new();
        let mut line = 2;
        loop {
            let (l, tail) = rest
                .split_once('\n')
                .ok_or(RequestError::MissingBlankLine)?;
            rest = tail;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyProofLines {
                    max: MAX_PROOF_LINES,
                });
            }
            proof.push(parse_hash(l).ok_or(RequestError::ProofLine { line })?);
            line += 1;
        }
        let checkpoint = SignedCheckpoint::parse(rest.as_bytes())?;
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint,
        })
    }

    /// The request body for `old_size`, `proof` and the signed note `note`.
    #[must_use]
    pub fn body(old_size: u64, proof: &[Hash], note: &str) -> Vec<u8> {
        let mut out = format!("old {old_size}\n");
        for h in proof {
            out.push_str(&BASE64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(note);
        out.into_bytes()
    }
}

/// A canonical decimal `u64`: digits only, no leading zero but for `0`.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

/// Canonical standard base64 of exactly 32 bytes.
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    let bytes = BASE64.decode(s).ok()?;
    Hash::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_merkle::ed25519_dalek::SigningKey;
    use cfr_merkle::Checkpoint;

    fn note() -> Result<String, CheckpointError> {
        let key = SigningKey::from_bytes(&[5; 32]);
        Ok(Checkpoint {
            origin: "cfr/x".into(),
            size: 5,
            root: [1; 32],
        }
        .sign(&key, "cfr/x")?
        .to_note())
    }

    #[test]
    fn round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let note = note()?;
        for proof in [vec![], vec![[7u8; 32], [8; 32]]] {
            let body = AddCheckpoint::body(3, &proof, &note);
            let r = AddCheckpoint::parse(&body)?;
            assert_eq!(r.old_size, 3);
            assert_eq!(r.proof, proof);
            assert_eq!(r.checkpoint.to_note(), note);
        }
        Ok(())
    }

    #[test]
    fn malformed() -> Result<(), Box<dyn std::error::Error>> {
        let note = note()?;
        let h = BASE64.encode([7u8; 32]);
        let cases: Vec<(String, RequestError)> = vec![
            (String::new(), RequestError::OldLine),
            (format!("old 01\n\n{note}"), RequestError::OldLine),
            (format!("old -1\n\n{note}"), RequestError::OldLine),
            (format!("old  1\n\n{note}"), RequestError::OldLine),
            (format!("new 1\n\n{note}"), RequestError::OldLine),
            (
                format!("old 18446744073709551616\n\n{note}"),
                RequestError::OldLine,
            ),
            (format!("old 1\n{h}"), RequestError::MissingBlankLine),
            (
                format!("old 1\n{}\n\n{note}", &h[..43]),
                RequestError::ProofLine { line: 2 },
            ),
            (
                format!("old 1\n{h}\nAAAA\n\n{note}"),
                RequestError::ProofLine { line: 3 },
            ),
            (
                format!("old 1\n{}\n{note}", format!("{h}\n").repeat(64)),
                RequestError::TooManyProofLines { max: 63 },
            ),
        ];
        for (body, want) in cases {
            assert_eq!(AddCheckpoint::parse(body.as_bytes()), Err(want), "{body:?}");
        }
        assert!(matches!(
            AddCheckpoint::parse(format!("old 1\n\n{}", &note[..note.len() - 1]).as_bytes()),
            Err(RequestError::Checkpoint(_))
        ));
        assert_eq!(
            AddCheckpoint::parse(b"old 1\n\xff\n"),
            Err(RequestError::NotUtf8)
        );
        let big = vec![b'a'; MAX_REQUEST_LEN + 1];
        assert!(matches!(
            AddCheckpoint::parse(&big),
            Err(RequestError::TooLarge { .. })
        ));
        // 63 lines are allowed.
        let body = format!("old 1\n{}\n{note}", format!("{h}\n").repeat(63));
        assert_eq!(AddCheckpoint::parse(body.as_bytes())?.proof.len(), 63);
        Ok(())
    }
}
