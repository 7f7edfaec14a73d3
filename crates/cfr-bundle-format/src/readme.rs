//! `README.txt`: the first member, for a person who opens the archive.

use crate::hex;
use cfr_contract::Contract;
use cfr_model::time::format_rfc3339;
use std::fmt::Write as _;

/// What the README states.
pub struct Facts<'a> {
    /// The contract.
    pub contract: &'a Contract,
    /// Number of events.
    pub events: u64,
    /// First event time.
    pub from: Option<i64>,
    /// Last event time.
    pub until: Option<i64>,
    /// Merkle root.
    pub root: &'a [u8; 32],
    /// The sealed verdict, if any.
    pub verdict: Option<&'a cfr_rules::Verdict>,
    /// Whether the bundle carries an analyzer.
    pub has_analyzer: bool,
    /// Whether the bundle is to carry an RFC 3161 timestamp (`manifest.tsr`).
    pub timestamped: bool,
}

/// Renders README.txt.
pub fn render(f: &Facts<'_>) -> String {
    let c = f.contract;
    let mut s = String::new();
    let _ = writeln!(s, "CFR EVIDENCE BUNDLE (cfr-bundle/1)");
    let _ = writeln!(s, "==================================\n");
    let _ = writeln!(
        s,
        "This file is a sealed, tamper-evident record of the events that the\n\
         contract below requires to be logged, kept by a certified recorder. It\n\
         is a plain POSIX tar archive: `tar -xf` unpacks it with the tools\n\
         every operating system has."
    );
    let _ = writeln!(s, "\nContract:     {} ({})", c.title, c.id);
    if let Some(j) = &c.jurisdiction {
        let _ = writeln!(s, "Jurisdiction: {j}");
    }
    let _ = writeln!(s, "\nParties:");
    let _ = writeln!(
        s,
        "  provider  {}  {}",
        c.parties.provider.name,
        c.parties.provider.key.fingerprint()
    );
    let _ = writeln!(
        s,
        "  user      {}  {}",
        c.parties.user.name,
        c.parties.user.key.fingerprint()
    );
    let _ = writeln!(
        s,
        "  recorder  {}  {}",
        c.parties.recorder.name,
        c.parties.recorder.key.fingerprint()
    );
    for (id, p) in &c.parties.attestors {
        let _ = writeln!(s, "  attestor {id}: {}  {}", p.name, p.key.fingerprint());
    }
    let period = match (f.from, f.until) {
        (Some(a), Some(b)) => format!("{} to {}", format_rfc3339(a), format_rfc3339(b)),
        _ => "(no events)".to_owned(),
    };
    let _ = writeln!(s, "\nLog:          {} events, {period}", f.events);
    let _ = writeln!(s, "Merkle root:  {} (RFC 9162, SHA-256)", hex(f.root));
    match f.verdict {
        Some(v) => {
            let _ = writeln!(s, "\nVerdict at sealing ({} incidents):", v.incidents.len());
            let t = &v.totals;
            for (party, n) in [
                ("provider", t.provider),
                ("user", t.user),
                ("external", t.external),
                ("none", t.none),
                ("inconclusive", t.inconclusive),
            ] {
                let _ = writeln!(s, "  {party:<13} {n}");
            }
        }
        None => {
            let _ = writeln!(
                s,
                "\nVerdict:      none sealed (no analyzer or rules were run)"
            );
        }
    }
    let _ = writeln!(
        s,
        "\nHOW TO VERIFY\n\n\
         With cfr:  cfr-bundle verify evidence.cfr --trust trust.toml\n\
         (pin the parties' keys you know; without pinning, verify reports the\n\
         keys' fingerprints and says they are not pinned).\n\n\
         By hand:\n\
         1. tar -xf evidence.cfr\n\
         2. manifest.cbor lists every other member with its size and SHA-256\n\
            (sha256sum); manifest.sig is a COSE_Sign1 (Ed25519) signature over\n\
            manifest.cbor by the recorder key named in contract/contract.toml.\n\
         3. log/events-*.cbor.zst are zstd-compressed CBOR sequences of events\n\
            (schemas/event.cddl). The RFC 9162 Merkle root over all events, in\n\
            order, with leaf = SHA-256(0x00 || event CBOR), must equal the root\n\
            in log/checkpoint, a C2SP signed note by the recorder.\n\
         4. {}",
        if f.has_analyzer {
            "analyzer/analyzer.wasm is the program that judged the log; run it in\n\
            \x20  any WebAssembly runtime (ABI: cfr-analyzer/1, see the cfr docs) over\n\
            \x20  contract/contract.cbor and the events: its output must equal\n\
            \x20  verdict/verdict.cbor byte for byte."
        } else {
            "verdict/verdict.cbor, when present, is the verdict of the contract's\n\
            \x20  rules over the events (schemas/verdict.cddl)."
        }
    );
    if f.timestamped {
        let _ = writeln!(
            s,
            "5. manifest.tsr is an RFC 3161 time-stamp reply over SHA-256 of\n\
            \x20  manifest.cbor: openssl ts -verify -data manifest.cbor -in manifest.tsr\n\
            \x20  -CAfile <the certificate of the TSA's CA, obtained from the TSA>."
        );
    }
    s
}
