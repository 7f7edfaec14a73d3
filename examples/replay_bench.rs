//! Benchmark (not a test): replay a bundle's log with the WASM analyzer
//! and with the native engine, same chunks, same process; prints medians.
//!
//! `cargo run --release --example replay_bench -- evidence.cfr [runs]`

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

    let t = Instant::now();
    let analyzer = cfr_replay::Analyzer::compile(&module)?;
    let compile = t.elapsed().as_secs_f64();

    let (mut wasm, mut native) = (Vec::new(), Vec::new());
    let (mut wv, mut nv) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let mut run = analyzer.start(&contract_cbor, &cfr_replay::Limits::default())?;
        for (raw, n) in &chunks {
            run.feed(raw, *n)?;
        }
        wv = run.finish()?;
        wasm.push(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let mut engine = cfr_rules::Engine::new(&contract);
        for (raw, _) in &chunks {
            for item in cfr_model::EventSeq::new(raw) {
                engine.push(&item?.0)?;
            }
        }
        nv = engine.finish().to_cbor();
        native.push(t.elapsed().as_secs_f64());
    }
    assert_eq!(wv, nv, "WASM and native verdicts differ");
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
    Ok(())
}
