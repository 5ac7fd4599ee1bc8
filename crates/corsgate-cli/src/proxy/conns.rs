//! The proxy's client connections: how many may be open, how long one may
//! sit idle, and what happens when descriptors run out.
//!
//! An idle socket costs the attacker nothing and the proxy a descriptor.
//! So: a connection that has not sent its first request within
//! `--header-timeout`, or that has had no request in flight for
//! `--idle-timeout`, is closed (hyper's own header-read timeout covers a
//! slow header on a connection that is past its first byte); at
//! `--max-connections`, or when `accept` fails for lack of descriptors, the
//! oldest idle connection is closed to make room — as nginx reuses its
//! idle keep-alive connections when connections run short. A connection with
//! a request in flight is never evicted.
//!
//! The cap is kept *before* `accept`: the proxy waits until the evicted
//! connection's descriptor is really closed before it takes the next one
//! from the kernel's queue. (Evicting and accepting at once let a burst of
//! queued idle sockets hold descriptors faster than evicted ones closed, so
//! a real client's upstream connection could fail for lack of one.)

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use atomic_waker::AtomicWaker;
use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::Notify;
use tracing::{debug, warn};

/// Descriptors kept back from `--max-connections`' default for upstream
/// connections beyond one per client, the listeners, the policy file, logs.
const RESERVED_FDS: u64 = 64;

/// And for each serving thread: its event loop's (4, counted on Linux), its
/// share of the idle upstream connections (at least one), and one client
/// connection with its upstream one past the cap (each thread's accept loop
/// checks the cap, and two may pass it at once).
const RESERVED_FDS_PER_THREAD: u64 = 7;

/// Raises the soft limit on open descriptors to the hard limit (Unix) and
/// returns the soft limit now in force (`None` where unknown).
pub(crate) fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(e) => {
                warn!("cannot raise the open-file limit: {e}");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `--max-connections`' default: each client connection may hold one
/// upstream connection too, so half of what the descriptor limit leaves
/// (with `threads` serving threads).
pub(crate) fn default_max_connections(fd_limit: Option<u64>, threads: usize) -> usize {
    let Some(limit) = fd_limit else {
        return 10_000;
    };
    let threads = u64::try_from(threads).unwrap_or(u64::MAX);
    let reserved = RESERVED_FDS.saturating_add(threads.saturating_mul(RESERVED_FDS_PER_THREAD));
    let usable = limit.saturating_sub(reserved) / 2;
    usize::try_from(usable).unwrap_or(usize::MAX).max(16)
}

/// One client connection's state, shared by its task and the tracker.
pub(crate) struct Conn {
    id: u64,
    /// Requests being answered (a response whose body is still streaming
    /// counts).
    in_flight: AtomicUsize,
    /// Whether a request has started on this connection.
    started: AtomicBool,
    /// When the connection last became idle (ms since the tracker began).
    idle_since: AtomicU64,
    /// What the connection's task has been told: [`EVICT`], [`DRAIN`].
    told: AtomicU8,
    /// The connection's task, woken when it is told something.
    task: AtomicWaker,
    tracker: Arc<Tracker>,
}

/// Close now: evicted to make room, or idle too long.
const EVICT: u8 = 1;
/// Finish the request in flight, then close: the proxy is stopping.
const DRAIN: u8 = 2;

impl Conn {
    /// Marks a request in flight until the guard is dropped.
    pub(crate) fn request(self: &Arc<Self>) -> RequestGuard {
        self.started.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard(Arc::clone(self))
    }

    /// Resolves when this connection should be closed: evicted to make
    /// room, or found idle too long by the tracker's sweep. Never while a
    /// request is in flight. (The connection's task checks this in
    /// [`Serving`].)
    #[cfg(test)]
    pub(crate) async fn closed(&self) {
        self.told_any(EVICT).await;
    }

    /// Resolves when this connection should not start (a TLS handshake
    /// still running): told to close, or the proxy is stopping.
    pub(crate) async fn closed_or_draining(&self) {
        self.told_any(EVICT | DRAIN).await;
    }

    /// Resolves once the connection has been told any of `what`.
    async fn told_any(&self, what: u8) {
        std::future::poll_fn(|cx| {
            if self.poll_told(cx) & what == 0 {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }

    /// What the connection has been told so far; the task polling is woken
    /// when it is told more. (One task polls: the connection's own.)
    fn poll_told(&self, cx: &mut Context<'_>) -> u8 {
        // Registered before reading, so a `tell` in between still wakes.
        self.task.register(cx.waker());
        self.told.load(Ordering::Acquire)
    }

    fn tell(&self, what: u8) {
        self.told.fetch_or(what, Ordering::AcqRel);
        self.task.wake();
    }

    fn idle_too_long(&self) -> bool {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return false;
        }
        let limit = if self.started.load(Ordering::Relaxed) {
            self.tracker.idle_timeout
        } else {
            self.tracker.header_timeout
        };
        let idle_ms = self
            .tracker
            .now_ms()
            .saturating_sub(self.idle_since.load(Ordering::Relaxed));
        u128::from(idle_ms) >= limit.as_millis()
    }
}

impl Drop for Conn {
    /// The connection's task owns the socket and drops it before (or with)
    /// the last handle on its `Conn`: the slot is free once this runs.
    fn drop(&mut self) {
        if let Ok(mut open) = self.tracker.open.lock() {
            open.remove(&self.id);
        }
        self.tracker.released.notify_one();
    }
}

/// Keeps a request counted as in flight; dropped with the response body.
pub(crate) struct RequestGuard(Arc<Conn>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let conn = &self.0;
        if conn.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            conn.idle_since
                .store(conn.tracker.now_ms(), Ordering::Relaxed);
        }
    }
}

/// Every open client connection, oldest first.
pub(crate) struct Tracker {
    /// Tokio's clock (the tests pause it).
    start: tokio::time::Instant,
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, std::sync::Weak<Conn>>>,
    /// Told each time a connection is gone (its slot is free).
    released: Notify,
    max: usize,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Tracker {
    pub(crate) fn new(max: usize, header_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            start: tokio::time::Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
            released: Notify::new(),
            max: max.max(1),
            header_timeout,
            idle_timeout,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn count(&self) -> usize {
        self.open.lock().map_or(0, |open| open.len())
    }

    /// Resolves when there is room for one more connection: below the cap
    /// at once; at the cap, once the oldest idle connection has been closed
    /// (not merely told to close). If every connection is busy it resolves
    /// too: the cap bounds idle connections, not work. Cancel-safe.
    pub(crate) async fn room(&self) {
        while self.count() >= self.max {
            if !self.evict_idle() {
                return;
            }
            // An evicted connection closes within a scheduler turn or two;
            // the pause only guards against a wake-up lost to a race.
            let _ = tokio::time::timeout(Duration::from_millis(50), self.released.notified()).await;
        }
    }

    /// Registers a new connection (call [`Tracker::room`] first).
    pub(crate) fn open(self: &Arc<Self>) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            idle_since: AtomicU64::new(self.now_ms()),
            told: AtomicU8::new(0),
            task: AtomicWaker::new(),
            tracker: Arc::clone(self),
        });
        if let Ok(mut open) = self.open.lock() {
            open.insert(conn.id, Arc::downgrade(&conn));
        }
        conn
    }

    /// Runs for the life of the proxy: closes every connection idle for
    /// longer than its timeout. One task scans all connections a few times
    /// per timeout (a loop over 10,000 entries takes well under a
    /// millisecond), instead of a timer per connection.
    pub(crate) async fn sweep(self: Arc<Self>) {
        let every = (self.header_timeout.min(self.idle_timeout) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            let idle: Vec<Arc<Conn>> = match self.open.lock() {
                Ok(open) => open
                    .values()
                    .filter_map(std::sync::Weak::upgrade)
                    .filter(|c| c.idle_too_long())
                    .collect(),
                Err(_) => continue,
            };
            if !idle.is_empty() {
                debug!("closing {} idle connection(s)", idle.len());
            }
            for conn in idle {
                conn.tell(EVICT);
            }
        }
    }

    /// Closes the oldest connection with no request in flight. Whether one
    /// was found.
    pub(crate) fn evict_idle(&self) -> bool {
        let Ok(open) = self.open.lock() else {
            return false;
        };
        let idle = open
            .values()
            .filter_map(std::sync::Weak::upgrade)
            .find(|c| c.in_flight.load(Ordering::Acquire) == 0);
        drop(open);
        match idle {
            Some(conn) => {
                debug!("closing the oldest idle connection to make room");
                conn.tell(EVICT);
                true
            }
            None => false,
        }
    }

    /// Tells every open connection to finish the request it is answering
    /// and close (the proxy is stopping; it accepts no more).
    pub(crate) fn drain(&self) {
        let open: Vec<Arc<Conn>> = match self.open.lock() {
            Ok(open) => open.values().filter_map(std::sync::Weak::upgrade).collect(),
            Err(_) => return,
        };
        for conn in open {
            conn.tell(DRAIN);
        }
    }

    /// Resolves once no connection is open.
    pub(crate) async fn all_closed(&self) {
        loop {
            let released = self.released.notified();
            let mut released = std::pin::pin!(released);
            // Registered before counting: a connection gone in between
            // still wakes this.
            released.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            released.await;
        }
    }
}

pin_project_lite::pin_project! {
    /// A client connection being served, until it is done or told to close
    /// ([`EVICT`]: dropped at once; [`DRAIN`]: its protocol's graceful
    /// shutdown, so the request in flight is answered first).
    ///
    /// One check of an atomic per poll: it replaced a `select!` of the
    /// eviction's `Notify` and `hyper-util`'s graceful-shutdown watch
    /// (a `watch` channel), which cost ≈ 790 instructions per proxied
    /// request (callgrind, docs/benchmarks.md).
    pub(crate) struct Serving<C> {
        #[pin]
        conn: C,
        state: Arc<Conn>,
        draining: bool,
    }
}

impl<C: GracefulConnection> Serving<C> {
    pub(crate) fn new(conn: C, state: Arc<Conn>) -> Self {
        Self {
            conn,
            state,
            draining: false,
        }
    }
}

impl<C: GracefulConnection> Future for Serving<C> {
    /// `None` when told to close; the connection's result otherwise.
    type Output = Option<Result<(), C::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let told = this.state.poll_told(cx);
        if told & EVICT != 0 {
            return Poll::Ready(None);
        }
        if told & DRAIN != 0 && !*this.draining {
            *this.draining = true;
            this.conn.as_mut().graceful_shutdown();
        }
        this.conn.poll(cx).map(Some)
    }
}

/// Accept errors (`EMFILE` when descriptors run out, `ECONNABORTED`):
/// backed off exponentially, logged once per interval with a count instead
/// of once per failure.
pub(crate) struct AcceptBackoff {
    delay: Duration,
    failures: u64,
    last_log: Option<Instant>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_millis(500);
    const LOG_EVERY: Duration = Duration::from_secs(5);

    pub(crate) fn new() -> Self {
        Self {
            delay: Self::FIRST,
            failures: 0,
            last_log: None,
        }
    }

    /// After a failed accept: logs (rate-limited) and returns how long to
    /// wait before the next.
    pub(crate) fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.failures += 1;
        let due = self
            .last_log
            .is_none_or(|at| at.elapsed() >= Self::LOG_EVERY);
        if due {
            warn!(
                "accept failed ({} time{} since the last report): {error}; if this is \"too many open files\", idle connections are being closed to make room",
                self.failures,
                if self.failures == 1 { "" } else { "s" }
            );
            self.failures = 0;
            self.last_log = Some(Instant::now());
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(Self::MAX);
        delay
    }

    pub(crate) fn succeeded(&mut self) {
        self.delay = Self::FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_oldest_idle_connection_is_evicted_never_a_busy_one() {
        let tracker = Tracker::new(2, Duration::from_secs(10), Duration::from_secs(60));
        let busy = tracker.open();
        let _guard = busy.request();
        let idle = tracker.open();
        // At the cap, room is made by closing `idle` (not `busy`, which is
        // older but busy), and only once it is gone.
        let waiting = tokio::spawn({
            let tracker = Arc::clone(&tracker);
            async move { tracker.room().await }
        });
        tokio::time::timeout(Duration::from_millis(1), idle.closed())
            .await
            .expect("the idle connection is told to close");
        assert!(
            tokio::time::timeout(Duration::from_millis(1), busy.closed())
                .await
                .is_err()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "room before the idle one closed");
        drop(idle);
        tokio::time::timeout(Duration::from_millis(1), waiting)
            .await
            .expect("room once the idle connection closed")
            .unwrap();
        assert_eq!(tracker.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn below_the_cap_or_with_every_connection_busy_there_is_room_at_once() {
        let tracker = Tracker::new(2, Duration::from_secs(10), Duration::from_secs(60));
        let first = tracker.open();
        tokio::time::timeout(Duration::from_millis(1), tracker.room())
            .await
            .expect("room below the cap");
        let second = tracker.open();
        let (_a, _b) = (first.request(), second.request());
        tokio::time::timeout(Duration::from_millis(1), tracker.room())
            .await
            .expect("the cap bounds idle connections, not work");
        assert_eq!(tracker.count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_request_closes_after_the_header_timeout() {
        let tracker = Tracker::new(100, Duration::from_secs(2), Duration::from_secs(60));
        tokio::spawn(Arc::clone(&tracker).sweep());
        let conn = tracker.open();
        let start = tokio::time::Instant::now();
        conn.closed().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_keeps_the_connection_then_the_idle_timeout_runs() {
        let tracker = Tracker::new(100, Duration::from_secs(1), Duration::from_secs(5));
        tokio::spawn(Arc::clone(&tracker).sweep());
        let conn = tracker.open();
        let guard = conn.request();
        assert!(
            tokio::time::timeout(Duration::from_secs(30), conn.closed())
                .await
                .is_err(),
            "busy for 30 s and still open"
        );
        drop(guard);
        let start = tokio::time::Instant::now();
        conn.closed().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(7),
            "{waited:?}"
        );
    }

    #[test]
    fn the_default_cap_leaves_room_for_upstream_connections() {
        assert_eq!(default_max_connections(Some(1024), 1), 476);
        assert_eq!(default_max_connections(Some(1024), 8), 452);
        assert_eq!(default_max_connections(Some(1024), 1024), 16);
        assert_eq!(default_max_connections(Some(10), 1), 16);
        assert_eq!(default_max_connections(None, 4), 10_000);
    }

    #[test]
    fn accept_failures_back_off_and_are_logged_with_a_count() {
        let mut backoff = AcceptBackoff::new();
        let error = std::io::Error::other("too many open files");
        let delays: Vec<Duration> = (0..10).map(|_| backoff.failed(&error)).collect();
        assert_eq!(delays[0], Duration::from_millis(5));
        assert_eq!(delays[1], Duration::from_millis(10));
        assert_eq!(delays[9], AcceptBackoff::MAX);
        // Logged once (the first); the other nine are counted for the next report.
        assert_eq!(backoff.failures, 9);
        backoff.succeeded();
        assert_eq!(backoff.failed(&error), Duration::from_millis(5));
    }
}
