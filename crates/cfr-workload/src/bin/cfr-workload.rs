//! `cfr-workload`: writes a deterministic event log (JSON Lines) and its
//! contract, for samples and benchmarks.
//!
//! ```text
//! cfr-workload events N SEED [KEYDIR] [--flood K] [--submissions B [--batched]] > events.jsonl
//! cfr-workload contract [SEED | KEYDIR] > contract.toml
//! cfr-workload keys SEED DIR      # the seed-derived keys as PEM
//! ```
//!
//! With KEYDIR, keys are read from `KEYDIR/{provider,user,recorder,grid}.key`;
//! otherwise they are derived from SEED (benchmarks only). `--flood K`
//! adds a quota flood of K never-answered requests (within the N events).
//! `--submissions B` puts every party's events in signed submissions of at
//! most B consecutive events by one party (see `write_submitted`); with
//! `--batched`, every party's client holds its events back and sends them
//! B at a time, as the design's throughput targets assume (see
//! `write_batched`).

use cfr_workload::{contract_toml, Keys, Workload};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

fn keys(arg: Option<&String>, seed: u64) -> Result<Keys, String> {
    match arg {
        Some(dir) if Path::new(dir).is_dir() => {
            let k = |r: &str| {
                cfr_model::keys::read_signing_key(&Path::new(dir).join(format!("{r}.key")))
                    .map_err(|e| e.to_string())
            };
            Ok(Keys {
                provider: k("provider")?,
                user: k("user")?,
                recorder: k("recorder")?,
                grid: k("grid")?,
            })
        }
        _ => Ok(Keys::from_seed(seed)),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: cfr-workload events N SEED [KEYDIR] [--flood K] [--submissions B [--batched]] | cfr-workload contract [SEED | KEYDIR] | cfr-workload keys SEED DIR";
    let mut args = args.to_vec();
    let mut flood = 0;
    let mut submissions = 0usize;
    let batched = match args.iter().position(|a| a == "--batched") {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    if let Some(i) = args.iter().position(|a| a == "--submissions") {
        submissions = args
            .get(i + 1)
            .and_then(|k| k.parse().ok())
            .filter(|k| *k > 0)
            .ok_or_else(|| format!("--submissions needs a positive number\n{usage}"))?;
        args.drain(i..i + 2);
    }
    if let Some(i) = args.iter().position(|a| a == "--flood") {
        flood = args
            .get(i + 1)
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| format!("--flood needs a number\n{usage}"))?;
        args.drain(i..i + 2);
    }
    if batched && submissions == 0 {
        return Err(format!("--batched needs --submissions B\n{usage}"));
    }
    let args = &args[..];
    let num = |i: usize| -> Result<u64, String> {
        args.get(i)
            .ok_or(usage)?
            .parse()
            .map_err(|_| format!("{:?} is not a number\n{usage}", args[i]))
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    match args.first().map(String::as_str) {
        Some("events") => {
            let (n, seed) = (num(1)?, num(2)?);
            let keys = keys(args.get(3), seed)?;
            let w = Workload::march_2026(n, seed).with_flood(flood);
            match submissions {
                0 => w.write_jsonl(&keys, &mut out).map_err(|e| e.to_string())?,
                batch => {
                    let mut raw = Vec::new();
                    w.write_jsonl(&keys, &mut raw).map_err(|e| e.to_string())?;
                    let written = if batched {
                        cfr_workload::write_batched(&keys, &mut &raw[..], batch, &mut out)
                    } else {
                        cfr_workload::write_submitted(&keys, &mut &raw[..], batch, &mut out)
                    };
                    written.map_err(|e| e.to_string())?;
                }
            }
        }
        Some("keys") => {
            // Writes the seed-derived keys as PEM (benchmarks only).
            let seed = num(1)?;
            let dir = Path::new(args.get(2).ok_or(usage)?);
            let keys = Keys::from_seed(seed);
            for (role, k) in [
                ("provider", &keys.provider),
                ("user", &keys.user),
                ("recorder", &keys.recorder),
                ("grid", &keys.grid),
            ] {
                std::fs::write(
                    dir.join(format!("{role}.key")),
                    cfr_model::keys::signing_key_to_pem(k),
                )
                .map_err(|e| e.to_string())?;
            }
        }
        Some("contract") => {
            let seed = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let keys = keys(args.get(1), seed)?;
            out.write_all(contract_toml(&keys).as_bytes())
                .map_err(|e| e.to_string())?;
        }
        _ => return Err(usage.into()),
    }
    out.flush().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cfr-workload: {e}");
            ExitCode::from(2)
        }
    }
}
