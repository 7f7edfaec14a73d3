//! The recorder's memory as its log grows: appends `N` events (default
//! 1,000,000) in signed submissions of 100 user requests, in process (the
//! writer thread, the group commit, the index; no HTTP), and prints the
//! process's resident memory (VmRSS, from /proc) at each tenth, beside
//! the size of the log on disk.
//!
//! ```text
//! cargo run --release -p cfr-recorder --example memory [N]
//! ```

use cfr_model::{Attrs, Event, Value};
use cfr_recorder::{init, Recorder, RecorderOptions, SignedSubmission, Submission};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn du(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => du(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

fn request(n: u64) -> Event {
    let mut attrs = Attrs::new();
    attrs.insert("id", Value::Text(format!("r-{n}")));
    attrs.insert("op", Value::Text("get".into()));
    attrs.insert("object", Value::Text(format!("objects/invoices/{n}.pdf")));
    Submission::new("request", "user", attrs).event
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
    let contract_toml = std::fs::read_to_string(samples.join("contract.toml"))?;
    let contract = cfr_contract::Contract::from_toml(&contract_toml)?;
    let recorder_key = cfr_model::keys::read_signing_key(&samples.join("keys/recorder.key"))?;
    let user_key = cfr_model::keys::read_signing_key(&samples.join("keys/user.key"))?;
    let tmp = tempfile::tempdir_in(
        std::env::var_os("CFR_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
    )?;
    let dir = tmp.path().join("log");
    init(&dir, &contract_toml)?;
    let log = Recorder::open(
        &dir,
        RecorderOptions {
            key: Some(recorder_key),
            ..RecorderOptions::default()
        },
    )?;
    println!("events | VmRSS | log on disk");
    println!("0 | {} KiB | {} B", rss_kib(), du(&dir));
    let start = Instant::now();
    let mut k = 0u64;
    let step = (n / 10).max(100);
    while k < n {
        let events: Vec<Event> = (0..100).map(|i| request(k + i)).collect();
        let sub =
            SignedSubmission::sign(&contract.id, "user", &format!("m-{k}"), events, &user_key);
        let verified = sub.verify(&contract).map_err(|e| format!("{e:?}"))?;
        log.append_signed(verified)?;
        k += 100;
        if k % step == 0 {
            println!("{k} | {} KiB | {} B", rss_kib(), du(&dir));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{k} events in {secs:.1} s ({:.0} events/s, one commit per submission)",
        k as f64 / secs
    );
    log.close();
    Ok(())
}
