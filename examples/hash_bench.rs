//! Benchmark (not a test): SHA-256 throughput of the `sha2` build that
//! cfr links, on one core, so `scripts/bench.sh` can set it beside
//! `openssl speed -evp sha256` and `sha256sum` measured in the same run.
//!
//! `cargo run --release --example hash_bench -- [MIB] [RUNS]`

use sha2::{Digest as _, Sha256};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mib: usize = args.first().map_or(Ok(256), |s| s.parse())?;
    let runs: usize = args.get(1).map_or(Ok(3), |s| s.parse())?;
    // Bytes that do not compress to a pattern the CPU could shortcut.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let buf: Vec<u8> = (0..mib << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut rates = Vec::new();
    let mut out = [0u8; 32];
    for _ in 0..runs {
        let t = Instant::now();
        // 16 KiB updates, as `openssl speed -bytes 16384` hashes.
        let mut h = Sha256::new();
        for block in buf.chunks(16 << 10) {
            h.update(block);
        }
        out = h.finalize().into();
        rates.push(buf.len() as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    #[cfg(target_arch = "x86_64")]
    let sha_ni = std::arch::is_x86_feature_detected!("sha");
    #[cfg(not(target_arch = "x86_64"))]
    let sha_ni = false;
    println!(
        "sha2 crate: {:.2} GB/s median of {runs} over {mib} MiB (one core); CPU SHA extensions: {}; digest {:02x}{:02x}..",
        rates[rates.len() / 2],
        if sha_ni { "yes" } else { "no" },
        out[0],
        out[1]
    );
    Ok(())
}
