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
    a.start(contract_cbor, &cfr_replay::Limits::default())
        .map(Run)
        .map_err(|e| (e.code(), e.to_string()))
}

/// Without the `replay` feature, analyzers cannot run.
#[cfg(not(feature = "replay"))]
pub fn start(_module: &[u8], _contract_cbor: &[u8]) -> Result<Run, Failure> {
    Err((
        "analyzer-unavailable",
        "this build of cfr has no analyzer sandbox (feature `replay`)".to_owned(),
    ))
}

impl Run {
    /// Feeds a chunk of `events` events.
    pub fn feed(&mut self, chunk: &[u8], events: u64) -> Result<(), Failure> {
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
    pub fn finish(self) -> Result<Vec<u8>, Failure> {
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
