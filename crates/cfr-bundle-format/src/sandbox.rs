//! The analyzer sandbox, behind the default `replay` feature, so that tools
//! (and fuzz targets) that only read bundles need not link wasmtime.

/// A replay in progress in the sandbox.
#[cfg(feature = "replay")]
pub struct Run(cfr_replay::Run);

/// Without the `replay` feature, no run can exist.
#[cfg(not(feature = "replay"))]
pub enum Run {}

/// A sandbox failure: (stable code, message).
pub type Failure = (&'static str, String);

/// Compiles `module` and starts a run over `contract_cbor`.
#[cfg(feature = "replay")]
pub fn start(module: &[u8], contract_cbor: &[u8]) -> Result<Run, Failure> {
    let a = cfr_replay::Analyzer::compile(module).map_err(|e| (e.code(), e.to_string()))?;
    a.start(contract_cbor, &limits())
        .map(Run)
        .map_err(|e| (e.code(), e.to_string()))
}

/// The sandbox's limits: the defaults, with the verdict bounded as every
/// reader bounds it ([`cfr_rules::verdict::max_verdict_bytes`]).
#[cfg(feature = "replay")]
pub fn limits() -> cfr_replay::Limits {
    cfr_replay::Limits {
        max_output_bytes: cfr_rules::verdict::VERDICT_BASE_BYTES,
        output_per_event: cfr_rules::verdict::VERDICT_BYTES_PER_EVENT,
        ..cfr_replay::Limits::default()
    }
}

/// Without the `replay` feature, analyzers cannot run.
#[cfg(not(feature = "replay"))]
pub fn start(_module: &[u8], _contract_cbor: &[u8]) -> Result<Run, Failure> {
    Err((
        "analyzer-unavailable",
        "this build of cfr has no analyzer sandbox (feature `replay`)".to_owned(),
    ))
}

/// Something that consumes event chunks and produces a verdict: the
/// sandboxed analyzer, or the native engine.
pub trait Feed: Send + 'static {
    /// Feeds a chunk of `events` events (a CBOR sequence).
    fn feed(&mut self, chunk: &[u8], events: u64) -> Result<(), Failure>;
    /// Finishes and returns the verdict bytes.
    fn finish(self) -> Result<Vec<u8>, Failure>;
}

/// A [`Feed`] on its own thread, fed through a small bounded queue, so that
/// reading, hashing and checking the log overlap with judging it.
pub struct Worker {
    tx: std::sync::mpsc::SyncSender<(Vec<u8>, u64)>,
    handle: std::thread::JoinHandle<Result<Vec<u8>, Failure>>,
}

impl Worker {
    /// Starts the thread.
    pub fn spawn<F: Feed>(mut run: F) -> Worker {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64)>(2);
        let handle = std::thread::spawn(move || {
            for (raw, events) in rx {
                // On failure, returning drops the receiver, which tells the
                // sender to stop.
                run.feed(&raw, events)?;
            }
            run.finish()
        });
        Worker { tx, handle }
    }

    /// Queues a chunk; false when the worker has stopped (its error comes
    /// with [`Worker::finish`]).
    pub fn feed(&mut self, raw: Vec<u8>, events: u64) -> bool {
        self.tx.send((raw, events)).is_ok()
    }

    /// Waits for the verdict (or the first failure).
    pub fn finish(self) -> Result<Vec<u8>, Failure> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(("replay-failed", "the replay thread panicked".to_owned())))
    }
}

impl Feed for Run {
    /// Feeds a chunk of `events` events.
    fn feed(&mut self, chunk: &[u8], events: u64) -> Result<(), Failure> {
        #[cfg(feature = "replay")]
        {
            self.0
                .feed(chunk, events)
                .map_err(|e| (e.code(), e.to_string()))
        }
        #[cfg(not(feature = "replay"))]
        {
            let _ = (chunk, events);
            match *self {}
        }
    }

    /// Finishes and returns the verdict bytes.
    fn finish(self) -> Result<Vec<u8>, Failure> {
        #[cfg(feature = "replay")]
        {
            self.0.finish().map_err(|e| (e.code(), e.to_string()))
        }
        #[cfg(not(feature = "replay"))]
        {
            match self {}
        }
    }
}
