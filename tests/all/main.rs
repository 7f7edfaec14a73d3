//! End-to-end tests of cfr-bundle.
