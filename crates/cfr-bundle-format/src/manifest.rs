//! `manifest.cbor`: the bundle's table of contents, signed by the recorder.
//!
//! Self-described CBOR (tag 55799) around a map; see `schemas/manifest.cddl`.

use crate::layout::{EXCERPT_FORMAT, FORMAT};
use cfr_model::cbor::{self, Cbor, CborError};

/// Self-described CBOR tag.
pub const SELF_DESCRIBED: u64 = 55799;

/// One member listed in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEntry {
    /// Member name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the member's bytes.
    pub sha256: [u8; 32],
}

/// One chunk of events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkEntry {
    /// Member name (`log/events-NNNNNN.cbor.zst`).
    pub name: String,
    /// Seq of its first event.
    pub first: u64,
    /// Number of events.
    pub events: u64,
    /// Size of the decompressed CBOR sequence (a decompression bomb guard).
    pub raw_size: u64,
}

/// The log summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Number of events.
    pub events: u64,
    /// Time of the first event (ns), if any.
    pub from: Option<i64>,
    /// Time of the last event (ns), if any.
    pub until: Option<i64>,
    /// Merkle root (RFC 9162) over all events.
    pub root: [u8; 32],
    /// The chunks, in seq order.
    pub chunks: Vec<ChunkEntry>,
}

/// What an excerpt is cut from, and for which incidents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExcerptEntry {
    /// SHA-256 of the original bundle's `manifest.cbor` (carried as
    /// `original/manifest.cbor`, with the recorder's signature).
    pub original_manifest: [u8; 32],
    /// Number of events in the original log (the checkpoint's size).
    pub original_events: u64,
    /// The incidents the excerpt proves: 1-based positions in the original
    /// verdict's incident list, ascending.
    pub incidents: Vec<u64>,
}

/// The manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `cfr-bundle/1`, or `cfr-excerpt/1` for an excerpt.
    pub format: String,
    /// The tool that sealed the bundle (`cfr-bundle/0.1.0`).
    pub tool: String,
    /// The contract's id.
    pub contract_id: String,
    /// SHA-256 of `contract/contract.cbor`.
    pub contract_sha256: [u8; 32],
    /// The log.
    pub log: LogEntry,
    /// SHA-256 of the analyzer module, if the bundle carries one.
    pub analyzer_sha256: Option<[u8; 32]>,
    /// Every member but the manifest and its signatures, in bundle order.
    pub members: Vec<MemberEntry>,
    /// Set exactly when `format` is `cfr-excerpt/1`. In an excerpt,
    /// `log.events` counts the events it holds, `log.root` is the original
    /// log's root, and each chunk holds consecutive seqs of one range.
    pub excerpt: Option<ExcerptEntry>,
}

/// A manifest that does not follow the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not canonical CBOR.
    #[error("manifest.cbor: {0}")]
    Cbor(#[from] CborError),
    /// A field is missing or has the wrong type.
    #[error("manifest.cbor: field {field}: {problem}")]
    Field {
        /// The field path.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

fn field(field: &'static str, problem: impl Into<String>) -> ManifestError {
    ManifestError::Field {
        field,
        problem: problem.into(),
    }
}

fn b32(v: &Cbor, name: &'static str) -> Result<[u8; 32], ManifestError> {
    v.as_bytes()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| field(name, "expected 32 bytes"))
}

fn uint(v: &Cbor, name: &'static str) -> Result<u64, ManifestError> {
    v.as_int()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| field(name, "expected an unsigned integer"))
}

fn text(v: &Cbor, name: &'static str) -> Result<String, ManifestError> {
    v.as_text()
        .map(str::to_owned)
        .ok_or_else(|| field(name, "expected text"))
}

fn opt_time(v: &Cbor, name: &'static str) -> Result<Option<i64>, ManifestError> {
    match v {
        Cbor::Null => Ok(None),
        Cbor::Int(i) => Ok(Some(*i)),
        _ => Err(field(name, "expected an integer or null")),
    }
}

/// Checks that a map has exactly the given keys.
fn exact_keys(v: &Cbor, name: &'static str, keys: &[&str]) -> Result<(), ManifestError> {
    let Cbor::Map(entries) = v else {
        return Err(field(name, "expected a map"));
    };
    if entries.len() != keys.len() {
        return Err(field(
            name,
            format!(
                "expected exactly the keys {keys:?}, found {} keys",
                entries.len()
            ),
        ));
    }
    for (k, _) in entries {
        match k.as_text() {
            Some(t) if keys.contains(&t) => {}
            _ => return Err(field(name, format!("unexpected key {k:?}"))),
        }
    }
    Ok(())
}

fn req<'a>(v: &'a Cbor, key: &str, name: &'static str) -> Result<&'a Cbor, ManifestError> {
    v.get(key).ok_or_else(|| field(name, "missing"))
}

impl Manifest {
    pub(crate) fn placeholder() -> Manifest {
        Manifest {
            format: String::new(),
            tool: String::new(),
            contract_id: String::new(),
            contract_sha256: [0; 32],
            log: LogEntry {
                events: 0,
                from: None,
                until: None,
                root: [0; 32],
                chunks: Vec::new(),
            },
            analyzer_sha256: None,
            members: Vec::new(),
            excerpt: None,
        }
    }

    /// The canonical CBOR encoding (self-described).
    pub fn to_cbor(&self) -> Vec<u8> {
        let t = |s: &str| Cbor::text(s);
        let map = Cbor::map([
            ("format", t(&self.format)),
            ("tool", t(&self.tool)),
            (
                "contract",
                Cbor::map([
                    ("id", t(&self.contract_id)),
                    ("sha256", Cbor::Bytes(self.contract_sha256.to_vec())),
                ]),
            ),
            (
                "log",
                Cbor::map([
                    ("events", Cbor::Int(self.log.events as i64)),
                    ("from", self.log.from.map_or(Cbor::Null, Cbor::Int)),
                    ("until", self.log.until.map_or(Cbor::Null, Cbor::Int)),
                    ("root", Cbor::Bytes(self.log.root.to_vec())),
                    (
                        "chunks",
                        Cbor::Array(
                            self.log
                                .chunks
                                .iter()
                                .map(|c| {
                                    Cbor::map([
                                        ("name", t(&c.name)),
                                        ("first", Cbor::Int(c.first as i64)),
                                        ("events", Cbor::Int(c.events as i64)),
                                        ("raw_size", Cbor::Int(c.raw_size as i64)),
                                    ])
                                })
                                .collect(),
                        ),
                    ),
                ]),
            ),
            (
                "analyzer",
                match &self.analyzer_sha256 {
                    Some(d) => Cbor::map([("sha256", Cbor::Bytes(d.to_vec()))]),
                    None => Cbor::Null,
                },
            ),
            (
                "members",
                Cbor::Array(
                    self.members
                        .iter()
                        .map(|m| {
                            Cbor::map([
                                ("name", t(&m.name)),
                                ("size", Cbor::Int(m.size as i64)),
                                ("sha256", Cbor::Bytes(m.sha256.to_vec())),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]);
        let map = match (&self.excerpt, map) {
            (Some(x), Cbor::Map(mut entries)) => {
                entries.push((
                    Cbor::text("excerpt"),
                    Cbor::map([
                        (
                            "original",
                            Cbor::map([
                                ("manifest", Cbor::Bytes(x.original_manifest.to_vec())),
                                ("events", Cbor::Int(x.original_events as i64)),
                            ]),
                        ),
                        (
                            "incidents",
                            Cbor::Array(x.incidents.iter().map(|&i| Cbor::Int(i as i64)).collect()),
                        ),
                    ]),
                ));
                Cbor::Map(entries)
            }
            (_, map) => map,
        };
        cbor::encode(&Cbor::Tag(SELF_DESCRIBED, Box::new(map)))
    }

    /// Decodes a manifest strictly: canonical CBOR, tag 55799, exactly the
    /// schema's fields.
    pub fn from_cbor(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let v = cbor::decode(bytes)?;
        let Cbor::Tag(SELF_DESCRIBED, inner) = v else {
            return Err(field("(top)", "expected self-described CBOR (tag 55799)"));
        };
        let m = *inner;
        let format = text(req(&m, "format", "format")?, "format")?;
        let is_excerpt = format == EXCERPT_FORMAT;
        if format != FORMAT && !is_excerpt {
            return Err(field(
                "format",
                format!("{format:?} is neither {FORMAT:?} nor {EXCERPT_FORMAT:?}"),
            ));
        }
        let top: &[&str] = if is_excerpt {
            &[
                "format", "tool", "contract", "log", "analyzer", "members", "excerpt",
            ]
        } else {
            &["format", "tool", "contract", "log", "analyzer", "members"]
        };
        exact_keys(&m, "(top)", top)?;
        let excerpt = if is_excerpt {
            let x = req(&m, "excerpt", "excerpt")?;
            exact_keys(x, "excerpt", &["original", "incidents"])?;
            let o = req(x, "original", "excerpt.original")?;
            exact_keys(o, "excerpt.original", &["manifest", "events"])?;
            let incidents = req(x, "incidents", "excerpt.incidents")?
                .as_array()
                .ok_or_else(|| field("excerpt.incidents", "expected an array"))?
                .iter()
                .map(|i| uint(i, "excerpt.incidents[]"))
                .collect::<Result<Vec<_>, _>>()?;
            if incidents.is_empty()
                || incidents.windows(2).any(|w| w[0] >= w[1])
                || incidents[0] == 0
            {
                return Err(field(
                    "excerpt.incidents",
                    "expected 1-based incident numbers, ascending, at least one",
                ));
            }
            Some(ExcerptEntry {
                original_manifest: b32(
                    req(o, "manifest", "excerpt.original.manifest")?,
                    "excerpt.original.manifest",
                )?,
                original_events: uint(
                    req(o, "events", "excerpt.original.events")?,
                    "excerpt.original.events",
                )?,
                incidents,
            })
        } else {
            None
        };
        let c = req(&m, "contract", "contract")?;
        exact_keys(c, "contract", &["id", "sha256"])?;
        let log = req(&m, "log", "log")?;
        exact_keys(log, "log", &["events", "from", "until", "root", "chunks"])?;
        let chunks = req(log, "chunks", "log.chunks")?
            .as_array()
            .ok_or_else(|| field("log.chunks", "expected an array"))?
            .iter()
            .map(|c| {
                exact_keys(c, "log.chunks[]", &["name", "first", "events", "raw_size"])?;
                Ok(ChunkEntry {
                    name: text(req(c, "name", "log.chunks[].name")?, "log.chunks[].name")?,
                    first: uint(req(c, "first", "log.chunks[].first")?, "log.chunks[].first")?,
                    events: uint(
                        req(c, "events", "log.chunks[].events")?,
                        "log.chunks[].events",
                    )?,
                    raw_size: uint(
                        req(c, "raw_size", "log.chunks[].raw_size")?,
                        "log.chunks[].raw_size",
                    )?,
                })
            })
            .collect::<Result<Vec<_>, ManifestError>>()?;
        let analyzer = match req(&m, "analyzer", "analyzer")? {
            Cbor::Null => None,
            a => {
                exact_keys(a, "analyzer", &["sha256"])?;
                Some(b32(
                    req(a, "sha256", "analyzer.sha256")?,
                    "analyzer.sha256",
                )?)
            }
        };
        let members = req(&m, "members", "members")?
            .as_array()
            .ok_or_else(|| field("members", "expected an array"))?
            .iter()
            .map(|e| {
                exact_keys(e, "members[]", &["name", "size", "sha256"])?;
                Ok(MemberEntry {
                    name: text(req(e, "name", "members[].name")?, "members[].name")?,
                    size: uint(req(e, "size", "members[].size")?, "members[].size")?,
                    sha256: b32(req(e, "sha256", "members[].sha256")?, "members[].sha256")?,
                })
            })
            .collect::<Result<Vec<_>, ManifestError>>()?;
        Ok(Manifest {
            format,
            tool: text(req(&m, "tool", "tool")?, "tool")?,
            contract_id: text(req(c, "id", "contract.id")?, "contract.id")?,
            contract_sha256: b32(req(c, "sha256", "contract.sha256")?, "contract.sha256")?,
            log: LogEntry {
                events: uint(req(log, "events", "log.events")?, "log.events")?,
                from: opt_time(req(log, "from", "log.from")?, "log.from")?,
                until: opt_time(req(log, "until", "log.until")?, "log.until")?,
                root: b32(req(log, "root", "log.root")?, "log.root")?,
                chunks,
            },
            analyzer_sha256: analyzer,
            members,
            excerpt,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            tool: "cfr-bundle/0.1.0".into(),
            contract_id: "c".into(),
            contract_sha256: [1; 32],
            log: LogEntry {
                events: 3,
                from: Some(5),
                until: None,
                root: [2; 32],
                chunks: vec![ChunkEntry {
                    name: "log/events-000000.cbor.zst".into(),
                    first: 0,
                    events: 3,
                    raw_size: 99,
                }],
            },
            analyzer_sha256: Some([3; 32]),
            members: vec![MemberEntry {
                name: "README.txt".into(),
                size: 10,
                sha256: [4; 32],
            }],
            excerpt: None,
        }
    }

    #[test]
    fn roundtrip() {
        let m = sample();
        let b = m.to_cbor();
        assert_eq!(Manifest::from_cbor(&b).unwrap(), m);
        assert_eq!(&b[..3], &[0xd9, 0xd9, 0xf7], "self-described CBOR magic");
    }

    #[test]
    fn excerpt_roundtrip_and_format_binding() {
        let mut m = sample();
        m.format = EXCERPT_FORMAT.into();
        m.excerpt = Some(ExcerptEntry {
            original_manifest: [7; 32],
            original_events: 1000,
            incidents: vec![2, 5],
        });
        let b = m.to_cbor();
        assert_eq!(Manifest::from_cbor(&b).unwrap(), m);
        // An excerpt's fields under the bundle format, or the excerpt
        // format without them, are refused.
        let mut wrong = m.clone();
        wrong.format = FORMAT.into();
        assert!(Manifest::from_cbor(&wrong.to_cbor()).is_err());
        let mut wrong = m.clone();
        wrong.excerpt = None;
        assert!(Manifest::from_cbor(&wrong.to_cbor()).is_err());
        let mut wrong = m;
        if let Some(x) = &mut wrong.excerpt {
            x.incidents = vec![5, 2];
        }
        assert!(Manifest::from_cbor(&wrong.to_cbor()).is_err());
    }

    #[test]
    fn rejects_extra_fields_and_garbage() {
        let m = sample();
        let mut b = m.to_cbor();
        b.push(0);
        assert!(Manifest::from_cbor(&b).is_err());
        for n in 0..m.to_cbor().len() {
            assert!(Manifest::from_cbor(&m.to_cbor()[..n]).is_err());
        }
    }
}
