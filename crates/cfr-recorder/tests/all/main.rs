//! Tests of the recorder: storage and recovery, the HTTP API with bad
//! input, a crash test with SIGKILL, a full disk, and a load test.

mod common;
mod crash;
mod http_api;
mod store;
