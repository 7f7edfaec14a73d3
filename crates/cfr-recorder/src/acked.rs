//! The acknowledgement mark: how many events the recorder has ever
//! acknowledged, kept durably beside the segments.
//!
//! The writer syncs a batch's records, then raises the mark and syncs it,
//! and only then acknowledges the batch. So every event a client ever held
//! a receipt for has a seq below the mark, and on open:
//!
//! * a bad record below the mark is damage to acknowledged evidence, never
//!   a torn write: the log refuses to open and nothing is cut;
//! * a log that holds fewer events than the mark has lost acknowledged
//!   events: the log refuses to open, so no seq is handed out twice;
//! * valid records above the mark (synced, but the mark was not raised
//!   before a crash) were never acknowledged; they are kept and the mark
//!   is raised to cover them.
//!
//! The file `acked` holds two 32-byte slots, written alternately:
//!
//! ```text
//! magic "CFRACK01" | generation u64 LE | acknowledged events u64 LE | SHA-256(first 24 bytes)[..8]
//! ```
//!
//! Slot `generation % 2` is overwritten in place and synced; a torn
//! overwrite spoils at most that slot, and the other still holds the
//! previous mark. Reading takes the valid slot with the higher generation.

use sha2::{Digest as _, Sha256};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// The file name of the acknowledgement mark in a log directory.
pub const ACKED_FILE: &str = "acked";
const MAGIC: &[u8; 8] = b"CFRACK01";
const SLOT: usize = 32;

/// The mark as read from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub generation: u64,
    pub acked: u64,
}

fn encode(m: Mark) -> [u8; SLOT] {
    let mut s = [0u8; SLOT];
    s[..8].copy_from_slice(MAGIC);
    s[8..16].copy_from_slice(&m.generation.to_le_bytes());
    s[16..24].copy_from_slice(&m.acked.to_le_bytes());
    let d = Sha256::digest(&s[..24]);
    s[24..].copy_from_slice(&d[..8]);
    s
}

fn decode(s: &[u8]) -> Option<Mark> {
    if s.len() != SLOT || &s[..8] != MAGIC || Sha256::digest(&s[..24])[..8] != s[24..] {
        return None;
    }
    let u = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&s[r]);
        u64::from_le_bytes(b)
    };
    Some(Mark {
        generation: u(8..16),
        acked: u(16..24),
    })
}

/// Why the mark could not be read.
#[derive(Debug)]
pub(crate) enum ReadMarkError {
    /// The file exists but neither slot is valid.
    Invalid,
    Io(std::io::Error),
}

/// Reads the mark of the log at `dir`: `Ok(None)` when the file does not
/// exist (a log written before the mark existed).
pub(crate) fn read(dir: &Path) -> Result<Option<Mark>, ReadMarkError> {
    let bytes = match std::fs::read(dir.join(ACKED_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReadMarkError::Io(e)),
    };
    parse(&bytes).map(Some).ok_or(ReadMarkError::Invalid)
}

/// Decodes the bytes of an `acked` file: the valid slot with the higher
/// generation, or `None` when neither slot is valid.
pub(crate) fn parse(bytes: &[u8]) -> Option<Mark> {
    let a = bytes.get(..SLOT).and_then(decode);
    let b = bytes.get(SLOT..2 * SLOT).and_then(decode);
    match (a, b) {
        (Some(a), Some(b)) => Some(if a.generation >= b.generation { a } else { b }),
        (Some(m), None) | (None, Some(m)) => Some(m),
        (None, None) => None,
    }
}

/// The number of acknowledged events an `acked` file's bytes record, or
/// `None` when neither of its slots is valid (for tools and fuzzing).
pub fn parse_acked(bytes: &[u8]) -> Option<u64> {
    parse(bytes).map(|m| m.acked)
}

/// The open mark file, owned by the writer.
pub(crate) struct MarkFile {
    path: PathBuf,
    file: File,
    mark: Mark,
}

impl MarkFile {
    /// Opens (creating when missing) the mark of the log at `dir`, which
    /// currently says `mark` (generation 0 and acked 0 for a new file).
    pub fn open(dir: &Path, mark: Option<Mark>) -> std::io::Result<MarkFile> {
        let path = dir.join(ACKED_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let m = MarkFile {
            path,
            file,
            mark: mark.unwrap_or(Mark {
                generation: 0,
                acked: 0,
            }),
        };
        if mark.is_none() {
            // A new file: both slots, so that a later torn slot always
            // leaves a valid one.
            let s = encode(m.mark);
            m.file.write_all_at(&s, 0)?;
            m.file.write_all_at(&s, SLOT as u64)?;
            m.file.sync_all()?;
            if let Some(parent) = m.path.parent() {
                File::open(parent)?.sync_all()?;
            }
        }
        Ok(m)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raises the mark to `acked` and syncs it (a no-op when it is not
    /// higher).
    pub fn raise(&mut self, acked: u64) -> std::io::Result<()> {
        if acked <= self.mark.acked {
            return Ok(());
        }
        let next = Mark {
            generation: self.mark.generation.wrapping_add(1),
            acked,
        };
        let slot = (next.generation % 2) * SLOT as u64;
        self.file.write_all_at(&encode(next), slot)?;
        self.file.sync_data()?;
        self.mark = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_slot_leaves_the_previous_mark() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = MarkFile::open(dir.path(), None).expect("open");
        m.raise(5).expect("raise");
        m.raise(9).expect("raise");
        assert_eq!(read(dir.path()).expect("read").map(|m| m.acked), Some(9));
        // Spoil the slot written last (generation 2 -> slot 0).
        let path = dir.path().join(ACKED_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(read(dir.path()).expect("read").map(|m| m.acked), Some(5));
        // Both spoiled: an error, not a guess.
        bytes[SLOT + 20] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(read(dir.path()), Err(ReadMarkError::Invalid)));
    }

    #[test]
    fn lower_marks_are_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = MarkFile::open(dir.path(), None).expect("open");
        m.raise(7).expect("raise");
        m.raise(3).expect("raise");
        assert_eq!(read(dir.path()).expect("read").map(|m| m.acked), Some(7));
    }
}
