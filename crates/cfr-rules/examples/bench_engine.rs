//! Benchmark of the rule engine (not a test):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-rules cargo run --release -p cfr-rules --example bench_engine [events]
//! ```
//!
//! Generates a deterministic, seeded mixed workload (requests and
//! responses, puts, gets and deletes, heartbeats, grants and disclosures,
//! maintenance announcements and attested outages) for a contract using
//! every rule type and every kind of excuse, feeds it to the engine in
//! chunks of 65,536 events, and reports events/s of `Engine::push` (the
//! generation of each chunk is not timed), the time of `Engine::finish`,
//! the verdict's size, and the process's peak resident memory (VmHWM).

use cfr_contract::Contract;
use cfr_model::time::NS_PER_SEC;
use cfr_model::{Attrs, Event, Value};
use cfr_rules::Engine;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

const KEY: &str = "ed25519:GzGbzcuTeAiI0eL3pp+BiUOkI/ZtzNzPKKj9kmMfmDU=";
const MS: i64 = 1_000_000;

fn contract() -> Result<Contract, Box<dyn std::error::Error>> {
    let text = format!(
        r#"format = "cfr-contract/1"
id = "bench"
title = "Benchmark"
[parties]
provider = {{ name = "P", key = "{KEY}" }}
user = {{ name = "U", key = "{KEY}" }}
recorder = {{ name = "R", key = "{KEY}" }}
[parties.attestors]
grid = {{ name = "Grid", key = "{KEY}" }}
[events.request]
by = "user"
attrs = {{ id = "text", op = "text", object = "text" }}
[events.response]
by = "provider"
attrs = {{ id = "text", status = "int" }}
[events.put]
by = "provider"
attrs = {{ object = "text", digest = "bytes" }}
[events.get]
by = "provider"
attrs = {{ object = "text", found = "bool?", digest = "bytes?" }}
[events.del]
by = "provider"
attrs = {{ object = "text" }}
[events.grant]
by = "user"
attrs = {{ grantee = "text" }}
[events.disclosure]
by = "provider"
attrs = {{ recipient = "text" }}
[events.heartbeat]
by = "provider"
attrs = {{}}
[events.maintenance]
by = "provider"
attrs = {{ start = "time", end = "time" }}
[events.outage]
by = "attestor"
attrs = {{ start = "time", end = "time" }}

[[rules]]
id = "answer-in-time"
clause = "4.1"
type = "deadline"
party = "provider"
trigger = "request"
where = "op != 'health'"
reply = "response"
match = ["id"]
within = "2s"
ok = "status < 500"
excuses = ["maintenance", "power-outage", "over-quota"]
[[rules]]
id = "keep-data"
clause = "5.1"
type = "integrity"
party = "provider"
write = {{ event = "put", key = "object", value = "digest" }}
read = {{ event = "get", key = "object", value = "digest", found = "found" }}
delete = {{ event = "del", key = "object" }}
[[rules]]
id = "no-disclosure"
clause = "6.1"
type = "forbid"
party = "provider"
event = "disclosure"
incident = "data_disclosed"
permitted_by = {{ event = "grant", match = {{ grantee = "recipient" }} }}
[[rules]]
id = "quota"
clause = "7.1"
type = "rate"
party = "user"
event = "request"
max = 100
per = "1s"
[[rules]]
id = "uptime"
clause = "8.1"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "1m"
down_when = "5%"
period = "1h"
target = "99.9%"
credits = [{{ below = "99.9%", credit = "10%" }}, {{ below = "99%", credit = "25%" }}]
excuses = ["power-outage", "maintenance"]
[[rules]]
id = "heartbeat"
clause = "9.1"
type = "heartbeat"
party = "provider"
event = "heartbeat"
every = "30s"
excuses = ["power-outage"]
[excuses.maintenance]
event = "maintenance"
from = "start"
until = "end"
notice = "1h"
attribute = "none"
[excuses.power-outage]
event = "outage"
from = "start"
until = "end"
attribute = "external"
[excuses.over-quota]
rule = "quota"
attribute = "user"
"#
    );
    Ok(Contract::from_toml(&text)?)
}

/// xorshift64*: deterministic, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The workload generator: a user's requests answered by the provider
/// (mostly in time, a few late, failed or missing), storage traffic with
/// rare corruption, a heartbeat every ~10 s with rare silences, and rare
/// grants, disclosures, maintenance windows and outages.
struct Workload {
    rng: Rng,
    t: i64,
    seq: u64,
    next_id: u64,
    next_beat: i64,
    burst: u32,
    degraded_until: i64,
    replies: BinaryHeap<Reverse<(i64, u64, i64)>>,
    digests: Vec<u8>,
}

impl Workload {
    fn new(seed: u64) -> Self {
        Workload {
            rng: Rng(seed | 1),
            t: 1_772_323_200 * NS_PER_SEC, // 2026-03-01T00:00:00Z
            seq: 0,
            next_id: 0,
            next_beat: 0,
            burst: 0,
            degraded_until: 0,
            replies: BinaryHeap::new(),
            digests: vec![0; 4096],
        }
    }

    fn event(&mut self, kind: &str, actor: &str, attrs: Attrs) -> Event {
        let e = Event {
            seq: self.seq,
            time: self.t,
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            attrs,
            sig: None,
        };
        self.seq += 1;
        e
    }

    fn next_event(&mut self) -> Event {
        if let Some(&Reverse((due, id, status))) = self.replies.peek() {
            if due <= self.t {
                self.replies.pop();
                let mut a = Attrs::new();
                a.insert("id", Value::Text(format!("r-{id}")));
                a.insert("status", Value::Int(status));
                return self.event("response", "provider", a);
            }
        }
        // About 100 events/s, with a burst of back-to-back events now and then.
        self.burst = self.burst.saturating_sub(1);
        if self.burst == 0 && self.rng.below(200_000) == 0 {
            self.burst = 300;
        }
        if self.burst == 0 {
            self.t += self.rng.below(20 * MS as u64) as i64;
        }
        if self.t >= self.next_beat {
            // Silences of ~1 minute now and then.
            let gap = if self.rng.below(2000) == 0 { 60 } else { 10 };
            self.next_beat = self.t + gap * NS_PER_SEC;
            return self.event("heartbeat", "provider", Attrs::new());
        }
        let r = self.rng.below(10_000);
        // Maintenance and outages: about 1 in 100,000 events each.
        let r = if r >= 9_997 && self.rng.below(10) != 0 {
            0
        } else {
            r
        };
        let object = |rng: &mut Rng| rng.below(4096) as usize;
        match r {
            0..=5_499 => {
                let id = self.next_id;
                self.next_id += 1;
                let fate = self.rng.below(1000);
                if fate >= 3 {
                    let delay = if fate < 8 {
                        2 * NS_PER_SEC + self.rng.below(NS_PER_SEC as u64) as i64
                    } else {
                        self.rng.below(300 * MS as u64) as i64
                    };
                    // A degraded minute now and then: most answers fail.
                    if self.rng.below(300_000) == 0 {
                        self.degraded_until = self.t + 60 * NS_PER_SEC;
                    }
                    let status = if fate < 20 || (self.t < self.degraded_until && fate < 600) {
                        503
                    } else {
                        200
                    };
                    self.replies.push(Reverse((self.t + delay, id, status)));
                }
                let mut a = Attrs::new();
                a.insert("id", Value::Text(format!("r-{id}")));
                a.insert(
                    "op",
                    Value::Text(if fate % 50 == 0 { "health" } else { "get" }.into()),
                );
                a.insert(
                    "object",
                    Value::Text(format!("o-{}", object(&mut self.rng))),
                );
                self.event("request", "user", a)
            }
            5_500..=7_499 => {
                let o = object(&mut self.rng);
                self.digests[o] = self.digests[o].wrapping_add(1);
                let mut a = Attrs::new();
                a.insert("object", Value::Text(format!("o-{o}")));
                a.insert("digest", Value::Bytes(vec![self.digests[o]; 8]));
                self.event("put", "provider", a)
            }
            7_500..=9_799 => {
                let o = object(&mut self.rng);
                let mut a = Attrs::new();
                a.insert("object", Value::Text(format!("o-{o}")));
                let fate = self.rng.below(10_000);
                if fate == 0 {
                    a.insert("found", Value::Bool(false));
                } else {
                    a.insert("found", Value::Bool(true));
                    let d = if fate == 1 {
                        self.digests[o] ^ 0xff
                    } else {
                        self.digests[o]
                    };
                    a.insert("digest", Value::Bytes(vec![d; 8]));
                }
                self.event("get", "provider", a)
            }
            9_800..=9_989 => {
                let mut a = Attrs::new();
                a.insert(
                    "object",
                    Value::Text(format!("o-{}", object(&mut self.rng))),
                );
                self.event("del", "provider", a)
            }
            9_990..=9_993 => {
                let mut a = Attrs::new();
                a.insert("grantee", Value::Text(format!("g-{}", self.rng.below(8))));
                self.event("grant", "user", a)
            }
            9_994..=9_996 => {
                let mut a = Attrs::new();
                a.insert(
                    "recipient",
                    Value::Text(format!("g-{}", self.rng.below(16))),
                );
                self.event("disclosure", "provider", a)
            }
            9_997 | 9_998 => {
                let start = self.t + (self.rng.below(4) as i64 - 1) * 3600 * NS_PER_SEC;
                let mut a = Attrs::new();
                a.insert("start", Value::Int(start));
                a.insert("end", Value::Int(start + 600 * NS_PER_SEC));
                self.event("maintenance", "provider", a)
            }
            _ => {
                let start = self.t - self.rng.below(3600) as i64 * NS_PER_SEC;
                let mut a = Attrs::new();
                a.insert("start", Value::Int(start));
                a.insert("end", Value::Int(start + 300 * NS_PER_SEC));
                self.event("outage", "grid", a)
            }
        }
    }
}

/// On-CPU time of this thread, ns (Linux `/proc/thread-self/schedstat`):
/// unlike wall time, it does not count time spent waiting for a core on a
/// loaded machine.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "n/a".to_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 1_000_000,
    };
    let contract = contract()?;
    let mut workload = Workload::new(0x05ee_dcf2);
    let mut engine = Engine::new(&contract);
    let rss_before = peak_rss();
    let mut chunk = Vec::with_capacity(65_536);
    let mut pushed = 0u64;
    let mut push_time = std::time::Duration::ZERO;
    let mut push_cpu = 0u64;
    while pushed < n {
        chunk.clear();
        let m = (n - pushed).min(65_536);
        for _ in 0..m {
            chunk.push(workload.next_event());
        }
        let cpu = cpu_ns();
        let start = Instant::now();
        for ev in &chunk {
            engine.push(ev)?;
        }
        push_time += start.elapsed();
        if let (Some(a), Some(b)) = (cpu, cpu_ns()) {
            push_cpu += b.saturating_sub(a);
        }
        pushed += m;
    }
    let span_ns = workload.t - 1_772_323_200 * NS_PER_SEC;
    let start = Instant::now();
    let verdict = engine.finish();
    let finish_time = start.elapsed();
    let start = Instant::now();
    let cbor = verdict.to_cbor();
    let cbor_time = start.elapsed();
    let rate = n as f64 / push_time.as_secs_f64();
    let total = push_time + finish_time;
    println!(
        "events:            {n} over {:.1} h of log time",
        span_ns as f64 / 3.6e12
    );
    println!(
        "push:              {:.3} s, {:.0} events/s",
        push_time.as_secs_f64(),
        rate
    );
    if push_cpu > 0 {
        println!(
            "push (CPU time):   {:.3} s, {:.0} events/s",
            push_cpu as f64 / 1e9,
            n as f64 / (push_cpu as f64 / 1e9)
        );
    }
    println!("finish:            {:.3} s", finish_time.as_secs_f64());
    println!(
        "push + finish:     {:.3} s, {:.0} events/s",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64()
    );
    println!(
        "verdict CBOR:      {} bytes in {:.3} s",
        cbor.len(),
        cbor_time.as_secs_f64()
    );
    println!(
        "incidents:         {} (provider {}, user {}, external {}, none {}, inconclusive {})",
        verdict.incidents.len(),
        verdict.totals.provider,
        verdict.totals.user,
        verdict.totals.external,
        verdict.totals.none,
        verdict.totals.inconclusive
    );
    for r in &verdict.rules {
        println!(
            "  {:<16} checked {:>8} fulfilled {:>8} pending {:>3} incidents {:>6}",
            r.rule, r.checked, r.fulfilled, r.pending, r.incidents
        );
    }
    println!(
        "peak RSS (VmHWM):  {} (before the log: {rss_before})",
        peak_rss()
    );
    Ok(())
}
