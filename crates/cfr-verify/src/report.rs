//! What verification returns: the [`Report`] (the checks, the signers and
//! their pinning state, the facts the bundle states, the verdict through
//! [`ReportVerdict`]) and what it takes: the pinned keys ([`Trust`]) and
//! the [`VerifyOptions`].

use crate::check::{Check, CheckId, Checks, Status};
use crate::coverage::{show_ranges, SeqRange};
use cfr_merkle::SignedCheckpoint;
use cfr_model::keys::{KeyError, PublicKey};
use cfr_model::time::format_rfc3339;
use cfr_model::Digest;
use cfr_rules::Incident;
use std::collections::BTreeMap;

/// Whether a signer's key was pinned by the verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// No key was given for this role: the bundle vouches for itself.
    NotPinned,
    /// The pinned key equals the bundle's.
    Pinned,
    /// The pinned key differs from the bundle's.
    Mismatch,
}

/// A party whose key the bundle relies on.
#[derive(Clone, Debug)]
pub struct Signer {
    /// `recorder`, `provider`, `user`, an attestor id, or `regulator`.
    pub role: String,
    /// The party's name in the contract.
    pub name: String,
    /// `SHA256:...` fingerprint of the key the bundle names.
    pub fingerprint: String,
    /// Pinning state.
    pub pin: Pin,
}

/// Keys the verifier trusts (pins), and what it requires of a bundle:
/// from `--trust trust.toml` ([`Trust::load`]) and the pin flags.
///
/// Every pin is compared with the key the bundle names for that role,
/// whether or not the bundle carries a signature by it.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The recorder's key.
    pub recorder: Option<PublicKey>,
    /// The provider's key.
    pub provider: Option<PublicKey>,
    /// The user's key.
    pub user: Option<PublicKey>,
    /// A regulator's key, for analyzer certificates.
    pub regulator: Option<PublicKey>,
    /// Attestors' keys by id.
    pub attestors: BTreeMap<String, PublicKey>,
    /// Witnesses' keys by name.
    pub witnesses: BTreeMap<String, PublicKey>,
    /// The certificate RFC 3161 timestamps (`manifest.tsr`) are verified
    /// against: the TSA's own certificate, or that of the CA that issued
    /// it (`--tsa-cert`, `[keys] tsa`).
    pub tsa: Option<cfr_timestamp::TsaCertificate>,
    /// What the bundle must establish for verification to pass.
    pub require: Require,
}

/// `[require]` of a trust policy: each one not met fails its check with
/// its own code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Require {
    /// The provider and the user both signed `contract.cbor`
    /// (`contract-not-agreed`, check 6).
    #[serde(default)]
    pub contract_agreed: bool,
    /// Every event of the provider, the user or an attestor is covered by
    /// a valid signature of its emitter (`events-not-attributed`, check 5).
    #[serde(default)]
    pub events_attributed: bool,
    /// Cosignatures of the checkpoint by at least this many pinned
    /// witnesses (`witness-quorum-not-met`, check 4).
    #[serde(default)]
    pub witnesses: u32,
    /// An RFC 3161 timestamp by a pinned TSA (`timestamp-missing`,
    /// `timestamp-untrusted`, check 2): a `manifest.tsr` verified against
    /// [`Trust::tsa`].
    #[serde(default)]
    pub timestamp: bool,
    /// A certificate of the analyzer by the pinned regulator key
    /// (`analyzer-not-certified`, check 7).
    #[serde(default)]
    pub analyzer_certified: bool,
}

/// A bad trust file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not TOML, or an unknown field (the message gives the line).
    #[error("{0}")]
    Syntax(String),
    /// A key that does not parse, or a key file that cannot be read.
    #[error("line {line}, {field}: {source}")]
    Key {
        /// The field (`keys.recorder`, `keys.attestors.grid`).
        field: String,
        /// 1-based line of the value.
        line: usize,
        /// The key error.
        source: KeyError,
    },
    /// A TSA certificate that does not parse, or a file that cannot be read.
    #[error("line {line}, {field}: {detail}")]
    Certificate {
        /// The field (`keys.tsa`).
        field: String,
        /// 1-based line of the value.
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

/// Reads a TSA certificate given as the path of a PEM or DER file (or as
/// PEM text); a relative path is taken from `base` when given.
pub fn tsa_cert_from_spec(
    spec: &str,
    base: Option<&std::path::Path>,
) -> Result<cfr_timestamp::TsaCertificate, String> {
    let t = spec.trim();
    if t.starts_with("-----BEGIN") {
        return cfr_timestamp::TsaCertificate::from_bytes(t.as_bytes()).map_err(|e| e.to_string());
    }
    let path = std::path::Path::new(t);
    let path = match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path.to_owned(),
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    cfr_timestamp::TsaCertificate::from_bytes(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a key given as `ed25519:<base64>` or as the path of a key file
/// (`.pub`, or a PKCS#8 private key whose public half is taken); a
/// relative path is taken from `base` when given.
pub fn key_from_spec(spec: &str, base: Option<&std::path::Path>) -> Result<PublicKey, KeyError> {
    let t = spec.trim();
    if t.starts_with("ed25519:") || t.starts_with("-----BEGIN PUBLIC KEY-----") {
        return PublicKey::parse(t);
    }
    let path = std::path::Path::new(t);
    match base {
        Some(b) if path.is_relative() => PublicKey::read(&b.join(path)),
        _ => PublicKey::read(path),
    }
}

impl Trust {
    /// Parses a trust policy; key file paths are taken from the current
    /// directory (see [`Trust::load`] for paths relative to the file):
    ///
    /// ```toml
    /// [keys]
    /// recorder = "ed25519:..."      # or a path to a .pub or PKCS#8 key file
    /// provider = "ed25519:..."
    /// user = "keys/user.pub"
    /// regulator = "ed25519:..."
    /// tsa = "tsa-ca.pem"            # a PEM or DER certificate: the TSA's, or its CA's
    /// [keys.attestors]
    /// grid = "ed25519:..."
    /// [keys.witnesses]
    /// acme-witness = "ed25519:..."
    /// [require]
    /// contract_agreed = true
    /// events_attributed = true
    /// witnesses = 1
    /// timestamp = true
    /// analyzer_certified = true
    /// ```
    ///
    /// Unknown tables and fields are errors that name the line.
    pub fn from_toml(text: &str) -> Result<Trust, TrustError> {
        Trust::parse(text, None)
    }

    /// Reads the trust policy at `path`; relative key file paths in it
    /// are taken from the file's directory.
    pub fn load(path: &std::path::Path) -> Result<Trust, TrustError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrustError::Syntax(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(std::path::Path::new("."));
        Trust::parse(&text, Some(base))
    }

    fn parse(text: &str, base: Option<&std::path::Path>) -> Result<Trust, TrustError> {
        type Spec = toml::Spanned<String>;
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            keys: Keys,
            #[serde(default)]
            require: Require,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Keys {
            recorder: Option<Spec>,
            provider: Option<Spec>,
            user: Option<Spec>,
            regulator: Option<Spec>,
            tsa: Option<Spec>,
            #[serde(default)]
            attestors: BTreeMap<String, Spec>,
            #[serde(default)]
            witnesses: BTreeMap<String, Spec>,
        }
        let raw: Raw = toml::from_str(text)
            .map_err(|e| TrustError::Syntax(e.to_string().trim_end().to_owned()))?;
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let key = |field: String, v: &Spec| -> Result<PublicKey, TrustError> {
            key_from_spec(v.get_ref(), base).map_err(|source| TrustError::Key {
                field,
                line: line_of(v.span().start),
                source,
            })
        };
        let opt = |name: &str, v: &Option<Spec>| -> Result<Option<PublicKey>, TrustError> {
            v.as_ref()
                .map(|v| key(format!("keys.{name}"), v))
                .transpose()
        };
        let mut attestors = BTreeMap::new();
        for (id, k) in &raw.keys.attestors {
            attestors.insert(id.clone(), key(format!("keys.attestors.{id}"), k)?);
        }
        let mut witnesses = BTreeMap::new();
        for (id, k) in &raw.keys.witnesses {
            witnesses.insert(id.clone(), key(format!("keys.witnesses.{id}"), k)?);
        }
        let tsa = raw
            .keys
            .tsa
            .as_ref()
            .map(|v| {
                tsa_cert_from_spec(v.get_ref(), base).map_err(|detail| TrustError::Certificate {
                    field: "keys.tsa".into(),
                    line: line_of(v.span().start),
                    detail,
                })
            })
            .transpose()?;
        Ok(Trust {
            tsa,
            recorder: opt("recorder", &raw.keys.recorder)?,
            provider: opt("provider", &raw.keys.provider)?,
            user: opt("user", &raw.keys.user)?,
            regulator: opt("regulator", &raw.keys.regulator)?,
            attestors,
            witnesses,
            require: raw.require,
        })
    }

    /// The pins that name a role the contract does not have (an attestor
    /// or witness it does not list): a usage error, since such a pin
    /// can be neither met nor broken.
    pub fn unknown_roles(&self, contract: &cfr_contract::Contract) -> Vec<String> {
        let p = &contract.parties;
        let mut out: Vec<String> = self
            .attestors
            .keys()
            .filter(|id| !p.attestors.contains_key(*id))
            .map(|id| format!("attestor {id:?}"))
            .collect();
        out.extend(
            self.witnesses
                .keys()
                .filter(|id| !p.witnesses.contains_key(*id))
                .map(|id| format!("witness {id:?}")),
        );
        out
    }
}

/// Which program replays the verdict (check 8).
#[derive(Clone, Debug, Default)]
pub enum Replay {
    /// The analyzer inside the bundle (the default).
    #[default]
    Bundled,
    /// Another module, as a cross-check.
    Module(Vec<u8>),
    /// The rule engine built into this release.
    Native,
}

/// How to verify.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    /// Pinned keys.
    pub trust: Trust,
    /// Who replays the verdict.
    pub replay: Replay,
    /// The SHA-256 of the analyzer this release ships, to say whether the
    /// bundle's analyzer is it.
    pub shipped_analyzer: Option<[u8; 32]>,
    /// Told (events done, events total) as the log is read.
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
    /// A checkpoint signed earlier by the same recorder (for instance the
    /// one in a bundle sealed before this one): check 4 then also proves
    /// that this log extends it (same root at its size).
    pub earlier: Option<SignedCheckpoint>,
    /// Receipts the recorder gave parties (`--receipts`): check 4 holds
    /// each against this log ([`crate::receipts`]).
    pub receipts: Vec<crate::receipts::NamedReceipt>,
}

/// A receipt that the bundle contradicts: the recorder signed one thing
/// to a party and sealed another (`receipt-contradicted`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecorderFinding {
    /// The receipt, as named on the command line (its file).
    pub receipt: String,
    /// The party it was given to.
    pub party: String,
    /// The submission id.
    pub id: String,
    /// The seq whose event differs, or `None` when the checkpoint does.
    pub seq: Option<u64>,
    /// What differs.
    pub detail: String,
}

impl RecorderFinding {
    /// One line naming the receipt and what differs.
    pub fn line(&self) -> String {
        format!(
            "receipt {} (submission {:?} of the {}): {}",
            self.receipt, self.id, self.party, self.detail
        )
    }
}

/// Facts about the bundle, as read (and, where checks pass, verified).
#[derive(Clone, Debug, Default)]
pub struct BundleFacts {
    /// SHA-256 of the whole file.
    pub sha256: Option<Digest>,
    /// Size of the file.
    pub size: u64,
    /// Contract id.
    pub contract_id: Option<String>,
    /// Contract title.
    pub contract_title: Option<String>,
    /// Number of events per the manifest.
    pub events: Option<u64>,
    /// First event time.
    pub from: Option<i64>,
    /// Last event time.
    pub until: Option<i64>,
    /// Merkle root per the checkpoint.
    pub root: Option<[u8; 32]>,
    /// The tool that sealed it.
    pub tool: Option<String>,
    /// SHA-256 of the analyzer, if any.
    pub analyzer_sha256: Option<[u8; 32]>,
}

/// The result of verifying a bundle.
#[derive(Clone, Debug)]
pub struct Report {
    /// What the bundle says about itself.
    pub bundle: BundleFacts,
    /// The signers and whether their keys were pinned.
    pub signers: Vec<Signer>,
    /// The checks: what was found. Read them with [`Report::checks`].
    pub(crate) checks: Checks,
    /// The verdict, when it was replayed and matched: read it with
    /// [`Report::verdict`], which says whether verification passed.
    /// `None` for an excerpt, whose verdict over a few ranges says nothing
    /// of the whole log: see `excerpt`.
    pub(crate) verdict: Option<cfr_rules::Verdict>,
    /// Set when the file is an excerpt: its ranges and the incidents it
    /// proves.
    pub excerpt: Option<ExcerptFacts>,
    /// What the checks could not establish although nothing failed
    /// (`keys not pinned: grid`, `contract not signed by the user`, ...):
    /// a report with any is [`Established::Intact`], not verified.
    pub gaps: Vec<String>,
    /// Per submitting party: (events, events covered by a valid signature).
    pub attribution: BTreeMap<String, (u64, u64)>,
    /// Findings against the recorder: receipts it gave that this bundle
    /// contradicts (each also fails check 4 with `receipt-contradicted`).
    pub recorder: Vec<RecorderFinding>,
    /// The RFC 3161 timestamp of the manifest, when check 2 verified it
    /// against the pinned TSA certificate (never set otherwise).
    pub timestamp: Option<cfr_timestamp::Verified>,
}

/// What a verification established, in one word and what is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Established<'a> {
    /// Every check passed, every signer's key was pinned, and every
    /// requirement holds.
    Verified,
    /// Integrity and signatures hold, but these could not be established.
    Intact(&'a [String]),
    /// At least one check failed.
    Failed,
}

impl Established<'_> {
    /// `VERIFIED`, `INTACT` or `FAILED`.
    pub fn word(self) -> &'static str {
        match self {
            Established::Verified => "VERIFIED",
            Established::Intact(_) => "INTACT",
            Established::Failed => "FAILED",
        }
    }

    /// The result line: `VERIFIED`; `INTACT (integrity and signatures
    /// hold; missing: keys not pinned: grid; ...)`; `VERIFICATION FAILED`.
    pub fn line(self) -> String {
        match self {
            Established::Verified => "VERIFIED".into(),
            Established::Intact(gaps) => format!(
                "INTACT (integrity and signatures hold; missing: {})",
                gaps.join("; ")
            ),
            Established::Failed => "VERIFICATION FAILED".into(),
        }
    }
}

/// The verdict of a [`Report`], with what verification says of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReportVerdict<'a> {
    /// Every check passed or was not checked, and the replayed verdict
    /// equals the sealed one: the bundle proves this verdict (as far as
    /// the pinned keys go).
    Proven(&'a cfr_rules::Verdict),
    /// The replay reproduced this verdict, but another check failed: the
    /// bundle does not prove it.
    Unproven(&'a cfr_rules::Verdict),
    /// No verdict was replayed (none sealed, an excerpt, or the replay
    /// failed).
    Absent,
}

impl<'a> ReportVerdict<'a> {
    /// The verdict when verification passed.
    pub fn proven(self) -> Option<&'a cfr_rules::Verdict> {
        match self {
            ReportVerdict::Proven(v) => Some(v),
            _ => None,
        }
    }

    /// The replayed verdict, proven or not: for displays that say which
    /// (the text and HTML reports print the verification status first).
    pub fn replayed(self) -> Option<&'a cfr_rules::Verdict> {
        match self {
            ReportVerdict::Proven(v) | ReportVerdict::Unproven(v) => Some(v),
            ReportVerdict::Absent => None,
        }
    }
}

impl Report {
    /// A report with nothing checked yet (every check not checked).
    pub fn new(bundle: BundleFacts) -> Report {
        Report {
            bundle,
            signers: Vec::new(),
            checks: Checks::default(),
            verdict: None,
            excerpt: None,
            gaps: Vec::new(),
            attribution: BTreeMap::new(),
            recorder: Vec::new(),
            timestamp: None,
        }
    }

    /// A report from its parts, for tools that render reports they did
    /// not compute (tests, stored reports): [`Report::verdict`] still
    /// derives whether the verdict is proven from `checks`.
    pub fn from_parts(
        bundle: BundleFacts,
        signers: Vec<Signer>,
        checks: Checks,
        verdict: Option<cfr_rules::Verdict>,
        excerpt: Option<ExcerptFacts>,
    ) -> Report {
        Report {
            bundle,
            signers,
            checks,
            verdict,
            excerpt,
            gaps: Vec::new(),
            attribution: BTreeMap::new(),
            recorder: Vec::new(),
            timestamp: None,
        }
    }

    /// The checks, in order (index by [`CheckId`]).
    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// One check.
    pub fn check(&self, id: CheckId) -> &Check {
        &self.checks[id]
    }

    /// True when no check failed (integrity and signatures hold); see
    /// [`Report::established`] for whether that is all it should be.
    pub fn verified(&self) -> bool {
        self.checks.passed()
    }

    /// What this verification established: `Verified` only when no check
    /// failed and nothing is missing ([`Report::gaps`]).
    pub fn established(&self) -> Established<'_> {
        if !self.checks.passed() {
            Established::Failed
        } else if self.gaps.is_empty() && !self.unpinned() {
            Established::Verified
        } else {
            Established::Intact(&self.gaps)
        }
    }

    /// The verdict, with whether verification proves it.
    pub fn verdict(&self) -> ReportVerdict<'_> {
        match &self.verdict {
            Some(v) if self.verified() && self.checks[CheckId::Replay].status() == Status::Pass => {
                ReportVerdict::Proven(v)
            }
            Some(v) => ReportVerdict::Unproven(v),
            None => ReportVerdict::Absent,
        }
    }

    /// True when at least one signer's key was not pinned.
    pub fn unpinned(&self) -> bool {
        self.signers.iter().any(|s| s.pin == Pin::NotPinned)
    }
}

/// Why verification could not run at all (exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A pin names a role the bundle's contract does not have.
    #[error("pinned {}, which contract {contract} does not name", roles.join(", "))]
    UnknownPin {
        /// The roles (`attestor "x"`, `witness "y"`).
        roles: Vec<String>,
        /// The contract's id.
        contract: String,
    },
    /// A receipt given to `--receipts` is not one of this bundle's
    /// recorder for this contract (unreadable, another contract, another
    /// key, a proof that does not hold): it proves nothing about this log.
    #[error("receipt {name}: {reason}")]
    Receipt {
        /// The receipt's file.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The excerpt's own facts, as verified.
#[derive(Clone, Debug)]
pub struct ExcerptFacts {
    /// Events in the original log.
    pub original_events: u64,
    /// The disclosed ranges.
    pub ranges: Vec<SeqRange>,
    /// The chosen incidents (number, incident as sealed) and whether each
    /// was reproduced.
    pub incidents: Vec<(u64, Incident, bool)>,
}

impl ExcerptFacts {
    /// For people: what the excerpt discloses and which incidents it proves.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let disclosed: u64 = self.ranges.iter().map(|r| r.end - r.first).sum();
        let _ = writeln!(
            s,
            "Excerpt   {disclosed} of {} events disclosed, seq {}",
            self.original_events,
            show_ranges(&self.ranges)
        );
        let _ = writeln!(s, "\nIncidents this excerpt proves");
        let _ = writeln!(
            s,
            "  {:>4}  {:<10}  {:<18} {:<24} rule",
            "#", "party", "kind", "from"
        );
        for (n, i, ok) in &self.incidents {
            let _ = writeln!(
                s,
                "  {:>4}  {:<10}  {:<18} {:<24} {}{}\n        {}",
                format!("#{n}"),
                i.party.name(),
                i.kind,
                format_rfc3339(i.from),
                i.rule,
                if *ok { "" } else { "   NOT PROVEN" },
                i.explanation
            );
        }
        s
    }

    /// For machines: `{ "original_events", "ranges", "incidents" }`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "original_events": self.original_events,
            "ranges": self.ranges.iter().map(|r| serde_json::json!({"first": r.first, "last": r.end - 1})).collect::<Vec<_>>(),
            "incidents": self.incidents.iter().map(|(n, i, ok)| serde_json::json!({
                "number": n,
                "proven": ok,
                "rule": i.rule,
                "kind": i.kind,
                "party": i.party.name(),
                "from": format_rfc3339(i.from),
                "until": format_rfc3339(i.until),
                "evidence": i.evidence,
                "explanation": i.explanation,
            })).collect::<Vec<_>>(),
        })
    }
}
