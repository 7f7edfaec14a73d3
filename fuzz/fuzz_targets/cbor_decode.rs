//! Strict canonical CBOR: whatever decodes must re-encode to the same bytes,
//! and every event of a CBOR sequence must re-encode to its own byte range.
//! The reusing reader (`EventReader`, what the analyzer and the engine
//! use) must read the same sequence exactly as a fresh decode does.
#![no_main]

use cfr_model::{cbor, EventReader, EventSeq};
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
    let fresh: Vec<_> = EventSeq::new(data).collect();
    let mut reader = EventReader::new();
    let mut events = EventSeq::new(data);
    let mut reused = Vec::new();
    while let Some(r) = reader.next(&mut events) {
        reused.push(r.map(|(e, range)| (e.clone(), range)));
    }
    assert_eq!(fresh, reused, "the reusing reader reads the sequence differently");
});
