//! Typed errors: reading a contract ([`ContractError`]), checking an event
//! against it ([`EventError`]), and predicates ([`PredicateError`]).

use crate::model::Emitter;
use cfr_model::cbor::CborError;
use cfr_model::ValueType;
use std::fmt;

/// A place in the contract's TOML text (1-based; the column counts
/// characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text).
    pub fn of(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a contract (TOML or compiled CBOR) was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The text is not valid TOML.
    #[error("{position}: not valid TOML: {message}")]
    Syntax {
        /// Where the TOML parser stopped.
        position: Position,
        /// The TOML parser's explanation.
        message: String,
    },
    /// The input is larger than any contract needs to be.
    #[error("contract is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// The input size.
        size: usize,
        /// [`crate::MAX_CONTRACT_BYTES`].
        limit: usize,
    },
    /// The compiled form is not canonical CBOR, or not CBOR at all.
    #[error("compiled contract: {0}")]
    Cbor(#[from] CborError),
    /// The compiled form decodes and passes every check, but is not byte
    /// for byte what [`crate::Contract::to_cbor`] writes for it.
    #[error("compiled contract: not in canonical form (re-encoding differs from byte {offset})")]
    NotCanonical {
        /// The first differing byte.
        offset: usize,
    },
    /// A field is missing, unknown, mistyped, or fails a static check.
    #[error("{}{path}: {problem}", position.map(|p| format!("{p}, ")).unwrap_or_default())]
    Invalid {
        /// Where in the TOML text (None for the compiled CBOR form).
        position: Option<Position>,
        /// The field, e.g. `rules[2] ("answer-in-time").within`.
        path: String,
        /// What is wrong with it.
        problem: Problem,
    },
}

impl ContractError {
    /// The problem, for [`ContractError::Invalid`].
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ContractError::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// What is wrong with one field of a contract.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A field that this table does not have (a typo must not silently
    /// drop a rule).
    #[error("unknown field (expected one of: {})", .expected.join(", "))]
    UnknownField {
        /// The fields this table accepts.
        expected: Vec<&'static str>,
    },
    /// A required field is absent.
    #[error("required field is missing")]
    MissingField,
    /// The value has the wrong TOML/CBOR type.
    #[error("must be {expected}, found {found}")]
    WrongType {
        /// What was expected (`text`, `a table`, ...).
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// `format` is not `cfr-contract/1`.
    #[error("must be \"cfr-contract/1\", found {found:?}")]
    BadFormat {
        /// The format found.
        found: String,
    },
    /// Not a duration.
    #[error("{text:?} is not a duration (such as \"250ms\", \"2s\", \"5m\", \"48h\" or \"7d\")")]
    BadDuration {
        /// The rejected text.
        text: String,
    },
    /// Not an RFC 3339 time.
    #[error("{text:?} is not an RFC 3339 time (such as \"2026-03-01T00:00:00Z\")")]
    BadTime {
        /// The rejected text.
        text: String,
    },
    /// Not an amount of money.
    #[error("{text:?} is not an amount of money: digits, at most two decimals, a space and an ISO 4217 code (such as \"1200.00 EUR\")")]
    BadMoney {
        /// The rejected text.
        text: String,
    },
    /// Not a percentage.
    #[error("{text:?} is not a percentage between \"0%\" and \"100%\" (such as \"99.9%\")")]
    BadPercent {
        /// The rejected text.
        text: String,
    },
    /// Not a public key.
    #[error("{reason}")]
    BadKey {
        /// Why.
        reason: String,
    },
    /// A number out of its range.
    #[error("must be {expected}, found {found}")]
    OutOfRange {
        /// The allowed range, in words (`at least 1`, `greater than 0s`).
        expected: &'static str,
        /// The value found.
        found: String,
    },
    /// A name (event kind, attribute, id) with characters outside the
    /// identifier syntax, or a reserved one.
    #[error("{name:?} is not a valid {what} ({rule})")]
    BadName {
        /// The name.
        name: String,
        /// What it names.
        what: &'static str,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A value outside a closed set (rule type, party, `by`, attribute type ...).
    #[error("{found:?} is not a valid {what} (expected one of: {})", .expected.join(", "))]
    BadChoice {
        /// What it chooses.
        what: &'static str,
        /// The value found.
        found: String,
        /// The allowed values.
        expected: &'static [&'static str],
    },
    /// An event kind not declared in `[events]`.
    #[error("event kind {kind:?} is not declared in [events]")]
    UnknownEvent {
        /// The kind.
        kind: String,
    },
    /// An attribute not declared for the event kind.
    #[error("attribute {attr:?} is not declared for event kind {kind:?}")]
    UnknownAttr {
        /// The event kind.
        kind: String,
        /// The attribute.
        attr: String,
    },
    /// An attribute of the wrong type for its use.
    #[error("attribute {attr:?} of {kind:?} must be {expected}, but is declared {found}")]
    AttrType {
        /// The event kind.
        kind: String,
        /// The attribute.
        attr: String,
        /// The required type.
        expected: ValueType,
        /// The declared type.
        found: ValueType,
    },
    /// Two attributes that must have the same type do not.
    #[error("{left} is {left_type} but {right} is {right_type}; they must have the same type")]
    TypeMismatch {
        /// The first attribute, as `kind.attr`.
        left: String,
        /// Its type.
        left_type: ValueType,
        /// The second attribute, as `kind.attr`.
        right: String,
        /// Its type.
        right_type: ValueType,
    },
    /// A predicate that does not parse or does not type-check.
    #[error("{0}")]
    Predicate(Box<PredicateError>),
    /// A rule names an excuse that is not declared.
    #[error("excuse {excuse:?} is not declared in [excuses]")]
    UnknownExcuse {
        /// The excuse id.
        excuse: String,
    },
    /// An excuse names a rule that does not exist.
    #[error("rule {rule:?} does not exist")]
    UnknownRule {
        /// The rule id.
        rule: String,
    },
    /// Two things share an id (or a list names one twice).
    #[error("{what} {id:?} appears twice")]
    Duplicate {
        /// What (`rule id`, `excuse`, `attribute`, `credit tier below`).
        what: &'static str,
        /// The repeated value.
        id: String,
    },
    /// Rules excuse each other through `rule = ...` excuses.
    #[error("excuses form a cycle: {}", format_cycle(.cycle))]
    ExcuseCycle {
        /// `(rule, excuse)` steps: each rule lists the excuse, whose
        /// `rule` is the next step's rule; the last points back to the first.
        cycle: Vec<(String, String)>,
    },
    /// `attribute = "external"` on an excuse whose event kind is not
    /// emitted by an attestor (or that has no event kind).
    #[error("attribute = \"external\" needs an event kind emitted by an attestor, {}", match .kind { Some(k) => format!("but {k:?} has by = {}", .by.map(|b| b.as_str()).unwrap_or("?")), None => "but this excuse is rule-based".to_owned() })]
    ExternalNotAttested {
        /// The excuse's event kind, if it has one.
        kind: Option<String>,
        /// Who emits it.
        by: Option<Emitter>,
    },
    /// Two fields that exclude each other, or one that needs another.
    #[error("{message}")]
    Conflict {
        /// Which fields, in words.
        message: &'static str,
    },
    /// `by = "attestor"` but the contract declares no attestors.
    #[error("by = \"attestor\" but [parties.attestors] declares none")]
    NoAttestors,
}

fn format_cycle(cycle: &[(String, String)]) -> String {
    let mut s = String::new();
    for (rule, excuse) in cycle {
        s.push_str(&format!("rule {rule:?} (excuse {excuse:?}) -> "));
    }
    match cycle.first() {
        Some((first, _)) => s.push_str(&format!("rule {first:?}")),
        None => s.push_str("(empty)"),
    }
    s
}

/// Why an event does not fit the contract's event specification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The kind is not declared in `[events]`.
    #[error("unknown event kind {kind:?}")]
    UnknownKind {
        /// The kind.
        kind: String,
    },
    /// The actor may not emit this kind.
    #[error("actor {actor:?} may not emit {kind:?} (by = {by})")]
    ActorNotAllowed {
        /// The actor.
        actor: String,
        /// The kind.
        kind: String,
        /// Who may.
        by: Emitter,
    },
    /// An attribute that the kind does not declare.
    #[error("attribute {attr:?} is not declared for {kind:?}")]
    UnknownAttr {
        /// The kind.
        kind: String,
        /// The attribute.
        attr: String,
    },
    /// An attribute whose value does not fit its declared type.
    #[error("attribute {attr:?} must be {expected}, found {found}")]
    AttrType {
        /// The kind.
        kind: String,
        /// The attribute.
        attr: String,
        /// The declared type.
        expected: ValueType,
        /// The type of the value found (`int`, `text`, `bool`, `bytes`).
        found: &'static str,
    },
    /// A required attribute is absent.
    #[error("missing attribute {attr:?}")]
    MissingAttr {
        /// The kind.
        kind: String,
        /// The attribute.
        attr: String,
    },
    /// The kind is `signed = true` but the event carries no signature.
    #[error("{kind:?} must be signed")]
    Unsigned {
        /// The kind.
        kind: String,
    },
}

/// Why a predicate was rejected: a syntax error, a limit, or a type error
/// against the event kind it applies to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("predicate {text:?}, at character {}: {kind}", .offset + 1)]
pub struct PredicateError {
    /// The predicate text (shortened to 200 characters).
    pub text: String,
    /// Character offset of the problem, from 0.
    pub offset: usize,
    /// What is wrong.
    pub kind: PredicateErrorKind,
}

/// What is wrong with a predicate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PredicateErrorKind {
    /// A character that starts no token.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A token where another was expected.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar wanted.
        expected: &'static str,
        /// What was there (`end of input`, `"and"`, ...).
        found: String,
    },
    /// A text or bytes literal without its closing quote.
    #[error("unterminated literal")]
    Unterminated,
    /// A backslash not followed by `\` or `'`.
    #[error("bad escape (only \\\\ and \\' are allowed in text)")]
    BadEscape,
    /// A bytes literal that is not an even number of hex digits.
    #[error("bytes literal must be an even number of hex digits")]
    BadBytes,
    /// An integer outside i64.
    #[error("integer out of range")]
    IntOutOfRange,
    /// `not x == 1`: `not` binds tighter than comparisons.
    #[error("`not` applies to a single attribute here; write `not (...)` around a comparison")]
    NotBeforeComparison,
    /// Longer than [`crate::predicate::MAX_SOURCE_LEN`] bytes.
    #[error("predicate longer than {0} bytes")]
    TooLong(usize),
    /// Nested deeper than [`crate::predicate::MAX_DEPTH`].
    #[error("predicate nested deeper than {0} levels")]
    TooDeep(usize),
    /// More than [`crate::predicate::MAX_NODES`] operators and literals.
    #[error("predicate has more than {0} operators and literals")]
    TooBig(usize),
    /// An attribute the event kind does not declare.
    #[error("attribute {attr:?} is not declared for event kind {kind:?}")]
    UnknownAttr {
        /// The event kind.
        kind: String,
        /// The attribute.
        attr: String,
    },
    /// A literal of the wrong type for the attribute.
    #[error("attribute {attr:?} is {ty}, compared with {literal}")]
    LiteralType {
        /// The attribute.
        attr: String,
        /// Its declared type.
        ty: ValueType,
        /// The literal's type (`int`, `text`, ...).
        literal: &'static str,
    },
    /// A text literal for a time or duration attribute that does not parse.
    #[error("{text:?} is not a {ty} literal")]
    BadTimeLiteral {
        /// The text.
        text: String,
        /// `time` or `duration`.
        ty: ValueType,
    },
    /// `<`, `<=`, `>`, `>=` on a type without order.
    #[error("attribute {attr:?} is {ty}; only int, time and duration can be ordered")]
    NotOrdered {
        /// The attribute.
        attr: String,
        /// Its type.
        ty: ValueType,
    },
    /// A bare attribute used as a test that is not `bool`.
    #[error("attribute {attr:?} is {ty}; only a bool attribute can stand alone as a test")]
    NotBool {
        /// The attribute.
        attr: String,
        /// Its type.
        ty: ValueType,
    },
}
