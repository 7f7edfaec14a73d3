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
    /// `down_when`: a window is down when `failed * 1e6 > down_when_ppm * total`.
    pub down_when_ppm: u32,
    /// How windows are grouped.
    pub period: Period,
    /// `target` uptime, ppm.
    pub target_ppm: u32,
    /// Credit tiers, sorted by `below_ppm`, no two equal.
    pub credits: Vec<CreditTier>,
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

impl Contract {
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
