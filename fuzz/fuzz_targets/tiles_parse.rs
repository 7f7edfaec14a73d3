//! C2SP tlog-tiles names, hash tiles and entry bundles as a hostile bucket
//! serves them: no panic, and whatever parses is read back exactly (one
//! name per tile, the bytes re-encoded equal).
#![no_main]

use cfr_tiles::path::TileId;
use cfr_tiles::tile::{parse_entry_bundle, parse_hash_tile, push_entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = TileId::parse(text) {
            assert_eq!(id.path(), text);
            assert!((1..=256).contains(&id.width));
        }
    }
    // The first byte is the width the name would say.
    let Some((&w, bytes)) = data.split_first() else {
        return;
    };
    let width = u16::from(w).max(1);
    if let Ok(hashes) = parse_hash_tile(bytes, width) {
        assert_eq!(hashes.concat(), bytes);
    }
    if let Ok(entries) = parse_entry_bundle(bytes, width) {
        assert_eq!(entries.len(), usize::from(width));
        let mut again = Vec::new();
        for e in entries {
            push_entry(&mut again, e).expect("an entry that parsed fits");
        }
        assert_eq!(again, bytes);
    }
});
