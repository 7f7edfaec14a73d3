//! Opening a bundle: the archive index, the manifest, the contract, and
//! lazy access to the events. Opening checks structure only; it proves
//! nothing. Use `cfr_verify::verify` for that.

use crate::layout;
use crate::manifest::{ChunkEntry, Manifest};
use crate::seal::MAX_CHUNK_BYTES;
use crate::tar::{TarError, TarLimits, TarMember, TarReader};
use cfr_contract::Contract;
use cfr_model::cbor::{CborError, Decoder};
use cfr_model::{Event, EventReader};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest small member (manifest, contract, signatures, checkpoint)
/// read into memory; a verdict's bound grows with its log (see
/// [`Bundle::read_small`]).
pub const MAX_SMALL_MEMBER: u64 = 16 << 20;
/// Largest analyzer module accepted.
pub const MAX_ANALYZER: u64 = 64 << 20;

/// Why a bundle could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The archive breaks the strict ustar profile.
    #[error("archive: {0}")]
    Archive(#[from] TarError),
    /// A member is missing, unknown, or out of order.
    #[error("{detail}")]
    Layout {
        /// Stable code (`member-missing`, `member-unexpected`, `member-order`, ...).
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The manifest does not decode.
    #[error("{0}")]
    Manifest(#[from] crate::manifest::ManifestError),
    /// The contract does not decode or check.
    #[error("contract: {0}")]
    Contract(#[from] cfr_contract::ContractError),
}

impl OpenError {
    /// Stable failure code.
    pub fn code(&self) -> &'static str {
        match self {
            OpenError::Io { .. } => "io",
            OpenError::Archive(e) => e.code(),
            OpenError::Layout { code, .. } => code,
            OpenError::Manifest(_) => "manifest-invalid",
            OpenError::Contract(_) => "contract-invalid",
        }
    }
}

/// Why events could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// Reading the file failed.
    #[error("{member}: {source}")]
    Io {
        /// The chunk.
        member: String,
        /// The error.
        source: std::io::Error,
    },
    /// A chunk listed in the manifest is not in the archive.
    #[error("{member}: listed in the manifest but not in the archive")]
    MissingChunk {
        /// The chunk.
        member: String,
    },
    /// A chunk declares more than the allowed decompressed size, or
    /// decompresses to another size than declared.
    #[error("{member}: {detail}")]
    ChunkSize {
        /// The chunk.
        member: String,
        /// What is wrong.
        detail: String,
    },
    /// A chunk is not valid zstd.
    #[error("{member}: not a valid zstd frame: {detail}")]
    Decompress {
        /// The chunk.
        member: String,
        /// The zstd error.
        detail: String,
    },
    /// An event does not decode (or is not canonical).
    #[error("{member}, event {index} of the chunk: {source}")]
    Decode {
        /// The chunk.
        member: String,
        /// Index of the event in the chunk.
        index: u64,
        /// The CBOR error (with byte offset in the decompressed chunk).
        source: CborError,
    },
    /// A chunk holds another number of events, or other seqs, than declared.
    #[error("{member}: {detail}")]
    ChunkEvents {
        /// The chunk.
        member: String,
        /// What is wrong.
        detail: String,
    },
}

impl EventsError {
    /// Stable failure code.
    pub fn code(&self) -> &'static str {
        match self {
            EventsError::Io { .. } => "io",
            EventsError::MissingChunk { .. } => "member-missing",
            EventsError::ChunkSize { .. } => "chunk-size-mismatch",
            EventsError::Decompress { .. } => "chunk-corrupt",
            EventsError::Decode { .. } => "event-noncanonical",
            EventsError::ChunkEvents { .. } => "chunk-events-mismatch",
        }
    }
}

/// An opened, unverified bundle.
pub struct Bundle {
    path: PathBuf,
    file: File,
    members: Vec<TarMember>,
    /// The raw manifest bytes.
    pub manifest_bytes: Vec<u8>,
    /// The decoded manifest (unverified).
    pub manifest: Manifest,
}

/// A decompressed chunk of events.
pub struct Chunk {
    /// The manifest's entry for it.
    pub entry: ChunkEntry,
    /// SHA-256 of the compressed member bytes.
    pub sha256: [u8; 32],
    /// The decompressed CBOR sequence.
    pub raw: Vec<u8>,
}

impl Chunk {
    /// Decodes the chunk's events, checking their seqs and count against
    /// the manifest entry. Yields each event with its canonical bytes.
    pub fn events(&self) -> impl Iterator<Item = Result<(Event, &[u8]), EventsError>> + '_ {
        let mut pos = 0usize;
        let mut index = 0u64;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let r = self.decode_next(&mut pos, &mut index, Event::decode);
            done = !matches!(r, Some(Ok(_)));
            r.map(|r| r.map(|(e, range)| (e, &self.raw[range])))
        })
    }

    /// The chunk's events as [`Chunk::events`] yields them, each decoded
    /// into the reused event of an [`EventReader`], so that a long log is
    /// read without an allocation per event.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use cfr_bundle_format::bundle::Bundle;
    /// use cfr_model::EventReader;
    ///
    /// let bundle = Bundle::open(std::path::Path::new("evidence.cfr"))?;
    /// let mut reader = EventReader::new();
    /// for entry in &bundle.manifest.log.chunks {
    ///     let chunk = bundle.chunk(entry)?;
    ///     let mut events = chunk.reader();
    ///     while let Some(next) = events.next(&mut reader) {
    ///         let (event, cbor) = next?;
    ///         println!("{} {} ({} bytes)", event.seq, event.kind, cbor.len());
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn reader(&self) -> ChunkEvents<'_> {
        ChunkEvents {
            chunk: self,
            pos: 0,
            index: 0,
            done: false,
        }
    }

    /// Decodes the event at byte `*pos`, the `*index`-th of the chunk, and
    /// moves past it; `None` at the end of the chunk, or the count error
    /// when the chunk holds fewer events than declared.
    fn decode_next<T>(
        &self,
        pos: &mut usize,
        index: &mut u64,
        decode: impl FnOnce(&mut Decoder<'_>) -> Result<T, CborError>,
    ) -> Option<Result<(T, std::ops::Range<usize>), EventsError>> {
        let rest = self.raw.get(*pos..).unwrap_or_default();
        if rest.is_empty() {
            return (*index != self.entry.events).then(|| {
                Err(EventsError::ChunkEvents {
                    member: self.entry.name.clone(),
                    detail: format!(
                        "holds {index} events; the manifest declares {}",
                        self.entry.events
                    ),
                })
            });
        }
        if *index >= self.entry.events {
            return Some(Err(EventsError::ChunkEvents {
                member: self.entry.name.clone(),
                detail: format!(
                    "holds more than the {} events the manifest declares",
                    self.entry.events
                ),
            }));
        }
        let start = *pos;
        let mut d = Decoder::new(rest);
        match decode(&mut d) {
            Ok(e) => {
                *pos = start + d.position();
                *index += 1;
                Some(Ok((e, start..*pos)))
            }
            Err(source) => Some(Err(EventsError::Decode {
                member: self.entry.name.clone(),
                index: *index,
                // Offsets count from the start of the decompressed chunk.
                source: CborError {
                    offset: source.offset + start,
                    ..source
                },
            })),
        }
    }
}

/// A chunk's events read one at a time into an [`EventReader`]: see
/// [`Chunk::reader`].
pub struct ChunkEvents<'c> {
    chunk: &'c Chunk,
    pos: usize,
    index: u64,
    done: bool,
}

impl<'c> ChunkEvents<'c> {
    /// The next event, decoded into `reader`'s reused event, with its
    /// canonical bytes; `None` at the end. The same events and errors as
    /// [`Chunk::events`], which also ends after the first error.
    pub fn next<'r>(
        &mut self,
        reader: &'r mut EventReader,
    ) -> Option<Result<(&'r Event, &'c [u8]), EventsError>> {
        if self.done {
            return None;
        }
        let chunk = self.chunk;
        let r = chunk.decode_next(&mut self.pos, &mut self.index, |d| reader.read(d));
        self.done = !matches!(r, Some(Ok(_)));
        r.map(|r| r.map(|(e, range)| (e, &chunk.raw[range])))
    }
}

impl Bundle {
    /// Opens a bundle: checks the archive profile, the member names and
    /// their order, and decodes the manifest.
    pub fn open(path: &Path) -> Result<Bundle, OpenError> {
        let io = |source| OpenError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // No size bound at the archive level beyond ustar's own: nothing
        // reads a member whole without a bound of its own (chunks
        // MAX_CHUNK_BYTES, the analyzer MAX_ANALYZER, a verdict one that
        // grows with the log it judges, other small members
        // MAX_SMALL_MEMBER), and a verdict's bound is only known once the
        // manifest is read.
        let limits = TarLimits::default();
        let mut reader = TarReader::new(BufReader::new(file.try_clone().map_err(io)?), limits);
        let members = reader.members()?;
        check_layout(&members)?;
        let mut b = Bundle {
            path: path.to_owned(),
            file,
            members,
            manifest_bytes: Vec::new(),
            manifest: Manifest::placeholder(),
        };
        b.manifest_bytes = b
            .read_small(layout::MANIFEST)
            .map_err(|source| OpenError::Io {
                path: path.to_owned(),
                source,
            })?
            .unwrap_or_default();
        b.manifest = Manifest::from_cbor(&b.manifest_bytes)?;
        let excerpt = b.member(layout::ORIGINAL_MANIFEST).is_some();
        if excerpt != b.manifest.excerpt.is_some() {
            return Err(OpenError::Layout {
                code: "manifest-invalid",
                detail: format!(
                    "the manifest's format is {:?}, but the archive {} an excerpt's members",
                    b.manifest.format,
                    if excerpt { "holds" } else { "lacks" }
                ),
            });
        }
        Ok(b)
    }

    /// The bundle's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The archive's members, in order.
    pub fn members(&self) -> &[TarMember] {
        &self.members
    }

    /// The member called `name`.
    pub fn member(&self, name: &str) -> Option<&TarMember> {
        self.members.iter().find(|m| m.name() == name)
    }

    /// Reads a member (at most `max` bytes; larger is an error).
    pub fn read_member_max(&self, name: &str, max: u64) -> std::io::Result<Option<Vec<u8>>> {
        let Some(m) = self.member(name) else {
            return Ok(None);
        };
        if m.size() > max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{name} is {} bytes, more than the {max} allowed", m.size()),
            ));
        }
        let mut buf = vec![0u8; m.size() as usize];
        read_exact_at(&self.file, &mut buf, m.data_offset())?;
        Ok(Some(buf))
    }

    /// True when this is an excerpt (`cfr-excerpt/1`), not a whole bundle.
    pub fn is_excerpt(&self) -> bool {
        self.manifest.excerpt.is_some()
    }

    /// The signed submissions the bundle carries
    /// (`log/submissions-NNNNNN.cbor.zst`, in order), decompressed within
    /// bounds and decoded strictly. An error names the member and what is
    /// wrong: `(code, detail)` with code `submission-invalid` or `io`.
    pub fn submissions(&self) -> Result<Vec<crate::submission::Entry>, (&'static str, String)> {
        let mut out = Vec::new();
        self.for_each_submission(|e| out.push(e))?;
        Ok(out)
    }

    /// [`Bundle::submissions`] one by one, in order, holding one member
    /// at a time: what `each` was given before an error stands, and the
    /// error names the member.
    pub fn for_each_submission(
        &self,
        mut each: impl FnMut(crate::submission::Entry),
    ) -> Result<(), (&'static str, String)> {
        for e in self.submission_stream()? {
            each(e?);
        }
        Ok(())
    }

    /// The signed submissions as an iterator that reads each member only
    /// when the entries before it were taken: a verifier that takes each
    /// entry as its events come holds one member's entries at a time.
    /// The members' names must run from `log/submissions-000000.cbor.zst`
    /// without a gap (an error here, before any entry); a member that does
    /// not decompress or decode within bounds is an error in its place,
    /// after which the iterator ends.
    pub fn submission_stream(&self) -> Result<Submissions<'_>, (&'static str, String)> {
        let mut names: Vec<(u32, &str)> = self
            .members
            .iter()
            .filter_map(|m| layout::submissions_index(m.name()).map(|i| (i, m.name())))
            .collect();
        names.sort();
        for (want, (i, name)) in names.iter().enumerate() {
            if *i as usize != want {
                return Err((
                    "submission-invalid",
                    format!("{name}: expected {}", layout::submissions_name(want as u32)),
                ));
            }
        }
        Ok(Submissions {
            bundle: self,
            names: names
                .into_iter()
                .map(|(_, n)| n.to_owned())
                .collect::<Vec<_>>()
                .into_iter(),
            current: Vec::new().into_iter(),
            failed: false,
        })
    }

    /// The entries of one submissions member, decompressed within bounds
    /// and decoded strictly.
    fn submissions_member(
        &self,
        name: &str,
    ) -> Result<Vec<crate::submission::Entry>, (&'static str, String)> {
        use std::io::Read as _;
        /// Most decompressed bytes one submissions member may hold.
        const MAX_RAW: u64 = 4 * crate::submission::MEMBER_BYTES as u64;
        let raw = self
            .read_member_max(name, crate::seal::MAX_CHUNK_BYTES)
            .map_err(|e| ("io", format!("{name}: {e}")))?
            .unwrap_or_default();
        let mut plain = Vec::new();
        zstd::stream::read::Decoder::new(&raw[..])
            .and_then(|d| d.take(MAX_RAW + 1).read_to_end(&mut plain))
            .map_err(|e| {
                (
                    "submission-invalid",
                    format!("{name}: does not decompress: {e}"),
                )
            })?;
        if plain.len() as u64 > MAX_RAW {
            return Err((
                "submission-invalid",
                format!("{name}: decompresses to more than {MAX_RAW} bytes"),
            ));
        }
        crate::submission::decode_seq(&plain)
            .map_err(|e| ("submission-invalid", format!("{name}: {e}")))
    }

    /// Reads a small member (manifest, contract, signatures, checkpoint, verdict).
    /// A verdict may be larger: it is bounded by
    /// [`max_verdict_bytes`](cfr_rules::verdict::max_verdict_bytes) of the
    /// number of events it judges (the original log's, for an excerpt).
    pub fn read_small(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.read_member_max(name, self.small_member_max(name))
    }

    /// The most bytes [`Bundle::read_small`] reads of the member `name`.
    pub fn small_member_max(&self, name: &str) -> u64 {
        if name == layout::VERDICT || name == layout::EXCERPT_VERDICT {
            let judged = self
                .manifest
                .excerpt
                .as_ref()
                .map_or(0, |x| x.original_events)
                .max(self.manifest.log.events);
            cfr_rules::verdict::max_verdict_bytes(judged).max(MAX_SMALL_MEMBER)
        } else {
            MAX_SMALL_MEMBER
        }
    }

    /// Streams a member's bytes into `sink` (for hashing or extraction).
    pub fn copy_member(&self, m: &TarMember, sink: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut f = self.file.try_clone()?;
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(m.data_offset()))?;
        let mut part = f.take(m.size());
        std::io::copy(&mut part, sink)?;
        Ok(())
    }

    /// The bundled contract, decoded from `contract/contract.cbor`.
    pub fn contract(&self) -> Result<Contract, OpenError> {
        let bytes = self
            .read_small(layout::CONTRACT_CBOR)
            .map_err(|source| OpenError::Io {
                path: self.path.clone(),
                source,
            })?
            .ok_or(OpenError::Layout {
                code: "member-missing",
                detail: format!("{} is missing", layout::CONTRACT_CBOR),
            })?;
        Ok(Contract::from_cbor(&bytes)?)
    }

    /// Reads and decompresses one chunk, refusing to inflate beyond its
    /// declared size (itself bounded by [`MAX_CHUNK_BYTES`]).
    pub fn chunk(&self, entry: &ChunkEntry) -> Result<Chunk, EventsError> {
        let member = entry.name.clone();
        let m = self
            .member(&entry.name)
            .ok_or_else(|| EventsError::MissingChunk {
                member: member.clone(),
            })?;
        if entry.raw_size > MAX_CHUNK_BYTES {
            return Err(EventsError::ChunkSize {
                member,
                detail: format!(
                    "declares {} decompressed bytes, more than the {MAX_CHUNK_BYTES} allowed",
                    entry.raw_size
                ),
            });
        }
        if m.size() > MAX_CHUNK_BYTES + (1 << 20) {
            return Err(EventsError::ChunkSize {
                member,
                detail: format!("is {} bytes compressed, too large for a chunk", m.size()),
            });
        }
        let mut compressed = vec![0u8; m.size() as usize];
        read_exact_at(&self.file, &mut compressed, m.data_offset()).map_err(|source| {
            EventsError::Io {
                member: member.clone(),
                source,
            }
        })?;
        use sha2::Digest as _;
        let sha256: [u8; 32] = sha2::Sha256::digest(&compressed).into();
        let raw = decompress_bounded(&compressed, entry.raw_size as usize).map_err(|detail| {
            EventsError::Decompress {
                member: member.clone(),
                detail,
            }
        })?;
        if raw.len() as u64 != entry.raw_size {
            return Err(EventsError::ChunkSize {
                member,
                detail: format!(
                    "decompresses to {} bytes; the manifest declares {}",
                    raw.len(),
                    entry.raw_size
                ),
            });
        }
        Ok(Chunk {
            entry: entry.clone(),
            sha256,
            raw,
        })
    }

    /// Iterates all events lazily, chunk by chunk: one decompressed chunk
    /// is held at a time (at most [`MAX_CHUNK_BYTES`]), and each event is
    /// decoded only when the iterator reaches it, so memory does not grow
    /// with the log. The events are **unverified**: see `cfr_verify::verify`.
    /// The iterator ends after the first error.
    pub fn events(&self) -> impl Iterator<Item = Result<Event, EventsError>> + '_ {
        let mut chunks = self.manifest.log.chunks.iter();
        // The chunk being read, the byte offset of its next event, and how
        // many of its events were decoded.
        let mut current: Option<(Chunk, usize, u64)> = None;
        let mut failed = false;
        std::iter::from_fn(move || loop {
            if failed {
                return None;
            }
            let next = match &mut current {
                Some((chunk, pos, index)) => chunk.decode_next(pos, index, Event::decode),
                None => {
                    let entry = chunks.next()?;
                    match self.chunk(entry) {
                        Ok(c) => {
                            current = Some((c, 0, 0));
                            continue;
                        }
                        Err(e) => Some(Err(e)),
                    }
                }
            };
            match next {
                None => current = None,
                Some(Ok((e, _))) => return Some(Ok(e)),
                Some(Err(e)) => {
                    failed = true;
                    return Some(Err(e));
                }
            }
        })
    }
}

/// Why a sealed member (the verdict, the checkpoint) could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemberError {
    /// Reading the file failed.
    #[error("{member}: {source}")]
    Io {
        /// The member.
        member: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The bundle has no such member (a bundle sealed without an analyzer
    /// and without a native verdict carries no verdict).
    #[error("{member}: not in the bundle")]
    Missing {
        /// The member.
        member: &'static str,
    },
    /// `verdict/verdict.cbor` is not a `cfr-verdict/1` verdict.
    #[error("{}: {source}", layout::VERDICT)]
    Verdict {
        /// Why it does not decode.
        source: cfr_rules::VerdictError,
    },
    /// `log/checkpoint` is not a signed note holding a checkpoint.
    #[error("{}: {source}", layout::CHECKPOINT)]
    Checkpoint {
        /// Why it does not parse.
        source: cfr_merkle::CheckpointError,
    },
}

impl MemberError {
    /// Stable failure code (the codes `verify` uses).
    pub fn code(&self) -> &'static str {
        match self {
            MemberError::Io { .. } => "io",
            MemberError::Missing { .. } => "member-missing",
            MemberError::Verdict { .. } => "verdict-invalid",
            MemberError::Checkpoint { .. } => "checkpoint-invalid",
        }
    }
}

impl Bundle {
    /// Reads a small member that must be there.
    fn read_required(&self, member: &'static str) -> Result<Vec<u8>, MemberError> {
        self.read_small(member)
            .map_err(|source| MemberError::Io { member, source })?
            .ok_or(MemberError::Missing { member })
    }

    /// The verdict sealed into the bundle (`verdict/verdict.cbor`), decoded
    /// strictly but **not verified**: it is what the sealer computed, and
    /// only `cfr_verify::verify::verify` replays the analyzer and
    /// checks that it reproduces it (then
    /// `cfr_verify::verify::Report` holds it).
    pub fn verdict(&self) -> Result<cfr_rules::Verdict, MemberError> {
        let bytes = self.read_required(layout::VERDICT)?;
        cfr_rules::Verdict::from_cbor(&bytes).map_err(|source| MemberError::Verdict { source })
    }

    /// The log's signed checkpoint (`log/checkpoint`), parsed but **not
    /// verified**: call [`SignedCheckpoint::verify`](cfr_merkle::SignedCheckpoint::verify)
    /// with the recorder's pinned key before relying on it.
    pub fn checkpoint(&self) -> Result<cfr_merkle::SignedCheckpoint, MemberError> {
        let note = self.read_required(layout::CHECKPOINT)?;
        cfr_merkle::SignedCheckpoint::parse(&note)
            .map_err(|source| MemberError::Checkpoint { source })
    }
}

/// A bundle's signed submissions, read a member at a time
/// ([`Bundle::submission_stream`]). Each item is an entry, or the error
/// `(code, detail)` of the member that could not be read, naming it.
pub struct Submissions<'b> {
    bundle: &'b Bundle,
    names: std::vec::IntoIter<String>,
    current: std::vec::IntoIter<crate::submission::Entry>,
    failed: bool,
}

impl Iterator for Submissions<'_> {
    type Item = Result<crate::submission::Entry, (&'static str, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.current.next() {
                return Some(Ok(e));
            }
            if self.failed {
                return None;
            }
            let name = self.names.next()?;
            match self.bundle.submissions_member(&name) {
                Ok(entries) => self.current = entries.into_iter(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Decompresses a zstd frame into at most `max` bytes; more is an error
/// (a decompression bomb cannot allocate beyond the declared size + 1).
pub fn decompress_bounded(data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(max.min(MAX_CHUNK_BYTES as usize));
    let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(|e| e.to_string())?;
    // Read at most max + 1 bytes to detect overflow without inflating more.
    let mut limited = (&mut dec).take(max as u64 + 1);
    limited.read_to_end(&mut out).map_err(|e| e.to_string())?;
    if out.len() > max {
        return Err(format!("inflates beyond the declared {max} bytes"));
    }
    Ok(out)
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = f.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

fn check_layout(members: &[TarMember]) -> Result<(), OpenError> {
    let mut prev: Option<(u8, u32, &str)> = None;
    let mut prev_name = "";
    for m in members {
        let r = layout::rank(m.name()).ok_or_else(|| OpenError::Layout {
            code: "member-unexpected",
            detail: format!("member {:?} has no place in a cfr bundle", m.name()),
        })?;
        if let Some(p) = prev {
            if r <= p {
                return Err(OpenError::Layout {
                    code: "member-order",
                    detail: format!(
                        "member {:?} comes after {prev_name:?}; the canonical order puts it before",
                        m.name()
                    ),
                });
            }
        }
        prev = Some(r);
        prev_name = m.name();
    }
    // An excerpt carries the original's signed manifest instead of a
    // signature of its own, and its range proofs.
    let excerpt = members
        .iter()
        .any(|m| m.name() == layout::ORIGINAL_MANIFEST);
    let required: &[&str] = if excerpt {
        &[
            layout::README,
            layout::MANIFEST,
            layout::ORIGINAL_MANIFEST,
            layout::ORIGINAL_MANIFEST_SIG,
            layout::CONTRACT_TOML,
            layout::CONTRACT_CBOR,
            layout::CHECKPOINT,
            layout::PROOF,
        ]
    } else {
        &[
            layout::README,
            layout::MANIFEST,
            layout::MANIFEST_SIG,
            layout::CONTRACT_TOML,
            layout::CONTRACT_CBOR,
            layout::CHECKPOINT,
        ]
    };
    for m in members {
        let misplaced = if excerpt {
            m.name() != layout::MANIFEST && m.name().starts_with("manifest.")
        } else {
            layout::excerpt_only(m.name())
        };
        if misplaced {
            return Err(OpenError::Layout {
                code: "member-unexpected",
                detail: format!(
                    "member {:?} has no place in {}",
                    m.name(),
                    if excerpt {
                        "an excerpt"
                    } else {
                        "a bundle (it belongs to excerpts)"
                    }
                ),
            });
        }
    }
    for &required in required {
        if !members.iter().any(|m| m.name() == required) {
            return Err(OpenError::Layout {
                code: "member-missing",
                detail: format!("required member {required:?} is missing"),
            });
        }
    }
    // Chunks are numbered from 0 without gaps.
    let mut next = 0u32;
    for m in members {
        if let Some(i) = layout::chunk_index(m.name()) {
            if i != next {
                return Err(OpenError::Layout {
                    code: "member-missing",
                    detail: format!(
                        "{} follows chunk {}; chunks must be numbered without gaps",
                        m.name(),
                        next.wrapping_sub(1)
                    ),
                });
            }
            next += 1;
        }
    }
    Ok(())
}
