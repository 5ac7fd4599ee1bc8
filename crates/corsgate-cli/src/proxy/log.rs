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

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::VisitOutput;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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

/// The log's line format: exactly `tracing_subscriber`'s default (`Full`,
/// without target), written for a fraction of its cost. A request's line
/// cost about 7,500 instructions in that formatter — more than a quarter
/// of a whole preflight through the proxy — mostly its timestamp (a
/// calendar date worked out per line) and one `write!` with three
/// arguments per field. Here the date is worked out once a second, and
/// plain fields (text, numbers) are written directly; anything else (the
/// message, errors, spans) goes to `tracing_subscriber`'s own code, so the
/// output is the same byte for byte (`the_format_is_tracing_subscribers`).
#[derive(Debug, Default)]
pub(crate) struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if ctx.event_scope().is_some() {
            // Inside spans (the proxy enters none): the default whole.
            return tracing_subscriber::fmt::format::Format::default()
                .with_target(false)
                .format_event(ctx, writer, event);
        }
        write_time(&mut writer)?;
        writer.write_str(match *event.metadata().level() {
            Level::TRACE => "TRACE ",
            Level::DEBUG => "DEBUG ",
            Level::INFO => " INFO ",
            Level::WARN => " WARN ",
            Level::ERROR => "ERROR ",
        })?;
        let mut fields = Fields {
            writer: writer.by_ref(),
            is_empty: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writeln!(writer)
    }
}

/// The writer the request log lines go to, once logging is set up.
static ACCESS: std::sync::OnceLock<Batched> = std::sync::OnceLock::new();

/// Request log lines ([`access`]) go to `writer` (the one the subscriber
/// writes to, so the lines keep their order with every other).
pub(crate) fn set_access_writer(writer: Batched) {
    let _ = ACCESS.set(writer);
}

/// One request's log line: what `info!(%method, %path, origin, decision,
/// status, %latency_ms)` writes through the default format.
pub(crate) struct AccessLine<'a> {
    pub(crate) method: &'a http::Method,
    pub(crate) path: &'a str,
    pub(crate) origin: &'a str,
    pub(crate) decision: &'a str,
    pub(crate) status: u16,
    pub(crate) latency_ms: Millis,
}

/// A duration in milliseconds to a tenth (`2.1`), written with integers
/// (cheaper than a float's `{:.1}`, on every request's log line).
pub(crate) struct Millis(pub(crate) Duration);

impl Millis {
    fn tenths(&self) -> u64 {
        u64::try_from(self.0.as_micros() / 100)
            .unwrap_or(u64::MAX)
            .saturating_add(u64::from(self.0.as_micros() % 100 >= 50))
    }

    fn write(&self, out: &mut String) {
        let tenths = self.tenths();
        out.push_str(decimal(tenths / 10, &mut [0; 20]));
        out.push('.');
        out.push_str(decimal(tenths % 10, &mut [0; 20]));
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(8);
        self.write(&mut text);
        f.write_str(&text)
    }
}

impl AccessLine<'_> {
    /// The whole line, dated now, with its newline.
    fn write(&self, out: &mut String) -> fmt::Result {
        write_time(&mut Writer::new(out))?;
        out.push_str(" INFO ");
        self.write_fields(out);
        out.push('\n');
        Ok(())
    }

    /// The fields, as `tracing_subscriber`'s `DefaultVisitor` writes them:
    /// `%` values bare, text quoted and escaped as `{:?}` does. (Straight
    /// into a `String`: a `Writer` costs a dynamic call per piece.)
    fn write_fields(&self, out: &mut String) {
        for piece in [
            "method=",
            self.method.as_str(),
            " path=",
            self.path,
            " origin=",
        ] {
            out.push_str(piece);
        }
        write_quoted(out, self.origin);
        out.push_str(" decision=");
        write_quoted(out, self.decision);
        out.push_str(" status=");
        out.push_str(decimal(u64::from(self.status), &mut [0; 20]));
        out.push_str(" latency_ms=");
        self.latency_ms.write(out);
    }
}

/// Printable ASCII without `"` or `\\`: what `{:?}` leaves as is.
///
/// By a table: one load per byte instead of three comparisons, on the two
/// quoted fields of every request's line.
fn is_bare(text: &str) -> bool {
    const BARE: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = b' ';
        while b <= b'~' {
            table[b as usize] = b != b'"' && b != b'\\';
            b += 1;
        }
        table
    };
    text.bytes().all(|b| BARE[usize::from(b)])
}

/// `text` as `{:?}` writes it: quoted, escaped where needed.
fn write_quoted(out: &mut String, text: &str) {
    if is_bare(text) {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        use fmt::Write as _;
        // Writing to a `String` does not fail.
        let _ = write!(out, "{text:?}");
    }
}

thread_local! {
    /// A request line being put together, its capacity kept.
    static ACCESS_LINE: std::cell::RefCell<String> = const {
        std::cell::RefCell::new(String::new())
    };
}

/// Logs a request's line at `INFO`, byte for byte as the `info!` event
/// would through the subscriber, without `tracing`'s event machinery: the
/// six fields recorded through its visitor cost about 3,900 instructions
/// a line, more than a tenth of a preflight through the proxy. The caller
/// checks first that the line is enabled (`tracing::enabled!`, which
/// applies `RUST_LOG`). Nothing is written before [`set_access_writer`].
pub(crate) fn access(line: &AccessLine<'_>) {
    let Some(writer) = ACCESS.get() else {
        return;
    };
    ACCESS_LINE.with_borrow_mut(|text| {
        text.clear();
        if line.write(text).is_ok() {
            // Appending to memory: fails never.
            let _ = Line {
                shared: &writer.shared,
            }
            .write_all(text.as_bytes());
        }
    });
}

thread_local! {
    /// The last second a line was dated in, and its text up to the `.`.
    static SECOND: std::cell::RefCell<(u64, String)> = const {
        std::cell::RefCell::new((0, String::new()))
    };
}

/// The time as `tracing_subscriber`'s `SystemTime` writes it
/// (`2026-11-27T05:15:25.123456Z`) and a space, its date and time to the
/// second made once a second per thread, by that same code.
fn write_time(writer: &mut Writer<'_>) -> fmt::Result {
    for _ in 0..3 {
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            break;
        };
        let written = SECOND.with_borrow_mut(|(second, text)| {
            if *second != now.as_secs() || text.is_empty() {
                *text = second_text(now.as_secs())?;
                *second = now.as_secs();
            }
            Some(writer.write_str(text))
        });
        if let Some(result) = written {
            result?;
            let mut micros = [b'0'; 6];
            let mut n = now.subsec_micros();
            for digit in micros.iter_mut().rev() {
                // A digit: `n % 10` fits.
                *digit = b'0' + u8::try_from(n % 10).unwrap_or(0);
                n /= 10;
            }
            writer.write_str(std::str::from_utf8(&micros).unwrap_or("000000"))?;
            return writer.write_str("Z ");
        }
    }
    writer.write_str("<unknown time> ")
}

/// `tracing_subscriber`'s text for the second `secs`, up to and with the
/// `.`; `None` if its own reading of the clock fell in another second.
fn second_text(secs: u64) -> Option<String> {
    use tracing_subscriber::fmt::time::FormatTime;
    let mut text = String::new();
    tracing_subscriber::fmt::time::SystemTime
        .format_time(&mut Writer::new(&mut text))
        .ok()?;
    // It read the clock between our reading and this one.
    let after = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    if after.as_secs() != secs {
        return None;
    }
    let dot = text.find('.')?;
    text.truncate(dot + 1);
    Some(text)
}

/// The fields of one event, as `tracing_subscriber`'s `DefaultVisitor`
/// writes them: names and values separated by spaces, the message first
/// and bare. Text that needs no escaping, and numbers, are written
/// directly; everything else by a `DefaultVisitor` of its own.
struct Fields<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl Fields<'_> {
    fn pad(&mut self) {
        if self.is_empty {
            self.is_empty = false;
        } else if self.result.is_ok() {
            self.result = self.writer.write_char(' ');
        }
    }

    /// Whether this field can be written here (`DefaultVisitor` treats
    /// `message` and `r#` names apart).
    fn plain(&self, field: &Field) -> bool {
        self.result.is_ok() && field.name() != "message" && !field.name().starts_with("r#")
    }

    /// `name=` and the value, after the space; pieces written one by one
    /// (a `write!` with arguments costs several times as much).
    fn write_plain(&mut self, field: &Field, value: &[&str]) {
        self.pad();
        for piece in [field.name(), "="].iter().chain(value) {
            if self.result.is_ok() {
                self.result = self.writer.write_str(piece);
            }
        }
    }

    fn write_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write_plain(field, &[]);
        if self.result.is_ok() {
            self.result = self.writer.write_fmt(format_args!("{value:?}"));
        }
    }

    /// One field by `tracing_subscriber`'s own visitor (after the space).
    fn delegate(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        self.pad();
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), true);
        record(&mut visitor);
        if self.result.is_ok() {
            self.result = visitor.finish();
        }
    }
}

/// `n` in decimal, in `buffer`.
fn decimal(mut n: u64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    loop {
        start -= 1;
        // A digit: `n % 10` fits.
        buffer[start] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[start..]).unwrap_or("?")
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.plain(field) && is_bare(value) {
            self.write_plain(field, &["\"", value, "\""]);
        } else {
            self.delegate(|v| v.record_str(field, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.plain(field) {
            self.write_plain(field, &[decimal(value, &mut [0; 20])]);
        } else {
            self.delegate(|v| v.record_u64(field, value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.plain(field) {
            let sign = if value < 0 { "-" } else { "" };
            self.write_plain(field, &[sign, decimal(value.unsigned_abs(), &mut [0; 20])]);
        } else {
            self.delegate(|v| v.record_i64(field, value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.plain(field) {
            self.write_plain(field, &[if value { "true" } else { "false" }]);
        } else {
            self.delegate(|v| v.record_bool(field, value));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.delegate(|v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.plain(field) {
            self.write_debug(field, value);
        } else {
            self.delegate(|v| v.record_debug(field, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tracing_subscriber::fmt::MakeWriter;

    use super::{Limits, batched, is_bare, write_quoted};

    /// Text is left bare exactly where `{:?}` leaves it as is: every ASCII
    /// character, alone and inside text; anything else goes through `{:?}`.
    #[test]
    fn text_is_bare_exactly_where_debug_leaves_it_as_is() {
        for c in (0..=0x7f_u8)
            .map(char::from)
            .chain(['é', '\u{7f}', '\u{a0}', '\u{301}'])
        {
            for text in [c.to_string(), format!("http://a{c}b.example")] {
                let unescaped = format!("{text:?}") == format!("\"{text}\"");
                assert_eq!(is_bare(&text), unescaped && c.is_ascii(), "{text:?}");
                let mut quoted = String::new();
                write_quoted(&mut quoted, &text);
                assert_eq!(quoted, format!("{text:?}"));
            }
        }
    }

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

    /// Renders `events` with a subscriber using `format`, at every level.
    fn render<F>(format: F, events: fn()) -> String
    where
        F: tracing_subscriber::fmt::FormatEvent<
                tracing_subscriber::Registry,
                tracing_subscriber::fmt::format::DefaultFields,
            > + Send
            + Sync
            + 'static,
    {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        sink.text()
    }

    /// `2026-11-27T05:15:25.123456Z ` at the start of each line: checked
    /// for shape and removed.
    fn without_times(text: &str) -> Vec<String> {
        text.lines()
            .map(|line| {
                let (time, rest) = line.split_at(28);
                let b = time.as_bytes();
                for (i, c) in b.iter().enumerate() {
                    let expected_digit = !matches!(i, 4 | 7 | 10 | 13 | 16 | 19 | 26 | 27);
                    assert_eq!(c.is_ascii_digit(), expected_digit, "`{time}` in `{line}`");
                }
                assert_eq!(&time[26..], "Z ", "{line}");
                rest.to_owned()
            })
            .collect()
    }

    #[derive(Debug)]
    struct Failed(Option<Box<Failed>>);
    impl std::fmt::Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(if self.0.is_some() {
                "outer \u{1b}[2J"
            } else {
                "inner"
            })
        }
    }
    impl std::error::Error for Failed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.0.as_deref().map(|e| e as _)
        }
    }

    /// Every kind of field the proxy logs, and the kinds it could: text
    /// that needs escaping (quotes, backslashes, non-ASCII, control and
    /// ANSI bytes) and text that does not, numbers, booleans, floats,
    /// `%` and `?` values, errors with sources, a raw name, messages.
    fn corpus() {
        let latency = 2.04_f64;
        tracing::info!(
            method = %http::Method::GET,
            path = %"/users",
            origin = "http://127.0.0.1:5000",
            decision = "origin-listed",
            status = 200_u16,
            latency_ms = format_args!("{latency:.1}"),
        );
        tracing::warn!(
            method = %http::Method::POST,
            path = %"/up",
            origin = "-",
            decision = "-",
            status = 502_u16,
            error = %"upstream_unreachable",
            "{}",
            "http://127.0.0.1:8000: tcp connect error: Connection refused (os error 111)"
        );
        for text in [
            "",
            "a\"b",
            "back\\slash",
            "bücher",
            "tab\there",
            "\u{1b}[31mred",
            "\u{85}",
            "~ !#",
        ] {
            tracing::info!(origin = text, "message with {text}");
            tracing::info!(text);
        }
        tracing::error!(
            count = -3_i64,
            ok = true,
            ratio = 0.5_f64,
            big = 1_u128 << 100,
            r#type = "raw"
        );
        tracing::info!(
            zero = 0_u64,
            max = u64::MAX,
            min = i64::MIN,
            no = false,
            small = 7_i64
        );
        tracing::debug!(value = ?Some("x"), shown = %"plain");
        let failed = Failed(Some(Box::new(Failed(None))));
        tracing::warn!(
            error = &failed as &(dyn std::error::Error + 'static),
            "failed"
        );
        tracing::trace!("only a message");
        tracing::info!("");
        tracing::info!(message = "as a field", after = 1_u64);
        // Inside a span (h2 enters some at debug level).
        let _span = tracing::info_span!("conn", id = 1_u64).entered();
        tracing::info!(inside = true, "in a span");
    }

    #[test]
    fn the_format_is_tracing_subscribers() {
        let theirs = render(
            tracing_subscriber::fmt::format::Format::default().with_target(false),
            corpus,
        );
        let ours = render(super::LineFormat, corpus);
        assert_eq!(theirs.lines().count(), 26, "{theirs}");
        assert_eq!(without_times(&ours), without_times(&theirs));
    }

    #[test]
    fn the_time_is_tracing_subscribers_to_the_second() {
        fn date(text: &str) -> String {
            text[..19].to_owned()
        }
        for _ in 0..5 {
            let theirs = render(
                tracing_subscriber::fmt::format::Format::default().with_target(false),
                || tracing::info!("x"),
            );
            let ours = render(super::LineFormat, || tracing::info!("x"));
            let again = render(
                tracing_subscriber::fmt::format::Format::default().with_target(false),
                || tracing::info!("x"),
            );
            // Unless a second began between the readings, all agree.
            if date(&theirs) == date(&again) {
                assert_eq!(date(&ours), date(&theirs));
                return;
            }
        }
        panic!("the clock crossed a second boundary five times in a row");
    }

    #[test]
    fn latency_is_written_in_milliseconds_to_a_tenth() {
        for (micros, text) in [
            (0, "0.0"),
            (49, "0.0"),
            (50, "0.1"),
            (2_140, "2.1"),
            (2_150, "2.2"),
            (999_960, "1000.0"),
            (61_000_000, "61000.0"),
        ] {
            assert_eq!(
                super::Millis(Duration::from_micros(micros)).to_string(),
                text
            );
        }
    }

    /// The request line written directly is the `info!` event's line.
    #[test]
    fn the_access_line_is_the_events() {
        const ORIGINS: [&str; 9] = [
            "-",
            "http://127.0.0.1:5000",
            "null",
            "a\"b",
            "back\\slash",
            "b\u{fffd}cher",
            "tab\there",
            "\u{1b}[31mred",
            "\u{85}",
        ];
        fn cases() -> Vec<(
            http::Method,
            &'static str,
            &'static str,
            &'static str,
            u16,
            u64,
        )> {
            let methods = [
                http::Method::GET,
                http::Method::OPTIONS,
                http::Method::from_bytes(b"PURGE").unwrap(),
            ];
            let mut cases = Vec::new();
            for (i, origin) in ORIGINS.iter().enumerate() {
                cases.push((
                    methods[i % 3].clone(),
                    ["/users", "/a%20b?x=1", "/"][i % 3],
                    *origin,
                    ["origin-listed", "-", "origin-not-allowed"][i % 3],
                    [200, 502, 404][i % 3],
                    [0, 49, 2_150, 61_000_000][i % 4],
                ));
            }
            cases
        }
        fn events() {
            for (method, path, origin, decision, status, micros) in cases() {
                let latency_ms = super::Millis(Duration::from_micros(micros));
                tracing::info!(
                    %method,
                    %path,
                    origin,
                    decision,
                    status,
                    %latency_ms,
                );
            }
        }
        let theirs = render(
            tracing_subscriber::fmt::format::Format::default().with_target(false),
            events,
        );
        let mut ours = String::new();
        for (method, path, origin, decision, status, micros) in cases() {
            super::AccessLine {
                method: &method,
                path,
                origin,
                decision,
                status,
                latency_ms: super::Millis(Duration::from_micros(micros)),
            }
            .write(&mut ours)
            .unwrap();
        }
        assert_eq!(theirs.lines().count(), ORIGINS.len(), "{theirs}");
        assert_eq!(without_times(&ours), without_times(&theirs));
    }
}
