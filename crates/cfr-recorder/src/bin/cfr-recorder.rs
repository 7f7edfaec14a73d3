//! A minimal recorder process: `cfr-recorder DIR KEY [LISTEN]`.
//!
//! Opens the log at DIR with the recorder key KEY (PKCS#8 PEM), serves it
//! on LISTEN (default `127.0.0.1:0`), prints `listening on ADDR` once
//! ready, and runs until killed or stdin closes. It exists for the crash
//! test and the benchmark; `cfr-bundle log serve` is the command for users.

use cfr_recorder::server::{serve, ServerOptions};
use cfr_recorder::{Recorder, RecorderOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: cfr-recorder DIR KEY [LISTEN] [CHECKPOINT_INTERVAL_MS]");
        return ExitCode::from(2);
    }
    let dir = PathBuf::from(&args[0]);
    let listen = args.get(2).cloned().unwrap_or_else(|| "127.0.0.1:0".into());
    let interval = args
        .get(3)
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_millis);
    let key = match cfr_model::keys::read_signing_key(&PathBuf::from(&args[1])) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let recorder = match Recorder::open(
        &dir,
        RecorderOptions {
            key: Some(key),
            ..RecorderOptions::default()
        },
    ) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!("listening on {}", listener.local_addr()?);
        let _ = std::io::stdout().flush();
        let opts = ServerOptions {
            checkpoint_interval: interval.or(Some(Duration::from_secs(1))),
            ..ServerOptions::default()
        };
        // Stop when stdin closes (the parent went away) or on Ctrl-C.
        let shutdown = async {
            let stdin = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            });
            tokio::select! {
                _ = stdin => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        serve(recorder, listener, opts, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
