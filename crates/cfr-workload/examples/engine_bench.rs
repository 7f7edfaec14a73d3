//! What the published-SLA measures cost the rule engine: the native engine
//! over the generated month of N events (default 1,000,000) with today's
//! rules, then with an S3-style rule (`measure = "mean_error_rate"`, five-minute
//! windows) added, then with a GCS-style rule (`min_events`, `down_for`)
//! added, R times each (default 3), printing the median events/s and the
//! ratios. The events are decoded once, before timing: this times the
//! engine, not JSON parsing. A benchmark, not a test.
//!
//! ```text
//! cargo run --release -p cfr-workload --example engine_bench -- [N] [R]
//! ```

use cfr_workload::{contract_toml, Keys, Workload};
use std::time::Instant;

const S3: &str = r#"
[[rules]]
id = "s3-style"
clause = "bench: 100% minus the mean five-minute error rate"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "5m"
measure = "mean_error_rate"
period = "month"
target = "99.9%"
credits = [{ below = "99.9%", credit = "10%" }, { below = "99%", credit = "25%" }]
fee = "1200.00 EUR"
"#;

const GCS: &str = r#"
[[rules]]
id = "gcs-style"
clause = "bench: runs of at least five down minutes, at least 10 requests a minute"
type = "availability"
party = "provider"
event = "response"
failed = "status >= 500"
window = "1m"
down_when = "10%"
min_events = 10
down_for = "5m"
period = "month"
target = "99.95%"
credits = [{ below = "99.95%", credit = "10%" }]
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.first().map_or(Ok(1_000_000), |a| a.parse())?;
    let runs: usize = args.get(1).map_or(Ok(3), |a| a.parse())?;
    let keys = Keys::from_seed(7);
    let base = contract_toml(&keys);
    let mut jsonl = Vec::new();
    Workload::march_2026(n, 7).write_jsonl(&keys, &mut jsonl)?;
    let contract = cfr_contract::Contract::from_toml(&base)?;
    let mut importer = cfr_bundle_format::import::Importer::new(&contract);
    let mut events = Vec::with_capacity(n as usize);
    for line in std::str::from_utf8(&jsonl)?.lines() {
        if let Some(e) = importer.line(line)? {
            events.push(e);
        }
    }
    println!(
        "{} events (the generated March 2026 workload, seed 7); native engine; medians of {runs} runs",
        events.len()
    );
    let mut medians = Vec::new();
    for (label, extra) in [
        ("today's rules", String::new()),
        ("+ S3-style rule", S3.to_owned()),
        ("+ S3- and GCS-style rules", format!("{S3}{GCS}")),
    ] {
        let c = cfr_contract::Contract::from_toml(&format!("{base}{extra}"))?;
        let mut times = Vec::new();
        let mut incidents = 0;
        for _ in 0..runs {
            let t0 = Instant::now();
            let mut engine = cfr_rules::Engine::new(&c);
            for e in &events {
                engine.push(e)?;
            }
            let v = engine.finish();
            times.push(t0.elapsed().as_secs_f64());
            incidents = v.incidents.len();
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        medians.push(median);
        println!(
            "{label:<28} {median:7.3} s  {:>11.0} events/s  ({incidents} incidents; runs {times:.3?})",
            events.len() as f64 / median
        );
    }
    println!(
        "time ratio vs today's rules: +S3 {:.2}x, +S3+GCS {:.2}x",
        medians[1] / medians[0],
        medians[2] / medians[0]
    );
    Ok(())
}
