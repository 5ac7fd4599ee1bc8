//! corsgate's log events as lines, for tests: the log lines are behaviour
//! (report-only mode exists for its log, a failed check must be seen, each
//! decision is traced once).
//!
//! One subscriber for the whole test process, installed once, recording
//! for the threads that asked. A scoped subscriber per test
//! (`with_default`) loses events at random: while only one scoped
//! subscriber exists, `tracing` caches a callsite's interest as whichever
//! thread first reaches it sees it, and another test's thread (without a
//! subscriber) reaching `trace_decision` first turned it off for all.

use std::cell::RefCell;
use std::sync::Once;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

thread_local! {
    /// The recording thread's lines; `None` where no test records.
    static LINES: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Records this thread's corsgate events until dropped.
pub(crate) struct Recorder(());

impl Recorder {
    pub(crate) fn start() -> Self {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            tracing::subscriber::set_global_default(Lines)
                .expect("no other global subscriber in corsgate's unit tests");
        });
        LINES.with(|lines| *lines.borrow_mut() = Some(Vec::new()));
        Self(())
    }

    /// Each event so far as `LEVEL field=value … message`.
    pub(crate) fn lines(&self) -> Vec<String> {
        LINES.with(|lines| lines.borrow().clone().unwrap_or_default())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        LINES.with(|lines| *lines.borrow_mut() = None);
    }
}

struct Lines;

struct Line(String, String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.1 = format!("{value:?}");
        } else {
            self.0.push_str(&format!("{}={value:?} ", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!("{}={value} ", field.name()));
    }
}

impl Subscriber for Lines {
    /// corsgate's own events only (the frameworks under test may log too).
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "corsgate"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        LINES.with(|lines| {
            if let Some(lines) = lines.borrow_mut().as_mut() {
                let mut line = Line(String::new(), String::new());
                event.record(&mut line);
                let level = *event.metadata().level();
                lines.push(format!("{level} {}{}", line.0, line.1));
            }
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
