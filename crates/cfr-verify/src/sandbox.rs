//! The analyzer sandbox (wasmtime, through `cfr-replay`), behind the
//! default `replay` feature: without it, verification replays with the
//! native rule engine only and links no wasmtime.

pub use cfr_bundle_format::feed::{Feed, Worker};

/// A replay in progress in the sandbox.
#[cfg(feature = "replay")]
pub struct Run(cfr_replay::Run);

/// Without the `replay` feature, no run can exist.
#[cfg(not(feature = "replay"))]
pub enum Run {}

pub use cfr_bundle_format::feed::Failure;

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
