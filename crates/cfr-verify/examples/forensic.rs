//! A small forensic tool over the library API: opens a bundle, counts its
//! events by kind (streaming), verifies it with the recorder's key pinned,
//! prints the verdict's incidents, and prints and checks the inclusion
//! proof of one event.
//!
//! ```text
//! cargo run -p cfr-bundle-format --example forensic -- evidence.cfr \
//!     [--recorder-key recorder.pub | --recorder-key ed25519:...] [--seq N] [--native]
//! ```
//!
//! Without `--seq`, it proves the first event the first incident rests on.
//! Exit code 0 when the bundle verifies and the proof holds, 1 when not,
//! 2 when it cannot run.

use cfr_bundle_format::bundle::Bundle;
use cfr_bundle_format::cfr_model::keys::PublicKey;
use cfr_bundle_format::cfr_model::time::format_rfc3339;
use cfr_bundle_format::import::event_to_jsonl;
use cfr_verify::proof::{EventProof, Prove as _};
use cfr_verify::verify::{verify, Pin, Replay, Status, Trust, VerifyOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

struct Args {
    bundle: PathBuf,
    recorder_key: Option<String>,
    seq: Option<u64>,
    native: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut bundle = None;
    let mut recorder_key = None;
    let mut seq = None;
    let mut native = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--recorder-key" => {
                recorder_key = Some(args.next().ok_or("--recorder-key needs a value")?);
            }
            "--seq" => {
                let v = args.next().ok_or("--seq needs a value")?;
                seq = Some(v.parse().map_err(|_| format!("--seq {v:?}: not a seq"))?);
            }
            "--native" => native = true,
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ if bundle.is_none() => bundle = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Ok(Args {
        bundle: bundle.ok_or("give the bundle's path")?,
        recorder_key,
        seq,
        native,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\nusage: forensic <evidence.cfr> [--recorder-key <file or ed25519:...>] [--seq N] [--native]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    // The key we trust comes from outside the bundle.
    let pinned = match &args.recorder_key {
        Some(k) if k.starts_with("ed25519:") => Some(PublicKey::parse(k)?),
        Some(path) => Some(PublicKey::read(std::path::Path::new(path))?),
        None => None,
    };

    // Open (structure only) and stream the events once.
    let bundle = Bundle::open(&args.bundle)?;
    let contract = bundle.contract()?;
    println!(
        "{}: contract {:?}, {} events in {} chunks",
        args.bundle.display(),
        bundle.manifest.contract_id,
        bundle.manifest.log.events,
        bundle.manifest.log.chunks.len()
    );
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for event in bundle.events() {
        *kinds.entry(event?.kind).or_default() += 1;
    }
    let counts: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("events by kind (unverified): {}", counts.join(", "));

    // Verify with the trust policy.
    let trust = Trust {
        recorder: pinned,
        ..Trust::default()
    };
    let replay = if args.native {
        Replay::Native
    } else {
        Replay::Bundled
    };
    let report = verify(
        &args.bundle,
        VerifyOptions {
            trust,
            replay,
            ..VerifyOptions::default()
        },
    )?;
    println!("\nverification:");
    for c in report.checks() {
        println!("  [{}] {} {}", c.status().as_str(), c.number(), c.name());
        if c.status() == Status::Fail {
            for f in c.failures() {
                println!("      {}: {}", f.code, f.detail);
            }
        }
    }
    for s in &report.signers {
        let pin = match s.pin {
            Pin::Pinned => "pinned",
            Pin::NotPinned => "NOT pinned",
            Pin::Mismatch => "MISMATCH with the pinned key",
        };
        println!("  {} ({}): {} {pin}", s.role, s.name, s.fingerprint);
    }
    let verified = report.verified();
    println!(
        "  => {}",
        if verified {
            "verified"
        } else {
            "verification FAILED"
        }
    );

    // The verdict: the replayed one if verification passed, else the
    // sealed one, labelled as unverified.
    let verdict = match report.verdict().proven() {
        Some(v) => {
            println!("\nverdict (replayed and equal to the sealed one):");
            v.clone()
        }
        None => {
            println!("\nverdict (as sealed, NOT verified):");
            bundle.verdict()?
        }
    };
    let t = &verdict.totals;
    println!(
        "  {} incidents: provider {}, user {}, external {}, excused {}, inconclusive {}",
        verdict.incidents.len(),
        t.provider,
        t.user,
        t.external,
        t.none,
        t.inconclusive
    );
    println!(
        "  {:>4}  {:<12}  {:<18}  {:<20}  {:<31}  evidence",
        "#", "at fault", "kind", "rule", "from"
    );
    for (i, inc) in verdict.incidents.iter().enumerate() {
        let evidence: Vec<String> = inc.evidence.iter().map(u64::to_string).collect();
        println!(
            "  {:>4}  {:<12}  {:<18}  {:<20}  {:<31}  {}",
            i + 1,
            inc.party.name(),
            inc.kind,
            inc.rule,
            format_rfc3339(inc.from),
            evidence.join(" ")
        );
    }

    // Prove one event, then check the proof as a recipient would: from its
    // CBOR form, with only the recorder's key.
    let seq = match args.seq {
        Some(s) => s,
        None => verdict
            .incidents
            .iter()
            .find_map(|i| i.evidence.first().copied())
            .unwrap_or(0),
    };
    let proof = bundle.inclusion_proof(seq)?;
    println!(
        "\ninclusion proof of seq {seq}:\n{}",
        serde_json::to_string_pretty(&proof.to_json())?
    );
    let received = EventProof::from_cbor(&proof.to_cbor())?;
    let key = match pinned {
        Some(k) => k,
        None => {
            println!("(no --recorder-key: checking against the bundle's own recorder key, which shows consistency, not who signed)");
            contract.parties.recorder.key
        }
    };
    match received.verify(&key) {
        Ok(v) => {
            let mut line = String::new();
            event_to_jsonl(&contract, &v.event, &mut line);
            println!(
                "proof holds: event seq {} is in the {}-event log {} whose checkpoint is signed by {}\n  {}",
                v.event.seq,
                v.checkpoint.size,
                v.checkpoint.origin,
                key.fingerprint(),
                line.trim_end()
            );
            Ok(verified)
        }
        Err(e) => {
            println!("proof FAILS ({}): {e}", e.code());
            Ok(false)
        }
    }
}
