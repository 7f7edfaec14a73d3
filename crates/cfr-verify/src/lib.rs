//! Verifying cfr evidence bundles, cutting excerpts and proving single
//! events.
//!
//! [`cfr_bundle_format`] reads and writes a bundle as a file; this crate
//! decides what a bundle proves:
//!
//! - [`verify::verify`] runs the eight checks (see [`verify`]) on a whole
//!   bundle or an excerpt;
//! - [`excerpt::excerpt`] cuts a smaller, still provable bundle for a few
//!   incidents;
//! - [`proof::Prove::inclusion_proof`] proves one event to someone who
//!   holds only the recorder's key.
//!
//! Reports are rendered as text, JSON and HTML by `cfr-report`.
//!
//! Inside, the modules depend on each other one way: [`check`] (the checks
//! as values) and the incident coverage rules at the bottom; [`report`]
//! (what verification returns); the shared verification steps; the
//! excerpt pipeline; [`verify`] (the entry point and the whole-bundle
//! pipeline); [`excerpt`] (cutting, which verifies first) on top;
//! [`sandbox`] runs analyzers and [`seal`] seals with one.
//!
//! # For forensic tools
//!
//! A tool that reads evidence does five things: open a bundle, read its
//! events, verify it against keys it trusts, read the verdict, and prove
//! single events to others. All five, on a bundle of 200 events of the
//! `samples/storage-month` sample (sealed, in hidden lines, with
//! [`cfr_bundle_format::seal::seal`]):
//!
//! ```
//! use cfr_bundle_format::bundle::Bundle;
//! use cfr_verify::proof::{EventProof, Prove as _};
//! use cfr_verify::verify::{verify, Trust, VerifyOptions};
//! use cfr_bundle_format::cfr_model::keys::PublicKey;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
//! # let contract_toml = std::fs::read_to_string(sample.join("contract.toml"))?;
//! # let contract = cfr_contract::Contract::from_toml(&contract_toml)?;
//! # let recorder_key = cfr_model::keys::read_signing_key(&sample.join("keys/recorder.key"))?;
//! # let jsonl = std::fs::read_to_string(sample.join("events.jsonl"))?;
//! # let mut importer = cfr_bundle_format::import::Importer::new(&contract);
//! # let events: Vec<_> = jsonl.lines().filter(|l| !l.starts_with("{\"submission\"")).take(200).map(|l| importer.line(l))
//! #     .filter_map(Result::transpose).collect::<Result<_, _>>()?;
//! # let opts = cfr_bundle_format::seal::SealOptions {
//! #     contract_toml, contract_sigs: Vec::new(), recorder_key: &recorder_key, analyzer: None,
//! #     analyzer_cert: None, chunk_bytes: 4096, native_verdict: true, submissions: vec![], checkpoint: None,
//! #     timestamp: None,
//! # };
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("evidence.cfr");
//! # cfr_bundle_format::seal::seal(&opts, events.into_iter().map(Ok), &path, &mut |_| {})?;
//!
//! // The recorder's key, as you know it from outside the bundle (the
//! // contract you signed, the recorder's own publication).
//! let recorder = PublicKey::parse("ed25519:CiAL8Bo/AyoZXJpu31xaZBVN36mYTHQeqm+u46RSApQ=")?;
//!
//! // 1. Open: checks the archive's structure and reads the manifest. Proves nothing.
//! let bundle = Bundle::open(&path)?;
//! assert_eq!(bundle.manifest.contract_id, "acme-objstore-2026-03");
//!
//! // 2. Iterate the events lazily: one chunk in memory at a time.
//! let mut requests = 0;
//! for event in bundle.events() {
//!     let event = event?;
//!     if event.kind == "request" {
//!         requests += 1;
//!     }
//! }
//! assert_eq!(requests, 50);
//!
//! // 3. Verify with a trust policy: the keys you pin are the ones checked.
//! let trust = Trust { recorder: Some(recorder), ..Trust::default() };
//! let report = verify(&path, VerifyOptions { trust, ..VerifyOptions::default() })?;
//! assert!(report.verified());
//!
//! // 4. Read the verdict: the one verify replayed, equal to the one sealed.
//! let verdict = report.verdict().proven().ok_or("the verdict was not replayed")?;
//! assert_eq!(bundle.verdict()?, *verdict);
//! for incident in &verdict.incidents {
//!     println!("{} {}: {} at fault", incident.rule, incident.kind, incident.party);
//! }
//!
//! // 5. Prove one event of an incident to someone who holds only the
//! //    recorder's key: the proof travels as canonical CBOR.
//! let incident = verdict.incidents.first().ok_or("no incident")?;
//! let seq = *incident.evidence.first().ok_or("no evidence")?;
//! let bytes = bundle.inclusion_proof(seq)?.to_cbor();
//! let proven = EventProof::from_cbor(&bytes)?.verify(&recorder)?;
//! assert_eq!(proven.event.seq, seq);
//! assert_eq!(proven.contract_id(), Some("acme-objstore-2026-03"));
//! # Ok(())
//! # }
//! ```
//!
//! (This bundle carries no analyzer, so step 3 replays the verdict with
//! the native rule engine (`cfr-rules`), which keeps the example fast; a
//! bundle sealed with an analyzer is replayed in the wasmtime sandbox.)
//!
//! The program `examples/forensic.rs` does the same on a bundle given on
//! the command line: `cargo run -p cfr-verify --example forensic --
//! evidence.cfr --recorder-key recorder.pub --seq 17`.
//!
//! ## What a bundle is
//!
//! One file that settles a dispute without any outside service: the
//! events the recorder logged (CBOR, in zstd chunks of bounded size), the
//! contract the parties agreed (TOML and its canonical CBOR), the CDDL
//! schemas of every structure, a Merkle tree head over the events signed
//! by the recorder (`log/checkpoint`), a manifest listing every member's
//! SHA-256 signed by the recorder (and possibly co-signed by the
//! provider and the user), and usually the WebAssembly analyzer that
//! judged the log and the verdict it gave. See [`cfr_bundle_format::layout`] for the members
//! and [`cfr_bundle_format::manifest`] for the manifest.
//!
//! ## What to trust, and what not
//!
//! Nothing in a bundle is evidence until [`verify::verify`] has passed,
//! and even then only as far as the keys go. **Keys inside a bundle cannot
//! vouch for themselves**: the contract in the bundle names the parties'
//! keys, and anyone can write a bundle whose contract names their own
//! keys and sign it with them. So a tool pins the keys it trusts, obtained
//! from outside the bundle, in a [`verify::Trust`] (from flags, or a
//! trust file with [`verify::Trust::from_toml`]): a pinned key that
//! differs from the bundle's fails the check (`key-pin-mismatch`), and an
//! unpinned key is reported as such ([`verify::Report::unpinned`],
//! [`verify::Pin::NotPinned`]). Pin at least the recorder's key: it signs
//! the checkpoint and the manifest, which bind every other byte.
//! [`verify::Report::established`] says what a verification established:
//! [`verify::Established::Verified`] only when no check failed, every
//! signer's key was pinned and nothing is missing; otherwise
//! [`verify::Established::Intact`] with the list of what is missing
//! (`keys not pinned: grid`, `contract not signed by the user`,
//! `42 provider events not attributed (first at seq 7)`), or
//! [`verify::Established::Failed`]. A trust policy's [`verify::Require`]
//! turns any of these into a failure (see `schemas/TRUST.md`).
//!
//! What the API returns says how far it is checked:
//!
//! - [`cfr_bundle_format::bundle::Bundle::open`] checks only the archive's structure: the
//!   events from [`cfr_bundle_format::bundle::Bundle::events`] and the verdict from
//!   [`cfr_bundle_format::bundle::Bundle::verdict`] are **unverified** (decoded strictly, so
//!   never malformed, but possibly forged or tampered with);
//! - [`verify::verify`] checks everything and returns a
//!   [`verify::Report`]: [`verify::Report::verified`] is true when no check
//!   failed, and [`verify::Report::verdict`] gives the verdict the
//!   analyzer reproduced as a [`verify::ReportVerdict`] that says whether
//!   verification passed: only [`verify::ReportVerdict::Proven`] is proven;
//! - an [`proof::EventProof`] is unverified until
//!   [`proof::EventProof::verify`] yields a [`proof::VerifiedEvent`].
//!
//! ## Reading events
//!
//! [`cfr_bundle_format::bundle::Bundle::events`] streams: it decompresses one chunk at a time
//! (each at most [`cfr_bundle_format::seal::MAX_CHUNK_BYTES`], refusing to inflate beyond the
//! size the manifest declares) and decodes each event when the iterator
//! reaches it, so a tool can scan a log of any length in bounded memory.
//! [`cfr_bundle_format::bundle::Bundle::chunk`] and [`cfr_bundle_format::bundle::Chunk::events`] give the
//! chunks themselves with each event's canonical bytes (what the Merkle
//! leaf hashes). The iterator yields an error, then ends, at the first
//! chunk or event that does not decode:
//!
//! ```
//! # use cfr_bundle_format::bundle::Bundle;
//! # use cfr_verify::proof::Prove as _;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
//! # let contract_toml = std::fs::read_to_string(sample.join("contract.toml"))?;
//! # let contract = cfr_contract::Contract::from_toml(&contract_toml)?;
//! # let recorder_key = cfr_model::keys::read_signing_key(&sample.join("keys/recorder.key"))?;
//! # let jsonl = std::fs::read_to_string(sample.join("events.jsonl"))?;
//! # let mut importer = cfr_bundle_format::import::Importer::new(&contract);
//! # let events: Vec<_> = jsonl.lines().filter(|l| !l.starts_with("{\"submission\"")).take(200).map(|l| importer.line(l))
//! #     .filter_map(Result::transpose).collect::<Result<_, _>>()?;
//! # let opts = cfr_bundle_format::seal::SealOptions {
//! #     contract_toml, contract_sigs: Vec::new(), recorder_key: &recorder_key, analyzer: None,
//! #     analyzer_cert: None, chunk_bytes: 4096, native_verdict: true, submissions: vec![], checkpoint: None,
//! #     timestamp: None,
//! # };
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("evidence.cfr");
//! # cfr_bundle_format::seal::seal(&opts, events.into_iter().map(Ok), &path, &mut |_| {})?;
//! let bundle = Bundle::open(&path)?;
//! let last = bundle.events().last().ok_or("no events")??;
//! assert_eq!(last.seq, 199);
//! let chunks = &bundle.manifest.log.chunks;
//! assert!(chunks.len() > 1);
//! let first = bundle.chunk(&chunks[0])?;
//! let (event, cbor) = first.events().next().ok_or("empty chunk")??;
//! assert_eq!(cfr_merkle::leaf_hash(cbor), bundle.inclusion_proof(event.seq)?.leaf);
//! # Ok(())
//! # }
//! ```
//!
//! ## Verifying with a trust policy
//!
//! [`verify::VerifyOptions`] takes the pinned keys, which program replays
//! the verdict ([`verify::Replay`]: the bundled analyzer by default, or
//! the native rule engine as a cross-check), and an optional progress
//! callback. The [`verify::Report`] holds the eight checks
//! ([`check::CheckId`]), each pass, fail or not checked
//! ([`check::Status`], derived from what the check found: a check with a
//! failure is never reported otherwise), each failure with a stable
//! [`check::Code`], and the signers with their pinning state:
//!
//! ```
//! # use cfr_verify::verify::{verify, Established, Pin, Replay, Status, Trust, VerifyOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
//! # let contract_toml = std::fs::read_to_string(sample.join("contract.toml"))?;
//! # let contract = cfr_contract::Contract::from_toml(&contract_toml)?;
//! # let recorder_key = cfr_model::keys::read_signing_key(&sample.join("keys/recorder.key"))?;
//! # let jsonl = std::fs::read_to_string(sample.join("events.jsonl"))?;
//! # let mut importer = cfr_bundle_format::import::Importer::new(&contract);
//! # let events: Vec<_> = jsonl.lines().filter(|l| !l.starts_with("{\"submission\"")).take(200).map(|l| importer.line(l))
//! #     .filter_map(Result::transpose).collect::<Result<_, _>>()?;
//! # let opts = cfr_bundle_format::seal::SealOptions {
//! #     contract_toml, contract_sigs: Vec::new(), recorder_key: &recorder_key, analyzer: None,
//! #     analyzer_cert: None, chunk_bytes: 4096, native_verdict: true, submissions: vec![], checkpoint: None,
//! #     timestamp: None,
//! # };
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("evidence.cfr");
//! # cfr_bundle_format::seal::seal(&opts, events.into_iter().map(Ok), &path, &mut |_| {})?;
//! let trust = Trust::from_toml(r#"
//!     [keys]
//!     recorder = "ed25519:CiAL8Bo/AyoZXJpu31xaZBVN36mYTHQeqm+u46RSApQ="
//!     provider = "ed25519:IxuOZHHoFb0R4NbFwRVwOif1+oPReTCsaB9cb8KBsDY="
//! "#)?;
//! let report = verify(&path, VerifyOptions { trust, replay: Replay::Native, ..VerifyOptions::default() })?;
//! for check in report.checks() {
//!     assert_ne!(check.status(), Status::Fail, "{}: {:?}", check.name(), check.failures());
//! }
//! let user = report.signers.iter().find(|s| s.role == "user").ok_or("no user")?;
//! assert_eq!(user.pin, Pin::NotPinned); // reported, not trusted
//! // So the result is intact, not verified, and says what is missing.
//! let Established::Intact(missing) = report.established() else { panic!("not intact") };
//! assert_eq!(missing[0], "keys not pinned: user, grid");
//!
//! // A key that is not the bundle's fails verification.
//! let wrong = Trust::from_toml(r#"keys.recorder = "ed25519:IxuOZHHoFb0R4NbFwRVwOif1+oPReTCsaB9cb8KBsDY=""#)?;
//! let report = verify(&path, VerifyOptions { trust: wrong, ..VerifyOptions::default() })?;
//! assert!(!report.verified());
//! # Ok(())
//! # }
//! ```
//!
//! ## Trusted time
//!
//! A bundle sealed with a time-stamping authority carries `manifest.tsr`
//! (RFC 3161). Pin the TSA's certificate, or its CA's, in
//! [`verify::Trust::tsa`] (`[keys] tsa` in a trust file,
//! [`verify::tsa_cert_from_spec`] for a file): check 2 then verifies the
//! token offline with [`cfr_timestamp`], and [`verify::Report::timestamp`]
//! holds what it established (`None` unless every step held, the pin
//! included). Without a pin, check 2 notes that the timestamp was not
//! checked and [`verify::Report::gaps`] lists it.
//!
//! ## Reading the verdict
//!
//! The verdict ([`cfr_rules::Verdict`], format `cfr-verdict/1`) lists the
//! incidents, who is at fault for each and why, the per-rule statistics
//! and the service-level periods. [`verify::Report::verdict`] gives the
//! verified one ([`verify::ReportVerdict::proven`]); [`cfr_bundle_format::bundle::Bundle::verdict`] reads the sealed one without
//! verifying (quick, for browsing; a bundle sealed without a verdict
//! gives [`cfr_bundle_format::bundle::MemberError::Missing`]). `cfr_report::render::verdict_text`
//! prints it for people, [`cfr_rules::Verdict::to_json`] as JSON.
//!
//! ## Proving one event
//!
//! [`proof::Prove::inclusion_proof`] gives an [`proof::EventProof`]: the
//! event's canonical CBOR, its leaf hash, the RFC 9162 inclusion path and
//! the signed checkpoint. It is computed in one streaming pass (the
//! events are not held in memory). Whoever receives it needs only the
//! recorder's key: [`proof::EventProof::verify`] checks the event against
//! the leaf, the checkpoint's signature, and the path against the
//! checkpoint's root; [`proof::EventProof::verify_against`] does so
//! against a checkpoint obtained elsewhere. A proof for another seq,
//! another checkpoint or with any byte changed fails:
//!
//! ```
//! # use cfr_bundle_format::bundle::Bundle;
//! # use cfr_verify::proof::Prove as _;
//! # use cfr_model::keys::PublicKey;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
//! # let contract_toml = std::fs::read_to_string(sample.join("contract.toml"))?;
//! # let contract = cfr_contract::Contract::from_toml(&contract_toml)?;
//! # let recorder_key = cfr_model::keys::read_signing_key(&sample.join("keys/recorder.key"))?;
//! # let jsonl = std::fs::read_to_string(sample.join("events.jsonl"))?;
//! # let mut importer = cfr_bundle_format::import::Importer::new(&contract);
//! # let events: Vec<_> = jsonl.lines().filter(|l| !l.starts_with("{\"submission\"")).take(200).map(|l| importer.line(l))
//! #     .filter_map(Result::transpose).collect::<Result<_, _>>()?;
//! # let opts = cfr_bundle_format::seal::SealOptions {
//! #     contract_toml, contract_sigs: Vec::new(), recorder_key: &recorder_key, analyzer: None,
//! #     analyzer_cert: None, chunk_bytes: 4096, native_verdict: true, submissions: vec![], checkpoint: None,
//! #     timestamp: None,
//! # };
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("evidence.cfr");
//! # cfr_bundle_format::seal::seal(&opts, events.into_iter().map(Ok), &path, &mut |_| {})?;
//! # let recorder = PublicKey::parse("ed25519:CiAL8Bo/AyoZXJpu31xaZBVN36mYTHQeqm+u46RSApQ=")?;
//! let bundle = Bundle::open(&path)?;
//! let proof = bundle.inclusion_proof(17)?;
//! let verified = proof.verify(&recorder)?;
//! assert_eq!(verified.event.seq, 17);
//! assert_eq!(verified.checkpoint.size, 200);
//!
//! let mut forged = proof.clone();
//! forged.seq = 18;
//! assert!(forged.verify(&recorder).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! ## Errors
//!
//! Every operation has its own error type ([`cfr_bundle_format::bundle::OpenError`],
//! [`cfr_bundle_format::bundle::EventsError`], [`cfr_bundle_format::bundle::MemberError`],
//! [`verify::VerifyError`], [`proof::ProveError`],
//! [`proof::EventProofError`], ...) whose variants say what is wrong and
//! where (the member, the chunk, the event's index, the byte offset), and
//! whose `code()` is the stable code `verify` reports. Nothing read from a
//! bundle panics, whatever its bytes. A failed check is not an error:
//! [`verify::verify`] returns `Err` only when it cannot run at all (an
//! unreadable file).
//!
//! The crates a tool needs besides this one are re-exported, so it uses
//! the same versions: [`cfr_bundle_format`] (the file), [`cfr_model`]
//! (events, values, keys), [`cfr_merkle`] (trees, proofs, checkpoints),
//! [`cfr_rules`] (the verdict) and [`cfr_contract`] (the contract).
#![deny(missing_docs)]

pub mod check;
mod coverage;
pub mod excerpt;
mod excerpt_check;
pub mod proof;
pub mod receipts;
pub mod report;
pub mod sandbox;
pub mod seal;
mod steps;
pub mod verify;

pub use cfr_bundle_format;
pub use cfr_contract;
pub use cfr_merkle;
pub use cfr_model;
pub use cfr_rules;
pub use cfr_timestamp;

/// Lowercase hex of bytes (digests and keys in reports and messages).
pub(crate) fn hex(b: &[u8]) -> String {
    hex::encode(b)
}
