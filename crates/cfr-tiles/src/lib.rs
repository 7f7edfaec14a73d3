//! Object storage for cfr, and a cfr log published as C2SP
//! [tlog-tiles](https://c2sp.org/tlog-tiles), so that anyone can audit the
//! log from the bucket without the recorder.
//!
//! ```
//! use cfr_merkle::ed25519_dalek::SigningKey;
//! use cfr_merkle::{Checkpoint, RootBuilder};
//! use cfr_model::{Attrs, Event};
//! use cfr_tiles::{audit, publish, Objects};
//!
//! // A log of 300 events (one full tile of 256 and a partial one of 44),
//! // and its checkpoint, signed by the recorder.
//! let events: Vec<Vec<u8>> = (0..300)
//!     .map(|seq| Event { seq, time: 1, kind: "ping".into(), actor: "provider".into(),
//!                        attrs: Attrs::new(), sig: None }.encode())
//!     .collect();
//! let mut root = RootBuilder::new();
//! events.iter().for_each(|e| root.push(cfr_merkle::leaf_hash(e)));
//! let recorder = SigningKey::from_bytes(&[7; 32]);
//! let origin = "cfr/demo";
//! let checkpoint = Checkpoint { origin: origin.into(), size: 300, root: root.root() }
//!     .sign(&recorder, origin)?;
//!
//! let dir = tempfile::tempdir()?;
//! let objects = Objects::open(&format!("file://{}", dir.path().display()))?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let published = rt.block_on(publish(&objects, &checkpoint, origin, &recorder.verifying_key(),
//!     move |size, each| {
//!         events.iter().take(size as usize).for_each(|e| each(e));
//!         Ok(())
//!     }))?;
//! // tile/0/000, tile/entries/000, tile/0/001.p/44, tile/entries/001.p/44, tile/1/000.p/1
//! assert_eq!(published.written, 5);
//!
//! // An auditor needs only the store and the recorder's public key.
//! let audited = rt.block_on(audit(&objects, Some(origin), &recorder.verifying_key()))?;
//! assert_eq!((audited.checkpoint.size, audited.entries), (300, 300));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concepts
//!
//! (Without the default feature `objects`, only [`path`] and [`tile`],
//! the codecs, are built.)
//!
//! * **[`Objects`]** is a place in object storage: `s3://bucket/prefix` on
//!   any S3-compatible service (settings from the standard `AWS_*`
//!   environment variables), or `file:///path` on a local directory. Its
//!   writes are conditional: [`Objects::create`] only if absent (an
//!   object already there must have the very same bytes),
//!   [`Objects::replace`] only over the version read before.
//! * **Tiles** ([`TileId`], [`Tiler`]): the log's Merkle tree as C2SP
//!   tlog-tiles, `tile/<L>/<N>[.p/<W>]`, 256 hashes a tile, each hash at
//!   level `L + 1` the RFC 9162 hash of a full tile at level `L`; level 0
//!   holds the leaf hashes. An **entry bundle** `tile/entries/<N>[.p/<W>]`
//!   holds the entries of the level-0 tile `N`, each a big-endian u16
//!   length and the entry: for cfr, the event's canonical CBOR, whose
//!   leaf hash `SHA-256(0x00 || entry)` is the tree's. Entries are at most
//!   65,535 bytes; a log with a larger event cannot be published as tiles
//!   ([`PublishError::EntryTooLarge`]).
//! * **[`publish()`]** writes the tiles of a log up to its signed
//!   checkpoint, then `checkpoint` (the C2SP signed note) by
//!   compare-and-swap: never over a larger or inconsistent checkpoint,
//!   never over a tile with other bytes (a rewritten log is refused,
//!   naming the object). It is incremental: the tiles the checkpoint
//!   already there implies are not written again. [`publish_from`] also
//!   reads only the new entries, for a log that proves (by an RFC 9162
//!   consistency proof) that its checkpoint extends the published one: it
//!   resumes from the store's right edge ([`Tiler::resume`]).
//! * **[`audit()`]** is the other side: from the store alone and the
//!   recorder's key, it verifies the checkpoint, reads every tile and
//!   entry bundle (reads bounded by the sizes the names imply), checks
//!   each entry against its leaf hash and as the event of its seq, each
//!   higher tile against the tiles below, and recomputes the root. Its
//!   errors name the object and what differs.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "objects")]
pub mod audit;
#[cfg(feature = "objects")]
pub mod objects;
pub mod path;
#[cfg(feature = "objects")]
pub mod publish;
pub mod tile;

#[cfg(feature = "objects")]
pub use audit::{audit, AuditError, Audited};
#[cfg(feature = "objects")]
pub use objects::{Created, Objects, ObjectsError};
pub use path::{PathError, TileId, TileKind};
#[cfg(feature = "objects")]
pub use publish::{publish, publish_from, published, PublishError, Published, CHECKPOINT};
pub use tile::{Tile, TileError, Tiler};
