//! [`Stats`]: counters of the decisions an adapter made.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Decision, DecisionKind, ReasonKind};

const KINDS: [DecisionKind; 3] = [
    DecisionKind::Preflight,
    DecisionKind::Actual,
    DecisionKind::OutOfScope,
];
const REASONS: usize = ReasonKind::ALL.len();

fn kind_index(kind: DecisionKind) -> usize {
    match kind {
        DecisionKind::Preflight => 0,
        DecisionKind::Actual => 1,
        DecisionKind::OutOfScope => 2,
    }
}

#[derive(Debug)]
struct Counters {
    /// `[kind][reason]`.
    decisions: [[AtomicU64; REASONS]; 3],
    /// Dynamic origin checks: allowed, denied, failed (error, timeout, panic).
    checks: [AtomicU64; 3],
}

/// Counters of what a middleware decided, shared by every clone: requests
/// by kind and [`Reason`](crate::Reason) (so allowed, rejected by reason, preflights), and
/// dynamic origin checks by result. Counting is a relaxed atomic add: no
/// lock, no allocation. In [report-only mode](crate::Config::report_only)
/// the counters say what the policy *would* have done.
///
/// ```
/// use corsgate::{Config, ReasonKind, RequestView, Stats};
/// use http::{HeaderMap, Method};
///
/// let policy = Config::builder().allowed_origins(["https://a.example"]).compile()?;
/// let stats = Stats::new();
/// let mut headers = HeaderMap::new();
/// headers.insert("origin", "https://evil.example".parse().unwrap());
/// stats.record(&policy.decide(&RequestView::new(&Method::GET, "/", &headers)));
///
/// let now = stats.snapshot();
/// assert_eq!(now.rejected(ReasonKind::OriginNotAllowed), 1);
/// # Ok::<(), corsgate::ConfigErrors>(())
/// ```
#[derive(Debug, Clone)]
pub struct Stats(Arc<Counters>);

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of one dynamic origin check.
#[cfg(any(feature = "tower", feature = "actix"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckResult {
    Allowed,
    Denied,
    Failed,
}

impl Stats {
    /// Zeroed counters.
    pub fn new() -> Self {
        Self(Arc::new(Counters {
            decisions: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            checks: std::array::from_fn(|_| AtomicU64::new(0)),
        }))
    }

    /// Counts one decision.
    pub fn record(&self, decision: &Decision) {
        self.0.decisions[kind_index(decision.kind())][reason_index(decision.reason().kind())]
            .fetch_add(1, Ordering::Relaxed);
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn record_check(&self, result: CheckResult) {
        let i = match result {
            CheckResult::Allowed => 0,
            CheckResult::Denied => 1,
            CheckResult::Failed => 2,
        };
        self.0.checks[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now (each read atomically; together, nearly at once).
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut decisions = Vec::new();
        for (k, kind) in KINDS.iter().enumerate() {
            for (r, reason) in ReasonKind::ALL.iter().enumerate() {
                let n = self.0.decisions[k][r].load(Ordering::Relaxed);
                if n > 0 {
                    decisions.push((*kind, *reason, n));
                }
            }
        }
        let [allowed, denied, failed] = self.0.checks.each_ref().map(|c| c.load(Ordering::Relaxed));
        StatsSnapshot {
            decisions,
            checks_allowed: allowed,
            checks_denied: denied,
            checks_failed: failed,
        }
    }
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Every non-zero count: (request kind, reason kind, count).
    pub decisions: Vec<(DecisionKind, ReasonKind, u64)>,
    /// Dynamic origin checks that allowed the origin.
    pub checks_allowed: u64,
    /// Dynamic origin checks that did not.
    pub checks_denied: u64,
    /// Dynamic origin checks that failed (an error, a timeout or a panic)
    /// and so did not allow the origin.
    pub checks_failed: u64,
}

/// A reason kind's counter: its place in [`ReasonKind::ALL`], which lists
/// the kinds in declaration order (a unit test in `decision.rs` checks).
fn reason_index(kind: ReasonKind) -> usize {
    kind as usize
}

impl StatsSnapshot {
    fn sum(&self, keep: impl Fn(DecisionKind, ReasonKind) -> bool) -> u64 {
        self.decisions
            .iter()
            .filter(|(k, r, _)| keep(*k, *r))
            .map(|(_, _, n)| n)
            .sum()
    }

    /// Requests of `kind` decided.
    pub fn requests(&self, kind: DecisionKind) -> u64 {
        self.sum(|k, _| k == kind)
    }

    /// Preflights decided (allowed or not).
    pub fn preflights(&self) -> u64 {
        self.requests(DecisionKind::Preflight)
    }

    /// CORS requests (preflights and others) whose origin was allowed and,
    /// for preflights, whose method and headers were too.
    pub fn allowed(&self) -> u64 {
        self.sum(|k, r| {
            k != DecisionKind::OutOfScope && r != ReasonKind::NoOrigin && r.is_allowed()
        })
    }

    /// Requests refused for `reason` (e.g. [`ReasonKind::OriginNotAllowed`]):
    /// the browser blocks them.
    pub fn rejected(&self, reason: ReasonKind) -> u64 {
        self.sum(|_, r| r == reason && !r.is_allowed())
    }

    /// Requests refused for any reason.
    pub fn rejected_total(&self) -> u64 {
        self.sum(|_, r| !r.is_allowed())
    }
}
