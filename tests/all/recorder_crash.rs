//! The recorder's crash safety, through `cfr-bundle log serve`: SIGKILL
//! at random moments under concurrent appends (on the file store and on
//! PostgreSQL), and a disk that fills up.

use cfr_model::keys::{read_signing_key, SigningKey};
use cfr_model::{Attrs, Value};
use cfr_recorder::init;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CONTRACT_ID: &str = "acme-objstore-2026-03";

fn key_path(name: &str) -> PathBuf {
    crate::util::sample_dir().join(format!("keys/{name}.key"))
}

fn key(name: &str) -> SigningKey {
    read_signing_key(&key_path(name)).expect("sample key")
}

/// A fresh log directory (inside a temp dir that must outlive it).
fn new_log() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    init(&dir, &crate::util::sample_contract()).expect("init");
    (tmp, dir)
}

/// Opens the log, waiting while a killed recorder's lock lingers (a
/// PostgreSQL session ends a moment after its process).
pub(crate) fn open(dir: &Path) -> Recorder {
    let started = Instant::now();
    loop {
        match Recorder::open(
            dir,
            RecorderOptions {
                key: Some(key("recorder")),
                ..RecorderOptions::default()
            },
        ) {
            Err(cfr_recorder::OpenError::Locked { .. })
                if started.elapsed() < Duration::from_secs(20) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            r => return r.expect("open"),
        }
    }
}

/// An unsigned `request` by the user.
fn request(n: u64) -> Submission {
    let mut attrs = Attrs::new();
    attrs.insert("id", Value::Text(format!("r-{n}")));
    attrs.insert("op", Value::Text("get".into()));
    attrs.insert("object", Value::Text(format!("obj/{n}")));
    Submission::new("request", "user", attrs)
}

/// A `cfr-bundle log serve` process, killed on drop.
pub(crate) struct Process {
    child: Child,
    pub(crate) addr: String,
    /// Its first line (`listening on ...`).
    pub(crate) banner: String,
}

impl Process {
    pub(crate) fn start(dir: &Path) -> Process {
        Process::start_with(crate::util::cfr(), dir)
    }

    /// Starts `cmd log serve DIR --key KEY --listen 127.0.0.1:0
    /// --checkpoint-interval 200ms` and waits for its address.
    fn start_with(mut cmd: Command, dir: &Path) -> Process {
        let mut child = cmd
            .args(["log", "serve"])
            .arg(dir)
            .arg("--key")
            .arg(key_path("recorder"))
            .args(["--listen", "127.0.0.1:0", "--checkpoint-interval", "200ms"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn recorder");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read address");
        let Some(addr) = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
        else {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("recorder did not start: {line:?} {err}");
        };
        Process {
            addr: addr.to_owned(),
            banner: line.trim().to_owned(),
            child,
        }
    }

    /// SIGKILL, reap, and what it said on stderr.
    pub(crate) fn kill_and_read_stderr(&mut self) -> String {
        use std::io::Read as _;
        self.kill();
        let mut err = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .map(|mut e| e.read_to_string(&mut err));
        err
    }

    /// SIGKILL, and reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("CFR_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(88172645463325252)
        })
}

/// A heartbeat by the provider (cheap to judge, so sealing and verifying
/// the whole log stays fast).
fn heartbeat() -> Submission {
    Submission::new("heartbeat", "provider", Attrs::new())
}
use cfr_merkle::SignedCheckpoint;
use cfr_recorder::client::Client;
use cfr_recorder::{Receipt, Recorder, RecorderOptions, SignedSubmission, Submission};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;

/// One client's state across recorder restarts: the signed submission in
/// flight (not acknowledged: it is re-sent as it is, same id, after a
/// restart) and every receipt it got, per event.
#[derive(Default)]
struct ClientState {
    next: u64,
    pending: Option<SignedSubmission>,
    acked: HashMap<String, Receipt>,
    /// The checkpoints of every receipt it was given.
    checkpoints: Vec<String>,
}

/// Records the receipts of `sub` in `acked`, checking that a submission
/// acknowledged twice (a retry) got the same receipts.
fn record(acked: &mut HashMap<String, Receipt>, sub: &SignedSubmission, receipts: Vec<Receipt>) {
    assert_eq!(receipts.len(), sub.events.len());
    for (i, r) in receipts.into_iter().enumerate() {
        let id = format!("{}#{i}", sub.id);
        if let Some(prev) = acked.get(&id) {
            assert_eq!(
                (prev.seq, prev.leaf),
                (r.seq, r.leaf),
                "{id} acknowledged twice differently"
            );
        }
        acked.insert(id, r);
    }
}

fn run_clients(
    addr: &str,
    states: &[Arc<Mutex<ClientState>>],
    stop: &Arc<AtomicBool>,
    rng_seed: u64,
) -> Vec<std::thread::JoinHandle<()>> {
    states
        .iter()
        .enumerate()
        .map(|(c, state)| {
            let (addr, state, stop) = (addr.to_owned(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(rng_seed ^ ((c as u64 + 1) * 0x9e37_79b9));
                let mut client = Client::new(addr);
                client.retries = 0;
                client.timeout = Duration::from_secs(5);
                while !stop.load(Ordering::Relaxed) {
                    let mut st = state.lock().expect("state");
                    if st.pending.is_none() {
                        let n = 1 + rng.below(20);
                        let k = st.next;
                        st.next += 1;
                        st.pending = Some(SignedSubmission::sign(
                            CONTRACT_ID,
                            "provider",
                            &format!("c{c}-{k}"),
                            (0..n).map(|_| heartbeat().event).collect(),
                            &key("provider"),
                        ));
                    }
                    let Some(sub) = st.pending.clone() else { break };
                    drop(st);
                    match client.submit(&sub) {
                        Ok(ack) => {
                            let mut st = state.lock().expect("state");
                            if let Some(r) = &ack.receipt {
                                st.checkpoints.push(r.checkpoint.clone());
                            }
                            record(&mut st.acked, &sub, ack.events);
                            st.pending = None;
                        }
                        Err(_) => break,
                    }
                }
            })
        })
        .collect()
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_event() {
    let (_t, dir) = new_log();
    sigkill_at_random_moments(&dir);
}

/// The same against a log in PostgreSQL: `log serve` is killed, the
/// database stays.
#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_event_on_postgres() {
    let Some(pg) = crate::pg::shared() else {
        return;
    };
    let (_t, dir, _) = crate::pg::new_log(pg, None);
    sigkill_at_random_moments(&dir);
}

/// Kills `log serve DIR` at random moments while 4 clients append, then
/// checks that every acknowledged event is in the log once, with its
/// receipt's seq, time and leaf, that nothing else is, that every
/// checkpoint a receipt carried is a prefix of the final log, and that the
/// log seals into a bundle that verifies.
fn sigkill_at_random_moments(dir: &Path) {
    let iterations: u64 = std::env::var("CFR_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let seed = seed();
    eprintln!("crash test: {iterations} iterations, CFR_TEST_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = dir.to_owned();
    let states: Vec<_> = (0..CLIENTS)
        .map(|_| Arc::new(Mutex::new(ClientState::default())))
        .collect();
    let mut last_checkpoint: Option<String> = None;
    let started = Instant::now();
    for i in 0..iterations {
        let mut p = Process::start(&dir);
        let stop = Arc::new(AtomicBool::new(false));
        let clients = run_clients(&p.addr, &states, &stop, seed.wrapping_add(i));
        // Read the latest checkpoint now and then; keep the last one read.
        let cp_addr = p.addr.clone();
        let cp_stop = stop.clone();
        let cps = std::thread::spawn(move || {
            let mut c = Client::new(cp_addr);
            c.retries = 0;
            let mut last = None;
            while !cp_stop.load(Ordering::Relaxed) {
                match c.checkpoint() {
                    Ok(note) => last = Some(note),
                    Err(_) => break,
                }
                std::thread::sleep(Duration::from_millis(15));
            }
            last
        });
        std::thread::sleep(Duration::from_millis(20 + rng.below(250)));
        p.kill();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("client");
        }
        if let Some(note) = cps.join().expect("checkpoints") {
            last_checkpoint = Some(note);
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "crash test too slow"
        );
    }
    // A last, clean run re-sends whatever was in flight at the last kill.
    {
        let p = Process::start(&dir);
        let mut c = Client::new(p.addr.clone());
        for st in &states {
            let mut st = st.lock().expect("state");
            if let Some(sub) = st.pending.take() {
                let ack = c.submit(&sub).expect("final append");
                record(&mut st.acked, &sub, ack.events);
            }
        }
    }
    let log = open(&dir);
    let size = log.size();
    let mut acked: Vec<(String, Receipt)> = Vec::new();
    for st in &states {
        acked.extend(
            st.lock()
                .expect("state")
                .acked
                .iter()
                .map(|(k, v)| (k.clone(), *v)),
        );
    }
    eprintln!(
        "crash test: {} events acknowledged, log holds {size}, {:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(acked.len() > 50, "too few appends to mean anything");
    // Every submitted event was acknowledged in the end; each is in the log
    // at its receipt's seq with its receipt's leaf, and nothing else is.
    let mut seqs: Vec<u64> = acked.iter().map(|(_, r)| r.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), acked.len(), "two ids share a seq");
    assert_eq!(
        size,
        acked.len() as u64,
        "the log holds events nobody was acknowledged for, or lost some"
    );
    for (id, r) in &acked {
        let p = log.inclusion_proof(r.seq, size).expect("proof");
        assert_eq!(p.leaf, r.leaf, "{id}: leaf differs");
        assert_eq!(
            log.time_of(r.seq).ok().flatten(),
            Some(r.time),
            "{id}: time differs"
        );
    }
    // The root at the last acknowledged checkpoint's size is its root.
    let note = last_checkpoint.expect("a checkpoint was acknowledged");
    let cp = SignedCheckpoint::parse(note.as_bytes()).expect("note");
    let cp = cp
        .verify(
            &cfr_bundle_format::seal::origin(CONTRACT_ID),
            &key("recorder").verifying_key(),
        )
        .expect("signed")
        .clone();
    let proof = log.consistency_proof(cp.size, size).expect("proof");
    assert_eq!(proof.from_root, cp.root);
    cfr_merkle::verify_consistency(cp.size, size, &cp.root, &proof.to_root, &proof.path)
        .expect("consistent");
    // Every checkpoint any receipt carried, across every crash, is a
    // prefix of the final log: the recorder never signed two inconsistent
    // checkpoints.
    let mut n = 0;
    for st in &states {
        for note in &st.lock().expect("state").checkpoints {
            let cp = SignedCheckpoint::parse(note.as_bytes()).expect("note");
            let cp = cp
                .verify(
                    &cfr_bundle_format::seal::origin(CONTRACT_ID),
                    &key("recorder").verifying_key(),
                )
                .expect("signed")
                .clone();
            let p = log.consistency_proof(cp.size, size).expect("proof");
            assert_eq!(
                p.from_root, cp.root,
                "a receipt's checkpoint of size {} is not a prefix of the log",
                cp.size
            );
            n += 1;
        }
    }
    assert!(n > 50, "{n} receipt checkpoints");
    drop(log);
    // The log seals into a bundle that verifies.
    let out = dir.parent().expect("parent").join("crash.cfr");
    let k = key("recorder");
    let opts = cfr_recorder::seal::LogSealOptions {
        key: &k,
        run_analyzer: None,
        analyzer: None,
        native_verdict: true,
        chunk_bytes: 1 << 20,
        prefix: cfr_recorder::seal::Prefix::All,
        contract_sigs: Vec::new(),
        analyzer_cert: None,
        timestamp: None,
    };
    let (n, _) = cfr_recorder::seal::seal_log(&dir, &opts, &out).expect("seal");
    assert_eq!(n, size);
    let report = cfr_verify::verify::verify(&out, Default::default()).expect("verify runs");
    assert!(report.verified(), "{:?}", report.checks());
}

/// The segment file cannot grow past a limit (RLIMIT_FSIZE, as a full
/// disk): appends fail cleanly with 503, earlier events stay intact, the
/// recorder keeps serving, and a restart finds exactly the acknowledged
/// events.
#[test]
fn a_full_disk_fails_appends_cleanly() {
    let (_t, dir) = new_log();
    // `ulimit -f` counts 512- or 1024-byte blocks depending on the shell;
    // 64 blocks is 32 to 64 KiB either way. SIGXFSZ is ignored so the
    // write fails with EFBIG instead of killing the process.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_cfr-bundle"));
    let p = Process::start_with(cmd, &dir);
    let mut c = Client::new(p.addr.clone());
    c.retries = 0;
    let mut acked = Vec::new();
    let mut failure = None;
    for i in 0..2000u64 {
        let sub = SignedSubmission::sign(
            CONTRACT_ID,
            "user",
            &format!("d{i}"),
            (0..5).map(|j| request(i * 10 + j).event).collect(),
            &key("user"),
        );
        match c.submit(&sub) {
            Ok(r) => acked.extend(r.events),
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    let failure = failure.expect("the limit was reached");
    assert!(
        failure.contains("503") && failure.contains("write failed"),
        "{failure}"
    );
    assert!(acked.len() > 50);
    // Still serving: proofs and checkpoints work, and the next append fails
    // the same clean way.
    assert!(c.checkpoint().is_ok());
    let one = SignedSubmission::sign(
        CONTRACT_ID,
        "user",
        "one-more",
        vec![request(99_999).event],
        &key("user"),
    );
    assert!(c.submit(&one).is_err());
    drop(c);
    drop(p);
    let log = open(&dir);
    assert_eq!(log.size(), acked.len() as u64);
    assert!(
        log.recovery().torn_tail.is_none(),
        "the failed write was cut back at once"
    );
    for r in &acked {
        assert_eq!(
            log.inclusion_proof(r.seq, log.size()).expect("proof").leaf,
            r.leaf
        );
    }
}
