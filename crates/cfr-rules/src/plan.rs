//! The contract, compiled for the engine: each rule's configuration in the
//! engine's own types, and a dispatch table from event kind to the rules
//! (and excuses) that look at it. This is the only module that reads the
//! `cfr-contract` model.

use crate::verdict::Party;
use cfr_contract::{Contract, ExcuseSource, Measure, Money, Period, Predicate, RuleKind};
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// What a rule does with an event of a kind it mentions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Deadline: a possible reply.
    Reply,
    /// Deadline: a possible trigger.
    Trigger,
    /// Forbid: the forbidden event.
    Forbidden,
    /// Forbid: a possible permit.
    Permit,
    /// Integrity: a read.
    Read,
    /// Integrity: a write.
    Write,
    /// Integrity: a delete.
    Delete,
    /// Rate: a counted event.
    Count,
    /// Availability: a probe.
    Probe,
    /// Heartbeat: a beat.
    Beat,
}

/// One entry of the dispatch table.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Hook {
    /// Rule `.0` plays role `.1`.
    Rule(usize, Role),
    /// An excuse event for excuse `.0`.
    Excuse(usize),
}

pub(crate) struct RuleMeta {
    pub id: String,
    pub clause: String,
    pub debtor: Party,
    /// Indexes into [`Plan::excuses`], in the rule's order.
    pub excuses: Vec<usize>,
}

pub(crate) struct DeadlineCfg {
    pub trigger: String,
    pub filter: Option<Predicate>,
    pub reply: String,
    pub matching: Vec<String>,
    pub within: i64,
    pub ok: Option<Predicate>,
    pub sla: Option<SlaCfg>,
}

/// A service level over periods: target, credits and fee.
pub(crate) struct SlaCfg {
    pub period: PeriodCfg,
    pub target_ppm: u32,
    /// `(below_ppm, credit_ppm)`.
    pub credits: Vec<(u32, u32)>,
    pub fee: Option<Money>,
}

pub(crate) struct ForbidCfg {
    pub event: String,
    pub filter: Option<Predicate>,
    pub incident: String,
    /// `(permit kind, [(attr on permit, attr on event)])`.
    pub permit: Option<(String, Vec<(String, String)>)>,
}

pub(crate) struct IntegrityCfg {
    pub write_key: String,
    pub write_value: Option<String>,
    pub read_key: String,
    pub read_value: Option<String>,
    pub read_found: Option<String>,
    pub delete_key: Option<String>,
}

pub(crate) struct RateCfg {
    pub event: String,
    pub filter: Option<Predicate>,
    pub max: u64,
    pub per: i64,
}

#[derive(Clone, Copy)]
pub(crate) enum PeriodCfg {
    Month,
    Every(i64),
}

pub(crate) struct AvailabilityCfg {
    pub event: String,
    pub failed: Predicate,
    pub window: i64,
    /// `measure = "mean_error_rate"`.
    pub mean: bool,
    /// `None` only with `mean`.
    pub down_when_ppm: Option<u32>,
    /// 0 when absent.
    pub min_events: u64,
    /// `down_for` in windows (>= 1); `None` when absent.
    pub run_windows: Option<u64>,
    /// The contract's term `[from, until)`.
    pub term: Option<(i64, i64)>,
    pub sla: SlaCfg,
}

pub(crate) struct HeartbeatCfg {
    pub event: String,
    pub every: i64,
}

pub(crate) enum RuleCfg {
    Deadline(DeadlineCfg),
    Forbid(ForbidCfg),
    Integrity(IntegrityCfg),
    Rate(RateCfg),
    Availability(AvailabilityCfg),
    Heartbeat(HeartbeatCfg),
}

pub(crate) enum SourceCfg {
    Event {
        kind: String,
        from: Option<String>,
        until: Option<String>,
        notice: Option<i64>,
    },
    /// Index of the named rule; `None` when the contract names no such rule
    /// (the contract check rejects that; the engine then never applies it).
    Rule(Option<usize>),
}

pub(crate) struct ExcuseCfg {
    pub id: String,
    pub attribute: Party,
    pub source: SourceCfg,
}

/// FNV-1a: a fixed, fast hash for the dispatch table. Its keys are the
/// contract's event kinds; events only look them up, so hostile event
/// kinds cannot grow or skew the table, and there is no randomness (the
/// table is never iterated into any output).
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Event kind -> what looks at it.
pub(crate) type Hooks = HashMap<String, Vec<Hook>, BuildHasherDefault<Fnv>>;

pub(crate) struct Plan {
    pub contract: String,
    pub attestors: BTreeSet<String>,
    pub rules: Vec<(RuleMeta, RuleCfg)>,
    pub excuses: Vec<ExcuseCfg>,
    pub hooks: Hooks,
}

fn period_cfg(p: Period) -> PeriodCfg {
    match p {
        Period::Month => PeriodCfg::Month,
        Period::Every(d) => PeriodCfg::Every(d.max(1)),
    }
}

impl Plan {
    pub fn new(contract: &Contract) -> Plan {
        let excuses: Vec<ExcuseCfg> = contract
            .excuses
            .iter()
            .map(|(id, x)| ExcuseCfg {
                id: id.clone(),
                attribute: x.attribute,
                source: match &x.source {
                    ExcuseSource::Event {
                        event,
                        from,
                        until,
                        notice,
                    } => SourceCfg::Event {
                        kind: event.clone(),
                        from: from.clone(),
                        until: until.clone(),
                        notice: *notice,
                    },
                    ExcuseSource::Rule { rule } => {
                        SourceCfg::Rule(contract.rules.iter().position(|r| &r.id == rule))
                    }
                },
            })
            .collect();
        let mut hooks = Hooks::default();
        let mut hook = |kind: &str, h: Hook| hooks.entry(kind.to_owned()).or_default().push(h);
        let mut rules = Vec::with_capacity(contract.rules.len());
        for (i, r) in contract.rules.iter().enumerate() {
            let meta = RuleMeta {
                id: r.id.clone(),
                clause: r.clause.clone(),
                debtor: r.debtor.party(),
                excuses: r
                    .excuses
                    .iter()
                    .filter_map(|name| excuses.iter().position(|x| &x.id == name))
                    .collect(),
            };
            let cfg = match &r.kind {
                RuleKind::Deadline(d) => {
                    // A reply is matched to earlier triggers before the
                    // same event can itself become a trigger.
                    hook(&d.reply, Hook::Rule(i, Role::Reply));
                    hook(&d.trigger, Hook::Rule(i, Role::Trigger));
                    RuleCfg::Deadline(DeadlineCfg {
                        trigger: d.trigger.clone(),
                        filter: d.filter.clone(),
                        reply: d.reply.clone(),
                        matching: d.matching.clone(),
                        within: d.within,
                        ok: d.ok.clone(),
                        sla: d.sla.as_ref().map(|s| SlaCfg {
                            period: period_cfg(s.period),
                            target_ppm: s.target_ppm,
                            credits: s
                                .credits
                                .iter()
                                .map(|c| (c.below_ppm, c.credit_ppm))
                                .collect(),
                            fee: s.fee.clone(),
                        }),
                    })
                }
                RuleKind::Forbid(f) => {
                    // The forbidden event looks at *earlier* permits only,
                    // so it is judged before it could count as a permit.
                    hook(&f.event, Hook::Rule(i, Role::Forbidden));
                    if let Some(p) = &f.permitted_by {
                        hook(&p.event, Hook::Rule(i, Role::Permit));
                    }
                    RuleCfg::Forbid(ForbidCfg {
                        event: f.event.clone(),
                        filter: f.filter.clone(),
                        incident: f.incident.clone(),
                        permit: f
                            .permitted_by
                            .as_ref()
                            .map(|p| (p.event.clone(), p.matching.clone())),
                    })
                }
                RuleKind::Integrity(g) => {
                    // A read is judged against the state before the event.
                    hook(&g.read.event, Hook::Rule(i, Role::Read));
                    hook(&g.write.event, Hook::Rule(i, Role::Write));
                    if let Some(d) = &g.delete {
                        hook(&d.event, Hook::Rule(i, Role::Delete));
                    }
                    RuleCfg::Integrity(IntegrityCfg {
                        write_key: g.write.key.clone(),
                        write_value: g.write.value.clone(),
                        read_key: g.read.key.clone(),
                        read_value: Some(g.read.value.clone()),
                        read_found: g.read.found.clone(),
                        delete_key: g.delete.as_ref().map(|d| d.key.clone()),
                    })
                }
                RuleKind::Rate(q) => {
                    hook(&q.event, Hook::Rule(i, Role::Count));
                    RuleCfg::Rate(RateCfg {
                        event: q.event.clone(),
                        filter: q.filter.clone(),
                        max: q.max,
                        per: q.per.max(1),
                    })
                }
                RuleKind::Availability(a) => {
                    hook(&a.event, Hook::Rule(i, Role::Probe));
                    let window = a.window.max(1);
                    RuleCfg::Availability(AvailabilityCfg {
                        event: a.event.clone(),
                        failed: a.failed.clone(),
                        window,
                        mean: a.measure == Measure::MeanErrorRate,
                        down_when_ppm: a.down_when_ppm,
                        min_events: a.min_events.unwrap_or(0),
                        run_windows: a
                            .down_for
                            .map(|d| u64::try_from((d / window).max(1)).unwrap_or(1)),
                        term: contract.term.map(|t| (t.from, t.until)),
                        sla: SlaCfg {
                            period: period_cfg(a.period),
                            target_ppm: a.target_ppm,
                            credits: a
                                .credits
                                .iter()
                                .map(|c| (c.below_ppm, c.credit_ppm))
                                .collect(),
                            fee: a.fee.clone(),
                        },
                    })
                }
                RuleKind::Heartbeat(h) => {
                    hook(&h.event, Hook::Rule(i, Role::Beat));
                    RuleCfg::Heartbeat(HeartbeatCfg {
                        event: h.event.clone(),
                        every: h.every,
                    })
                }
            };
            rules.push((meta, cfg));
        }
        for (i, x) in excuses.iter().enumerate() {
            if let SourceCfg::Event { kind, .. } = &x.source {
                hook(kind, Hook::Excuse(i));
            }
        }
        Plan {
            contract: contract.id.clone(),
            attestors: contract.parties.attestors.keys().cloned().collect(),
            rules,
            excuses,
            hooks,
        }
    }
}
