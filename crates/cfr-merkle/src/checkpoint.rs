//! C2SP checkpoints (`c2sp.org/tlog-checkpoint`) as signed notes
//! (`c2sp.org/signed-note`) with Ed25519 signatures.

use core::fmt;
use core::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// Largest note [`SignedCheckpoint::parse`] accepts, in bytes.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// Longest line (origin, tree size, root or signature line) accepted, in
/// bytes, newline excluded. Leaves room for post-quantum signatures of
/// other signers, which must be carried even though they are ignored.
pub const MAX_LINE_LEN: usize = 8 * 1024;
/// Most signature lines a note may carry (signed-note requires accepting
/// at least 16).
pub const MAX_SIGNATURES: usize = 32;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Signed-note signature type byte of Ed25519 signatures.
const ED25519_SIGNATURE_TYPE: u8 = 0x01;
/// Key ID (4 bytes) plus at least one byte of signature.
const MIN_SIGNATURE_BYTES: usize = 5;

/// Why a checkpoint could not be parsed, built, signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note is longer than [`MAX_NOTE_LEN`].
    #[error("note is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Length of the note (or of the note a signature would produce).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The note contains an ASCII control character other than newline.
    #[error("note contains a control character at byte {offset}")]
    ControlCharacter {
        /// Byte offset of the character.
        offset: usize,
    },
    /// The note does not end with a newline.
    #[error("note does not end with a newline")]
    MissingFinalNewline,
    /// No blank line separates the checkpoint text from the signatures.
    #[error("no blank line separates the checkpoint from its signatures")]
    MissingSignatureSeparator,
    /// The note has no signature line.
    #[error("note has no signature line")]
    NoSignatures,
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has {count} signature lines, more than the {max} allowed")]
    TooManySignatures {
        /// Number of signature lines (found, or after adding one).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A line is longer than [`MAX_LINE_LEN`].
    #[error("line {line} is {len} bytes, more than the {max} allowed")]
    LineTooLong {
        /// 1-based line number in the note.
        line: usize,
        /// Length of the line.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The checkpoint text has fewer than three lines.
    #[error("checkpoint text has no line {line} (origin, tree size, root hash)")]
    MissingBodyLine {
        /// 1-based number of the first missing line.
        line: usize,
    },
    /// The checkpoint text has extension lines after the root hash; cfr
    /// checkpoints carry none.
    #[error("checkpoint has an extension line (line {line}); cfr checkpoints carry none")]
    ExtensionLine {
        /// 1-based line number of the first extension line.
        line: usize,
    },
    /// The origin is empty or contains a newline or control character.
    #[error("checkpoint origin is empty or contains a control character")]
    InvalidOrigin,
    /// The tree size is not a canonical decimal number (empty, sign,
    /// non-digit or leading zero).
    #[error("checkpoint tree size is not a canonical decimal number")]
    NonCanonicalTreeSize,
    /// The tree size does not fit in 64 bits.
    #[error("checkpoint tree size does not fit in 64 bits")]
    TreeSizeOverflow,
    /// The root hash line is not canonical standard base64.
    #[error("checkpoint root hash is not canonical standard base64")]
    RootEncoding,
    /// The root hash does not decode to 32 bytes.
    #[error("checkpoint root hash is {len} bytes, expected 32")]
    RootLength {
        /// Decoded length.
        len: usize,
    },
    /// A signature line is malformed.
    #[error("signature line {line}: {fault}")]
    InvalidSignatureLine {
        /// 1-based line number in the note.
        line: usize,
        /// What is wrong with it.
        fault: SignatureLineFault,
    },
    /// A key name given to [`Checkpoint::sign`] is empty or contains
    /// whitespace, `+` or a control character.
    #[error("invalid key name {key_name:?}: must be non-empty, without whitespace, '+' or control characters")]
    InvalidKeyName {
        /// The key name given.
        key_name: String,
    },
    /// A cosignature timestamp above `2^63 - 1` (`c2sp.org/tlog-cosignature`).
    #[error("cosignature timestamp {timestamp} is above 2^63 - 1")]
    InvalidCosignatureTime {
        /// The timestamp given.
        timestamp: u64,
    },
    /// Two signature lines have the same key name and key ID.
    #[error("two signatures by key {key_name:?} with key ID {key_id:08x}")]
    DuplicateSignature {
        /// Key name.
        key_name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature line matches the key name and key ID asked for.
    #[error("no signature by key {key_name:?} with key ID {key_id:08x}")]
    SignatureNotFound {
        /// Key name asked for.
        key_name: String,
        /// Key ID of the key asked for.
        key_id: u32,
    },
    /// The signature by the key asked for does not verify (wrong length,
    /// non-canonical or simply not a signature of this checkpoint).
    #[error("signature by key {key_name:?} with key ID {key_id:08x} does not verify")]
    InvalidSignature {
        /// Key name.
        key_name: String,
        /// Key ID.
        key_id: u32,
    },
}

/// What is wrong with a signature line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureLineFault {
    /// The line does not start with an em dash (U+2014) and a space.
    #[error("does not start with an em dash and a space")]
    MissingPrefix,
    /// No space separates the key name from the signature.
    #[error("no space between key name and signature")]
    MissingSignature,
    /// The key name is empty or contains whitespace or `+`.
    #[error("key name is empty or contains whitespace or '+'")]
    InvalidKeyName,
    /// The signature is not canonical standard base64.
    #[error("signature is not canonical standard base64")]
    Base64,
    /// The signature is too short to hold a key ID and a signature.
    #[error("signature is shorter than a key ID and one byte")]
    TooShort,
}

/// The signed-note key ID of an Ed25519 key:
/// the first four bytes, big-endian, of
/// `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)`.
#[must_use]
pub fn key_id(key_name: &str, key: &VerifyingKey) -> u32 {
    let digest = Sha256::new()
        .chain_update(key_name.as_bytes())
        .chain_update([b'\n', ED25519_SIGNATURE_TYPE])
        .chain_update(key.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A tree head: which log, how many leaves, and the RFC 9162 root.
///
/// Its text form ([`body`](Self::body)) is the C2SP `tlog-checkpoint` note
/// text, without extension lines:
///
/// ```text
/// <origin>\n<size in decimal>\n<root in standard base64>\n
/// ```
///
/// A cfr recorder uses the origin `cfr/<contract id>` and signs under the
/// same key name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The log's identity, e.g. `cfr/<contract id>`: non-empty, one line,
    /// no control characters.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 9162 root of the tree of `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint text that signatures cover.
    #[must_use]
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses checkpoint text (the part before the blank line), strictly:
    /// exactly three lines, each ending in a newline; a non-empty origin;
    /// a canonical decimal size; a canonical base64 32-byte root.
    ///
    /// # Errors
    ///
    /// The [`CheckpointError`] naming the first problem found.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        check_text(text)?;
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        parse_body_lines(body)
    }

    /// Checks that the origin can be written as one line of a note.
    fn check_origin(&self) -> Result<(), CheckpointError> {
        if self.origin.is_empty()
            || self.origin.len() > MAX_LINE_LEN
            || self.origin.chars().any(char::is_control)
        {
            return Err(CheckpointError::InvalidOrigin);
        }
        Ok(())
    }

    /// Signs this checkpoint with an Ed25519 key under `key_name`, making a
    /// signed note with one signature line.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidOrigin`] or
    /// [`CheckpointError::InvalidKeyName`].
    pub fn sign(
        &self,
        key: &SigningKey,
        key_name: &str,
    ) -> Result<SignedCheckpoint, CheckpointError> {
        self.check_origin()?;
        let mut signed = SignedCheckpoint {
            checkpoint: self.clone(),
            body: self.body(),
            signatures: Vec::new(),
        };
        signed.sign(key, key_name)?;
        Ok(signed)
    }
}

/// One signature line of a note: `— <key name> <base64(key ID || sig)>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    key_name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// The signer's key name.
    #[must_use]
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// The signer's key ID (for Ed25519, see [`key_id`]).
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID (64 bytes for Ed25519).
    #[must_use]
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// A signature line to add, after checking the key name.
    pub(crate) fn new(
        key_name: &str,
        key_id: u32,
        signature: Vec<u8>,
    ) -> Result<NoteSignature, CheckpointError> {
        if !is_valid_key_name(key_name) || key_name.len() > MAX_LINE_LEN / 2 {
            return Err(CheckpointError::InvalidKeyName {
                key_name: key_name.to_owned(),
            });
        }
        Ok(NoteSignature {
            key_name: key_name.to_owned(),
            key_id,
            signature,
        })
    }

    /// The signature line, with its final newline:
    /// `— <key name> <base64(key ID || signature)>\n`.
    #[must_use]
    pub fn line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id.to_be_bytes());
        blob.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.key_name,
            BASE64.encode(blob)
        )
    }
}

/// A checkpoint with its signature lines, as read from or written to a C2SP
/// signed note.
///
/// Parsing checks the format only: [`checkpoint`](Self::checkpoint) is
/// *unverified* until [`verify`](Self::verify) succeeds for a key the caller
/// trusts, and `verify` returns the checkpoint for that reason.
///
/// Signatures by other keys are kept (and written back) but never
/// interpreted, as signed-note requires. That is how cosignatures work in
/// cfr: the provider and the user each add a plain Ed25519 note signature
/// over the same checkpoint text, under their own key names, with
/// [`sign`](Self::sign); the recorder's signature is the one under the
/// origin's name.
///
/// Format rules enforced by [`parse`](Self::parse), beyond signed-note:
/// at most [`MAX_NOTE_LEN`] bytes, lines of at most [`MAX_LINE_LEN`]
/// bytes, at most [`MAX_SIGNATURES`] signature lines, no two with the same
/// key name and key ID, no extension lines in the checkpoint text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    /// The exact signed text (equal to `checkpoint.body()`, since parsing
    /// accepts only the canonical form).
    body: String,
    signatures: Vec<NoteSignature>,
}

impl SignedCheckpoint {
    /// Parses a signed note strictly. Never panics, whatever the input.
    ///
    /// # Errors
    ///
    /// The [`CheckpointError`] naming the first problem found.
    pub fn parse(note: &[u8]) -> Result<Self, CheckpointError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(CheckpointError::TooLarge {
                len: note.len(),
                max: MAX_NOTE_LEN,
            });
        }
        let text = core::str::from_utf8(note).map_err(|e| CheckpointError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let (body, signatures) = split_note(text)?;
        let checkpoint = Checkpoint::parse_body(body)?;
        Ok(SignedCheckpoint {
            checkpoint,
            body: body.to_owned(),
            signatures,
        })
    }

    /// The checkpoint, **not yet verified**: call [`verify`](Self::verify)
    /// before relying on it.
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed text.
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }

    /// All signature lines, in note order, for reporting (who signed, with
    /// which key ID), verified or not.
    #[must_use]
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds an Ed25519 signature under `key_name` (a cosignature, when the
    /// note already has the recorder's).
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidKeyName`],
    /// [`CheckpointError::DuplicateSignature`] when this key already signed
    /// under this name, [`CheckpointError::TooManySignatures`] or
    /// [`CheckpointError::TooLarge`].
    pub fn sign(&mut self, key: &SigningKey, key_name: &str) -> Result<(), CheckpointError> {
        let key_id = key_id(key_name, &key.verifying_key());
        let signature = NoteSignature::new(
            key_name,
            key_id,
            key.sign(self.body.as_bytes()).to_bytes().to_vec(),
        )?;
        self.push_signature(signature)
    }

    /// Appends a signature line, refusing a duplicate (same key name and
    /// key ID), a line too many, or a note too large.
    pub(crate) fn push_signature(
        &mut self,
        signature: NoteSignature,
    ) -> Result<(), CheckpointError> {
        if self.find(&signature.key_name, signature.key_id).is_some() {
            return Err(CheckpointError::DuplicateSignature {
                key_name: signature.key_name,
                key_id: signature.key_id,
            });
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures {
                count: self.signatures.len() + 1,
                max: MAX_SIGNATURES,
            });
        }
        let len = self.note_len() + signature.line().len();
        if len > MAX_NOTE_LEN {
            return Err(CheckpointError::TooLarge {
                len,
                max: MAX_NOTE_LEN,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Verifies the Ed25519 signature by `key` under `key_name` and returns
    /// the checkpoint it vouches for. Other signatures are ignored.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::SignatureNotFound`] when no line has this key
    /// name and key ID; [`CheckpointError::InvalidSignature`] when it does
    /// not verify (strict RFC 8032 verification: no malleable signatures,
    /// no weak keys).
    pub fn verify(
        &self,
        key_name: &str,
        key: &VerifyingKey,
    ) -> Result<&Checkpoint, CheckpointError> {
        let key_id = key_id(key_name, key);
        let line =
            self.find(key_name, key_id)
                .ok_or_else(|| CheckpointError::SignatureNotFound {
                    key_name: key_name.to_owned(),
                    key_id,
                })?;
        let invalid = || CheckpointError::InvalidSignature {
            key_name: key_name.to_owned(),
            key_id,
        };
        let bytes: &[u8; 64] = line
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| invalid())?;
        let signature = Signature::from_bytes(bytes);
        key.verify_strict(self.body.as_bytes(), &signature)
            .map_err(|_| invalid())?;
        Ok(&self.checkpoint)
    }

    /// The signed note text.
    #[must_use]
    pub fn to_note(&self) -> String {
        self.to_string()
    }

    fn find(&self, key_name: &str, key_id: u32) -> Option<&NoteSignature> {
        self.signatures
            .iter()
            .find(|s| s.key_id == key_id && s.key_name == key_name)
    }

    fn note_len(&self) -> usize {
        self.body.len()
            + 1
            + self
                .signatures
                .iter()
                .map(|s| s.line().len())
                .sum::<usize>()
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.body)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            f.write_str(&signature.line())?;
        }
        Ok(())
    }
}

impl FromStr for SignedCheckpoint {
    type Err = CheckpointError;

    fn from_str(note: &str) -> Result<Self, Self::Err> {
        SignedCheckpoint::parse(note.as_bytes())
    }
}

/// Signed-note key names: non-empty, no Unicode whitespace, no `+`, no
/// control characters.
fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// Checks the signed-note character rules: no ASCII control character but
/// newline.
pub(crate) fn check_text(text: &str) -> Result<(), CheckpointError> {
    match text.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(CheckpointError::ControlCharacter { offset }),
        None => Ok(()),
    }
}

/// Splits a signed note into its text (with final newline) and parsed
/// signature lines.
fn split_note(text: &str) -> Result<(&str, Vec<NoteSignature>), CheckpointError> {
    check_text(text)?;
    if !text.ends_with('\n') {
        return Err(CheckpointError::MissingFinalNewline);
    }
    // The text ends at the last blank line of the note.
    let split = text
        .rfind("\n\n")
        .ok_or(CheckpointError::MissingSignatureSeparator)?;
    let (body, rest) = text.split_at(split + 1);
    let signature_block = rest.get(1..).unwrap_or_default();
    let Some(signature_block) = signature_block.strip_suffix('\n') else {
        return Err(CheckpointError::NoSignatures);
    };
    // The line number of the first signature line: the text's lines, then
    // the blank line.
    let first_line = body.matches('\n').count() + 2;
    let count = signature_block.split('\n').count();
    if count > MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures {
            count,
            max: MAX_SIGNATURES,
        });
    }
    let mut signatures: Vec<NoteSignature> = Vec::with_capacity(count);
    for (i, line) in signature_block.split('\n').enumerate() {
        let number = first_line + i;
        let signature = parse_signature_line(line, number)?;
        if signatures
            .iter()
            .any(|s| s.key_id == signature.key_id && s.key_name == signature.key_name)
        {
            return Err(CheckpointError::DuplicateSignature {
                key_name: signature.key_name,
                key_id: signature.key_id,
            });
        }
        signatures.push(signature);
    }
    Ok((body, signatures))
}

pub(crate) fn parse_signature_line(
    line: &str,
    number: usize,
) -> Result<NoteSignature, CheckpointError> {
    let fault = |fault| CheckpointError::InvalidSignatureLine {
        line: number,
        fault,
    };
    if line.len() > MAX_LINE_LEN {
        return Err(CheckpointError::LineTooLong {
            line: number,
            len: line.len(),
            max: MAX_LINE_LEN,
        });
    }
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(fault(SignatureLineFault::MissingPrefix))?;
    let (key_name, blob) = rest
        .split_once(' ')
        .ok_or(fault(SignatureLineFault::MissingSignature))?;
    if !is_valid_key_name(key_name) {
        return Err(fault(SignatureLineFault::InvalidKeyName));
    }
    let blob = BASE64
        .decode(blob)
        .map_err(|_| fault(SignatureLineFault::Base64))?;
    if blob.len() < MIN_SIGNATURE_BYTES {
        return Err(fault(SignatureLineFault::TooShort));
    }
    let (id, signature) = blob.split_at(4);
    let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    Ok(NoteSignature {
        key_name: key_name.to_owned(),
        key_id,
        signature: signature.to_vec(),
    })
}

/// Parses the three checkpoint lines (text without its final newline).
fn parse_body_lines(body: &str) -> Result<Checkpoint, CheckpointError> {
    let mut lines = body.split('\n');
    for (number, line) in body.split('\n').enumerate() {
        if line.len() > MAX_LINE_LEN {
            return Err(CheckpointError::LineTooLong {
                line: number + 1,
                len: line.len(),
                max: MAX_LINE_LEN,
            });
        }
    }
    let origin = lines.next().unwrap_or_default();
    let size = lines
        .next()
        .ok_or(CheckpointError::MissingBodyLine { line: 2 })?;
    let root = lines
        .next()
        .ok_or(CheckpointError::MissingBodyLine { line: 3 })?;
    if lines.next().is_some() {
        return Err(CheckpointError::ExtensionLine { line: 4 });
    }
    let checkpoint = Checkpoint {
        origin: origin.to_owned(),
        size: parse_tree_size(size)?,
        root: parse_root(root)?,
    };
    checkpoint.check_origin()?;
    Ok(checkpoint)
}

/// A canonical decimal `u64`: digits only, no leading zero but for `0`.
fn parse_tree_size(line: &str) -> Result<u64, CheckpointError> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    if !canonical {
        return Err(CheckpointError::NonCanonicalTreeSize);
    }
    line.parse().map_err(|_| CheckpointError::TreeSizeOverflow)
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    let bytes = BASE64
        .decode(line)
        .map_err(|_| CheckpointError::RootEncoding)?;
    Hash::try_from(bytes.as_slice()).map_err(|_| CheckpointError::RootLength { len: bytes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signed note from the documentation of Go's
    /// `golang.org/x/mod/sumdb/note`, whose signing key is published there.
    const PETER_NEUMANN_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_NEUMANN_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                                      then you don't know what your problem is.\n";
    const PETER_NEUMANN_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn signs_and_reads_go_note_vector() -> Result<(), Box<dyn std::error::Error>> {
        let seed = BASE64.decode(PETER_NEUMANN_SEED)?;
        assert_eq!(seed[0], ED25519_SIGNATURE_TYPE);
        let key = SigningKey::from_bytes(seed[1..].try_into()?);
        assert_eq!(key_id("PeterNeumann", &key.verifying_key()), 0xc74f20a3);

        let signature = NoteSignature {
            key_name: "PeterNeumann".into(),
            key_id: 0xc74f20a3,
            signature: key.sign(PETER_NEUMANN_TEXT.as_bytes()).to_bytes().to_vec(),
        };
        assert_eq!(signature.line(), PETER_NEUMANN_LINE);

        let note = format!("{PETER_NEUMANN_TEXT}\n{PETER_NEUMANN_LINE}");
        let (body, signatures) = split_note(&note)?;
        assert_eq!(body, PETER_NEUMANN_TEXT);
        assert_eq!(signatures, vec![signature]);
        Ok(())
    }
}
