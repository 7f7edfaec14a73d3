//! The recorder's per-event index on disk: the Merkle tree's nodes and
//! the events' times, so that its memory does not grow with the log.
//!
//! Each is a column of fixed-width records in an unlinked temporary file
//! in the log directory (gone when the process ends, whatever way it
//! ends): derived data, rebuilt from the log whenever a recorder opens it,
//! so it needs no fsync and no recovery of its own. The last records of
//! each column stay in memory until a full block of them is written; the
//! kernel's page cache serves the rest (a proof reads O(log n) nodes).
//! What stays in memory is at most [`BLOCK`] records per column: for the
//! tree, the levels of at least that many nodes hold a block each, and all
//! the levels above them together under two blocks (a few MiB for any log
//! a disk can hold).

use cfr_merkle::{Hash, NodeStore};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// Records a column holds in memory before it writes them as one block.
pub(crate) const BLOCK: usize = 4096;

/// A column of `W`-byte records.
pub(crate) struct Column<const W: usize> {
    file: File,
    /// Records in the file.
    written: u64,
    /// Records after those, not yet written.
    tail: Vec<[u8; W]>,
}

impl<const W: usize> Column<W> {
    pub(crate) fn new(dir: &Path) -> io::Result<Self> {
        Ok(Column {
            file: tempfile::tempfile_in(dir)?,
            written: 0,
            tail: Vec::with_capacity(BLOCK),
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.written + self.tail.len() as u64
    }

    pub(crate) fn get(&self, i: u64) -> io::Result<[u8; W]> {
        if i >= self.written {
            return usize::try_from(i - self.written)
                .ok()
                .and_then(|t| self.tail.get(t))
                .copied()
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("record {i} of a column of {}", self.len()),
                    )
                });
        }
        let mut b = [0u8; W];
        self.file.read_exact_at(&mut b, i * W as u64)?;
        Ok(b)
    }

    /// Appends a record. On an error the record is kept in memory (reads
    /// stay right) but the column could not be written: stop using it.
    pub(crate) fn push(&mut self, record: [u8; W]) -> io::Result<()> {
        self.tail.push(record);
        if self.tail.len() >= BLOCK {
            self.file
                .write_all_at(self.tail.as_flattened(), self.written * W as u64)?;
            self.written += self.tail.len() as u64;
            self.tail.clear();
        }
        Ok(())
    }
}

/// The tree's levels, one [`Column`] of hashes each.
pub(crate) struct FileNodes {
    dir: PathBuf,
    levels: Vec<Column<32>>,
}

impl FileNodes {
    pub(crate) fn new(dir: &Path) -> io::Result<Self> {
        Ok(FileNodes {
            dir: dir.to_owned(),
            levels: vec![Column::new(dir)?],
        })
    }
}

impl NodeStore for FileNodes {
    type Error = io::Error;

    fn len(&self, level: u32) -> u64 {
        self.levels.get(level as usize).map_or(0, Column::len)
    }

    fn get(&self, level: u32, index: u64) -> io::Result<Hash> {
        match self.levels.get(level as usize) {
            Some(c) => c.get(index),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no tree level {level}"),
            )),
        }
    }

    fn push(&mut self, level: u32, hash: Hash) -> io::Result<()> {
        while self.levels.len() <= level as usize {
            self.levels.push(Column::new(&self.dir)?);
        }
        self.levels[level as usize].push(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_merkle::{leaf_hash, Tree};

    /// Across several blocks, a tree on files answers as one in memory.
    #[test]
    fn a_tree_on_files_gives_the_roots_and_proofs_of_one_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = Tree::with_store(FileNodes::new(dir.path()).expect("nodes"));
        let mut mem = Tree::new();
        let n = 3 * BLOCK as u64 + 77;
        for i in 0..n {
            let h = leaf_hash(&i.to_be_bytes());
            files.try_push(h).expect("push");
            mem.push(h);
        }
        // Nothing of it is in the directory: the files are unlinked.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
        assert_eq!(files.try_root().expect("root"), mem.root());
        for (size, seq) in [(n, 0), (n, n - 1), (4096, 4095), (5000, 4097), (1, 0)] {
            assert_eq!(files.root_at(size), mem.root_at(size));
            assert_eq!(
                files.inclusion_proof(seq, size),
                mem.inclusion_proof(seq, size)
            );
            assert_eq!(files.try_leaf(seq).expect("leaf"), mem.leaf(seq));
        }
        assert_eq!(
            files.consistency_proof(4095, n),
            mem.consistency_proof(4095, n)
        );
        assert_eq!(
            files.range_proof(4000, 8200, n),
            mem.range_proof(4000, 8200, n)
        );
        let more = [leaf_hash(b"x"), leaf_hash(b"y")];
        assert_eq!(
            files.try_root_with(&more).expect("root"),
            mem.root_with(&more)
        );
        assert_eq!(files.try_leaf(n).expect("leaf"), None);
        // What stays in memory is bounded by the block, not by the log.
        let held: usize = files.store().levels.iter().map(|c| c.tail.len()).sum();
        assert!(held < 3 * BLOCK, "{held} hashes in memory");
    }
}
