//! Reading, writing, sealing and verifying cfr evidence bundles

pub mod cose;
pub mod tar;
