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

/// Keys the verifier trusts (pins), from `--trust trust.toml` or flags.
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
}

/// A bad trust file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not TOML, or an unknown field.
    #[error("trust file: {0}")]
    Syntax(String),
    /// A key that does not parse.
    #[error("trust file, {field}: {source}")]
    Key {
        /// The field.
        field: String,
        /// The key error.
        source: KeyError,
    },
}

impl Trust {
    /// Parses a trust file:
    ///
    /// ```toml
    /// recorder = "ed25519:..."
    /// provider = "ed25519:..."
    /// user = "ed25519:..."
    /// regulator = "ed25519:..."
    /// [attestors]
    /// grid = "ed25519:..."
    /// ```
    pub fn from_toml(text: &str) -> Result<Trust, TrustError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            recorder: Option<String>,
            provider: Option<String>,
            user: Option<String>,
            regulator: Option<String>,
            #[serde(default)]
            attestors: BTreeMap<String, String>,
        }
        let raw: Raw = toml::from_str(text).map_err(|e| TrustError::Syntax(e.to_string()))?;
        let key = |field: &str, v: Option<String>| -> Result<Option<PublicKey>, TrustError> {
            v.map(|s| {
                PublicKey::parse(&s).map_err(|source| TrustError::Key {
                    field: field.to_owned(),
                    source,
                })
            })
            .transpose()
        };
        let mut attestors = BTreeMap::new();
        for (id, k) in raw.attestors {
            let field = format!("attestors.{id}");
            attestors.insert(id, key(&field, Some(k))?.expect("Some in, Some out"));
        }
        Ok(Trust {
            recorder: key("recorder", raw.recorder)?,
            provider: key("provider", raw.provider)?,
            user: key("user", raw.user)?,
            regulator: key("regulator", raw.regulator)?,
            attestors,
        })
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

    /// True when no check failed.
    pub fn verified(&self) -> bool {
        self.checks.passed()
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
