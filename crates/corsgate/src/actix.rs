//! The actix-web 4 adapter (feature `actix`): [`Cors`], a middleware
//! ([`Transform`]) built from a [`Policy`].
//!
//! Like the tower adapter it only translates, and copies nothing: actix-web
//! uses `http` 0.2 types, so the policy reads the CORS request headers
//! ([`REQUEST_HEADERS`](crate::REQUEST_HEADERS)) in actix's own map, and
//! the decision writes its headers straight into the response's map, under
//! header names made once. (With an [`OriginCheck`], which may read any
//! header, the request's headers are copied into an [`http::HeaderMap`] for
//! it.) Preflights are answered without calling the app; every response of the
//! app, error responses included (a 404 from an unmatched route, a 500, an
//! extractor's 400), gets the decision's headers.
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use corsgate::{Config, actix::Cors};
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Config::builder().allowed_origins(["http://127.0.0.1:5000"]).compile()?;
//! let app = test::init_service(
//!     App::new()
//!         .wrap(Cors::new(policy))
//!         .route("/users", web::get().to(|| async { HttpResponse::Ok().body("[]") })),
//! )
//! .await;
//! let request = test::TestRequest::get()
//!     .uri("/users")
//!     .insert_header(("origin", "http://127.0.0.1:5000"))
//!     .to_request();
//! let response = test::call_service(&app, request).await;
//! assert_eq!(response.headers().get("access-control-allow-origin").unwrap(), "http://127.0.0.1:5000");
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::InternalError;
use actix_web::http::header::{
    self as names, HeaderMap as ActixHeaders, HeaderName as ActixName, HeaderValue as ActixValue,
};
use actix_web::{Error, HttpResponse};

use crate::decision::{CORS_PREFIX, Field, ResponseHeaders, Value, vary_names_origin};
use crate::engine::{Deciding, Engine};
use crate::handle::Cached;
use crate::{Decision, OriginCheck, Policy, PolicyHandle, RequestView, Stats};
use pin_project_lite::pin_project;

/// The actix-web middleware: `App::new().wrap(Cors::new(policy))`.
#[derive(Debug, Clone)]
pub struct Cors {
    engine: Arc<Engine>,
}

impl Cors {
    /// A middleware applying `policy`.
    pub fn new(policy: Policy) -> Self {
        Self::with_handle(PolicyHandle::new(policy))
    }

    /// A middleware applying whatever policy `handle` holds when each request
    /// arrives: [`PolicyHandle::store`] replaces it while serving.
    pub fn with_handle(handle: PolicyHandle) -> Self {
        Self {
            engine: Arc::new(Engine::new(handle)),
        }
    }

    /// Adds a dynamic origin check, consulted when no setting allows a
    /// request's origin (awaited, for an async check, before the application is called).
    pub fn with_origin_check(mut self, check: OriginCheck) -> Self {
        Arc::make_mut(&mut self.engine).check = Some(check);
        self
    }

    /// Replaces the CORS headers the application set itself, on every
    /// response in scope (a proxy in front of a back-end that sets its own).
    /// By default the application's own `Access-Control-*` headers are left
    /// alone when the origin is refused (as django-cors-headers).
    pub fn replacing_app_headers(mut self) -> Self {
        Arc::make_mut(&mut self.engine).replace = true;
        self
    }

    /// Hands the decision the middleware made to whoever asks: every
    /// response carries it in its extensions
    /// (`response.response().extensions().get::<Decision>()`), preflights
    /// answered by the middleware included. Off by default (it costs an
    /// allocation per response).
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

    /// The middleware's counters (shared by every worker's copy).
    pub fn stats(&self) -> Stats {
        self.engine.stats.clone()
    }
}

impl From<Policy> for Cors {
    fn from(policy: Policy) -> Self {
        Self::new(policy)
    }
}

impl From<PolicyHandle> for Cors {
    fn from(handle: PolicyHandle) -> Self {
        Self::with_handle(handle)
    }
}

impl<S, B> Transform<S, ServiceRequest> for Cors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CorsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CorsMiddleware {
            service: Rc::new(service),
            policy: RefCell::new(self.engine.policy.cache()),
            engine: Arc::clone(&self.engine),
        }))
    }
}

/// The service [`Cors`] wraps around an app.
#[derive(Debug)]
pub struct CorsMiddleware<S> {
    service: Rc<S>,
    /// The engine's current policy, as this worker's middleware last saw
    /// it (`call` takes `&self`; actix runs it on one thread).
    policy: RefCell<Cached>,
    engine: Arc<Engine>,
}

impl<S, B> Service<ServiceRequest> for CorsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = CorsFuture<S>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let method = method(req.method());
        let mut cached = self.policy.borrow_mut();
        let policy = cached.load();
        let started = if self.engine.check.is_some() {
            // The check may read any header: it gets them all, as `http` 1.
            let headers = copy_headers(req.headers());
            self.engine
                .start(policy, &RequestView::new(&method, req.path(), &headers))
        } else {
            self.engine.start(
                policy,
                &RequestView::actix(&method, req.path(), req.headers()),
            )
        };
        drop(cached);
        // Known now unless an async check runs: traced here, with the
        // method at hand (the future does not keep it).
        let traced = match &started.deciding {
            Deciding::Ready(Some(decision)) => {
                crate::trace_decision(decision, &method, req.path());
                true
            }
            _ => false,
        };
        CorsFuture {
            step: Step::Deciding,
            deciding: started.deciding,
            request: Some(req),
            service: Rc::clone(&self.service),
            report_only: started.report_only,
            preflight: started.preflight,
            replace: self.engine.replace,
            expose: self.engine.expose,
            traced,
        }
    }
}

pin_project! {
    /// The future of [`CorsMiddleware`]'s answer: the decision (awaited
    /// only while an async origin check runs, before the application is
    /// called), then the middleware's own answer to a preflight, or the
    /// application's with the decision's headers. A future of its own
    /// rather than a boxed one: no allocation per request.
    pub struct CorsFuture<S: Service<ServiceRequest>> {
        #[pin]
        step: Step<S::Future>,
        // The decision stays here until the answer takes it: moved once,
        // not into a field of its own first (each move of its 88 bytes,
        // and of a future that held it twice, cost instructions on every
        // request: docs/benchmarks.md, session 18).
        deciding: Deciding,
        // Until the decision is known.
        request: Option<ServiceRequest>,
        service: Rc<S>,
        report_only: bool,
        preflight: bool,
        replace: bool,
        expose: bool,
        // The decision was traced when the middleware was called.
        traced: bool,
    }
}

pin_project! {
    #[project = StepProj]
    enum Step<F> {
        Deciding,
        Called { #[pin] future: F },
    }
}

impl<S, B> Future for CorsFuture<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.step.as_mut().project() {
                StepProj::Deciding => {
                    ready!(this.deciding.poll_known(cx, *this.report_only));
                    let request = this.request.take().expect(POLLED_AFTER_COMPLETION);
                    if !*this.traced
                        && let Deciding::Ready(Some(decision)) = &*this.deciding
                    {
                        let method = method(request.method());
                        crate::trace_decision(decision, &method, request.path());
                    }
                    if *this.preflight && !*this.report_only {
                        let decision = this.deciding.take_known().expect(POLLED_AFTER_COMPLETION);
                        return Poll::Ready(Ok(answer_preflight(request, decision, *this.expose)));
                    }
                    let future = this.service.call(request);
                    this.step.set(Step::Called { future });
                }
                StepProj::Called { future } => {
                    let answer = ready!(future.poll(cx));
                    let decision = this.deciding.take_known().expect(POLLED_AFTER_COMPLETION);
                    let (replace, expose) = (*this.replace, *this.expose);
                    return Poll::Ready(if *this.report_only {
                        // Decided and counted; the application's answer, untouched.
                        answer.map(|mut response| {
                            if expose {
                                response.response_mut().extensions_mut().insert(decision);
                            }
                            response.map_into_left_body()
                        })
                    } else {
                        with_decision(answer, decision, replace, expose)
                    });
                }
            }
        }
    }
}

const POLLED_AFTER_COMPLETION: &str = "CorsFuture polled after completion";

/// django's answer to a preflight: `200`, an empty body, the decision's
/// headers.
fn answer_preflight<B>(
    request: ServiceRequest,
    decision: Decision,
    expose: bool,
) -> ServiceResponse<EitherBody<B>> {
    let mut response = HttpResponse::Ok().finish();
    let headers = response.headers_mut();
    headers.append(names::CONTENT_LENGTH, ActixValue::from_static("0"));
    // Built here: it holds no CORS header and no `Vary`.
    decision.write_new(&mut Headers {
        map: headers,
        fresh: true,
    });
    if expose {
        response.extensions_mut().insert(decision);
    }
    request.into_response(response).map_into_right_body()
}

/// The application's answer with the decision's headers, an error's
/// rendered response included.
fn with_decision<B>(
    answer: Result<ServiceResponse<B>, Error>,
    decision: Decision,
    replace: bool,
    expose: bool,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    match answer {
        Ok(mut response) => {
            apply(&decision, response.headers_mut(), replace);
            if expose {
                response.response_mut().extensions_mut().insert(decision);
            }
            Ok(response.map_into_left_body())
        }
        Err(error) => {
            let mut rendered = error.error_response();
            apply(&decision, rendered.headers_mut(), replace);
            if expose {
                rendered.extensions_mut().insert(decision);
            }
            Err(InternalError::from_response(error, rendered).into())
        }
    }
}

/// The request's method as `http` 1's (actix-web 4 uses `http` 0.2). A
/// standard method is matched (≈ 40 instructions less than parsing its
/// text again); an extension one is parsed, not allocated when short.
fn method(method: &actix_web::http::Method) -> http::Method {
    use actix_web::http::Method as Actix;
    match method {
        m if *m == Actix::GET => http::Method::GET,
        m if *m == Actix::OPTIONS => http::Method::OPTIONS,
        m if *m == Actix::POST => http::Method::POST,
        m if *m == Actix::PUT => http::Method::PUT,
        m if *m == Actix::DELETE => http::Method::DELETE,
        m if *m == Actix::PATCH => http::Method::PATCH,
        m if *m == Actix::HEAD => http::Method::HEAD,
        m => http::Method::from_bytes(m.as_str().as_bytes()).unwrap_or(http::Method::GET),
    }
}

/// Every request header as `http` 1's, for an origin check.
fn copy_headers(from: &ActixHeaders) -> http::HeaderMap {
    let mut headers = http::HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        let name = http::HeaderName::from_bytes(name.as_str().as_bytes());
        let value = http::HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

/// Applies the decision to actix's headers; `replace`: the application's
/// own CORS headers go even for a refused origin.
fn apply(decision: &Decision, headers: &mut ActixHeaders, replace: bool) {
    // Looked for only where a header may be set or removed: a refused
    // origin's answer gets only `Vary` (appended anyway).
    let fresh = (replace || decision.grant.is_some())
        && !headers.keys().any(|n| n.as_str().starts_with(CORS_PREFIX));
    let mut headers = Headers {
        map: headers,
        fresh,
    };
    if replace {
        decision.write_replacing(&mut headers);
    } else {
        decision.write(&mut headers);
    }
}

/// actix-web's response headers, written by a decision in place.
struct Headers<'a> {
    map: &'a mut ActixHeaders,
    /// The map holds no `Access-Control-*` header (usual for an
    /// application's answer, always for a preflight's), so a decision's
    /// are appended: `insert` would also look for old values to remove and
    /// hand them back in a `Removed`, which costs ≈ 70 instructions a
    /// header here (docs/benchmarks.md, session 17). `false` is always
    /// safe.
    fresh: bool,
}

/// [`Field`]'s names as actix-web's `http` 0.2 spells them, made once.
static NAMES: [ActixName; 8] = [
    names::VARY,
    names::ACCESS_CONTROL_ALLOW_ORIGIN,
    names::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    names::ACCESS_CONTROL_ALLOW_METHODS,
    names::ACCESS_CONTROL_ALLOW_HEADERS,
    names::ACCESS_CONTROL_EXPOSE_HEADERS,
    names::ACCESS_CONTROL_MAX_AGE,
    ActixName::from_static("access-control-allow-private-network"),
];

fn name(field: Field) -> &'static ActixName {
    &NAMES[field as usize]
}

impl ResponseHeaders for Headers<'_> {
    fn varies_by_origin(&self) -> bool {
        vary_names_origin(self.map.get_all(&names::VARY).map(ActixValue::as_bytes))
    }

    fn append_vary_origin(&mut self) {
        static ORIGIN: ActixValue = ActixValue::from_static("Origin");
        self.map.append(names::VARY, ORIGIN.clone());
    }

    fn set(&mut self, field: Field, value: Value<'_>) {
        // Made once: `from_static` checks its text each time it runs.
        static TRUE: ActixValue = ActixValue::from_static("true");
        let value = match value {
            Value::True => TRUE.clone(),
            // Made when the policy was compiled, in actix's form too.
            Value::Shared(value) => value.actix().clone(),
            // Echoed from the request (a pattern's, a regex's): copied;
            // bytes valid in `http` 1 are valid in 0.2 too.
            Value::Echoed(value) => match ActixValue::from_bytes(value.as_bytes()) {
                Ok(value) => value,
                Err(_) => return,
            },
        };
        if self.fresh {
            self.map.append(name(field).clone(), value);
        } else {
            self.map.insert(name(field).clone(), value);
        }
    }

    fn remove(&mut self, field: Field) {
        if !self.fresh {
            self.map.remove(name(field));
        }
    }

    fn remove_cors(&mut self) {
        if !self.fresh {
            for field in &Field::ALL[1..] {
                self.map.remove(name(*field));
            }
            self.fresh = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cors, NAMES, method, name};
    use crate::decision::Field;
    use crate::{Config, RESPONSE_HEADERS};
    use actix_web::http::{Method, header::HeaderMap};
    use actix_web::{App, HttpResponse, test as actix_test, web};

    const ORIGIN: &str = "http://127.0.0.1:5000";

    /// A CORS `GET /users` from `origin`.
    fn get(origin: &str) -> actix_http::Request {
        actix_test::TestRequest::get()
            .uri("/users")
            .insert_header(("origin", origin))
            .to_request()
    }

    /// A preflight for `PUT /users` from [`ORIGIN`].
    fn preflight() -> actix_http::Request {
        actix_test::TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/users")
            .insert_header(("origin", ORIGIN))
            .insert_header(("access-control-request-method", "PUT"))
            .to_request()
    }

    /// Whether the response's `name` holds `shared`'s bytes in `shared`'s
    /// own buffer: shared, not copied.
    fn shares(response: &HeaderMap, name: &str, shared: &[u8]) -> bool {
        let value = response.get(name).map(|v| v.as_bytes()).unwrap_or_default();
        value == shared && value.as_ptr() == shared.as_ptr()
    }

    /// The values a policy builds when it is compiled (a listed origin's
    /// `Access-Control-Allow-Origin`, the allowed methods and headers, the
    /// max age, the exposed headers) reach actix's response without a copy
    /// per request, as they reach an `http` one; an origin a pattern allows
    /// is echoed as sent.
    #[actix_web::test]
    async fn compiled_values_are_written_without_a_copy() {
        let policy = Config::builder()
            .allowed_origins([ORIGIN, "https://*.example.com"])
            .allow_credentials(true)
            .expose_headers(["x-total-count"])
            .compile()
            .unwrap();
        let rule = policy.rules[0].clone();
        let listed = rule.origins.listed[rule.origins.exact[ORIGIN.as_bytes()]].http();
        let app = actix_test::init_service(App::new().wrap(Cors::new(policy)).route(
            "/users",
            web::get().to(|| async { HttpResponse::Ok().body("[]") }),
        ))
        .await;

        let response = actix_test::call_service(&app, get(ORIGIN)).await;
        let headers = response.headers();
        assert!(shares(
            headers,
            "access-control-allow-origin",
            listed.as_bytes()
        ));
        let expose = rule.expose.as_ref().unwrap().http().as_bytes();
        assert!(shares(headers, "access-control-expose-headers", expose));

        let pattern = "https://api.example.com";
        let response = actix_test::call_service(&app, get(pattern)).await;
        let echoed = response.headers().get("access-control-allow-origin");
        assert_eq!(echoed.unwrap(), pattern);

        let response = actix_test::call_service(&app, preflight()).await;
        let headers = response.headers();
        assert!(shares(
            headers,
            "access-control-allow-origin",
            listed.as_bytes()
        ));
        let methods = rule.allow_methods.http().as_bytes();
        assert!(shares(headers, "access-control-allow-methods", methods));
        let allowed = rule.allow_headers.http().as_bytes();
        assert!(shares(headers, "access-control-allow-headers", allowed));
        let max_age = rule.max_age.as_ref().unwrap().http().as_bytes();
        assert!(shares(headers, "access-control-max-age", max_age));
    }

    /// Each request's decision is traced once, with its method and path:
    /// when the middleware is called, or (an async check's) once known.
    #[cfg(feature = "tracing")]
    #[actix_web::test]
    async fn each_decision_is_traced_once() {
        let recorder = crate::test_log::Recorder::start();
        let policy = Config::builder()
            .allowed_origins([ORIGIN])
            .compile()
            .unwrap();
        let checked = crate::OriginCheck::new_async(|request: &crate::RequestView<'_>| {
            let tenant = request.origin() == Some("https://tenant.example");
            async move { Ok::<_, std::io::Error>(tenant) }
        });
        let route = || web::route().to(|| async { HttpResponse::Ok().body("x") });
        let plain = actix_test::init_service(
            App::new()
                .wrap(Cors::new(policy.clone()))
                .route("/users", route()),
        )
        .await;
        let checking = actix_test::init_service(
            App::new()
                .wrap(Cors::new(policy).with_origin_check(checked))
                .route("/users", route()),
        )
        .await;
        actix_test::call_service(&plain, get(ORIGIN)).await;
        actix_test::call_service(&plain, preflight()).await;
        actix_test::call_service(&checking, get("https://tenant.example")).await;
        actix_test::call_service(&checking, get("https://evil.example")).await;
        actix_test::call_service(&checking, preflight()).await;
        let decided = |method, kind, reason, allowed, message| {
            format!(
                "DEBUG method={method} path=/users kind={kind} reason={reason} \
                 allowed={allowed} cors decision: {message}"
            )
        };
        let listed = "the origin is in `allowed_origins`";
        assert_eq!(
            recorder.lines(),
            [
                decided("GET", "Actual", "origin-listed", true, listed),
                decided("OPTIONS", "Preflight", "origin-listed", true, listed),
                decided(
                    "GET",
                    "Actual",
                    "allowed-by-check",
                    true,
                    "the dynamic origin check allowed the origin"
                ),
                decided(
                    "GET",
                    "Actual",
                    "origin-not-allowed",
                    false,
                    "the origin is not allowed"
                ),
                decided("OPTIONS", "Preflight", "origin-listed", true, listed),
            ]
        );
    }

    #[test]
    fn each_field_has_its_own_name_in_actix() {
        for (i, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(name(field).as_str(), RESPONSE_HEADERS[i].as_str());
            assert_eq!(field.name(), RESPONSE_HEADERS[i]);
        }
        assert_eq!(NAMES.len(), RESPONSE_HEADERS.len());
    }

    /// Every method reaches the policy as itself: the standard ones by the
    /// match, any other by its text.
    #[test]
    fn each_method_is_itself_in_http_1() {
        for text in [
            "GET", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "HEAD", "CONNECT", "TRACE",
            "options", "PROPFIND", "get",
        ] {
            let actix = Method::from_bytes(text.as_bytes()).unwrap();
            assert_eq!(method(&actix).as_str(), text);
            assert_eq!(
                method(&actix),
                http::Method::from_bytes(text.as_bytes()).unwrap()
            );
        }
    }
}
