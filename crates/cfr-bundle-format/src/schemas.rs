//! The CDDL schemas a bundle carries in `schemas/` (the files of the
//! repository's `schemas/` directory, plus the event specification derived
//! from the bundle's own contract).

use cfr_contract::Contract;

/// Schemas that do not depend on the contract: (member name, text).
pub const STATIC: &[(&str, &str)] = &[
    (
        "schemas/contract.cddl",
        include_str!("../../../schemas/contract.cddl"),
    ),
    (
        "schemas/cose.cddl",
        include_str!("../../../schemas/cose.cddl"),
    ),
    (
        "schemas/event.cddl",
        include_str!("../../../schemas/event.cddl"),
    ),
    (
        "schemas/manifest.cddl",
        include_str!("../../../schemas/manifest.cddl"),
    ),
    (
        "schemas/submission.cddl",
        include_str!("../../../schemas/submission.cddl"),
    ),
    (
        "schemas/verdict.cddl",
        include_str!("../../../schemas/verdict.cddl"),
    ),
];

/// Member name of the contract-specific events schema.
pub const EVENTS_SCHEMA: &str = "schemas/events.cddl";

/// Every schema member for a bundle of `contract`, sorted by name.
pub fn members(contract: &Contract) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = STATIC
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    v.push((EVENTS_SCHEMA.to_owned(), contract.events_cddl()));
    v.sort();
    v
}
