//! The witness's state directory.
//!
//! ```text
//! DIR/lock                                  flock(2)ed while a witness runs
//! DIR/logs/<sha256(origin) hex>/checkpoint  the latest cosigned checkpoint
//! DIR/evidence/<sha256(origin) hex>/<time>-<size>.cosigned
//! DIR/evidence/<sha256(origin) hex>/<time>-<size>.offered
//! ```
//!
//! Each `checkpoint` is the signed note the witness last cosigned for that
//! origin: the checkpoint text, the log's signature and the witness's
//! `cosignature/v1`. It is replaced atomically (a temporary file, synced,
//! renamed over it, the directory synced) before the witness answers, so
//! after a crash at any moment the file holds either the previous
//! checkpoint (and the cosignature was never sent) or the new one.
//!
//! An evidence pair is kept when the witness is offered a checkpoint of
//! the size it cosigned with another root: `.cosigned` is the note it
//! cosigned, `.offered` the note it refused, both signed by the log (a
//! split view `cfr-bundle log equivocation` can prove offline). `<time>`
//! is POSIX seconds; a `-N` suffix keeps pairs of one second apart.

use cfr_merkle::SignedCheckpoint;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "lock";
const LOGS_DIR: &str = "logs";
const EVIDENCE_DIR: &str = "evidence";
const CHECKPOINT_FILE: &str = "checkpoint";

/// Why the state could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Another witness holds the directory's lock.
    #[error("{path}: another witness is using this state directory", path = .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// An I/O error.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A stored checkpoint does not parse or is not where its origin says.
    #[error("{path}: {reason} (the witness will not forget what it cosigned: repair or move the file by hand)", path = .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An earlier write failed; the witness refuses to cosign until it is
    /// restarted and has re-read its state.
    #[error("an earlier write of the state failed; restart the witness")]
    Failed,
}

/// Where a split view's two checkpoints were kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The note the witness had cosigned.
    pub cosigned: PathBuf,
    /// The note it was offered and refused.
    pub offered: PathBuf,
}

/// The lowercase hex SHA-256 of an origin: its directory name in the
/// state, and its path in the monitoring URL `GET /<hash>/checkpoint`.
#[must_use]
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// The open state: locked, and loaded.
pub(crate) struct State {
    dir: PathBuf,
    _lock: File,
    latest: BTreeMap<String, SignedCheckpoint>,
    failed: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

impl State {
    pub(crate) fn open(dir: &Path) -> Result<State, StateError> {
        for d in [dir.to_owned(), dir.join(LOGS_DIR), dir.join(EVIDENCE_DIR)] {
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
        let path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(StateError::Locked { path })
            }
            Err(e) => {
                return Err(StateError::Io {
                    path,
                    source: e.into(),
                })
            }
        }
        let mut latest = BTreeMap::new();
        let logs = dir.join(LOGS_DIR);
        for entry in std::fs::read_dir(&logs).map_err(io(&logs))? {
            let entry = entry.map_err(io(&logs))?;
            let sub = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let file = sub.join(CHECKPOINT_FILE);
            if !file.exists() {
                // A directory created just before a crash, before its
                // first checkpoint was renamed in: nothing was cosigned.
                continue;
            }
            let bytes = std::fs::read(&file).map_err(io(&file))?;
            let cp = SignedCheckpoint::parse(&bytes).map_err(|e| StateError::Corrupt {
                path: file.clone(),
                reason: e.to_string(),
            })?;
            let origin = cp.checkpoint().origin.clone();
            if origin_hash(&origin) != name {
                return Err(StateError::Corrupt {
                    path: file,
                    reason: format!("holds a checkpoint of {origin:?}, whose directory is another"),
                });
            }
            latest.insert(origin, cp);
        }
        Ok(State {
            dir: dir.to_owned(),
            _lock: lock,
            latest,
            failed: false,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn latest(&self, origin: &str) -> Option<&SignedCheckpoint> {
        self.latest.get(origin)
    }

    /// Replaces the latest checkpoint of its origin, durably, then in
    /// memory. After a failure every later call fails: the disk may hold
    /// either version, and only a restart finds out which.
    pub(crate) fn persist(&mut self, cp: &SignedCheckpoint) -> Result<(), StateError> {
        if self.failed {
            return Err(StateError::Failed);
        }
        let origin = cp.checkpoint().origin.clone();
        let sub = self.dir.join(LOGS_DIR).join(origin_hash(&origin));
        let result = (|| {
            if !sub.exists() {
                std::fs::create_dir(&sub).map_err(io(&sub))?;
                sync_dir(&self.dir.join(LOGS_DIR))?;
            }
            write_atomically(&sub.join(CHECKPOINT_FILE), cp.to_note().as_bytes())
        })();
        match result {
            Ok(()) => {
                self.latest.insert(origin, cp.clone());
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Keeps a split view: the checkpoint cosigned and the one offered.
    pub(crate) fn keep_evidence(
        &mut self,
        cosigned: &SignedCheckpoint,
        offered: &SignedCheckpoint,
        time: u64,
    ) -> Result<Evidence, StateError> {
        let origin = &cosigned.checkpoint().origin;
        let sub = self.dir.join(EVIDENCE_DIR).join(origin_hash(origin));
        if !sub.exists() {
            std::fs::create_dir(&sub).map_err(io(&sub))?;
            sync_dir(&self.dir.join(EVIDENCE_DIR))?;
        }
        let size = offered.checkpoint().size;
        let mut n = 1;
        let (a, b) = loop {
            let stem = if n == 1 {
                format!("{time}-{size}")
            } else {
                format!("{time}-{size}-{n}")
            };
            let a = sub.join(format!("{stem}.cosigned"));
            let b = sub.join(format!("{stem}.offered"));
            if !a.exists() && !b.exists() {
                break (a, b);
            }
            n += 1;
        };
        write_atomically(&a, cosigned.to_note().as_bytes())?;
        write_atomically(&b, offered.to_note().as_bytes())?;
        Ok(Evidence {
            cosigned: a,
            offered: b,
        })
    }
}

/// Writes `data` to a temporary file, syncs it, renames it over `path`
/// and syncs the directory.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(data).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}
