//! `cfr-bundle log tiles ...` and bundles in object storage (glue over
//! `cfr-tiles`).
//!
//! Exit codes: `0` published / verified, `1` refused (a rewritten log, an
//! object that exists) or verification failed, `2` could not run (usage,
//! unreadable log, store unreachable).

use anyhow::{anyhow, Context as _, Result};
use cfr_model::keys::PublicKey;
use cfr_recorder::Recorder;
use cfr_tiles::{audit, publish, Objects, ObjectsError, PublishError};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// `cfr-bundle log tiles` subcommands.
#[derive(Subcommand)]
pub enum TilesCmd {
    /// Publish the log as C2SP tlog-tiles (checkpoint, hash tiles, entry
    /// bundles) up to its last signed checkpoint. Tiles are written only
    /// where absent (one already there must have the same bytes: a
    /// rewritten log is refused), then the checkpoint by compare-and-swap,
    /// never back to a smaller or inconsistent tree. Re-running after the
    /// log grew writes only the new tiles.
    Publish {
        /// The log directory (read-only; a recorder may be serving it).
        dir: PathBuf,
        /// Where: `s3://BUCKET/PREFIX` (settings from AWS_ENDPOINT_URL,
        /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
        /// AWS_ALLOW_HTTP) or `file:///PATH`; by default the one `log
        /// init --objects` gave the log.
        #[arg(long)]
        objects: Option<String>,
    },
    /// Audit a log published as tiles, from the store alone: the
    /// checkpoint's signature, every tile and entry bundle, and the root
    /// recomputed from them.
    #[command(group = clap::ArgGroup::new("key").required(true).args(["contract", "recorder_key"]))]
    Verify {
        /// `s3://BUCKET/PREFIX` or `file:///PATH`.
        objects: String,
        /// The contract: its recorder key and origin (`cfr/<id>`).
        #[arg(long)]
        contract: Option<PathBuf>,
        /// The recorder's key (`ed25519:...` or a key file); the origin is
        /// the checkpoint's own.
        #[arg(long)]
        recorder_key: Option<String>,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Runs a `log tiles` subcommand; returns the exit code.
pub fn run(cmd: TilesCmd) -> Result<u8> {
    match cmd {
        TilesCmd::Publish { dir, objects } => {
            let Some(objects) = objects.map_or_else(|| configured(&dir), |u| Ok(Some(u)))? else {
                eprintln!(
                    "cfr-bundle: {} names no object storage (it was made without log init --objects): give --objects URL",
                    dir.display()
                );
                return Ok(2);
            };
            let (_, contract, cp) = cfr_recorder::inspect(&dir)?;
            let Some(cp) = cp else {
                eprintln!(
                    "cfr-bundle: {} has no signed checkpoint yet, and only what one signs is published: sign one (cfr-bundle log checkpoint DIR --key KEY, or --url for a running recorder) and publish again",
                    dir.display()
                );
                return Ok(1);
            };
            let origin = cfr_bundle_format::seal::origin(&contract.id);
            let key = contract.parties.recorder.key.0;
            let store = Objects::open(&objects)?;
            let reader_dir = dir.clone();
            let published =
                runtime()?.block_on(publish(&store, &cp, &origin, &key, move |n, each| {
                    cfr_recorder::for_each_event(&reader_dir, n, |e| each(&e.encode()))
                        .map_err(|e| e.to_string())
                }));
            match published {
                Ok(p) => {
                    let before = p.previous.map_or_else(
                        || "nothing was published there before".to_owned(),
                        |s| format!("size {s} was published before"),
                    );
                    println!(
                        "published {} up to its checkpoint of size {} to {} ({before}): {} tiles and entry bundles written, {} already there, {} unchanged; checkpoint {}",
                        dir.display(),
                        p.size,
                        store.url(),
                        p.written,
                        p.same,
                        p.skipped,
                        if p.checkpoint_written { "written" } else { "already this one" }
                    );
                    Ok(0)
                }
                Err(e @ (PublishError::Objects(_) | PublishError::Source { .. })) => {
                    crate::say_error(&e);
                    Ok(2)
                }
                Err(e) => {
                    crate::say_error(&e);
                    eprintln!("cfr-bundle: nothing already published was changed");
                    Ok(1)
                }
            }
        }
        TilesCmd::Verify {
            objects,
            contract,
            recorder_key,
        } => {
            let (key, origin, note) = match (contract, recorder_key) {
                (Some(c), _) => {
                    let text = std::fs::read_to_string(&c)
                        .with_context(|| format!("reading {}", c.display()))?;
                    let contract = cfr_contract::Contract::from_toml(&text)
                        .map_err(|e| anyhow!("{}: {e}", c.display()))?;
                    (
                        contract.parties.recorder.key,
                        Some(cfr_bundle_format::seal::origin(&contract.id)),
                        format!("from {}", c.display()),
                    )
                }
                (None, Some(k)) => {
                    let key = if Path::new(&k).exists() {
                        PublicKey::read(Path::new(&k))?
                    } else {
                        PublicKey::parse(&k)?
                    };
                    (key, None, "pinned; origin from the checkpoint".to_owned())
                }
                (None, None) => return Err(anyhow!("give --contract or --recorder-key")),
            };
            let store = Objects::open(&objects)?;
            println!("recorder key {} ({note})", key.fingerprint());
            match runtime()?.block_on(audit(&store, origin.as_deref(), &key.0)) {
                Ok(a) => {
                    println!(
                        "verified {}: checkpoint {:?} size {} root {}\n  {} hash tiles and {} entry bundles read ({} bytes); {} events, each hashing to its leaf; every tile above level 0 matches the tiles below; the root recomputed from the tiles is the signed one",
                        store.url(),
                        a.checkpoint.origin,
                        a.checkpoint.size,
                        hex::encode(a.checkpoint.root),
                        a.tiles,
                        a.bundles,
                        a.bytes,
                        a.entries
                    );
                    Ok(0)
                }
                Err(e) if e.is_failure() => {
                    println!("FAILED: {e}");
                    Ok(1)
                }
                Err(e) => {
                    crate::say_error(&e);
                    Ok(2)
                }
            }
        }
    }
}

/// Uploads a sealed bundle to `url` (`s3://BUCKET/PREFIX/NAME` or
/// `file:///DIR/NAME`), refusing to replace an object there unless
/// `force`. Returns the exit code.
pub fn upload_bundle(from: &Path, url: &str, force: bool) -> Result<u8> {
    let (store, name) = Objects::open_object(url)?;
    match runtime()?.block_on(store.upload_file(from, &name, force)) {
        Ok(_) => Ok(0),
        Err(e @ ObjectsError::Exists { .. }) => {
            crate::say_error(&e);
            eprintln!("cfr-bundle: give --force to replace it");
            Ok(1)
        }
        Err(e) => {
            crate::say_error(&e);
            Ok(2)
        }
    }
}

/// Downloads the bundle at `url` into `dir`, returning its local path.
pub fn download_bundle(url: &str, dir: &Path) -> Result<PathBuf> {
    let (store, name) = Objects::open_object(url)?;
    let to = dir.join("evidence.cfr");
    // A bundle is read from disk, streaming; bound only what lands there.
    let max = 1u64 << 40;
    match runtime()?.block_on(store.download_file(&name, &to, max))? {
        Some(_) => Ok(to),
        None => Err(anyhow!("{url}: no such object")),
    }
}

/// The file in a log directory naming where the log is published as
/// tiles (written by `log init --objects`).
pub const OBJECTS_FILE: &str = "objects.toml";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectsToml {
    format: String,
    url: String,
}

/// The object storage URL `dir/objects.toml` names, if the log has one.
pub fn configured(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(OBJECTS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("reading {}: {e}", path.display())),
    };
    let t: ObjectsToml =
        toml::from_str(&text).map_err(|e| anyhow!("{}: {}", path.display(), e.message()))?;
    if t.format != "cfr-objects/1" {
        return Err(anyhow!(
            "{}: format {:?} is not cfr-objects/1",
            path.display(),
            t.format
        ));
    }
    Objects::open(&t.url).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(Some(t.url))
}

/// Before `log init --objects URL` creates anything: `url` must name a
/// reachable store whose `checkpoint`, if any, is this contract's log's.
/// A fresh log (`fresh`: the file store) refuses a prefix where its
/// contract's log is already published with events, since a new log's
/// tiles would be refused there. `Err` says why, for the user.
pub fn check_for_init(
    url: &str,
    contract: &cfr_contract::Contract,
    fresh: bool,
) -> Result<(), String> {
    let store = Objects::open(url).map_err(|e| e.to_string())?;
    let origin = cfr_bundle_format::seal::origin(&contract.id);
    let key = contract.parties.recorder.key.0;
    let there = runtime()
        .map_err(|e| e.to_string())?
        .block_on(cfr_tiles::published(&store, &origin, &key))
        .map_err(|e| e.to_string())?;
    match there {
        Some(cp) if fresh && cp.size > 0 => Err(format!(
            "{} already holds a published log of this contract (size {}): a new log's tiles would be refused there; give another prefix",
            store.url_of(cfr_tiles::CHECKPOINT),
            cp.size
        )),
        _ => Ok(()),
    }
}

/// Writes `dir/objects.toml` naming `url`.
pub fn write_config(dir: &Path, url: &str) -> Result<()> {
    let text = format!(
        "# This log is published as C2SP tlog-tiles here (cfr-bundle log init --objects);\n\
         # `log serve` publishes after its checkpoints. Credentials come from the\n\
         # AWS_* environment variables, never from this file.\n\
         format = \"cfr-objects/1\"\n\
         url = {}\n",
        toml::Value::String(url.trim_end_matches('/').to_owned())
    );
    let path = dir.join(OBJECTS_FILE);
    let tmp = dir.join(format!("{OBJECTS_FILE}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("writing {}", path.display()))
}

/// A running recorder's publisher: a thread that publishes the log as
/// tiles after its checkpoints, coalescing the checkpoints signed
/// meanwhile (only the latest is published). The recorder proves each
/// checkpoint extends the published one, so a publication reads only the
/// events after it (from the segment that holds the first of them), or
/// the whole log when the store's right edge is not there (a new or
/// emptied store). The next one waits at least a second and four times as
/// long as the last took: publishing takes at most a fifth of a core. A
/// failure (the store unreachable, a refusal) never touches appends: it is
/// said on stderr and retried with backoff up to 30 s. Only the recorder
/// that sequences publishes (a standby's view is not current).
pub struct Publisher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: std::thread::JoinHandle<()>,
}

impl Publisher {
    /// Starts publishing `recorder`'s log (the one at `dir`) to `url`.
    pub fn spawn(recorder: Arc<Recorder>, dir: PathBuf, url: &str) -> Result<Publisher> {
        let store = Objects::open(url)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tiles-publisher".into())
            .spawn(move || publish_loop(&recorder, &dir, &store, &signal))?;
        Ok(Publisher { stop, thread })
    }

    /// Publishes the latest checkpoint once more if it is not yet, then
    /// stops.
    pub fn finish(self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        let _ = self.thread.join();
    }
}

fn publish_loop(recorder: &Recorder, dir: &Path, store: &Objects, stop: &(Mutex<bool>, Condvar)) {
    const POLL: Duration = Duration::from_millis(250);
    const EVERY: Duration = Duration::from_secs(1);
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cfr-bundle: the tiles publisher cannot start: {e}");
            return;
        }
    };
    let contract = recorder.contract();
    let origin = cfr_bundle_format::seal::origin(&contract.id);
    let key = contract.parties.recorder.key.0;
    let mut done: Option<(u64, cfr_merkle::Hash)> = None;
    let mut wait = Duration::ZERO;
    let mut backoff = EVERY;
    let mut failing = false;
    loop {
        let stopping = {
            let (lock, cv) = stop;
            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (guard, _) = cv
                .wait_timeout_while(guard, wait, |s| !*s)
                .unwrap_or_else(|e| e.into_inner());
            *guard
        };
        wait = POLL;
        let latest = recorder.checkpoint().filter(|_| recorder.is_active());
        if let Some(cp) = latest {
            let c = cp.checkpoint();
            if done != Some((c.size, c.root)) {
                let reader = dir.to_owned();
                let began = std::time::Instant::now();
                // The recorder proves its checkpoint extends the published
                // one, so only the events after it are read.
                let prove = |old: u64| {
                    recorder
                        .consistency_proof(old, c.size)
                        .map(|p| p.path)
                        .map_err(|e| e.to_string())
                };
                let result = rt.block_on(cfr_tiles::publish_from(
                    store,
                    &cp,
                    &origin,
                    &key,
                    Some(prove),
                    move |from, n, each| {
                        cfr_recorder::for_each_event_from(&reader, from, n, |e| each(&e.encode()))
                            .map_err(|e| e.to_string())
                    },
                ));
                match result {
                    Ok(p) => {
                        eprintln!(
                            "published tiles up to size {} to {} (events read from seq {}; {} written, {} already there){}",
                            p.size,
                            store.url(),
                            p.from,
                            p.written,
                            p.same,
                            if failing {
                                "; publishing works again"
                            } else {
                                ""
                            }
                        );
                        done = Some((c.size, c.root));
                        failing = false;
                        backoff = EVERY;
                        // Wait four times as long as it took (the whole log
                        // is read when the store's edge is not there), so
                        // that publishing takes at most a fifth of a core.
                        wait = EVERY.max(began.elapsed() * 4);
                    }
                    Err(e) => {
                        eprintln!(
                            "cfr-bundle: publishing tiles of size {} to {}: {}; appends go on, trying again in {} s",
                            c.size,
                            store.url(),
                            crate::one_line(crate::causes(&e)),
                            backoff.as_secs()
                        );
                        failing = true;
                        wait = backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
        if stopping {
            return;
        }
    }
}
