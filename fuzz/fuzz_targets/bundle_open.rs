//! Evidence bundles: the strict ustar reader over a slice, `Bundle::open`
//! over a file (then every event, the contract and the checkpoint), and the
//! manifest decoder on the raw input.
#![no_main]

use cfr_bundle_format::bundle::{Bundle, MAX_ANALYZER};
use cfr_bundle_format::manifest::Manifest;
use cfr_bundle_format::seal::MAX_CHUNK_BYTES;
use cfr_bundle_format::tar::{TarLimits, TarReader};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The scratch file each input is written to, in /dev/shm where there is
/// one (on a disk-backed /tmp the write and open cut the rate by ten). It is
/// removed as soon as the bundle is opened: the reader keeps its handle.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() };
        dir.join(format!("cfr-fuzz-bundle-{}.cfr", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    // The tar layer alone, in memory, with the limits Bundle::open uses.
    let limits = TarLimits {
        max_member_size: MAX_ANALYZER.max(MAX_CHUNK_BYTES * 2),
        ..TarLimits::default()
    };
    let mut reader = TarReader::from_slice(data, limits);
    let mut previous_end = 0u64;
    while let Ok(Some(member)) = reader.next_member() {
        assert!(member.header_offset() >= previous_end, "members overlap");
        previous_end = member.data_range().end;
        let bytes = reader
            .member_bytes(&member)
            .expect("a checked member lies inside the archive");
        assert_eq!(bytes.len() as u64, member.size());
    }
    if reader.is_complete() {
        assert!(previous_end <= data.len() as u64);
    }

    // The manifest decoder on the raw input: strict, so canonical.
    if let Ok(m) = Manifest::from_cbor(data) {
        assert_eq!(m.to_cbor(), data, "manifest accepted in a non-canonical form");
    }

    // The whole bundle reader, through a file.
    let path = scratch();
    std::fs::write(path, data).expect("write scratch file");
    let opened = Bundle::open(path);
    let _ = std::fs::remove_file(path);
    let Ok(bundle) = opened else {
        return;
    };
    let mut events = 0u64;
    for r in bundle.events() {
        match r {
            Ok(_) => events += 1,
            Err(_) => break,
        }
    }
    let _ = events;
    let _ = bundle.contract();
    if let Ok(Some(note)) = bundle.read_small(cfr_bundle_format::layout::CHECKPOINT) {
        let _ = cfr_merkle::SignedCheckpoint::parse(&note);
    }
});
