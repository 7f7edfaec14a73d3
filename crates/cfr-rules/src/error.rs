//! Typed errors: one enum per operation.

use cfr_model::cbor::CborError;
use std::fmt;

/// Why [`Engine::push`](crate::Engine::push) refused an event.
///
/// The engine judges events in log order: seqs strictly increasing and times
/// that never go backwards. It does not require the seqs to start at 0 or
/// to be gap-free: a whole log is (verification checks that on its own, so a
/// verdict never rests on the engine for it), while an excerpt's log holds
/// only some ranges of the original seqs. A refused event leaves the engine
/// unchanged, so a caller may report the error and stop.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// An event's seq is not above the previous event's.
    SeqNotIncreasing {
        /// The previous event's seq.
        previous: u64,
        /// The seq found.
        found: u64,
    },
    /// An event's time is before the previous event's time.
    TimeBackwards {
        /// The seq of the offending event.
        seq: u64,
        /// Its time, ns since the epoch.
        time: i64,
        /// The previous event's time.
        previous: i64,
    },
    /// The log spans more service-level periods than a verdict may judge
    /// ([`cfr_contract::MAX_SLA_PERIODS`]).
    TooManyPeriods {
        /// The event that reaches beyond.
        seq: u64,
        /// Periods from the first event to it.
        periods: i64,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::SeqNotIncreasing { previous, found } => {
                write!(f, "seq out of order: seq {found} follows seq {previous}")
            }
            EngineError::TimeBackwards {
                seq,
                time,
                previous,
            } => write!(
                f,
                "time goes backwards at seq {seq}: {} is before the previous event's {}",
                cfr_model::time::format_rfc3339(*time),
                cfr_model::time::format_rfc3339(*previous)
            ),
            EngineError::TooManyPeriods { seq, periods } => write!(
                f,
                "seq {seq} lies {periods} service-level periods after the first event; a verdict judges at most {}",
                cfr_contract::MAX_SLA_PERIODS
            ),
        }
    }
}

impl std::error::Error for EngineError {}

/// Why [`Engine::feed`](crate::Engine::feed) stopped in a chunk of encoded
/// events. The events before the one named were judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedError {
    /// An event does not decode: it is not canonical CBOR of the event
    /// schema.
    Event {
        /// Byte offset of the event in the chunk.
        offset: usize,
        /// What the decoder reported.
        error: CborError,
    },
    /// The engine refused an event that decoded.
    Engine(EngineError),
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::Event { offset, error } => write!(f, "byte {offset}: bad event: {error}"),
            FeedError::Engine(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FeedError::Event { error, .. } => Some(error),
            FeedError::Engine(e) => Some(e),
        }
    }
}

/// Why [`Verdict::from_cbor`](crate::Verdict::from_cbor) rejected its input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerdictError {
    /// The bytes are not one canonical CBOR item.
    Cbor(CborError),
    /// The `format` field is not `cfr-verdict/1`.
    Format {
        /// The format found.
        found: String,
    },
    /// A required field is missing.
    MissingField {
        /// Path of the field, such as `incidents[3].party`.
        field: String,
    },
    /// A field the format does not define.
    UnknownField {
        /// Path of the field.
        field: String,
    },
    /// A field has the wrong type or a value outside its domain.
    InvalidField {
        /// Path of the field.
        field: String,
        /// What was expected there.
        expected: &'static str,
    },
}

impl fmt::Display for VerdictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerdictError::Cbor(e) => write!(f, "verdict is not canonical CBOR: {e}"),
            VerdictError::Format { found } => {
                write!(f, "verdict format is {found:?}, expected \"cfr-verdict/1\"")
            }
            VerdictError::MissingField { field } => write!(f, "verdict field {field} is missing"),
            VerdictError::UnknownField { field } => {
                write!(f, "verdict field {field} is not part of cfr-verdict/1")
            }
            VerdictError::InvalidField { field, expected } => {
                write!(f, "verdict field {field}: expected {expected}")
            }
        }
    }
}

impl std::error::Error for VerdictError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerdictError::Cbor(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CborError> for VerdictError {
    fn from(e: CborError) -> Self {
        VerdictError::Cbor(e)
    }
}
