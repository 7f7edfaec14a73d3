//! `cfr-bundle witness serve` and `cfr-bundle log equivocation` (glue over
//! `cfr-witness`).

use anyhow::{anyhow, Context as _, Result};
use cfr_contract::Contract;
use cfr_verify::verify::key_from_spec;
use cfr_witness::equivocation::{self, LeafProofs};
use cfr_witness::server::{serve, ServerOptions, DEFAULT_LISTEN};
use cfr_witness::{Log, Refusal, Witness};
use clap::Subcommand;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable of the test-only failpoint: `after-persist`
/// makes `witness serve` SIGKILL itself right after a new checkpoint is
/// persisted, before the cosignature is sent (the crash tests use it).
pub const FAILPOINT_ENV: &str = "CFR_WITNESS_FAILPOINT";

/// `cfr-bundle witness` subcommands.
#[derive(Subcommand)]
pub enum WitnessCmd {
    /// Serve a C2SP tlog-witness: `POST /add-checkpoint` cosigns a log's
    /// checkpoint (a cosignature/v1 line) only when it is consistent with
    /// the last one it cosigned for that log, which it keeps in --state.
    /// Prints the address it listens on; SIGINT or SIGTERM stop it.
    Serve {
        /// The witness's private key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// The witness's name: the key name of its cosignature lines (in a
        /// contract, its name in `[parties.witnesses]`).
        #[arg(long)]
        name: String,
        /// The state directory (created if needed; locked while serving).
        #[arg(long)]
        state: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: String,
        /// A log to witness: a contract (TOML; origin `cfr/<contract id>`,
        /// key the contract's recorder key), or `ORIGIN=KEY` (KEY
        /// `ed25519:...` or a key file; the origin is the checkpoints' key
        /// name). Repeatable.
        #[arg(long = "log", value_name = "CONTRACT|ORIGIN=KEY", required = true)]
        logs: Vec<String>,
    },
}

/// Runs a `witness` subcommand; returns the exit code.
pub fn run(cmd: WitnessCmd) -> Result<u8> {
    match cmd {
        WitnessCmd::Serve {
            key,
            name,
            state,
            listen,
            logs,
        } => {
            let key = crate::read_private_key(&key)?;
            let logs = logs.iter().map(|s| log_of(s)).collect::<Result<Vec<_>>>()?;
            let mut witness = match Witness::open(&state, &name, key, logs) {
                Ok(w) => w,
                Err(e) => {
                    crate::say_error(&e);
                    return Ok(2);
                }
            };
            match std::env::var(FAILPOINT_ENV).as_deref() {
                Ok("after-persist") => {
                    witness = witness.with_after_persist(Box::new(|| {
                        // SIGKILL, as a power cut or `kill -9` would: no
                        // destructor, no flush, no answer.
                        let pid = std::process::id().to_string();
                        let _ = std::process::Command::new("kill")
                            .args(["-KILL", &pid])
                            .status();
                        // Not reached once the signal is delivered.
                        std::process::abort();
                    }));
                }
                Ok(other) => return Err(anyhow!("{FAILPOINT_ENV}={other:?}: unknown failpoint")),
                Err(_) => {}
            }
            let witness = Arc::new(witness);
            let opts = ServerOptions {
                on_refusal: Some(Arc::new(|r: &Refusal| {
                    if r.evidence().is_some() {
                        eprintln!("cfr-bundle: witness refused a split view: {r}");
                    }
                })),
                ..ServerOptions::default()
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("listening on {listen}"))?;
                let origins: Vec<&str> = witness.origins().collect();
                println!(
                    "listening on {} (witness {}, key {}, logs {}, state {})",
                    listener.local_addr()?,
                    witness.name(),
                    cfr_model::keys::fingerprint(&witness.public_key()),
                    origins.join(", "),
                    state.display()
                );
                let _ = std::io::stdout().flush();
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                let shutdown = async move {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                };
                serve(witness, listener, opts, shutdown).await?;
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(0)
        }
    }
}

/// A `--log` argument: a contract file, or `ORIGIN=KEY`.
fn log_of(arg: &str) -> Result<Log> {
    let path = Path::new(arg);
    if path.is_file() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let contract =
            Contract::from_toml(&text).map_err(|e| anyhow!("--log {}: {e}", path.display()))?;
        return Ok(Log {
            origin: cfr_bundle_format::seal::origin(&contract.id),
            key: contract.parties.recorder.key.0,
        });
    }
    let (origin, key) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("--log {arg:?}: neither a contract file nor ORIGIN=KEY"))?;
    let key = key_from_spec(key, None).map_err(|e| anyhow!("--log {origin}: {e}"))?;
    Ok(Log {
        origin: origin.to_owned(),
        key: key.0,
    })
}

/// `log equivocation A B [--proof P] (--contract C | --recorder-key K)`:
/// one line; 0 proven, 1 not proven, 2 could not run.
pub fn equivocation(
    a: &Path,
    b: &Path,
    proof: Option<&Path>,
    contract: Option<&Path>,
    recorder_key: Option<&str>,
) -> u8 {
    let run = || -> Result<u8> {
        let ca = crate::read_checkpoint(a)?;
        let cb = crate::read_checkpoint(b)?;
        let (origin, key) = match (contract, recorder_key) {
            (Some(c), None) => {
                let text = std::fs::read_to_string(c)
                    .with_context(|| format!("reading {}", c.display()))?;
                let contract =
                    Contract::from_toml(&text).map_err(|e| anyhow!("{}: {e}", c.display()))?;
                (
                    cfr_bundle_format::seal::origin(&contract.id),
                    contract.parties.recorder.key,
                )
            }
            (None, Some(k)) => (
                ca.checkpoint().origin.clone(),
                key_from_spec(k, None).map_err(|e| anyhow!("--recorder-key: {e}"))?,
            ),
            _ => {
                return Err(anyhow!(
                    "give the recorder's key: --contract C or --recorder-key K"
                ))
            }
        };
        let proofs = proof
            .map(|p| {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                LeafProofs::from_json(&bytes).map_err(|e| anyhow!("{}: {e}", p.display()))
            })
            .transpose()?;
        Ok(
            match equivocation::check(&ca, &cb, &origin, &key.0, proofs.as_ref()) {
                Ok(found) => {
                    println!(
                        "PROVEN: split view of {origin:?} signed by the recorder key {}: {found}",
                        key.fingerprint()
                    );
                    0
                }
                Err(why) => {
                    println!("NOT PROVEN: {why}");
                    1
                }
            },
        )
    };
    match run() {
        Ok(code) => code,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("cfr-bundle: {}", crate::one_line(chain));
            2
        }
    }
}
