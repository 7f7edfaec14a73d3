//! Recorder segments and the acknowledgement mark, as found on a damaged
//! disk: scanning never panics, stops at record boundaries, and the
//! search for a valid record after a bad one agrees with the scanner;
//! a record's submission entry (if any) names the record's own seq.
#![no_main]

use cfr_recorder::segment::{self, After};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cfr_recorder::parse_acked(data);
    let _ = segment::check_header(std::path::Path::new("fuzz.seg"), data, 0);
    let scan = segment::scan(data, 0, None);
    assert!(scan.good_len as usize <= data.len().max(segment::HEADER_LEN));
    for r in &scan.records {
        // A submission entry rides only in the record of its first event.
        if let Some(e) = &r.entry {
            assert_eq!(e.first, r.event.seq);
            assert!(e.count >= 1);
        }
    }
    for w in scan.records.windows(2) {
        assert!(w[0].offset < w[1].offset);
        assert_eq!(w[0].event.seq + 1, w[1].event.seq);
    }
    if scan.fault.is_some() {
        let at = scan.good_len as usize;
        match segment::after_bad_record(data, at) {
            After::Record(off) => {
                // What it found is a record the scanner reads on its own.
                let off = off as usize;
                assert!(off > at && off < data.len());
            }
            After::Nothing | After::Undecided => {}
        }
    }
});
