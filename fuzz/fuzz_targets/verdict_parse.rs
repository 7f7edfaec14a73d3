//! A sealed verdict (`verdict/verdict.cbor`), read in place by
//! `Verdict::from_cbor`: whatever it accepts must re-encode to the same
//! bytes, in CBOR and through its JSON form; a CBOR fault must be named
//! as the generic decoder names it; and the non-allocating `skip` must
//! agree with the generic decoder on every input.
#![no_main]

use cfr_model::cbor;
use cfr_rules::{Verdict, VerdictError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let generic = cbor::decode(data);
    let (mut built, mut skipped) = (cbor::Decoder::new(data), cbor::Decoder::new(data));
    let (b, s) = (built.value().map(|_| ()), skipped.skip());
    assert_eq!(b, s, "skip and value disagree");
    if b.is_ok() {
        assert_eq!(built.position(), skipped.position(), "skip ends elsewhere");
    }
    match Verdict::from_cbor(data) {
        Ok(v) => {
            assert_eq!(v.to_cbor(), data, "an accepted verdict re-encodes differently");
            assert_eq!(cbor::encode(&v.to_cbor_tree()), data);
            let _ = v.to_json();
        }
        Err(VerdictError::Cbor(e)) => {
            assert_eq!(generic.err(), Some(e), "a CBOR fault named differently");
        }
        Err(e) => assert!(generic.is_ok(), "{e} hides a CBOR fault"),
    }
});
