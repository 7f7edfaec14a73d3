//! The integration tests of cfr-rules, in one binary.
#![allow(clippy::unwrap_used)]

mod edges;
mod golden;
mod jsonl;
mod props;
mod published;
mod sla;
mod util;
