//! The checks of verification, as values.
//!
//! Verification runs a fixed pipeline of checks ([`CheckId`]), the same
//! for a whole bundle and for an excerpt. Each check collects what it
//! found: notes, and [`Failure`]s, each with a stable [`Code`]. Its
//! [`Outcome`] is derived from what was recorded, never stored: a check
//! with a failure is [`Outcome::Fail`], whatever else was recorded before
//! or after (a pass note, a reason for not checking). A check with no
//! failure that established something is [`Outcome::Pass`]; one that
//! could not or need not run is [`Outcome::NotChecked`], with the reason.
//!
//! | # | name | what it establishes |
//! |---|---|---|
//! | 1 | `archive` | the strict ustar profile; every member's size and SHA-256 against the manifest; the contract (TOML and CBOR agree, and the manifest's contract id and digest name it) |
//! | 2 | `manifest-signature` | the manifest is signed by the recorder (co-signatures by the provider and the user where present); **every pinned key equals the key the bundle names for that role**; the RFC 3161 timestamp (`manifest.tsr`) over the manifest, verified against the pinned TSA certificate |
//! | 3 | `events` | chunks decompress within bounds; events canonical, gap-free, ordered, valid per the contract |
//! | 4 | `merkle` | the Merkle root over the events equals the signed checkpoint's (for an excerpt: the range proofs); the checkpoint's witness cosignatures verify, and enough pinned witnesses cosigned |
//! | 5 | `event-signatures` | event signatures where present or required; every signed submission recomputed from its events and verified; attribution per party |
//! | 6 | `contract-signatures` | the contract's signatures by the provider and the user |
//! | 7 | `analyzer` | the analyzer's digest; a regulator's certificate |
//! | 8 | `replay` | the replayed verdict equals the sealed one byte for byte |

use std::fmt;

/// One check of the verification pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CheckId {
    /// 1. Archive profile; members' sizes and digests; the contract.
    Archive,
    /// 2. Manifest signature and co-signatures; pinned keys.
    ManifestSignature,
    /// 3. Events: bounded, canonical, gap-free, ordered, valid.
    Events,
    /// 4. Merkle root against the signed checkpoint; witness cosignatures.
    Merkle,
    /// 5. Event signatures.
    EventSignatures,
    /// 6. Contract signatures.
    ContractSignatures,
    /// 7. Analyzer digest and certificate.
    Analyzer,
    /// 8. Replay of the verdict.
    Replay,
}

impl CheckId {
    /// Every check, in the order they are run and reported.
    pub const ALL: [CheckId; 8] = [
        CheckId::Archive,
        CheckId::ManifestSignature,
        CheckId::Events,
        CheckId::Merkle,
        CheckId::EventSignatures,
        CheckId::ContractSignatures,
        CheckId::Analyzer,
        CheckId::Replay,
    ];

    /// 1-based position in the report.
    pub fn number(self) -> u8 {
        self.index() as u8 + 1
    }

    fn index(self) -> usize {
        match self {
            CheckId::Archive => 0,
            CheckId::ManifestSignature => 1,
            CheckId::Events => 2,
            CheckId::Merkle => 3,
            CheckId::EventSignatures => 4,
            CheckId::ContractSignatures => 5,
            CheckId::Analyzer => 6,
            CheckId::Replay => 7,
        }
    }

    /// Short stable name (`archive`, `manifest-signature`, ...).
    pub fn name(self) -> &'static str {
        match self {
            CheckId::Archive => "archive",
            CheckId::ManifestSignature => "manifest-signature",
            CheckId::Events => "events",
            CheckId::Merkle => "merkle",
            CheckId::EventSignatures => "event-signatures",
            CheckId::ContractSignatures => "contract-signatures",
            CheckId::Analyzer => "analyzer",
            CheckId::Replay => "replay",
        }
    }

    /// What the check establishes, for people.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::Archive => "archive profile; members' sizes and SHA-256 against the manifest",
            CheckId::ManifestSignature => "manifest signature by the recorder; co-signatures; pinned keys; timestamp",
            CheckId::Events => "chunks decompress within bounds; events canonical, gap-free, ordered, valid per the contract",
            CheckId::Merkle => "Merkle root equals the signed checkpoint's; witness cosignatures",
            CheckId::EventSignatures => "event and submission signatures; events attributed to their emitters",
            CheckId::ContractSignatures => "contract signatures by the provider and the user",
            CheckId::Analyzer => "analyzer digest; regulator certificate",
            CheckId::Replay => "analyzer replay reproduces the sealed verdict byte for byte",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.number(), self.name())
    }
}

macro_rules! codes {
    ($($variant:ident = $s:literal,)*) => {
        /// The stable code of a failure, e.g. `member-digest-mismatch`.
        ///
        /// The string forms ([`Code::as_str`]) are part of the output
        /// format (`verify --json`, the reports) and do not change.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $(
                #[doc = concat!("`", $s, "`")]
                $variant,
            )*
            /// A code from a lower layer (the archive reader, the sandbox)
            /// that this list does not name; its string is kept as is.
            Other(&'static str),
        }

        impl Code {
            /// Every named code.
            pub const NAMED: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable string form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $s,)*
                    Code::Other(s) => s,
                }
            }

            /// The named code with this string form.
            pub fn parse(s: &str) -> Option<Code> {
                match s {
                    $($s => Some(Code::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    // Verification's own.
    AnalyzerCertificateInvalid = "analyzer-certificate-invalid",
    AnalyzerCertificateMissing = "analyzer-certificate-missing",
    AnalyzerDigestMismatch = "analyzer-digest-mismatch",
    AnalyzerNotCertified = "analyzer-not-certified",
    CheckpointInvalid = "checkpoint-invalid",
    CheckpointMismatch = "checkpoint-mismatch",
    CheckpointOriginMismatch = "checkpoint-origin-mismatch",
    CheckpointRootMismatch = "checkpoint-root-mismatch",
    CheckpointRootUnproven = "checkpoint-root-unproven",
    CheckpointSignatureInvalid = "checkpoint-signature-invalid",
    CheckpointSizeMismatch = "checkpoint-size-mismatch",
    ContractDigestMismatch = "contract-digest-mismatch",
    ContractInvalid = "contract-invalid",
    ContractMismatch = "contract-mismatch",
    ContractNotAgreed = "contract-not-agreed",
    ContractSignatureInvalid = "contract-signature-invalid",
    CosignatureInvalid = "cosignature-invalid",
    EarlierCheckpointInconsistent = "earlier-checkpoint-inconsistent",
    EarlierCheckpointInvalid = "earlier-checkpoint-invalid",
    EarlierCheckpointUnproven = "earlier-checkpoint-unproven",
    EventCountMismatch = "event-count-mismatch",
    EventInvalid = "event-invalid",
    EventNoncanonical = "event-noncanonical",
    EventSeqBeyondLog = "event-seq-beyond-log",
    EventSeqDuplicate = "event-seq-duplicate",
    EventSeqGap = "event-seq-gap",
    EventSeqOrder = "event-seq-order",
    EventSignatureInvalid = "event-signature-invalid",
    EventSignatureMissing = "event-signature-missing",
    EventTimeBackwards = "event-time-backwards",
    EventsNotAttributed = "events-not-attributed",
    IncidentMissing = "incident-missing",
    IncidentNotCovered = "incident-not-covered",
    IncidentNotProvable = "incident-not-provable",
    IncidentNotReproduced = "incident-not-reproduced",
    Io = "io",
    KeyPinMismatch = "key-pin-mismatch",
    ManifestInvalid = "manifest-invalid",
    ManifestRootMismatch = "manifest-root-mismatch",
    ManifestSignatureInvalid = "manifest-signature-invalid",
    ManifestSpanMismatch = "manifest-span-mismatch",
    MemberDigestMismatch = "member-digest-mismatch",
    MemberMissing = "member-missing",
    MemberOrder = "member-order",
    MemberSizeMismatch = "member-size-mismatch",
    MemberUnexpected = "member-unexpected",
    ReceiptContradicted = "receipt-contradicted",
    OriginalManifestInvalid = "original-manifest-invalid",
    OriginalManifestMismatch = "original-manifest-mismatch",
    OriginalMemberMismatch = "original-member-mismatch",
    RangeMismatch = "range-mismatch",
    RangeProofCheckpointMismatch = "range-proof-checkpoint-mismatch",
    RangeProofInvalid = "range-proof-invalid",
    ReplayFailed = "replay-failed",
    SubmissionActorMismatch = "submission-actor-mismatch",
    SubmissionInvalid = "submission-invalid",
    SubmissionSignatureInvalid = "submission-signature-invalid",
    TimestampImprintMismatch = "timestamp-imprint-mismatch",
    TimestampInvalid = "timestamp-invalid",
    TimestampMissing = "timestamp-missing",
    TimestampUntrusted = "timestamp-untrusted",
    ReplayIncomplete = "replay-incomplete",
    VerdictInvalid = "verdict-invalid",
    VerdictMismatch = "verdict-mismatch",
    WitnessCosignatureInvalid = "witness-cosignature-invalid",
    WitnessQuorumNotMet = "witness-quorum-not-met",
    // The bundle reader's.
    ChunkSizeMismatch = "chunk-size-mismatch",
    ChunkCorrupt = "chunk-corrupt",
    ChunkEventsMismatch = "chunk-events-mismatch",
    // The strict ustar reader's.
    ArchiveIo = "archive-io",
    ArchiveTruncated = "archive-truncated",
    ArchiveBadChecksum = "archive-bad-checksum",
    ArchiveNotUstar = "archive-not-ustar",
    ArchiveUnsupportedType = "archive-unsupported-type",
    ArchiveBadName = "archive-bad-name",
    ArchiveDuplicateMember = "archive-duplicate-member",
    ArchivePathConflict = "archive-path-conflict",
    ArchiveBadField = "archive-bad-field",
    ArchiveMemberTooLarge = "archive-member-too-large",
    ArchiveTooManyMembers = "archive-too-many-members",
    ArchiveNonzeroPadding = "archive-nonzero-padding",
    ArchiveBadEnd = "archive-bad-end",
    ArchiveTrailingBytes = "archive-trailing-bytes",
    ArchiveForeignMember = "archive-foreign-member",
    // The sandbox's.
    AnalyzerUnavailable = "analyzer-unavailable",
    AnalyzerEngineUnavailable = "analyzer-engine-unavailable",
    AnalyzerInvalidModule = "analyzer-invalid-module",
    AnalyzerHasImports = "analyzer-has-imports",
    AnalyzerMissingExport = "analyzer-missing-export",
    AnalyzerWrongExportType = "analyzer-wrong-export-type",
    AnalyzerAbiVersion = "analyzer-abi-version",
    AnalyzerOutOfFuel = "analyzer-out-of-fuel",
    AnalyzerOutOfMemory = "analyzer-out-of-memory",
    AnalyzerTrap = "analyzer-trap",
    AnalyzerAllocFailed = "analyzer-alloc-failed",
    AnalyzerInputOutOfBounds = "analyzer-input-out-of-bounds",
    AnalyzerInputTooLarge = "analyzer-input-too-large",
    AnalyzerOutputOutOfBounds = "analyzer-output-out-of-bounds",
    AnalyzerOutputTooLarge = "analyzer-output-too-large",
    AnalyzerBadStatus = "analyzer-bad-status",
    AnalyzerError = "analyzer-error",
    AnalyzerRunAborted = "analyzer-run-aborted",
}

impl Code {
    /// The code for a string from a lower layer's `code()`: the named one
    /// when there is one, else [`Code::Other`].
    pub fn of(s: &'static str) -> Code {
        Code::parse(s).unwrap_or(Code::Other(s))
    }
}

impl From<&'static str> for Code {
    fn from(s: &'static str) -> Code {
        Code::of(s)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One failure inside a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Stable code.
    pub code: Code,
    /// What is wrong and where.
    pub detail: String,
}

impl Failure {
    /// A failure with this code and detail.
    pub fn new(code: impl Into<Code>, detail: impl Into<String>) -> Failure {
        Failure {
            code: code.into(),
            detail: detail.into(),
        }
    }
}

/// What one step of a check found, as recorded into a [`Check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Checked and holds (with what was established).
    Pass(String),
    /// Checked and does not hold.
    Fail(Vec<Failure>),
    /// Could not be or was not checked (with why).
    NotChecked(String),
}

/// The status of a check, derived from everything recorded into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Something was established and nothing failed.
    Pass,
    /// At least one failure was recorded.
    Fail,
    /// Nothing was established and nothing failed (the notes say why).
    NotChecked,
}

impl Status {
    /// `pass`, `fail` or `not checked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotChecked => "not checked",
        }
    }
}

/// Failures kept per check (the count goes on).
pub const MAX_FAILURES: usize = 20;

/// One check's findings.
#[derive(Clone, Debug)]
pub struct Check {
    id: CheckId,
    title: &'static str,
    passed: bool,
    notes: Vec<String>,
    failures: Vec<Failure>,
    failure_count: u64,
}

impl Check {
    /// A check with nothing recorded yet (not checked).
    pub fn new(id: CheckId) -> Check {
        Check {
            id,
            title: id.title(),
            passed: false,
            notes: Vec::new(),
            failures: Vec::new(),
            failure_count: 0,
        }
    }

    /// Which check this is.
    pub fn id(&self) -> CheckId {
        self.id
    }

    /// 1-based position in the report.
    pub fn number(&self) -> u8 {
        self.id.number()
    }

    /// Short stable name.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }

    /// What the check establishes (for an excerpt, as it applies to one).
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// Says what the check establishes where it differs from
    /// [`CheckId::title`] (an excerpt's checks).
    pub(crate) fn retitle(&mut self, title: &'static str) {
        self.title = title;
    }

    /// Fail when any failure was recorded; else pass when anything was
    /// established; else not checked.
    pub fn status(&self) -> Status {
        if self.failure_count > 0 {
            Status::Fail
        } else if self.passed {
            Status::Pass
        } else {
            Status::NotChecked
        }
    }

    /// The failures, in the order found (at most [`MAX_FAILURES`] kept).
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// Number of failures found (may exceed `failures().len()`).
    pub fn failure_count(&self) -> u64 {
        self.failure_count
    }

    /// Notes: what passed, or why it was not checked.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Records what one step found. A failure stays a failure: nothing
    /// recorded later changes [`Check::status`] back.
    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass(note) => {
                self.passed = true;
                self.notes.push(note);
            }
            Outcome::Fail(failures) => {
                for f in failures {
                    self.failure_count += 1;
                    if self.failures.len() < MAX_FAILURES {
                        self.failures.push(f);
                    }
                }
            }
            Outcome::NotChecked(why) => {
                if self.status() == Status::NotChecked {
                    self.notes.push(why);
                }
            }
        }
    }

    /// Records one failure.
    pub fn fail(&mut self, code: impl Into<Code>, detail: impl Into<String>) {
        self.record(Outcome::Fail(vec![Failure::new(code, detail)]));
    }

    /// Records something established.
    pub fn pass(&mut self, note: impl Into<String>) {
        self.record(Outcome::Pass(note.into()));
    }

    /// Records why this (part of the) check did not run.
    pub fn skip(&mut self, why: impl Into<String>) {
        self.record(Outcome::NotChecked(why.into()));
    }

    /// Adds a note that changes no status.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

/// The checks of one verification, one per [`CheckId`], in order.
#[derive(Clone, Debug)]
pub struct Checks(Vec<Check>);

impl Default for Checks {
    fn default() -> Checks {
        Checks(CheckId::ALL.iter().map(|&id| Check::new(id)).collect())
    }
}

impl Checks {
    /// Every check, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Check> {
        self.0.iter()
    }

    /// One check.
    pub fn get(&self, id: CheckId) -> &Check {
        &self.0[id.index()]
    }

    /// One check, to record into.
    pub fn get_mut(&mut self, id: CheckId) -> &mut Check {
        &mut self.0[id.index()]
    }

    /// Records what a step of check `id` found.
    pub fn record(&mut self, id: CheckId, outcome: Outcome) {
        self.get_mut(id).record(outcome);
    }

    /// Records `why` as the reason every check after `id` did not run.
    pub fn skip_after(&mut self, id: CheckId, why: &str) {
        for c in self.0.iter_mut().filter(|c| c.id > id) {
            c.skip(why);
        }
    }

    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.0.iter().all(|c| c.status() != Status::Fail)
    }
}

impl std::ops::Index<CheckId> for Checks {
    type Output = Check;
    fn index(&self, id: CheckId) -> &Check {
        self.get(id)
    }
}

impl std::ops::IndexMut<CheckId> for Checks {
    fn index_mut(&mut self, id: CheckId) -> &mut Check {
        self.get_mut(id)
    }
}

impl<'a> IntoIterator for &'a Checks {
    type Item = &'a Check;
    type IntoIter = std::slice::Iter<'a, Check>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_in_order_and_named_once() {
        for (i, id) in CheckId::ALL.iter().enumerate() {
            assert_eq!(id.number() as usize, i + 1);
        }
        let mut names: Vec<_> = CheckId::ALL.iter().map(|c| c.name()).collect();
        names.dedup();
        assert_eq!(names.len(), 8);
    }

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::NAMED {
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(c
                .as_str()
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'));
        }
        assert_eq!(Code::of("key-pin-mismatch"), Code::KeyPinMismatch);
        assert_eq!(Code::of("something-new"), Code::Other("something-new"));
        assert_eq!(Code::of("something-new"), "something-new");
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            "[a-z ]{0,8}".prop_map(Outcome::Pass),
            proptest::collection::vec(
                (proptest::sample::select(Code::NAMED), "[a-z ]{0,8}")
                    .prop_map(|(c, d)| Failure::new(c, d)),
                0..3
            )
            .prop_map(Outcome::Fail),
            "[a-z ]{0,8}".prop_map(Outcome::NotChecked),
        ]
    }

    fn check_id() -> impl Strategy<Value = CheckId> {
        proptest::sample::select(CheckId::ALL.to_vec())
    }

    proptest! {
        /// Whatever is recorded, in whatever order: a check that recorded a
        /// failure reports fail, with its failures, and the whole does not
        /// pass; a check without one never reports fail.
        #[test]
        fn a_failure_is_never_reported_as_anything_else(
            steps in proptest::collection::vec((check_id(), outcome()), 0..60)
        ) {
            let mut checks = Checks::default();
            for (id, o) in &steps {
                checks.record(*id, o.clone());
            }
            for id in CheckId::ALL {
                let recorded: Vec<&Outcome> =
                    steps.iter().filter(|(i, _)| *i == id).map(|(_, o)| o).collect();
                let failures: Vec<&Failure> = recorded
                    .iter()
                    .flat_map(|o| match o {
                        Outcome::Fail(f) => f.iter().collect(),
                        _ => Vec::new(),
                    })
                    .collect();
                let passed = recorded.iter().any(|o| matches!(o, Outcome::Pass(_)));
                let c = &checks[id];
                let want = if !failures.is_empty() {
                    Status::Fail
                } else if passed {
                    Status::Pass
                } else {
                    Status::NotChecked
                };
                prop_assert_eq!(c.status(), want);
                prop_assert_eq!(c.failure_count(), failures.len() as u64);
                let kept: Vec<&Failure> = c.failures().iter().collect();
                prop_assert_eq!(&kept[..], &failures[..kept.len()]);
            }
            let any_failure = steps
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Fail(f) if !f.is_empty()));
            prop_assert_eq!(checks.passed(), !any_failure);
            let report = crate::report::Report::from_parts(
                Default::default(),
                Vec::new(),
                checks,
                None,
                None,
            );
            prop_assert_eq!(report.verified(), !any_failure);
        }
    }
}
