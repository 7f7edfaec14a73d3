//! Tests of the recorder: storage and recovery, the HTTP API with bad
//! input, and a load test. The crash tests (SIGKILL, a full disk) run
//! `cfr-bundle log serve` and live in the workspace's `tests/all`.

mod common;
mod http_api;
mod store;
