//! [`PolicyHandle`]: the policy of running middleware, replaceable at run
//! time.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::Policy;

/// A middleware instance's copy of its handle's current policy.
#[cfg(feature = "actix")]
pub(crate) type Cached = arc_swap::Cache<Arc<ArcSwap<Policy>>, Arc<Policy>>;

/// A shared, atomically replaceable [`Policy`]: what a running
/// [`CorsLayer`](crate::tower::CorsLayer), [`actix::Cors`](crate::actix::Cors)
/// or `corsgate proxy` decides with.
///
/// Each request loads the current policy once, without a lock, and decides
/// with it alone: a request sees the old policy or the new one, never a mix.
/// [`store`](Self::store) takes effect for the next request; requests in
/// flight finish with the policy they started with.
///
/// ```
/// use corsgate::{Config, PolicyHandle};
///
/// let handle = PolicyHandle::new(Config::builder().allowed_origins(["https://a.example"]).compile()?);
/// // Give `handle.clone()` to the middleware; later, from anywhere:
/// handle.store(Config::builder().allowed_origins(["https://b.example"]).compile()?);
/// assert!(!handle.load().report_only());
/// # Ok::<(), corsgate::ConfigErrors>(())
/// ```
#[derive(Debug, Clone)]
pub struct PolicyHandle {
    current: Arc<ArcSwap<Policy>>,
}

impl PolicyHandle {
    /// A handle holding `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(policy)),
        }
    }

    /// The current policy (a reference-count bump).
    pub fn load(&self) -> Policy {
        Policy::clone(&self.current.load())
    }

    /// Replaces the policy for every request that starts from now on.
    pub fn store(&self, policy: Policy) {
        self.current.store(Arc::new(policy));
    }

    /// Replaces the policy and returns the one it replaced.
    pub fn swap(&self, policy: Policy) -> Policy {
        Arc::unwrap_or_clone(self.current.swap(Arc::new(policy)))
    }

    /// The current policy without touching its reference count: what the
    /// tower layer uses on the request path.
    #[cfg(feature = "tower")]
    pub(crate) fn guard(&self) -> arc_swap::Guard<Arc<Policy>> {
        self.current.load()
    }

    /// The current policy, kept by one actix middleware (one per worker,
    /// never cloned per request) and compared with the handle's on each
    /// request: a pointer comparison while the policy is unchanged, where
    /// the guarded load cost ≈ 45 instructions a request
    /// (docs/benchmarks.md, session 21). A stored policy is picked up by
    /// the middleware's next request; until then it keeps the one it used
    /// last alive. (The cache holds that policy, so its address cannot be
    /// reused by a newer one: an equal pointer is the same policy.)
    #[cfg(feature = "actix")]
    pub(crate) fn cache(&self) -> Cached {
        arc_swap::Cache::new(Arc::clone(&self.current))
    }
}

impl From<Policy> for PolicyHandle {
    fn from(policy: Policy) -> Self {
        Self::new(policy)
    }
}
