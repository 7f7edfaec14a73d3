//! The recorder's memory as its log grows: appends `N` events (default
//! 1,000,000) in signed submissions of 100 user requests, in process (the
//! writer thread, the group commit, the index; no HTTP), and prints the
//! process's resident memory (VmRSS, from /proc) at each tenth, beside
//! the size of the log on disk.
//!
//! ```text
//! cargo run --release -p cfr-recorder --example memory [N [EVENTS [THREADS]]]
//! ```
//!
//! `EVENTS` is the events per submission (default 100), `THREADS` how
//! many threads append at once (default 1: one commit per submission;
//! more share group commits). With `CFR_MEMORY_ANSWERED=1` every
//! submission of requests is followed by the provider's submission of
//! their responses (so the log is not one open incident per request,
//! whose verdict would dwarf everything else a seal holds); `N` counts
//! both. With `CFR_MEMORY_KEEP=<dir>` the log is
//! left at `<dir>` (which must not exist) for other measurements, such
//! as the memory of `cfr-bundle log seal` over many small submissions.

use cfr_model::{Attrs, Event, Value};
use cfr_recorder::{init, Recorder, RecorderOptions, SignedSubmission, Submission};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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

fn response(n: u64) -> Event {
    let mut attrs = Attrs::new();
    attrs.insert("id", Value::Text(format!("r-{n}")));
    attrs.insert("status", Value::Int(200));
    Submission::new("response", "provider", attrs).event
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let n = arg(1, 1_000_000);
    let per = arg(2, 100).max(1);
    let threads = arg(3, 1).max(1);
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
    let contract_toml = std::fs::read_to_string(samples.join("contract.toml"))?;
    let contract = cfr_contract::Contract::from_toml(&contract_toml)?;
    let recorder_key = cfr_model::keys::read_signing_key(&samples.join("keys/recorder.key"))?;
    let user_key = cfr_model::keys::read_signing_key(&samples.join("keys/user.key"))?;
    let provider_key = cfr_model::keys::read_signing_key(&samples.join("keys/provider.key"))?;
    let answered = std::env::var_os("CFR_MEMORY_ANSWERED").is_some_and(|v| v == "1");
    let tmp = tempfile::tempdir_in(
        std::env::var_os("CFR_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
    )?;
    let dir =
        std::env::var_os("CFR_MEMORY_KEEP").map_or_else(|| tmp.path().join("log"), PathBuf::from);
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
    let step = (n / 10).max(per);
    let next = AtomicU64::new(0);
    let work = || -> Result<(), String> {
        loop {
            let k = next.fetch_add(per, Ordering::Relaxed);
            if k >= n {
                return Ok(());
            }
            let count = per.min(n - k);
            let mut subs = vec![(
                "user",
                (0..count).map(|i| request(k + i)).collect::<Vec<_>>(),
            )];
            if answered {
                subs[0].1.truncate(count.div_ceil(2) as usize);
                let answers = (0..count / 2).map(|i| response(k + i)).collect();
                subs.push(("provider", answers));
            }
            for (party, events) in subs {
                let key = if party == "user" {
                    &user_key
                } else {
                    &provider_key
                };
                let sub =
                    SignedSubmission::sign(&contract.id, party, &format!("m-{k}"), events, key);
                let verified = sub.verify(&contract).map_err(|e| format!("{e:?}"))?;
                log.append_signed(verified).map_err(|e| e.to_string())?;
            }
            if (k + per) / step > k / step {
                println!("{} | {} KiB | {} B", k + per, rss_kib(), du(&dir));
            }
        }
    };
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("worker"))
    })?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} events in {secs:.1} s ({:.0} events/s, {per} per submission, {threads} appending)",
        n as f64 / secs
    );
    log.close();
    Ok(())
}
