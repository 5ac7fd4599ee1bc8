//! [`OriginCheck`]: a check of your own that may allow an origin the
//! settings do not (sync or async, with a timeout, failing closed). The
//! adapters consult it through the engine (`engine.rs`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::RequestView;

/// The error type an async origin check may return.
pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

type SyncFn = dyn Fn(&RequestView<'_>) -> bool + Send + Sync;
pub(crate) type CheckFuture = Pin<Box<dyn Future<Output = Result<bool, CheckError>> + Send>>;
type AsyncFn = dyn Fn(&RequestView<'_>) -> CheckFuture + Send + Sync;

/// The default limit on an async check: past it the origin is not allowed.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A check, written by you, that may allow an origin the policy's settings
/// do not — like django-cors-headers' `check_request_enabled` signal.
///
/// The adapters consult it only for a well-formed origin that no setting
/// allows, on a path in scope ([`Reason::OriginNotAllowed`](crate::Reason::OriginNotAllowed)); never for
/// `null` (list it if you must). When it says yes, the request is answered
/// with the matching rule's settings and the decision's reason is
/// [`Reason::AllowedByCheck`](crate::Reason::AllowedByCheck). A check that returns an error, panics or
/// (async) takes longer than its [`timeout`](Self::timeout) **fails
/// closed**: the origin is not allowed, the failure is logged (feature
/// `tracing`, target `corsgate`) and counted in [`Stats`](crate::Stats).
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
    pub(crate) kind: Kind,
    pub(crate) timeout: Duration,
}

#[derive(Clone)]
pub(crate) enum Kind {
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
        E: Into<CheckError> + 'static,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::OriginCheck;

    #[test]
    fn debug_shows_the_kind_and_timeout_not_the_closure() {
        let sync = OriginCheck::new(|_| true);
        assert_eq!(
            format!("{sync:?}"),
            "OriginCheck { kind: \"sync\", timeout: 2s }"
        );
        let checked = OriginCheck::new_async(|_| async { Ok::<_, std::io::Error>(true) })
            .timeout(Duration::from_millis(250));
        assert_eq!(
            format!("{checked:?}"),
            "OriginCheck { kind: \"async\", timeout: 250ms }"
        );
    }
}
