//! The tower adapter (feature `tower`): [`CorsLayer`], [`Cors`] and
//! [`ResponseFuture`], for axum 0.8, hyper 1 (through `hyper-util`'s tower
//! bridge) and tonic.
//!
//! The adapter only translates: it builds a [`RequestView`], asks the
//! [`Policy`], answers a preflight with
//! [`Decision::preflight_response`] without calling the inner service, and
//! otherwise [`apply`](Decision::apply)s the decision to whatever the inner
//! service answered, error responses (404, 500) included.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::{Decision, Policy, RequestView};

/// A tower [`Layer`] that applies a CORS [`Policy`] to a service.
///
/// ```
/// use axum::{Router, routing::get};
/// use corsgate::{Config, tower::CorsLayer};
///
/// let policy = Config::builder().allowed_origins(["http://127.0.0.1:5000"]).compile()?;
/// let app: Router = Router::new()
///     .route("/users", get(|| async { "[]" }))
///     .layer(CorsLayer::new(policy));
/// # Ok::<(), corsgate::ConfigErrors>(())
/// ```
#[derive(Debug, Clone)]
pub struct CorsLayer {
    policy: Policy,
}

impl CorsLayer {
    /// A layer applying `policy`. Cloning the layer (axum does, per route)
    /// only bumps the policy's reference count.
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }

    /// The policy this layer applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

impl From<Policy> for CorsLayer {
    fn from(policy: Policy) -> Self {
        Self::new(policy)
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// A service wrapped by [`CorsLayer`].
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    policy: Policy,
}

impl<S> Cors<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: Policy) -> Self {
        Self { inner, policy }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let decision = self.policy.decide(&RequestView::from_request(&request));
        crate::trace_decision(&decision, request.method(), request.uri().path());
        let state = if decision.is_preflight() {
            State::Preflight {
                decision: Some(decision),
            }
        } else {
            State::Inner {
                future: self.inner.call(request),
                decision: Some(decision),
            }
        };
        ResponseFuture { state }
    }
}

pin_project! {
    /// The response future of [`Cors`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Preflight { decision: Option<Decision> },
        Inner { #[pin] future: F, decision: Option<Decision> },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Preflight { decision } => {
                let decision = decision
                    .take()
                    .expect("ResponseFuture polled after completion");
                Poll::Ready(Ok(decision.preflight_response()))
            }
            StateProj::Inner { future, decision } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                if let Some(decision) = decision.take() {
                    decision.apply(response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
