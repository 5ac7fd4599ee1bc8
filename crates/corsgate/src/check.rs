//! Dynamic origin checks ([`OriginCheck`]) and the request path the
//! adapters share: load the policy, decide, consult the check, count.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::stats::CheckResult;
use crate::{Decision, PolicyHandle, Reason, RequestView, Stats};

/// The error type an async origin check may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type SyncFn = dyn Fn(&RequestView<'_>) -> bool + Send + Sync;
type CheckFuture = Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send>>;
type AsyncFn = dyn Fn(&RequestView<'_>) -> CheckFuture + Send + Sync;

/// The default limit on an async check: past it the origin is not allowed.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A check, written by you, that may allow an origin the policy's settings
/// do not — like django-cors-headers' `check_request_enabled` signal.
///
/// The adapters consult it only for a well-formed origin that no setting
/// allows, on a path in scope ([`Reason::OriginNotAllowed`]); never for
/// `null` (list it if you must). When it says yes, the request is answered
/// with the matching rule's settings and the decision's reason is
/// [`Reason::AllowedByCheck`]. A check that returns an error, panics or
/// (async) takes longer than its [`timeout`](Self::timeout) **fails
/// closed**: the origin is not allowed, the failure is logged (feature
/// `tracing`, target `corsgate`) and counted in [`Stats`].
///
/// ```
/// use std::collections::HashSet;
/// use std::sync::{Arc, RwLock};
/// use corsgate::{Config, OriginCheck, tower::CorsLayer};
///
/// // Tenants' origins, refreshed from the database in the background.
/// let tenants: Arc<RwLock<HashSet<String>>> = Arc::default();
/// let known = Arc::clone(&tenants);
/// let check = OriginCheck::new(move |request| {
///     request.origin().is_some_and(|o| known.read().unwrap().contains(o))
/// });
/// let layer = CorsLayer::new(Config::builder().compile()?).with_origin_check(check);
/// tenants.write().unwrap().insert("https://tenant-a.example".into());
/// # let _ = layer;
/// # Ok::<(), corsgate::ConfigErrors>(())
/// ```
#[derive(Clone)]
pub struct OriginCheck {
    kind: Kind,
    timeout: Duration,
}

#[derive(Clone)]
enum Kind {
    Sync(Arc<SyncFn>),
    Async(Arc<AsyncFn>),
}

impl fmt::Debug for OriginCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Sync(_) => "sync",
            Kind::Async(_) => "async",
        };
        f.debug_struct("OriginCheck")
            .field("kind", &kind)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OriginCheck {
    /// A synchronous check: `true` allows the origin. It runs on the
    /// request path, so it must be quick — look the origin up in memory (a
    /// `HashSet` behind a lock, refreshed in the background), not in a
    /// database.
    pub fn new<F>(check: F) -> Self
    where
        F: Fn(&RequestView<'_>) -> bool + Send + Sync + 'static,
    {
        Self {
            kind: Kind::Sync(Arc::new(check)),
            timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }

    /// An asynchronous check: the closure reads what it needs from the
    /// request (say, `request.origin().map(str::to_owned)`) and returns a
    /// future resolving to `Ok(true)` to allow the origin. The adapters
    /// await it (for a request other than a preflight, while the
    /// application answers). An `Err`, a panic or a timeout does not allow.
    ///
    /// The timeout uses Tokio's timer when the adapter runs on a Tokio
    /// runtime (axum, hyper, tonic and actix-web all do); elsewhere the
    /// check is awaited without a limit.
    pub fn new_async<F, Fut, E>(check: F) -> Self
    where
        F: Fn(&RequestView<'_>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let boxed = move |request: &RequestView<'_>| -> CheckFuture {
            let future = check(request);
            Box::pin(async move { future.await.map_err(Into::into) })
        };
        Self {
            kind: Kind::Async(Arc::new(boxed)),
            timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }

    /// How long an async check may take (default
    /// [`DEFAULT_CHECK_TIMEOUT`], 2 s); past it the origin is not allowed.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }
}

/// The constructors and accessors both adapters offer (tower's
/// `CorsLayer`, actix's `Cors`), over their `engine: Arc<Engine>` field.
macro_rules! adapter_api {
    ($adapter:ident, $what:literal, $check_note:literal, $stats_note:literal) => {
        impl $adapter {
            #[doc = concat!("A ", $what, " applying `policy`.")]
            pub fn new(policy: Policy) -> Self {
                Self::with_handle(PolicyHandle::new(policy))
            }

            #[doc = concat!("A ", $what, " applying whatever policy `handle` holds when each")]
            /// request arrives: [`PolicyHandle::store`] replaces it while serving.
            pub fn with_handle(handle: PolicyHandle) -> Self {
                Self {
                    engine: Arc::new(Engine::new(handle)),
                }
            }

            /// Adds a dynamic origin check, consulted when no setting allows a
            #[doc = concat!("request's origin", $check_note, ".")]
            pub fn with_origin_check(mut self, check: OriginCheck) -> Self {
                Arc::make_mut(&mut self.engine).check = Some(check);
                self
            }

            /// The policy in force now.
            pub fn policy(&self) -> Policy {
                self.engine.policy.load()
            }

            /// The handle to replace the policy while serving.
            pub fn handle(&self) -> PolicyHandle {
                self.engine.policy.clone()
            }

            #[doc = concat!("The ", $what, "'s counters (", $stats_note, ").")]
            pub fn stats(&self) -> Stats {
                self.engine.stats.clone()
            }
        }

        impl From<Policy> for $adapter {
            fn from(policy: Policy) -> Self {
                Self::new(policy)
            }
        }

        impl From<PolicyHandle> for $adapter {
            fn from(handle: PolicyHandle) -> Self {
                Self::with_handle(handle)
            }
        }
    };
}
pub(crate) use adapter_api;

/// What a middleware holds: the policy, the optional check, the counters.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub(crate) policy: PolicyHandle,
    pub(crate) check: Option<OriginCheck>,
    pub(crate) stats: Stats,
}

/// A request's decision, known or awaiting an async check.
pub(crate) enum Deciding {
    Ready(Option<Decision>),
    Checking(Box<Checking>),
}

pub(crate) struct Checking {
    future: CheckFuture,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    timeout: Duration,
    started: bool,
    denied: Option<Decision>,
    allowed: Option<Decision>,
    stats: Stats,
    origin: String,
}

/// What [`Engine::start`] found.
pub(crate) struct Started {
    pub(crate) report_only: bool,
    pub(crate) preflight: bool,
    pub(crate) deciding: Deciding,
}

impl Engine {
    pub(crate) fn new(policy: PolicyHandle) -> Self {
        Self {
            policy,
            check: None,
            stats: Stats::new(),
        }
    }

    /// Decides `request` with the current policy, consulting the check
    /// when it applies. A sync check's answer is final here; an async one
    /// is awaited through [`Deciding::poll_decision`].
    pub(crate) fn start(&self, request: &RequestView<'_>) -> Started {
        let policy = self.policy.guard();
        let decision = policy.decide(request);
        let report_only = policy.report_only();
        let preflight = decision.is_preflight();
        let deciding = match (&self.check, decision.reason()) {
            (Some(check), Reason::OriginNotAllowed) => match policy.decide_if_check_allows(request)
            {
                Some(allowed) => self.consult(check, request, decision, allowed, report_only),
                None => Deciding::Ready(Some(self.finish(decision, report_only))),
            },
            _ => Deciding::Ready(Some(self.finish(decision, report_only))),
        };
        Started {
            report_only,
            preflight,
            deciding,
        }
    }

    fn consult(
        &self,
        check: &OriginCheck,
        request: &RequestView<'_>,
        denied: Decision,
        allowed: Decision,
        report_only: bool,
    ) -> Deciding {
        match &check.kind {
            Kind::Sync(f) => {
                let result = match catch_unwind(AssertUnwindSafe(|| f(request))) {
                    Ok(true) => CheckResult::Allowed,
                    Ok(false) => CheckResult::Denied,
                    Err(_) => {
                        log_failure(request.origin().unwrap_or(""), "the check panicked");
                        CheckResult::Failed
                    }
                };
                self.stats.record_check(result);
                let decision = if result == CheckResult::Allowed {
                    allowed
                } else {
                    denied
                };
                Deciding::Ready(Some(self.finish(decision, report_only)))
            }
            Kind::Async(f) => match catch_unwind(AssertUnwindSafe(|| f(request))) {
                Ok(future) => Deciding::Checking(Box::new(Checking {
                    future,
                    timer: None,
                    timeout: check.timeout,
                    started: false,
                    denied: Some(denied),
                    allowed: Some(allowed),
                    stats: self.stats.clone(),
                    origin: request.origin().unwrap_or("").to_owned(),
                })),
                Err(_) => {
                    log_failure(request.origin().unwrap_or(""), "the check panicked");
                    self.stats.record_check(CheckResult::Failed);
                    Deciding::Ready(Some(self.finish(denied, report_only)))
                }
            },
        }
    }

    /// Counts and logs a final decision.
    fn finish(&self, decision: Decision, report_only: bool) -> Decision {
        finish(&self.stats, decision, report_only)
    }
}

fn finish(stats: &Stats, decision: Decision, report_only: bool) -> Decision {
    stats.record(&decision);
    if report_only && !decision.is_allowed() {
        #[cfg(feature = "tracing")]
        tracing::info!(
            target: "corsgate",
            reason = decision.reason().name(),
            "report-only: a browser would block this request: {}",
            decision.reason()
        );
    }
    decision
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn log_failure(origin: &str, what: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "corsgate", origin, "dynamic origin check failed, origin not allowed: {what}");
}

impl Deciding {
    /// The final decision: at once when ready, else when the check is done.
    pub(crate) fn poll_decision(
        &mut self,
        cx: &mut Context<'_>,
        report_only: bool,
    ) -> Poll<Decision> {
        match self {
            Deciding::Ready(decision) => {
                Poll::Ready(decision.take().expect("a decision is taken once"))
            }
            Deciding::Checking(checking) => checking.poll(cx, report_only),
        }
    }
}

impl Checking {
    fn poll(&mut self, cx: &mut Context<'_>, report_only: bool) -> Poll<Decision> {
        if !self.started {
            self.started = true;
            // Tokio's timer, when there is one (a runtime built without
            // timers panics here: then no limit, rather than a crash).
            if tokio::runtime::Handle::try_current().is_ok() {
                let timeout = self.timeout;
                self.timer = catch_unwind(|| Box::pin(tokio::time::sleep(timeout))).ok();
            }
        }
        let polled = catch_unwind(AssertUnwindSafe(|| self.future.as_mut().poll(cx)));
        let result = match polled {
            Ok(Poll::Ready(Ok(true))) => CheckResult::Allowed,
            Ok(Poll::Ready(Ok(false))) => CheckResult::Denied,
            Ok(Poll::Ready(Err(e))) => {
                log_failure(&self.origin, &e.to_string());
                CheckResult::Failed
            }
            Err(_) => {
                log_failure(&self.origin, "the check panicked");
                CheckResult::Failed
            }
            Ok(Poll::Pending) => match self.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    log_failure(
                        &self.origin,
                        &format!("no answer within {:?}", self.timeout),
                    );
                    CheckResult::Failed
                }
                _ => return Poll::Pending,
            },
        };
        self.stats.record_check(result);
        let decision = if result == CheckResult::Allowed {
            self.allowed.take()
        } else {
            self.denied.take()
        };
        Poll::Ready(finish(
            &self.stats,
            decision.expect("a decision is taken once"),
            report_only,
        ))
    }
}
