//! The recorder on PostgreSQL, against a real server that each test run
//! starts for itself (`initdb` and `postgres` from Debian's packages, on
//! loopback, as an unprivileged user when run as root): the API over the
//! PostgreSQL store, failover between two recorders, and a database that
//! goes away mid-append. The crash test of the file store runs against it
//! too (`recorder_crash.rs`).
//!
//! Without the server binaries these tests fail (in CI and out of it),
//! naming the package to install; `CFR_SKIP_PG=1` outside CI skips them
//! with a loud message.

use cfr_merkle::SignedCheckpoint;
use cfr_model::keys::SigningKey;
use cfr_recorder::client::Client;
use cfr_recorder::{Receipt, Recorder, RecorderOptions, SignedSubmission, Submission};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const CONTRACT_ID: &str = "acme-objstore-2026-03";

/// The system user the test server runs as when the tests run as root
/// (PostgreSQL refuses to run as root).
const PG_USER: &str = "cfrpg";

/// A throwaway PostgreSQL cluster: its data directory in a temporary
/// directory, listening on 127.0.0.1 on a free port, `trust` auth. A
/// watchdog shell holds the server: when the test process exits (or the
/// cluster is dropped) its stdin closes and it stops the server and
/// removes the cluster's directory (`CFR_PG_KEEP=1` keeps it).
pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    runas: bool,
    watchdogs: Mutex<Vec<(Child, ChildStdin)>>,
}

fn find_bin() -> Option<PathBuf> {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !p.is_empty() {
            let p = std::fs::canonicalize(&p).unwrap_or_else(|_| PathBuf::from(&p));
            return p.parent().map(Path::to_owned);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

/// `runuser` (util-linux), found where Debian puts it even when /usr/sbin
/// is not on PATH.
fn runuser() -> PathBuf {
    ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("runuser"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    /// Starts a cluster, or says loudly why not: a panic (the binaries
    /// are missing), or `None` only when `CFR_SKIP_PG=1` outside CI.
    pub fn start() -> Option<Cluster> {
        let Some(bin) = find_bin() else {
            let msg = "PostgreSQL server binaries (initdb, postgres) not found on PATH or under /usr/lib/postgresql/*/bin: install Debian's `postgresql` package (apt-get install -y postgresql); .ci/run does";
            if std::env::var_os("CI").is_none() && std::env::var_os("CFR_SKIP_PG").is_some() {
                eprintln!("\n!!!!!!!! SKIPPED (CFR_SKIP_PG): {msg}\n");
                return None;
            }
            panic!("{msg}");
        };
        let runas = is_root();
        if runas {
            let exists = Command::new("id")
                .arg("-u")
                .arg(PG_USER)
                .output()
                .is_ok_and(|o| o.status.success());
            if !exists {
                let st = Command::new("useradd")
                    .args(["-r", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin"])
                    .arg(PG_USER)
                    .status()
                    .expect("useradd");
                assert!(st.success(), "useradd {PG_USER} failed");
            }
        }
        // As root, the server's user must reach the directory: under /tmp
        // (world-traversable), whatever TMPDIR says.
        let mut root = tempfile::Builder::new();
        root.prefix("cfr-pg-");
        let root = if runas {
            root.tempdir_in("/tmp")
        } else {
            root.tempdir()
        }
        .expect("tempdir")
        .keep();
        let cluster = Cluster {
            root,
            bin,
            port: free_port(),
            runas,
            watchdogs: Mutex::new(Vec::new()),
        };
        if runas {
            let st = Command::new("chown")
                .arg(format!("{PG_USER}:"))
                .arg(&cluster.root)
                .status()
                .expect("chown");
            assert!(st.success());
        }
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            // The C locale: the machine's LANG may name one not installed.
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.start_server();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// A command running a server binary, as the server's user.
    fn command(&self, name: &str) -> Command {
        let exe = self.bin.join(name);
        let mut c = if self.runas {
            let mut c = Command::new(runuser());
            c.args(["-u", PG_USER, "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.env("LC_ALL", "C").env_remove("LANG");
        c
    }

    /// Starts the server (again) on the same data directory and port,
    /// under a watchdog, and waits until it accepts connections.
    pub fn start_server(&self) {
        let script = format!(
            "\"{bin}/postgres\" -D \"{data}\" -p {port} -c listen_addresses=127.0.0.1 \
             -c unix_socket_directories= -c max_connections=200 >>\"{root}/server.log\" 2>&1 & pid=$!; \
             read _; if kill -INT $pid 2>/dev/null; then wait $pid; \
             [ \"$CFR_PG_KEEP\" = 1 ] || rm -rf \"{root}\"; fi",
            bin = self.bin.display(),
            data = self.data().display(),
            port = self.port,
            root = self.root.display()
        );
        let mut cmd = if self.runas {
            let mut c = Command::new(runuser());
            c.args(["-u", PG_USER, "--", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        cmd.env("LC_ALL", "C").env_remove("LANG");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        let stdin = child.stdin.take().expect("stdin");
        self.watchdogs
            .lock()
            .expect("watchdogs")
            .push((child, stdin));
        let started = Instant::now();
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "postgres did not start: {}",
                std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new, empty database; its URL (no password: `trust` auth).
    pub fn database(&self) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "cfr_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg(&name)
            .output()
            .expect("createdb runs");
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL with psql; its output.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                url,
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn postmaster(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The server's processes: the postmaster and its children.
    fn processes(&self) -> Vec<u32> {
        let Some(pm) = self.postmaster() else {
            return Vec::new();
        };
        let mut out = vec![pm];
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(pm) {
                out.push(pid);
            }
        }
        out
    }

    fn signal(&self, sig: &str) {
        for pid in self.processes() {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// Freezes every server process (SIGSTOP): connections stay open but
    /// nothing answers.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    /// Kills the server the way a crash does (`pg_ctl stop -m
    /// immediate`: no checkpoint, every connection cut); the data stays.
    pub fn crash(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-m", "immediate", "-w"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Its watchdog stays blocked on its stdin until the cluster is
        // dropped (the dead server is its zombie child until then).
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut w = self.watchdogs.lock().unwrap_or_else(|e| e.into_inner());
        // The live server's watchdog (the last) first: it stops the server,
        // then the directory goes.
        for (mut child, stdin) in w.drain(..).rev() {
            drop(stdin);
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The cluster the tests of this run share (one per process; the
/// watchdog stops it when the process exits).
pub fn shared() -> Option<&'static Cluster> {
    static C: OnceLock<Option<Cluster>> = OnceLock::new();
    C.get_or_init(Cluster::start).as_ref()
}

pub fn key(name: &str) -> SigningKey {
    cfr_model::keys::read_signing_key(&crate::util::sample_dir().join(format!("keys/{name}.key")))
        .expect("sample key")
}

/// A log directory of the sample contract whose log is in a new
/// database of `cluster`; store calls time out after `timeout_ms`.
pub fn new_log(cluster: &Cluster, timeout_ms: Option<u64>) -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let url = cluster.database();
    cfr_recorder::pg::init(&dir, &crate::util::sample_contract(), &url).expect("init");
    if let Some(ms) = timeout_ms {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(cfr_recorder::pg::STORE_FILE))
            .expect("store.toml");
        writeln!(f, "timeout_ms = {ms}").expect("write");
    }
    (tmp, dir, url)
}

/// Opens the log (waiting while a closed recorder's session, and so its
/// lock, lingers a moment on the server).
fn open(dir: &Path) -> Recorder {
    crate::recorder_crash::open(dir)
}

/// `n` events of `party` (the provider's heartbeats, the user's
/// requests), signed as submission `id`.
fn heartbeats(party: &str, id: &str, n: usize) -> SignedSubmission {
    let event = |i: usize| {
        if party == "user" {
            let mut attrs = cfr_model::Attrs::new();
            attrs.insert("id", cfr_model::Value::Text(format!("{id}-{i}")));
            attrs.insert("op", cfr_model::Value::Text("get".into()));
            attrs.insert("object", cfr_model::Value::Text(format!("obj/{i}")));
            Submission::new("request", "user", attrs).event
        } else {
            Submission::new("heartbeat", "provider", Default::default()).event
        }
    };
    SignedSubmission::sign(
        CONTRACT_ID,
        party,
        id,
        (0..n).map(event).collect(),
        &key(party),
    )
}

fn verified_checkpoint(note: &str) -> cfr_merkle::Checkpoint {
    SignedCheckpoint::parse(note.as_bytes())
        .expect("note")
        .verify(
            &cfr_bundle_format::seal::origin(CONTRACT_ID),
            &key("recorder").verifying_key(),
        )
        .expect("signed by the recorder")
        .clone()
}

#[test]
fn init_keeps_no_password_and_refuses_another_contract_under_the_same_id() {
    let Some(pg) = shared() else { return };
    let url = pg.database();
    let with_password = url.replacen("postgres@", "postgres:s3cret-pw@", 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let (code, out, err) = crate::util::run(
        crate::util::cfr()
            .args(["log", "init"])
            .arg(&dir)
            .arg("--contract")
            .arg(crate::util::sample_dir().join("contract.toml"))
            .arg("--store")
            .arg(&with_password),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains("s3cret") && !err.contains("s3cret"),
        "{out}{err}"
    );
    assert!(out.contains("PGPASSWORD"), "{out}");
    let store = std::fs::read_to_string(dir.join("store.toml")).expect("store.toml");
    assert!(!store.contains("s3cret"), "{store}");
    assert!(store.contains(&url), "{store}");
    // A second directory for the same log (a second recorder's) is fine.
    let second = tmp.path().join("second");
    cfr_recorder::pg::init(&second, &crate::util::sample_contract(), &url).expect("second init");
    // The same contract id with other terms is refused.
    let other = crate::util::sample_contract().replacen("title = ", "title = \"Other\"\n# ", 1);
    let e = cfr_recorder::pg::init(&tmp.path().join("third"), &other, &url)
        .expect_err("other terms under the same id");
    assert!(e.to_string().contains("other terms"), "{e}");
    assert!(!e.to_string().contains("s3cret"));
}

#[test]
fn the_api_over_postgres_appends_dedups_refuses_conflicts_and_seals() {
    let Some(pg) = shared() else { return };
    let (_t, dir, url) = new_log(pg, None);
    let contract =
        cfr_contract::Contract::from_toml(&crate::util::sample_contract()).expect("contract");
    let first;
    {
        let log = open(&dir);
        assert!(log.is_active());
        let sub = heartbeats("provider", "s-1", 5);
        let ack = log
            .append_signed(sub.clone().verify(&contract).expect("verifies"))
            .expect("append");
        assert_eq!(ack.events.len(), 5);
        assert_eq!(ack.events[0].seq, 0);
        let receipt = ack.receipt.clone().expect("receipt");
        receipt
            .verify(&key("recorder").verifying_key())
            .expect("receipt verifies");
        receipt.matches(&sub.events).expect("receipt matches");
        first = ack.events.clone();
        // A duplicate appends nothing and returns the original events.
        let again = log
            .append_signed(sub.clone().verify(&contract).expect("verifies"))
            .expect("dup");
        assert!(again.duplicate);
        assert_eq!(
            again
                .events
                .iter()
                .map(|r| (r.seq, r.leaf))
                .collect::<Vec<_>>(),
            first.iter().map(|r| (r.seq, r.leaf)).collect::<Vec<_>>()
        );
        assert_eq!(log.size(), 5);
        // Another digest under the same id is a conflict.
        let other = heartbeats("provider", "s-1", 2);
        let e = log
            .append_signed(other.verify(&contract).expect("verifies"))
            .expect_err("conflict");
        assert!(
            matches!(e, cfr_recorder::AppendError::SubmissionConflict { .. }),
            "{e}"
        );
        // A second process cannot sequence while this one does.
        let busy = Recorder::open(
            &dir,
            RecorderOptions {
                key: Some(key("recorder")),
                ..Default::default()
            },
        );
        assert!(
            matches!(busy, Err(cfr_recorder::OpenError::Locked { .. })),
            "{:?}",
            busy.err()
        );
    }
    // The database holds what was acknowledged: one transaction per commit.
    assert_eq!(pg.psql(&url, "SELECT count(*) FROM cfr_events"), "5");
    assert_eq!(pg.psql(&url, "SELECT size FROM cfr_checkpoints"), "5");
    // It is append-only there too.
    let out = Command::new(pg.bin.join("psql"))
        .args(["-X", "-q", &url, "-c", "DELETE FROM cfr_events"])
        .output()
        .expect("psql");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("append-only"));
    // Reopened: the log, its ids and its checkpoint are loaded back.
    let log = open(&dir);
    assert_eq!(log.size(), 5);
    assert_eq!(log.checkpoint().expect("checkpoint").checkpoint().size, 5);
    let sub = heartbeats("provider", "s-1", 5);
    let again = log
        .append_signed(sub.verify(&contract).expect("verifies"))
        .expect("dup after reopen");
    assert!(again.duplicate);
    assert_eq!(again.events[4].leaf, first[4].leaf);
    drop(log);
    // Over HTTP, through `log serve`.
    let p = crate::recorder_crash::Process::start(&dir);
    let mut c = Client::for_contract(p.addr.clone(), &contract);
    let ack = c
        .submit(&heartbeats("user", "u-1", 3))
        .expect("http append");
    assert_eq!(ack.events[0].seq, 5);
    let e = c.submit(&heartbeats("user", "u-1", 4)).expect_err("409");
    assert!(
        matches!(
            e,
            cfr_recorder::client::ClientError::Refused { status: 409, .. }
        ),
        "{e}"
    );
    let cp = verified_checkpoint(&c.checkpoint().expect("checkpoint"));
    assert_eq!(cp.size, 8);
    // `log seal` while the recorder runs seals up to its checkpoint.
    let seal = |args: &[&str], name: &str| {
        let out = dir.parent().expect("parent").join(name);
        let (code, o, e) = crate::util::run(
            crate::util::cfr()
                .args(["log", "seal"])
                .arg(&dir)
                .arg("--key")
                .arg(crate::util::sample_dir().join("keys/recorder.key"))
                .arg("--no-analyzer")
                .args(args)
                .arg("-o")
                .arg(&out),
        );
        assert_eq!(code, 0, "{o}{e}");
        (out, o)
    };
    let (out, o) = seal(&[], "pg.cfr");
    assert!(o.contains("sealed events [0, 8)"), "{o}");
    let (code, o, e) = crate::util::run(crate::util::cfr().arg("verify").arg(&out));
    assert_eq!(code, 0, "{o}{e}");
    // It carries both submissions, read with the events in one snapshot;
    // a prefix cut inside the second leaves that one out.
    let sub = |party: &str, id: &str, first, count| (party.to_owned(), id.to_owned(), first, count);
    assert_eq!(
        crate::util::bundle_submissions(&out),
        [sub("provider", "s-1", 0, 5), sub("user", "u-1", 5, 3)]
    );
    let (cut, _) = seal(&["--size", "6"], "pg-6.cfr");
    assert_eq!(
        crate::util::bundle_submissions(&cut),
        [sub("provider", "s-1", 0, 5)]
    );
    drop(p);
}

/// One client's view: what it was acknowledged, and the checkpoints of
/// its receipts.
#[derive(Default)]
struct Seen {
    acked: HashMap<String, Receipt>,
    checkpoints: Vec<String>,
    /// The 503 answers it got, with their reasons.
    unavailable: Vec<String>,
}

/// Every acknowledged event is in the log once, at its receipt's seq with
/// its receipt's leaf; nothing unacknowledged is (when `exact`); every
/// checkpoint any receipt carried is a prefix of the final log.
fn check_log(dir: &Path, seen: &[Seen], exact: bool) -> u64 {
    let log = open(dir);
    let size = log.size();
    let mut seqs = Vec::new();
    for s in seen {
        for (id, r) in &s.acked {
            let p = log.inclusion_proof(r.seq, size).expect("proof");
            assert_eq!(p.leaf, r.leaf, "{id}: leaf differs at seq {}", r.seq);
            assert_eq!(
                log.time_of(r.seq).ok().flatten(),
                Some(r.time),
                "{id}: time differs"
            );
            seqs.push(r.seq);
        }
    }
    let n = seqs.len();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), n, "two acknowledged events share a seq");
    if exact {
        assert_eq!(
            size, n as u64,
            "the log holds events nobody was acknowledged for, or lost some"
        );
    }
    let mut cps = 0;
    for s in seen {
        for note in &s.checkpoints {
            let cp = verified_checkpoint(note);
            let p = log.consistency_proof(cp.size, size).expect("proof");
            assert_eq!(
                p.from_root, cp.root,
                "a receipt's checkpoint of size {} is not a prefix of the log",
                cp.size
            );
            cfr_merkle::verify_consistency(cp.size, size, &cp.root, &p.to_root, &p.path)
                .expect("consistent");
            cps += 1;
        }
    }
    assert!(cps > 0);
    size
}

#[test]
fn killing_the_active_of_two_recorders_while_8_clients_append_loses_and_duplicates_nothing() {
    let Some(pg) = shared() else { return };
    let (_t, dir, _url) = new_log(pg, None);
    let contract =
        cfr_contract::Contract::from_toml(&crate::util::sample_contract()).expect("contract");
    let mut a = crate::recorder_crash::Process::start(&dir);
    let b = crate::recorder_crash::Process::start(&dir);
    assert!(b.banner.contains("standby"), "{}", b.banner);
    let urls = format!("{},{}", a.addr, b.addr);
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Vec<Arc<Mutex<Seen>>> = (0..8).map(|_| Arc::default()).collect();
    let clients: Vec<_> = seen
        .iter()
        .enumerate()
        .map(|(c, seen)| {
            let (urls, stop, seen, contract) =
                (urls.clone(), stop.clone(), seen.clone(), contract.clone());
            std::thread::spawn(move || {
                let mut client = Client::for_contract(urls, &contract);
                client.timeout = Duration::from_secs(10);
                client.retries = 30;
                let party = if c % 2 == 0 { "provider" } else { "user" };
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    let sub = heartbeats(party, &format!("c{c}-{k}"), 1 + (k * 7 + c) % 20);
                    let ack = client
                        .submit(&sub)
                        .expect("every submission is acknowledged in the end");
                    let mut s = seen.lock().expect("seen");
                    for (i, r) in ack.events.iter().enumerate() {
                        let id = format!("{}#{i}", sub.id);
                        assert!(
                            s.acked.insert(id.clone(), *r).is_none(),
                            "{id} acknowledged twice"
                        );
                    }
                    s.checkpoints.push(ack.receipt.expect("receipt").checkpoint);
                    k += 1;
                }
            })
        })
        .collect();
    let before_kill = |seen: &[Arc<Mutex<Seen>>]| {
        seen.iter()
            .map(|s| s.lock().expect("seen").acked.len())
            .sum::<usize>()
    };
    let started = Instant::now();
    while before_kill(&seen) < 300 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "too slow before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill();
    let at_kill = before_kill(&seen);
    let started = Instant::now();
    while before_kill(&seen) < at_kill + 300 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the standby did not take over"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    drop(b);
    let seen: Vec<Seen> = seen
        .into_iter()
        .map(|s| std::mem::take(&mut *s.lock().expect("seen")))
        .collect();
    let total: usize = seen.iter().map(|s| s.acked.len()).sum();
    eprintln!("failover: {at_kill} events acknowledged before the kill, {total} in all");
    // Every client's submissions were acknowledged, so the log holds
    // exactly the acknowledged events.
    let size = check_log(&dir, &seen, true);
    assert_eq!(size, total as u64);
}

#[test]
fn a_database_that_goes_away_mid_append_fails_with_503_and_the_recorder_recovers() {
    // A cluster of its own: this test stops the server.
    let Some(pg) = Cluster::start() else { return };
    let (_t, dir, _url) = new_log(&pg, Some(1500));
    let contract =
        cfr_contract::Contract::from_toml(&crate::util::sample_contract()).expect("contract");
    let p = crate::recorder_crash::Process::start(&dir);
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Vec<Arc<Mutex<Seen>>> = (0..4).map(|_| Arc::default()).collect();
    let clients: Vec<_> = seen
        .iter()
        .enumerate()
        .map(|(c, seen)| {
            let (addr, stop, seen, contract) =
                (p.addr.clone(), stop.clone(), seen.clone(), contract.clone());
            std::thread::spawn(move || {
                let mut client = Client::for_contract(addr, &contract);
                client.retries = 0;
                client.timeout = Duration::from_secs(10);
                let mut k = 0;
                let mut pending: Option<SignedSubmission> = None;
                while !stop.load(Ordering::Relaxed) {
                    let sub = pending.take().unwrap_or_else(|| {
                        k += 1;
                        heartbeats("provider", &format!("c{c}-{k}"), 10)
                    });
                    match client.submit(&sub) {
                        Ok(ack) => {
                            let mut s = seen.lock().expect("seen");
                            for (i, r) in ack.events.iter().enumerate() {
                                let id = format!("{}#{i}", sub.id);
                                if let Some(prev) = s.acked.insert(id.clone(), *r) {
                                    assert_eq!((prev.seq, prev.leaf), (r.seq, r.leaf), "{id}");
                                }
                            }
                            s.checkpoints.push(ack.receipt.expect("receipt").checkpoint);
                        }
                        Err(cfr_recorder::client::ClientError::Server { status, message }) => {
                            assert_eq!(status, 503, "{message}");
                            seen.lock().expect("seen").unavailable.push(message);
                            // Not acknowledged: send it again, same id.
                            pending = Some(sub);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                // What was in flight at the end is sent until it is in.
                if let Some(sub) = pending {
                    client.retries = 40;
                    let ack = client.submit(&sub).expect("the last append");
                    let mut s = seen.lock().expect("seen");
                    for (i, r) in ack.events.iter().enumerate() {
                        s.acked.insert(format!("{}#{i}", sub.id), *r);
                    }
                }
            })
        })
        .collect();
    let count = |seen: &[Arc<Mutex<Seen>>]| -> (usize, usize) {
        let mut a = 0;
        let mut u = 0;
        for s in seen {
            let s = s.lock().expect("seen");
            a += s.acked.len();
            u += s.unavailable.len();
        }
        (a, u)
    };
    let wait_for = |what: &str, cond: &dyn Fn((usize, usize)) -> bool| {
        let started = Instant::now();
        while !cond(count(&seen)) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{what}: {:?}",
                count(&seen)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("appends before", &|(a, _)| a >= 200);
    // 1. The server freezes (SIGSTOP): calls time out.
    pg.freeze();
    let (_, u0) = count(&seen);
    wait_for("503 while frozen", &|(_, u)| u >= u0 + 4);
    pg.thaw();
    let (a1, _) = count(&seen);
    wait_for("appends after the thaw", &|(a, _)| a >= a1 + 200);
    // 2. The server crashes and comes back.
    pg.crash();
    let (_, u1) = count(&seen);
    wait_for("503 while down", &|(_, u)| u >= u1 + 4);
    std::thread::sleep(Duration::from_millis(500));
    pg.start_server();
    let (a2, _) = count(&seen);
    wait_for("appends after the restart", &|(a, _)| a >= a2 + 200);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    drop(p);
    let seen: Vec<Seen> = seen
        .into_iter()
        .map(|s| std::mem::take(&mut *s.lock().expect("seen")))
        .collect();
    let reasons: Vec<&String> = seen.iter().flat_map(|s| &s.unavailable).collect();
    let distinct: std::collections::BTreeSet<&str> = reasons.iter().map(|r| r.as_str()).collect();
    eprintln!("unreachable: {} answers 503: {distinct:#?}", reasons.len());
    // A commit that got no answer acknowledged nothing, and said so.
    assert!(
        reasons.iter().any(|r| r.contains("committing the batch")
            && r.contains("nothing of this request was acknowledged")),
        "{distinct:#?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("database")),
        "the 503s name the database: {reasons:?}"
    );
    // Everything acknowledged is there once; everything sent was in the
    // end acknowledged, so nothing else is.
    check_log(&dir, &seen, true);
}

/// Someone else moves the stored checkpoint (as a second sequencer
/// would): the recorder's next commit fails its compare-and-swap, rolls
/// back and acknowledges nothing; reloading finds a checkpoint that is not
/// the recorder's signature over the stored tree, and it signs nothing
/// over it.
#[test]
fn a_checkpoint_moved_behind_the_recorders_back_makes_it_stop_not_sign() {
    let Some(pg) = shared() else { return };
    let (_t, dir, url) = new_log(pg, None);
    let contract =
        cfr_contract::Contract::from_toml(&crate::util::sample_contract()).expect("contract");
    let log = open(&dir);
    for i in 0..2 {
        let sub = heartbeats("provider", &format!("m-{i}"), 5);
        log.append_signed(sub.verify(&contract).expect("verifies"))
            .expect("append");
    }
    assert_eq!(pg.psql(&url, "SELECT size FROM cfr_checkpoints"), "10");
    // The compare-and-swap refuses a checkpoint from a stale size, and one
    // of the same size over another tree.
    for (old, new) in [(5, 15), (10, 10)] {
        let out = Command::new(pg.bin.join("psql"))
            .args(["-X", "-q", &url, "-c"])
            .arg(format!(
                "SELECT cfr_advance_checkpoint('{CONTRACT_ID}', {old}, (SELECT root FROM cfr_checkpoints), {new}, decode(repeat('11', 32), 'hex'), 'x')"
            ))
            .output()
            .expect("psql");
        assert!(
            !out.status.success(),
            "the swap from {old} to {new} was taken"
        );
    }
    pg.psql(
        &url,
        "UPDATE cfr_checkpoints SET root = decode(repeat('00', 32), 'hex')",
    );
    let sub = heartbeats("provider", "m-2", 5);
    let e = log
        .append_signed(sub.clone().verify(&contract).expect("verifies"))
        .expect_err("the swap fails");
    assert!(
        matches!(&e, cfr_recorder::AppendError::Unavailable { reason } if reason.contains("another recorder advanced the log")),
        "{e}"
    );
    // (Its old session may hold the lock a moment longer: a standby then.)
    let started = Instant::now();
    let e = loop {
        let e = log
            .append_signed(sub.clone().verify(&contract).expect("verifies"))
            .expect_err("the reload refuses");
        if !matches!(e, cfr_recorder::AppendError::Standby { .. })
            || started.elapsed() > Duration::from_secs(10)
        {
            break e;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(e.to_string().contains("stored checkpoint"), "{e}");
    assert_eq!(pg.psql(&url, "SELECT count(*) FROM cfr_events"), "10");
    assert_eq!(log.checkpoint().expect("checkpoint").checkpoint().size, 10);
    drop(log);
    // The dropped recorder's session may still hold the lock a moment (on
    // a loaded machine: the server ends the session after the client has
    // gone): the new one is then a standby, which reads the log only once
    // it sequences, or is refused as `Locked`. Open again until it would
    // sequence.
    let started = Instant::now();
    let reopened = loop {
        let r = Recorder::open(
            &dir,
            RecorderOptions {
                key: Some(key("recorder")),
                ..RecorderOptions::default()
            },
        );
        let waiting = started.elapsed() < Duration::from_secs(10);
        match r {
            Ok(standby) if !standby.is_active() && waiting => {
                drop(standby);
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(cfr_recorder::OpenError::Locked { .. }) if waiting => {
                std::thread::sleep(Duration::from_millis(50));
            }
            r => break r,
        }
    };
    assert!(
        matches!(&reopened, Err(cfr_recorder::OpenError::Store { reason, .. }) if reason.contains("stored checkpoint")),
        "{:?}",
        reopened.err()
    );
}

/// `log append --url A --url B`: with A killed and B a standby, the
/// submissions reach B once it takes over.
#[test]
fn log_append_with_two_urls_reaches_the_recorder_that_took_over() {
    let Some(pg) = shared() else { return };
    let (_t, dir, _url) = new_log(pg, None);
    let mut a = crate::recorder_crash::Process::start(&dir);
    let b = crate::recorder_crash::Process::start(&dir);
    assert!(b.banner.contains("standby"), "{}", b.banner);
    a.kill();
    let receipts = dir.parent().expect("parent").join("receipts");
    let (code, out, err) = crate::util::run(
        crate::util::log_append("live-1.jsonl", &[&a.addr, &b.addr])
            .arg("--receipts")
            .arg(&receipts),
    );
    assert_eq!(code, 0, "{out}{err}");
    let lines = out.lines().count();
    assert!(lines > 10, "{out}");
    let mut c = Client::new(b.addr.clone());
    assert_eq!(c.size().expect("size"), lines as u64);
}

/// Witnesses that cosign whatever they are shown, counting the sizes.
struct CountingWitness(Mutex<Vec<u64>>);

impl cfr_recorder::Cosigner for CountingWitness {
    fn cosign(
        &self,
        checkpoint: &SignedCheckpoint,
        _old_size: u64,
        _proof: &[cfr_merkle::Hash],
        _proof_for: &(dyn Fn(u64) -> Result<Vec<cfr_merkle::Hash>, String> + Sync),
    ) -> Result<SignedCheckpoint, String> {
        self.0
            .lock()
            .expect("sizes")
            .push(checkpoint.checkpoint().size);
        Ok(checkpoint.clone())
    }
}

/// With witnesses, the events are committed before the checkpoint is
/// shown to them, and it is swapped in after: every size a witness saw
/// is stored, and the receipts carry those checkpoints.
#[test]
fn with_witnesses_the_checkpoint_is_cosigned_after_the_events_are_committed() {
    let Some(pg) = shared() else { return };
    let (_t, dir, url) = new_log(pg, None);
    let contract =
        cfr_contract::Contract::from_toml(&crate::util::sample_contract()).expect("contract");
    let witness = Arc::new(CountingWitness(Mutex::new(Vec::new())));
    let log = Recorder::open(
        &dir,
        RecorderOptions {
            key: Some(key("recorder")),
            cosigner: Some(witness.clone()),
            ..RecorderOptions::default()
        },
    )
    .expect("open");
    for i in 0..3 {
        let sub = heartbeats("provider", &format!("w-{i}"), 4);
        let ack = log
            .append_signed(sub.verify(&contract).expect("verifies"))
            .expect("append");
        let cp = verified_checkpoint(&ack.receipt.expect("receipt").checkpoint);
        assert_eq!(cp.size, 4 * (i + 1));
        assert_eq!(
            pg.psql(&url, "SELECT size FROM cfr_checkpoints"),
            cp.size.to_string()
        );
    }
    assert_eq!(*witness.0.lock().expect("sizes"), vec![4, 8, 12]);
}

/// `log init --store postgres://... --objects URL`, as design section 15
/// has it: the sequencing recorder publishes the log as tiles; when it is
/// killed, the standby that takes over goes on publishing from the
/// database, and the tiles verify at every size.
#[test]
fn the_recorder_that_takes_over_goes_on_publishing_the_tiles() {
    let Some(pg) = shared() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let objects = format!("file://{}", tmp.path().join("objects").display());
    let s = crate::util::sample_dir();
    let (code, out, err) = crate::util::run(
        crate::util::cfr()
            .args(["log", "init"])
            .arg(&dir)
            .arg("--contract")
            .arg(s.join("contract.toml"))
            .args(["--store", &pg.database(), "--objects", &objects]),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("in PostgreSQL") && out.contains("published as tiles"),
        "{out}"
    );
    let append =
        |urls: &[&str], file: &str| crate::util::run(&mut crate::util::log_append(file, urls));
    let published = |size: u64, by: &mut crate::recorder_crash::Process| {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (code, out, err) = crate::util::run(
                crate::util::cfr()
                    .args(["log", "tiles", "verify", &objects, "--contract"])
                    .arg(s.join("contract.toml")),
            );
            if code == 0 && out.contains(&format!(" size {size} root ")) {
                return;
            }
            if Instant::now() > deadline {
                let said = by.kill_and_read_stderr();
                panic!("size {size} never published: {out}{err}\nthe recorder said:\n{said}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let mut a = crate::recorder_crash::Process::start(&dir);
    assert!(
        a.banner.contains("publishing tiles to file://"),
        "{}",
        a.banner
    );
    let mut b = crate::recorder_crash::Process::start(&dir);
    assert!(b.banner.contains("standby"), "{}", b.banner);
    let (code, out, err) = append(&[&a.addr], "live-1.jsonl");
    assert_eq!(code, 0, "{out}{err}");
    published(40, &mut a);
    a.kill();
    // The submissions reach B once it takes over (A's URL first: refused).
    let (code, out, err) = append(&[&a.addr, &b.addr], "live-2.jsonl");
    assert_eq!(code, 0, "{out}{err}");
    published(60, &mut b);
    // B proved its tree extends what A published, and read only the
    // events after it from the database.
    let said = b.kill_and_read_stderr();
    assert!(
        said.contains("published tiles up to size 60") && said.contains("events read from seq 40;"),
        "{said}"
    );
}
