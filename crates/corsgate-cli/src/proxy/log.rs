//! The proxy's log writer: each line is appended to a buffer in memory, and
//! a thread of its own writes the buffer out in batches — every
//! [`Limits::every`], or sooner once [`Limits::batch`] bytes are waiting.
//!
//! A request's log line so costs a copy under an uncontended lock: no
//! write, and no wake-up of another thread, per line. (Handing each line
//! to a writer thread over a channel, as `tracing-appender` does, woke that
//! thread for nearly every line under load: a futex call and a context
//! switch per request, on the core the proxy serves from;
//! docs/benchmarks.md has the measurements.) Nothing is dropped: past
//! [`Limits::most`] waiting bytes a logging thread waits for the writer,
//! so memory stays bounded when the output is slow. What is waiting is
//! written when the [`Flush`] guard is dropped; a process killed outright
//! loses at most the last [`Limits::every`] of lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// When the writer thread writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// At least this often, when anything is waiting.
    pub(crate) every: Duration,
    /// As soon as this many bytes are waiting.
    pub(crate) batch: usize,
    /// A logging thread waits while this many bytes are waiting.
    pub(crate) most: usize,
}

impl Limits {
    /// Lines show within 50 ms (a terminal feels them as live); 64 KiB per
    /// write; at most 4 MiB held.
    pub(crate) const DEFAULT: Limits = Limits {
        every: Duration::from_millis(50),
        batch: 64 * 1024,
        most: 4 * 1024 * 1024,
    };
}

struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer thread early: a batch is ready, or stop.
    ready: Condvar,
    /// Wakes logging threads waiting for room.
    room: Condvar,
    limits: Limits,
    /// Written by the writer thread, and by a logging thread only after it
    /// stopped.
    out: Mutex<Box<dyn Write + Send>>,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves whole lines behind (each
        // is appended in one call): keep going.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, bytes: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // Nowhere to report a failed write of the log itself.
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}

/// Where `tracing_subscriber` writes the proxy's log lines.
#[derive(Clone)]
pub(crate) struct Batched {
    shared: Arc<Shared>,
}

/// Stops the writer thread once everything waiting is written. Keep it
/// until the proxy stops.
pub(crate) struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A batched writer to `out`, and the guard that flushes it; an error
/// when the writer thread cannot be started.
pub(crate) fn batched<W>(out: W, limits: Limits) -> std::io::Result<(Batched, Flush)>
where
    W: Write + Send + 'static,
{
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        ready: Condvar::new(),
        room: Condvar::new(),
        limits,
        out: Mutex::new(Box::new(out)),
    });
    let thread = std::thread::Builder::new()
        .name("corsgate-log".to_owned())
        .spawn({
            let shared = Arc::clone(&shared);
            move || write_out(&shared)
        })?;
    Ok((
        Batched {
            shared: Arc::clone(&shared),
        },
        Flush {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: takes what is waiting and writes it, until told to
/// stop and nothing is left.
fn write_out(shared: &Shared) {
    let mut batch = Vec::new();
    loop {
        let stopping = {
            let mut pending = shared.lock();
            if pending.bytes.len() < shared.limits.batch && !pending.stopping {
                pending = shared
                    .ready
                    .wait_timeout(pending, shared.limits.every)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            // The buffers trade places: the next lines go into the one
            // just written, whose capacity is kept.
            std::mem::swap(&mut pending.bytes, &mut batch);
            pending.stopping
        };
        shared.room.notify_all();
        if !batch.is_empty() {
            shared.write(&batch);
            batch.clear();
        }
        if stopping && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's writer (`tracing_subscriber` formats a whole line, then
/// writes it in one call).
pub(crate) struct Line<'a> {
    shared: &'a Shared,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let limits = &self.shared.limits;
        let mut pending = self.shared.lock();
        // Once stopping, the writer thread may be gone: never wait for it.
        while pending.bytes.len() >= limits.most && !pending.stopping {
            pending = self
                .shared
                .room
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(bytes);
        let ready = before < limits.batch && pending.bytes.len() >= limits.batch;
        let stopped = pending.stopping;
        drop(pending);
        if ready {
            self.shared.ready.notify_one();
        }
        if stopped {
            // Written after the guard was dropped, when the writer thread
            // may be gone: straight out, not left in the buffer.
            let rest = std::mem::take(&mut self.shared.lock().bytes);
            self.shared.write(&rest);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tracing_subscriber::fmt::MakeWriter;

    use super::{Limits, batched};

    /// An output that records what reaches it, optionally slowly.
    #[derive(Clone, Default)]
    struct Sink {
        written: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        delay: Duration,
    }

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(self.delay);
            self.written.lock().unwrap().extend_from_slice(bytes);
            *self.writes.lock().unwrap() += 1;
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.written.lock().unwrap().clone()).unwrap()
        }
    }

    fn line(n: usize) -> String {
        format!("line {n}\n")
    }

    #[test]
    fn every_line_is_written_in_order_once_the_guard_is_dropped() {
        let sink = Sink::default();
        let (writer, flush) = batched(
            sink.clone(),
            Limits {
                every: Duration::from_secs(60),
                ..Limits::DEFAULT
            },
        )
        .unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..1000 {
                        writer
                            .make_writer()
                            .write_all(line(t * 1000 + n).as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(flush);
        let text = sink.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4000);
        // Each thread's lines in its own order, none torn.
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .map(|l| l.strip_prefix("line ").unwrap().parse::<usize>().unwrap())
                .filter(|n| n / 1000 == t)
                .collect();
            assert_eq!(mine, (t * 1000..(t + 1) * 1000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn lines_are_written_in_batches_within_the_interval() {
        let sink = Sink::default();
        let (writer, _flush) = batched(
            sink.clone(),
            Limits {
                every: Duration::from_millis(20),
                ..Limits::DEFAULT
            },
        )
        .unwrap();
        for n in 0..100 {
            writer.make_writer().write_all(line(n).as_bytes()).unwrap();
        }
        // Without dropping the guard: the interval writes them.
        let start = Instant::now();
        while sink.text().lines().count() < 100 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "lines not written within 5 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // A hundred lines written at once took one write (or a few, if the
        // interval fell between them), not one each.
        assert!(*sink.writes.lock().unwrap() < 10);
    }

    #[test]
    fn a_full_batch_is_written_before_the_interval() {
        let sink = Sink::default();
        let (writer, _flush) = batched(
            sink.clone(),
            Limits {
                every: Duration::from_secs(60),
                batch: 100,
                most: 1 << 20,
            },
        )
        .unwrap();
        writer.make_writer().write_all(&[b'x'; 150]).unwrap();
        let start = Instant::now();
        while sink.text().len() < 150 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "a full batch waited for the interval"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_slow_output_makes_loggers_wait_and_loses_nothing() {
        let sink = Sink {
            delay: Duration::from_millis(2),
            ..Sink::default()
        };
        let limits = Limits {
            every: Duration::from_millis(1),
            batch: 64,
            most: 256,
        };
        let (writer, flush) = batched(sink.clone(), limits).unwrap();
        let pending_max = Arc::new(Mutex::new(0usize));
        for n in 0..500 {
            writer.make_writer().write_all(line(n).as_bytes()).unwrap();
            let waiting = writer.shared.lock().bytes.len();
            let mut max = pending_max.lock().unwrap();
            *max = (*max).max(waiting);
        }
        drop(flush);
        let text = sink.text();
        let expected: String = (0..500).map(line).collect();
        assert_eq!(text, expected);
        // Bounded: at most one line past the limit.
        assert!(*pending_max.lock().unwrap() < limits.most + 16);
    }
}
