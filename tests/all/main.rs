//! End-to-end tests of `cfr-bundle` and its libraries, in one binary so
//! that wasmtime is linked once.

mod analyzer;
mod api;
mod bundle_e2e;
mod excerpt;
mod pg;
mod readme;
mod receipts;
mod recorder;
mod recorder_crash;
mod report;
mod schemas;
mod sla;
mod tamper;
mod tiles;
mod timestamp;
mod trust;
mod util;
mod witness;
