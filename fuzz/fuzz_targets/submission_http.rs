//! `POST /v1/submissions` as the recorder sees it: the Cfr-Party,
//! Cfr-Submission and Cfr-Signature headers and a JSON Lines or CBOR
//! sequence body, against the storage-month contract. Never panics; an
//! accepted submission is one whose every event may stand in it and whose
//! signature verifies again; a refusal has a 4xx status.
//!
//! Input: a flag byte (bit 0: the body is a CBOR sequence), then the three
//! header values, each ending in `\n` (an empty one is an absent header),
//! then the body.
#![no_main]

use cfr_recorder::submission::authenticate;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn contract() -> &'static cfr_contract::Contract {
    static C: OnceLock<cfr_contract::Contract> = OnceLock::new();
    C.get_or_init(|| {
        cfr_contract::Contract::from_toml(include_str!(
            "../../samples/storage-month/contract.toml"
        ))
        .expect("the sample contract")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut headers = [None, None, None];
    for h in &mut headers {
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            return;
        };
        let value = std::str::from_utf8(&rest[..nl]).ok();
        *h = value.filter(|v| !v.is_empty());
        rest = &rest[nl + 1..];
    }
    let [party, id, sig] = headers;
    let c = contract();
    match authenticate(c, party, id, sig, flags & 1 == 1, rest) {
        Ok(v) => {
            assert!(!v.events().is_empty());
            for e in v.events() {
                assert!(e.actor == v.party() || e.sig.is_some());
            }
            let again = cfr_recorder::SignedSubmission {
                party: v.party().to_owned(),
                id: v.id().to_owned(),
                sig: v.sig().to_vec(),
                events: v.events().to_vec(),
            }
            .verify(c)
            .expect("an accepted submission verifies again");
            assert_eq!(again.digest(), v.digest());
        }
        Err(r) => {
            assert!((400..500).contains(&r.status()), "{r}");
            let _ = r.to_string();
        }
    }
});
