//! C2SP `tlog-cosignature` Ed25519 cosignatures (`cosignature/v1`).
//!
//! A cosignature is a note signature line over a checkpoint by a
//! *witness*: a statement that, at the time it carries, the witness had
//! verified this checkpoint to be the largest consistent tree head it had
//! seen for the origin. Its line has the usual signed-note form,
//!
//! ```text
//! — <witness name> base64(key ID || timestamp || Ed25519 signature)
//! ```
//!
//! where
//!
//! * the key ID is `SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]`
//!   (signature type `0x04`, not the `0x01` of plain Ed25519 note
//!   signatures, so the two never share a key ID);
//! * the timestamp is a big-endian `u64` of POSIX seconds, at most
//!   `2^63 - 1`;
//! * the signature is over the message
//!   `"cosignature/v1\ntime <timestamp in decimal>\n" || checkpoint text`
//!   (the whole note text with its final newline, no signature lines).

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::checkpoint::{CheckpointError, NoteSignature, SignedCheckpoint};

/// Signed-note signature type byte of timestamped Ed25519 cosignatures.
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;
/// Bytes after the key ID in a `cosignature/v1` line: the timestamp and
/// the Ed25519 signature.
const COSIGNATURE_V1_LEN: usize = 8 + 64;
/// Largest timestamp a cosignature may carry.
pub const MAX_COSIGNATURE_TIME: u64 = (1 << 63) - 1;

/// The key ID of a witness's Ed25519 `cosignature/v1` key:
/// the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x04 || 32-byte public key)`.
#[must_use]
pub fn cosignature_key_id(name: &str, key: &VerifyingKey) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', COSIGNATURE_V1_TYPE])
        .chain_update(key.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The message a `cosignature/v1` signs: the header line, the time line,
/// then the checkpoint text (`body`, with its final newline).
#[must_use]
pub fn cosignature_message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{body}").into_bytes()
}

/// A verified `cosignature/v1`: who signed, with which key ID, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cosigned<'a> {
    /// The witness's name (the line's key name).
    pub name: &'a str,
    /// The key ID of the line.
    pub key_id: u32,
    /// The time the witness signed, POSIX seconds.
    pub timestamp: u64,
}

/// Splits the bytes after a key ID into a `cosignature/v1` timestamp and
/// signature, when they have that shape.
fn split_cosignature(bytes: &[u8]) -> Option<(u64, [u8; 64])> {
    if bytes.len() != COSIGNATURE_V1_LEN {
        return None;
    }
    let (time, sig) = bytes.split_at(8);
    let timestamp = u64::from_be_bytes(time.try_into().ok()?);
    Some((timestamp, sig.try_into().ok()?))
}

impl NoteSignature {
    /// The timestamp of this line read as a `cosignature/v1` (the first
    /// eight bytes after the key ID), when it has that length. **Not
    /// verified**: use [`SignedCheckpoint::verify_cosignature`].
    #[must_use]
    pub fn cosignature_time(&self) -> Option<u64> {
        split_cosignature(self.signature()).map(|(t, _)| t)
    }
}

impl SignedCheckpoint {
    /// Adds a `cosignature/v1` by `key` under the witness name `name`,
    /// timestamped `timestamp` (POSIX seconds), and returns its line (with
    /// the final newline), which is what a witness answers.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidKeyName`],
    /// [`CheckpointError::InvalidCosignatureTime`] for a timestamp above
    /// [`MAX_COSIGNATURE_TIME`], [`CheckpointError::DuplicateSignature`]
    /// when this key already cosigned under this name,
    /// [`CheckpointError::TooManySignatures`] or
    /// [`CheckpointError::TooLarge`].
    pub fn cosign(
        &mut self,
        key: &SigningKey,
        name: &str,
        timestamp: u64,
    ) -> Result<String, CheckpointError> {
        if timestamp > MAX_COSIGNATURE_TIME {
            return Err(CheckpointError::InvalidCosignatureTime { timestamp });
        }
        let key_id = cosignature_key_id(name, &key.verifying_key());
        let signature = key.sign(&cosignature_message(self.body(), timestamp));
        let mut bytes = Vec::with_capacity(COSIGNATURE_V1_LEN);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        let line = NoteSignature::new(name, key_id, bytes)?;
        let text = line.line();
        self.push_signature(line)?;
        Ok(text)
    }

    /// Adds one signature line as received (from a witness's answer): the
    /// line's format is checked, its signature is not. Verify it with
    /// [`verify_cosignature`](Self::verify_cosignature) before relying on
    /// it.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidSignatureLine`] (or
    /// [`CheckpointError::LineTooLong`]) for a malformed line (`line` may
    /// end in one newline), [`CheckpointError::DuplicateSignature`],
    /// [`CheckpointError::TooManySignatures`] or
    /// [`CheckpointError::TooLarge`].
    pub fn add_signature_line(&mut self, line: &str) -> Result<(), CheckpointError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let signature = crate::checkpoint::parse_signature_line(line, 1)?;
        self.push_signature(signature)
    }

    /// Verifies the `cosignature/v1` by the witness `name` with `key`, and
    /// returns what it says. Other lines are ignored.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::SignatureNotFound`] when no line has this name
    /// and the key's `cosignature/v1` key ID;
    /// [`CheckpointError::InvalidSignature`] when it does not verify: not
    /// 72 bytes, a timestamp above [`MAX_COSIGNATURE_TIME`], or not an
    /// Ed25519 signature of this checkpoint at that time (strict RFC 8032
    /// verification).
    pub fn verify_cosignature<'a>(
        &'a self,
        name: &str,
        key: &VerifyingKey,
    ) -> Result<Cosigned<'a>, CheckpointError> {
        let key_id = cosignature_key_id(name, key);
        let line = self
            .signatures()
            .iter()
            .find(|s| s.key_id() == key_id && s.key_name() == name)
            .ok_or_else(|| CheckpointError::SignatureNotFound {
                key_name: name.to_owned(),
                key_id,
            })?;
        let invalid = || CheckpointError::InvalidSignature {
            key_name: name.to_owned(),
            key_id,
        };
        let (timestamp, signature) = split_cosignature(line.signature()).ok_or_else(invalid)?;
        if timestamp > MAX_COSIGNATURE_TIME {
            return Err(invalid());
        }
        key.verify_strict(
            &cosignature_message(self.body(), timestamp),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| invalid())?;
        Ok(Cosigned {
            name: line.key_name(),
            key_id,
            timestamp,
        })
    }
}

/// Parses a witness's `add-checkpoint` answer: one or more signature
/// lines, each ending in a newline. Formats only; nothing is verified.
///
/// # Errors
///
/// [`CheckpointError::NoSignatures`] for an empty answer,
/// [`CheckpointError::MissingFinalNewline`], a control character, a
/// malformed line, or more than [`crate::MAX_SIGNATURES`] lines.
pub fn parse_signature_lines(text: &str) -> Result<Vec<NoteSignature>, CheckpointError> {
    if text.len() > crate::MAX_NOTE_LEN {
        return Err(CheckpointError::TooLarge {
            len: text.len(),
            max: crate::MAX_NOTE_LEN,
        });
    }
    crate::checkpoint::check_text(text)?;
    let Some(lines) = text.strip_suffix('\n') else {
        return Err(if text.is_empty() {
            CheckpointError::NoSignatures
        } else {
            CheckpointError::MissingFinalNewline
        });
    };
    let count = lines.split('\n').count();
    if count > crate::MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures {
            count,
            max: crate::MAX_SIGNATURES,
        });
    }
    lines
        .split('\n')
        .enumerate()
        .map(|(i, l)| crate::checkpoint::parse_signature_line(l, i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Checkpoint;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;

    fn checkpoint() -> Result<(SigningKey, SignedCheckpoint), CheckpointError> {
        let log = SigningKey::from_bytes(&[1; 32]);
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 3,
            root: [9; 32],
        };
        let signed = cp.sign(&log, "example.com/log")?;
        Ok((log, signed))
    }

    #[test]
    fn cosigns_and_verifies() -> Result<(), Box<dyn std::error::Error>> {
        let (_, mut signed) = checkpoint()?;
        let witness = SigningKey::from_bytes(&[2; 32]);
        let line = signed.cosign(&witness, "w1", 1_679_315_147)?;
        assert!(line.starts_with("\u{2014} w1 "));
        assert!(line.ends_with('\n'));
        let blob = BASE64.decode(line.trim_end().rsplit(' ').next().unwrap_or_default())?;
        assert_eq!(blob.len(), 4 + 8 + 64);
        assert_eq!(
            u32::from_be_bytes(blob[..4].try_into()?),
            cosignature_key_id("w1", &witness.verifying_key())
        );
        assert_eq!(u64::from_be_bytes(blob[4..12].try_into()?), 1_679_315_147);

        // Round trip through the note text.
        let parsed = SignedCheckpoint::parse(signed.to_note().as_bytes())?;
        let c = parsed.verify_cosignature("w1", &witness.verifying_key())?;
        assert_eq!(c.timestamp, 1_679_315_147);
        assert_eq!(c.name, "w1");

        // Another name, or another key: not found.
        assert!(matches!(
            parsed.verify_cosignature("w2", &witness.verifying_key()),
            Err(CheckpointError::SignatureNotFound { .. })
        ));
        let other = SigningKey::from_bytes(&[3; 32]);
        assert!(matches!(
            parsed.verify_cosignature("w1", &other.verifying_key()),
            Err(CheckpointError::SignatureNotFound { .. })
        ));
        // A cosignature is not a plain note signature (another key ID).
        assert!(parsed.verify("w1", &witness.verifying_key()).is_err());
        Ok(())
    }

    #[test]
    fn a_changed_byte_or_time_fails() -> Result<(), Box<dyn std::error::Error>> {
        let (_, mut signed) = checkpoint()?;
        let witness = SigningKey::from_bytes(&[2; 32]);
        let line = signed.cosign(&witness, "w1", 1000)?;
        let (head, b64) = line.trim_end().rsplit_once(' ').unwrap_or_default();
        let blob = BASE64.decode(b64)?;
        for at in [4, 11, 12, 75] {
            let mut bad = blob.clone();
            bad[at] ^= 1;
            let (_, mut fresh) = checkpoint()?;
            fresh.add_signature_line(&format!("{head} {}\n", BASE64.encode(&bad)))?;
            assert!(
                matches!(
                    fresh.verify_cosignature("w1", &witness.verifying_key()),
                    Err(CheckpointError::InvalidSignature { .. })
                ),
                "byte {at}"
            );
        }
        // Over another checkpoint: the line does not verify.
        let mut other = Checkpoint {
            origin: "example.com/log".into(),
            size: 4,
            root: [9; 32],
        }
        .sign(&SigningKey::from_bytes(&[1; 32]), "example.com/log")?;
        other.add_signature_line(&line)?;
        assert!(other
            .verify_cosignature("w1", &witness.verifying_key())
            .is_err());
        Ok(())
    }

    #[test]
    fn time_bounds() -> Result<(), Box<dyn std::error::Error>> {
        let (_, mut signed) = checkpoint()?;
        let witness = SigningKey::from_bytes(&[2; 32]);
        assert!(matches!(
            signed.cosign(&witness, "w1", MAX_COSIGNATURE_TIME + 1),
            Err(CheckpointError::InvalidCosignatureTime { .. })
        ));
        signed.cosign(&witness, "w1", MAX_COSIGNATURE_TIME)?;
        signed.verify_cosignature("w1", &witness.verifying_key())?;
        Ok(())
    }

    #[test]
    fn message_is_the_spec_example() {
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            cosignature_message(body, 1679315147),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn parses_answers() -> Result<(), Box<dyn std::error::Error>> {
        let (_, mut signed) = checkpoint()?;
        let witness = SigningKey::from_bytes(&[2; 32]);
        let line = signed.cosign(&witness, "w1", 5)?;
        assert_eq!(parse_signature_lines(&line)?.len(), 1);
        assert!(parse_signature_lines("").is_err());
        assert!(parse_signature_lines(line.trim_end()).is_err());
        assert!(parse_signature_lines(&format!("{line}\n")).is_err());
        assert!(parse_signature_lines("- w1 AAAA\n").is_err());
        Ok(())
    }
}
