//! The integration tests of cfr-rules, in one binary.

mod golden;
mod jsonl;
