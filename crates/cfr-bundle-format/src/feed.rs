//! Judging a log while it is read: a [`Feed`] consumes event chunks and
//! produces a verdict (the native rule engine, or an analyzer in the
//! sandbox of `cfr-verify`); a [`Worker`] runs one on its own thread.
//!
//! This crate holds no sandbox: sealing with the native engine
//! ([`crate::seal::seal`]) links no wasmtime; `cfr_verify::seal::seal`
//! runs the bundled analyzer.

/// A failure while judging: (stable code, message).
pub type Failure = (&'static str, String);

/// Something that consumes event chunks and produces a verdict: the
/// sandboxed analyzer, or the native engine.
pub trait Feed: Send + 'static {
    /// Feeds a chunk of `events` events (a CBOR sequence).
    fn feed(&mut self, chunk: &[u8], events: u64) -> Result<(), Failure>;
    /// Finishes and returns the verdict bytes.
    fn finish(self) -> Result<Vec<u8>, Failure>;
}

/// A [`Feed`] on its own thread, fed through a small bounded queue, so that
/// reading, hashing and checking the log overlap with judging it.
pub struct Worker {
    tx: std::sync::mpsc::SyncSender<(Vec<u8>, u64)>,
    handle: std::thread::JoinHandle<Result<Vec<u8>, Failure>>,
}

impl Worker {
    /// Starts the thread.
    pub fn spawn<F: Feed>(mut run: F) -> Worker {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64)>(2);
        let handle = std::thread::spawn(move || {
            for (raw, events) in rx {
                // On failure, returning drops the receiver, which tells the
                // sender to stop.
                run.feed(&raw, events)?;
            }
            run.finish()
        });
        Worker { tx, handle }
    }

    /// Queues a chunk; false when the worker has stopped (its error comes
    /// with [`Worker::finish`]).
    pub fn feed(&mut self, raw: Vec<u8>, events: u64) -> bool {
        self.tx.send((raw, events)).is_ok()
    }

    /// Waits for the verdict (or the first failure).
    pub fn finish(self) -> Result<Vec<u8>, Failure> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(("replay-failed", "the replay thread panicked".to_owned())))
    }
}
