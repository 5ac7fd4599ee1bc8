//! The tower adapter (feature `tower`): [`CorsLayer`], [`Cors`],
//! [`ResponseFuture`] and [`Decided`], for axum 0.8, hyper 1 (through `hyper-util`'s tower
//! bridge) and tonic.
//!
//! The adapter only translates: it builds a [`RequestView`], asks the
//! current [`Policy`] (from its [`PolicyHandle`], so the policy can be
//! replaced while serving), consults the [`OriginCheck`] if there is one,
//! answers a preflight with [`Decision::preflight_response`] without calling
//! the inner service, and otherwise [`apply`](Decision::apply)s the
//! decision to whatever the inner service answered, error responses (404,
//! 500) included. In [report-only mode](crate::Config::report_only) it
//! decides and counts, and passes every request and response through
//! untouched. Each decision is counted in the layer's [`Stats`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::engine::{Deciding, Engine};
use crate::{Decision, OriginCheck, Policy, PolicyHandle, RequestView, Stats};

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
///
/// Cloning the layer (axum does, per route) shares its policy handle, check
/// and counters.
#[derive(Debug, Clone)]
pub struct CorsLayer {
    engine: Arc<Engine>,
}

impl CorsLayer {
    /// A layer applying `policy`.
    pub fn new(policy: Policy) -> Self {
        Self::with_handle(PolicyHandle::new(policy))
    }

    /// A layer applying whatever policy `handle` holds when each request
    /// arrives: [`PolicyHandle::store`] replaces it while serving.
    pub fn with_handle(handle: PolicyHandle) -> Self {
        Self {
            engine: Arc::new(Engine::new(handle)),
        }
    }

    /// Adds a dynamic origin check, consulted when no setting allows a
    /// request's origin (for a request other than a preflight, awaited while the application answers).
    pub fn with_origin_check(mut self, check: OriginCheck) -> Self {
        Arc::make_mut(&mut self.engine).check = Some(check);
        self
    }

    /// Replaces the CORS headers the application set itself, on every
    /// response in scope — what a proxy in front of an unmodified back-end
    /// wants. By default the application's own `Access-Control-*` headers
    /// are left alone when the origin is refused (as django-cors-headers).
    pub fn replacing_app_headers(mut self) -> Self {
        Arc::make_mut(&mut self.engine).replace = true;
        self
    }

    /// Hands the decision the layer made to whoever asks: every response
    /// carries it as an extension (`response.extensions().get::<Decision>()`),
    /// preflights answered by the layer included — for logging or showing
    /// why, without deciding again. Off by default (it costs an allocation
    /// per response).
    ///
    /// ```
    /// # use corsgate::{Config, Decision, tower::CorsLayer};
    /// # use tower::{Service, ServiceExt, service_fn};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let policy = Config::builder().allowed_origins(["https://app.example"]).compile()?;
    /// let app = service_fn(|_req: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// });
    /// let mut service = tower::Layer::layer(&CorsLayer::new(policy).exposing_decision(), app);
    /// let request = http::Request::get("/").header("origin", "https://evil.example").body(())?;
    /// let response = service.ready().await?.call(request).await?;
    /// let decision = response.extensions().get::<Decision>().expect("exposed");
    /// assert_eq!(decision.reason().name(), "origin-not-allowed");
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    pub fn exposing_decision(mut self) -> Self {
        Arc::make_mut(&mut self.engine).expose = true;
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

    /// The layer's counters (shared by every service it made).
    pub fn stats(&self) -> Stats {
        self.engine.stats.clone()
    }
}

impl From<Policy> for CorsLayer {
    fn from(policy: Policy) -> Self {
        Self::new(policy)
    }
}

impl From<PolicyHandle> for CorsLayer {
    fn from(handle: PolicyHandle) -> Self {
        Self::with_handle(handle)
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors {
            inner,
            engine: Arc::clone(&self.engine),
        }
    }
}

/// A service wrapped by [`CorsLayer`].
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    engine: Arc<Engine>,
}

impl<S> Cors<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: Policy) -> Self {
        CorsLayer::new(policy).layer(inner)
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

    // `#[inline]` here, on `respond` and on the future's `poll`: the
    // layer's part of each request, inlined into the server's own loop.
    // Without the hint LLVM stopped inlining them after an unrelated
    // change (session 16): +30 to +130 instructions per request in the
    // tower benchmark, back to within 30 of before with it.
    #[inline]
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        self.respond(request)
    }
}

impl<S> Cors<S> {
    /// Calls the service as [`Service::call`] does (after
    /// [`poll_ready`](Service::poll_ready), as tower requires), and hands
    /// back the decision the layer made beside the response — what
    /// [`CorsLayer::exposing_decision`] puts in the response's extensions,
    /// without the extensions' allocations (they are left alone, even by a
    /// layer set to expose the decision). For a log line or a metric per
    /// reason, as `corsgate proxy` writes them.
    ///
    /// ```
    /// # use corsgate::{Config, tower::CorsLayer};
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let policy = Config::builder().allowed_origins(["https://app.example"]).compile()?;
    /// let app = service_fn(|_req: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// });
    /// let mut service = CorsLayer::new(policy).layer(app);
    /// let request = http::Request::get("/").header("origin", "https://evil.example").body(())?;
    /// service.ready().await?;
    /// let (response, decision) = service.call_decided(request).await?;
    /// assert_eq!(decision.reason().name(), "origin-not-allowed");
    /// assert!(response.headers().get("access-control-allow-origin").is_none());
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    pub fn call_decided<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
    ) -> Decided<S::Future>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Default,
    {
        Decided {
            inner: self.respond(request),
        }
    }

    #[inline]
    fn respond<ReqBody, ResBody>(&mut self, request: Request<ReqBody>) -> ResponseFuture<S::Future>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        // The handle's guarded load, not a copy kept by this instance (as
        // the actix middleware keeps one): a tower service is cloned per
        // request by axum's router and hyper-util's bridge, and a kept copy
        // would add two shared reference counts to every clone
        // (docs/benchmarks.md, session 21).
        let started = self.engine.start(
            &self.engine.policy.guard(),
            &RequestView::from_request(&request),
        );
        if let Deciding::Ready(Some(decision)) = &started.deciding {
            crate::trace_decision(decision, request.method(), request.uri().path());
        }
        let state = if started.preflight && !started.report_only {
            State::Preflight {
                deciding: started.deciding,
            }
        } else {
            State::Inner {
                inner: Running::Future {
                    future: self.inner.call(request),
                },
                deciding: started.deciding,
                apply: !started.report_only,
            }
        };
        ResponseFuture {
            state,
            report_only: started.report_only,
            replace: self.engine.replace,
            expose: self.engine.expose,
        }
    }
}

pin_project! {
    /// The response future of [`Cors`].
    pub struct ResponseFuture<F: Future> {
        #[pin]
        state: State<F>,
        report_only: bool,
        replace: bool,
        expose: bool,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F: Future> {
        Preflight { deciding: Deciding },
        // The application runs while an async check (if any) is awaited.
        Inner {
            #[pin] inner: Running<F>,
            deciding: Deciding,
            apply: bool,
        },
    }
}

pin_project! {
    /// The application's future, then its output while an async check
    /// still decides (the same place: the future is over by then, and this
    /// state is part of every request's future, moved whole by servers).
    #[project = RunningProj]
    #[project_replace = RunningReplace]
    enum Running<F: Future> {
        Future { #[pin] future: F },
        Done { output: F::Output },
        Taken,
    }
}

impl<F, ResBody, E> ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    /// The response: the layer's own answer to a preflight, or the inner
    /// service's with the decision applied. `decided` may take the
    /// decision made for it, with the response to note it on (in place:
    /// the response is not moved again to be paired with it).
    #[inline]
    fn poll_decided(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        decided: impl FnOnce(&mut Response<ResBody>, &mut Option<Decision>),
    ) -> Poll<Result<Response<ResBody>, E>> {
        let this = self.project();
        let report_only = *this.report_only;
        match this.state.project() {
            StateProj::Preflight { deciding } => {
                std::task::ready!(deciding.poll_known(cx, report_only));
                // Answered from where the decision is, not moved out of it.
                let decision = deciding.known();
                let mut response = decision
                    .as_ref()
                    .expect("a preflight is answered once")
                    .preflight_response();
                decided(&mut response, decision);
                Poll::Ready(Ok(response))
            }
            StateProj::Inner {
                mut inner,
                deciding,
                apply,
            } => {
                // The check (if any) first: it runs beside the application.
                let known = deciding.poll_known(cx, report_only).is_ready();
                let mut result = match inner.as_mut().project() {
                    RunningProj::Future { future } => match future.poll(cx) {
                        Poll::Ready(output) if known => {
                            // Dropped in place, not moved: a second poll
                            // then panics here, not in the application.
                            inner.project_replace(Running::Taken);
                            output
                        }
                        Poll::Ready(output) => {
                            inner.project_replace(Running::Done { output });
                            return Poll::Pending;
                        }
                        Poll::Pending => return Poll::Pending,
                    },
                    RunningProj::Done { .. } if known => {
                        match inner.project_replace(Running::Taken) {
                            RunningReplace::Done { output } => output,
                            _ => unreachable!("matched as done above"),
                        }
                    }
                    RunningProj::Done { .. } => return Poll::Pending,
                    RunningProj::Taken => panic!("ResponseFuture polled after completion"),
                };
                let mut decision = deciding.take_known();
                if let (Ok(response), Some(d)) = (&mut result, &decision) {
                    match (*apply, *this.replace) {
                        (true, true) => d.apply_replacing(response.headers_mut()),
                        (true, false) => d.apply(response.headers_mut()),
                        (false, _) => {}
                    }
                    decided(response, &mut decision);
                }
                Poll::Ready(result)
            }
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let expose = self.expose;
        self.poll_decided(cx, |response, decision| {
            if expose && let Some(decision) = decision.take() {
                response.extensions_mut().insert(decision);
            }
        })
    }
}

pin_project! {
    /// The future of [`Cors::call_decided`]: the response with the
    /// decision made for it.
    pub struct Decided<F: Future> {
        #[pin]
        inner: ResponseFuture<F>,
    }
}

impl<F, ResBody, E> Future for Decided<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<(Response<ResBody>, Decision), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut decided = None;
        let polled = std::task::ready!(
            self.project()
                .inner
                .poll_decided(cx, |_, decision| decided = decision.take())
        );
        // `poll_decided` hands the decision over with every response.
        Poll::Ready(polled.map(|response| (response, decided.expect("decided with the response"))))
    }
}

impl<F: Future> std::fmt::Debug for Decided<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decided").finish_non_exhaustive()
    }
}

impl<F: Future> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
