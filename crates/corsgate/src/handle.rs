//! [`PolicyHandle`]: the policy of running middleware, replaceable at run
//! time.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::Policy;

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

    /// The current policy without touching its reference count: what
    /// adapters use on the request path.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn guard(&self) -> arc_swap::Guard<Arc<Policy>> {
        self.current.load()
    }
}

impl From<Policy> for PolicyHandle {
    fn from(policy: Policy) -> Self {
        Self::new(policy)
    }
}
