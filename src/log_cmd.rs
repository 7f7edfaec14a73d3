//! `cfr-bundle log ...`: run and use a recorder (glue over `cfr-recorder`).
//!
//! Exit codes: `0` success, `1` input rejected / proof failed, `2` could
//! not run (usage, unreadable input, recorder unreachable).

use anyhow::{anyhow, Context as _, Result};
use cfr_model::keys::PublicKey;
use cfr_recorder::client::{Client, ClientError};
use cfr_recorder::seal::{
    load_checkpoint, prove_consistency, seal_log_with_progress, LogSealOptions, Prefix,
};
use cfr_recorder::server::{receipt_json, serve, ServerOptions, DEFAULT_LISTEN};
use cfr_recorder::{Recorder, RecorderOptions};
use clap::Subcommand;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `cfr-bundle log` subcommands.
#[derive(Subcommand)]
pub enum LogCmd {
    /// Create a log directory bound to a contract: the log itself (the
    /// file store, the default), or, with --store, the configuration of a
    /// log kept in PostgreSQL.
    Init {
        /// The log directory (created; must be empty if it exists).
        dir: PathBuf,
        /// The contract (TOML).
        #[arg(long)]
        contract: PathBuf,
        /// Keep the log in PostgreSQL: `postgres://USER@HOST:PORT/DB`. The
        /// tables are created if missing; DIR gets the contract and the
        /// URL without its password (give it in PGPASSWORD).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Publish the log as C2SP tlog-tiles to object storage:
        /// `s3://BUCKET/PREFIX` (settings and credentials from the AWS_*
        /// environment variables) or `file:///PATH`. `log serve` then
        /// publishes after its checkpoints, and `log tiles publish DIR`
        /// needs no --objects. The store must be reachable now, and hold
        /// no other log there.
        #[arg(long, value_name = "URL")]
        objects: Option<String>,
    },
    /// Append events (JSON Lines of {kind, actor, attrs, sig?}) as signed
    /// submissions, to a running recorder (--url) or to a log directory no
    /// recorder is serving (DIR). The file is split into consecutive runs
    /// of one actor's events, each signed with that actor's --key; ids are
    /// `<file digest>-<first line>`, so re-running the same file appends
    /// nothing twice. Each submission's receipt (cfr-receipt/1) is checked
    /// before it counts as appended: signed by the contract's recorder, its
    /// range proof placing the events at their seqs, their leaf hashes
    /// those of the events sent. Prints one line per event.
    Append {
        /// The events file (`-` for standard input).
        events: PathBuf,
        /// A log directory no recorder is serving.
        dir: Option<PathBuf>,
        /// A recorder's URL (`http://127.0.0.1:7878`, or `host:port`);
        /// repeat it, or give a comma-separated list, for the recorders of
        /// one log: a submission that finds one down or a standby is sent
        /// to the next (safe: its id makes it idempotent).
        #[arg(long, value_delimiter = ',', conflicts_with_all = ["dir", "dir_flag"])]
        url: Vec<String>,
        /// The log directory, spelt as before (`--dir DIR`); hidden.
        #[arg(long = "dir", hide = true, conflicts_with = "dir")]
        dir_flag: Option<PathBuf>,
        /// A submitting party's private key: `provider=provider.key`,
        /// `user=user.key`, `grid=grid.key` (repeat for each actor in the file).
        #[arg(long = "key", value_name = "ROLE=KEY")]
        keys: Vec<String>,
        /// Most events per submission.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Keep each submission's receipt in this directory
        /// (`<first seq>-<party>.receipt`, CBOR), for `verify --receipts`.
        #[arg(long, value_name = "DIR")]
        receipts: Option<PathBuf>,
        /// With --url: the contract as you agreed it; receipts must verify
        /// under its recorder key (without it, the recorder's own copy is used).
        #[arg(long, requires = "url")]
        contract: Option<PathBuf>,
        /// With a log directory: the recorder's private key, to sign the
        /// checkpoints receipts carry (without it, no receipts).
        #[arg(long, value_name = "KEY", conflicts_with = "url")]
        recorder_key: Option<PathBuf>,
    },
    /// Serve a log over HTTP (loopback by default). A log made with `log
    /// init --objects` is also published as tiles after its checkpoints
    /// (the latest one, paced to a fifth of a core; a store that fails
    /// never stops appends), and once more on SIGINT before it stops.
    Serve {
        /// The log directory.
        dir: PathBuf,
        /// The recorder's private key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: String,
        /// Sign a checkpoint this often when the log grew (`0s`: never).
        #[arg(long, default_value = "10s")]
        checkpoint_interval: String,
        /// Largest request body in bytes.
        #[arg(long, default_value_t = 8 << 20)]
        body_limit: usize,
        /// How long a client may take to send a body.
        #[arg(long, default_value = "10s")]
        body_timeout: String,
        /// A witness to ask for cosignatures (C2SP tlog-witness):
        /// `NAME=URL`, NAME one of the contract's `[parties.witnesses]`
        /// (its cosignatures verify under the key the contract gives it);
        /// repeat for more. Every checkpoint is then published (in
        /// receipts, served, sealed) only with --quorum cosignatures.
        #[arg(long = "witness", value_name = "NAME=URL")]
        witnesses: Vec<String>,
        /// How many of the witnesses must cosign each checkpoint (default:
        /// all of them).
        #[arg(long, requires = "witnesses")]
        quorum: Option<usize>,
    },
    /// Sign a checkpoint now and print it (a C2SP signed note), for a
    /// running recorder (--url) or a log directory no recorder is serving
    /// (DIR, with --key).
    Checkpoint {
        /// A log directory no recorder is serving (with --key).
        #[arg(requires = "key")]
        dir: Option<PathBuf>,
        /// A recorder's URL (`http://127.0.0.1:7878`, or `host:port`).
        #[arg(long, conflicts_with_all = ["dir", "dir_flag", "key"])]
        url: Option<String>,
        /// The log directory, spelt as before (`--dir DIR`); hidden.
        #[arg(long = "dir", hide = true, requires = "key", conflicts_with = "dir")]
        dir_flag: Option<PathBuf>,
        /// The recorder's private key (with DIR).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Prove an event's inclusion (--seq) or two checkpoints' consistency
    /// (--consistency OLD NEW, each a bundle or a checkpoint file; NEW a bundle).
    Prove {
        /// The event to prove.
        #[arg(
            long,
            conflicts_with = "consistency",
            required_unless_present = "consistency"
        )]
        seq: Option<u64>,
        /// The tree size to prove against (default: the last signed checkpoint's).
        #[arg(long, requires = "seq")]
        size: Option<u64>,
        /// Two sealed bundles (or a checkpoint file, then a bundle).
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        consistency: Vec<PathBuf>,
        /// A recorder's URL (for --seq; `http://127.0.0.1:7878`, or `host:port`).
        #[arg(long, conflicts_with_all = ["dir", "dir_flag"])]
        url: Option<String>,
        /// A log directory (for --seq; or the log whose contract's recorder
        /// key checks --consistency).
        dir: Option<PathBuf>,
        /// The log directory, spelt as before (`--dir DIR`); hidden.
        #[arg(long = "dir", hide = true, conflicts_with = "dir")]
        dir_flag: Option<PathBuf>,
        /// Pin the recorder key (`ed25519:...` or a key file).
        #[arg(long)]
        recorder_key: Option<String>,
    },
    /// Seal a prefix of the log into a bundle: everything (up to the last
    /// signed checkpoint when a recorder is serving the log), the first
    /// --size events, or the events up to --until.
    Seal {
        /// The log directory.
        dir: PathBuf,
        /// The recorder's private key.
        #[arg(long)]
        key: PathBuf,
        /// The bundle to write: a file, or an object
        /// (`s3://BUCKET/PREFIX/NAME`, `file:///DIR/NAME`), which is never
        /// replaced unless --force.
        #[arg(short, long, visible_alias = "out")]
        output: String,
        /// Replace an object already at --output.
        #[arg(long)]
        force: bool,
        /// Seal the first N events.
        #[arg(long, conflicts_with = "until")]
        size: Option<u64>,
        /// Seal the events at or before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Embed this analyzer instead of the one this release ships (it is
        /// run in the sandbox and its verdict sealed; the shipped one's
        /// verdict is the native engine's).
        #[arg(long, conflicts_with = "no_analyzer")]
        analyzer: Option<PathBuf>,
        /// Embed no analyzer (the native engine's verdict is stored).
        #[arg(long)]
        no_analyzer: bool,
        /// A contract signature by the provider or the user (repeatable).
        #[arg(long = "contract-sig")]
        contract_sig: Vec<PathBuf>,
        /// A regulator's certificate over the analyzer's digest.
        #[arg(long = "analyzer-cert")]
        analyzer_cert: Option<PathBuf>,
        /// Decompressed bytes per event chunk.
        #[arg(long, default_value_t = cfr_bundle_format::seal::DEFAULT_CHUNK_BYTES)]
        chunk_bytes: usize,
        /// Have this RFC 3161 time-stamping authority (http://...) stamp
        /// the signed manifest; its reply is stored as manifest.tsr.
        #[arg(long, value_name = "URL")]
        tsa: Option<String>,
    },
    /// Publish the log as C2SP tlog-tiles to object storage, or audit a
    /// published one.
    #[command(subcommand)]
    Tiles(crate::tiles_cmd::TilesCmd),
    /// Move a corrupt tail aside into quarantine/ (never deletes) so the
    /// log opens again. Moves only records that were never acknowledged
    /// and that no checkpoint covers; otherwise refuses, changing nothing.
    Repair {
        /// The log directory.
        dir: PathBuf,
        /// Required: say that the bad tail may be moved out of the log.
        #[arg(long, required = true)]
        move_bad_tail: bool,
    },
    /// Check offline whether two signed checkpoints of one log (checkpoint
    /// files or bundles), both verified under the recorder's key, prove a
    /// split view: the same size with different roots, or (--proof) one
    /// leaf shown different by inclusion proofs. One line; exit 0 proven,
    /// 1 not proven, 2 could not run.
    Equivocation {
        /// The first signed checkpoint (a checkpoint file or a bundle).
        a: PathBuf,
        /// The second.
        b: PathBuf,
        /// Inclusion proofs of one index under each (JSON
        /// `cfr-equivocation-proof/1`: {"format", "index", "a": {"leaf",
        /// "path"}, "b": {...}}, hashes in base64).
        #[arg(long)]
        proof: Option<PathBuf>,
        /// The contract: its recorder key and origin `cfr/<id>`.
        #[arg(
            long,
            conflicts_with = "recorder_key",
            required_unless_present = "recorder_key"
        )]
        contract: Option<PathBuf>,
        /// The recorder's key (`ed25519:...` or a key file); the origin is
        /// the first checkpoint's.
        #[arg(long)]
        recorder_key: Option<String>,
    },
}

/// Runs a `log` subcommand; returns the exit code.
pub fn run(cmd: LogCmd) -> Result<u8> {
    match cmd {
        LogCmd::Init {
            dir,
            contract,
            store,
            objects,
        } => {
            let text = std::fs::read_to_string(&contract)
                .with_context(|| format!("reading {}", contract.display()))?;
            if let Some(url) = &objects {
                // Before anything is created: a store that cannot be
                // reached, or holds another log, is found now, not at the
                // first publication.
                let parsed = cfr_contract::Contract::from_toml(&text)
                    .map_err(|e| anyhow!("{}: {e}", contract.display()))?;
                if let Err(why) = crate::tiles_cmd::check_for_init(url, &parsed, store.is_none()) {
                    eprintln!("cfr-bundle: --objects: {why}; nothing was created");
                    return Ok(2);
                }
            }
            let done = match &store {
                None => cfr_recorder::init(&dir, &text).map(|()| String::new()),
                Some(url) => cfr_recorder::pg::init(&dir, &text, url).map(|c| {
                    let (_, had_password) = cfr_recorder::pg::redact(url);
                    let note = if had_password {
                        "; the password was not saved: give it in PGPASSWORD"
                    } else {
                        ""
                    };
                    format!(" in PostgreSQL ({}{note})", c.url)
                }),
            };
            match done {
                Ok(store) => {
                    let published = match &objects {
                        Some(url) => {
                            crate::tiles_cmd::write_config(&dir, url)?;
                            format!("; published as tiles to {}", url.trim_end_matches('/'))
                        }
                        None => String::new(),
                    };
                    println!(
                        "initialised log {} for contract {}{store}{published}",
                        dir.display(),
                        contract.display()
                    );
                    Ok(0)
                }
                Err(e) => {
                    crate::say_error(&e);
                    Ok(2)
                }
            }
        }
        LogCmd::Append {
            events,
            url,
            dir,
            dir_flag,
            keys,
            batch,
            receipts,
            contract,
            recorder_key,
        } => append(
            &events,
            Target {
                url: (!url.is_empty()).then(|| url.join(",")),
                dir: dir.or(dir_flag),
                contract,
                recorder_key,
            },
            &keys,
            batch.max(1),
            receipts.as_deref(),
        ),
        LogCmd::Serve {
            dir,
            key,
            listen,
            checkpoint_interval,
            body_limit,
            body_timeout,
            witnesses,
            quorum,
        } => {
            let key = crate::read_private_key(&key)?;
            let objects = crate::tiles_cmd::configured(&dir)?;
            let cosigner = match witness_set(&dir, &witnesses, quorum)? {
                Ok(set) => set,
                Err(why) => {
                    eprintln!("cfr-bundle: {why}");
                    return Ok(2);
                }
            };
            let every = cfr_model::time::parse_duration(&checkpoint_interval)
                .map_err(|e| anyhow!("--checkpoint-interval: {e}"))?;
            let body_timeout = cfr_model::time::parse_duration(&body_timeout)
                .map_err(|e| anyhow!("--body-timeout: {e}"))?;
            // On a log in PostgreSQL another recorder may be sequencing:
            // this one then serves as a standby and takes over when it stops.
            let recorder = match Recorder::open(
                &dir,
                RecorderOptions {
                    key: Some(key),
                    cosigner,
                    standby: true,
                    ..RecorderOptions::default()
                },
            ) {
                Ok(r) => Arc::new(r),
                Err(e) => {
                    crate::say_error(&e);
                    return Ok(1);
                }
            };
            let rec = recorder.recovery();
            if let Some((path, bytes)) = &rec.torn_tail {
                eprintln!(
                    "cut a torn tail of {bytes} bytes (never acknowledged); kept in {}",
                    path.display()
                );
            }
            let opts = ServerOptions {
                body_limit,
                body_timeout: std::time::Duration::from_nanos(body_timeout.max(1) as u64),
                checkpoint_interval: (every > 0)
                    .then(|| std::time::Duration::from_nanos(every as u64)),
            };
            let publisher = match &objects {
                Some(url) => Some(crate::tiles_cmd::Publisher::spawn(
                    Arc::clone(&recorder),
                    dir.clone(),
                    url,
                )?),
                None => None,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let served = rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("listening on {listen}"))?;
                println!(
                    "listening on {} ({} events, log {}{}{})",
                    listener.local_addr()?,
                    recorder.size(),
                    dir.display(),
                    if recorder.is_active() {
                        ""
                    } else {
                        "; standby: another recorder sequences this log"
                    },
                    objects
                        .map(|u| format!("; publishing tiles to {u}"))
                        .unwrap_or_default()
                );
                let _ = std::io::stdout().flush();
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                serve(recorder, listener, opts, shutdown).await?;
                Ok::<_, anyhow::Error>(())
            });
            // The last checkpoint is published before the process ends.
            if let Some(p) = publisher {
                p.finish();
            }
            served?;
            Ok(0)
        }
        LogCmd::Checkpoint {
            url,
            dir,
            dir_flag,
            key,
        } => {
            let dir = dir.or(dir_flag);
            if let Some(url) = url {
                // The latest published checkpoint: a running recorder
                // signs after every commit, never on request.
                let mut c = Client::new(url);
                return match c.checkpoint() {
                    Ok(note) => {
                        print!("{note}");
                        Ok(0)
                    }
                    Err(e) => client_failure(&e),
                };
            }
            let (Some(dir), Some(key)) = (dir, key) else {
                eprintln!("cfr-bundle: log checkpoint needs a running recorder's --url URL, or a log directory: log checkpoint DIR --key KEY");
                return Ok(2);
            };
            let key = crate::read_private_key(&key)?;
            let r = Recorder::open(
                &dir,
                RecorderOptions {
                    key: Some(key),
                    ..RecorderOptions::default()
                },
            )?;
            print!("{}", r.sign_checkpoint()?.to_note());
            Ok(0)
        }
        LogCmd::Prove {
            seq,
            size,
            consistency,
            url,
            dir,
            dir_flag,
            recorder_key,
        } => {
            let dir = dir.or(dir_flag);
            if let [old, new] = consistency.as_slice() {
                return prove_bundles(old, new, dir.as_deref(), recorder_key.as_deref());
            }
            let Some(seq) = seq else {
                return Err(anyhow!("give --seq or --consistency"));
            };
            if let Some(url) = url {
                let mut c = Client::new(url);
                return match c.inclusion_proof(seq, size) {
                    Ok(v) => {
                        println!("{v}");
                        Ok(0)
                    }
                    Err(e) => client_failure(&e),
                };
            }
            let dir = dir.ok_or_else(|| anyhow!("give --url or a log directory"))?;
            let r = Recorder::open(&dir, RecorderOptions::default())?;
            let cp = r.checkpoint();
            let size = size
                .or_else(|| cp.as_ref().map(|c| c.checkpoint().size))
                .ok_or_else(|| anyhow!("no checkpoint signed yet: give --size"))?;
            let p = match r.inclusion_proof(seq, size) {
                Ok(p) => p,
                Err(e) => {
                    crate::say_error(&e);
                    return Ok(1);
                }
            };
            cfr_merkle::verify_inclusion(p.seq, p.size, &p.leaf, &p.path, &p.root)?;
            // Hashes in base64, as the HTTP API and checkpoints write them.
            let b64 = cfr_recorder::server::b64;
            println!(
                "{}",
                serde_json::json!({
                    "seq": p.seq, "size": p.size, "leaf": b64(&p.leaf), "root": b64(&p.root),
                    "path": p.path.iter().map(|h| b64(h)).collect::<Vec<_>>(),
                    "checkpoint": cp.filter(|c| c.checkpoint().size == size).map(|c| c.to_note()),
                })
            );
            Ok(0)
        }
        LogCmd::Seal {
            dir,
            key,
            output,
            force,
            size,
            until,
            analyzer,
            no_analyzer,
            contract_sig,
            analyzer_cert,
            chunk_bytes,
            tsa,
        } => {
            // An object is sealed into a local file first, then uploaded.
            let remote = cfr_tiles::Objects::is_url(&output);
            if remote {
                // Refuse a bad URL before sealing.
                cfr_tiles::Objects::open_object(&output)?;
            }
            let staging = remote.then(tempfile::tempdir).transpose()?;
            let local = match &staging {
                Some(d) => d.path().join("evidence.cfr"),
                None => PathBuf::from(&output),
            };
            let key = crate::read_private_key(&key)?;
            let tsa = tsa.map(crate::Tsa::new);
            let stamp = |m: &[u8]| tsa.as_ref().map_or(Ok(Vec::new()), |t| t.stamp(m));
            let read =
                |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
            let contract_sigs = contract_sig.iter().map(read).collect::<Result<Vec<_>>>()?;
            let analyzer_cert = analyzer_cert.as_ref().map(read).transpose()?;
            let prefix = match (size, until) {
                (Some(n), _) => Prefix::Size(n),
                (None, Some(t)) => Prefix::Until(
                    cfr_model::time::parse_rfc3339(&t).map_err(|e| anyhow!("--until: {e}"))?,
                ),
                (None, None) => Prefix::All,
            };
            // The shipped analyzer's verdict is the native engine's; another
            // one given with --analyzer is run in the sandbox.
            let (analyzer, custom) = match (analyzer, no_analyzer) {
                (Some(p), _) => {
                    let m =
                        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
                    let shipped = crate::analyzer::shipped() == Some(m.as_slice());
                    (Some(m), !shipped)
                }
                (None, true) => (None, false),
                (None, false) => (crate::analyzer::shipped().map(<[u8]>::to_vec), false),
            };
            let run_analyzer: Option<cfr_recorder::seal::StartAnalyzer> =
                custom.then_some(|module, contract| {
                    cfr_verify::sandbox::start(module, contract)
                        .map(cfr_bundle_format::feed::Worker::spawn)
                });
            let opts = LogSealOptions {
                key: &key,
                analyzer,
                run_analyzer,
                native_verdict: true,
                chunk_bytes,
                prefix,
                contract_sigs,
                analyzer_cert,
                timestamp: tsa
                    .is_some()
                    .then_some(&stamp as &cfr_bundle_format::seal::Timestamper<'_>),
            };
            let bar = crate::progress_bar("sealing");
            let mut tick = |done: u64, total: u64| {
                if let Some(b) = &bar {
                    b.set_length(total);
                    b.set_position(done);
                }
            };
            let whole = matches!(opts.prefix, Prefix::All);
            let sealed = seal_log_with_progress(&dir, &opts, &local, &mut tick);
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            match sealed {
                Ok((n, s)) => {
                    if remote {
                        let code = crate::tiles_cmd::upload_bundle(&local, &output, force)?;
                        if code != 0 {
                            return Ok(code);
                        }
                    }
                    println!(
                        "sealed events [0, {n}) of {} into {} ({} bytes, root {}, sha256 {})",
                        dir.display(),
                        output,
                        s.bytes,
                        hex::encode(s.root),
                        s.sha256
                    );
                    if let Some(t) = &tsa {
                        t.say();
                    }
                    if whole {
                        let now = cfr_recorder::count_events(&dir).unwrap_or(n);
                        if now > n {
                            eprintln!(
                                "cfr-bundle: the log holds {now} events; the {} after the last signed checkpoint are not in this bundle (a running recorder signs one after every commit of signed submissions and at its --checkpoint-interval: seal again then)",
                                now - n
                            );
                        }
                    }
                    Ok(0)
                }
                Err(e) => {
                    crate::say_error(&e);
                    Ok(1)
                }
            }
        }
        LogCmd::Equivocation {
            a,
            b,
            proof,
            contract,
            recorder_key,
        } => Ok(crate::witness_cmd::equivocation(
            &a,
            &b,
            proof.as_deref(),
            contract.as_deref(),
            recorder_key.as_deref(),
        )),
        LogCmd::Tiles(cmd) => crate::tiles_cmd::run(cmd),
        LogCmd::Repair { dir, .. } => match cfr_recorder::repair(&dir) {
            Ok(moved) if moved.is_empty() => {
                println!("nothing to repair in {}", dir.display());
                Ok(0)
            }
            Ok(moved) => {
                for m in moved {
                    println!(
                        "moved {} bytes of {} from byte {} (records from seq {} on, never acknowledged) to {}",
                        m.bytes,
                        m.from.display(),
                        m.offset,
                        m.first_seq,
                        m.to.display()
                    );
                }
                Ok(0)
            }
            Err(e) => {
                crate::say_error(&e);
                Ok(1)
            }
        },
    }
}

fn client_failure(e: &ClientError) -> Result<u8> {
    crate::say_error(e);
    Ok(match e {
        ClientError::Refused { .. } => 1,
        _ => 2,
    })
}

/// Reads the `--key ROLE=KEY` arguments, each checked against the
/// contract's key for that role.
fn party_keys(
    contract: &cfr_contract::Contract,
    args: &[String],
) -> Result<std::collections::BTreeMap<String, cfr_model::keys::SigningKey>> {
    let known = cfr_bundle_format::submission::contract_keys(contract);
    let mut out = std::collections::BTreeMap::new();
    for a in args {
        let (role, path) = a
            .split_once('=')
            .ok_or_else(|| anyhow!("--key {a}: give ROLE=KEY, for example --key user=user.key"))?;
        let want = known.get(role).ok_or_else(|| {
            anyhow!(
                "--key {a}: {role:?} is not a submitting party of the contract (one of: {})",
                known.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        let key = crate::read_private_key(Path::new(path))?;
        if key.verifying_key() != *want {
            return Err(anyhow!(
                "--key {a}: this is not the {role} key of the contract (the contract's is {})",
                cfr_model::keys::fingerprint(want)
            ));
        }
        out.insert(role.to_owned(), key);
    }
    Ok(out)
}

/// The witnesses `log serve --witness NAME=URL --quorum N` asks, with the
/// keys the log's contract gives them; `Err` says what is wrong with the
/// flags.
#[allow(clippy::type_complexity)]
fn witness_set(
    dir: &Path,
    specs: &[String],
    quorum: Option<usize>,
) -> Result<Result<Option<Arc<dyn cfr_recorder::Cosigner>>, String>> {
    if specs.is_empty() {
        return Ok(Ok(None));
    }
    let (_, contract, _) = cfr_recorder::inspect(dir)?;
    let mut endpoints = Vec::new();
    for s in specs {
        let Some((name, url)) = s.split_once('=') else {
            return Ok(Err(format!("--witness {s:?}: give NAME=URL")));
        };
        let Some(w) = contract.parties.witnesses.get(name) else {
            let known: Vec<&str> = contract
                .parties
                .witnesses
                .keys()
                .map(String::as_str)
                .collect();
            return Ok(Err(format!(
                "--witness {name}: the contract names no such witness in [parties.witnesses] (it names: {})",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        };
        endpoints.push(cfr_witness::WitnessEndpoint {
            name: name.to_owned(),
            key: w.key.0,
            url: url.to_owned(),
        });
    }
    let n = quorum.unwrap_or(endpoints.len());
    match cfr_witness::WitnessSet::new(endpoints, n, std::time::Duration::from_secs(10)) {
        Ok(set) => Ok(Ok(Some(Arc::new(set)))),
        Err(e) => Ok(Err(format!("--witness/--quorum: {e}"))),
    }
}

/// Where `log append` appends.
struct Target {
    url: Option<String>,
    dir: Option<PathBuf>,
    /// The party's own contract, for --url.
    contract: Option<PathBuf>,
    /// The recorder's key, for a log directory.
    recorder_key: Option<PathBuf>,
}

fn append(
    events: &Path,
    target: Target,
    key_args: &[String],
    batch: usize,
    receipts_dir: Option<&Path>,
) -> Result<u8> {
    use cfr_recorder::submission::{runs, RunError, SignedSubmission};
    let Target {
        url,
        dir,
        contract: own_contract,
        recorder_key,
    } = target;
    if receipts_dir.is_some() && dir.is_some() && recorder_key.is_none() {
        eprintln!("cfr-bundle: --receipts with a log directory needs --recorder-key KEY (receipts carry checkpoints the recorder signs)");
        return Ok(2);
    }
    if let Some(d) = receipts_dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    if url.is_none() && dir.is_none() {
        eprintln!("cfr-bundle: log append needs a log directory (log append FILE DIR) or a running recorder's --url URL");
        return Ok(2);
    }
    let text = if events.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(events).with_context(|| format!("reading {}", events.display()))?
    };
    // The contract (its id and attribute types are signed): the
    // recorder's, or the log directory's.
    let mut client = url.map(Client::new);
    let local = match (&mut client, &dir) {
        (Some(c), _) => {
            let (toml, whose) = match &own_contract {
                Some(p) => (
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                    p.display().to_string(),
                ),
                None => match c.contract() {
                    Ok(t) => (t, "the recorder's contract".to_owned()),
                    Err(e) => return client_failure(&e),
                },
            };
            let contract =
                cfr_contract::Contract::from_toml(&toml).map_err(|e| anyhow!("{whose}: {e}"))?;
            if own_contract.is_some() {
                *c = Client::for_contract(c.addrs(), &contract);
            }
            (contract, None)
        }
        (None, Some(d)) => {
            let key = recorder_key
                .as_deref()
                .map(crate::read_private_key)
                .transpose()?;
            let r = Recorder::open(
                d,
                RecorderOptions {
                    key,
                    ..RecorderOptions::default()
                },
            )?;
            (r.contract().clone(), Some(r))
        }
        (None, None) => return Err(anyhow!("give --url or --dir")),
    };
    let (contract, recorder) = local;
    let keys = party_keys(&contract, key_args)?;
    let runs = match runs(&contract, &text, batch, |actor| keys.contains_key(actor)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cfr-bundle: {}; nothing was appended", e);
            if matches!(e, RunError::Line(_)) {
                return Ok(1);
            }
            return Ok(2);
        }
    };
    let out = std::io::stdout();
    let mut out = out.lock();
    // Receipts for submissions the log already held: said at the end, so
    // that appending the same file twice is never silent.
    let (mut total, mut again) = (0u64, 0u64);
    for run in runs {
        // `runs` gives every run a party with a key.
        let Some(key) = keys.get(&run.party) else {
            return Err(anyhow!("no key for {}", run.party));
        };
        let lines = run.lines;
        let signed = SignedSubmission::sign(&contract.id, &run.party, &run.id, run.events, key);
        let line_of = |item: u64| {
            usize::try_from(item)
                .ok()
                .and_then(|i| lines.get(i.wrapping_sub(1)).copied())
        };
        let ack = match (&mut client, &recorder) {
            (Some(c), _) => match c.submit(&signed) {
                Ok(r) => r,
                Err(ClientError::Refused {
                    status,
                    message,
                    number,
                }) => {
                    let at = number.and_then(line_of).map_or_else(
                        || format!("lines {}-{}", lines[0], lines[lines.len() - 1]),
                        |l| format!("line {l}"),
                    );
                    eprintln!("cfr-bundle: {at}: rejected ({status}): {message}");
                    eprintln!("events of earlier submissions were appended; none of this one's");
                    return Ok(1);
                }
                Err(e) => return client_failure(&e),
            },
            (None, Some(r)) => {
                let verified = match signed.verify(&contract) {
                    Ok(v) => v,
                    Err(e) => {
                        let at = e.number().and_then(|(_, n)| line_of(n)).map_or_else(
                            || format!("lines {}-{}", lines[0], lines[lines.len() - 1]),
                            |l| format!("line {l}"),
                        );
                        eprintln!("cfr-bundle: {at}: rejected ({}): {e}", e.status());
                        eprintln!(
                            "events of earlier submissions were appended; none of this one's"
                        );
                        return Ok(1);
                    }
                };
                match r.append_signed(verified) {
                    Ok(r) => r,
                    Err(e) => {
                        crate::say_error(&e);
                        return Ok(1);
                    }
                }
            }
            (None, None) => return Err(anyhow!("give --url or --dir")),
        };
        if let (Some(d), Some(receipt)) = (receipts_dir, &ack.receipt) {
            let path = d.join(format!("{:012}-{}.receipt", receipt.first, receipt.party));
            write_file_atomically(&path, &receipt.encode())?;
        }
        for rc in ack.events {
            total += 1;
            again += u64::from(rc.duplicate);
            writeln!(out, "{}", receipt_json(&rc))?;
        }
    }
    say_already_in_log(total, again);
    Ok(0)
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("receipt.tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Says how many of an append's events the log already held.
fn say_already_in_log(total: u64, again: u64) {
    if again > 0 {
        eprintln!(
            "cfr-bundle: {again} of {total} events were already in the log (same submission ids: a file with these very bytes was appended before) and were not appended again; their original receipts are printed"
        );
    }
}

fn prove_bundles(old: &Path, new: &Path, dir: Option<&Path>, pinned: Option<&str>) -> Result<u8> {
    let (key, origin, note) = match (pinned, dir) {
        (Some(k), _) => {
            let key = if Path::new(k).exists() {
                PublicKey::read(Path::new(k))?
            } else {
                PublicKey::parse(k)?
            };
            let cp = load_checkpoint(new)?;
            (key, cp.checkpoint().origin.clone(), "pinned")
        }
        (None, Some(d)) => {
            let (_, contract, _) = cfr_recorder::inspect(d)?;
            (
                contract.parties.recorder.key,
                cfr_bundle_format::seal::origin(&contract.id),
                "from the log's contract",
            )
        }
        (None, None) => {
            let b = cfr_bundle_format::bundle::Bundle::open(new)
                .map_err(|e| anyhow!("{}: {e}", new.display()))?;
            let contract = b
                .contract()
                .map_err(|e| anyhow!("{}: {e}", new.display()))?;
            (
                contract.parties.recorder.key,
                cfr_bundle_format::seal::origin(&contract.id),
                "from the bundle's own contract, NOT pinned (use --recorder-key)",
            )
        }
    };
    println!("recorder key {} ({note})", key.fingerprint());
    match prove_consistency(old, new, &key, &origin) {
        Ok(c) => {
            println!(
                "consistent: {} (size {}) is a prefix of {} (size {}); proof of {} hashes verified",
                old.display(),
                c.old.size,
                new.display(),
                c.new.size,
                c.proof.len()
            );
            Ok(0)
        }
        Err(e) => {
            println!("NOT proven consistent: {e}");
            Ok(1)
        }
    }
}
