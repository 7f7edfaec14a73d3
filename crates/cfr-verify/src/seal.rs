//! Sealing with the analyzer run in the sandbox.

use crate::sandbox;
use cfr_bundle_format::feed::Worker;
use cfr_bundle_format::seal::{seal_judged, Input, SealError, SealOptions, SealSummary};
use cfr_contract::Contract;
use std::path::Path;

/// Seals `events` into a bundle at `out` like
/// [`cfr_bundle_format::seal::seal`], except that the analyzer in `opts`,
/// if any, is run in the sandbox and its verdict is sealed (the native
/// engine's is computed too, to report a disagreement). The analyzer
/// compiles on its own thread while the first events are read; a module
/// that does not compile fails the seal with [`SealError::Analyzer`] once
/// that is known.
pub fn seal<I, T>(
    opts: &SealOptions<'_>,
    events: I,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<SealSummary, SealError>
where
    I: Iterator<Item = Result<T, SealError>>,
    T: Into<Input>,
{
    let analyzer = match &opts.analyzer {
        Some(module) => {
            let contract = Contract::from_toml(&opts.contract_toml)?.to_cbor();
            let module = module.to_vec();
            Some(Worker::start(move || sandbox::start(&module, &contract)))
        }
        None => None,
    };
    seal_judged(opts, analyzer, events, out, progress)
}
