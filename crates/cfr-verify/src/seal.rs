//! Sealing with the analyzer run in the sandbox.

use crate::sandbox;
use cfr_bundle_format::feed::Worker;
use cfr_bundle_format::seal::{seal_judged, Input, SealError, SealOptions, SealSummary};
use cfr_contract::Contract;
use std::path::Path;

/// Seals `events` into a bundle at `out` like
/// [`cfr_bundle_format::seal::seal`], except that the analyzer in `opts`,
/// if any, is run in the sandbox and its verdict is sealed (the native
/// engine's is computed too, to report a disagreement).
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
            let contract = Contract::from_toml(&opts.contract_toml)?;
            let run = sandbox::start(module, &contract.to_cbor())
                .map_err(|(_, e)| SealError::Analyzer(e))?;
            Some(Worker::spawn(run))
        }
        None => None,
    };
    seal_judged(opts, analyzer, events, out, progress)
}
