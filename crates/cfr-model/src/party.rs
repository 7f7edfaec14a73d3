//! Who is at fault: the one party enum of contracts (an excuse's
//! `attribute`) and verdicts (an incident's `party` and `debtor`).

use std::fmt;

/// Who an incident is attributed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    /// The provider is at fault.
    Provider,
    /// The user is at fault.
    User,
    /// An external factor (attested by an attestor).
    External,
    /// Nobody: the incident is excused.
    None,
    /// The evidence does not settle who is at fault.
    Inconclusive,
}

impl Party {
    /// All five, in the order of a verdict's `totals`.
    pub const ALL: [Party; 5] = [
        Party::Provider,
        Party::User,
        Party::External,
        Party::None,
        Party::Inconclusive,
    ];

    /// The name used in contracts and verdicts: `provider`, `user`,
    /// `external`, `none`, `inconclusive`.
    pub fn name(self) -> &'static str {
        match self {
            Party::Provider => "provider",
            Party::User => "user",
            Party::External => "external",
            Party::None => "none",
            Party::Inconclusive => "inconclusive",
        }
    }

    /// Parses a party name.
    pub fn from_name(s: &str) -> Option<Party> {
        Party::ALL.into_iter().find(|p| p.name() == s)
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
