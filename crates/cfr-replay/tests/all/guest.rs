//! The committed analyzer (`crates/cfr-analyzer/analyzer.wasm`, built by
//! `scripts/build-analyzer.sh`) run through this host, against the native
//! rule engine.

use cfr_contract::Contract;
use cfr_model::{Attrs, Event, Value};
use cfr_replay::{Analyzer, Limits, ReplayError, Stage};
use std::time::Instant;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KEY: &str = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

fn committed() -> Result<Vec<u8>, std::io::Error> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cfr-analyzer/analyzer.wasm"
    ))
}

fn contract() -> Result<Contract, cfr_contract::ContractError> {
    Contract::from_toml(&format!(
        r#"
format = "cfr-contract/1"
id = "acme-objstore-2026"
title = "ACME Object Storage"
[parties]
provider = {{ name = "ACME Cloud SA", key = "{KEY}" }}
user = {{ name = "Example GmbH", key = "{KEY}" }}
recorder = {{ name = "TrustRec Ltd", key = "{KEY}" }}
[events.request]
by = "user"
attrs = {{ id = "text" }}
[events.response]
by = "provider"
attrs = {{ id = "text", status = "int" }}
[[rules]]
id = "answer-in-time"
clause = "4.1 Every request is answered within 2 seconds."
type = "deadline"
party = "provider"
trigger = "request"
reply = "response"
match = ["id"]
within = "2s"
"#
    ))
}

/// `n` requests a second apart: every third answered late, every fifth
/// never, the rest in 400 ms.
fn log(n: u64) -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..n {
        let t = 1_772_445_600_000_000_000 + i as i64 * 1_000_000_000;
        let mut attrs = Attrs::new();
        attrs.insert("id", Value::Text(format!("r-{i}")));
        events.push(("request", "user", t, attrs.clone()));
        if i % 5 != 0 {
            attrs.insert("status", Value::Int(200));
            let delay = if i % 3 == 0 {
                3_500_000_000
            } else {
                400_000_000
            };
            events.push(("response", "provider", t + delay, attrs));
        }
    }
    events.sort_by_key(|e| e.2);
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (kind, actor, time, attrs))| Event {
            seq: seq as u64,
            time,
            kind: kind.into(),
            actor: actor.into(),
            attrs,
            sig: None,
        })
        .collect()
}

/// Events in chunks of `per_chunk`, each with its event count.
fn chunks(events: &[Event], per_chunk: usize) -> Vec<(Vec<u8>, u64)> {
    events
        .chunks(per_chunk)
        .map(|chunk| {
            let mut buf = Vec::new();
            for e in chunk {
                e.encode_into(&mut buf);
            }
            (buf, chunk.len() as u64)
        })
        .collect()
}

#[test]
fn committed_analyzer_agrees_with_the_native_engine() -> TestResult {
    let wasm = committed()?;
    let started = Instant::now();
    let analyzer = Analyzer::compile(&wasm)?;
    eprintln!(
        "compiled the committed analyzer ({} bytes) in {:?}",
        wasm.len(),
        started.elapsed()
    );
    let contract = contract()?;
    let events = log(200);
    let native = cfr_rules::analyze(&contract, events.clone())?;
    assert!(native.totals.provider > 0, "the log must raise incidents");
    for per_chunk in [1, 64, 10_000] {
        let chunks = chunks(&events, per_chunk);
        let verdict = analyzer.replay(
            &contract.to_cbor(),
            chunks.iter().map(|(c, n)| (c.as_slice(), *n)),
            &Limits::default(),
        )?;
        assert_eq!(
            cfr_rules::Verdict::from_cbor(&verdict)?,
            native,
            "chunks of {per_chunk}"
        );
        assert_eq!(verdict, native.to_cbor(), "chunks of {per_chunk}");
    }
    Ok(())
}

#[test]
fn committed_analyzer_reports_its_errors_as_text() -> TestResult {
    let analyzer = Analyzer::compile(&committed()?)?;
    let contract = contract()?;
    let mut events = log(6);
    events.swap(4, 5);
    let err = analyzer
        .replay(
            &contract.to_cbor(),
            chunks(&events, 3).iter().map(|(c, n)| (c.as_slice(), *n)),
            &Limits::default(),
        )
        .expect_err("seqs out of order must be reported");
    assert!(
        matches!(
            &err,
            ReplayError::AnalyzerError { stage: Stage::Feed { chunk: 1 }, message }
                if message.contains('4') && message.contains('5')
        ),
        "{err:?}"
    );

    let err = analyzer
        .start(b"\xa0", &Limits::default())
        .expect_err("an invalid contract must be refused");
    assert!(
        matches!(
            &err,
            ReplayError::AnalyzerError { stage: Stage::Begin, message }
                if message.starts_with("contract: ")
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn committed_analyzer_uses_the_same_fuel_every_time() -> TestResult {
    let analyzer = Analyzer::compile(&committed()?)?;
    let contract = contract()?.to_cbor();
    let events = log(20_000);
    let n = events.len() as u64;
    let chunks = chunks(&events, 1_000);
    let bytes: usize = chunks.iter().map(|(c, _)| c.len()).sum();
    let mut traces = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let mut run = analyzer.start(&contract, &Limits::default())?;
        let mut trace = vec![run.fuel_consumed()];
        for (chunk, events) in &chunks {
            run.feed(chunk, *events)?;
            trace.push(run.fuel_consumed());
        }
        let memory = run.memory_bytes();
        let verdict = run.finish()?;
        let took = started.elapsed();
        eprintln!(
            "{n} events ({bytes} bytes) in {took:?}: {:.0} events/s, {} fuel/event, \
             {memory} bytes of memory, {} bytes of verdict",
            n as f64 / took.as_secs_f64(),
            trace.last().copied().unwrap_or_default() / n,
            verdict.len()
        );
        traces.push(trace);
    }
    assert_eq!(traces[0], traces[1]);
    Ok(())
}
