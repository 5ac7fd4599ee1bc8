//! The request path both adapters share: decide once (with the policy the
//! adapter loaded from its handle), consult the dynamic check when it
//! applies, count, log report-only.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::origin_check::{CheckFuture, Kind};
use crate::stats::CheckResult;
use crate::{Decision, OriginCheck, Policy, PolicyHandle, RequestView, Stats};

/// What a middleware holds: the policy, the optional check, the counters.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub(crate) policy: PolicyHandle,
    pub(crate) check: Option<OriginCheck>,
    pub(crate) stats: Stats,
    /// Replace the application's own CORS headers (a proxy's upstream),
    /// instead of leaving them where the origin is refused (as django).
    pub(crate) replace: bool,
    /// Hand the final [`Decision`] to the caller in the response's
    /// extensions (opt-in: it costs an allocation per response).
    pub(crate) expose: bool,
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
    /// "METHOD /path", for the report-only log line.
    target: String,
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
            replace: false,
            expose: false,
        }
    }

    /// Decides `request` with `policy` (the handle's current one, as the
    /// adapter loaded it), consulting the check when it applies. A sync
    /// check's answer is final here; an async one is awaited through
    /// [`Deciding::poll_known`].
    pub(crate) fn start(&self, policy: &Policy, request: &RequestView<'_>) -> Started {
        let report_only = policy.report_only();
        // One pass: the decision, and (only when a check is configured) the
        // one a "yes" from the check would give.
        let (decision, if_allowed) = match self.check {
            Some(_) => policy.decide_with_check(request),
            None => (policy.decide(request), None),
        };
        let preflight = decision.is_preflight();
        let deciding = match (&self.check, if_allowed) {
            (Some(check), Some(allowed)) => {
                self.consult(check, request, decision, allowed, report_only)
            }
            _ => {
                self.finish(&decision, report_only, request);
                Deciding::Ready(Some(decision))
            }
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
                self.finish(&decision, report_only, request);
                Deciding::Ready(Some(decision))
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
                    // Only a report-only log line needs it.
                    target: if report_only {
                        format!("{} {}", request.method(), request.path())
                    } else {
                        String::new()
                    },
                })),
                Err(_) => {
                    log_failure(request.origin().unwrap_or(""), "the check panicked");
                    self.stats.record_check(CheckResult::Failed);
                    self.finish(&denied, report_only, request);
                    Deciding::Ready(Some(denied))
                }
            },
        }
    }

    /// Counts and logs a final decision.
    fn finish(&self, decision: &Decision, report_only: bool, request: &RequestView<'_>) {
        finish(&self.stats, decision, report_only, || {
            format!("{} {}", request.method(), request.path())
        })
    }
}

/// Counts a final decision; in report-only mode logs what a browser would
/// block (`target`, "METHOD /path", is built only then).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn finish(stats: &Stats, decision: &Decision, report_only: bool, target: impl FnOnce() -> String) {
    stats.record(decision);
    if report_only && !decision.is_allowed() {
        #[cfg(feature = "tracing")]
        tracing::info!(
            target: "corsgate",
            reason = decision.reason().name(),
            "report-only: a browser would block {}: {}",
            target(),
            decision.reason()
        );
    }
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn log_failure(origin: &str, what: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "corsgate", origin, "dynamic origin check failed, origin not allowed: {what}");
}

impl Deciding {
    /// Ready once the decision is known (an async check's, kept here for
    /// [`take_known`](Self::take_known)).
    pub(crate) fn poll_known(&mut self, cx: &mut Context<'_>, report_only: bool) -> Poll<()> {
        if let Deciding::Checking(checking) = self {
            let decision = std::task::ready!(checking.poll(cx, report_only));
            *self = Deciding::Ready(Some(decision));
        }
        Poll::Ready(())
    }

    /// The decision where it is, once [`poll_known`](Self::poll_known) is
    /// ready: `None` once taken.
    #[cfg(feature = "tower")]
    pub(crate) fn known(&mut self) -> &mut Option<Decision> {
        match self {
            Deciding::Ready(decision) => decision,
            Deciding::Checking(_) => unreachable!("polled to known first"),
        }
    }

    /// The decision, once [`poll_known`](Self::poll_known) is ready.
    pub(crate) fn take_known(&mut self) -> Option<Decision> {
        match self {
            Deciding::Ready(decision) => decision.take(),
            Deciding::Checking(_) => None,
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
        let decision = decision.expect("a decision is taken once");
        let target = std::mem::take(&mut self.target);
        finish(&self.stats, &decision, report_only, || target);
        Poll::Ready(decision)
    }
}

/// The log lines are behaviour: report-only mode exists for its log, and a
/// failed check must be seen. These tests record the events themselves.
// (Two attributes, not `cfg(all(test, …))`: cargo-mutants recognises
// `#[cfg(test)]` and leaves test code alone.)
#[cfg(test)]
#[cfg(feature = "tracing")]
mod tests {
    use http::{HeaderMap, HeaderValue, Method};

    use super::*;
    use crate::Config;
    use crate::test_log::Recorder;

    /// Runs one GET from `origin` through an engine, returning the events.
    fn events(report_only: bool, check: Option<OriginCheck>, origin: &str) -> Vec<String> {
        let policy = Config::builder()
            .allowed_origins(["https://app.example"])
            .report_only(report_only)
            .compile()
            .unwrap();
        let mut engine = Engine::new(PolicyHandle::new(policy));
        engine.check = check;
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        let recorder = Recorder::start();
        let request = RequestView::new(&Method::GET, "/users", &headers);
        let started = engine.start(&engine.policy.load(), &request);
        assert!(matches!(started.deciding, Deciding::Ready(Some(_))));
        recorder.lines()
    }

    #[test]
    fn report_only_logs_what_a_browser_would_block_and_nothing_else() {
        assert_eq!(
            events(true, None, "https://evil.example"),
            [
                "INFO reason=origin-not-allowed report-only: a browser would block GET /users: the origin is not allowed"
            ]
        );
        assert!(events(true, None, "https://app.example").is_empty());
        assert!(events(false, None, "https://evil.example").is_empty());
    }

    #[test]
    fn a_panicking_check_is_logged_and_denies() {
        let check = OriginCheck::new(|_: &RequestView<'_>| -> bool { panic!("boom") });
        assert_eq!(
            events(false, Some(check), "https://evil.example"),
            [
                "WARN origin=https://evil.example dynamic origin check failed, origin not allowed: the check panicked"
            ]
        );
    }
}
