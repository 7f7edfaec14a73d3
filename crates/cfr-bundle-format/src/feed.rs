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

/// Most bytes of chunks queued for a [`Worker`] (one chunk is always
/// accepted, whatever its size): while the worker starts (an analyzer
/// compiles for about a second), the reader goes on through this much of
/// the log instead of waiting.
pub const QUEUE_BYTES: usize = 64 << 20;

/// A [`Feed`] on its own thread, fed through a queue bounded in bytes
/// ([`QUEUE_BYTES`]), so that reading, hashing and checking the log overlap
/// with starting the feed and judging it.
pub struct Worker {
    queue: std::sync::Arc<Queue>,
    handle: Option<std::thread::JoinHandle<Outcome>>,
}

enum Outcome {
    /// `start` failed: nothing was judged.
    StartFailed(Failure),
    /// The verdict, or the first failure while judging.
    Ran(Result<Vec<u8>, Failure>),
    /// Abandoned by the caller: not finished.
    Abandoned,
}

#[derive(Default)]
struct Queue {
    state: std::sync::Mutex<QueueState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct QueueState {
    chunks: std::collections::VecDeque<(Vec<u8>, u64)>,
    bytes: usize,
    /// No more chunks will come.
    closed: bool,
    /// The caller wants no verdict.
    abandoned: bool,
    /// The worker's thread has stopped taking chunks.
    stopped: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic while holding the lock cannot leave the queue's few
        // fields inconsistent: go on with them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(
        &self,
        g: std::sync::MutexGuard<'a, QueueState>,
    ) -> std::sync::MutexGuard<'a, QueueState> {
        self.changed.wait(g).unwrap_or_else(|p| p.into_inner())
    }

    /// No more chunks will come; with `abandon`, none is judged either.
    fn close(&self, abandon: bool) {
        let mut g = self.lock();
        g.closed = true;
        g.abandoned |= abandon;
        self.changed.notify_all();
    }

    /// The next chunk, or None once the queue is closed and empty (or
    /// abandoned).
    fn take(&self) -> Option<(Vec<u8>, u64)> {
        let mut g = self.lock();
        loop {
            if g.abandoned {
                return None;
            }
            if let Some(c) = g.chunks.pop_front() {
                g.bytes -= c.0.len();
                self.changed.notify_all();
                return Some(c);
            }
            if g.closed {
                return None;
            }
            g = self.wait(g);
        }
    }
}

/// Marks the queue stopped when the worker's thread ends, however it
/// ends (a panic included), so that a waiting reader never blocks forever.
struct Stopped(std::sync::Arc<Queue>);

impl Drop for Stopped {
    fn drop(&mut self) {
        let mut g = self.0.lock();
        g.stopped = true;
        g.chunks.clear();
        g.bytes = 0;
        self.0.changed.notify_all();
    }
}

impl Worker {
    /// Starts the thread with a feed that is ready.
    pub fn spawn<F: Feed>(run: F) -> Worker {
        Worker::start(move || Ok(run))
    }

    /// Starts the thread, which first makes its feed with `start` (for an
    /// analyzer: compiling it) while the caller goes on reading and
    /// queueing chunks. A failure of `start` comes with
    /// [`Worker::finish`] (or [`Worker::abandon`]), once the caller
    /// stops: [`Worker::feed`] returns false as soon as it happened.
    pub fn start<F: Feed>(start: impl FnOnce() -> Result<F, Failure> + Send + 'static) -> Worker {
        let queue = std::sync::Arc::new(Queue::default());
        let q = std::sync::Arc::clone(&queue);
        let handle = std::thread::spawn(move || {
            let _stopped = Stopped(std::sync::Arc::clone(&q));
            let mut run = match start() {
                Ok(run) => run,
                Err(e) => return Outcome::StartFailed(e),
            };
            while let Some((raw, events)) = q.take() {
                if let Err(e) = run.feed(&raw, events) {
                    return Outcome::Ran(Err(e));
                }
            }
            if q.lock().abandoned {
                return Outcome::Abandoned;
            }
            Outcome::Ran(run.finish())
        });
        Worker {
            queue,
            handle: Some(handle),
        }
    }

    /// Queues a chunk, waiting while [`QUEUE_BYTES`] are queued; false
    /// when the worker has stopped (its error comes with
    /// [`Worker::finish`]).
    pub fn feed(&mut self, raw: Vec<u8>, events: u64) -> bool {
        let q = &self.queue;
        let mut g = q.lock();
        while !g.stopped && !g.chunks.is_empty() && g.bytes + raw.len() > QUEUE_BYTES {
            g = q.wait(g);
        }
        if g.stopped {
            return false;
        }
        g.bytes += raw.len();
        g.chunks.push_back((raw, events));
        q.changed.notify_all();
        true
    }

    /// Waits for the verdict (or the first failure).
    pub fn finish(mut self) -> Result<Vec<u8>, Failure> {
        match self.end(false) {
            Outcome::StartFailed(e) => Err(e),
            Outcome::Ran(r) => r,
            Outcome::Abandoned => Err(("replay-failed", "the replay was abandoned".to_owned())),
        }
    }

    /// Stops the worker without its verdict (the log could not all be
    /// read); returns the failure of `start`, if it failed, which the
    /// caller reports in place of its own.
    pub fn abandon(mut self) -> Option<Failure> {
        match self.end(true) {
            Outcome::StartFailed(e) => Some(e),
            Outcome::Ran(_) | Outcome::Abandoned => None,
        }
    }

    fn end(&mut self, abandon: bool) -> Outcome {
        self.queue.close(abandon);
        match self.handle.take().map(std::thread::JoinHandle::join) {
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) | None => Outcome::Ran(Err((
                "replay-failed",
                "the replay thread panicked".to_owned(),
            ))),
        }
    }
}

impl Drop for Worker {
    /// A worker dropped unfinished is abandoned: its thread ends.
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.queue.close(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the events fed; fails on a chunk of one byte `0xff`.
    struct Count(u64);

    impl Feed for Count {
        fn feed(&mut self, chunk: &[u8], events: u64) -> Result<(), Failure> {
            if chunk == [0xff] {
                return Err(("bad-chunk", format!("after {} events", self.0)));
            }
            self.0 += events;
            Ok(())
        }
        fn finish(self) -> Result<Vec<u8>, Failure> {
            Ok(self.0.to_be_bytes().to_vec())
        }
    }

    #[test]
    fn chunks_queue_while_the_feed_starts_and_every_one_is_judged_in_order() {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let mut w = Worker::start(move || {
            wait.recv().expect("go");
            Ok(Count(0))
        });
        // The feed is not ready: the queue takes far more than two chunks.
        for _ in 0..100 {
            assert!(w.feed(vec![0; 1024], 10));
        }
        go.send(()).expect("start");
        assert_eq!(w.finish(), Ok(1000u64.to_be_bytes().to_vec()));
    }

    #[test]
    fn a_full_queue_waits_for_the_worker_and_one_large_chunk_always_fits() {
        let mut w = Worker::spawn(Count(0));
        for _ in 0..8 {
            assert!(w.feed(vec![0; QUEUE_BYTES / 3], 1));
        }
        assert!(w.feed(vec![0; QUEUE_BYTES + 1], 1));
        assert_eq!(w.finish(), Ok(9u64.to_be_bytes().to_vec()));
    }

    #[test]
    fn a_failed_start_stops_the_reader_and_is_what_finish_and_abandon_say() {
        let mut w = Worker::start(|| -> Result<Count, Failure> {
            Err(("analyzer-invalid", "not a module".to_owned()))
        });
        let mut fed = 0;
        while w.feed(vec![0; 16], 1) {
            fed += 1;
            assert!(fed < 1_000_000, "the reader is never told");
        }
        assert_eq!(
            w.finish(),
            Err(("analyzer-invalid", "not a module".to_owned()))
        );
        let w = Worker::start(|| -> Result<Count, Failure> {
            Err(("analyzer-invalid", "not a module".to_owned()))
        });
        assert_eq!(
            w.abandon(),
            Some(("analyzer-invalid", "not a module".to_owned()))
        );
    }

    #[test]
    fn a_failure_while_judging_is_the_verdict_and_abandon_keeps_it_out() {
        let mut w = Worker::spawn(Count(0));
        assert!(w.feed(vec![0; 4], 5));
        w.feed(vec![0xff], 1);
        while w.feed(vec![0; 4], 1) {}
        assert_eq!(w.finish(), Err(("bad-chunk", "after 5 events".to_owned())));
        let mut w = Worker::spawn(Count(0));
        w.feed(vec![0xff], 1);
        assert_eq!(w.abandon(), None);
    }

    #[test]
    fn a_panicking_feed_never_leaves_the_reader_waiting() {
        struct Panics;
        impl Feed for Panics {
            fn feed(&mut self, _: &[u8], _: u64) -> Result<(), Failure> {
                panic!("a bug in the feed")
            }
            fn finish(self) -> Result<Vec<u8>, Failure> {
                Ok(Vec::new())
            }
        }
        let mut w = Worker::spawn(Panics);
        let mut fed = 0;
        while w.feed(vec![0; QUEUE_BYTES / 2], 1) {
            fed += 1;
            assert!(fed < 1_000, "the reader is never told");
        }
        assert_eq!(w.finish().map_err(|e| e.0), Err("replay-failed"));
    }
}
