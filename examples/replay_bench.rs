//! Benchmark (not a test): replay a bundle's log with the WASM analyzer
//! and with the native engine, same chunks, same process; prints medians.
//! It also runs the analyzer through a bare wasmtime driver of the ABI,
//! configured as `cfr-replay`'s sandbox, with and without fuel metering,
//! to show what the metering costs (verification always meters).
//!
//! `cargo run --release --example replay_bench -- evidence.cfr [runs] [module.wasm]`
//!
//! With a third argument, the bare driver runs that module instead of the
//! bundle's (an unstripped build of the same analyzer, say), and with
//! `CFR_BENCH_PERFMAP=1` it writes `/tmp/perf-PID.map`, so that
//! `perf report` names the guest's functions. The timed replays always use
//! the bundle's analyzer.

use cfr_bundle_format::bundle::Bundle;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: replay_bench BUNDLE [RUNS]")?;
    let runs: usize = args.get(1).map_or(Ok(3), |s| s.parse())?;
    let b = Bundle::open(std::path::Path::new(path))?;
    let contract = b.contract()?;
    let contract_cbor = contract.to_cbor();
    let chunks: Vec<(Vec<u8>, u64)> = b
        .manifest
        .log
        .chunks
        .iter()
        .map(|e| b.chunk(e).map(|c| (c.raw, e.events)))
        .collect::<Result<_, _>>()?;
    let events: u64 = chunks.iter().map(|c| c.1).sum();
    let module = b
        .read_member_max("analyzer/analyzer.wasm", 64 << 20)?
        .ok_or("the bundle has no analyzer")?;
    let bare_module = match args.get(2) {
        Some(path) => std::fs::read(path)?,
        None => module.clone(),
    };

    let t = Instant::now();
    let analyzer = cfr_replay::Analyzer::compile(&module)?;
    let compile = t.elapsed().as_secs_f64();

    let mut fueled = Vec::new();
    let mut unmetered = Vec::new();
    let mut bare = Vec::new();
    let mut bare_fuel = 0;
    let mut bare_memory = Memory::default();
    for _ in 0..runs {
        for (fuel, times) in [(true, &mut fueled), (false, &mut unmetered)] {
            let t = Instant::now();
            let (verdict, used, memory) = bare_replay(&bare_module, &contract_cbor, &chunks, fuel)?;
            times.push(t.elapsed().as_secs_f64());
            bare.push(verdict);
            bare_fuel = bare_fuel.max(used);
            bare_memory = memory;
        }
    }

    let (mut wasm, mut native) = (Vec::new(), Vec::new());
    let (mut wv, mut nv) = (Vec::new(), Vec::new());
    let mut fuel = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let mut run = analyzer.start(&contract_cbor, &cfr_replay::Limits::default())?;
        for (raw, n) in &chunks {
            run.feed(raw, *n)?;
        }
        fuel = run.fuel_consumed();
        wv = run.finish()?;
        wasm.push(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let mut engine = cfr_rules::Engine::new(&contract);
        for (raw, _) in &chunks {
            engine.feed(raw)?;
        }
        nv = engine.finish().to_cbor();
        native.push(t.elapsed().as_secs_f64());
    }
    assert_eq!(wv, nv, "WASM and native verdicts differ");
    assert!(
        bare.iter().all(|v| *v == wv),
        "the bare driver's verdict differs"
    );
    let (w, n) = (median(wasm), median(native));
    println!(
        "events {events}, module {} bytes, compile {compile:.3} s",
        module.len()
    );
    println!(
        "wasm replay   median {w:.3} s  {:.0} events/s",
        events as f64 / w
    );
    println!(
        "native engine median {n:.3} s  {:.0} events/s (decode + engine)",
        events as f64 / n
    );
    println!("wasm/native {:.2}x; verdicts byte-identical", w / n);
    // Fuel counts the guest's work and does not depend on the machine's
    // load: the figure to compare two analyzers by.
    println!(
        "fuel consumed by the feeds {fuel} ({:.0} per event)",
        fuel as f64 / events as f64
    );
    let (f, u) = (median(fueled), median(unmetered));
    println!(
        "bare driver with fuel {f:.3} s; wasm, no fuel metering {u:.3} s; metering costs {:.0}%",
        (f / u - 1.0) * 100.0
    );
    println!(
        "bare driver's module: fuel {bare_fuel} ({:.0} per event, begin to finish)",
        bare_fuel as f64 / events as f64
    );
    // The guest's linear memory never shrinks: its size after a call is
    // the most it held, and the same in every run of the same module.
    let mib = |b: usize| b as f64 / f64::from(1 << 20);
    println!(
        "bare driver's module: linear memory {:.1} MiB after the feeds, {:.1} MiB after finish (verdict {} bytes)",
        mib(bare_memory.fed),
        mib(bare_memory.finished),
        bare.last().map_or(0, Vec::len)
    );
    Ok(())
}

/// The size of the bare driver's linear memory after the last feed and
/// after `cfr_finish`, in bytes.
#[derive(Default)]
struct Memory {
    fed: usize,
    finished: usize,
}

/// The analyzer ABI (`cfr-analyzer/1`) driven directly with wasmtime,
/// configured as `cfr_replay::Sandbox` is, with fuel metering on or off.
/// Returns the verdict, the fuel consumed (0 unmetered) and the linear
/// memory's sizes.
fn bare_replay(
    module: &[u8],
    contract: &[u8],
    chunks: &[(Vec<u8>, u64)],
    fuel: bool,
) -> Result<(Vec<u8>, u64, Memory), Box<dyn std::error::Error>> {
    use wasmtime::{Config, Engine, Instance, Module, Store};
    let mut config = Config::new();
    config
        .consume_fuel(fuel)
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true);
    let perfmap = std::env::var_os("CFR_BENCH_PERFMAP").is_some();
    if perfmap {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)?;
    let module = Module::from_binary(&engine, module)?;
    if perfmap {
        // Keep every profiled module's code mapped until the process ends,
        // so that no later module is compiled at its addresses: the perf
        // map's entries would overlap and name the wrong functions.
        std::mem::forget(module.clone());
    }
    let mut store = Store::new(&engine, ());
    if fuel {
        store.set_fuel(u64::MAX)?;
    }
    let instance = Instance::new(&mut store, &module, &[])?;
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or("no memory")?;
    let alloc = instance.get_typed_func::<i32, i32>(&mut store, "cfr_alloc")?;
    let begin = instance.get_typed_func::<(i32, i32), i32>(&mut store, "cfr_begin")?;
    let feed = instance.get_typed_func::<(i32, i32), i32>(&mut store, "cfr_feed")?;
    let finish = instance.get_typed_func::<(), i32>(&mut store, "cfr_finish")?;
    let out_ptr = instance.get_typed_func::<(), i32>(&mut store, "cfr_output_ptr")?;
    let out_len = instance.get_typed_func::<(), i32>(&mut store, "cfr_output_len")?;
    let call = |f: &wasmtime::TypedFunc<(i32, i32), i32>,
                store: &mut Store<()>,
                bytes: &[u8]|
     -> Result<(), Box<dyn std::error::Error>> {
        let len = i32::try_from(bytes.len())?;
        let ptr = alloc.call(&mut *store, len)?;
        memory.write(&mut *store, usize::try_from(ptr)?, bytes)?;
        match f.call(&mut *store, (ptr, len))? {
            0 => Ok(()),
            s => Err(format!("status {s}").into()),
        }
    };
    call(&begin, &mut store, contract)?;
    for (raw, _) in chunks {
        call(&feed, &mut store, raw)?;
    }
    let fed = memory.data_size(&store);
    if finish.call(&mut store, ())? != 0 {
        return Err("cfr_finish failed".into());
    }
    let (p, n) = (out_ptr.call(&mut store, ())?, out_len.call(&mut store, ())?);
    let mut out = vec![0u8; usize::try_from(n)?];
    memory.read(&store, usize::try_from(p)?, &mut out)?;
    let used = if fuel {
        u64::MAX - store.get_fuel()?
    } else {
        0
    };
    let finished = memory.data_size(&store);
    Ok((out, used, Memory { fed, finished }))
}
