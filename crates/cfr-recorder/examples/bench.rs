//! Recorder benchmark: durable appends/s and acknowledgement latency over
//! HTTP on loopback with signed submissions of 100 and of 1 event(s), 8
//! concurrent clients by default, next to the floors measured in the same
//! run: strict Ed25519 verifications/s on every core, and fsyncs/s.
//! Each figure is the median of 3 runs.
//!
//! ```text
//! cargo run --release -p cfr-recorder --example bench [SECONDS_PER_RUN] [CLIENTS...]
//! ```
//!
//! Each client is a thread with a blocking [`Client`] that signs a
//! submission of `batch` events with the user's key and waits for the
//! receipts (an acknowledgement means the events and the signature are
//! fsynced). The log lives in a temporary directory under
//! `$CFR_BENCH_DIR` (default: the system temp dir).
//!
//! Beside each closed-loop figure it splits the CPU time between the client
//! threads and the recorder's (the scheduler's counts in `/proc`), and
//! estimates what the recorder alone could append on this machine's cores.
//! Then it measures latency at a given offered load: an open loop of
//! 100-event submissions due at 25-90 % of the best closed-loop rate,
//! latency counted from when each was due.
//!
//! `CFR_BENCH_BATCHES=1` (a comma-separated list; default `100,1`) picks
//! the submission sizes of the closed-loop table, for profiling one of
//! them; the open-loop table needs 100 in it.
//!
//! With `CFR_BENCH_PG=postgres://USER@HOST:PORT/DB` (a server the
//! benchmark may create databases on; `scripts/throwaway-pg.sh` starts
//! one), it then measures 100-event submissions on the PostgreSQL store
//! beside the file store, in the same run: one recorder, and two
//! recorders on one database (one sequencing, one standby; the clients
//! are given both URLs, the standby's first).

use cfr_model::keys::SigningKey;
use cfr_model::Event;
use cfr_model::{Attrs, Value};
use cfr_recorder::client::Client;
use cfr_recorder::server::{serve, ServerOptions};
use cfr_recorder::{init, Recorder, RecorderOptions, SignedSubmission, Submission};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The closed-loop table's events per submission: `$CFR_BENCH_BATCHES`, or
/// 100 and 1.
fn batches() -> Result<Vec<usize>, Box<dyn std::error::Error>> {
    let Ok(list) = std::env::var("CFR_BENCH_BATCHES") else {
        return Ok(vec![100, 1]);
    };
    list.split(',')
        .map(|s| match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("CFR_BENCH_BATCHES: {s:?} is not a positive number of events").into()),
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let client_counts: Vec<usize> = {
        let v: Vec<usize> = args.filter_map(|s| s.parse().ok()).collect();
        if v.is_empty() {
            vec![8]
        } else {
            v
        }
    };
    let run_for = Duration::from_secs_f64(secs);
    let base = std::env::var_os("CFR_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let tmp = tempfile::tempdir_in(&base)?;
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/storage-month");
    let contract = std::fs::read_to_string(samples.join("contract.toml"))?;
    let recorder_key = cfr_model::keys::read_signing_key(&samples.join("keys/recorder.key"))?;
    let user_key = cfr_model::keys::read_signing_key(&samples.join("keys/user.key"))?;
    let contract_id = cfr_contract::Contract::from_toml(&contract)?.id;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!("# cfr recorder benchmark: signed submissions");
    println!();
    println!(
        "machine: {cores} cores; log dir under {}; {secs} s per run; medians of 3 runs",
        base.display()
    );
    let (fsyncs, fsync_lat) = fsync_floor(tmp.path(), run_for)?;
    let verifies = verify_floor(&user_key, cores, run_for);
    println!(
        "floors (same run): {verifies:.0} strict Ed25519 verifications/s on {cores} threads (verify_strict of a COSE Sig_structure); {fsyncs:.0} fsync/s (4 KiB write + fdatasync, one thread; {:.3} ms each)",
        fsync_lat * 1e3
    );
    println!(
        "event: unsigned `request` by the user, {} B canonical CBOR; each submission signed by the user's key (COSE_Sign1, EdDSA) in the client thread",
        request(0).event.encode().len()
    );
    let (size, proof, one) = receipt_size(&recorder_key, &contract_id, 1_000_000, 100);
    println!(
        "receipt (cfr-receipt/1) of a 100-event submission at the end of a log of 1,000,000 events: {size} B ({proof} proof hashes; {one} B for a 1-event submission)"
    );
    println!();
    println!("| events/submission | clients | appends/s (median; runs) | submissions/s | ack p50 | ack p99 | appends/s / verify floor | clients' share of the CPU | recorder CPU per event | writer busy | recorder alone on {cores} cores, at most |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut capacity = 0.0f64;
    for batch in batches()? {
        for &clients in &client_counts {
            let mut runs = Vec::new();
            for rep in 0..3 {
                let dir = tmp.path().join(format!("log-{batch}-{clients}-{rep}"));
                init(&dir, &contract)?;
                runs.push(run(
                    &dir,
                    &recorder_key,
                    &user_key,
                    &contract_id,
                    clients,
                    batch,
                    run_for,
                    false,
                    None,
                    Load::Closed,
                )?);
                std::fs::remove_dir_all(&dir)?;
            }
            runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
            let all: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.rate())).collect();
            let m = &runs[1];
            if batch == 100 {
                capacity = capacity.max(m.requests as f64 / m.elapsed);
            }
            println!(
                "| {batch} | {clients} | {:.0} ({}) | {:.0} | {:.2} ms | {:.2} ms | {:.2} | {:.0} % | {:.2} µs | {:.0} % | {:.0} |",
                m.rate(),
                all.join(", "),
                m.requests as f64 / m.elapsed,
                m.p50 * 1e3,
                m.p99 * 1e3,
                m.rate() / verifies,
                m.client_share(),
                m.recorder_us(),
                100.0 * m.writer_ns as f64 / 1e9 / m.elapsed,
                m.alone(cores),
            );
            let _ = std::io::stdout().flush();
        }
    }
    open_loop_table(
        &tmp,
        &contract,
        &recorder_key,
        &user_key,
        &contract_id,
        capacity,
        run_for,
    )?;
    witness_table(
        &tmp,
        &contract,
        &recorder_key,
        &user_key,
        &contract_id,
        run_for,
    )?;
    if let Ok(base_url) = std::env::var("CFR_BENCH_PG") {
        postgres(
            &base_url,
            tmp.path(),
            &contract,
            &recorder_key,
            &user_key,
            &contract_id,
            &client_counts,
            run_for,
        )?;
    }
    Ok(())
}

/// Latency at a given offered load: 100-event submissions due at fixed
/// fractions of `capacity` (the best closed-loop submissions/s measured
/// above), sent by a pool of 64 clients.
fn open_loop_table(
    tmp: &tempfile::TempDir,
    contract: &str,
    recorder_key: &SigningKey,
    user_key: &SigningKey,
    contract_id: &str,
    capacity: f64,
    run_for: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    if capacity.is_nan() || capacity <= 0.0 {
        // No closed-loop run of 100-event submissions completed one: there
        // is no rate to take shares of.
        println!();
        println!("Open loop: not measured (no closed-loop rate for 100-event submissions)");
        return Ok(());
    }
    println!();
    println!(
        "Open loop: 100-event submissions due at a fixed rate (a share of the best closed-loop rate above, {:.0} submissions/s), sent by a pool of 64 clients, each signed before it is due; latency from when it was due to its acknowledgement",
        capacity
    );
    println!();
    println!("| offered load | offered appends/s | appends/s | ack p50 | ack p99 | ack p99.9 | clients' share of the CPU | recorder CPU per event |");
    println!("|---|---|---|---|---|---|---|---|");
    for share in [0.25, 0.5, 0.75, 0.9] {
        let per_s = capacity * share;
        let mut runs = Vec::new();
        for rep in 0..3 {
            let dir = tmp.path().join(format!("log-open-{share}-{rep}"));
            init(&dir, contract)?;
            runs.push(run(
                &dir,
                recorder_key,
                user_key,
                contract_id,
                64,
                100,
                run_for,
                false,
                None,
                Load::Open(per_s),
            )?);
            std::fs::remove_dir_all(&dir)?;
        }
        runs.sort_by(|a, b| a.p99.total_cmp(&b.p99));
        let m = &runs[1];
        let p99s: Vec<String> = runs.iter().map(|r| format!("{:.2}", r.p99 * 1e3)).collect();
        println!(
            "| {:.0} % | {:.0} | {:.0} | {:.2} ms | {:.2} ms (runs: {}) | {:.2} ms | {:.0} % | {:.2} µs |",
            share * 100.0,
            per_s * 100.0,
            m.rate(),
            m.p50 * 1e3,
            m.p99 * 1e3,
            p99s.join(", "),
            m.p999 * 1e3,
            m.client_share(),
            m.recorder_us(),
        );
        let _ = std::io::stdout().flush();
    }
    Ok(())
}

/// Submissions of 100 events from 8 clients, receipts with a checkpoint
/// cosigned by a quorum of one witness (an in-process C2SP tlog-witness on
/// loopback) beside the same run without a witness.
fn witness_table(
    tmp: &tempfile::TempDir,
    contract: &str,
    recorder_key: &SigningKey,
    user_key: &SigningKey,
    contract_id: &str,
    run_for: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let wkey = SigningKey::from_bytes(&[0x5a; 32]);
    let origin = cfr_bundle_format::seal::origin(contract_id);
    println!();
    println!("| witness quorum | events/submission | clients | appends/s (median; runs) | submissions/s | ack p50 | ack p99 |");
    println!("|---|---|---|---|---|---|---|");
    for with in [false, true] {
        let mut runs = Vec::new();
        for rep in 0..3 {
            let dir = tmp.path().join(format!("log-w{with}-{rep}"));
            init(&dir, contract)?;
            let (cosigner, stop): (Option<Arc<dyn cfr_recorder::Cosigner>>, _) = if with {
                let state = tmp.path().join(format!("witness-{rep}"));
                let witness = Arc::new(cfr_witness::Witness::open(
                    &state,
                    "bench-witness",
                    wkey.clone(),
                    [cfr_witness::Log {
                        origin: origin.clone(),
                        key: recorder_key.verifying_key(),
                    }],
                )?);
                let (addr_tx, addr_rx) = std::sync::mpsc::channel();
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                let t = std::thread::spawn(move || -> std::io::Result<()> {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                        let _ = addr_tx.send(l.local_addr()?.to_string());
                        cfr_witness::server::serve(witness, l, Default::default(), async {
                            let _ = stop_rx.await;
                        })
                        .await
                    })
                });
                let addr = addr_rx.recv()?;
                let set = cfr_witness::WitnessSet::new(
                    vec![cfr_witness::WitnessEndpoint {
                        name: "bench-witness".into(),
                        key: wkey.verifying_key(),
                        url: format!("http://{addr}"),
                    }],
                    1,
                    Duration::from_secs(10),
                )?;
                (Some(Arc::new(set)), Some((stop_tx, t)))
            } else {
                (None, None)
            };
            runs.push(run(
                &dir,
                recorder_key,
                user_key,
                contract_id,
                8,
                100,
                run_for,
                false,
                cosigner,
                Load::Closed,
            )?);
            if let Some((tx, t)) = stop {
                let _ = tx.send(());
                let _ = t.join();
            }
            std::fs::remove_dir_all(&dir)?;
        }
        runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
        let all: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.rate())).collect();
        let m = &runs[1];
        println!(
            "| {} | 100 | 8 | {:.0} ({}) | {:.0} | {:.2} ms | {:.2} ms |",
            if with { "1 of 1" } else { "none" },
            m.rate(),
            all.join(", "),
            m.requests as f64 / m.elapsed,
            m.p50 * 1e3,
            m.p99 * 1e3,
        );
        let _ = std::io::stdout().flush();
    }
    Ok(())
}

/// The PostgreSQL store beside the file store: 100-event submissions,
/// each run on a new database.
#[allow(clippy::too_many_arguments)]
fn postgres(
    base_url: &str,
    tmp: &Path,
    contract: &str,
    recorder_key: &SigningKey,
    user_key: &SigningKey,
    contract_id: &str,
    client_counts: &[usize],
    run_for: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (admin, conn) = rt.block_on(tokio_postgres::connect(base_url, tokio_postgres::NoTls))?;
    rt.spawn(conn);
    let version: String = rt
        .block_on(admin.query_one("SHOW server_version", &[]))?
        .get(0);
    let settings: Vec<String> = [
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
        "shared_buffers",
    ]
    .iter()
    .map(|name| {
        rt.block_on(admin.query_one(&format!("SHOW {name}"), &[]))
            .map(|r| format!("{name}={}", r.get::<_, String>(0)))
    })
    .collect::<Result<_, _>>()?;
    println!();
    println!(
        "## PostgreSQL store ({} on loopback; {}); 100-event submissions",
        version,
        settings.join(", ")
    );
    println!();
    println!("| store | recorders | clients | appends/s (median; runs) | submissions/s | ack p50 | ack p99 |");
    println!("|---|---|---|---|---|---|---|");
    let (prefix, _) = base_url
        .rsplit_once('/')
        .ok_or("CFR_BENCH_PG: give a URL ending in /DATABASE")?;
    let mut n = 0;
    for &clients in client_counts {
        for (store, two) in [("file", false), ("postgres", false), ("postgres", true)] {
            let mut runs = Vec::new();
            for rep in 0..3 {
                n += 1;
                let dir = tmp.join(format!("pg-{store}-{two}-{clients}-{rep}"));
                let db = format!("cfr_bench_{}_{n}", std::process::id());
                if store == "file" {
                    init(&dir, contract)?;
                } else {
                    rt.block_on(admin.batch_execute(&format!("CREATE DATABASE {db}")))?;
                    cfr_recorder::pg::init(&dir, contract, &format!("{prefix}/{db}"))?;
                }
                runs.push(run(
                    &dir,
                    recorder_key,
                    user_key,
                    contract_id,
                    clients,
                    100,
                    run_for,
                    two,
                    None,
                    Load::Closed,
                )?);
                std::fs::remove_dir_all(&dir)?;
                if store != "file" {
                    rt.block_on(admin.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)")))?;
                }
            }
            runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
            let all: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.rate())).collect();
            let m = &runs[1];
            println!(
                "| {store} | {} | {clients} | {:.0} ({}) | {:.0} | {:.2} ms | {:.2} ms |",
                if two { "2 (1 standby)" } else { "1" },
                m.rate(),
                all.join(", "),
                m.requests as f64 / m.elapsed,
                m.p50 * 1e3,
                m.p99 * 1e3,
            );
            let _ = std::io::stdout().flush();
        }
    }
    Ok(())
}

/// Strict Ed25519 verifications per second on `threads` threads.
fn verify_floor(key: &SigningKey, threads: usize, run_for: Duration) -> f64 {
    let digest = [7u8; 32];
    let cose = cfr_bundle_format::submission::sign(key, &digest);
    let public = key.verifying_key();
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let cose = cose.clone();
            std::thread::spawn(move || {
                let sign1 = cfr_bundle_format::submission::parse(&cose).ok();
                let mut n = 0u64;
                while start.elapsed() < run_for {
                    for _ in 0..64 {
                        if sign1.as_ref().is_some_and(|s| s.verifies(&digest, &public)) {
                            n += 1;
                        }
                    }
                }
                n
            })
        })
        .collect();
    let n: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    n as f64 / start.elapsed().as_secs_f64()
}

/// The encoded size of the receipt of the last `batch` events of a log of
/// `n` (`request` events), its proof length, and the size for one event.
fn receipt_size(key: &SigningKey, contract_id: &str, n: u64, batch: u64) -> (usize, usize, usize) {
    use cfr_bundle_format::receipt::{EventReceipt, Receipt};
    let mut tree = cfr_merkle::Tree::new();
    let mut events = Vec::new();
    for seq in 0..n {
        let mut e = request(seq).event;
        e.seq = seq;
        e.time = 1_775_000_000_000_000_000 + seq as i64 * 1_000_000;
        let leaf = cfr_merkle::leaf_hash(&e.encode());
        tree.push(leaf);
        if seq >= n - batch {
            events.push(EventReceipt {
                seq,
                time: e.time,
                leaf,
            });
        }
    }
    let origin = cfr_bundle_format::seal::origin(contract_id);
    let cp = cfr_merkle::Checkpoint {
        origin: origin.clone(),
        size: n,
        root: tree.root(),
    }
    .sign(key, &origin)
    .map(|c| c.to_note())
    .unwrap_or_default();
    let receipt = |first: u64, events: Vec<EventReceipt>| Receipt {
        contract: contract_id.to_owned(),
        party: "user".into(),
        id: "b0-1234567".into(),
        first,
        proof: tree
            .range_proof(first, first + events.len() as u64, n)
            .unwrap_or_default(),
        events,
        checkpoint: cp.clone(),
    };
    let r = receipt(n - batch, events.clone());
    let one = receipt(n - 1, events[events.len() - 1..].to_vec());
    (r.encode().len(), r.proof.len(), one.encode().len())
}

fn request(n: u64) -> Submission {
    let mut attrs = Attrs::new();
    attrs.insert("id", Value::Text(format!("r-{n}")));
    attrs.insert("op", Value::Text("get".into()));
    attrs.insert("object", Value::Text(format!("objects/invoices/{n}.pdf")));
    Submission::new("request", "user", attrs)
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

struct RunResult {
    events: u64,
    requests: u64,
    elapsed: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    /// CPU time of the client threads, of the recorder's threads, and of
    /// its writer thread alone (nanoseconds).
    client_ns: u64,
    recorder_ns: u64,
    writer_ns: u64,
}

impl RunResult {
    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed
    }

    /// The recorder's CPU per appended event, in microseconds.
    fn recorder_us(&self) -> f64 {
        self.recorder_ns as f64 / 1e3 / self.events.max(1) as f64
    }

    /// Appends/s the recorder's own CPU use would allow with `cores` to
    /// itself: its CPU per event spread over every core, or its writer
    /// thread's on one core, whichever is less. An estimate: it assumes the
    /// work per event stays the same without the clients beside it.
    fn alone(&self, cores: usize) -> f64 {
        let ev = self.events.max(1) as f64;
        let spread = cores as f64 * 1e9 * ev / self.recorder_ns.max(1) as f64;
        let writer = 1e9 * ev / self.writer_ns.max(1) as f64;
        spread.min(writer)
    }

    /// The share of the CPU time that went to the clients, in percent.
    fn client_share(&self) -> f64 {
        100.0 * self.client_ns as f64 / (self.client_ns + self.recorder_ns).max(1) as f64
    }
}

/// A server over `recorder` on its own thread: its address, how to
/// stop it, and the thread.
type Server = (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<std::io::Result<()>>,
);

fn start_server(recorder: &Arc<Recorder>) -> Result<Server, Box<dyn std::error::Error>> {
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
    Ok((addr, stop_tx, server))
}

/// How the clients load the recorder.
#[derive(Clone, Copy)]
enum Load {
    /// Each client sends its next submission when the last is
    /// acknowledged; latency is measured from before signing.
    Closed,
    /// Submissions are due at a fixed rate (per second), whether or not
    /// earlier ones were acknowledged; the clients are a pool that sends
    /// each when it is due, signed beforehand, and its latency is measured
    /// from when it was due. A submission no client was free to send on
    /// time waits, and that wait counts (no coordinated omission).
    Open(f64),
}

/// The CPU time, in nanoseconds, the calling thread has run (the
/// scheduler's own count, `/proc/thread-self/schedstat`); 0 where there is
/// no such file.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Each live thread of this process but the main one: its id, name and
/// CPU time in nanoseconds.
fn threads_cpu() -> Vec<(u32, String, u64)> {
    let main = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid: u32 = e.file_name().to_str()?.parse().ok()?;
        if tid == main {
            return None;
        }
        let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
        let ns = std::fs::read_to_string(e.path().join("schedstat")).ok()?;
        let ns = ns.split_whitespace().next()?.parse().ok()?;
        Some((tid, name.trim().to_owned(), ns))
    })
    .collect()
}

/// One run: `clients` threads appending `batch`-event submissions for
/// `run_for` under `load`; with `standby`, a second recorder on the same
/// (PostgreSQL) log serves as a standby and the clients are given its URL
/// first.
#[allow(clippy::too_many_arguments)]
fn run(
    dir: &Path,
    recorder_key: &SigningKey,
    user_key: &SigningKey,
    contract_id: &str,
    clients: usize,
    batch: usize,
    run_for: Duration,
    standby: bool,
    cosigner: Option<Arc<dyn cfr_recorder::Cosigner>>,
    load: Load,
) -> Result<RunResult, Box<dyn std::error::Error>> {
    let open = |standby| {
        Recorder::open(
            dir,
            RecorderOptions {
                key: Some(recorder_key.clone()),
                standby,
                cosigner: cosigner.clone(),
                ..RecorderOptions::default()
            },
        )
        .map(Arc::new)
    };
    let recorder = open(false)?;
    let (active_addr, stop_tx, server) = start_server(&recorder)?;
    let second = if standby {
        let r = open(true)?;
        assert!(!r.is_active(), "the second recorder is a standby");
        let s = start_server(&r)?;
        Some((r, s))
    } else {
        None
    };
    let addr = match &second {
        Some((_, (a, _, _))) => format!("{a},{active_addr}"),
        None => active_addr,
    };
    let due = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let before: std::collections::HashMap<u32, u64> = threads_cpu()
        .into_iter()
        .map(|(t, _, ns)| (t, ns))
        .collect();
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let addr = addr.clone();
            let key = user_key.clone();
            let contract_id = contract_id.to_owned();
            let due = due.clone();
            std::thread::spawn(move || -> Result<(u64, Vec<f64>, u64), String> {
                let cpu0 = thread_cpu_ns();
                let mut client = Client::new(addr);
                let mut lat = Vec::new();
                let mut events = 0u64;
                let mut k = 0u64;
                loop {
                    let at = match load {
                        Load::Closed if start.elapsed() >= run_for => break,
                        Load::Closed => None,
                        Load::Open(per_s) => {
                            let i = due.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let at = Duration::from_secs_f64(i as f64 / per_s);
                            if at >= run_for {
                                break;
                            }
                            Some(start + at)
                        }
                    };
                    let subs: Vec<Event> = (0..batch)
                        .map(|_| {
                            k += 1;
                            request(k).event
                        })
                        .collect();
                    let t = Instant::now();
                    let sub = SignedSubmission::sign(
                        &contract_id,
                        "user",
                        &format!("b{c}-{k}"),
                        subs,
                        &key,
                    );
                    let from = match at {
                        Some(at) => {
                            std::thread::sleep(at.saturating_duration_since(Instant::now()));
                            at
                        }
                        None => t,
                    };
                    let r = client.submit(&sub).map_err(|e| e.to_string())?;
                    lat.push(from.elapsed().as_secs_f64());
                    events += r.len() as u64;
                }
                Ok((events, lat, thread_cpu_ns().saturating_sub(cpu0)))
            })
        })
        .collect();
    let mut events = 0;
    let mut lat = Vec::new();
    let mut client_ns = 0;
    for t in threads {
        let (e, l, ns) = t.join().map_err(|_| "client panicked")??;
        events += e;
        lat.extend(l);
        client_ns += ns;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // The clients have ended: every other thread but the main one (which
    // only waited) is the recorder's: its HTTP server, its writer, its
    // blocking pool.
    let (mut recorder_ns, mut writer_ns) = (0, 0);
    for (tid, name, ns) in threads_cpu() {
        let d = ns.saturating_sub(before.get(&tid).copied().unwrap_or(0));
        recorder_ns += d;
        if name.starts_with("cfr-recorder-wr") {
            writer_ns += d;
        }
    }
    let _ = stop_tx.send(());
    server.join().map_err(|_| "server panicked")??;
    if let Some((_, (_, stop, server))) = second {
        let _ = stop.send(());
        server.join().map_err(|_| "server panicked")??;
    }
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
        p999: pct(0.999),
        client_ns,
        recorder_ns,
        writer_ns,
    })
}
