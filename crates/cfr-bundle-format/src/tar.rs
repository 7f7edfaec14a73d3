//! Strict POSIX ustar archives: the container of `evidence.cfr`.
//!
//! ```
//! use cfr_bundle_format::tar::{TarLimits, TarReader, TarWriter};
//!
//! let mut writer = TarWriter::new(Vec::new(), 1_772_445_600)?;
//! writer.append("README.txt", b"This is a cfr evidence bundle.\n")?;
//! writer.append("schemas/event.cddl", b"event = {}\n")?;
//! let archive = writer.finish()?;
//!
//! let mut reader = TarReader::from_slice(&archive, TarLimits::default());
//! let members = reader.members()?;
//! assert_eq!(members[1].name(), "schemas/event.cddl");
//! assert_eq!(reader.member_bytes(&members[1])?, b"event = {}\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The profile
//!
//! A bundle must look the same to `tar` and to `cfr-bundle`, so this module
//! writes, and its reader accepts, exactly one form of archive:
//!
//! - every header is a POSIX ustar header (magic `"ustar\0"`, version `"00"`)
//!   for a regular file (typeflag `'0'`); pax (`x`, `g`), GNU (`L`, `K`, ...),
//!   old-style (`'\0'`), directory and link entries are rejected. Directories
//!   are never stored: `tar -xf` creates the parents of `schemas/x.cddl` itself.
//! - member names are 1 to 100 bytes from `[A-Za-z0-9._/-]`, stored in the name
//!   field alone (the ustar prefix field is always empty, so there is exactly
//!   one way to store a name); no leading `/`, no empty, `.` or `..`
//!   components, no duplicates, no two names that differ only in letter case
//!   (so extraction on a case-insensitive file system cannot merge members),
//!   and no name that is both a file and a parent directory of another member.
//!   (Upper case is allowed because the first member is `README.txt`.)
//! - the other header fields are fixed: mode `0644`, uid and gid `0`, uname
//!   and gname `root`, device numbers `0`, no link name; every numeric field is
//!   zero-padded octal terminated by NUL, the checksum six octal digits, NUL,
//!   space. The modification time is a parameter of the writer (the seal
//!   time), the same for every member. These are the bytes GNU tar writes with
//!   `--format=ustar --owner=root:0 --group=root:0 --mode=0644 --mtime=@T -b1`.
//! - data is padded with zero bytes to a multiple of 512; the archive ends with
//!   exactly two zero blocks and nothing after them (no padding to 10240-byte
//!   records).
//!
//! The reader checks every one of these rules, and every header byte: a
//! header is accepted only if it is byte for byte the header the writer
//! produces for its name, size and time. Truncation at any point is detected.
//! Each error names the offset and, where it is known, the member.
//!
//! The reader works on any `Read + Seek` source: it reads headers and padding,
//! and seeks over member data, so indexing a multi-gigabyte file reads a few
//! kilobytes. Member data is read by seeking ([`TarReader::member_data`]), or
//! borrowed without copying when the archive is a byte slice
//! ([`TarReader::member_bytes`]).

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::ops::Range;

/// The size of a tar block: headers, padded data and end-of-archive markers.
pub const BLOCK_SIZE: u64 = 512;

/// The longest member name, in bytes (the ustar name field; no prefix).
pub const MAX_NAME_LEN: usize = 100;

/// The largest member size a ustar header can state (11 octal digits).
pub const MAX_MEMBER_SIZE: u64 = 0o777_7777_7777;

/// The largest modification time a ustar header can state (11 octal digits).
pub const MAX_MTIME: u64 = 0o777_7777_7777;

const BLOCK: usize = 512;
const MODE: &[u8; 8] = b"0000644\0";
const ZERO_ID: &[u8; 8] = b"0000000\0";
const OWNER: &[u8] = b"root";
const MAGIC: &[u8; 6] = b"ustar\0";
const VERSION: &[u8; 2] = b"00";
const REGULAR_FILE: u8 = b'0';
const ZERO_BLOCK: [u8; BLOCK] = [0; BLOCK];
const COPY_BUFFER: usize = 64 * 1024;

/// A field of a ustar header, named in errors about that field.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderField {
    /// `name`, bytes 0..100.
    Name,
    /// `mode`, bytes 100..108.
    Mode,
    /// `uid`, bytes 108..116.
    Uid,
    /// `gid`, bytes 116..124.
    Gid,
    /// `size`, bytes 124..136.
    Size,
    /// `mtime`, bytes 136..148.
    Mtime,
    /// `chksum`, bytes 148..156.
    Checksum,
    /// `typeflag`, byte 156.
    Typeflag,
    /// `linkname`, bytes 157..257.
    Linkname,
    /// `magic`, bytes 257..263.
    Magic,
    /// `version`, bytes 263..265.
    Version,
    /// `uname`, bytes 265..297.
    Uname,
    /// `gname`, bytes 297..329.
    Gname,
    /// `devmajor`, bytes 329..337.
    Devmajor,
    /// `devminor`, bytes 337..345.
    Devminor,
    /// `prefix`, bytes 345..500.
    Prefix,
    /// The unused bytes 500..512.
    Padding,
}

impl HeaderField {
    const ALL: [HeaderField; 17] = [
        HeaderField::Name,
        HeaderField::Mode,
        HeaderField::Uid,
        HeaderField::Gid,
        HeaderField::Size,
        HeaderField::Mtime,
        HeaderField::Checksum,
        HeaderField::Typeflag,
        HeaderField::Linkname,
        HeaderField::Magic,
        HeaderField::Version,
        HeaderField::Uname,
        HeaderField::Gname,
        HeaderField::Devmajor,
        HeaderField::Devminor,
        HeaderField::Prefix,
        HeaderField::Padding,
    ];

    /// The byte range of this field within a header block.
    pub fn range(self) -> Range<usize> {
        match self {
            HeaderField::Name => 0..100,
            HeaderField::Mode => 100..108,
            HeaderField::Uid => 108..116,
            HeaderField::Gid => 116..124,
            HeaderField::Size => 124..136,
            HeaderField::Mtime => 136..148,
            HeaderField::Checksum => 148..156,
            HeaderField::Typeflag => 156..157,
            HeaderField::Linkname => 157..257,
            HeaderField::Magic => 257..263,
            HeaderField::Version => 263..265,
            HeaderField::Uname => 265..297,
            HeaderField::Gname => 297..329,
            HeaderField::Devmajor => 329..337,
            HeaderField::Devminor => 337..345,
            HeaderField::Prefix => 345..500,
            HeaderField::Padding => 500..512,
        }
    }

    /// The field's name as the POSIX standard spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderField::Name => "name",
            HeaderField::Mode => "mode",
            HeaderField::Uid => "uid",
            HeaderField::Gid => "gid",
            HeaderField::Size => "size",
            HeaderField::Mtime => "mtime",
            HeaderField::Checksum => "chksum",
            HeaderField::Typeflag => "typeflag",
            HeaderField::Linkname => "linkname",
            HeaderField::Magic => "magic",
            HeaderField::Version => "version",
            HeaderField::Uname => "uname",
            HeaderField::Gname => "gname",
            HeaderField::Devmajor => "devmajor",
            HeaderField::Devminor => "devminor",
            HeaderField::Prefix => "prefix",
            HeaderField::Padding => "padding",
        }
    }
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the archive the bytes ran out.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchivePart {
    /// A member header (or the first end-of-archive block).
    Header,
    /// A member's data or the zero padding after it.
    MemberData,
    /// The second end-of-archive block.
    EndOfArchive,
}

impl fmt::Display for ArchivePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArchivePart::Header => "a header block",
            ArchivePart::MemberData => "member data",
            ArchivePart::EndOfArchive => "the second end-of-archive block",
        })
    }
}

/// Why a member name is not allowed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("the name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    #[error("the name is {len} bytes long; at most {MAX_NAME_LEN} are allowed")]
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The name contains a byte outside `[A-Za-z0-9._/-]`.
    #[error("byte 0x{byte:02x} at position {position} is not one of [A-Za-z0-9._/-]")]
    BadCharacter {
        /// The offending byte.
        byte: u8,
        /// Its position in the name.
        position: usize,
    },
    /// The name starts with `/`.
    #[error("the name is absolute (starts with '/')")]
    Absolute,
    /// The name has an empty component (`a//b` or a trailing `/`).
    #[error("the name has an empty component")]
    EmptyComponent,
    /// The name has a `.` or `..` component.
    #[error("the name has a '.' or '..' component")]
    DotComponent,
}

/// Checks a member name against the bundle profile: 1 to 100 bytes from
/// `[A-Za-z0-9._/-]`, relative, with no empty, `.` or `..` components.
///
/// Upper-case letters are allowed because the bundle's first member is
/// `README.txt`; the reader and writer also reject two names that differ
/// only in letter case, so extraction on a case-insensitive file system
/// cannot merge members.
pub fn validate_member_name(name: &str) -> Result<(), NameError> {
    validate_name_bytes(name.as_bytes())
}

fn validate_name_bytes(name: &[u8]) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong { len: name.len() });
    }
    if let Some((position, &byte)) = name.iter().enumerate().find(
        |(_, &b)| !matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'/' | b'-'),
    ) {
        return Err(NameError::BadCharacter { byte, position });
    }
    if name.first() == Some(&b'/') {
        return Err(NameError::Absolute);
    }
    for component in name.split(|&b| b == b'/') {
        match component {
            b"" => return Err(NameError::EmptyComponent),
            b"." | b".." => return Err(NameError::DotComponent),
            _ => {}
        }
    }
    Ok(())
}

/// Why a valid name cannot join the names already in an archive.
enum NameClash {
    Duplicate,
    /// The name equals `other` up to letter case, or is a file where `other`
    /// needs a directory, or the reverse.
    Path {
        other: String,
    },
}

/// The names of an archive's members and the directories they imply, keyed
/// by their ASCII-lowercased form so that no two members collide on a
/// case-insensitive file system.
#[derive(Default)]
struct NameSet {
    /// Lowercased name -> the member's name.
    files: HashMap<String, String>,
    /// Lowercased directory -> the first member that needs it.
    directories: HashMap<String, String>,
}

impl NameSet {
    fn len(&self) -> usize {
        self.files.len()
    }

    /// Checks that `name` can join the set without adding it.
    fn check(&self, name: &str) -> Result<(), NameClash> {
        let folded = name.to_ascii_lowercase();
        if let Some(other) = self.files.get(&folded) {
            return Err(if other == name {
                NameClash::Duplicate
            } else {
                NameClash::Path {
                    other: other.clone(),
                }
            });
        }
        if let Some(other) = self.directories.get(&folded) {
            return Err(NameClash::Path {
                other: other.clone(),
            });
        }
        for (index, _) in folded.match_indices('/') {
            if let Some(other) = self.files.get(&folded[..index]) {
                return Err(NameClash::Path {
                    other: other.clone(),
                });
            }
        }
        Ok(())
    }

    fn insert(&mut self, name: &str) {
        let folded = name.to_ascii_lowercase();
        for (index, _) in folded.match_indices('/') {
            self.directories
                .entry(folded[..index].to_owned())
                .or_insert_with(|| name.to_owned());
        }
        self.files.insert(folded, name.to_owned());
    }
}

/// Writes `value` as `width - 1` zero-padded octal digits and a NUL.
fn write_octal(field: &mut [u8], mut value: u64) {
    let digits = field.len() - 1;
    field[digits] = 0;
    for slot in field[..digits].iter_mut().rev() {
        *slot = b'0' + (value & 7) as u8;
        value >>= 3;
    }
}

/// Reads a field of zero-padded octal digits followed by exactly one NUL.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let (&terminator, digits) = field.split_last()?;
    if terminator != 0 || digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &digit| {
        if (b'0'..=b'7').contains(&digit) {
            value.checked_mul(8)?.checked_add(u64::from(digit - b'0'))
        } else {
            None
        }
    })
}

fn header_checksum(block: &[u8; BLOCK]) -> u32 {
    let field = HeaderField::Checksum.range();
    block
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            if field.contains(&index) {
                u32::from(b' ')
            } else {
                u32::from(byte)
            }
        })
        .sum()
}

/// Reads the checksum field in the one form this profile writes: six octal
/// digits, NUL, space.
fn parse_checksum(block: &[u8; BLOCK]) -> Option<u32> {
    let field = &block[HeaderField::Checksum.range()];
    if field[7] != b' ' {
        return None;
    }
    let value = parse_octal(&field[..7])?;
    u32::try_from(value).ok()
}

/// The one header this profile writes for a member. `name` must be valid,
/// `size` and `mtime` at most 11 octal digits.
fn header_block(name: &[u8], size: u64, mtime: u64) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..name.len()].copy_from_slice(name);
    block[HeaderField::Mode.range()].copy_from_slice(MODE);
    block[HeaderField::Uid.range()].copy_from_slice(ZERO_ID);
    block[HeaderField::Gid.range()].copy_from_slice(ZERO_ID);
    write_octal(&mut block[HeaderField::Size.range()], size);
    write_octal(&mut block[HeaderField::Mtime.range()], mtime);
    block[HeaderField::Typeflag.range().start] = REGULAR_FILE;
    block[HeaderField::Magic.range()].copy_from_slice(MAGIC);
    block[HeaderField::Version.range()].copy_from_slice(VERSION);
    let uname = HeaderField::Uname.range().start;
    block[uname..uname + OWNER.len()].copy_from_slice(OWNER);
    let gname = HeaderField::Gname.range().start;
    block[gname..gname + OWNER.len()].copy_from_slice(OWNER);
    block[HeaderField::Devmajor.range()].copy_from_slice(ZERO_ID);
    block[HeaderField::Devminor.range()].copy_from_slice(ZERO_ID);
    let checksum = header_checksum(&block);
    let field = HeaderField::Checksum.range();
    write_octal(
        &mut block[field.start..field.start + 7],
        u64::from(checksum),
    );
    block[field.start + 7] = b' ';
    block
}

fn padding_len(size: u64) -> u64 {
    (BLOCK_SIZE - size % BLOCK_SIZE) % BLOCK_SIZE
}

/// Why writing an archive failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TarWriteError {
    /// A member name breaks the profile.
    #[error("cannot add member {name:?}: {reason}")]
    BadName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: NameError,
    },
    /// A member of this name was already written.
    #[error("cannot add member {member:?}: the archive already has a member of that name")]
    DuplicateMember {
        /// The repeated name.
        member: String,
    },
    /// The name equals another up to letter case, or is a file and a parent
    /// directory of another member at once.
    #[error("cannot add member {member:?}: it clashes with member {other:?} (names must differ in more than letter case, and a name cannot be both a file and a directory)")]
    PathConflict {
        /// The rejected name.
        member: String,
        /// The member it clashes with.
        other: String,
    },
    /// The member is larger than a ustar header can state.
    #[error("cannot add member {member:?}: {size} bytes is more than the ustar maximum of {MAX_MEMBER_SIZE}")]
    MemberTooLarge {
        /// The member's name.
        member: String,
        /// Its size.
        size: u64,
    },
    /// The modification time does not fit a ustar header.
    #[error("modification time {mtime} is more than the ustar maximum of {MAX_MTIME}")]
    BadMtime {
        /// The rejected time, in seconds since the Unix epoch.
        mtime: u64,
    },
    /// A streamed member's source gave more or fewer bytes than declared.
    #[error("member {member:?} was declared as {declared} bytes but its source gave {actual}{}", if *.actual > *.declared { " or more" } else { "" })]
    SizeMismatch {
        /// The member's name.
        member: String,
        /// The size passed to [`TarWriter::append_from`].
        declared: u64,
        /// How many bytes the source gave (at least this many, if more).
        actual: u64,
    },
    /// Reading a streamed member's source failed.
    #[error("reading the data of member {member:?} failed")]
    Source {
        /// The member's name.
        member: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing the archive failed.
    #[error("writing the archive at offset {offset} failed")]
    Io {
        /// The archive offset of the failed write.
        offset: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An earlier write failed, leaving a partial member in the output.
    #[error("the archive is incomplete because an earlier write failed")]
    Incomplete,
}

impl TarWriteError {
    /// A stable kebab-case identifier for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            TarWriteError::BadName { .. } => "archive-bad-name",
            TarWriteError::DuplicateMember { .. } => "archive-duplicate-member",
            TarWriteError::PathConflict { .. } => "archive-path-conflict",
            TarWriteError::MemberTooLarge { .. } => "archive-member-too-large",
            TarWriteError::BadMtime { .. } => "archive-bad-mtime",
            TarWriteError::SizeMismatch { .. } => "archive-size-mismatch",
            TarWriteError::Source { .. } => "archive-source-io",
            TarWriteError::Io { .. } => "archive-io",
            TarWriteError::Incomplete => "archive-incomplete",
        }
    }
}

/// Writes a strict ustar archive member by member.
///
/// Headers are written in the single form described in the [module
/// docs](self). The writer does not buffer: give it a `BufWriter` if the
/// output is unbuffered and members are small. [`TarWriter::finish`] must
/// be called to end the archive; a writer dropped without it leaves an
/// archive the reader rejects as truncated.
pub struct TarWriter<W: Write> {
    out: W,
    mtime: u64,
    position: u64,
    names: NameSet,
    failed: bool,
}

impl<W: Write> fmt::Debug for TarWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TarWriter")
            .field("mtime", &self.mtime)
            .field("position", &self.position)
            .field("members", &self.names.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<W: Write> TarWriter<W> {
    /// Starts an archive whose members all carry modification time `mtime`
    /// (seconds since the Unix epoch; use the seal time, or 0).
    pub fn new(out: W, mtime: u64) -> Result<Self, TarWriteError> {
        if mtime > MAX_MTIME {
            return Err(TarWriteError::BadMtime { mtime });
        }
        Ok(TarWriter {
            out,
            mtime,
            position: 0,
            names: NameSet::default(),
            failed: false,
        })
    }

    /// The number of bytes written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Appends a member with the given content.
    pub fn append(&mut self, name: &str, data: &[u8]) -> Result<(), TarWriteError> {
        let size = data.len() as u64;
        self.start_member(name, size)?;
        self.write(data)?;
        self.end_member(size)
    }

    /// Appends a member of `size` bytes read from `data`, which must give
    /// exactly `size` bytes. Use this for members too large to hold in memory.
    ///
    /// If `data` gives fewer or more bytes the archive is left incomplete and
    /// every later call fails with [`TarWriteError::Incomplete`].
    pub fn append_from<R: Read>(
        &mut self,
        name: &str,
        size: u64,
        mut data: R,
    ) -> Result<(), TarWriteError> {
        self.start_member(name, size)?;
        let mut buffer = vec![0u8; COPY_BUFFER];
        let mut copied = 0u64;
        while copied < size {
            let want = usize::try_from(size - copied)
                .unwrap_or(usize::MAX)
                .min(buffer.len());
            let read = match data.read(&mut buffer[..want]) {
                Ok(0) => {
                    self.failed = true;
                    return Err(TarWriteError::SizeMismatch {
                        member: name.to_owned(),
                        declared: size,
                        actual: copied,
                    });
                }
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.failed = true;
                    return Err(TarWriteError::Source {
                        member: name.to_owned(),
                        source,
                    });
                }
            };
            self.write(&buffer[..read])?;
            copied += read as u64;
        }
        // The source must be exhausted: a longer source means the declared
        // size was wrong.
        let mut probe = [0u8; 1];
        loop {
            match data.read(&mut probe) {
                Ok(0) => break,
                Ok(_) => {
                    self.failed = true;
                    return Err(TarWriteError::SizeMismatch {
                        member: name.to_owned(),
                        declared: size,
                        actual: size + 1,
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.failed = true;
                    return Err(TarWriteError::Source {
                        member: name.to_owned(),
                        source,
                    });
                }
            }
        }
        self.end_member(size)
    }

    /// Writes the two end-of-archive blocks, flushes, and returns the output.
    /// Nothing is written after the end blocks.
    pub fn finish(mut self) -> Result<W, TarWriteError> {
        if self.failed {
            return Err(TarWriteError::Incomplete);
        }
        self.write(&ZERO_BLOCK)?;
        self.write(&ZERO_BLOCK)?;
        let offset = self.position;
        self.out
            .flush()
            .map_err(|source| TarWriteError::Io { offset, source })?;
        Ok(self.out)
    }

    fn start_member(&mut self, name: &str, size: u64) -> Result<(), TarWriteError> {
        if self.failed {
            return Err(TarWriteError::Incomplete);
        }
        validate_member_name(name).map_err(|reason| TarWriteError::BadName {
            name: name.to_owned(),
            reason,
        })?;
        match self.names.check(name) {
            Ok(()) => {}
            Err(NameClash::Duplicate) => {
                return Err(TarWriteError::DuplicateMember {
                    member: name.to_owned(),
                })
            }
            Err(NameClash::Path { other }) => {
                return Err(TarWriteError::PathConflict {
                    member: name.to_owned(),
                    other,
                })
            }
        }
        if size > MAX_MEMBER_SIZE {
            return Err(TarWriteError::MemberTooLarge {
                member: name.to_owned(),
                size,
            });
        }
        self.write(&header_block(name.as_bytes(), size, self.mtime))?;
        self.names.insert(name);
        Ok(())
    }

    fn end_member(&mut self, size: u64) -> Result<(), TarWriteError> {
        // `padding_len` is below 512, so the cast and the slice are in range.
        let padding = padding_len(size) as usize;
        self.write(&ZERO_BLOCK[..padding])
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), TarWriteError> {
        if let Err(source) = self.out.write_all(bytes) {
            self.failed = true;
            return Err(TarWriteError::Io {
                offset: self.position,
                source,
            });
        }
        self.position += bytes.len() as u64;
        Ok(())
    }
}

/// Limits the reader enforces on an untrusted archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarLimits {
    /// The largest member size accepted, in bytes.
    pub max_member_size: u64,
    /// The largest number of members accepted.
    pub max_members: usize,
}

impl Default for TarLimits {
    /// Any size a ustar header can state; at most 65,536 members.
    fn default() -> Self {
        TarLimits {
            max_member_size: MAX_MEMBER_SIZE,
            max_members: 65_536,
        }
    }
}

/// Why an archive was rejected.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// Reading the archive failed.
    #[error("reading the archive at offset {offset} failed")]
    Io {
        /// Where the failed read started.
        offset: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The archive ends before the end-of-archive blocks.
    #[error("archive truncated: {part}{} at offset {offset} needs {needed} bytes, but the archive is {length} bytes long", member_suffix(.member))]
    Truncated {
        /// What was being read.
        part: ArchivePart,
        /// The member being read, if any.
        member: Option<String>,
        /// Where the missing part starts.
        offset: u64,
        /// The archive length the part needs.
        needed: u64,
        /// The archive's actual length.
        length: u64,
    },
    /// A header's checksum is wrong or malformed.
    #[error("header at offset {offset}: {}; the header's bytes sum to {computed}", match .stored { Some(stored) => format!("checksum field says {stored}"), None => "checksum field is not six octal digits, NUL, space".to_owned() })]
    BadChecksum {
        /// The header's offset.
        offset: u64,
        /// The value in the checksum field, if it is well formed.
        stored: Option<u32>,
        /// The checksum computed over the header.
        computed: u32,
    },
    /// A header lacks the ustar magic `"ustar\0"` and version `"00"` (GNU
    /// tar's default format and v7 archives land here).
    #[error("header at offset {offset} is not a POSIX ustar header (magic and version are {found:?}, expected \"ustar\\000\")")]
    NotUstar {
        /// The header's offset.
        offset: u64,
        /// The magic and version bytes found.
        found: [u8; 8],
    },
    /// A header is not a regular file: pax or GNU extension headers,
    /// directories, links and old-style entries are all rejected.
    #[error("header at offset {offset} ({member:?}) has type {}: {}; only regular files (type '0') are allowed", typeflag_display(*.typeflag), typeflag_meaning(*.typeflag))]
    UnsupportedType {
        /// The header's offset.
        offset: u64,
        /// The entry's name, lossily decoded.
        member: String,
        /// The typeflag byte.
        typeflag: u8,
    },
    /// A member name breaks the profile.
    #[error("header at offset {offset}: member name {name:?} is not allowed: {reason}")]
    BadName {
        /// The header's offset.
        offset: u64,
        /// The name, lossily decoded.
        name: String,
        /// What is wrong with it.
        reason: NameError,
    },
    /// Two members have the same name.
    #[error("header at offset {offset}: member {member:?} appears twice")]
    DuplicateMember {
        /// The second header's offset.
        offset: u64,
        /// The repeated name.
        member: String,
    },
    /// A name equals another up to letter case, or is both a file and a
    /// parent directory of another member.
    #[error("header at offset {offset}: member {member:?} clashes with member {other:?} (names must differ in more than letter case, and a name cannot be both a file and a directory)")]
    PathConflict {
        /// The header's offset.
        offset: u64,
        /// The later member.
        member: String,
        /// The earlier member it clashes with.
        other: String,
    },
    /// A header field is malformed or differs from the one form this profile
    /// allows.
    #[error("header at offset {offset} ({member:?}): field {field} is malformed or not the canonical value")]
    BadField {
        /// The header's offset.
        offset: u64,
        /// The member's name, lossily decoded.
        member: String,
        /// The field.
        field: HeaderField,
    },
    /// A member is larger than the caller's limit.
    #[error("header at offset {offset}: member {member:?} is {size} bytes, more than the limit of {max}")]
    MemberTooLarge {
        /// The header's offset.
        offset: u64,
        /// The member's name.
        member: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The archive has more members than the caller's limit.
    #[error("header at offset {offset}: more than {max} members")]
    TooManyMembers {
        /// The offset of the first member over the limit.
        offset: u64,
        /// The limit.
        max: usize,
    },
    /// The padding after a member's data has a non-zero byte.
    #[error("non-zero padding byte at offset {offset} after member {member:?}")]
    NonzeroPadding {
        /// The offending byte's offset.
        offset: u64,
        /// The member the padding follows.
        member: String,
    },
    /// The first end-of-archive zero block is followed by a non-zero block.
    #[error("a zero block at offset {offset} is followed by a non-zero block (an archive ends with exactly two zero blocks)")]
    BadEnd {
        /// The offset of the first zero block.
        offset: u64,
    },
    /// Bytes follow the two end-of-archive blocks.
    #[error("{count} bytes follow the end-of-archive blocks at offset {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: u64,
        /// How many there are.
        count: u64,
    },
    /// A member's data range lies outside the archive (a member from
    /// another archive was passed to this reader).
    #[error("member {member:?} does not lie within this archive")]
    ForeignMember {
        /// The member's name.
        member: String,
    },
}

fn member_suffix(member: &Option<String>) -> String {
    match member {
        Some(member) => format!(" of member {member:?}"),
        None => String::new(),
    }
}

fn typeflag_display(typeflag: u8) -> String {
    if typeflag.is_ascii_graphic() {
        format!("'{}'", char::from(typeflag))
    } else {
        format!("0x{typeflag:02x}")
    }
}

fn typeflag_meaning(typeflag: u8) -> &'static str {
    match typeflag {
        b'\0' => "an old-style regular file",
        b'1' => "a hard link",
        b'2' => "a symbolic link",
        b'3' | b'4' => "a device",
        b'5' => "a directory",
        b'6' => "a FIFO",
        b'7' => "a contiguous file",
        b'x' => "a pax extended header",
        b'g' => "a pax global header",
        b'L' => "a GNU long name",
        b'K' => "a GNU long link name",
        b'A'..=b'Z' => "a vendor extension",
        _ => "an unknown type",
    }
}

impl TarError {
    /// A stable kebab-case identifier for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            TarError::Io { .. } => "archive-io",
            TarError::Truncated { .. } => "archive-truncated",
            TarError::BadChecksum { .. } => "archive-bad-checksum",
            TarError::NotUstar { .. } => "archive-not-ustar",
            TarError::UnsupportedType { .. } => "archive-unsupported-type",
            TarError::BadName { .. } => "archive-bad-name",
            TarError::DuplicateMember { .. } => "archive-duplicate-member",
            TarError::PathConflict { .. } => "archive-path-conflict",
            TarError::BadField { .. } => "archive-bad-field",
            TarError::MemberTooLarge { .. } => "archive-member-too-large",
            TarError::TooManyMembers { .. } => "archive-too-many-members",
            TarError::NonzeroPadding { .. } => "archive-nonzero-padding",
            TarError::BadEnd { .. } => "archive-bad-end",
            TarError::TrailingBytes { .. } => "archive-trailing-bytes",
            TarError::ForeignMember { .. } => "archive-foreign-member",
        }
    }
}

/// One member of a checked archive: where its header and data are.
///
/// Only [`TarReader`] makes these, after checking the member's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    name: String,
    header_offset: u64,
    size: u64,
    mtime: u64,
}

impl TarMember {
    /// The member's name (valid per [`validate_member_name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset of the member's header in the archive.
    pub fn header_offset(&self) -> u64 {
        self.header_offset
    }

    /// The offset of the member's first data byte in the archive.
    pub fn data_offset(&self) -> u64 {
        self.header_offset + BLOCK_SIZE
    }

    /// The member's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The member's modification time, in seconds since the Unix epoch.
    pub fn mtime(&self) -> u64 {
        self.mtime
    }

    /// The archive byte range of the member's data.
    pub fn data_range(&self) -> Range<u64> {
        self.data_offset()..self.data_offset() + self.size
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Members,
    Ended,
}

/// Reads and checks a strict ustar archive from any `Read + Seek` source.
///
/// [`TarReader::next_member`] (or the [`Iterator`] impl, or
/// [`TarReader::members`]) walks the headers in order, checking each one and
/// the padding after its data, and finally the end-of-archive blocks; only
/// then is the archive known to be well formed ([`TarReader::is_complete`]).
/// A failed step can be retried and fails the same way; the iterator stops
/// after its first error.
#[derive(Debug)]
pub struct TarReader<R> {
    source: R,
    length: Option<u64>,
    limits: TarLimits,
    next_header: u64,
    state: ReadState,
    names: NameSet,
    iterator_failed: bool,
}

impl fmt::Debug for NameSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} names", self.len())
    }
}

impl<'a> TarReader<Cursor<&'a [u8]>> {
    /// A reader over an archive held in memory; see also
    /// [`TarReader::member_bytes`].
    pub fn from_slice(archive: &'a [u8], limits: TarLimits) -> Self {
        TarReader::new(Cursor::new(archive), limits)
    }

    /// Borrows a member's data from the in-memory archive, without copying.
    pub fn member_bytes(&self, member: &TarMember) -> Result<&'a [u8], TarError> {
        let archive: &'a [u8] = self.source.get_ref();
        let range = member.data_range();
        usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(start, end)| archive.get(start..end))
            .ok_or_else(|| TarError::ForeignMember {
                member: member.name.clone(),
            })
    }
}

impl<R: Read + Seek> TarReader<R> {
    /// A reader over `source`, which must be positioned anywhere; the archive
    /// is taken to span the whole source, from offset 0 to its end.
    pub fn new(source: R, limits: TarLimits) -> Self {
        TarReader {
            source,
            length: None,
            limits,
            next_header: 0,
            state: ReadState::Members,
            names: NameSet::default(),
            iterator_failed: false,
        }
    }

    /// Whether the end-of-archive blocks have been read and checked, so the
    /// whole archive is known to be well formed.
    pub fn is_complete(&self) -> bool {
        self.state == ReadState::Ended
    }

    /// Gives back the source.
    pub fn into_inner(self) -> R {
        self.source
    }

    /// The archive's length in bytes.
    pub fn length(&mut self) -> Result<u64, TarError> {
        if let Some(length) = self.length {
            return Ok(length);
        }
        let length = self
            .source
            .seek(SeekFrom::End(0))
            .map_err(|source| TarError::Io { offset: 0, source })?;
        self.length = Some(length);
        Ok(length)
    }

    /// Reads and checks the remaining members and the end of the archive.
    pub fn members(&mut self) -> Result<Vec<TarMember>, TarError> {
        let mut members = Vec::new();
        while let Some(member) = self.next_member()? {
            members.push(member);
        }
        Ok(members)
    }

    /// Reads and checks the next member's header and the padding after its
    /// data; at the end, checks the end-of-archive blocks and returns `None`.
    pub fn next_member(&mut self) -> Result<Option<TarMember>, TarError> {
        if self.state == ReadState::Ended {
            return Ok(None);
        }
        let length = self.length()?;
        let offset = self.next_header;
        let block = self.read_block(offset, ArchivePart::Header, None)?;
        if block == ZERO_BLOCK {
            self.check_end(offset, length)?;
            self.state = ReadState::Ended;
            return Ok(None);
        }
        let member = self.check_header(offset, &block)?;
        let data_end = member.data_offset() + member.size;
        let padded_end = data_end + padding_len(member.size);
        if padded_end > length {
            return Err(TarError::Truncated {
                part: ArchivePart::MemberData,
                offset: member.data_offset(),
                member: Some(member.name),
                needed: padded_end,
                length,
            });
        }
        self.check_padding(&member, data_end, padded_end)?;
        self.names.insert(&member.name);
        self.next_header = padded_end;
        Ok(Some(member))
    }

    /// Seeks to a member's data and returns a reader of exactly its bytes.
    pub fn member_data(&mut self, member: &TarMember) -> Result<io::Take<&mut R>, TarError> {
        let length = self.length()?;
        if member.data_range().end > length {
            return Err(TarError::ForeignMember {
                member: member.name.clone(),
            });
        }
        let offset = member.data_offset();
        self.source
            .seek(SeekFrom::Start(offset))
            .map_err(|source| TarError::Io { offset, source })?;
        Ok((&mut self.source).take(member.size))
    }

    /// Reads a member's data into memory. Its size was checked against
    /// [`TarLimits::max_member_size`] when the header was read.
    pub fn read_member(&mut self, member: &TarMember) -> Result<Vec<u8>, TarError> {
        let offset = member.data_offset();
        let capacity = usize::try_from(member.size).map_err(|_| TarError::MemberTooLarge {
            offset: member.header_offset,
            member: member.name.clone(),
            size: member.size,
            max: usize::MAX as u64,
        })?;
        let mut data = Vec::with_capacity(capacity);
        let length = self.length()?;
        self.member_data(member)?
            .read_to_end(&mut data)
            .map_err(|source| TarError::Io { offset, source })?;
        if data.len() != capacity {
            // The source shrank after it was indexed.
            return Err(TarError::Truncated {
                part: ArchivePart::MemberData,
                member: Some(member.name.clone()),
                offset: offset + data.len() as u64,
                needed: member.data_range().end,
                length,
            });
        }
        Ok(data)
    }

    fn read_block(
        &mut self,
        offset: u64,
        part: ArchivePart,
        member: Option<&str>,
    ) -> Result<[u8; BLOCK], TarError> {
        let length = self.length()?;
        let truncated = |length| TarError::Truncated {
            part,
            member: member.map(str::to_owned),
            offset,
            needed: offset + BLOCK_SIZE,
            length,
        };
        if offset + BLOCK_SIZE > length {
            return Err(truncated(length));
        }
        let mut block = [0u8; BLOCK];
        self.source
            .seek(SeekFrom::Start(offset))
            .map_err(|source| TarError::Io { offset, source })?;
        match self.source.read_exact(&mut block) {
            Ok(()) => Ok(block),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Err(truncated(length)),
            Err(source) => Err(TarError::Io { offset, source }),
        }
    }

    fn check_end(&mut self, offset: u64, length: u64) -> Result<(), TarError> {
        let second = offset + BLOCK_SIZE;
        let block = self.read_block(second, ArchivePart::EndOfArchive, None)?;
        if block != ZERO_BLOCK {
            return Err(TarError::BadEnd { offset });
        }
        let end = second + BLOCK_SIZE;
        if end != length {
            return Err(TarError::TrailingBytes {
                offset: end,
                count: length - end,
            });
        }
        Ok(())
    }

    fn check_header(&self, offset: u64, block: &[u8; BLOCK]) -> Result<TarMember, TarError> {
        let computed = header_checksum(block);
        let stored = parse_checksum(block);
        if stored != Some(computed) {
            return Err(TarError::BadChecksum {
                offset,
                stored,
                computed,
            });
        }
        let magic = HeaderField::Magic.range().start;
        let mut found = [0u8; 8];
        found.copy_from_slice(&block[magic..magic + 8]);
        if &found[..6] != MAGIC || &found[6..] != VERSION {
            return Err(TarError::NotUstar { offset, found });
        }
        let name_field = &block[HeaderField::Name.range()];
        let name_len = name_field
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_field.len());
        let name_bytes = &name_field[..name_len];
        let lossy_name = || String::from_utf8_lossy(name_bytes).into_owned();
        let typeflag = block[HeaderField::Typeflag.range().start];
        if typeflag != REGULAR_FILE {
            return Err(TarError::UnsupportedType {
                offset,
                member: lossy_name(),
                typeflag,
            });
        }
        validate_name_bytes(name_bytes).map_err(|reason| TarError::BadName {
            offset,
            name: lossy_name(),
            reason,
        })?;
        // The name is ASCII, checked just above.
        let name = lossy_name();
        let bad_field = |field| TarError::BadField {
            offset,
            member: name.clone(),
            field,
        };
        let size = parse_octal(&block[HeaderField::Size.range()])
            .ok_or_else(|| bad_field(HeaderField::Size))?;
        let mtime = parse_octal(&block[HeaderField::Mtime.range()])
            .ok_or_else(|| bad_field(HeaderField::Mtime))?;
        let canonical = header_block(name_bytes, size, mtime);
        if let Some(field) = HeaderField::ALL
            .iter()
            .find(|field| block[field.range()] != canonical[field.range()])
        {
            return Err(bad_field(*field));
        }
        if self.names.len() >= self.limits.max_members {
            return Err(TarError::TooManyMembers {
                offset,
                max: self.limits.max_members,
            });
        }
        match self.names.check(&name) {
            Ok(()) => {}
            Err(NameClash::Duplicate) => {
                return Err(TarError::DuplicateMember {
                    offset,
                    member: name,
                })
            }
            Err(NameClash::Path { other }) => {
                return Err(TarError::PathConflict {
                    offset,
                    member: name,
                    other,
                })
            }
        }
        if size > self.limits.max_member_size {
            return Err(TarError::MemberTooLarge {
                offset,
                member: name,
                size,
                max: self.limits.max_member_size,
            });
        }
        Ok(TarMember {
            name,
            header_offset: offset,
            size,
            mtime,
        })
    }

    fn check_padding(
        &mut self,
        member: &TarMember,
        data_end: u64,
        padded_end: u64,
    ) -> Result<(), TarError> {
        if data_end == padded_end {
            return Ok(());
        }
        let mut padding = [0u8; BLOCK];
        // Padding is shorter than a block: the length fits.
        let padding = &mut padding[..(padded_end - data_end) as usize];
        self.source
            .seek(SeekFrom::Start(data_end))
            .map_err(|source| TarError::Io {
                offset: data_end,
                source,
            })?;
        self.source
            .read_exact(padding)
            .map_err(|source| TarError::Io {
                offset: data_end,
                source,
            })?;
        if let Some(position) = padding.iter().position(|&b| b != 0) {
            return Err(TarError::NonzeroPadding {
                offset: data_end + position as u64,
                member: member.name.clone(),
            });
        }
        Ok(())
    }
}

impl<R: Read + Seek> Iterator for TarReader<R> {
    type Item = Result<TarMember, TarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.iterator_failed {
            return None;
        }
        match self.next_member() {
            Ok(member) => member.map(Ok),
            Err(error) => {
                self.iterator_failed = true;
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::Path;
    use std::process::Command;

    const MTIME: u64 = 1_772_445_600;

    fn sample_members() -> Vec<(String, Vec<u8>)> {
        vec![
            ("README.txt".to_owned(), b"hello, auditor\n".to_vec()),
            ("manifest.cbor".to_owned(), Vec::new()),
            ("schemas/x.cddl".to_owned(), vec![b'x'; 512]),
            (
                "log/events-000001.cbor.zst".to_owned(),
                (0..=255u8).cycle().take(1000).collect(),
            ),
            (
                format!("schemas/{}", "a".repeat(MAX_NAME_LEN - 8)),
                vec![7; 513],
            ),
        ]
    }

    fn write_archive(members: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut writer = TarWriter::new(Vec::new(), MTIME).expect("valid mtime");
        for (name, data) in members {
            writer.append(name, data).expect("valid member");
        }
        writer.finish().expect("writing to a Vec")
    }

    fn read_all(archive: &[u8]) -> Result<Vec<(String, Vec<u8>)>, TarError> {
        let mut reader = TarReader::from_slice(archive, TarLimits::default());
        let members = reader.members()?;
        assert!(reader.is_complete());
        members
            .iter()
            .map(|m| Ok((m.name().to_owned(), reader.member_bytes(m)?.to_vec())))
            .collect()
    }

    fn small_archive() -> Vec<u8> {
        write_archive(&[
            ("a.txt".to_owned(), b"alpha".to_vec()),
            ("dir/b.bin".to_owned(), vec![0xab; 700]),
        ])
    }

    fn tar_available() -> bool {
        let found = Command::new("tar")
            .arg("--version")
            .output()
            .map(|out| {
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("GNU tar")
            })
            .unwrap_or(false);
        if !found {
            eprintln!("note: GNU tar not found; skipping the tar interoperability check");
        }
        found
    }

    fn run_tar(dir: &Path, args: &[&str]) -> Vec<u8> {
        let out = Command::new("tar")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("running tar");
        assert!(
            out.status.success(),
            "tar {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A header the writer would refuse to write, with a correct checksum.
    fn raw_header(name: &[u8], size: u64, edit: impl FnOnce(&mut [u8; BLOCK])) -> [u8; BLOCK] {
        let mut block = header_block(name, size, MTIME);
        edit(&mut block);
        let checksum = header_checksum(&block);
        let field = HeaderField::Checksum.range();
        write_octal(
            &mut block[field.start..field.start + 7],
            u64::from(checksum),
        );
        block[field.start + 7] = b' ';
        block
    }

    fn archive_of_blocks(blocks: &[&[u8]]) -> Vec<u8> {
        let mut archive = Vec::new();
        for block in blocks {
            archive.extend_from_slice(block);
            archive.resize(archive.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        archive.extend_from_slice(&[0; 2 * BLOCK]);
        archive
    }

    #[test]
    fn roundtrip_from_slice() {
        let members = sample_members();
        let archive = write_archive(&members);
        assert_eq!(archive.len() % BLOCK, 0);
        assert_eq!(read_all(&archive).expect("valid archive"), members);
        let mut reader = TarReader::from_slice(&archive, TarLimits::default());
        let first = reader.next_member().expect("valid").expect("a member");
        assert_eq!(first.header_offset(), 0);
        assert_eq!(first.data_offset(), 512);
        assert_eq!(first.mtime(), MTIME);
    }

    #[test]
    fn roundtrip_from_file_by_seeking() {
        let members = sample_members();
        let mut file = tempfile::tempfile().expect("temp file");
        let mut writer = TarWriter::new(&mut file, 0).expect("valid mtime");
        for (name, data) in &members {
            writer
                .append_from(name, data.len() as u64, data.as_slice())
                .expect("valid member");
        }
        writer.finish().expect("written");
        let mut reader = TarReader::new(&mut file, TarLimits::default());
        let index = reader.members().expect("valid archive");
        // Read in reverse order: data is found by offset, not by position.
        for (member, (name, data)) in index.iter().zip(&members).rev() {
            assert_eq!(member.name(), name);
            assert_eq!(&reader.read_member(member).expect("readable"), data);
            let mut streamed = Vec::new();
            reader
                .member_data(member)
                .expect("seekable")
                .read_to_end(&mut streamed)
                .expect("readable");
            assert_eq!(&streamed, data);
        }
    }

    #[test]
    fn streams_a_multi_megabyte_member() {
        let size = 5 * 1024 * 1024 + 3;
        let source = io::repeat(0x5a).take(size);
        let mut file = tempfile::tempfile().expect("temp file");
        let mut writer = TarWriter::new(io::BufWriter::new(&mut file), MTIME).expect("mtime");
        writer
            .append("log/events-000001.cbor.zst", b"")
            .expect("valid");
        writer
            .append_from("log/events-000002.cbor.zst", size, source)
            .expect("valid");
        writer.finish().expect("written");
        let mut reader = TarReader::new(&mut file, TarLimits::default());
        let index = reader.members().expect("valid");
        assert_eq!(index[1].size(), size);
        let mut data = reader.member_data(&index[1]).expect("seek");
        let copied = io::copy(&mut data, &mut io::sink()).expect("read");
        assert_eq!(copied, size);
    }

    #[test]
    fn iterator_yields_members_then_stops() {
        let archive = small_archive();
        let names: Vec<String> = TarReader::from_slice(&archive, TarLimits::default())
            .map(|m| m.map(|m| m.name().to_owned()))
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(names, ["a.txt", "dir/b.bin"]);

        let mut broken = archive.clone();
        broken.push(0);
        let mut reader = TarReader::from_slice(&broken, TarLimits::default());
        assert!(matches!(reader.next(), Some(Ok(_))));
        assert!(matches!(reader.next(), Some(Ok(_))));
        assert!(matches!(
            reader.next(),
            Some(Err(TarError::TrailingBytes { count: 1, .. }))
        ));
        assert!(reader.next().is_none());
        assert!(!reader.is_complete());
    }

    #[test]
    fn empty_archive_is_two_zero_blocks() {
        let archive = TarWriter::new(Vec::new(), 0)
            .expect("mtime")
            .finish()
            .expect("written");
        assert_eq!(archive, vec![0; 1024]);
        assert_eq!(read_all(&archive).expect("valid"), vec![]);
    }

    #[test]
    fn member_names_follow_the_profile() {
        for good in [
            "a",
            "README.txt",
            "log/events-000001.cbor.zst",
            "a_b/c-d/.e",
            &"x".repeat(100),
        ] {
            assert_eq!(validate_member_name(good), Ok(()), "{good:?}");
        }
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            (&"x".repeat(101), NameError::TooLong { len: 101 }),
            (
                "a+b",
                NameError::BadCharacter {
                    byte: b'+',
                    position: 1,
                },
            ),
            (
                "a b",
                NameError::BadCharacter {
                    byte: b' ',
                    position: 1,
                },
            ),
            (
                "a\\b",
                NameError::BadCharacter {
                    byte: b'\\',
                    position: 1,
                },
            ),
            ("/etc/passwd", NameError::Absolute),
            ("a//b", NameError::EmptyComponent),
            ("dir/", NameError::EmptyComponent),
            ("./a", NameError::DotComponent),
            ("a/../../b", NameError::DotComponent),
            ("..", NameError::DotComponent),
        ];
        for (name, expected) in cases {
            assert_eq!(
                validate_member_name(name).as_ref(),
                Err(expected),
                "{name:?}"
            );
        }
        assert!(matches!(
            validate_member_name("caf\u{e9}"),
            Err(NameError::BadCharacter {
                byte: 0xc3,
                position: 3
            })
        ));
    }

    #[test]
    fn writer_refuses_what_the_reader_would_reject() {
        let mut writer = TarWriter::new(Vec::new(), MTIME).expect("mtime");
        let error = writer.append("../evil", b"").expect_err("bad name");
        assert_eq!(error.code(), "archive-bad-name");
        writer.append("a/b", b"1").expect("valid");
        let error = writer.append("a/b", b"2").expect_err("duplicate");
        assert!(matches!(&error, TarWriteError::DuplicateMember { member } if member == "a/b"));
        let error = writer.append("a", b"3").expect_err("file over a directory");
        assert!(matches!(&error, TarWriteError::PathConflict { other, .. } if other == "a/b"));
        let error = writer
            .append("a/b/c", b"4")
            .expect_err("directory over a file");
        assert!(matches!(&error, TarWriteError::PathConflict { other, .. } if other == "a/b"));
        // Refused names leave the archive untouched and usable.
        let archive = writer.finish().expect("written");
        assert_eq!(
            read_all(&archive).expect("valid"),
            vec![("a/b".to_owned(), b"1".to_vec())]
        );

        assert_eq!(
            TarWriter::new(Vec::new(), MAX_MTIME + 1)
                .expect_err("too late")
                .code(),
            "archive-bad-mtime"
        );
        let mut writer = TarWriter::new(Vec::new(), MAX_MTIME).expect("mtime");
        let error = writer
            .append_from("big", MAX_MEMBER_SIZE + 1, io::empty())
            .expect_err("too large");
        assert_eq!(error.code(), "archive-member-too-large");
    }

    #[test]
    fn streamed_size_must_match() {
        let mut writer = TarWriter::new(Vec::new(), 0).expect("mtime");
        let error = writer
            .append_from("short", 10, &b"12345"[..])
            .expect_err("short");
        assert!(matches!(
            error,
            TarWriteError::SizeMismatch {
                declared: 10,
                actual: 5,
                ..
            }
        ));
        assert_eq!(
            writer.append("next", b"").expect_err("poisoned").code(),
            "archive-incomplete"
        );
        assert!(matches!(writer.finish(), Err(TarWriteError::Incomplete)));

        let mut writer = TarWriter::new(Vec::new(), 0).expect("mtime");
        let error = writer
            .append_from("long", 3, &b"12345"[..])
            .expect_err("long");
        assert!(matches!(
            error,
            TarWriteError::SizeMismatch {
                declared: 3,
                actual: 4,
                ..
            }
        ));
        assert!(error.to_string().contains("or more"), "{error}");
    }

    #[test]
    fn matches_gnu_tar_byte_for_byte_and_extracts() {
        if !tar_available() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let members = sample_members();
        let archive = write_archive(&members);
        std::fs::write(dir.path().join("ours.tar"), &archive).expect("write");

        // `tar -tf` lists exactly our members, in order.
        let listing = run_tar(dir.path(), &["-tf", "ours.tar"]);
        let expected: String = members
            .iter()
            .map(|(name, _)| format!("{name}\n"))
            .collect();
        assert_eq!(String::from_utf8_lossy(&listing), expected);

        // `tar -xf` creates the parent directories that are not stored.
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        run_tar(&out, &["-xf", "../ours.tar"]);
        for (name, data) in &members {
            assert_eq!(
                &std::fs::read(out.join(name)).expect("extracted"),
                data,
                "{name}"
            );
        }

        // GNU tar, told to write our profile, writes our exact bytes.
        let mut args = vec![
            "--format=ustar",
            "--owner=root:0",
            "--group=root:0",
            "--mode=0644",
            "-b1",
            "--no-recursion",
        ];
        let mtime = format!("--mtime=@{MTIME}");
        args.push(&mtime);
        args.extend(["-cf", "../gnu.tar"]);
        args.extend(members.iter().map(|(name, _)| name.as_str()));
        run_tar(&out, &args);
        let gnu = std::fs::read(dir.path().join("gnu.tar")).expect("read");
        assert_eq!(gnu, archive, "GNU tar's ustar output differs from ours");
    }

    #[test]
    fn rejects_what_gnu_tar_writes_by_default() {
        if !tar_available() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("schemas")).expect("mkdir");
        std::fs::write(dir.path().join("schemas/x.cddl"), "x = 1\n").expect("write");
        let profile = [
            "--format=ustar",
            "--owner=root:0",
            "--group=root:0",
            "--mode=0644",
            "--mtime=@0",
            "--no-recursion",
        ];
        let create = |name: &str, extra: &[&str]| -> Vec<u8> {
            let mut args: Vec<&str> = extra.to_vec();
            args.extend(["-cf", name, "schemas/x.cddl"]);
            run_tar(dir.path(), &args);
            std::fs::read(dir.path().join(name)).expect("read")
        };
        let read = |archive: &[u8]| {
            let mut reader = TarReader::from_slice(archive, TarLimits::default());
            reader.members().map(|_| ()).expect_err("must be rejected")
        };

        // Padded to a 10240-byte record.
        let padded = create("padded.tar", &profile);
        assert_eq!(padded.len(), 10240);
        let error = read(&padded);
        assert!(
            matches!(
                error,
                TarError::TrailingBytes {
                    offset: 2048,
                    count: 8192
                }
            ),
            "{error}"
        );
        // Without the padding, the same archive is accepted.
        assert!(read_all(&padded[..2048]).is_ok());

        // GNU format (the default): "ustar  \0" magic.
        let gnu = create("gnu.tar", &["--format=gnu", "-b1"]);
        assert_eq!(read(&gnu).code(), "archive-not-ustar");

        // pax: an extended header comes first.
        let mut pax_args = profile.to_vec();
        pax_args[0] = "--format=pax";
        pax_args.push("-b1");
        let pax = create("pax.tar", &pax_args);
        let error = read(&pax);
        assert!(
            matches!(
                error,
                TarError::UnsupportedType {
                    typeflag: b'x',
                    offset: 0,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("pax extended header"), "{error}");

        // A directory entry.
        let mut dir_args: Vec<&str> = profile
            .iter()
            .copied()
            .filter(|a| *a != "--no-recursion")
            .collect();
        dir_args.push("-b1");
        let mut args = dir_args.clone();
        args.extend(["-cf", "dir.tar", "schemas"]);
        run_tar(dir.path(), &args);
        let with_dir = std::fs::read(dir.path().join("dir.tar")).expect("read");
        let error = read(&with_dir);
        assert!(
            matches!(error, TarError::UnsupportedType { typeflag: b'5', .. }),
            "{error}"
        );

        // Real owner and mode instead of the fixed ones.
        let owned = create(
            "owned.tar",
            &[
                "--format=ustar",
                "--owner=nobody:65534",
                "-b1",
                "--no-recursion",
            ],
        );
        assert!(matches!(
            read(&owned),
            TarError::BadField { .. } | TarError::BadName { .. }
        ));
    }

    #[test]
    fn every_header_byte_change_is_rejected() {
        let archive = small_archive();
        let headers = [0usize, 1024];
        for header in headers {
            for position in header..header + BLOCK {
                for delta in 1..=255u8 {
                    let mut bad = archive.clone();
                    bad[position] = bad[position].wrapping_add(delta);
                    assert!(
                        read_all(&bad).is_err(),
                        "byte {position} + {delta} was accepted"
                    );
                }
            }
        }
    }

    #[test]
    fn every_other_byte_change_is_rejected_or_changes_one_member() {
        let archive = small_archive();
        let original = read_all(&archive).expect("valid");
        for position in 0..archive.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = archive.clone();
                bad[position] ^= flip;
                match read_all(&bad) {
                    Err(_) => {}
                    Ok(members) => {
                        assert_eq!(members.len(), original.len(), "byte {position}");
                        let changed = members
                            .iter()
                            .zip(&original)
                            .filter(|(now, before)| {
                                assert_eq!(now.0, before.0, "byte {position} renamed a member");
                                now.1 != before.1
                            })
                            .count();
                        assert_eq!(changed, 1, "byte {position} changed nothing visible");
                    }
                }
            }
        }
    }

    #[test]
    fn every_truncation_is_rejected() {
        let archive = small_archive();
        for len in 0..archive.len() {
            let error = read_all(&archive[..len]).expect_err("truncated");
            assert_eq!(error.code(), "archive-truncated", "at {len}: {error}");
        }
        // The messages say where and what.
        let error = read_all(&archive[..2000]).expect_err("truncated");
        assert!(error.to_string().contains("\"dir/b.bin\""), "{error}");
        let error = read_all(&archive[..archive.len() - 512]).expect_err("truncated");
        assert!(
            matches!(
                error,
                TarError::Truncated {
                    part: ArchivePart::EndOfArchive,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn rejects_bytes_after_the_end() {
        let archive = small_archive();
        for extra in [&[0u8][..], &[0; 512], &[0; 8192], b"junk"] {
            let mut bad = archive.clone();
            bad.extend_from_slice(extra);
            let error = read_all(&bad).expect_err("trailing");
            assert!(
                matches!(error, TarError::TrailingBytes { offset, count } if offset == archive.len() as u64 && count == extra.len() as u64),
                "{error}"
            );
        }
    }

    #[test]
    fn rejects_a_lone_zero_block() {
        let member = write_archive(&[("b".to_owned(), b"b".to_vec())]);
        let mut bad = vec![0u8; BLOCK];
        bad.extend_from_slice(&member);
        let error = read_all(&bad).expect_err("lone zero block");
        assert!(matches!(error, TarError::BadEnd { offset: 0 }), "{error}");
    }

    #[test]
    fn rejects_nonzero_padding() {
        let mut archive = small_archive();
        // "a.txt" has 5 bytes of data at 512..517; padding runs to 1024.
        archive[1000] = 1;
        let error = read_all(&archive).expect_err("padding");
        assert!(
            matches!(&error, TarError::NonzeroPadding { offset: 1000, member } if member == "a.txt"),
            "{error}"
        );
    }

    #[test]
    fn rejects_crafted_headers_with_valid_checksums() {
        let cases: Vec<([u8; BLOCK], &str)> = vec![
            (
                raw_header(b"a", 1, |b| b[156] = b'5'),
                "archive-unsupported-type",
            ),
            (
                raw_header(b"a", 1, |b| b[156] = 0),
                "archive-unsupported-type",
            ),
            (
                raw_header(b"a", 1, |b| b[156] = b'L'),
                "archive-unsupported-type",
            ),
            (
                raw_header(b"a", 1, |b| b[156] = b'g'),
                "archive-unsupported-type",
            ),
            (
                raw_header(b"a", 1, |b| b[156] = b'2'),
                "archive-unsupported-type",
            ),
            (
                raw_header(b"a", 1, |b| b[257..265].copy_from_slice(b"ustar  \0")),
                "archive-not-ustar",
            ),
            (
                raw_header(b"a", 1, |b| b[263] = b'0' + 1),
                "archive-not-ustar",
            ),
            (raw_header(b"../a", 1, |_| {}), "archive-bad-name"),
            (raw_header(b"/a", 1, |_| {}), "archive-bad-name"),
            (raw_header(b"a\\b", 1, |_| {}), "archive-bad-name"),
            (raw_header(b"", 1, |_| {}), "archive-bad-name"),
            (raw_header(b"a", 1, |b| b[50] = b'x'), "archive-bad-field"),
            (raw_header(b"a", 1, |b| b[345] = b'p'), "archive-bad-field"),
            (raw_header(b"a", 1, |b| b[157] = b'l'), "archive-bad-field"),
            (
                raw_header(b"a", 1, |b| b[100..108].copy_from_slice(b"0004755\0")),
                "archive-bad-field",
            ),
            (
                raw_header(b"a", 1, |b| b[108..116].copy_from_slice(b"0001750\0")),
                "archive-bad-field",
            ),
            (
                raw_header(b"a", 1, |b| b[124..136].copy_from_slice(b"0000000001 \0")),
                "archive-bad-field",
            ),
            (
                raw_header(b"a", 1, |b| {
                    b[124..136].copy_from_slice(b"\x80\0\0\0\0\0\0\0\0\0\0\x01")
                }),
                "archive-bad-field",
            ),
            (
                raw_header(b"a", 1, |b| b[136..148].copy_from_slice(b"          1\0")),
                "archive-bad-field",
            ),
            (
                raw_header(b"a", 1, |b| b[265..269].copy_from_slice(b"user")),
                "archive-bad-field",
            ),
            (raw_header(b"a", 1, |b| b[500] = 1), "archive-bad-field"),
        ];
        for (header, code) in cases {
            let archive = archive_of_blocks(&[&header, b"x"]);
            let error = read_all(&archive).expect_err("crafted header");
            assert_eq!(error.code(), code, "{error}");
            assert!(error.to_string().contains("offset 0"), "{error}");
        }
        // A bad field's error names the member and the field.
        let archive = archive_of_blocks(&[&raw_header(b"a", 1, |b| b[108] = b'1'), b"x"]);
        let error = read_all(&archive).expect_err("uid");
        assert!(
            matches!(&error, TarError::BadField { field: HeaderField::Uid, member, .. } if member == "a")
        );
        // Old-style checksum formats are not the canonical one.
        let mut header = header_block(b"a", 1, MTIME);
        header[148 + 6] = b' ';
        header[148 + 7] = 0;
        let archive = archive_of_blocks(&[&header, b"x"]);
        let error = read_all(&archive).expect_err("checksum format");
        assert!(
            matches!(error, TarError::BadChecksum { stored: None, .. }),
            "{error}"
        );
    }

    #[test]
    fn rejects_duplicates_and_path_conflicts() {
        let a = header_block(b"a/b", 1, MTIME);
        let archive = archive_of_blocks(&[&a, b"1", &a, b"2"]);
        let error = read_all(&archive).expect_err("duplicate");
        assert!(
            matches!(&error, TarError::DuplicateMember { offset: 1024, member } if member == "a/b"),
            "{error}"
        );
        let archive = archive_of_blocks(&[&a, b"1", &header_block(b"a", 1, MTIME), b"2"]);
        assert_eq!(
            read_all(&archive).expect_err("conflict").code(),
            "archive-path-conflict"
        );
        let archive = archive_of_blocks(&[&a, b"1", &header_block(b"a/b/c", 1, MTIME), b"2"]);
        assert_eq!(
            read_all(&archive).expect_err("conflict").code(),
            "archive-path-conflict"
        );
        // Names that differ only in case would merge on macOS or Windows.
        for (first, second) in [("a/b", "A/B"), ("a/b", "A"), ("a/b", "a/B/c")] {
            let archive = archive_of_blocks(&[
                &header_block(first.as_bytes(), 1, MTIME),
                b"1",
                &header_block(second.as_bytes(), 1, MTIME),
                b"2",
            ]);
            let error = read_all(&archive).expect_err("case conflict");
            assert!(
                matches!(&error, TarError::PathConflict { member, other, .. } if member == second && other == first),
                "{first} then {second}: {error}"
            );
        }
    }

    #[test]
    fn enforces_limits() {
        let archive = small_archive();
        let limits = TarLimits {
            max_member_size: 699,
            ..TarLimits::default()
        };
        let error = TarReader::from_slice(&archive, limits)
            .members()
            .expect_err("too large");
        assert!(
            matches!(&error, TarError::MemberTooLarge { size: 700, max: 699, member, .. } if member == "dir/b.bin"),
            "{error}"
        );
        let limits = TarLimits {
            max_members: 1,
            ..TarLimits::default()
        };
        let error = TarReader::from_slice(&archive, limits)
            .members()
            .expect_err("too many");
        assert!(
            matches!(
                error,
                TarError::TooManyMembers {
                    offset: 1024,
                    max: 1
                }
            ),
            "{error}"
        );
        // A header claiming more data than the archive holds is truncation.
        let archive = archive_of_blocks(&[&header_block(b"a", MAX_MEMBER_SIZE, MTIME)]);
        let error = read_all(&archive).expect_err("huge");
        assert_eq!(error.code(), "archive-truncated");
    }

    #[test]
    fn rejects_members_from_another_archive() {
        let big = write_archive(&[("big".to_owned(), vec![1; 5000])]);
        let small = small_archive();
        let mut reader = TarReader::from_slice(&big, TarLimits::default());
        let member = reader.members().expect("valid").remove(0);
        let mut other = TarReader::from_slice(&small, TarLimits::default());
        assert_eq!(
            other.member_bytes(&member).expect_err("foreign").code(),
            "archive-foreign-member"
        );
        assert_eq!(
            other.read_member(&member).expect_err("foreign").code(),
            "archive-foreign-member"
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = read_all(&bytes);
        }

        #[test]
        fn random_blocks_after_a_valid_header_never_panic(
            size in 0u64..2048,
            tail in proptest::collection::vec(any::<u8>(), 0..3072),
        ) {
            let mut archive = header_block(b"x", size, MTIME).to_vec();
            archive.extend_from_slice(&tail);
            let _ = read_all(&archive);
        }

        #[test]
        fn mutations_never_panic_and_never_rename(
            edits in proptest::collection::vec((0usize..2560, any::<u8>()), 1..8),
        ) {
            let archive = small_archive();
            let mut bad = archive.clone();
            for (position, value) in edits {
                let position = position % bad.len();
                bad[position] = value;
            }
            if let Ok(members) = read_all(&bad) {
                let names: Vec<_> = members.iter().map(|m| m.0.as_str()).collect();
                prop_assert_eq!(names, vec!["a.txt", "dir/b.bin"]);
            }
        }

        #[test]
        fn roundtrips_arbitrary_members(
            members in proptest::collection::btree_map("[a-z0-9_-]{1,20}(/[a-z0-9_.-]{0,10}[a-z0-9])?", proptest::collection::vec(any::<u8>(), 0..1500), 0..6),
        ) {
            let mut writer = TarWriter::new(Vec::new(), MTIME).expect("mtime");
            let mut written = Vec::new();
            for (name, data) in members {
                if writer.append(&name, &data).is_ok() {
                    written.push((name, data));
                }
            }
            let archive = writer.finish().expect("written");
            prop_assert_eq!(read_all(&archive).expect("valid"), written);
        }
    }
}
