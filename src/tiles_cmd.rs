//! `cfr-bundle log tiles ...` and bundles in object storage (glue over
//! `cfr-tiles`).
//!
//! Exit codes: `0` published / verified, `1` refused (a rewritten log, an
//! object that exists) or verification failed, `2` could not run (usage,
//! unreadable log, store unreachable).

use anyhow::{anyhow, Context as _, Result};
use cfr_model::keys::PublicKey;
use cfr_tiles::{audit, publish, Objects, ObjectsError, PublishError};
use clap::Subcommand;
use std::path::{Path, PathBuf};

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
        /// AWS_ALLOW_HTTP) or `file:///PATH`.
        #[arg(long)]
        objects: String,
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
