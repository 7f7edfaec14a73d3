//! C2SP signed checkpoints: a parsed note writes back byte for byte.
#![no_main]

use cfr_merkle::SignedCheckpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = SignedCheckpoint::parse(data) else {
        return;
    };
    let note = parsed.to_note();
    assert_eq!(
        note.as_bytes(),
        data,
        "a parsed checkpoint does not write back to the same note"
    );
    let again = SignedCheckpoint::parse(note.as_bytes()).expect("to_note output must parse");
    assert_eq!(again, parsed);
    // The body parses on its own to the same checkpoint.
    let body = cfr_merkle::Checkpoint::parse_body(parsed.body()).expect("body must parse");
    assert_eq!(&body, parsed.checkpoint());
    assert_eq!(body.body(), parsed.body());
});
