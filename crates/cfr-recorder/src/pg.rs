//! The PostgreSQL store: one contract's log in a PostgreSQL database,
//! served by one or more recorder processes, one of which sequences at a
//! time.
//!
//! `cfr-bundle log init DIR --contract C --store postgres://USER@HOST:PORT/DB`
//! ([`init`]) creates the tables ([`SCHEMA`], idempotent; several
//! contracts may share a database) and writes `DIR/contract.toml` and
//! `DIR/store.toml` ([`STORE_FILE`]), which names the URL **without its
//! password**: the password comes from `PGPASSWORD` (or a URL that holds
//! one, at init only), and is never written, printed or logged. `log
//! serve DIR`, `log seal DIR`, `log checkpoint DIR` and
//! [`Recorder::open`](crate::Recorder::open) then work as with a log
//! directory.
//!
//! # What a group commit is
//!
//! One transaction: the batch's events (`cfr_events`: seq, time, leaf
//! hash, canonical CBOR; unique by contract and seq), its signed
//! submissions (`cfr_submissions`: party, id, first seq, count, digest,
//! COSE signature; unique by contract, party and id) and the checkpoint
//! signed over the tree the batch makes, stored with compare-and-swap
//! (`cfr_advance_checkpoint`: the row changes only where its size and
//! root are the previous checkpoint's, else the transaction fails). The
//! receipts are returned only after `COMMIT` returned; the checkpoint is
//! published (served, in receipts) only then. A commit whose outcome is
//! unknown (a timeout, a lost connection) acknowledges nothing, and the
//! process reloads the log from the database before it sequences again;
//! a retry of the same submission then gets its original events if the
//! commit did land. With witnesses (a [`Cosigner`](crate::Cosigner)), the
//! events are committed first and the checkpoint signed, cosigned and
//! swapped in after, so no witness ever sees a tree that was not stored.
//!
//! # One sequencer
//!
//! A recorder sequences only while it holds the contract's session-level
//! advisory lock (`pg_try_advisory_lock` on a key derived from the
//! contract id) **on the very connection it writes through**: if that
//! session ends (the process dies, the network or the server goes away),
//! the lock is gone and so is every transaction it had open, so no write
//! can commit without the lock. Other processes wait as standbys: they
//! answer appends with `503` ([`crate::AppendError::Standby`]),
//! try the lock every [`POLL`], and take over, reloading the whole log from the
//! database, when it is released. The unique keys and the checkpoint's
//! compare-and-swap hold even against a process that wrote without the
//! lock: a stale sequencer's insert or swap fails, it stops appending and
//! reloads. So two processes never sign inconsistent checkpoints: every
//! checkpoint is signed over a tree whose every event is stored, in seq
//! order, by the one sequence of commits the checkpoint row records.
//!
//! # What the operator chooses
//!
//! Durability is PostgreSQL's: the recorder forces `synchronous_commit`
//! on for its sessions when the server default is `off`, so a commit has
//! reached the server's WAL on disk. Whether it has also reached a
//! standby server is the operator's choice: configure synchronous
//! replication (`synchronous_standby_names`, and `synchronous_commit =
//! on` or `remote_apply`) to survive the loss of the primary's disk.
//! Connect directly, not through a transaction-pooling proxy (the lock is
//! a session's). A host that vanishes without closing its connections
//! keeps the lock until the server notices: set the server's
//! `tcp_keepalives_idle` (and `_interval`, `_count`) to bound that.
//! Connections are plain TCP or Unix sockets (loopback, a private
//! network, or a TLS-terminating proxy); TLS to the server is not built in.

use crate::error::{AppendError, CheckpointError, InitError, OpenError, ReadError};
use crate::recorder::{read_contract, write_atomically, Index, Span, CONTRACT_FILE};
use crate::store::{Batch, Loaded, Prev, Role, Store};
use cfr_bundle_format::submission::Entry;
use cfr_contract::Contract;
use cfr_merkle::SignedCheckpoint;
use cfr_model::Event;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

/// The store configuration inside a log directory that lives in
/// PostgreSQL (its absence means the directory is the log).
pub const STORE_FILE: &str = "store.toml";

/// How often a standby (or a recorder whose database is gone) tries the
/// sequencer lock (or the database) again.
pub const POLL: Duration = Duration::from_millis(200);

/// Default deadline of every database call, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The tables, created by [`init`] (idempotent). Events, submissions and
/// contracts are append-only in the database too: a trigger refuses
/// `UPDATE`, `DELETE` and `TRUNCATE` on them.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS cfr_contracts (
    id text PRIMARY KEY,
    toml text NOT NULL
);
CREATE TABLE IF NOT EXISTS cfr_events (
    contract text NOT NULL,
    seq int8 NOT NULL CHECK (seq >= 0),
    time int8 NOT NULL,
    leaf bytea NOT NULL CHECK (length(leaf) = 32),
    id text,
    id_digest bytea,
    cbor bytea NOT NULL,
    PRIMARY KEY (contract, seq)
);
CREATE TABLE IF NOT EXISTS cfr_submissions (
    contract text NOT NULL,
    party text NOT NULL,
    id text NOT NULL,
    first int8 NOT NULL,
    count int8 NOT NULL CHECK (count > 0),
    digest bytea NOT NULL,
    sig bytea NOT NULL,
    PRIMARY KEY (contract, party, id),
    UNIQUE (contract, first)
);
CREATE TABLE IF NOT EXISTS cfr_checkpoints (
    contract text PRIMARY KEY REFERENCES cfr_contracts (id),
    size int8 NOT NULL,
    root bytea NOT NULL,
    note text
);
CREATE OR REPLACE FUNCTION cfr_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cfr: % is append-only', TG_TABLE_NAME;
END $$;
CREATE OR REPLACE TRIGGER cfr_events_append_only BEFORE UPDATE OR DELETE ON cfr_events
    FOR EACH ROW EXECUTE FUNCTION cfr_append_only();
CREATE OR REPLACE TRIGGER cfr_events_no_truncate BEFORE TRUNCATE ON cfr_events
    FOR EACH STATEMENT EXECUTE FUNCTION cfr_append_only();
CREATE OR REPLACE TRIGGER cfr_submissions_append_only BEFORE UPDATE OR DELETE ON cfr_submissions
    FOR EACH ROW EXECUTE FUNCTION cfr_append_only();
CREATE OR REPLACE TRIGGER cfr_submissions_no_truncate BEFORE TRUNCATE ON cfr_submissions
    FOR EACH STATEMENT EXECUTE FUNCTION cfr_append_only();
CREATE OR REPLACE TRIGGER cfr_contracts_append_only BEFORE UPDATE OR DELETE ON cfr_contracts
    FOR EACH ROW EXECUTE FUNCTION cfr_append_only();
CREATE OR REPLACE FUNCTION cfr_advance_checkpoint(
    c text, old_size int8, old_root bytea, new_size int8, new_root bytea, new_note text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF new_size < old_size OR (new_size = old_size AND new_root <> old_root) THEN
        RAISE EXCEPTION 'cfr: a checkpoint of size % cannot follow one of size % over another tree', new_size, old_size
            USING ERRCODE = 'CFR01';
    END IF;
    UPDATE cfr_checkpoints SET size = new_size, root = new_root, note = new_note
        WHERE contract = c AND size = old_size AND root = old_root;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'cfr: the latest checkpoint of % is no longer of size %: another recorder advanced the log', c, old_size
            USING ERRCODE = 'CFR01';
    END IF;
END $$;
"#;

/// The SQLSTATE of a failed compare-and-swap.
const CAS_FAILED: &str = "CFR01";

/// A log directory's PostgreSQL store, as `store.toml` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// The connection URL (or key=value string), without a password.
    pub url: String,
    /// Deadline of every database call.
    pub timeout: Duration,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreToml {
    format: String,
    postgres: String,
    timeout_ms: Option<u64>,
}

/// Reads `dir/store.toml`: `None` when there is none (a file-store log).
pub fn read_config(dir: &Path) -> Result<Option<PgConfig>, OpenError> {
    let path = dir.join(STORE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OpenError::Io { path, source }),
    };
    let bad = |reason: String| OpenError::StoreConfig {
        path: path.clone(),
        reason,
    };
    let t: StoreToml = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if t.format != "cfr-store/1" {
        return Err(bad(format!("format {:?} is not cfr-store/1", t.format)));
    }
    let (url, had_password) = redact(&t.postgres);
    if had_password {
        return Err(bad(
            "the URL holds a password; remove it and set PGPASSWORD".into(),
        ));
    }
    Ok(Some(PgConfig {
        url,
        timeout: t
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
            .max(Duration::from_millis(50)),
    }))
}

/// The connection string without its password, and whether it had one:
/// `postgres://user:secret@host/db` gives `postgres://user@host/db`;
/// `host=h password=secret` gives `host=h`.
pub fn redact(url: &str) -> (String, bool) {
    if let Some(at) = url.find("://") {
        let rest = &url[at + 3..];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..auth_end];
        if let Some(user_end) = authority.rfind('@') {
            let userinfo = &authority[..user_end];
            if let Some(colon) = userinfo.find(':') {
                let out = format!(
                    "{}{}{}",
                    &url[..at + 3],
                    &userinfo[..colon],
                    &rest[user_end..]
                );
                let (out, _) = redact_query(&out);
                return (out, true);
            }
        }
        return redact_query(url);
    }
    let mut had = false;
    let kept: Vec<&str> = url
        .split_whitespace()
        .filter(|kv| {
            let secret = kv.trim_start().to_ascii_lowercase().starts_with("password");
            had |= secret;
            !secret
        })
        .collect();
    (kept.join(" "), had)
}

/// Drops a `password=` query parameter from a URL.
fn redact_query(url: &str) -> (String, bool) {
    let Some(q) = url.find('?') else {
        return (url.to_owned(), false);
    };
    let mut had = false;
    let params: Vec<&str> = url[q + 1..]
        .split('&')
        .filter(|p| {
            let secret = p.to_ascii_lowercase().starts_with("password=");
            had |= secret;
            !secret
        })
        .collect();
    let mut out = url[..q].to_owned();
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    (out, had)
}

/// The driver's configuration: the URL, the password from `password`
/// (an init URL's) or `PGPASSWORD`, the deadline, keepalives.
fn driver_config(
    url: &str,
    password: Option<String>,
    timeout: Duration,
) -> Result<tokio_postgres::Config, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
    if config.get_password().is_none() {
        if let Some(p) = password.or_else(|| std::env::var("PGPASSWORD").ok()) {
            config.password(p);
        }
    }
    config
        .application_name("cfr-recorder")
        .connect_timeout(timeout)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10));
    Ok(config)
}

/// The key of a contract's sequencer lock.
fn lock_key(contract_id: &str) -> i64 {
    let d = Sha256::digest(format!("cfr-recorder/1 sequencer\n{contract_id}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// A lock that serialises schema creation across concurrent inits.
const SCHEMA_LOCK: i64 = 0x6366_725f_7363_6865; // "cfr_sche"

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    // One worker keeps the connection polled between calls, so a closed
    // connection is noticed and a dropped one really closes its socket
    // (which is what releases the lock).
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("cfr-recorder-pg")
        .enable_all()
        .build()
        .map_err(|e| format!("starting the database runtime: {e}"))
}

/// Text of a driver error, with the server's message when there is one.
fn db_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut s = e.to_string();
            if let Some(src) = std::error::Error::source(e) {
                let src = src.to_string();
                if !s.contains(&src) {
                    s = format!("{s}: {src}");
                }
            }
            s
        }
    }
}

fn is_cas_or_unique(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| *c == SqlState::UNIQUE_VIOLATION || c.code() == CAS_FAILED)
}

/// Creates a log in the PostgreSQL database at `url`, bound to the
/// contract `contract_toml`: the tables if missing, the contract's row
/// (or, if the database holds this contract id already, a check that it
/// is the same contract, so that a second recorder's directory can be
/// made for one log), and the directory `dir` with `contract.toml` and
/// `store.toml` (the URL without its password). Returns the URL as
/// written. The password is taken from the URL or `PGPASSWORD` and never
/// written.
pub fn init(dir: &Path, contract_toml: &str, url: &str) -> Result<PgConfig, InitError> {
    let contract = Contract::from_toml(contract_toml)?;
    let (clean, _) = redact(url);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(InitError::NotEmpty {
                path: dir.to_owned(),
            });
        }
    }
    let bad_url = |reason: String| InitError::StoreUrl {
        url: clean.clone(),
        reason,
    };
    let given: tokio_postgres::Config = url.parse().map_err(|e| bad_url(format!("{e}")))?;
    let password = given
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let config = driver_config(url, password, DEFAULT_TIMEOUT).map_err(bad_url)?;
    let store_err = |reason: String| InitError::Store {
        url: clean.clone(),
        reason,
    };
    let rt = runtime().map_err(store_err)?;
    let id = contract.id.clone();
    let toml_text = contract_toml.to_owned();
    let stored: Result<(), String> = on_plain_thread(|| {
        rt.block_on(async {
            let (mut client, conn) = tokio::time::timeout(DEFAULT_TIMEOUT, config.connect(NoTls))
                .await
                .map_err(|_| "no answer from the database".to_owned())?
                .map_err(|e| db_text(&e))?;
            let task = tokio::spawn(conn);
            let r = async {
                let tx = client.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                    .await?;
                tx.batch_execute(SCHEMA).await?;
                tx.execute(
                    "INSERT INTO cfr_contracts (id, toml) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                    &[&id, &toml_text],
                )
                .await?;
                tx.execute(
                    "INSERT INTO cfr_checkpoints (contract, size, root, note) VALUES ($1, 0, $2, NULL) ON CONFLICT (contract) DO NOTHING",
                    &[&id, &cfr_merkle::empty_root().as_slice()],
                )
                .await?;
                let row = tx
                    .query_one("SELECT toml FROM cfr_contracts WHERE id = $1", &[&id])
                    .await?;
                let held: String = row.get(0);
                tx.commit().await?;
                Ok::<_, tokio_postgres::Error>(held)
            }
            .await;
            drop(client);
            let _ = task.await;
            let held = r.map_err(|e| db_text(&e))?;
            if held != toml_text {
                return Err(format!(
                    "the database holds a log of contract {id:?} bound to other terms than this contract.toml; one contract id, one log"
                ));
            }
            Ok(())
        })
    });
    stored.map_err(store_err)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_atomically(&dir.join(CONTRACT_FILE), contract_toml.as_bytes()).map_err(io(dir))?;
    let store = format!(
        "# This log lives in PostgreSQL (cfr-bundle log init --store). The password\n\
         # is not kept here: the recorder takes it from PGPASSWORD.\n\
         format = \"cfr-store/1\"\n\
         postgres = {}\n",
        toml::Value::String(clean.clone())
    );
    write_atomically(&dir.join(STORE_FILE), store.as_bytes()).map_err(io(dir))?;
    Ok(PgConfig {
        url: clean,
        timeout: DEFAULT_TIMEOUT,
    })
}

/// Runs `f` on a thread that is not inside an async runtime (a runtime
/// cannot be blocked on from one): a scoped thread when the caller is.
fn on_plain_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(t) => t,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The prepared statements of a session.
struct Statements {
    events: Statement,
    subs: Statement,
    advance: Statement,
}

/// One connection, and whether it holds the sequencer lock.
struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
    statements: Statements,
    locked: bool,
}

/// The writer side of a PostgreSQL store.
pub(crate) struct PgStore {
    rt: tokio::runtime::Runtime,
    config: tokio_postgres::Config,
    timeout: Duration,
    contract_id: String,
    contract_toml: String,
    lock_key: i64,
    session: Option<Session>,
    /// Where the index's files go (the log directory).
    dir: std::path::PathBuf,
}

impl PgStore {
    /// Connects, takes the sequencer lock if it is free, and loads the
    /// log. Returns whether it holds the lock; without it, with
    /// `standby`, the log as stored now; else [`OpenError::Locked`].
    pub(crate) fn open(
        dir: &Path,
        config: PgConfig,
        contract: &Contract,
        contract_toml: &str,
        standby: bool,
    ) -> Result<(PgStore, Loaded, bool), OpenError> {
        let store_err = |reason: String| OpenError::Store {
            url: config.url.clone(),
            reason,
        };
        let driver = driver_config(&config.url, None, config.timeout).map_err(store_err)?;
        let mut store = PgStore {
            rt: runtime().map_err(store_err)?,
            config: driver,
            timeout: config.timeout,
            contract_id: contract.id.clone(),
            contract_toml: contract_toml.to_owned(),
            lock_key: lock_key(&contract.id),
            session: None,
            dir: dir.to_owned(),
        };
        on_plain_thread(move || {
            store.connect().map_err(store_err)?;
            let locked = store.try_lock().map_err(store_err)?;
            if !locked && !standby {
                store.drop_session();
                return Err(OpenError::Locked {
                    path: dir.join(STORE_FILE),
                });
            }
            let loaded = store.load(contract).map_err(store_err)?;
            Ok((store, loaded, locked))
        })
    }

    /// Runs `f` against the database within the deadline.
    fn call<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        let timeout = self.timeout;
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, f).await })
        {
            Ok(Ok(t)) => Ok(t),
            Ok(Err(e)) => Err(Failure {
                text: format!("{what}: {}", db_text(&e)),
                advanced: is_cas_or_unique(&e),
            }),
            Err(_) => Err(Failure {
                text: format!("{what}: no answer from the database within {timeout:?}"),
                advanced: false,
            }),
        }
    }

    fn connect(&mut self) -> Result<(), String> {
        self.drop_session();
        let timeout = self.timeout;
        let connect = self.config.connect(NoTls);
        let (client, conn) = match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, connect).await })
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("connecting: {}", db_text(&e))),
            Err(_) => return Err(format!("connecting: no answer within {timeout:?}")),
        };
        let task = self.rt.spawn(async move {
            let _ = conn.await;
        });
        let setup = async {
            // Durability is the server's WAL on disk: never acknowledge
            // on a commit that the server did not flush.
            let sc = client.query_one("SHOW synchronous_commit", &[]).await?;
            let sc: String = sc.get(0);
            if sc == "off" {
                client.batch_execute("SET synchronous_commit = on").await?;
            }
            let events = client
                .prepare(
                    "INSERT INTO cfr_events (contract, seq, time, leaf, id, id_digest, cbor) \
                     SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::bytea[], $5::text[], $6::bytea[], $7::bytea[])",
                )
                .await?;
            let subs = client
                .prepare(
                    "INSERT INTO cfr_submissions (contract, party, id, first, count, digest, sig) \
                     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::bytea[], $7::bytea[])",
                )
                .await?;
            let advance = client
                .prepare("SELECT cfr_advance_checkpoint($1, $2, $3, $4, $5, $6)")
                .await?;
            Ok(Statements {
                events,
                subs,
                advance,
            })
        };
        match self.call("preparing the session", setup) {
            Ok(statements) => {
                self.session = Some(Session {
                    client,
                    task,
                    statements,
                    locked: false,
                });
                Ok(())
            }
            Err(f) => {
                task.abort();
                Err(f.text)
            }
        }
    }

    /// Closes the session (releasing the lock with it) and waits until
    /// its socket is closed.
    fn drop_session(&mut self) {
        if let Some(s) = self.session.take() {
            drop(s.client);
            s.task.abort();
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(1), s.task).await });
        }
    }

    fn try_lock(&mut self) -> Result<bool, String> {
        let key = self.lock_key;
        let Some(s) = &self.session else {
            return Err("not connected".into());
        };
        let got = self
            .call("taking the sequencer lock", async {
                let row = s
                    .client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                    .await?;
                Ok(row.get::<_, bool>(0))
            })
            .map_err(|f| f.text)?;
        if let Some(s) = &mut self.session {
            s.locked = got;
        }
        Ok(got)
    }

    /// Loads the whole log in one snapshot and checks it: the contract
    /// is this directory's, seqs run from 0 without a gap, every leaf is
    /// the hash of its event's CBOR, times never decrease, every
    /// submission lies within the log, and the stored checkpoint is the
    /// recorder's signature over the tree's root at its size.
    fn load(&mut self, contract: &Contract) -> Result<Loaded, String> {
        let timeout = self.timeout;
        let id = self.contract_id.clone();
        let toml_text = self.contract_toml.clone();
        let mut index = Index::new(&self.dir)
            .map_err(|e| format!("the index's files in {}: {e}", self.dir.display()))?;
        let Some(s) = &mut self.session else {
            return Err("not connected".into());
        };
        let client = &mut s.client;
        let work = async move {
            let deadline =
                |what: &'static str| move |_| format!("{what}: no answer within {timeout:?}");
            let t = |e: tokio_postgres::Error| db_text(&e);
            let tx = tokio::time::timeout(
                timeout,
                client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start(),
            )
            .await
            .map_err(deadline("starting the snapshot"))?
            .map_err(t)?;
            let q = |sql: &'static str| {
                let tx = &tx;
                let id = id.clone();
                async move {
                    tokio::time::timeout(timeout, tx.query(sql, &[&id]))
                        .await
                        .map_err(|_| format!("reading: no answer within {timeout:?}"))?
                        .map_err(|e| db_text(&e))
                }
            };
            let held = q("SELECT toml FROM cfr_contracts WHERE id = $1").await?;
            let Some(row) = held.first() else {
                return Err(format!(
                    "the database holds no log of contract {id:?} (run cfr-bundle log init --store)"
                ));
            };
            if row.get::<_, String>(0) != toml_text {
                return Err(format!(
                    "the database's log of contract {id:?} is bound to other terms than this directory's contract.toml"
                ));
            }
            let cps = q("SELECT size, root, note FROM cfr_checkpoints WHERE contract = $1").await?;
            let checkpoint = match cps.first() {
                None => return Err("the log has no checkpoint row".into()),
                Some(row) => {
                    let size: i64 = row.get(0);
                    let root: Vec<u8> = row.get(1);
                    let note: Option<String> = row.get(2);
                    match note {
                        None => None,
                        Some(note) => {
                            let signed = verified_checkpoint(contract, &note)?;
                            let c = signed.checkpoint();
                            if c.size != size as u64 || c.root.as_slice() != root.as_slice() {
                                return Err(format!(
                                    "the stored checkpoint's columns (size {size}) are not its signed note's (size {})",
                                    c.size
                                ));
                            }
                            Some(signed)
                        }
                    }
                }
            };
            let portal = tx
                .bind(
                    "SELECT seq, time, leaf, id, id_digest, cbor FROM cfr_events WHERE contract = $1 ORDER BY seq",
                    &[&id],
                )
                .await
                .map_err(t)?;
            let mut last_time = i64::MIN;
            let index_error = |e: std::io::Error| format!("the recorder's retry index: {e}");
            // Events by client id, added to the retry index a batch of rows
            // at a time.
            let mut ids: Vec<(String, u64, [u8; 16])> = Vec::new();
            loop {
                let rows = tokio::time::timeout(timeout, tx.query_portal(&portal, 20_000))
                    .await
                    .map_err(deadline("reading events"))?
                    .map_err(t)?;
                if rows.is_empty() {
                    break;
                }
                for row in rows {
                    let seq: i64 = row.get(0);
                    let time: i64 = row.get(1);
                    let leaf: &[u8] = row.get(2);
                    let rid: Option<&str> = row.get(3);
                    let digest: Option<&[u8]> = row.get(4);
                    let cbor: &[u8] = row.get(5);
                    let expected = index.tree.size();
                    if seq as u64 != expected {
                        return Err(format!(
                            "the log holds seq {seq} where seq {expected} should be: events are missing"
                        ));
                    }
                    let h = cfr_merkle::leaf_hash(cbor);
                    if h.as_slice() != leaf {
                        return Err(format!(
                            "event {seq}: its stored leaf hash is not the hash of its stored CBOR"
                        ));
                    }
                    if time < last_time {
                        return Err(format!(
                            "event {seq}: its time is before the previous event's"
                        ));
                    }
                    last_time = time;
                    index
                        .push(h, time)
                        .map_err(|e| format!("the recorder's index: {e}"))?;
                    if let (Some(rid), Some(d)) = (rid, digest) {
                        let d: [u8; 16] = d
                            .try_into()
                            .map_err(|_| format!("event {seq}: id digest is not 16 bytes"))?;
                        ids.push((rid.to_owned(), seq as u64, d));
                    }
                }
                index
                    .retries
                    .add_ids(ids.iter().map(|(id, seq, d)| (id.as_str(), *seq, *d)))
                    .map_err(index_error)?;
                ids.clear();
            }
            let size = index.tree.size();
            let portal = tx
                .bind(
                    "SELECT party, id, first, count, digest FROM cfr_submissions WHERE contract = $1",
                    &[&id],
                )
                .await
                .map_err(t)?;
            loop {
                let rows = tokio::time::timeout(timeout, tx.query_portal(&portal, 20_000))
                    .await
                    .map_err(deadline("reading submissions"))?
                    .map_err(t)?;
                if rows.is_empty() {
                    break;
                }
                let mut subs = Vec::with_capacity(rows.len());
                for row in rows {
                    let party: String = row.get(0);
                    let sid: String = row.get(1);
                    let first: i64 = row.get(2);
                    let count: i64 = row.get(3);
                    let digest: &[u8] = row.get(4);
                    let digest: [u8; 32] = digest.try_into().map_err(|_| {
                        format!("submission {sid:?} of the {party}: digest is not 32 bytes")
                    })?;
                    if first < 0 || count <= 0 || (first + count) as u64 > size {
                        return Err(format!(
                        "submission {sid:?} of the {party} holds seqs {first}..{} but the log holds {size} events",
                        first + count
                    ));
                    }
                    subs.push((
                        crate::recorder::sub_key(&party, &sid),
                        Span {
                            first: first as u64,
                            count: count as u64,
                            digest,
                        },
                    ));
                }
                index
                    .retries
                    .add_subs(subs.iter().map(|(k, s)| (k, *s)))
                    .map_err(index_error)?;
            }
            tx.commit().await.map_err(t)?;
            if let Some(cp) = &checkpoint {
                let c = cp.checkpoint();
                if c.size > size {
                    return Err(format!(
                        "the last signed checkpoint covers {} events but the log holds {size}: acknowledged events are missing",
                        c.size
                    ));
                }
                if index.tree.root_at(c.size).ok() != Some(c.root) {
                    return Err(format!(
                        "the log's Merkle root at size {} is not the root of the last signed checkpoint: the log was altered",
                        c.size
                    ));
                }
            }
            Ok(Loaded { index, checkpoint })
        };
        let r = self.rt.block_on(work);
        if r.is_err() {
            self.drop_session();
        }
        r
    }

    fn require_lock(&self) -> Result<&Session, String> {
        match &self.session {
            Some(s) if s.locked && !s.client.is_closed() => Ok(s),
            Some(_) => Err("the connection to the database was lost".into()),
            None => Err("not connected to the database".into()),
        }
    }

    /// After a failed call: the session is closed (so the lock is
    /// released and any open transaction rolled back), and the next
    /// batch reconnects and reloads.
    fn fail(&mut self, f: &Failure) -> String {
        self.drop_session();
        if f.advanced {
            format!(
                "{}; this recorder stopped appending and reloads the log",
                f.text
            )
        } else {
            format!(
                "{}; nothing of this request was acknowledged (retry with the same submission id)",
                f.text
            )
        }
    }
}

/// A failed database call.
struct Failure {
    text: String,
    /// A unique key or the checkpoint's compare-and-swap refused it:
    /// another process advanced the log.
    advanced: bool,
}

fn verified_checkpoint(contract: &Contract, note: &str) -> Result<SignedCheckpoint, String> {
    let signed = SignedCheckpoint::parse(note.as_bytes())
        .map_err(|e| format!("the stored checkpoint is invalid: {e}"))?;
    let origin = cfr_bundle_format::seal::origin(&contract.id);
    let cp = signed
        .verify(&origin, &contract.parties.recorder.key.0)
        .map_err(|e| format!("the stored checkpoint is invalid: {e}"))?;
    if cp.origin != origin {
        return Err(format!(
            "the stored checkpoint's origin {:?} is not {origin:?}",
            cp.origin
        ));
    }
    Ok(signed)
}

impl Store for PgStore {
    fn wants_rows(&self) -> bool {
        true
    }

    fn checkpoint_in_commit(&self) -> bool {
        true
    }

    fn poll_interval(&self) -> Duration {
        POLL
    }

    fn activate(&mut self, contract: &Contract) -> Role {
        if let Some(s) = &self.session {
            if s.client.is_closed() {
                self.drop_session();
            } else if s.locked {
                return Role::Active(None);
            }
        }
        if self.session.is_none() {
            if let Err(e) = self.connect() {
                return Role::Unreachable(e);
            }
        }
        match self.try_lock() {
            Err(e) => {
                self.drop_session();
                Role::Unreachable(e)
            }
            Ok(false) => Role::Standby(format!(
                "another recorder sequences the log of contract {:?} (it holds the sequencer lock in the database); send to another of the log's recorders, or retry",
                self.contract_id
            )),
            Ok(true) => match self.load(contract) {
                Ok(loaded) => Role::Active(Some(Box::new(loaded))),
                Err(e) => Role::Unreachable(format!("reloading the log: {e}")),
            },
        }
    }

    fn commit(
        &mut self,
        batch: &Batch<'_>,
        checkpoint: Option<(Prev, &SignedCheckpoint)>,
    ) -> Result<(), AppendError> {
        let session = self
            .require_lock()
            .map_err(|reason| AppendError::Unavailable { reason })?;
        let id = &self.contract_id;
        let rows = batch.rows;
        debug_assert_eq!(rows.len() as u64, batch.end - batch.first);
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq as i64).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.time).collect();
        let leaves: Vec<&[u8]> = rows.iter().map(|r| r.leaf.as_slice()).collect();
        let ids: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.id.as_ref().map(|(i, _)| i.as_str()))
            .collect();
        let id_digests: Vec<Option<&[u8]>> = rows
            .iter()
            .map(|r| r.id.as_ref().map(|(_, d)| d.as_slice()))
            .collect();
        let cbors: Vec<&[u8]> = rows.iter().map(|r| r.cbor.as_slice()).collect();
        let e = batch.entries;
        let parties: Vec<&str> = e.iter().map(|(x, _)| x.party.as_str()).collect();
        let sub_ids: Vec<&str> = e.iter().map(|(x, _)| x.id.as_str()).collect();
        let firsts: Vec<i64> = e.iter().map(|(x, _)| x.first as i64).collect();
        let counts: Vec<i64> = e.iter().map(|(x, _)| x.count as i64).collect();
        let digests: Vec<&[u8]> = e.iter().map(|(_, d)| d.as_slice()).collect();
        let sigs: Vec<&[u8]> = e.iter().map(|(x, _)| x.sig.as_slice()).collect();
        let cp = checkpoint.map(|((old_size, old_root), cp)| {
            (
                old_size as i64,
                old_root,
                cp.checkpoint().size as i64,
                cp.checkpoint().root,
                cp.to_note(),
            )
        });
        let client = &session.client;
        let st = &session.statements;
        let work = async {
            client.batch_execute("BEGIN").await?;
            client
                .execute(
                    &st.events,
                    &[&id, &seqs, &times, &leaves, &ids, &id_digests, &cbors],
                )
                .await?;
            if !e.is_empty() {
                client
                    .execute(
                        &st.subs,
                        &[&id, &parties, &sub_ids, &firsts, &counts, &digests, &sigs],
                    )
                    .await?;
            }
            if let Some((old_size, old_root, size, root, note)) = &cp {
                client
                    .execute(
                        &st.advance,
                        &[
                            &id,
                            old_size,
                            &old_root.as_slice(),
                            size,
                            &root.as_slice(),
                            note,
                        ],
                    )
                    .await?;
            }
            client.batch_execute("COMMIT").await
        };
        match self.call("committing the batch", work) {
            Ok(()) => Ok(()),
            Err(f) => {
                let reason = self.fail(&f);
                Err(AppendError::Unavailable { reason })
            }
        }
    }

    fn store_checkpoint(
        &mut self,
        (old_size, old_root): Prev,
        checkpoint: &SignedCheckpoint,
    ) -> Result<(), CheckpointError> {
        if (old_size, old_root) == (checkpoint.checkpoint().size, checkpoint.checkpoint().root)
            && old_size > 0
        {
            return Ok(());
        }
        let session = self
            .require_lock()
            .map_err(|reason| CheckpointError::Store { reason })?;
        let id = &self.contract_id;
        let size = checkpoint.checkpoint().size as i64;
        let root = checkpoint.checkpoint().root;
        let note = checkpoint.to_note();
        let old = old_size as i64;
        let (old_root, root) = (old_root.as_slice(), root.as_slice());
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&id, &old, &old_root, &size, &root, &note];
        let work = session.client.execute(&session.statements.advance, &params);
        match self.call("storing the checkpoint", work) {
            Ok(_) => Ok(()),
            Err(f) => {
                let reason = self.fail(&f);
                Err(CheckpointError::Store { reason })
            }
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.drop_session();
    }
}

/// A read-only connection for the functions below.
struct Reader {
    rt: tokio::runtime::Runtime,
    client: Client,
    task: tokio::task::JoinHandle<()>,
    url: String,
    timeout: Duration,
    contract_id: String,
}

impl Reader {
    fn open(dir: &Path, config: &PgConfig) -> Result<(Reader, String, Contract), OpenError> {
        let (toml_text, contract) = read_contract(dir)?;
        let store_err = |reason: String| OpenError::Store {
            url: config.url.clone(),
            reason,
        };
        let driver = driver_config(&config.url, None, config.timeout).map_err(store_err)?;
        let rt = runtime().map_err(store_err)?;
        let timeout = config.timeout;
        let (client, conn) = rt
            .block_on(async { tokio::time::timeout(timeout, driver.connect(NoTls)).await })
            .map_err(|_| store_err(format!("connecting: no answer within {timeout:?}")))?
            .map_err(|e| store_err(format!("connecting: {}", db_text(&e))))?;
        let task = rt.spawn(async move {
            let _ = conn.await;
        });
        Ok((
            Reader {
                rt,
                client,
                task,
                url: config.url.clone(),
                timeout,
                contract_id: contract.id.clone(),
            },
            toml_text,
            contract,
        ))
    }

    fn err(&self, e: impl std::fmt::Display) -> OpenError {
        OpenError::Store {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, OpenError> {
        let timeout = self.timeout;
        self.rt
            .block_on(async { tokio::time::timeout(timeout, self.client.query(sql, params)).await })
            .map_err(|_| self.err(format!("no answer within {timeout:?}")))?
            .map_err(|e| self.err(db_text(&e)))
    }

    fn checkpoint(&self, contract: &Contract) -> Result<Option<SignedCheckpoint>, OpenError> {
        let rows = self.query(
            "SELECT note FROM cfr_checkpoints WHERE contract = $1",
            &[&self.contract_id],
        )?;
        match rows.first().and_then(|r| r.get::<_, Option<String>>(0)) {
            None => Ok(None),
            Some(note) => verified_checkpoint(contract, &note)
                .map(Some)
                .map_err(|e| self.err(e)),
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// [`crate::inspect`] of a PostgreSQL log.
pub(crate) fn inspect(
    dir: &Path,
    config: &PgConfig,
) -> Result<(String, Contract, Option<SignedCheckpoint>), OpenError> {
    let (r, text, contract) = Reader::open(dir, config)?;
    let cp = r.checkpoint(&contract)?;
    Ok((text, contract, cp))
}

/// [`crate::count_events`] of a PostgreSQL log.
pub(crate) fn count_events(dir: &Path, config: &PgConfig) -> Result<u64, OpenError> {
    let (r, _, _) = Reader::open(dir, config)?;
    let rows = r.query(
        "SELECT count(*) FROM cfr_events WHERE contract = $1",
        &[&r.contract_id],
    )?;
    Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0)) as u64)
}

/// [`crate::submissions`] of a PostgreSQL log.
pub(crate) fn submissions(
    dir: &Path,
    config: &PgConfig,
    upto: u64,
) -> Result<Vec<Entry>, ReadError> {
    let (r, _, _) = Reader::open(dir, config)?;
    let n = upto as i64;
    let count = r.query(
        "SELECT count(*) FROM cfr_events WHERE contract = $1 AND seq < $2",
        &[&r.contract_id, &n],
    )?;
    let available = count.first().map_or(0, |row| row.get::<_, i64>(0)) as u64;
    if available < upto {
        return Err(ReadError::Short {
            wanted: upto,
            available,
        });
    }
    let rows = r.query(
        "SELECT party, id, first, count, sig FROM cfr_submissions WHERE contract = $1 AND first + count <= $2 ORDER BY first",
        &[&r.contract_id, &n],
    )?;
    Ok(rows
        .into_iter()
        .map(|row| Entry {
            party: row.get(0),
            id: row.get(1),
            first: row.get::<_, i64>(2) as u64,
            count: row.get::<_, i64>(3) as u64,
            sig: row.get(4),
        })
        .collect())
}

/// [`crate::for_each_event`] of a PostgreSQL log: the events `[from,
/// upto)` in one snapshot, each decoded and checked (its seq, and its
/// stored leaf hash against its CBOR). With `with_submissions`, each event
/// comes with the submission that starts at it when that submission ends
/// at or before `upto` ([`crate::for_each_event_with_submission`]), read
/// in the same snapshot; without, with `None`.
pub(crate) fn for_each_record(
    dir: &Path,
    config: &PgConfig,
    from: u64,
    upto: u64,
    with_submissions: bool,
    mut each: impl FnMut(Option<Entry>, Event),
) -> Result<(), ReadError> {
    let (mut r, _, _) = Reader::open(dir, config)?;
    let timeout = r.timeout;
    let id = r.contract_id.clone();
    let url = r.url.clone();
    let n = upto as i64;
    let start = from as i64;
    let client = &mut r.client;
    let rt = &r.rt;
    let bad = |reason: String| {
        ReadError::Open(OpenError::Store {
            url: url.clone(),
            reason,
        })
    };
    // Each page of rows is fetched inside the runtime and handed to
    // `each` outside it, so that `each` may block (it may feed a channel
    // of another runtime, as publishing tiles does).
    let read = (|| {
        let t = |e: tokio_postgres::Error| db_text(&e);
        let tx = rt
            .block_on(
                client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start(),
            )
            .map_err(t)?;
        // The submission that starts at an event is found by the unique
        // index on (contract, first).
        let query = if with_submissions {
            "SELECT e.seq, e.leaf, e.cbor, s.party, s.id, s.count, s.sig FROM cfr_events e \
             LEFT JOIN cfr_submissions s ON s.contract = e.contract AND s.first = e.seq AND s.first + s.count <= $2 \
             WHERE e.contract = $1 AND e.seq >= $3 AND e.seq < $2 ORDER BY e.seq"
        } else {
            "SELECT seq, leaf, cbor FROM cfr_events WHERE contract = $1 AND seq >= $3 AND seq < $2 ORDER BY seq"
        };
        let portal = rt.block_on(tx.bind(query, &[&id, &n, &start])).map_err(t)?;
        let mut expected = from;
        loop {
            let rows = rt
                .block_on(async {
                    tokio::time::timeout(timeout, tx.query_portal(&portal, 10_000)).await
                })
                .map_err(|_| format!("reading events: no answer within {timeout:?}"))?
                .map_err(t)?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let seq: i64 = row.get(0);
                let leaf: &[u8] = row.get(1);
                let cbor: &[u8] = row.get(2);
                if seq as u64 != expected {
                    return Err(format!(
                        "the log holds seq {seq} where seq {expected} should be"
                    ));
                }
                if cfr_merkle::leaf_hash(cbor).as_slice() != leaf {
                    return Err(format!(
                        "event {seq}: its stored leaf hash is not the hash of its stored CBOR"
                    ));
                }
                let mut d = cfr_model::cbor::Decoder::new(cbor);
                let event = Event::decode(&mut d).map_err(|e| format!("event {seq}: {e}"))?;
                d.finish().map_err(|e| format!("event {seq}: {e}"))?;
                if event.seq != seq as u64 {
                    return Err(format!("event {seq}: its CBOR holds seq {}", event.seq));
                }
                let entry = match with_submissions {
                    true => row.get::<_, Option<String>>(3).map(|party| Entry {
                        party,
                        id: row.get(4),
                        first: seq as u64,
                        count: row.get::<_, i64>(5) as u64,
                        sig: row.get(6),
                    }),
                    false => None,
                };
                each(entry, event);
                expected += 1;
            }
        }
        rt.block_on(tx.commit()).map_err(t)?;
        Ok::<u64, String>(expected)
    })();
    drop(r);
    let got = read.map_err(bad)?;
    if got < upto {
        return Err(ReadError::Short {
            wanted: upto,
            available: got,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_drops_every_password_and_keeps_the_rest() {
        let cases = [
            (
                "postgres://cfr@db:5432/log",
                "postgres://cfr@db:5432/log",
                false,
            ),
            (
                "postgres://cfr:s3cret@db:5432/log",
                "postgres://cfr@db:5432/log",
                true,
            ),
            (
                "postgresql://cfr:p%40ss@db/log?sslmode=disable",
                "postgresql://cfr@db/log?sslmode=disable",
                true,
            ),
            (
                "postgres://cfr@db/log?password=s3cret&application_name=x",
                "postgres://cfr@db/log?application_name=x",
                true,
            ),
            (
                "postgres://cfr@db/log?password=s3cret",
                "postgres://cfr@db/log",
                true,
            ),
            (
                "host=db user=cfr password=s3cret dbname=log",
                "host=db user=cfr dbname=log",
                true,
            ),
            (
                "host=db user=cfr dbname=log",
                "host=db user=cfr dbname=log",
                false,
            ),
        ];
        for (url, clean, had) in cases {
            let (out, found) = redact(url);
            assert_eq!((out.as_str(), found), (clean, had), "{url}");
            assert!(!out.contains("s3cret") && !out.contains("p%40ss"));
        }
    }
}
