//! Hostile and broken analyzers: each ends quickly in its own named error.

use crate::analyzer;
use cfr_replay::{Analyzer, Limits, ReplayError, Stage};
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Limits small enough that every hostile test ends in milliseconds.
fn tight() -> Limits {
    Limits {
        memory_bytes: 4 << 20,
        memory_per_event: 0,
        fuel_base: 10_000_000,
        fuel_per_event: 10_000,
        fuel_per_byte: 100,
        max_output_bytes: 1 << 20,
        output_per_event: 0,
    }
}

/// Compiles `wasm` and runs it over a small contract and two chunks.
fn run(wasm: &[u8], limits: &Limits) -> Result<Vec<u8>, ReplayError> {
    let analyzer = Analyzer::compile(wasm)?;
    analyzer.replay(b"\xa0", [(&b"\xf6\xf6"[..], 2), (&b"\xf6"[..], 1)], limits)
}

fn run_err(wasm: &[u8]) -> ReplayError {
    run(wasm, &tight()).expect_err("hostile analyzer must fail")
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let wasm = analyzer(&[(
        "cfr_feed",
        r#"(func (export "cfr_feed") (param i32 i32) (result i32)
             (loop $forever (br $forever))
             (i32.const 0))"#,
    )]);
    let err = run_err(&wasm);
    assert_eq!(
        err,
        ReplayError::OutOfFuel {
            stage: Stage::Feed { chunk: 0 }
        }
    );
    assert_eq!(err.code(), "analyzer-out-of-fuel");
}

#[test]
fn infinite_loop_ends_under_default_limits() {
    // The default base budget must stop a spinning analyzer within seconds.
    let wasm = analyzer(&[(
        "cfr_begin",
        r#"(func (export "cfr_begin") (param i32 i32) (result i32)
             (loop $forever (br $forever))
             (i32.const 0))"#,
    )]);
    let started = Instant::now();
    let err = run(&wasm, &Limits::default()).expect_err("must run out of fuel");
    let took = started.elapsed();
    eprintln!("default base fuel spent by a spinning analyzer in {took:?}");
    assert_eq!(
        err,
        ReplayError::OutOfFuel {
            stage: Stage::Begin
        }
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn infinite_loop_in_start_function_runs_out_of_fuel() {
    let wasm = analyzer(&[(
        "start",
        r#"(func $spin (loop $forever (br $forever))) (start $spin)"#,
    )]);
    assert_eq!(
        run_err(&wasm),
        ReplayError::OutOfFuel {
            stage: Stage::Instantiate
        }
    );
}

#[test]
fn unbounded_memory_grow_is_out_of_memory() {
    // Grows one page at a time and traps once growth is refused.
    let wasm = analyzer(&[(
        "cfr_feed",
        r#"(func (export "cfr_feed") (param i32 i32) (result i32)
             (loop $more
               (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
             unreachable)"#,
    )]);
    let err = run_err(&wasm);
    assert!(
        matches!(
            err,
            ReplayError::OutOfMemory {
                stage: Stage::Feed { chunk: 0 },
                limit: 4194304,
                requested: 4259840,
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "analyzer-out-of-memory");
}

#[test]
fn the_memory_limit_grows_with_the_events_fed_and_still_stops_unbounded_growth() {
    // The same analyzer under limits that grow by 1 MiB per event: the
    // first chunk (2 events) may use 4 + 2 MiB, and no more.
    let wasm = analyzer(&[(
        "cfr_feed",
        r#"(func (export "cfr_feed") (param i32 i32) (result i32)
             (loop $more
               (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
             unreachable)"#,
    )]);
    let limits = Limits {
        memory_per_event: 1 << 20,
        ..tight()
    };
    let err = run(&wasm, &limits).expect_err("still stopped");
    assert!(
        matches!(
            err,
            ReplayError::OutOfMemory {
                stage: Stage::Feed { chunk: 0 },
                limit: 6291456,
                requested: 6356992,
            }
        ),
        "{err:?}"
    );
}

#[test]
fn refused_growth_then_error_status_is_out_of_memory() {
    let wasm = analyzer(&[(
        "cfr_begin",
        r#"(func (export "cfr_begin") (param i32 i32) (result i32)
             (drop (memory.grow (i32.const 10000)))
             (i32.const 1))"#,
    )]);
    assert_eq!(run_err(&wasm).code(), "analyzer-out-of-memory");
}

#[test]
fn refused_growth_then_failed_alloc_is_out_of_memory() {
    let wasm = analyzer(&[(
        "cfr_alloc",
        r#"(func (export "cfr_alloc") (param i32) (result i32)
             (if (i32.eq (memory.grow (i32.const 10000)) (i32.const -1))
               (then (return (i32.const 0))))
             (i32.const 65536))"#,
    )]);
    let err = run_err(&wasm);
    assert!(
        matches!(
            err,
            ReplayError::OutOfMemory {
                stage: Stage::Begin,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn huge_initial_memory_is_refused_at_instantiation() {
    // 40,000 pages = 2.6 GB.
    let wasm = analyzer(&[("memory", r#"(memory (export "memory") 40000)"#)]);
    let err = run_err(&wasm);
    assert!(
        matches!(
            err,
            ReplayError::OutOfMemory {
                stage: Stage::Instantiate,
                requested: 2621440000,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn growth_within_the_limit_is_allowed() -> TestResult {
    let wasm = analyzer(&[(
        "cfr_begin",
        r#"(func (export "cfr_begin") (param i32 i32) (result i32)
             (if (i32.eq (memory.grow (i32.const 60)) (i32.const -1)) (then unreachable))
             (i32.const 0))"#,
    )]);
    run(&wasm, &tight())?;
    Ok(())
}

#[test]
fn wasi_import_is_rejected() {
    let wasm = analyzer(&[(
        "imports",
        r#"(import "wasi_snapshot_preview1" "fd_write"
             (func $fd_write (param i32 i32 i32 i32) (result i32)))"#,
    )]);
    let err = Analyzer::compile(&wasm).expect_err("imports must be refused");
    assert_eq!(
        err,
        ReplayError::HasImports {
            imports: vec!["wasi_snapshot_preview1::fd_write (func)".into()]
        }
    );
    assert_eq!(err.code(), "analyzer-has-imports");
}

#[test]
fn every_import_is_listed() {
    let wasm = analyzer(&[(
        "imports",
        r#"(import "env" "clock_now" (func (result i64)))
           (import "env" "seed" (global i64))
           (import "env" "shared_table" (table 1 funcref))"#,
    )]);
    let err = Analyzer::compile(&wasm).expect_err("imports must be refused");
    assert_eq!(
        err,
        ReplayError::HasImports {
            imports: vec![
                "env::clock_now (func)".into(),
                "env::seed (global)".into(),
                "env::shared_table (table)".into(),
            ]
        }
    );
    assert!(err.to_string().contains("env::clock_now (func)"));
}

#[test]
fn imported_memory_is_rejected() {
    let wasm = analyzer(&[(
        "memory",
        r#"(import "env" "memory" (memory 2)) (export "memory" (memory 0))"#,
    )]);
    assert_eq!(
        Analyzer::compile(&wasm).map(|_| ()),
        Err(ReplayError::HasImports {
            imports: vec!["env::memory (memory)".into()]
        })
    );
}

#[test]
fn wrong_abi_version_is_named() {
    let wasm = analyzer(&[(
        "cfr_abi_version",
        r#"(func (export "cfr_abi_version") (result i32) (i32.const 2))"#,
    )]);
    let err = run_err(&wasm);
    assert_eq!(err, ReplayError::AbiVersion { found: 2 });
    assert_eq!(err.code(), "analyzer-abi-version");
}

#[test]
fn missing_exports_are_named() {
    for name in [
        "memory",
        "cfr_abi_version",
        "cfr_alloc",
        "cfr_begin",
        "cfr_feed",
        "cfr_output_ptr",
        "cfr_output_len",
    ] {
        let replacement = if name == "memory" { "(memory 2)" } else { "" };
        let wasm = analyzer(&[(name, replacement)]);
        assert_eq!(
            Analyzer::compile(&wasm).map(|_| ()),
            Err(ReplayError::MissingExport { name }),
            "{name}"
        );
    }
    // cfr_finish also defines the helper $put; keep that.
    let wasm = analyzer(&[("cfr_finish", "")]);
    assert_eq!(
        Analyzer::compile(&wasm).map(|_| ()),
        Err(ReplayError::MissingExport { name: "cfr_finish" })
    );
}

#[test]
fn wrong_export_types_are_named() {
    let wasm = analyzer(&[(
        "cfr_feed",
        r#"(func (export "cfr_feed") (param i32) (result i32) (i32.const 0))"#,
    )]);
    let err = Analyzer::compile(&wasm).expect_err("signature must be checked");
    assert!(
        matches!(
            &err,
            ReplayError::WrongExportType { name: "cfr_feed", expected, .. }
                if expected == "(func (param i32 i32) (result i32))"
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "analyzer-wrong-export-type");

    let wasm = analyzer(&[(
        "cfr_output_len",
        r#"(func (export "cfr_output_len") (result i64) (i64.const 0))"#,
    )]);
    assert!(matches!(
        Analyzer::compile(&wasm),
        Err(ReplayError::WrongExportType {
            name: "cfr_output_len",
            ..
        })
    ));

    let wasm = analyzer(&[(
        "memory",
        r#"(memory 2) (global (export "memory") i32 (i32.const 0))"#,
    )]);
    assert!(matches!(
        Analyzer::compile(&wasm),
        Err(ReplayError::WrongExportType { name: "memory", .. })
    ));
}

#[test]
fn invalid_bytes_are_not_a_module() {
    for bytes in [
        &b""[..],
        b"\0asm\x01\0\0\0\x01",
        b"(module)",
        b"\x7fELF\x02\x01\x01",
    ] {
        let err = Analyzer::compile(bytes).expect_err("not a module");
        assert_eq!(err.code(), "analyzer-invalid-module", "{err}");
    }
}

#[test]
fn shared_memory_needs_threads_and_is_refused() {
    let wasm = analyzer(&[("memory", r#"(memory (export "memory") 2 2 shared)"#)]);
    assert_eq!(
        Analyzer::compile(&wasm).map(|_| ()).map_err(|e| e.code()),
        Err("analyzer-invalid-module")
    );
}

#[test]
fn garbage_output_is_returned_for_the_caller_to_decode() -> TestResult {
    // Whatever bytes the analyzer claims as its verdict come back as is.
    let wasm = analyzer(&[
        ("garbage", r#"(data (i32.const 100) "\ff\00not cbor\1f")"#),
        (
            "cfr_output_ptr",
            r#"(func (export "cfr_output_ptr") (result i32) (i32.const 100))"#,
        ),
        (
            "cfr_output_len",
            r#"(func (export "cfr_output_len") (result i32) (i32.const 11))"#,
        ),
    ]);
    assert_eq!(run(&wasm, &tight())?, b"\xff\0not cbor\x1f");
    Ok(())
}

#[test]
fn error_status_carries_the_analyzer_text() {
    let wasm = analyzer(&[
        ("text", r#"(data (i32.const 100) "rule \1b[2Jmissing\ff")"#),
        (
            "cfr_feed",
            r#"(func (export "cfr_feed") (param i32 i32) (result i32)
                 (global.set $out_len (i32.const 17))
                 (i32.const 1))"#,
        ),
        (
            "cfr_output_ptr",
            r#"(func (export "cfr_output_ptr") (result i32) (i32.const 100))"#,
        ),
    ]);
    let err = run_err(&wasm);
    assert_eq!(
        err,
        ReplayError::AnalyzerError {
            stage: Stage::Feed { chunk: 0 },
            message: "rule \\u{1b}[2Jmissing\u{fffd}".into()
        }
    );
    assert_eq!(err.code(), "analyzer-error");
}

#[test]
fn enormous_error_text_is_truncated() {
    let wasm = analyzer(&[
        (
            "cfr_finish",
            r#"(func (export "cfr_finish") (result i32)
                 (memory.fill (i32.const 0) (i32.const 0x41) (i32.const 100000))
                 (i32.const 1))"#,
        ),
        (
            "cfr_output_len",
            r#"(func (export "cfr_output_len") (result i32) (i32.const 100000))"#,
        ),
    ]);
    match run_err(&wasm) {
        ReplayError::AnalyzerError {
            stage: Stage::Finish,
            message,
        } => {
            assert_eq!(
                message.chars().count(),
                cfr_replay::MAX_ERROR_TEXT_CHARS + 1
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_pointer_outside_memory_is_named() {
    let wasm = analyzer(&[(
        "cfr_output_ptr",
        r#"(func (export "cfr_output_ptr") (result i32) (i32.const 131070))"#,
    )]);
    let err = run_err(&wasm);
    assert_eq!(
        err,
        ReplayError::OutputOutOfBounds {
            stage: Stage::Finish,
            ptr: 131070,
            len: 21,
            memory: 131072
        }
    );
    assert_eq!(err.code(), "analyzer-output-out-of-bounds");
}

#[test]
fn negative_output_pointer_is_out_of_bounds() {
    let wasm = analyzer(&[(
        "cfr_output_ptr",
        r#"(func (export "cfr_output_ptr") (result i32) (i32.const -8))"#,
    )]);
    assert_eq!(run_err(&wasm).code(), "analyzer-output-out-of-bounds");
}

#[test]
fn enormous_output_length_is_refused() {
    let wasm = analyzer(&[(
        "cfr_output_len",
        r#"(func (export "cfr_output_len") (result i32) (i32.const -1))"#,
    )]);
    let err = run_err(&wasm);
    assert_eq!(
        err,
        ReplayError::OutputTooLarge {
            len: u32::MAX.into(),
            max: 1 << 20
        }
    );
    assert_eq!(err.code(), "analyzer-output-too-large");
}

#[test]
fn trap_is_named_with_its_stage() {
    let wasm = analyzer(&[(
        "cfr_finish",
        r#"(func (export "cfr_finish") (result i32) unreachable)"#,
    )]);
    match run_err(&wasm) {
        err @ ReplayError::Trap {
            stage: Stage::Finish,
            ..
        } => {
            assert!(err.to_string().contains("unreachable"), "{err}");
            assert_eq!(err.code(), "analyzer-trap");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stack_overflow_is_a_trap() {
    let wasm = analyzer(&[(
        "cfr_begin",
        r#"(func $deep (param i32) (result i32)
             (call $deep (i32.add (local.get 0) (i32.const 1))))
           (func (export "cfr_begin") (param i32 i32) (result i32)
             (call $deep (i32.const 0)))"#,
    )]);
    let err = run(&wasm, &Limits::default()).expect_err("must overflow");
    assert!(
        matches!(
            err,
            ReplayError::Trap {
                stage: Stage::Begin,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn out_of_bounds_access_is_a_trap() {
    let wasm = analyzer(&[(
        "cfr_feed",
        r#"(func (export "cfr_feed") (param i32 i32) (result i32)
             (i32.load (i32.const -4)))"#,
    )]);
    assert_eq!(run_err(&wasm).code(), "analyzer-trap");
}

#[test]
fn unknown_status_is_named() {
    let wasm = analyzer(&[(
        "cfr_begin",
        r#"(func (export "cfr_begin") (param i32 i32) (result i32) (i32.const 7))"#,
    )]);
    assert_eq!(
        run_err(&wasm),
        ReplayError::BadStatus {
            stage: Stage::Begin,
            status: 7
        }
    );
}

#[test]
fn failed_alloc_is_named() {
    let wasm = analyzer(&[(
        "cfr_alloc",
        r#"(func (export "cfr_alloc") (param i32) (result i32) (i32.const 0))"#,
    )]);
    assert_eq!(
        run_err(&wasm),
        ReplayError::AllocFailed {
            stage: Stage::Begin,
            len: 1
        }
    );
}

#[test]
fn alloc_outside_memory_is_named() {
    let wasm = analyzer(&[(
        "cfr_alloc",
        r#"(func (export "cfr_alloc") (param i32) (result i32) (i32.const 131072))"#,
    )]);
    assert_eq!(
        run_err(&wasm),
        ReplayError::InputOutOfBounds {
            stage: Stage::Begin,
            ptr: 131072,
            len: 1,
            memory: 131072
        }
    );
}

#[test]
fn a_failed_run_cannot_continue() -> TestResult {
    let wasm = analyzer(&[(
        "cfr_feed",
        r#"(func (export "cfr_feed") (param i32 i32) (result i32) unreachable)"#,
    )]);
    let analyzer = Analyzer::compile(&wasm)?;
    let mut run = analyzer.start(b"\xa0", &tight())?;
    assert_eq!(
        run.feed(b"x", 1).map_err(|e| e.code()),
        Err("analyzer-trap")
    );
    assert_eq!(run.feed(b"x", 1), Err(ReplayError::RunAborted));
    assert_eq!(run.finish(), Err(ReplayError::RunAborted));
    Ok(())
}
