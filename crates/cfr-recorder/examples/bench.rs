//! Recorder benchmark: durable appends/s and acknowledgement latency over
//! HTTP on loopback, unsigned and signed, with 1, 8 and 64 concurrent
//! clients, next to this disk's floor measured in the same run.
//!
//! ```text
//! cargo run --release -p cfr-recorder --example bench [SECONDS_PER_RUN]
//! ```
//!
//! Each client is a thread with a blocking [`Client`] sending requests of
//! `batch` events and waiting for the receipts (an acknowledgement means
//! the events are fsynced). The log lives in a temporary directory under
//! `$CFR_BENCH_DIR` (default: the system temp dir).

use cfr_model::keys::SigningKey;
use cfr_model::{Attrs, Value};
use cfr_recorder::client::Client;
use cfr_recorder::server::{serve, ServerOptions};
use cfr_recorder::{init, Recorder, RecorderOptions, Submission};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let run_for = Duration::from_secs_f64(secs);
    let base = std::env::var_os("CFR_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let tmp = tempfile::tempdir_in(&base)?;
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
    let contract = std::fs::read_to_string(samples.join("contract.toml"))?;
    let recorder_key = cfr_model::keys::read_signing_key(&samples.join("keys/recorder.key"))?;
    let grid_key = cfr_model::keys::read_signing_key(&samples.join("keys/grid.key"))?;
    let contract_id = cfr_contract::Contract::from_toml(&contract)?.id;

    println!("# cfr recorder benchmark");
    println!();
    println!(
        "machine: {} cores; log dir under {}; {secs} s per run",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        base.display()
    );
    let (fsyncs, fsync_lat) = fsync_floor(tmp.path(), run_for)?;
    let mbps = write_bandwidth(tmp.path())?;
    println!(
        "floor: {fsyncs:.0} fsync/s (4 KiB write + fdatasync, one thread; {:.3} ms each); sequential write {mbps:.0} MB/s (256 MiB, then fsync)",
        fsync_lat * 1e3
    );
    let sample_unsigned = request(0).event.encode().len();
    let sample_signed = outage(&grid_key, &contract_id).event.encode().len();
    println!(
        "event sizes (canonical CBOR): unsigned request {sample_unsigned} B, signed outage {sample_signed} B; record overhead 13 B + id"
    );
    println!();
    println!("| events | clients | events/request | appends/s | requests/s | ack p50 | ack p99 | x fsync floor | bytes/event on disk |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for signed in [false, true] {
        for batch in [1usize, 100] {
            for clients in [1usize, 8, 64] {
                let dir = tmp.path().join(format!("log-{signed}-{batch}-{clients}"));
                init(&dir, &contract)?;
                let r = run(
                    &dir,
                    &recorder_key,
                    &grid_key,
                    &contract_id,
                    signed,
                    clients,
                    batch,
                    run_for,
                )?;
                let disk = dir_size(&dir.join("segments"))? as f64 / r.events.max(1) as f64;
                println!(
                    "| {} | {clients} | {batch} | {:.0} | {:.0} | {:.2} ms | {:.2} ms | {:.1} | {disk:.0} |",
                    if signed { "signed" } else { "unsigned" },
                    r.events as f64 / r.elapsed,
                    r.requests as f64 / r.elapsed,
                    r.p50 * 1e3,
                    r.p99 * 1e3,
                    r.events as f64 / r.elapsed / fsyncs,
                );
                let _ = std::io::stdout().flush();
                std::fs::remove_dir_all(&dir)?;
            }
        }
    }
    Ok(())
}

fn request(n: u64) -> Submission {
    let mut attrs = Attrs::new();
    attrs.insert("id", Value::Text(format!("r-{n}")));
    attrs.insert("op", Value::Text("get".into()));
    attrs.insert("object", Value::Text(format!("objects/invoices/{n}.pdf")));
    Submission::new("request", "user", attrs)
}

fn outage(key: &SigningKey, contract_id: &str) -> Submission {
    let mut attrs = Attrs::new();
    attrs.insert("start", Value::Int(1_772_445_600_000_000_000));
    attrs.insert("end", Value::Int(1_772_452_800_000_000_000));
    attrs.insert("cause", Value::Text("substation fault".into()));
    Submission::new("outage", "grid", attrs).signed(key, contract_id)
}

fn fsync_floor(dir: &Path, run_for: Duration) -> std::io::Result<(f64, f64)> {
    let path = dir.join("fsync-floor");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let block = vec![0x5au8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < run_for {
        f.write_all(&block)?;
        f.sync_data()?;
        n += 1;
    }
    let el = start.elapsed().as_secs_f64();
    std::fs::remove_file(&path)?;
    Ok((n as f64 / el, el / n as f64))
}

fn write_bandwidth(dir: &Path) -> std::io::Result<f64> {
    let path = dir.join("bandwidth");
    let mut f = std::fs::File::create(&path)?;
    let block = vec![0xa5u8; 1 << 20];
    let start = Instant::now();
    for _ in 0..256 {
        f.write_all(&block)?;
    }
    f.sync_all()?;
    let el = start.elapsed().as_secs_f64();
    std::fs::remove_file(&path)?;
    Ok(256.0 * 1.048_576 / el)
}

fn dir_size(dir: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        n += e?.metadata()?.len();
    }
    Ok(n)
}

struct RunResult {
    events: u64,
    requests: u64,
    elapsed: f64,
    p50: f64,
    p99: f64,
}

#[allow(clippy::too_many_arguments)]
fn run(
    dir: &Path,
    recorder_key: &SigningKey,
    grid_key: &SigningKey,
    contract_id: &str,
    signed: bool,
    clients: usize,
    batch: usize,
    run_for: Duration,
) -> Result<RunResult, Box<dyn std::error::Error>> {
    let recorder = Arc::new(Recorder::open(
        dir,
        RecorderOptions {
            key: Some(recorder_key.clone()),
            ..RecorderOptions::default()
        },
    )?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let r = recorder.clone();
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let _ = addr_tx.send(listener.local_addr()?.to_string());
            serve(
                r,
                listener,
                ServerOptions {
                    checkpoint_interval: Some(Duration::from_secs(1)),
                    ..ServerOptions::default()
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
        })
    });
    let addr = addr_rx.recv()?;
    let template = if signed {
        outage(grid_key, contract_id)
    } else {
        request(0)
    };
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let addr = addr.clone();
            let template = template.clone();
            std::thread::spawn(move || -> Result<(u64, Vec<f64>), String> {
                let mut client = Client::new(addr);
                let mut lat = Vec::new();
                let mut events = 0u64;
                let mut k = 0u64;
                while start.elapsed() < run_for {
                    let mut subs: Vec<Submission> = (0..batch)
                        .map(|_| {
                            k += 1;
                            let mut s = template.clone();
                            if !signed {
                                s = request(k);
                            }
                            s.with_id(format!("b{c}-{k}"))
                        })
                        .collect();
                    let t = Instant::now();
                    let r = client.append(&mut subs).map_err(|e| e.to_string())?;
                    lat.push(t.elapsed().as_secs_f64());
                    events += r.len() as u64;
                }
                Ok((events, lat))
            })
        })
        .collect();
    let mut events = 0;
    let mut lat = Vec::new();
    for t in threads {
        let (e, l) = t.join().map_err(|_| "client panicked")??;
        events += e;
        lat.extend(l);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    server.join().map_err(|_| "server panicked")??;
    assert_eq!(
        recorder.size(),
        events,
        "every acknowledged event is in the log"
    );
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(RunResult {
        events,
        requests: lat.len() as u64,
        elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
    })
}
