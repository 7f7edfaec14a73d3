//! Integration tests of `cfr-merkle`, one binary (see STYLE.md).

mod checkpoint;
mod properties;
mod reference;
mod vectors;
