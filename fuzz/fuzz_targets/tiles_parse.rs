//! C2SP tlog-tiles names, hash tiles and entry bundles as a hostile bucket
//! serves them: no panic, and whatever parses is read back exactly (one
//! name per tile, the bytes re-encoded equal).
#![no_main]

use cfr_tiles::path::TileId;
use cfr_tiles::tile::{parse_entry_bundle, parse_hash_tile, push_entry, Tiler};
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
    // A publisher resuming from a hostile store's right edge: the size
    // from 3 bytes, then each level's hashes (the widths the size implies)
    // and the partial bundle from the rest. Only an edge that is the
    // size's, with a bundle of level 0's entries, resumes, and it says
    // back what it was given.
    if data.len() >= 3 {
        let size = u64::from(data[0]) | u64::from(data[1]) << 8 | u64::from(data[2]) << 16;
        let mut rest = &data[3..];
        let mut partial = Vec::new();
        for l in 0..cfr_tiles::path::levels(size) {
            let w = ((size >> (8 * u32::from(l))) % 256) as usize;
            let n = (w * 32).min(rest.len());
            let (tile, more) = rest.split_at(n);
            rest = more;
            partial.push(parse_hash_tile(tile, w as u16).unwrap_or_default());
        }
        if let Some(t) = Tiler::resume(size, partial.clone(), rest.to_vec()) {
            assert_eq!(t.size(), size);
            let tiles = t.partial_tiles();
            for (l, hashes) in partial.iter().enumerate().filter(|(_, h)| !h.is_empty()) {
                let tile = tiles
                    .iter()
                    .find(|x| x.id.kind == cfr_tiles::path::TileKind::Hash(l as u8))
                    .expect("the level's partial tile");
                assert_eq!(tile.bytes, hashes.concat());
            }
        }
    }
});
