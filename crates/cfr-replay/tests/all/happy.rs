//! A well-behaved analyzer: results, chunks, digests and fuel determinism.

use crate::{analyzer, expected_verdict};
use cfr_replay::{Analyzer, Limits, ReplayError, Stage};
use sha2::{Digest as _, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn chunks() -> Vec<Vec<u8>> {
    (0..5u8)
        .map(|i| {
            (0..(1000 + 37 * i as usize))
                .map(|j| (j as u8) ^ i)
                .collect()
        })
        .collect()
}

#[test]
fn verdict_reflects_contract_and_every_chunk() -> TestResult {
    let analyzer = Analyzer::compile(&analyzer(&[]))?;
    let contract = b"\xa1\x62id\x64acme";
    let chunks = chunks();
    let mut run = analyzer.start(contract, &Limits::default())?;
    for c in &chunks {
        run.feed(c, 3)?;
    }
    let verdict = run.finish()?;
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    assert_eq!(verdict, expected_verdict(contract, &refs));
    Ok(())
}

#[test]
fn replay_convenience_matches_start_feed_finish() -> TestResult {
    let analyzer = Analyzer::compile(&analyzer(&[]))?;
    let chunks = chunks();
    let verdict = analyzer.replay(
        b"\xa0",
        chunks.iter().map(|c| (c.as_slice(), 1)),
        &Limits::default(),
    )?;
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    assert_eq!(verdict, expected_verdict(b"\xa0", &refs));
    Ok(())
}

#[test]
fn empty_contract_and_empty_chunk_are_passed_without_alloc() -> TestResult {
    // An allocator that always fails proves that empty inputs skip it.
    let wasm = analyzer(&[(
        "cfr_alloc",
        r#"(func (export "cfr_alloc") (param i32) (result i32) (i32.const 0))"#,
    )]);
    let analyzer = Analyzer::compile(&wasm)?;
    let mut run = analyzer.start(b"", &Limits::default())?;
    run.feed(b"", 0)?;
    assert_eq!(run.finish()?, expected_verdict(b"", &[b""]));
    Ok(())
}

#[test]
fn every_run_starts_fresh() -> TestResult {
    let analyzer = Analyzer::compile(&analyzer(&[]))?;
    let first = analyzer.replay(b"\xa0", [(&b"abc"[..], 1)], &Limits::default())?;
    let second = analyzer.replay(b"\xa0", [(&b"abc"[..], 1)], &Limits::default())?;
    assert_eq!(
        first, second,
        "globals of the first run leaked into the second"
    );
    Ok(())
}

#[test]
fn digest_is_sha256_of_the_module() -> TestResult {
    let wasm = analyzer(&[]);
    let analyzer = Analyzer::compile(&wasm)?;
    let expected: [u8; 32] = Sha256::digest(&wasm).into();
    assert_eq!(analyzer.digest(), expected);
    Ok(())
}

#[test]
fn fuel_use_is_identical_across_runs() -> TestResult {
    let analyzer = Analyzer::compile(&analyzer(&[]))?;
    let chunks = chunks();
    let mut consumed = Vec::new();
    for _ in 0..2 {
        let mut run = analyzer.start(b"\xa0", &Limits::default())?;
        let mut trace = vec![run.fuel_consumed()];
        for c in &chunks {
            run.feed(c, 1)?;
            trace.push(run.fuel_consumed());
        }
        consumed.push(trace);
    }
    assert_eq!(consumed[0], consumed[1]);
    assert!(consumed[0].windows(2).all(|w| w[0] < w[1]), "{consumed:?}");
    Ok(())
}

#[test]
fn out_of_fuel_happens_at_the_same_point_every_time() -> TestResult {
    let analyzer = Analyzer::compile(&analyzer(&[]))?;
    let chunks = chunks();
    // Enough for about two and a half chunks of this byte-reading analyzer.
    let limits = Limits {
        fuel_base: 1_000,
        fuel_per_event: 0,
        fuel_per_byte: 10,
        ..Limits::default()
    };
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let mut run = analyzer.start(b"\xa0", &limits)?;
        let mut failure = None;
        for c in &chunks {
            if let Err(e) = run.feed(c, 1) {
                failure = Some(e);
                break;
            }
        }
        outcomes.push((failure, run.fuel_consumed(), run.fuel_remaining()));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    let (failure, consumed, remaining) = &outcomes[0];
    assert!(
        matches!(
            failure,
            Some(ReplayError::OutOfFuel {
                stage: Stage::Feed { .. }
            })
        ),
        "{failure:?}"
    );
    assert_eq!(*remaining, 0);
    assert!(*consumed > 0);
    Ok(())
}

#[test]
fn budget_grows_with_events() -> TestResult {
    // An analyzer spending 10,000 fuel per chunk regardless of size: too
    // much without a per-event allowance, enough with one.
    let wasm = analyzer(&[(
        "cfr_feed",
        r#"(func (export "cfr_feed") (param i32 i32) (result i32)
             (local $i i32)
             (loop $spin
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $spin (i32.lt_u (local.get $i) (i32.const 2000))))
             (i32.const 0))"#,
    )]);
    let analyzer = Analyzer::compile(&wasm)?;
    let stingy = Limits {
        fuel_base: 1_000,
        fuel_per_event: 0,
        fuel_per_byte: 0,
        ..Limits::default()
    };
    let err = analyzer
        .replay(b"\xa0", [(&b"x"[..], 100)], &stingy)
        .expect_err("must run out of fuel");
    assert_eq!(err.code(), "analyzer-out-of-fuel");
    let fair = Limits {
        fuel_per_event: 1_000,
        ..stingy
    };
    analyzer.replay(b"\xa0", [(&b"x"[..], 100)], &fair)?;
    Ok(())
}

#[test]
fn compile_time_is_reported() -> TestResult {
    let wasm = analyzer(&[]);
    let started = std::time::Instant::now();
    let _ = Analyzer::compile(&wasm)?;
    eprintln!(
        "compiled a {}-byte test analyzer in {:?}",
        wasm.len(),
        started.elapsed()
    );
    Ok(())
}
