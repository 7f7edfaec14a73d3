//! Strict canonical CBOR: whatever decodes must re-encode to the same bytes,
//! and every event of a CBOR sequence must re-encode to its own byte range.
#![no_main]

use cfr_model::{cbor, EventSeq};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = cbor::decode(data) {
        assert_eq!(
            cbor::encode(&v),
            data,
            "decoded CBOR does not re-encode to the same bytes: {v:?}"
        );
    }
    let mut seq = EventSeq::new(data);
    let mut last_end = 0usize;
    for r in &mut seq {
        match r {
            Ok((event, range)) => {
                assert_eq!(range.start, last_end, "events are not contiguous");
                assert!(range.end <= data.len());
                last_end = range.end;
                assert_eq!(
                    event.encode(),
                    &data[range.clone()],
                    "event at {range:?} does not re-encode to its bytes: {event:?}"
                );
                assert_eq!(cfr_model::Event::from_cbor(&data[range]).as_ref(), Ok(&event));
            }
            Err(_) => break,
        }
    }
});
