//! `cfr-bundle`: seal, verify, inspect and analyze cfr evidence bundles.
//!
//! The binary is glue: it parses arguments, opens files, calls the
//! libraries in `crates/`, prints, and picks the exit code:
//! `0` success / verified, `1` verification failed or input rejected,
//! `2` could not run (usage, unreadable input).

use anyhow::{anyhow, Context as _, Result};
use cfr_bundle_format::bundle::{Bundle, OpenError};
use cfr_bundle_format::import::{event_to_jsonl, Importer};
use cfr_bundle_format::layout;
use cfr_bundle_format::seal::{self, Input, SealError, SealOptions};
use cfr_contract::Contract;
use cfr_model::keys::{self, PublicKey};
use cfr_report::{html, render};
use cfr_verify::excerpt::{self, ExcerptOptions};
use cfr_verify::verify::{self, Replay, Trust, VerifyOptions};
use clap::{Parser, Subcommand};
use std::io::{BufRead, BufReader, IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod analyzer;
mod log_cmd;
mod tiles_cmd;
mod witness_cmd;

#[derive(Parser)]
#[command(
    name = "cfr-bundle",
    version,
    about = "Cloud Flight Recorder: seal, verify and analyze evidence bundles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make an Ed25519 key pair: NAME.key (PKCS#8 PEM, 0600) and NAME.pub.
    Keygen {
        /// Base name of the two files.
        name: PathBuf,
    },
    /// Contract commands.
    #[command(subcommand)]
    Contract(ContractCmd),
    /// Event commands.
    #[command(subcommand)]
    Event(EventCmd),
    /// Seal a JSON Lines event log into a bundle.
    Seal {
        /// The events (JSON Lines; `-` for standard input).
        #[arg(required_unless_present = "events_flag")]
        events: Option<PathBuf>,
        /// The events, spelt as before (`--events F`); hidden.
        #[arg(long = "events", hide = true, conflicts_with = "events")]
        events_flag: Option<PathBuf>,
        /// The contract (TOML).
        #[arg(long)]
        contract: PathBuf,
        /// The recorder's private key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// A contract signature by the provider or the user (repeatable).
        #[arg(long = "contract-sig")]
        contract_sig: Vec<PathBuf>,
        /// Embed this analyzer instead of the one this release ships.
        #[arg(long, conflicts_with = "no_analyzer")]
        analyzer: Option<PathBuf>,
        /// Embed no analyzer (the verdict is computed by the native engine).
        #[arg(long)]
        no_analyzer: bool,
        /// A regulator's certificate over the analyzer's digest.
        #[arg(long = "analyzer-cert")]
        analyzer_cert: Option<PathBuf>,
        /// Decompressed bytes per event chunk.
        #[arg(long, default_value_t = seal::DEFAULT_CHUNK_BYTES)]
        chunk_bytes: usize,
        /// Have this RFC 3161 time-stamping authority (http://...) stamp
        /// the signed manifest; its reply is stored as manifest.tsr.
        #[arg(long, value_name = "URL")]
        tsa: Option<String>,
        /// The bundle to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Verify a bundle: integrity, signatures, and the verdict's replay.
    Verify {
        /// The bundle: a file, or an object (`s3://BUCKET/PREFIX/NAME`,
        /// `file:///DIR/NAME`), downloaded first.
        bundle: PathBuf,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        pins: Pins,
        /// Replay with this analyzer module instead of the bundled one.
        #[arg(long, conflicts_with = "native")]
        analyzer: Option<PathBuf>,
        /// Replay with the rule engine built into this release.
        #[arg(long)]
        native: bool,
        /// Also prove this log extends an earlier signed checkpoint (a
        /// checkpoint file, or a bundle sealed earlier from the same log).
        #[arg(long)]
        earlier: Option<PathBuf>,
        /// Hold receipts the recorder gave (`log append --receipts DIR`)
        /// against this bundle: each is a `.receipt` file, or a directory
        /// of them (give them after the bundle: `verify B --receipts DIR`).
        /// A receipt the bundle contradicts fails check 4
        /// (`receipt-contradicted`): a finding against the recorder.
        #[arg(long, value_name = "DIR|FILE", num_args = 1..)]
        receipts: Vec<PathBuf>,
    },
    /// Cut an excerpt: only the event ranges the chosen incidents rest on,
    /// with Merkle range proofs against the original signed checkpoint. The
    /// bundle is verified first; `verify` checks the excerpt.
    Excerpt {
        /// The bundle.
        bundle: PathBuf,
        /// An incident to prove (its number in `verify`'s incident table);
        /// repeat for more.
        #[arg(long = "incident", value_name = "N", required = true)]
        incidents: Vec<u64>,
        /// Where to write the excerpt.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        pins: Pins,
        /// Verify the bundle replaying this analyzer module instead of the
        /// bundled one.
        #[arg(long, conflicts_with = "native")]
        analyzer: Option<PathBuf>,
        /// Verify the bundle with the rule engine built into this release
        /// instead of replaying its analyzer.
        #[arg(long)]
        native: bool,
    },
    /// Verify a bundle and write a self-contained HTML report of it: the
    /// file's SHA-256, every check, the keys, the contract, a timeline and
    /// every incident. Written even when verification fails (exit 1).
    Report {
        /// The bundle.
        bundle: PathBuf,
        /// The HTML file to write (replaced if it exists).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        pins: Pins,
        /// Replay with this analyzer module instead of the bundled one.
        #[arg(long, conflicts_with = "native")]
        analyzer: Option<PathBuf>,
        /// Replay with the rule engine built into this release.
        #[arg(long)]
        native: bool,
        /// Receipts to hold against the bundle, as with `verify --receipts`:
        /// the report shows each one the bundle contradicts as a finding
        /// against the recorder.
        #[arg(long, value_name = "DIR|FILE", num_args = 1..)]
        receipts: Vec<PathBuf>,
    },
    /// Show a bundle's members, parties, counts, time span and checkpoint.
    Inspect {
        /// The bundle.
        bundle: PathBuf,
    },
    /// Unpack every member, plus the events as JSON Lines (events.jsonl).
    Extract {
        /// The bundle.
        bundle: PathBuf,
        /// The directory to write into (created; must be empty if it exists).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Replay a contract's rules over a JSON Lines log and print the verdict.
    Analyze {
        /// The events (JSON Lines; `-` for standard input).
        #[arg(required_unless_present = "events_flag")]
        events: Option<PathBuf>,
        /// The events, spelt as before (`--events F`); hidden.
        #[arg(long = "events", hide = true, conflicts_with = "events")]
        events_flag: Option<PathBuf>,
        /// The contract (TOML).
        #[arg(long)]
        contract: PathBuf,
        /// Print the cfr-verdict/1 JSON.
        #[arg(long)]
        json: bool,
    },
    /// Analyzer commands.
    #[command(subcommand)]
    Analyzer(AnalyzerCmd),
    /// The recorder: a durable, tamper-evident log bound to one contract.
    #[command(subcommand)]
    Log(log_cmd::LogCmd),
    /// A witness: cosigns a recorder's checkpoints only when consistent
    /// with the last one it cosigned (C2SP tlog-witness).
    #[command(subcommand)]
    Witness(witness_cmd::WitnessCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Default)]
struct Pins {
    /// A trust policy (trust.toml): pinned keys and its `[require]` section.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Pin the recorder's key (a .pub/.key file or `ed25519:...`).
    #[arg(long)]
    recorder_key: Option<String>,
    /// Pin the provider's key.
    #[arg(long)]
    provider_key: Option<String>,
    /// Pin the user's key.
    #[arg(long)]
    user_key: Option<String>,
    /// Trust analyzer certificates by this regulator key.
    #[arg(long)]
    regulator_key: Option<String>,
    /// Pin an attestor's key: `ID=KEY` (repeatable).
    #[arg(long, value_name = "ID=KEY")]
    attestor_key: Vec<String>,
    /// Pin a witness's key: `NAME=KEY` (repeatable).
    #[arg(long, value_name = "NAME=KEY")]
    witness_key: Vec<String>,
    /// Verify RFC 3161 timestamps (manifest.tsr) against this certificate
    /// (PEM or DER): the TSA's own, or the CA's that issued it.
    #[arg(long, value_name = "FILE")]
    tsa_cert: Option<String>,
}

#[derive(Subcommand)]
enum ContractCmd {
    /// Check a contract and print a summary of it.
    Check {
        /// The contract (TOML).
        contract: PathBuf,
    },
    /// Print the CDDL of the events the contract requires (the recorder specification).
    Schema {
        /// The contract (TOML).
        contract: PathBuf,
    },
    /// Sign a contract (its canonical CBOR) as the provider or the user.
    Sign {
        /// The contract (TOML).
        contract: PathBuf,
        /// The signer's private key.
        #[arg(long)]
        key: PathBuf,
        /// `provider` or `user`.
        #[arg(long)]
        role: String,
        /// Where to write the COSE_Sign1 signature.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum EventCmd {
    /// Sign events (JSON Lines on stdin -> stdout) with the actor's key.
    Sign {
        /// The signer's private key.
        #[arg(long)]
        key: PathBuf,
        /// The contract: it types the attributes, and its id is signed.
        #[arg(long)]
        contract: PathBuf,
    },
    /// Sign events as one submission (JSON Lines on stdin -> a submission
    /// line and the events on stdout, for `seal`): every event must be the
    /// key's party's, or carry its own valid signature.
    Submit {
        /// The submitting party's private key (provider, user or attestor).
        #[arg(long)]
        key: PathBuf,
        /// The contract: it types the attributes, and its id is signed.
        #[arg(long)]
        contract: PathBuf,
        /// The submission id: 1 to 64 printable ASCII characters, unique per party.
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum AnalyzerCmd {
    /// Certify an analyzer module: a COSE_Sign1 over its SHA-256.
    Certify {
        /// The module.
        module: PathBuf,
        /// The regulator's private key.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the certificate.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// An error with the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn rejected(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 1,
        error: e.into(),
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 2,
            error: e.into(),
        }
    }
}

fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let cli = match with_examples(Cli::command())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            let chain: Vec<String> = f.error.chain().map(|c| c.to_string()).collect();
            eprintln!("cfr-bundle: {}", one_line(chain));
            ExitCode::from(f.code)
        }
    }
}

/// An error and its causes on one line, each cause said once: a message
/// that already ends with (or contains) its cause's text, as many
/// `"{path}: {source}"` messages do, does not repeat it.
pub(crate) fn one_line(chain: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    for text in chain {
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Reads a private key, saying plainly when the file is a public key
/// (`.pub`, or an `ed25519:` text) instead of the PEM parser's words.
pub(crate) fn read_private_key(path: &Path) -> Result<keys::SigningKey> {
    keys::read_signing_key(path).map_err(|e| {
        // Only once reading failed: is it the public half?
        if PublicKey::read(path).is_ok() {
            anyhow!(
                "{} is a public key; this needs the matching private key (the .key file that `cfr-bundle keygen` or `openssl genpkey -algorithm ed25519` writes)",
                path.display()
            )
        } else {
            e.into()
        }
    })
}

/// The chain of a library error, outermost first.
pub(crate) fn causes(e: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut next = e.source();
    while let Some(c) = next {
        out.push(c.to_string());
        next = c.source();
    }
    out
}

/// Says a library error the way every command says errors: one prefix,
/// one line, each cause once.
pub(crate) fn say_error(e: &dyn std::error::Error) {
    eprintln!("cfr-bundle: {}", one_line(causes(e)));
}

/// An example for every command, shown at the end of its `--help`
/// (a test checks that every command has one).
const EXAMPLES: &[(&str, &str)] = &[
    ("keygen", "cfr-bundle keygen keys/recorder      # keys/recorder.key and keys/recorder.pub"),
    ("contract check", "cfr-bundle contract check contract.toml"),
    ("contract schema", "cfr-bundle contract schema contract.toml > events.cddl"),
    ("contract sign", "cfr-bundle contract sign contract.toml --key provider.key --role provider -o provider.sig"),
    ("event sign", "cfr-bundle event sign --key grid.key --contract contract.toml < outages.jsonl > signed.jsonl"),
    ("event submit", "cfr-bundle event submit --key user.key --contract contract.toml --id u-2026-03 < user.jsonl > user.signed.jsonl"),
    ("seal", "cfr-bundle seal events.jsonl --contract contract.toml --key recorder.key -o evidence.cfr"),
    ("verify", "cfr-bundle verify evidence.cfr --recorder-key recorder.pub --provider-key provider.pub --user-key user.pub\ncfr-bundle verify evidence.cfr --json > report.json"),
    ("excerpt", "cfr-bundle excerpt evidence.cfr --incident 5 -o incident-5.cfr && cfr-bundle verify incident-5.cfr"),
    ("report", "cfr-bundle report evidence.cfr -o report.html --recorder-key recorder.pub"),
    ("inspect", "cfr-bundle inspect evidence.cfr"),
    ("extract", "cfr-bundle extract evidence.cfr -o unpacked/"),
    ("analyze", "cfr-bundle analyze events.jsonl --contract contract.toml --json"),
    ("analyzer certify", "cfr-bundle analyzer certify analyzer.wasm --key regulator.key -o certificate.sig"),
    ("log init", "cfr-bundle log init rec/ --contract contract.toml"),
    ("log append", "cfr-bundle log append events.jsonl --url http://127.0.0.1:7878 --key provider=provider.key --key user=user.key\ncfr-bundle log append events.jsonl rec/ --key user=user.key      # a log no recorder is serving"),
    ("log serve", "cfr-bundle log serve rec/ --key recorder.key --listen 127.0.0.1:7878"),
    ("log checkpoint", "cfr-bundle log checkpoint --url http://127.0.0.1:7878\ncfr-bundle log checkpoint rec/ --key recorder.key"),
    ("log prove", "cfr-bundle log prove --seq 17 --url http://127.0.0.1:7878\ncfr-bundle log prove --consistency march.cfr april.cfr rec/"),
    ("log seal", "cfr-bundle log seal rec/ --key recorder.key -o month.cfr\ncfr-bundle log seal rec/ --key recorder.key --contract-sig provider.sig --contract-sig user.sig -o month.cfr\ncfr-bundle log seal rec/ --key recorder.key -o s3://bucket/bundles/month.cfr"),
    ("log repair", "cfr-bundle log repair --move-bad-tail rec/"),
    ("log equivocation", "cfr-bundle log equivocation a.checkpoint b.checkpoint --contract contract.toml\ncfr-bundle log equivocation march.cfr other.checkpoint --proof leaf-17.json --recorder-key recorder.pub"),
    ("witness serve", "cfr-bundle witness serve --key witness.key --name acme-witness --state witness-state/ --log contract.toml"),
    ("log tiles publish", "cfr-bundle log tiles publish rec/ --objects s3://bucket/logs/acme   # AWS_* from the environment\ncfr-bundle log tiles publish rec/ --objects file:///srv/tiles/acme"),
    ("log tiles verify", "cfr-bundle log tiles verify s3://bucket/logs/acme --contract contract.toml\ncfr-bundle log tiles verify file:///srv/tiles/acme --recorder-key recorder.pub"),
    ("completions", "cfr-bundle completions bash > /etc/bash_completion.d/cfr-bundle"),
];

/// The command line with [`EXAMPLES`] at the end of each command's help.
fn with_examples(mut cmd: clap::Command) -> clap::Command {
    fn add(cmd: clap::Command, path: &[&str], example: &str) -> clap::Command {
        match path.split_first() {
            None => cmd.after_help(format!("Examples:\n  {}", example.replace('\n', "\n  "))),
            Some((first, rest)) => {
                if cmd.find_subcommand(first).is_none() {
                    return cmd;
                }
                cmd.mut_subcommand(*first, |c| add(c, rest, example))
            }
        }
    }
    for (path, example) in EXAMPLES {
        let path: Vec<&str> = path.split(' ').collect();
        cmd = add(cmd, &path, example);
    }
    cmd
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "cfr-bundle",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Keygen { name } => {
            // Refusing to overwrite a key is a refusal (1); a directory
            // that does not exist or cannot be written is "could not run" (2).
            let (k, p, key) = keys::write_new_keypair(&name).map_err(|e| match e {
                keys::KeyError::Exists { .. } => rejected(e),
                other => Failure::from(other),
            })?;
            println!("wrote {} (private, mode 0600)", k.display());
            println!("wrote {}", p.display());
            println!("{}", PublicKey(key.verifying_key()));
            println!("fingerprint {}", keys::fingerprint(&key.verifying_key()));
            Ok(0)
        }
        Command::Contract(c) => contract_cmd(c),
        Command::Event(EventCmd::Sign { key, contract }) => event_sign(&key, &contract),
        Command::Event(EventCmd::Submit { key, contract, id }) => {
            event_submit(&key, &contract, &id)
        }
        Command::Seal {
            contract,
            events,
            events_flag,
            key,
            contract_sig,
            analyzer,
            no_analyzer,
            analyzer_cert,
            chunk_bytes,
            tsa,
            output,
        } => {
            let tsa = tsa.map(Tsa::new);
            let stamp = |m: &[u8]| tsa.as_ref().map_or(Ok(Vec::new()), |t| t.stamp(m));
            let events = events
                .or(events_flag)
                .ok_or_else(|| anyhow!("give the events file"))?;
            let contract_toml = read_text(&contract)?;
            let recorder_key = read_private_key(&key)?;
            let contract_sigs = contract_sig
                .iter()
                .map(|p| read_bytes(p))
                .collect::<Result<Vec<_>>>()?;
            let analyzer = match (analyzer, no_analyzer) {
                (Some(p), _) => Some(read_bytes(&p)?),
                (None, true) => None,
                (None, false) => analyzer::shipped().map(<[u8]>::to_vec),
            };
            let analyzer_cert = analyzer_cert.as_deref().map(read_bytes).transpose()?;
            let parsed = Contract::from_toml(&contract_toml)
                .map_err(|e| rejected(anyhow!("{}: {e}", contract.display())))?;
            let opts = SealOptions {
                contract_toml,
                contract_sigs,
                recorder_key: &recorder_key,
                analyzer,
                analyzer_cert,
                chunk_bytes,
                native_verdict: true,
                submissions: Vec::new(),
                checkpoint: None,
                timestamp: tsa.is_some().then_some(&stamp as &seal::Timestamper<'_>),
            };
            let input = open_input(&events)?;
            let mut importer = Importer::new(&parsed);
            let lines = input.lines();
            let events_iter = lines.filter_map(|line| match line {
                Err(e) => Some(Err(SealError::Io {
                    path: events.clone(),
                    source: e,
                })),
                Ok(l) => match importer.line(&l) {
                    Err(e) => Some(Err(SealError::Import(e))),
                    Ok(Some(ev)) => Some(Ok(Input::Event(ev))),
                    // An empty line, or a submission line (it covers the
                    // events that follow it).
                    Ok(None) => importer
                        .take_submissions()
                        .pop()
                        .map(|s| Ok(Input::Submission(s))),
                },
            });
            let bar = progress_bar("sealing");
            let mut tick = |n: u64| {
                if let Some(b) = &bar {
                    b.set_position(n);
                }
            };
            let summary = cfr_verify::seal::seal(&opts, events_iter, &output, &mut tick).map_err(
                |e| match e {
                    SealError::Io { .. } => Failure::from(anyhow!(e)),
                    other => rejected(anyhow!(other)),
                },
            )?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            println!(
                "sealed {} in {} into {} ({} bytes)",
                cfr_bundle_format::words::count(summary.events, "event", "events"),
                cfr_bundle_format::words::count(summary.chunks as u64, "chunk", "chunks"),
                output.display(),
                summary.bytes
            );
            println!("SHA-256      {}", summary.sha256);
            println!("Merkle root  {}", hexs(&summary.root));
            if let Some(t) = &tsa {
                t.say();
            }
            if summary.analyzer_disagrees {
                eprintln!("warning: the analyzer's verdict differs from this release's native engine; the analyzer's is sealed");
            }
            if summary.events == 0 {
                eprintln!(
                    "warning: {} holds no events: the bundle seals an empty log, whose verdict judges nothing",
                    events.display()
                );
            }
            Ok(0)
        }
        Command::Verify {
            bundle,
            json,
            pins,
            analyzer,
            native,
            earlier,
            receipts,
        } => {
            let trust = load_trust(&pins)?;
            // A bundle in object storage is downloaded first.
            let label = bundle.display().to_string();
            let staging = match bundle.to_str().filter(|s| cfr_tiles::Objects::is_url(s)) {
                Some(url) => {
                    let dir = tempfile::tempdir()?;
                    Some((tiles_cmd::download_bundle(url, dir.path())?, dir))
                }
                None => None,
            };
            let bundle = staging.as_ref().map_or(bundle, |(p, _)| p.clone());
            let earlier = match earlier {
                None => None,
                Some(p) => Some(read_checkpoint(&p).map_err(rejected)?),
            };
            let receipts = cfr_verify::receipts::read_receipts(&receipts)?;
            let replay = match (analyzer, native) {
                (Some(p), _) => Replay::Module(read_bytes(&p)?),
                (None, true) => Replay::Native,
                _ => Replay::Bundled,
            };
            let bar = progress_bar("verifying");
            let mut tick = |done: u64, total: u64| progress_tick(&bar, done, total);
            let report = verify::verify(
                &bundle,
                VerifyOptions {
                    trust,
                    replay,
                    shipped_analyzer: analyzer::shipped_digest(),
                    progress: Some(&mut tick),
                    earlier,
                    receipts,
                },
            )?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&render::report_json(&report))?
                );
            } else {
                print!("{}", render::report_text(&report, &label));
            }
            Ok(if report.verified() { 0 } else { 1 })
        }
        Command::Excerpt {
            bundle,
            incidents,
            output,
            pins,
            analyzer,
            native,
        } => {
            let trust = load_trust(&pins)?;
            let replay = match (analyzer, native) {
                (Some(p), _) => Replay::Module(read_bytes(&p)?),
                (None, true) => Replay::Native,
                _ => Replay::Bundled,
            };
            let bar = progress_bar("reading");
            let mut tick = |done: u64, total: u64| progress_tick(&bar, done, total);
            let summary = excerpt::excerpt(
                &bundle,
                ExcerptOptions {
                    incidents,
                    verify: VerifyOptions {
                        trust,
                        replay,
                        shipped_analyzer: analyzer::shipped_digest(),
                        progress: None,
                        earlier: None,
                        receipts: Vec::new(),
                    },
                    progress: Some(&mut tick),
                },
                &output,
            );
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let summary = summary.map_err(|e| match e {
                excerpt::ExcerptError::Io { .. }
                | excerpt::ExcerptError::Open(OpenError::Io { .. }) => Failure::from(e),
                e => rejected(e),
            })?;
            let ranges: Vec<String> = summary
                .ranges
                .iter()
                .map(|r| cfr_bundle_format::words::seqs(r.first, r.end - 1))
                .collect();
            println!(
                "wrote {} ({} bytes, SHA-256 {})\n  incidents {}\n  {} of {} events disclosed: {}\n  verify it: cfr-bundle verify {}",
                output.display(),
                summary.bytes,
                summary.sha256,
                summary
                    .incidents
                    .iter()
                    .map(|n| format!("#{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                summary.events,
                summary.original_events,
                ranges.join(", "),
                output.display()
            );
            Ok(0)
        }
        Command::Report {
            bundle,
            output,
            pins,
            analyzer,
            native,
            receipts,
        } => report(&bundle, &output, &pins, analyzer, native, &receipts),
        Command::Inspect { bundle } => inspect(&bundle),
        Command::Extract { bundle, output } => extract(&bundle, &output),
        Command::Analyze {
            contract,
            events,
            events_flag,
            json,
        } => {
            let events = events
                .or(events_flag)
                .ok_or_else(|| anyhow!("give the events file"))?;
            let text = read_text(&contract)?;
            let c = Contract::from_toml(&text)
                .map_err(|e| rejected(anyhow!("{}: {e}", contract.display())))?;
            let mut importer = Importer::new(&c);
            let mut engine = cfr_rules::Engine::new(&c);
            for line in open_input(&events)?.lines() {
                let line = line.with_context(|| events.display().to_string())?;
                if let Some(e) = importer
                    .line(&line)
                    .map_err(|e| rejected(anyhow!("{}: {e}", events.display())))?
                {
                    engine
                        .push(&e)
                        .map_err(|e| rejected(anyhow!("{}: {e}", events.display())))?;
                }
            }
            let v = engine.finish();
            if json {
                println!("{}", v.to_json());
            } else {
                print!("{}", render::verdict_text(&v));
            }
            Ok(0)
        }
        Command::Log(cmd) => log_cmd::run(cmd).map_err(rejected),
        Command::Witness(cmd) => Ok(witness_cmd::run(cmd)?),
        Command::Analyzer(AnalyzerCmd::Certify {
            module,
            key,
            output,
        }) => {
            let m = read_bytes(&module)?;
            let k = read_private_key(&key)?;
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(&m);
            let cert =
                cfr_bundle_format::cose::sign_detached(&k, &digest, seal::ANALYZER_CONTENT_TYPE)
                    .map_err(|e| anyhow!("{e}"))?;
            write_new(&output, &cert)?;
            println!(
                "certified analyzer SHA-256 {} with {}",
                hexs(&digest),
                keys::fingerprint(&k.verifying_key())
            );
            Ok(0)
        }
    }
}

fn contract_cmd(c: ContractCmd) -> Result<u8, Failure> {
    match c {
        ContractCmd::Check { contract } => {
            let text = read_text(&contract)?;
            match Contract::from_toml(&text) {
                Ok(c) => {
                    print!("{}", cfr_contract::summary(&c));
                    Ok(0)
                }
                Err(e) => Err(rejected(anyhow!("{}: {e}", contract.display()))),
            }
        }
        ContractCmd::Schema { contract } => {
            let text = read_text(&contract)?;
            let c = Contract::from_toml(&text)
                .map_err(|e| rejected(anyhow!("{}: {e}", contract.display())))?;
            print!("{}", c.events_cddl());
            Ok(0)
        }
        ContractCmd::Sign {
            contract,
            key,
            role,
            output,
        } => {
            let text = read_text(&contract)?;
            let c = Contract::from_toml(&text)
                .map_err(|e| rejected(anyhow!("{}: {e}", contract.display())))?;
            let k = read_private_key(&key)?;
            let sig = seal::sign_contract(&c, &k, &role).map_err(|e| rejected(anyhow!(e)))?;
            write_new(&output, &sig)?;
            println!("signed contract {} as {role}: {}", c.id, output.display());
            Ok(0)
        }
    }
}

fn event_sign(key: &Path, contract: &Path) -> Result<u8, Failure> {
    use ed25519_dalek::Signer as _;
    let k = read_private_key(key)?;
    let c = Contract::from_toml(&read_text(contract)?)
        .map_err(|e| rejected(anyhow!("{}: {e}", contract.display())))?;
    let mut importer = Importer::new(&c).without_signature_checks();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line_out = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let Some(mut e) = importer
            .line(&line)
            .map_err(|e| rejected(anyhow!("stdin: {e}")))?
        else {
            continue;
        };
        let actor_key = c.party_key(&e.actor).ok_or_else(|| {
            rejected(anyhow!(
                "line {}: actor {:?} has no key in the contract",
                e.seq + 1,
                e.actor
            ))
        })?;
        if actor_key.0 != k.verifying_key() {
            return Err(rejected(anyhow!(
                "event seq {}: the key given is not {:?}'s key in the contract; only the actor signs its events",
                e.seq,
                e.actor
            )));
        }
        e.sig = Some(k.sign(&e.signing_payload(&c.id)).to_bytes());
        line_out.clear();
        event_to_jsonl(&c, &e, &mut line_out);
        out.write_all(line_out.as_bytes())?;
    }
    out.flush()?;
    Ok(0)
}

fn event_submit(key: &Path, contract: &Path, id: &str) -> Result<u8, Failure> {
    use cfr_bundle_format::submission;
    let k = read_private_key(key)?;
    let c = Contract::from_toml(&read_text(contract)?)
        .map_err(|e| rejected(anyhow!("{}: {e}", contract.display())))?;
    submission::check_id(id).map_err(|e| anyhow!("--id: {e}"))?;
    let party = submission::contract_keys(&c)
        .into_iter()
        .find(|(_, pk)| *pk == k.verifying_key())
        .map(|(p, _)| p)
        .ok_or_else(|| {
            anyhow!(
                "{}: this key is not the provider's, the user's or an attestor's in contract {}",
                key.display(),
                c.id
            )
        })?;
    let mut importer = Importer::new(&c).without_signature_checks();
    let mut events = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        let Some(e) = importer
            .line(&line)
            .map_err(|e| rejected(anyhow!("stdin: {e}")))?
        else {
            continue;
        };
        let own = e.sig.is_some() && cfr_bundle_format::import::check_signature(&c, &e).is_ok();
        if e.actor != party && !own {
            return Err(rejected(anyhow!(
                "stdin: line {}: an event by {:?} in a submission of the {party}; only events it emitted, or that carry their emitter's own valid signature, may stand in it",
                n + 1,
                e.actor
            )));
        }
        if e.sig.is_some() && !own {
            return Err(rejected(anyhow!(
                "stdin: line {}: the event's own signature does not verify",
                n + 1
            )));
        }
        events.push(e);
    }
    if events.is_empty() {
        return Err(rejected(anyhow!(
            "stdin holds no events: nothing to submit"
        )));
    }
    if events.len() as u64 > submission::MAX_EVENTS {
        return Err(rejected(anyhow!(
            "stdin holds {} events; a submission holds at most {}",
            events.len(),
            submission::MAX_EVENTS
        )));
    }
    let digest = submission::digest(&c.id, &party, id, events.iter());
    let entry = submission::Entry {
        party,
        id: id.to_owned(),
        first: 0,
        count: events.len() as u64,
        sig: submission::sign(&k, &digest),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line_out = String::new();
    cfr_bundle_format::import::submission_to_jsonl(&entry, &mut line_out);
    out.write_all(line_out.as_bytes())?;
    for e in &events {
        line_out.clear();
        event_to_jsonl(&c, e, &mut line_out);
        out.write_all(line_out.as_bytes())?;
    }
    out.flush()?;
    Ok(0)
}

fn report(
    path: &Path,
    output: &Path,
    pins: &Pins,
    analyzer: Option<PathBuf>,
    native: bool,
    receipts: &[PathBuf],
) -> Result<u8, Failure> {
    let trust = load_trust(pins)?;
    let receipts = cfr_verify::receipts::read_receipts(receipts)?;
    let replay = match (analyzer, native) {
        (Some(p), _) => Replay::Module(read_bytes(&p)?),
        (None, true) => Replay::Native,
        _ => Replay::Bundled,
    };
    let bar = progress_bar("verifying");
    let mut tick = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let report = verify::verify(
        path,
        VerifyOptions {
            trust,
            replay,
            shipped_analyzer: analyzer::shipped_digest(),
            progress: Some(&mut tick),
            earlier: None,
            receipts,
        },
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The contract and the excuse intervals come from a second, streaming
    // read of the same file; the contract only when verify could read it.
    let mut contract = None;
    let mut excuses = html::ExcuseIntervals::default();
    if report.bundle.contract_title.is_some() {
        if let Ok(b) = Bundle::open(path) {
            if let Ok(c) = b.contract() {
                excuses = html::excuse_intervals(&c, b.events(), html::DEFAULT_EXCUSE_INTERVALS);
                contract = Some(c);
            }
        }
    }
    // The report names the file by its digest: refuse if it changed meanwhile.
    let (again, _) = seal::file_digest(path).with_context(|| path.display().to_string())?;
    if report.bundle.sha256 != Some(again) {
        return Err(anyhow!(
            "{} changed while the report was being made; no report written",
            path.display()
        )
        .into());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let page = html::render(&html::Page {
        file_name: &name,
        report: &report,
        contract: contract.as_ref(),
        excuses: &excuses,
        limits: html::Limits::default(),
    });
    write_replacing(output, page.as_bytes())?;
    let failed: Vec<String> = report
        .checks()
        .iter()
        .filter(|c| c.status() == verify::Status::Fail)
        .map(|c| format!("{} {}", c.number(), c.name()))
        .collect();
    println!(
        "wrote {} ({} bytes) for {} (SHA-256 {again})",
        output.display(),
        page.len(),
        path.display()
    );
    if failed.is_empty() {
        println!("{}", report.established().line());
        Ok(0)
    } else {
        println!(
            "VERIFICATION FAILED: check {}; the report says why",
            failed.join(", check ")
        );
        Ok(1)
    }
}

fn inspect(path: &Path) -> Result<u8, Failure> {
    let b = Bundle::open(path).map_err(|e| rejected(anyhow!("{}: {e}", path.display())))?;
    let m = &b.manifest;
    println!("Bundle    {}  ({})", path.display(), m.format);
    println!("Sealed by {}", m.tool);
    match b.contract() {
        Ok(c) => {
            println!("Contract  {} — {}", c.id, c.title);
            println!("Parties");
            println!(
                "  provider  {:<28} {}",
                c.parties.provider.name,
                c.parties.provider.key.fingerprint()
            );
            println!(
                "  user      {:<28} {}",
                c.parties.user.name,
                c.parties.user.key.fingerprint()
            );
            println!(
                "  recorder  {:<28} {}",
                c.parties.recorder.name,
                c.parties.recorder.key.fingerprint()
            );
            for (id, p) in &c.parties.attestors {
                println!(
                    "  {:<9} {:<28} {} (attestor)",
                    id,
                    p.name,
                    p.key.fingerprint()
                );
            }
        }
        Err(e) => println!("Contract  {} (unreadable: {e})", m.contract_id),
    }
    let span = match (m.log.from, m.log.until) {
        (Some(f), Some(u)) => format!(
            "{} to {}",
            cfr_model::time::format_rfc3339(f),
            cfr_model::time::format_rfc3339(u)
        ),
        _ => "(empty)".into(),
    };
    println!(
        "Log       {} in {}, {span}",
        cfr_bundle_format::words::count(m.log.events, "event", "events"),
        cfr_bundle_format::words::count(m.log.chunks.len() as u64, "chunk", "chunks")
    );
    println!("Root      {}", hexs(&m.log.root));
    if let Ok(Some(cp)) = b.read_small(layout::CHECKPOINT) {
        println!("Checkpoint (unverified; run `cfr-bundle verify`)");
        for line in String::from_utf8_lossy(&cp).lines() {
            println!("  {line}");
        }
    }
    println!("Members");
    for member in b.members() {
        println!("  {:>10}  {}", member.size(), member.name());
    }
    Ok(0)
}

fn extract(path: &Path, out: &Path) -> Result<u8, Failure> {
    let b = Bundle::open(path).map_err(|e| rejected(anyhow!("{}: {e}", path.display())))?;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        return Err(anyhow!("{} exists and is not empty", out.display()).into());
    }
    std::fs::create_dir_all(out)?;
    for m in b.members() {
        // Names passed the strict profile: relative, no `..`, no empty parts.
        let dest = out.join(m.name());
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::File::create(&dest).with_context(|| dest.display().to_string())?;
        b.copy_member(m, &mut f)?;
    }
    let contract = b
        .contract()
        .map_err(|e| rejected(anyhow!("{}: {e}", path.display())))?;
    let jsonl = out.join("events.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
    let mut line = String::new();
    let mut n = 0u64;
    // The signed submissions go in as submission lines before the events
    // they cover, so that `seal` of events.jsonl carries them again.
    let subs = b
        .submissions()
        .map_err(|(_, d)| rejected(anyhow!("{}: {d}", path.display())))?;
    let mut subs = subs.into_iter().peekable();
    for e in b.events() {
        let e = e.map_err(|e| rejected(anyhow!("{}: {e}", path.display())))?;
        while let Some(s) = subs.next_if(|s| s.first <= e.seq) {
            if s.first == e.seq {
                line.clear();
                cfr_bundle_format::import::submission_to_jsonl(&s, &mut line);
                w.write_all(line.as_bytes())?;
            }
        }
        line.clear();
        event_to_jsonl(&contract, &e, &mut line);
        w.write_all(line.as_bytes())?;
        n += 1;
    }
    w.flush()?;
    println!(
        "extracted {} members and {n} events (events.jsonl) into {}",
        b.members().len(),
        out.display()
    );
    Ok(0)
}

/// A signed checkpoint from a checkpoint file or from a bundle's `log/checkpoint`.
fn read_checkpoint(p: &Path) -> Result<cfr_merkle::SignedCheckpoint> {
    let bytes = read_bytes(p)?;
    let note = if bytes.starts_with(b"README.txt") {
        let b = Bundle::open(p).map_err(|e| anyhow!("{}: {e}", p.display()))?;
        b.read_small(layout::CHECKPOINT)?
            .ok_or_else(|| anyhow!("{}: no log/checkpoint", p.display()))?
    } else {
        bytes
    };
    cfr_merkle::SignedCheckpoint::parse(&note).map_err(|e| anyhow!("{}: {e}", p.display()))
}

/// `--tsa URL`: asks the TSA for a token over the signed manifest (the
/// reply checked by `cfr_timestamp`: granted, the nonce and imprint
/// echoed, the signature and signing certificate holding) and keeps what
/// it says for the summary line.
pub(crate) struct Tsa {
    url: String,
    stamped: std::sync::Mutex<Option<cfr_timestamp::Verified>>,
}

impl Tsa {
    /// How long the TSA may take to answer.
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

    pub(crate) fn new(url: String) -> Tsa {
        Tsa {
            url,
            stamped: std::sync::Mutex::new(None),
        }
    }

    /// The reply to store as `manifest.tsr`, or why there is none.
    pub(crate) fn stamp(&self, manifest: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let (reply, v) = cfr_timestamp::http::timestamp(&self.url, manifest, Tsa::TIMEOUT)
            .map_err(|e| one_line(causes(&e)))?;
        if let Ok(mut s) = self.stamped.lock() {
            *s = Some(v);
        }
        Ok(reply)
    }

    /// Prints who stamped the bundle and when.
    pub(crate) fn say(&self) {
        if let Some(v) = self.stamped.lock().ok().and_then(|s| s.clone()) {
            println!(
                "Timestamp    {} by {} (manifest.tsr; verify pins the TSA with --tsa-cert)",
                v.time, v.tsa
            );
        }
    }
}

fn load_trust(p: &Pins) -> Result<Trust, Failure> {
    let mut t = match &p.trust {
        Some(path) => Trust::load(path).map_err(|e| anyhow!("{}: {e}", path.display()))?,
        None => Trust::default(),
    };
    let key = |s: &Option<String>| -> Result<Option<PublicKey>, Failure> {
        s.as_deref()
            .map(|s| verify::key_from_spec(s, None).map_err(Failure::from))
            .transpose()
    };
    let named = |flag: &str, s: &str| -> Result<(String, PublicKey), Failure> {
        let (id, k) = s
            .split_once('=')
            .filter(|(id, k)| !id.is_empty() && !k.is_empty())
            .ok_or_else(|| {
                anyhow!("--{flag} {s:?}: expected ID=KEY (a .pub file or ed25519:...)")
            })?;
        let k = verify::key_from_spec(k, None).map_err(|e| anyhow!("--{flag} {id}: {e}"))?;
        Ok((id.to_owned(), k))
    };
    for s in &p.attestor_key {
        let (id, k) = named("attestor-key", s)?;
        t.attestors.insert(id, k);
    }
    for s in &p.witness_key {
        let (id, k) = named("witness-key", s)?;
        t.witnesses.insert(id, k);
    }
    if let Some(k) = key(&p.recorder_key)? {
        t.recorder = Some(k);
    }
    if let Some(k) = key(&p.provider_key)? {
        t.provider = Some(k);
    }
    if let Some(k) = key(&p.user_key)? {
        t.user = Some(k);
    }
    if let Some(k) = key(&p.regulator_key)? {
        t.regulator = Some(k);
    }
    if let Some(c) = &p.tsa_cert {
        t.tsa = Some(verify::tsa_cert_from_spec(c, None).map_err(|e| anyhow!("--tsa-cert: {e}"))?);
    }
    Ok(t)
}

fn progress_bar(what: &'static str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new_spinner();
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {human_pos} events ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    b.set_message(what);
    Some(b)
}

/// Moves a progress indicator on; once the total is known it becomes a bar.
fn progress_tick(bar: &Option<indicatif::ProgressBar>, done: u64, total: u64) {
    let Some(b) = bar else { return };
    if total > 0 && b.length() != Some(total) {
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {human_pos}/{human_len} events ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b.set_length(total);
    }
    b.set_position(done);
}

fn open_input(path: &Path) -> Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| path.display().to_string())
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| path.display().to_string())
}

/// A temporary file beside `path`, to be renamed over it. A failure names
/// `path` and its directory, never the temporary file's random name.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "the directory does not exist".to_owned(),
            std::io::ErrorKind::PermissionDenied => "the directory is not writable".to_owned(),
            kind => kind.to_string(),
        };
        anyhow!("cannot write {}: {why} ({})", path.display(), dir.display())
    })
}

fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path)
        .map_err(|e| anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// Writes `data` to `path` through a temporary file in the same directory
/// and a rename, so a reader never sees a partial file; replaces `path`.
fn write_replacing(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(data)?;
    // A report is for reading: the usual mode, not the temporary file's 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

fn hexs(b: &[u8]) -> String {
    hex::encode(b)
}
