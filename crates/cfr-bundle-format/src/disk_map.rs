//! A hash table on disk of 32-byte keys (SHA-256 digests) and
//! fixed-width values, whose memory does not grow with its size: the
//! recorder's retry index and the verifier's check for submission ids
//! used twice keep their entries in it.
//!
//! It lives in an unlinked temporary file (gone when the process ends,
//! whatever way it ends): scratch data, rebuilt whenever it is needed, so
//! it needs no fsync and no recovery of its own. It holds 4 KiB pages and
//! grows by linear hashing: one bucket is split at a time, so no insert
//! rehashes the table. A bucket is a page of the bucket file and, when it
//! overflows, a chain of pages of the overflow file; pages freed by a
//! split are chained on disk for reuse. Only a few counters stay in
//! memory; the kernel's page cache serves the pages (a lookup reads one
//! page, rarely two).
//!
//! The keys may come from someone who could grind inputs whose digests
//! share their low bits. Buckets are chosen by a hash with a random key
//! ([`RandomState`]), so no one can aim keys at one bucket. Nothing of
//! the table's layout reaches any output.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::Path;

/// A page's bytes.
const PAGE: usize = 4096;
/// A page's header: its record count (`u16`, little-endian, at 0) and the
/// next page of its chain (`u64` at 8: 0 for none, `k + 1` for overflow
/// page `k`).
const HEAD: usize = 16;
/// A bucket is split once the table holds more than this share of its
/// buckets' first pages' slots (3/5).
const LOAD: (u64, u64) = (3, 5);

type Page = [u8; PAGE];

/// Where a page is.
#[derive(Clone, Copy)]
enum Loc {
    Bucket(u64),
    Overflow(u64),
}

/// A hash table of `[u8; 32]` keys and `[u8; V]` values on disk.
pub struct DiskMap<const V: usize, S = RandomState> {
    buckets: File,
    overflow: File,
    /// Pages in the overflow file.
    overflow_pages: u64,
    /// The first free overflow page plus one (0: none); each free page's
    /// header holds the next.
    free: u64,
    /// Before this round of splits the table had `2^level` buckets.
    level: u32,
    /// The next bucket to split (buckets below it are split this round).
    split: u64,
    len: u64,
    hasher: S,
}

impl<const V: usize> DiskMap<V> {
    /// An empty table, its files (unlinked) in `dir`.
    pub fn new(dir: &Path) -> io::Result<Self> {
        DiskMap::with_hasher(dir, RandomState::new())
    }
}

impl<const V: usize, S: BuildHasher> DiskMap<V, S> {
    /// Records a page holds.
    pub(crate) const SLOTS: usize = (PAGE - HEAD) / (32 + V);

    /// An empty table whose buckets `hasher` picks (tests use one that
    /// sends every key to one bucket).
    pub fn with_hasher(dir: &Path, hasher: S) -> io::Result<Self> {
        let buckets = tempfile::tempfile_in(dir)?;
        buckets.set_len(PAGE as u64)?;
        Ok(DiskMap {
            buckets,
            overflow: tempfile::tempfile_in(dir)?,
            overflow_pages: 0,
            free: 0,
            level: 0,
            split: 0,
            len: 0,
            hasher,
        })
    }

    /// The number of keys.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn bucket_count(&self) -> u64 {
        (1u64 << self.level) + self.split
    }

    fn bucket_of(&self, key: &[u8; 32]) -> u64 {
        let h = self.hasher.hash_one(key);
        let b = h & ((1u64 << self.level) - 1);
        if b < self.split {
            h & ((1u64 << (self.level + 1)) - 1)
        } else {
            b
        }
    }

    fn read(&self, loc: Loc, page: &mut Page) -> io::Result<()> {
        match loc {
            Loc::Bucket(b) => self.buckets.read_exact_at(page, b * PAGE as u64),
            Loc::Overflow(k) => self.overflow.read_exact_at(page, k * PAGE as u64),
        }
    }

    fn write(&self, loc: Loc, page: &Page) -> io::Result<()> {
        match loc {
            Loc::Bucket(b) => self.buckets.write_all_at(page, b * PAGE as u64),
            Loc::Overflow(k) => self.overflow.write_all_at(page, k * PAGE as u64),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8; 32]) -> io::Result<Option<[u8; V]>> {
        let mut page = [0u8; PAGE];
        let mut loc = Loc::Bucket(self.bucket_of(key));
        loop {
            self.read(loc, &mut page)?;
            if let Some(i) = find(&page, key, V)? {
                return Ok(Some(value_of(&page, i)));
            }
            match next(&page) {
                Some(k) => loc = Loc::Overflow(k),
                None => return Ok(None),
            }
        }
    }

    /// Sets the value of each key (of a key given twice, the later).
    /// The table first grows to hold them all, then each bucket they go
    /// to is read and written once, however many of them it gets. On an
    /// error the table may have lost keys: stop using it.
    pub fn insert_many(&mut self, batch: &[([u8; 32], [u8; V])]) -> io::Result<()> {
        // Keys already present make the table split a little early, no
        // more.
        let want = self.len + batch.len() as u64;
        while want * LOAD.1 > self.bucket_count() * Self::SLOTS as u64 * LOAD.0 {
            self.split_one()?;
        }
        let mut order: Vec<(u64, usize)> = batch
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (self.bucket_of(k), i))
            .collect();
        // By bucket, and within one in the batch's order.
        order.sort_unstable();
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            // The bucket's chain, and which of its pages changed.
            let mut pages: Vec<(Loc, Box<Page>, bool)> = Vec::new();
            let mut loc = Loc::Bucket(group[0].0);
            loop {
                let mut page = Box::new([0u8; PAGE]);
                self.read(loc, &mut page)?;
                let after = next(&page);
                pages.push((loc, page, false));
                match after {
                    Some(k) => loc = Loc::Overflow(k),
                    None => break,
                }
            }
            for &(_, i) in group {
                let (key, value) = &batch[i];
                let mut found = None;
                for (p, (_, page, _)) in pages.iter().enumerate() {
                    if let Some(at) = find(page, key, V)? {
                        found = Some((p, at));
                        break;
                    }
                }
                if let Some((p, at)) = found {
                    set_slot(&mut pages[p].1, at, key, value);
                    pages[p].2 = true;
                    continue;
                }
                if !pages.iter().any(|(_, page, _)| count(page) < Self::SLOTS) {
                    let k = self.alloc()?;
                    let last = pages.last_mut().expect("a chain has a first page");
                    set_next(&mut last.1, Some(k));
                    last.2 = true;
                    pages.push((Loc::Overflow(k), Box::new([0u8; PAGE]), true));
                }
                let (_, page, dirty) = pages
                    .iter_mut()
                    .find(|(_, page, _)| count(page) < Self::SLOTS)
                    .expect("a page with room");
                let n = count(page);
                set_slot(page, n, key, value);
                set_count(page, n + 1);
                *dirty = true;
                self.len += 1;
            }
            for (loc, page, dirty) in &pages {
                if *dirty {
                    self.write(*loc, page)?;
                }
            }
        }
        Ok(())
    }

    /// An overflow page to write: a free one, or a new one at the end.
    fn alloc(&mut self) -> io::Result<u64> {
        if self.free == 0 {
            self.overflow_pages += 1;
            return Ok(self.overflow_pages - 1);
        }
        let k = self.free - 1;
        let mut page = [0u8; PAGE];
        self.read(Loc::Overflow(k), &mut page)?;
        self.free = next(&page).map_or(0, |n| n + 1);
        Ok(k)
    }

    fn release(&mut self, k: u64) -> io::Result<()> {
        let mut page = [0u8; PAGE];
        set_next(&mut page, self.free.checked_sub(1));
        self.write(Loc::Overflow(k), &page)?;
        self.free = k + 1;
        Ok(())
    }

    /// Splits bucket `split` into itself and bucket `2^level + split`.
    fn split_one(&mut self) -> io::Result<()> {
        let from = self.split;
        let to = (1u64 << self.level) + from;
        let wide = (1u64 << (self.level + 1)) - 1;
        let (mut stay, mut moved) = (Vec::new(), Vec::new());
        let mut page = [0u8; PAGE];
        let mut loc = Loc::Bucket(from);
        loop {
            self.read(loc, &mut page)?;
            for i in 0..count(&page) {
                let (key, value) = slot(&page, i, V);
                let mut k = [0u8; 32];
                k.copy_from_slice(key);
                let mut v = [0u8; V];
                v.copy_from_slice(value);
                if self.hasher.hash_one(k) & wide == from {
                    stay.push((k, v));
                } else {
                    moved.push((k, v));
                }
            }
            let after = next(&page);
            if let Loc::Overflow(k) = loc {
                self.release(k)?;
            }
            match after {
                Some(k) => loc = Loc::Overflow(k),
                None => break,
            }
        }
        // Bucket `to` is the page just past the bucket file's end.
        self.write_chain(from, &stay)?;
        self.write_chain(to, &moved)?;
        self.split += 1;
        if self.split == 1u64 << self.level {
            self.level += 1;
            self.split = 0;
        }
        Ok(())
    }

    /// Writes bucket `b` as `records`, in as many pages as they need.
    fn write_chain(&mut self, b: u64, records: &[([u8; 32], [u8; V])]) -> io::Result<()> {
        let mut chunks = records.chunks(Self::SLOTS).peekable();
        let mut loc = Loc::Bucket(b);
        loop {
            let mut page = [0u8; PAGE];
            let chunk = chunks.next().unwrap_or(&[]);
            for (i, (k, v)) in chunk.iter().enumerate() {
                set_slot(&mut page, i, k, v);
            }
            set_count(&mut page, chunk.len());
            let more = chunks.peek().is_some();
            let then = if more { Some(self.alloc()?) } else { None };
            set_next(&mut page, then);
            self.write(loc, &page)?;
            match then {
                Some(k) => loc = Loc::Overflow(k),
                None => return Ok(()),
            }
        }
    }
}

/// A [`DiskMap`] behind a bounded map in memory: the newest entries are
/// kept in memory, fewer than `cap` of them, and then added to the table
/// on disk in one batch (reading and writing each bucket they go to once).
/// The table's files are made at that first move, so a map that never
/// fills its memory makes none. A lookup of a key not in memory reads the
/// table (one page, rarely two).
pub struct Buffered<const V: usize> {
    mem: std::collections::HashMap<[u8; 32], [u8; V]>,
    disk: Option<DiskMap<V>>,
    cap: usize,
    dir: std::path::PathBuf,
}

impl<const V: usize> Buffered<V> {
    /// An empty map holding at most `cap` entries in memory (at least
    /// one), whose table goes in `dir`.
    pub fn new(dir: &Path, cap: usize) -> Self {
        Buffered {
            mem: Default::default(),
            disk: None,
            cap: cap.max(1),
            dir: dir.to_owned(),
        }
    }

    /// Where the table is (or will be) made.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether entries have gone to the table on disk.
    pub fn on_disk(&self) -> bool {
        self.disk.is_some()
    }

    /// How many entries memory holds now.
    pub fn in_memory(&self) -> usize {
        self.mem.len()
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8; 32]) -> io::Result<Option<[u8; V]>> {
        if let Some(v) = self.mem.get(key) {
            return Ok(Some(*v));
        }
        match &self.disk {
            Some(d) => d.get(key),
            None => Ok(None),
        }
    }

    /// Sets the value of each key (of a key given twice, the later). A
    /// batch that would fill the memory goes to disk with what memory
    /// holds, in one batch: between calls memory holds fewer than `cap`
    /// entries. On an error entries may have been lost: stop using it.
    pub fn insert_many(&mut self, batch: &[([u8; 32], [u8; V])]) -> io::Result<()> {
        if self.mem.len() + batch.len() < self.cap {
            self.mem.extend(batch.iter().copied());
            return Ok(());
        }
        let disk = match &mut self.disk {
            Some(d) => d,
            None => self.disk.insert(DiskMap::new(&self.dir)?),
        };
        // Memory first, so that the batch's values win.
        let mut moved: Vec<([u8; 32], [u8; V])> = self.mem.drain().collect();
        moved.extend_from_slice(batch);
        disk.insert_many(&moved)
    }
}

fn count(page: &Page) -> usize {
    usize::from(u16::from_le_bytes([page[0], page[1]]))
}

fn set_count(page: &mut Page, n: usize) {
    let n = u16::try_from(n).expect("a page holds under 2^16 records");
    page[..2].copy_from_slice(&n.to_le_bytes());
}

fn next(page: &Page) -> Option<u64> {
    let mut b = [0u8; 8];
    b.copy_from_slice(&page[8..16]);
    u64::from_le_bytes(b).checked_sub(1)
}

fn set_next(page: &mut Page, k: Option<u64>) {
    page[8..16].copy_from_slice(&k.map_or(0, |k| k + 1).to_le_bytes());
}

fn slot(page: &Page, i: usize, v: usize) -> (&[u8], &[u8]) {
    let at = HEAD + i * (32 + v);
    (&page[at..at + 32], &page[at + 32..at + 32 + v])
}

fn set_slot<const V: usize>(page: &mut Page, i: usize, key: &[u8; 32], value: &[u8; V]) {
    let at = HEAD + i * (32 + V);
    page[at..at + 32].copy_from_slice(key);
    page[at + 32..at + 32 + V].copy_from_slice(value);
}

fn value_of<const V: usize>(page: &Page, i: usize) -> [u8; V] {
    let mut out = [0u8; V];
    out.copy_from_slice(slot(page, i, V).1);
    out
}

/// The slot holding `key`. A count beyond the page's slots means the
/// file is not what this table wrote: an error, not a guess.
fn find(page: &Page, key: &[u8; 32], v: usize) -> io::Result<Option<usize>> {
    let n = count(page);
    if HEAD + n * (32 + v) > PAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a retry index page counts {n} records, more than it holds"),
        ));
    }
    Ok((0..n).find(|&i| slot(page, i, v).0 == key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;
    use std::collections::HashMap;
    use std::hash::{BuildHasherDefault, Hasher};

    fn key(i: u64) -> [u8; 32] {
        sha2::Sha256::digest(i.to_be_bytes()).into()
    }

    fn value(i: u64, round: u8) -> [u8; 48] {
        let mut v = [round; 48];
        v[..8].copy_from_slice(&i.to_le_bytes());
        v
    }

    /// Inserts one at a time and in batches, overwrites (within a batch
    /// too: the later value wins) and lookups across many splits agree
    /// with a `HashMap`, and nothing of the table is left in the
    /// directory.
    #[test]
    fn a_table_on_disk_answers_as_a_hash_map() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut disk = DiskMap::<48>::new(dir.path()).expect("map");
        assert!(disk.is_empty());
        let mut mem = HashMap::new();
        let n = 20_000u64;
        for i in 0..n / 2 {
            disk.insert_many(&[(key(i), value(i, 0))]).expect("insert");
            mem.insert(key(i), value(i, 0));
            // Every 7th key is set again, to a new value.
            if i % 7 == 3 {
                let j = i / 2;
                disk.insert_many(&[(key(j), value(j, 1))])
                    .expect("overwrite");
                mem.insert(key(j), value(j, 1));
            }
        }
        let mut i = n / 2;
        for size in [1usize, 2, 50, 700, 3000, 6247] {
            let mut batch = Vec::new();
            for _ in 0..size {
                batch.push((key(i), value(i, 0)));
                // An older key, and a key of this batch, set again.
                if i % 5 == 0 {
                    batch.push((key(i / 3), value(i / 3, 2)));
                    batch.push((key(i), value(i, 3)));
                }
                i += 1;
            }
            disk.insert_many(&batch).expect("batch");
            mem.extend(batch);
        }
        assert_eq!(i, n);
        assert_eq!(disk.len(), mem.len() as u64);
        assert!(disk.level >= 8, "only {} buckets", disk.bucket_count());
        for i in 0..n + 1000 {
            assert_eq!(disk.get(&key(i)).expect("get"), mem.get(&key(i)).copied());
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    /// In memory up to its bound, then on disk: every key is found
    /// across the moves, with its latest value, and memory never holds
    /// more than the bound.
    #[test]
    fn a_buffered_map_moves_its_entries_to_disk_and_finds_them_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut map = Buffered::<48>::new(dir.path(), 100);
        let mut mem = HashMap::new();
        for i in 0..99 {
            map.insert_many(&[(key(i), value(i, 0))]).expect("insert");
            mem.insert(key(i), value(i, 0));
        }
        assert!(!map.on_disk(), "no file before memory is full");
        for start in (99..3000).step_by(250) {
            let batch: Vec<_> = (start..start + 250)
                .flat_map(|i| [(key(i), value(i, 0)), (key(i / 4), value(i / 4, 7))])
                .collect();
            map.insert_many(&batch).expect("batch");
            mem.extend(batch);
            assert!(map.in_memory() < 100);
        }
        assert!(map.on_disk());
        for i in 0..3500 {
            assert_eq!(
                map.get(&key(i)).expect("get"),
                mem.get(&key(i)).copied(),
                "{i}"
            );
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    /// A hasher that sends every key to bucket 0.
    #[derive(Default)]
    struct Same;
    impl Hasher for Same {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, _: &[u8]) {}
    }

    /// When every key lands in one bucket, its chain grows page by page,
    /// each split empties and frees it, and the freed pages are reused:
    /// the overflow file stops growing once the chain is as long as it
    /// gets.
    #[test]
    fn one_bucket_chains_its_pages_and_reuses_the_freed_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut disk =
            DiskMap::<48, _>::with_hasher(dir.path(), BuildHasherDefault::<Same>::default())
                .expect("map");
        let slots = DiskMap::<48, BuildHasherDefault<Same>>::SLOTS as u64;
        let n = 12 * slots + 5;
        for i in 0..n {
            disk.insert_many(&[(key(i), value(i, 0))]).expect("insert");
        }
        for i in 0..n {
            assert_eq!(
                disk.get(&key(i)).expect("get"),
                Some(value(i, 0)),
                "key {i}"
            );
        }
        assert_eq!(disk.get(&key(n)).expect("get"), None);
        // Bucket 0 holds everything: its first page and 12 overflow pages.
        // Each split of bucket 0 freed its overflow pages and took them
        // back, so the file holds that one chain (28 pages without the
        // reuse), and none is left free.
        assert_eq!(disk.overflow_pages, 12);
        assert_eq!(disk.free, 0);
        // Overwriting a key deep in the chain finds it there.
        disk.insert_many(&[(key(n - 1), value(n - 1, 9))])
            .expect("overwrite");
        assert_eq!(disk.get(&key(n - 1)).expect("get"), Some(value(n - 1, 9)));
        assert_eq!(disk.len(), n);
    }

    /// A page whose count exceeds its slots is refused with an error.
    #[test]
    fn a_page_counting_more_records_than_it_holds_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = DiskMap::<48>::new(dir.path()).expect("map");
        let mut page = [0u8; PAGE];
        set_count(&mut page, DiskMap::<48>::SLOTS + 1);
        disk.write(Loc::Bucket(0), &page).expect("write");
        let e = disk.get(&key(1)).expect_err("corrupt page");
        assert!(e.to_string().contains("more than it holds"), "{e}");
    }
}
