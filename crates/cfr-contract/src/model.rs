//! The contract model: parties, the event specification, rules and excuses.
//!
//! Every type here is plain data: [`crate::Contract::from_toml`] and
//! [`crate::Contract::from_cbor`] build it and run the static checks, so a
//! `Contract` obtained from either is internally consistent (every event
//! kind, attribute, excuse and rule it names exists, with fitting types).
//! Durations are integer nanoseconds and percentages integer parts per
//! million; there is no floating point anywhere.

use crate::predicate::Predicate;
use cfr_model::keys::PublicKey;
use cfr_model::ValueType;
use std::collections::BTreeMap;
use std::fmt;

/// The only contract format this crate reads and writes.
pub const FORMAT: &str = "cfr-contract/1";

/// A contract between a provider and a user: who the parties are, which
/// events must be logged, the rules each side must keep and the excuses
/// that move blame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    /// Always [`FORMAT`] (`cfr-contract/1`).
    pub format: String,
    /// The contract's identifier (also bound into every event signature).
    pub id: String,
    /// A human title.
    pub title: String,
    /// Free text carried into reports.
    pub jurisdiction: Option<String>,
    /// The parties and their keys.
    pub parties: Parties,
    /// The recorder specification: event kind -> what it must look like.
    pub events: BTreeMap<String, EventSpec>,
    /// The rules, in contract order (the verdict orders incidents by it).
    pub rules: Vec<Rule>,
    /// The excuses by id.
    pub excuses: BTreeMap<String, Excuse>,
    /// What the evidence must establish (`[evidence]`).
    pub evidence: Evidence,
    /// `[term]`: the period the contract covers. With a term, availability
    /// rules count every window of the term (a window without events is
    /// up); without, only the windows that intersect the log's span.
    pub term: Option<Term>,
}

/// `[evidence]`: requirements on the evidence itself, beyond the events'
/// shape. Absent, all are off (and the compiled contract does not
/// mention them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Every event of the provider, the user or an attestor must be
    /// covered by a valid signature of its emitter (a signed submission or
    /// its own event signature): verification fails otherwise.
    pub attributed: bool,
}

/// The contract's term (`[term]`): `[from, until)`, ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    /// First instant of the term.
    pub from: i64,
    /// End of the term, exclusive (> `from`).
    pub until: i64,
}

/// A fee in money (`fee = "1200.00 EUR"`): integer cents and an ISO 4217
/// code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// The amount in hundredths of the currency unit.
    pub cents: u64,
    /// Three uppercase ASCII letters (`EUR`, `USD`).
    pub currency: String,
}

impl Money {
    /// Largest amount accepted, in cents (a fee of up to about 10^15 units).
    pub const MAX_CENTS: u64 = 100_000_000_000_000_000;

    /// Parses `"<digits>[.<1-2 digits>] <AAA>"` (`"1200.00 EUR"`, `"0.5 USD"`).
    pub fn parse(s: &str) -> Option<Money> {
        let (amount, currency) = s.split_once(' ')?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let (whole, frac) = match amount.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (amount, None),
        };
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || whole.len() > 15 {
            return None;
        }
        let mut cents = whole.parse::<u64>().ok()?.checked_mul(100)?;
        if let Some(f) = frac {
            if !digits(f) || f.len() > 2 {
                return None;
            }
            let v = f.parse::<u64>().ok()?;
            cents = cents.checked_add(if f.len() == 1 { v * 10 } else { v })?;
        }
        (cents <= Money::MAX_CENTS).then(|| Money {
            cents,
            currency: currency.to_owned(),
        })
    }

    /// An amount of cents in this currency.
    pub fn of(&self, cents: u64) -> Money {
        Money {
            cents,
            currency: self.currency.clone(),
        }
    }

    /// `fee_cents * ppm / 1_000_000`, truncated: the credit earned at `ppm`.
    pub fn share(&self, ppm: u32) -> Money {
        let c = u128::from(self.cents) * u128::from(ppm) / 1_000_000;
        self.of(u64::try_from(c).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Money {
    /// Two decimals, a space and the code: `"120.00 EUR"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:02} {}",
            self.cents / 100,
            self.cents % 100,
            self.currency
        )
    }
}

/// The parties to a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parties {
    /// The provider (P).
    pub provider: Party,
    /// The user (U).
    pub user: Party,
    /// The certified recorder (R), who signs the log.
    pub recorder: Party,
    /// Attestors by id (`grid`, `carrier`, ...), whose signed events prove
    /// external factors.
    pub attestors: BTreeMap<String, Party>,
    /// Witnesses by name, whose cosignatures of the recorder's checkpoints
    /// attest that it showed everyone the same log.
    pub witnesses: BTreeMap<String, Party>,
}

/// One party: a name for humans and the key its signatures verify under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The party's name, as the contract gives it.
    pub name: String,
    /// Its Ed25519 public key.
    pub key: PublicKey,
}

/// What an event kind must look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// Who may emit it.
    pub by: Emitter,
    /// Whether every event of this kind must carry its emitter's signature.
    pub signed: bool,
    /// The declared attributes; no others are allowed.
    pub attrs: BTreeMap<String, AttrSpec>,
}

/// Who may emit an event kind (`by = ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Emitter {
    /// Only the actor `provider`.
    Provider,
    /// Only the actor `user`.
    User,
    /// Only the actor `recorder`.
    Recorder,
    /// Any declared attestor id.
    Attestor,
}

impl Emitter {
    /// `provider`, `user`, `recorder` or `attestor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Emitter::Provider => "provider",
            Emitter::User => "user",
            Emitter::Recorder => "recorder",
            Emitter::Attestor => "attestor",
        }
    }

    /// Parses the contract spelling.
    pub fn from_name(s: &str) -> Option<Emitter> {
        Some(match s {
            "provider" => Emitter::Provider,
            "user" => Emitter::User,
            "recorder" => Emitter::Recorder,
            "attestor" => Emitter::Attestor,
            _ => return None,
        })
    }
}

impl fmt::Display for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A declared attribute: its type, and whether it may be absent
/// (written `"bytes?"` in the contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrSpec {
    /// The value type.
    pub ty: ValueType,
    /// True when the attribute may be absent.
    pub optional: bool,
}

impl fmt::Display for AttrSpec {
    /// The contract spelling: `int`, `bytes?`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ty.name())?;
        if self.optional {
            f.write_str("?")?;
        }
        Ok(())
    }
}

/// One rule of the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Unique rule id.
    pub id: String,
    /// The contract's own words, carried into the verdict.
    pub clause: String,
    /// Who carries the duty (`party = ...`).
    pub debtor: Debtor,
    /// Excuse ids, tried in this order.
    pub excuses: Vec<String>,
    /// What the rule demands.
    pub kind: RuleKind,
}

/// The party that carries a rule's duty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Debtor {
    /// The provider.
    Provider,
    /// The user.
    User,
}

impl Debtor {
    /// `provider` or `user` (also the actor name of that party).
    pub fn as_str(self) -> &'static str {
        match self {
            Debtor::Provider => "provider",
            Debtor::User => "user",
        }
    }

    /// Parses the contract spelling.
    pub fn from_name(s: &str) -> Option<Debtor> {
        match s {
            "provider" => Some(Debtor::Provider),
            "user" => Some(Debtor::User),
            _ => None,
        }
    }

    /// The party this debtor is when it is at fault.
    pub fn party(self) -> cfr_model::Party {
        match self {
            Debtor::Provider => cfr_model::Party::Provider,
            Debtor::User => cfr_model::Party::User,
        }
    }
}

impl fmt::Display for Debtor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six rule types (how each is judged: the `cfr-rules` crate docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// `type = "deadline"`.
    Deadline(Deadline),
    /// `type = "forbid"`.
    Forbid(Forbid),
    /// `type = "integrity"`.
    Integrity(Integrity),
    /// `type = "rate"`.
    Rate(Rate),
    /// `type = "availability"`.
    Availability(Availability),
    /// `type = "heartbeat"`.
    Heartbeat(Heartbeat),
}

impl RuleKind {
    /// The `type` name: `deadline`, `forbid`, `integrity`, `rate`,
    /// `availability` or `heartbeat`.
    pub fn type_name(&self) -> &'static str {
        match self {
            RuleKind::Deadline(_) => "deadline",
            RuleKind::Forbid(_) => "forbid",
            RuleKind::Integrity(_) => "integrity",
            RuleKind::Rate(_) => "rate",
            RuleKind::Availability(_) => "availability",
            RuleKind::Heartbeat(_) => "heartbeat",
        }
    }
}

/// Every trigger must get a matching reply in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// The trigger event kind.
    pub trigger: String,
    /// `where`: only triggers for which this holds are checked.
    pub filter: Option<Predicate>,
    /// The reply event kind.
    pub reply: String,
    /// `match`: attributes that must be equal on trigger and reply.
    pub matching: Vec<String>,
    /// `within`, ns (> 0).
    pub within: i64,
    /// `ok`: a reply for which this is false is an `erroneous_result`.
    pub ok: Option<Predicate>,
    /// `sla`: the share of deadlines met per period, with credits.
    pub sla: Option<DeadlineSla>,
}

/// Every event of a kind (where the filter holds) is an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forbid {
    /// The forbidden event kind.
    pub event: String,
    /// `where`: only events for which this holds are incidents.
    pub filter: Option<Predicate>,
    /// The incident name, e.g. `data_disclosed`.
    pub incident: String,
    /// `permitted_by`: a permit that moves the blame to its emitter.
    pub permitted_by: Option<Permit>,
}

/// A permit for a forbidden event (`permitted_by`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permit {
    /// The permit event kind.
    pub event: String,
    /// `(attribute on the permit, attribute on the forbidden event)` pairs
    /// that must be equal, sorted by the permit attribute.
    pub matching: Vec<(String, String)>,
}

/// Stored data must read back as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integrity {
    /// The write: `value` is always `Some`.
    pub write: Access,
    /// The read.
    pub read: Read,
    /// The delete, which forgets a key: `value` is always `None`.
    pub delete: Option<Access>,
}

/// A write or delete access in an integrity rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The event kind.
    pub event: String,
    /// The attribute naming the stored object.
    pub key: String,
    /// The attribute holding the stored value (writes only).
    pub value: Option<String>,
}

/// The read access of an integrity rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The event kind.
    pub event: String,
    /// The attribute naming the object read.
    pub key: String,
    /// The attribute holding the value read.
    pub value: String,
    /// A `bool` attribute: false means the object was not found.
    pub found: Option<String>,
}

/// At most `max` events in any `per` window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rate {
    /// The counted event kind.
    pub event: String,
    /// `where`: only events for which this holds count.
    pub filter: Option<Predicate>,
    /// The most events allowed in `(t - per, t]` (>= 1).
    pub max: u64,
    /// The sliding window, ns (> 0).
    pub per: i64,
}

/// A service level: uptime per period, with service credits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Availability {
    /// The event kind whose outcomes are counted.
    pub event: String,
    /// Which of those events count as failed.
    pub failed: Predicate,
    /// Window length, ns (> 0), aligned to the Unix epoch.
    pub window: i64,
    /// How uptime is measured (`measure`).
    pub measure: Measure,
    /// `down_when`: a window is down when `failed * 1e6 > down_when_ppm * total`.
    /// Always present with [`Measure::DownWindows`]; optional with
    /// [`Measure::MeanErrorRate`] (absent: no `unavailable` incidents).
    pub down_when_ppm: Option<u32>,
    /// `min_events` ([`Measure::DownWindows`] only): a window with fewer
    /// events of the kind is never down.
    pub min_events: Option<u64>,
    /// `down_for` ([`Measure::DownWindows`] only), ns, a multiple of
    /// `window`: only runs of consecutive down windows lasting at least
    /// this long count.
    pub down_for: Option<i64>,
    /// How windows are grouped.
    pub period: Period,
    /// `target` uptime, ppm.
    pub target_ppm: u32,
    /// Credit tiers, sorted by `below_ppm`, no two equal.
    pub credits: Vec<CreditTier>,
    /// `fee`: the amount the credits are a share of (needs credits).
    pub fee: Option<Money>,
}

/// How an availability rule measures uptime (`measure = ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// `"down_windows"` (the default): the share of counted windows that
    /// are not down for the provider.
    DownWindows,
    /// `"mean_error_rate"`: 100 % minus the mean of the windows' error
    /// rates (the Amazon S3 SLA).
    MeanErrorRate,
}

impl Measure {
    /// The contract spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::DownWindows => "down_windows",
            Measure::MeanErrorRate => "mean_error_rate",
        }
    }

    /// Parses the contract spelling.
    pub fn from_name(s: &str) -> Option<Measure> {
        match s {
            "down_windows" => Some(Measure::DownWindows),
            "mean_error_rate" => Some(Measure::MeanErrorRate),
            _ => None,
        }
    }
}

/// A deadline rule's service level (`sla = { period, target, credits, fee }`):
/// the share of deadlines met per period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlineSla {
    /// How triggers are grouped (by the trigger's time).
    pub period: Period,
    /// The share of deadlines that must be met, ppm.
    pub target_ppm: u32,
    /// Credit tiers, sorted by `below_ppm`, no two equal.
    pub credits: Vec<CreditTier>,
    /// `fee`: the amount the credits are a share of (needs credits).
    pub fee: Option<Money>,
}

/// How availability windows are grouped into periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Calendar months, UTC (`period = "month"`).
    Month,
    /// Epoch-aligned periods of this many ns (> 0).
    Every(i64),
}

/// One service-credit tier: uptime below `below_ppm` earns `credit_ppm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditTier {
    /// `below`, ppm.
    pub below_ppm: u32,
    /// `credit`, ppm.
    pub credit_ppm: u32,
}

/// The debtor's own events must not fall silent for longer than `every`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The event kind.
    pub event: String,
    /// The longest allowed gap, ns (> 0).
    pub every: i64,
}

/// An excuse: a source of intervals, and the party it attributes an
/// overlapping incident to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excuse {
    /// The excuse id (its key in `[excuses]`).
    pub id: String,
    /// Where its intervals come from.
    pub source: ExcuseSource,
    /// Who is at fault when it applies.
    pub attribute: cfr_model::Party,
}

/// Where an excuse's intervals come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExcuseSource {
    /// Events of a kind: `[from, until]` from their `time` attributes
    /// (default: the event's own time).
    Event {
        /// The event kind.
        event: String,
        /// A `time` attribute giving the interval's start.
        from: Option<String>,
        /// A `time` attribute giving the interval's end.
        until: Option<String>,
        /// Minimum notice, ns: the excuse holds only when
        /// `from - (time the event was logged) >= notice`. Needs `from`.
        notice: Option<i64>,
    },
    /// The windows of another rule's incidents (except `sla_breach`).
    Rule {
        /// The rule id.
        rule: String,
    },
}

/// Most service-level periods one rule may judge: a log (or a term)
/// spanning more periods than this is refused, so that a hostile contract
/// (`period = "1ns"`) or a hostile log (an event dated centuries later)
/// cannot make the verdict unbounded. A year of one-minute periods is
/// 525,600.
pub const MAX_SLA_PERIODS: i64 = 1_000_000;

impl Period {
    /// The shortest length of one period, ns (28 days for a month).
    pub fn min_ns(self) -> i64 {
        match self {
            Period::Month => 28 * 86_400 * 1_000_000_000,
            Period::Every(ns) => ns.max(1),
        }
    }
}

impl Contract {
    /// The shortest service-level period of any rule, ns, if any rule has
    /// one (availability rules always do; deadline rules with `sla`).
    pub fn min_sla_period_ns(&self) -> Option<i64> {
        self.rules
            .iter()
            .filter_map(|r| match &r.kind {
                RuleKind::Availability(a) => Some(a.period.min_ns()),
                RuleKind::Deadline(d) => d.sla.as_ref().map(|s| s.period.min_ns()),
                _ => None,
            })
            .min()
    }

    /// The key of an actor: `provider`, `user`, `recorder` or an attestor id.
    pub fn party_key(&self, actor: &str) -> Option<&PublicKey> {
        self.party(actor).map(|p| &p.key)
    }

    /// The party behind an actor name: `provider`, `user`, `recorder` or
    /// an attestor id.
    pub fn party(&self, actor: &str) -> Option<&Party> {
        match actor {
            "provider" => Some(&self.parties.provider),
            "user" => Some(&self.parties.user),
            "recorder" => Some(&self.parties.recorder),
            other => self.parties.attestors.get(other),
        }
    }

    /// True when `actor` is a declared attestor id.
    pub fn is_attestor(&self, actor: &str) -> bool {
        !matches!(actor, "provider" | "user" | "recorder")
            && self.parties.attestors.contains_key(actor)
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// May `actor` emit events of a kind emitted `by`?
    pub fn may_emit(&self, actor: &str, by: Emitter) -> bool {
        match by {
            Emitter::Provider => actor == "provider",
            Emitter::User => actor == "user",
            Emitter::Recorder => actor == "recorder",
            Emitter::Attestor => self.is_attestor(actor),
        }
    }
}
